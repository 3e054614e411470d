"""Refusals: why a node or region stays in PyTorch, or why a region's plugin is JIT, not AOT.

Every stage that says no (`partition`, `data_dependent`, `pluggable`, `aot.build`, `lowering`)
answers with a `Refusal`: a `RefusalKind` that reports, tests and tools can match on, and the
message a person reads. Below every stage: standard library only.
"""

import dataclasses
import enum


class RefusalKind(enum.Enum):
    """The cause of a refusal. Values are the short names the JSON report uses."""

    # A node the partition leaves in the graph (`partition.refusal_reason` and the grouping).
    NOT_AN_OPERATOR = "not-an-operator"  # a placeholder, get_attr or output node
    CONTROL_FLOW = "control-flow"  # a higher-order operator (cond, while_loop, map...)
    MUTATION = "mutation"  # mutates an input in place
    RANDOMNESS = "randomness"  # draws from PyTorch's random stream
    EFFECT_TOKEN = "effect-token"  # a with_effects call threading an effect token
    NO_FAKE_KERNEL = "no-fake-kernel"  # no fake/meta value, so no output shapes
    NON_TENSOR_OUTPUT = "non-tensor-output"  # returns a scalar or other non-tensor value
    UNBOUNDED_DATA_DEPENDENT = "unbounded-data-dependent"  # a data-dependent size, no bound
    UNBAKEABLE_ARGUMENT = "unbakeable-argument"  # an argument a plugin can't hold as a constant
    SYMBOLIC_INPUT = "symbolic-input"  # reads a symbolic value the region can't recompute
    DATA_DEPENDENT_INPUT = "data-dependent-input"  # reads a data-dependent scalar (x.item())
    NON_TENSOR_INPUT = "non-tensor-input"  # reads a node whose value is not a tensor
    COMPLEX_CROSSING = "complex-crossing"  # a complex or tuple value would cross a boundary
    CYCLE = "cycle"  # keeping complex or tuple values together would create a cycle
    IDLE_CHECK = "idle-check"  # a check whose plugin would have no outputs
    SIZE_ARITHMETIC = "size-arithmetic"  # size arithmetic read outside the regions
    # A region that can't become a plugin (`pluggable.region_refusal_reason`).
    NO_TENSOR_INPUT = "no-tensor-input"  # QDP needs at least one tensor input
    DTYPE = "dtype"  # a boundary dtype TensorRT plugins can't take
    LAYOUT = "layout"  # a sparse (not strided) tensor at the boundary
    RANK = "rank"  # a boundary rank past TensorRT's dims
    SHAPE = "shape"  # an output dim with no TensorRT shape expression
    DATA_DEPENDENT_BOUND = "data-dependent-bound"  # a size tensor's bound can't be declared
    TORCH_EXECUTED_OPS = "torch-executed-ops"  # holds an op listed in torch_executed_ops
    FALLBACK_DATA_DEPENDENT = "fallback-data-dependent"  # fallback_data_dependent_ops is set
    # A plugin that stays JIT (`lowering.implementations`, `aot.aot_or_reason`).
    NOT_REQUESTED = "not-requested"  # AOT kernels were not asked for
    ENVIRONMENT = "environment"  # no CUDA, Triton or driver here, or inside torch.compile
    DATA_DEPENDENT_OUTPUT = "data-dependent-output"  # a kernel can't write a size tensor
    INDEX_BOUNDS = "index-bounds"  # integer index inputs can't be checked on random values
    INDUCTOR = "inductor"  # Inductor failed, or its wrapper is not exactly one Triton kernel
    INT32_BOUNDS = "int32-bounds"  # a kernel argument may pass int32 (or has no bound)
    TUNING = "tuning"  # re-emitting, compiling or tuning the kernel's configs, or its grid
    EAGER_MISMATCH = "eager-mismatch"  # a tactic differs from eager, or can't be checked


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """Why something stays in PyTorch (or stays a JIT plugin).

    Attributes:
        kind: the cause.
        message: what the user reads: the cause, the value or op involved, and the fix.
        node: the node refused, when the refusal is about one node; None for a region's or a
            plugin implementation's.

    Examples:
        >>> refusal = Refusal(RefusalKind.MUTATION, "mutates an input in place", node="add_")
        >>> str(refusal)
        'mutates an input in place'
    """

    kind: RefusalKind
    message: str
    node: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, RefusalKind):
            raise TypeError(f"a refusal's kind must be a RefusalKind, not {self.kind!r}")
        if not isinstance(self.message, str) or not self.message.strip():
            raise ValueError(f"a {self.kind.value} refusal needs a message saying why")
        if self.node is not None and not self.node:
            raise ValueError(f"a {self.kind.value} refusal names an empty node")

    def __str__(self) -> str:
        return self.message


class Implementation(enum.Enum):
    """How a region's plugin runs: a checked ahead-of-time kernel, or PyTorch called back
    from the engine."""

    AOT = "AOT"
    JIT = "JIT"
