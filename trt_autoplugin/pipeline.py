"""The pass end to end: support -> partition -> outline -> report."""

import copy
import dataclasses
import logging
import re
from collections.abc import Callable, Collection, Mapping

import torch
import torch.fx
from torch.export.graph_signature import ExportGraphSignature, InputKind, TensorArgument

from .errors import AutopluginError, DecompositionError
from .graph import describe_node
from .outline import OutlinedRegion, RegionBody, outline_regions, region_body
from .partition import CHECK_TARGETS, Partition, propose_regions, settled_symbols
from .pluggable import region_refusal_reason
from .refusal import Refusal
from .report import Report, build_report
from .segments import Contraction, Segments, predict_segments
from .support import SupportOracle, SupportReport, Verdict, as_oracle, support_report

logger = logging.getLogger(__name__)

SupportArg = SupportOracle | Callable[[torch.fx.Node], bool] | None


@dataclasses.dataclass(frozen=True, slots=True)
class AutopluginResult:
    """What :func:`autoplugin` returns.

    Attributes:
        program: the rewritten ExportedProgram (one custom-op call per region).
        report: what was outlined, what was left and why, and the predicted segments.
        regions: the outlined regions.
    """

    program: torch.export.ExportedProgram
    report: Report
    regions: tuple[OutlinedRegion, ...]


def decomposed(
    ep: torch.export.ExportedProgram, oracle: SupportOracle
) -> torch.export.ExportedProgram:
    """The program decomposed as Torch-TensorRT decomposes it before conversion.

    Raises:
        DecompositionError: torch failed to decompose it (a sparse input, an op whose
            decomposition rejects its arguments); the message names the node when torch does.
    """
    table = dict(oracle.decompositions())
    if not table:
        return ep
    try:
        return ep.run_decompositions(table)
    except (RuntimeError, TypeError, ValueError, AttributeError) as e:
        raise DecompositionError(_decomposition_failure(ep, e)) from e


# torch's interpreter appends "While executing %name : ..." to the error of the node it ran.
_EXECUTING = re.compile(r"While executing %(\w+)")


def _decomposition_failure(ep: torch.export.ExportedProgram, error: Exception) -> str:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    match = _EXECUTING.search(str(error))
    by_name = {n.name: n for n in ep.graph.nodes}
    where = ""
    if match is not None and match.group(1) in by_name:
        where = f" at {describe_node(by_name[match.group(1)])}"
    return (
        f"decomposing the program with Torch-TensorRT's decomposition table failed{where}: "
        f"{type(error).__name__}: {first_line}; export a program torch can decompose (dense "
        "tensors, ops with decompositions), or pass decompose=False to analyze it as exported"
    )


def autoplugin(
    ep: torch.export.ExportedProgram,
    *,
    support: SupportArg = None,
    decompose: bool = True,
    min_block_size: int = 5,
    torch_executed_ops: Collection[object] = (),
) -> AutopluginResult:
    """Outlines every subgraph Torch-TensorRT can't convert into one plugin-ready custom op.

    Args:
        ep: the exported program; it is not modified.
        support: which nodes Torch-TensorRT converts: an oracle, a ``node -> bool`` callable, or
            None for the live registry when ``torch_tensorrt`` imports, else the shipped snapshot.
        decompose: first apply the decompositions Torch-TensorRT applies, so the analysis sees
            the graph its partitioner will see. The returned program is decomposed.
        min_block_size: Torch-TensorRT's setting, used to predict engines and graph breaks.
        torch_executed_ops: Torch-TensorRT's setting: ops (or their names) to run in PyTorch; a
            region holding one stays in the graph, as the lowering pass leaves it.

    Returns:
        The rewritten program, the report and the outlined regions.

    Raises:
        AutopluginError: a stage failed; the message names the node, op and reason.

    Examples:
        >>> ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
        >>> result = autoplugin(ep)
        >>> result.program.module()(*inputs)
    """
    oracle = as_oracle(support)
    program = decomposed(ep, oracle) if decompose else ep
    if program is ep:  # nothing was decomposed: outlining must not change the caller's graph
        program = _copied(ep)
    program = without_check_tokens(program)
    gm = program.graph_module
    outcome = outline_graph_module(
        gm,
        oracle,
        min_block_size=min_block_size,
        torch_executed_ops=torch_executed_ops,
        fallback_data_dependent_ops=falls_back_data_dependent_ops(oracle),
        constants=program_constants(program),
    )
    signature = renamed_outputs(program.graph_signature, outcome.renamed)
    state_dict, constants = with_real_values(program, outcome.real_values)
    rewritten = program._update(gm, signature, state_dict=state_dict, constants=constants)
    return AutopluginResult(rewritten, outcome.report, outcome.regions)


