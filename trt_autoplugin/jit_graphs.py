"""CUDA graphs of JIT region calls: captured once per set of TensorRT's buffers, then replayed.

TensorRT hands a plugin the same buffers from one inference to the next. The first call of a
region with a set of buffers runs the body as usual (`jit.jit_launch`), which also warms up
what its kernels initialize lazily (cuFFT plans, cuBLAS workspaces); the same work is then
captured into a CUDA graph on a side stream, and every later call with those exact buffers
(address, shape, strides, dtype, device) replays it on TensorRT's stream: one graph launch from
the host instead of the body's Python, the dispatcher and one launch per kernel. The graph's
intermediates live in its own memory pool; it reads and writes TensorRT's buffers by address,
so new contents of the same buffers are what the next replay computes on.

Calls whose buffers pass `GRAPH_MAX_BYTES` run eagerly: their GPU work outlasts the host's
issuing, so a replay saves nothing. Never graphed, with the reason (`graph_refusal`): regions
with data-dependent outputs (their sizes are known only after a run), regions with ops from
outside PyTorch's core (their kernels may ignore the capturing stream), and bodies whose
capture failed (an op that synchronizes with the host). A call made while TensorRT's stream is
itself being captured (an engine run inside the user's CUDA graph) runs the body eagerly: its
kernels land in the user's graph.
"""

import collections
import logging
import weakref
from collections.abc import Callable, Hashable

import torch
import torch.fx

from .outline import RegionBody
from .pluggable import size_tensors

logger = logging.getLogger(__name__)

# Set to False to run every JIT call eagerly (to compare, or to rule graphs out).
ENABLED = True
# Graphs kept per region, least recently used dropped first: TensorRT keeps one set of buffers
# per execution context and shape, so a handful covers an engine's profiles.
GRAPHS_PER_REGION = 8
# Calls whose buffers (inputs and outputs) pass this many bytes run eagerly. A graph saves the
# host's issuing, which only shows while the GPU work is shorter than it; at 1 GiB the work
# takes at least 250 µs at the H200's copy rate, longer than an eager JIT call's host time
# (20-100 µs), and the two overlap. Past it a replay can only lose: the spectral region (cuFFT)
# replayed at 2 GiB took 1.05x its eager time, eagerly 1.00x (H200, interleaved). A limit of
# 64 MiB was too low: cummax at 128 MiB (74 µs of GPU work) then cost 94 µs a call, 74 graphed.
GRAPH_MAX_BYTES = 1 << 30

_GRAPHS: "weakref.WeakKeyDictionary[torch.fx.GraphModule, collections.OrderedDict]" = (
    weakref.WeakKeyDictionary()
)
_REFUSED: "weakref.WeakKeyDictionary[torch.fx.GraphModule, str]" = weakref.WeakKeyDictionary()
_SIDE_STREAMS: dict[int, torch.cuda.Stream] = {}


def graph_refusal(body: RegionBody, foreign: tuple[str, ...]) -> str | None:
    """Why calls of this region are never graphed, or None.

    Args:
        body: the region body.
        foreign: its ops from outside PyTorch's core (`jit.foreign_ops`).
    """
    if not ENABLED:
        return "CUDA graphs are turned off (jit_graphs.ENABLED)"
    known = _REFUSED.get(body.graph_module)
    if known is not None:
        return known
    if size_tensors(body):
        return "the region has data-dependent outputs, sized only after each run"
    if foreign:
        return f"{', '.join(foreign)} may launch kernels outside the capturing stream"
    return None


def replayed(body: RegionBody, key: Hashable, stream: torch.cuda.Stream) -> bool:
    """Replays the region's graph for these buffers on ``stream``; False where there is none
    yet (or TensorRT's stream is being captured itself: the caller then runs the body)."""
    graphs = _GRAPHS.get(body.graph_module)
    graph = graphs.get(key) if graphs is not None else None
    if graph is None:  # none yet, or these buffers are too large to graph (`capture`)
        return False
    with torch.cuda.stream(stream):
        if torch.cuda.is_current_stream_capturing():
            return False
        graph.replay()
    graphs.move_to_end(key)
    return True


def capture(
    body: RegionBody,
    key: Hashable,
    run: Callable[[], None],
    stream: torch.cuda.Stream,
    buffer_bytes: Callable[[], int],
) -> None:
    """Captures ``run`` (the call just made eagerly on ``stream``) as the region's graph for
    these buffers, unless ``buffer_bytes()`` passes `GRAPH_MAX_BYTES` (then calls with them stay
    eager). A failed capture is logged and the region is run eagerly from then on."""
    graphs = _GRAPHS.setdefault(body.graph_module, collections.OrderedDict())
    if key in graphs:  # too large: kept as None, so that the size is computed once
        return
    if buffer_bytes() > GRAPH_MAX_BYTES:
        _keep(graphs, key, None)
        return
    with torch.cuda.stream(stream):
        if torch.cuda.is_current_stream_capturing():
            return
    side = _side_stream(stream.device)
    graph = torch.cuda.CUDAGraph()
    # A capture registers the device's default generator, and only a capture that ends well
    # releases it: after a failed one, every random op of the process would raise ("Offset
    # increment outside graph capture"). Its state is kept to be put back.
    generator = torch.cuda.default_generators[side.device.index]
    saved = generator.clone_state()
    try:
        side.wait_stream(stream)
        with torch.cuda.stream(side):
            # thread_local: another thread's unsafe call (a cudaMalloc) is not this capture's
            # error, as it would be in the default global mode.
            graph.capture_begin(capture_error_mode="thread_local")
            try:
                run()
            finally:
                graph.capture_end()
        stream.wait_stream(side)
    except Exception as e:  # noqa: BLE001 - any capture failure leaves the region eager
        generator.graphsafe_set_state(saved)
        reason = f"capture failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        logger.info("region %s runs eagerly: %s", body.qualified_name, reason)
        _REFUSED[body.graph_module] = reason
        return
    _keep(graphs, key, graph)


def _keep(
    graphs: "collections.OrderedDict[Hashable, torch.cuda.CUDAGraph | None]",
    key: Hashable,
    graph: torch.cuda.CUDAGraph | None,
) -> None:
    graphs[key] = graph
    if len(graphs) > GRAPHS_PER_REGION:
        graphs.popitem(last=False)


def graph_count(body: RegionBody) -> int:
    """How many graphs the region holds (one per set of buffers met, up to the limit)."""
    return sum(g is not None for g in _GRAPHS.get(body.graph_module, {}).values())


def _side_stream(device: torch.device) -> torch.cuda.Stream:
    index = device.index if device.index is not None else torch.cuda.current_device()
    stream = _SIDE_STREAMS.get(index)
    if stream is None:
        stream = _SIDE_STREAMS[index] = torch.cuda.Stream(index)
    return stream