def falls_back_data_dependent_ops(oracle: SupportOracle) -> bool:
    """Whether the oracle models Torch-TensorRT with ``fallback_data_dependent_ops`` set (its
    own, or its base oracle's, for `support.OpSetSupport`)."""
    while oracle is not None:
        if getattr(oracle, "fallback_data_dependent_ops", False):
            return True
        oracle = getattr(oracle, "base", None)
    return False


def _copied(ep: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """A deep copy of the program, or one line saying why torch can't copy it."""
    try:
        return copy.deepcopy(ep)
    except (NotImplementedError, RuntimeError, TypeError) as e:
        # Sparse tensors have no storage to copy ("Cannot access storage of
        # SparseCsrTensorImpl"); decomposing makes a new program instead of a copy.
        raise AutopluginError(
            f"torch could not copy the program to outline it without changing yours "
            f"({type(e).__name__}: {(str(e).splitlines() or [''])[0]}); call autoplugin with "
            "decompose=True, which builds a new program"
        ) from e


def without_check_tokens(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """The program without effect tokens, in place, when its only effects are checks.

    Export threads a token (an input and an output of the program, ``InputKind.TOKEN`` and
    ``OutputKind.TOKEN``) through ``with_effects`` around ops with side effects, so they keep
    their order; checked linalg ops (``linalg.inv``, ``solve``, ``cholesky``...) get one around
    ``aten._linalg_check_errors``, whose only effect is to raise. Unwrapped (torch's own
    ``_remove_effect_tokens``: plain calls, token placeholder, output and specs gone), such a
    check joins the region of the op whose error code it reads, and the plugin raises as eager
    does. A program with any other effect keeps its tokens; its ``with_effects`` nodes stay in
    PyTorch with the reason.
    """
    effects = [n for n in program.graph.nodes if n.target is torch.ops.higher_order.with_effects]
    if not effects or any(n.args[1] not in CHECK_TARGETS for n in effects):
        return program
    from torch.export._remove_effect_tokens_pass import _remove_effect_tokens

    return _remove_effect_tokens(program)


_STATE_KINDS = frozenset({InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR})


def program_constants(ep: torch.export.ExportedProgram) -> dict[str, torch.Tensor]:
    """The tensors of the program's parameter, buffer and constant placeholders, by node name.

    Buffers the program mutates are left out: their placeholders can't become real views, since
    the program writes complex values back into them.
    """
    signature = ep.graph_signature
    mutated = set(signature.buffers_to_mutate.values())
    values: dict[str, torch.Tensor] = {}
    for spec in signature.input_specs:
        if spec.kind not in _STATE_KINDS or spec.target is None or spec.target in mutated:
            continue
        value = ep.state_dict.get(spec.target, ep.constants.get(spec.target))
        if isinstance(spec.arg, TensorArgument) and isinstance(value, torch.Tensor):
            values[spec.arg.name] = value
    return values


def with_real_values(
    ep: torch.export.ExportedProgram, real_values: Mapping[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, object]]:
    """The program's state_dict and constants with the placeholders made real (by node name)
    holding their new values, under the same keys; the program itself is not changed.

    The graph signature needs no change: each placeholder keeps its name, kind and target.
    """
    state_dict = dict(ep.state_dict)
    constants: dict[str, object] = dict(ep.constants)
    targets = {
        spec.arg.name: spec.target
        for spec in ep.graph_signature.input_specs
        if isinstance(spec.arg, TensorArgument)
    }
    for name, value in real_values.items():
        target = targets[name]
        if target in state_dict:
            state_dict[target] = value
        else:
            constants[target] = value
    return state_dict, constants


@dataclasses.dataclass(frozen=True, slots=True)
class GraphOutcome:
    """The result of outlining a GraphModule in place."""

    report: Report
    regions: tuple[OutlinedRegion, ...]
    renamed: Mapping[str, str]
    # Placeholders (parameters, buffers, constants) made real views of their complex values,
    # by node name: the caller stores these values in the program's state.
    real_values: Mapping[str, torch.Tensor] = dataclasses.field(default_factory=dict)


def renamed_outputs(
    signature: ExportGraphSignature, renamed: Mapping[str, str]
) -> ExportGraphSignature:
    """The signature with outputs that were region outputs pointing at their new nodes."""
    specs = []
    for spec in signature.output_specs:
        arg = spec.arg
        if isinstance(arg, TensorArgument) and arg.name in renamed:
            spec = dataclasses.replace(spec, arg=TensorArgument(name=renamed[arg.name]))
        specs.append(spec)
    return ExportGraphSignature(input_specs=signature.input_specs, output_specs=specs)


def outline_graph_module(
    gm: torch.fx.GraphModule,
    oracle: SupportOracle,
    *,
    min_block_size: int = 5,
    torch_executed_ops: Collection[object] = (),
    fallback_data_dependent_ops: bool = False,
    constants: Mapping[str, torch.Tensor] | None = None,
) -> GraphOutcome:
    """Runs the pass on a GraphModule whose nodes carry fake-tensor ``meta['val']``, in place.

    This is the entry point of the Torch-TensorRT lowering pass, which sees a post-lowering
    GraphModule rather than an ExportedProgram, and of `autoplugin`: both leave in the graph
    exactly the regions `pluggable.region_refusal_reason` refuses (reported in ``left_in_graph``
    with the reason), so what the report predicts is what compiling does.

    Args:
        torch_executed_ops: ops the user keeps in PyTorch; regions holding one are refused.
        fallback_data_dependent_ops: Torch-TensorRT's setting; regions with data-dependent
            outputs are refused under it, as its registry refuses their converters.
        constants: the values of the placeholders that hold parameters, buffers or constants
            (an ExportedProgram's, see `program_constants`); complex ones a region reads become
            real views, returned in ``real_values``. A post-lowering GraphModule reads these
            with get_attr instead, and gets new real attributes.
    """
    constants = constants if constants is not None else {}
    verdicts = support_report(gm, oracle)
    partition = propose_regions(gm, verdicts, constants=constants.keys())

    def accept(body: RegionBody) -> Refusal | None:
        return region_refusal_reason(
            body,
            torch_executed_ops=torch_executed_ops,
            fallback_data_dependent_ops=fallback_data_dependent_ops,
        )

    partition = _accepted(gm, partition, accept)
    before = _segments(
        gm, verdicts, partition, outlined=False, min_block_size=min_block_size, constants=constants
    )
    after = _segments(
        gm, verdicts, partition, outlined=True, min_block_size=min_block_size, constants=constants
    )
    logger.info("outlining %d regions", len(partition.regions))
    regions, renamed, real_values = outline_regions(
        gm, partition.regions, constants=constants, recomputed=partition.recomputed
    )
    report = build_report(gm, verdicts, partition, regions, before=before, after=after)
    return GraphOutcome(report, regions, renamed, real_values)


def _accepted(
    gm: torch.fx.GraphModule,
    partition: Partition,
    accept: Callable[[RegionBody], Refusal | None],
) -> Partition:
    """The partition without the regions ``accept`` refuses; their nodes become refused nodes."""
    kept = []
    refused = dict(partition.refused)
    by_name = {n.name: n for n in gm.graph.nodes}
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    for region in partition.regions:
        refusal = accept(region_body(gm, region, by_name=by_name, order=order))
        if refusal is None:
            kept.append(region)
            continue
        logger.warning("leaving %d nodes in the graph: %s", len(region.nodes), refusal)
        refused.update(dict.fromkeys(region.nodes, refusal))
    # Size arithmetic only the dropped regions recomputed now stays in the graph.
    return settled_symbols(gm, dataclasses.replace(partition, regions=tuple(kept), refused=refused))


def _segments(
    gm: torch.fx.GraphModule,
    verdicts: SupportReport,
    partition: Partition,
    *,
    outlined: bool,
    min_block_size: int,
    constants: Collection[str],
) -> Segments:
    """Torch-TensorRT's predicted split of the graph as it is, or with the regions outlined."""
    native = {
        name: v.verdict is Verdict.NATIVE
        for name, v in verdicts.verdicts.items()
        if v.verdict is not Verdict.IGNORED
    }
    return predict_segments(
        gm,
        native,
        min_block_size=min_block_size,
        contractions=_contractions(gm, partition) if outlined else (),
        constants=constants,
    )


def _contractions(gm: torch.fx.GraphModule, partition: Partition) -> tuple[Contraction, ...]:
    """Each region as the op call `outline_regions` puts in its place: it reads the body's
    inputs (the region's, plus the tensors its outside size arithmetic comes from)."""
    by_name = {n.name: n for n in gm.graph.nodes}
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    return tuple(
        Contraction(
            nodes=region.nodes,
            inputs=region_body(gm, region, by_name=by_name, order=order).inputs,
            outputs=region.outputs,
        )
        for region in partition.regions
    )
