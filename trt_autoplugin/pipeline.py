"""The pass end to end: support -> partition -> outline -> report."""

import copy
import dataclasses
import logging
from collections.abc import Callable, Mapping

import torch
import torch.fx
from torch.export.graph_signature import ExportGraphSignature, TensorArgument

from .outline import OutlinedRegion, RegionBody, outline_regions, region_body
from .partition import Partition, Segments, predict_segments, propose_regions
from .report import Report, build_report
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
    """The program decomposed as Torch-TensorRT decomposes it before conversion."""
    table = dict(oracle.decompositions())
    return ep.run_decompositions(table) if table else ep


def autoplugin(
    ep: torch.export.ExportedProgram,
    *,
    support: SupportArg = None,
    decompose: bool = True,
    min_block_size: int = 5,
) -> AutopluginResult:
    """Outlines every subgraph Torch-TensorRT can't convert into one plugin-ready custom op.

    Args:
        ep: the exported program; it is not modified.
        support: which nodes Torch-TensorRT converts: an oracle, a ``node -> bool`` callable, or
            None for the live registry when ``torch_tensorrt`` imports, else the shipped snapshot.
        decompose: first apply the decompositions Torch-TensorRT applies, so the analysis sees
            the graph its partitioner will see. The returned program is decomposed.
        min_block_size: Torch-TensorRT's setting, used to predict engines and graph breaks.

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
    program = decomposed(ep, oracle) if decompose else copy.deepcopy(ep)
    gm = program.graph_module
    outcome = outline_graph_module(gm, oracle, min_block_size=min_block_size)
    signature = renamed_outputs(program.graph_signature, outcome.renamed)
    rewritten = program._update(gm, signature)
    return AutopluginResult(rewritten, outcome.report, outcome.regions)


@dataclasses.dataclass(frozen=True, slots=True)
class GraphOutcome:
    """The result of outlining a GraphModule in place."""

    report: Report
    regions: tuple[OutlinedRegion, ...]
    renamed: Mapping[str, str]


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
    accept: Callable[[RegionBody], str | None] | None = None,
) -> GraphOutcome:
    """Runs the pass on a GraphModule whose nodes carry fake-tensor ``meta['val']``, in place.

    This is the entry point of the Torch-TensorRT lowering pass, which sees a post-lowering
    GraphModule rather than an ExportedProgram.

    Args:
        accept: asked about each proposed region's body before anything is outlined; a returned
            reason leaves the region's nodes in the graph, reported in ``left_in_graph`` with
            that reason (the lowering pass refuses regions TensorRT can't take as plugins).
    """
    verdicts = support_report(gm, oracle)
    partition = propose_regions(gm, verdicts)
    if accept is not None:
        partition = _accepted(gm, partition, accept)
    before = _segments(gm, verdicts, partition, outlined=False, min_block_size=min_block_size)
    after = _segments(gm, verdicts, partition, outlined=True, min_block_size=min_block_size)
    logger.info("outlining %d regions", len(partition.regions))
    regions, renamed = outline_regions(gm, partition.regions)
    report = build_report(gm, verdicts, partition, regions, before=before, after=after)
    return GraphOutcome(report, regions, renamed)


def _accepted(
    gm: torch.fx.GraphModule, partition: Partition, accept: Callable[[RegionBody], str | None]
) -> Partition:
    """The partition without the regions ``accept`` refuses; their nodes become refused nodes."""
    kept = []
    refused = dict(partition.refused)
    by_name = {n.name: n for n in gm.graph.nodes}
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    for region in partition.regions:
        reason = accept(region_body(gm, region, by_name=by_name, order=order))
        if reason is None:
            kept.append(region)
            continue
        logger.warning("leaving %d nodes in the graph: %s", len(region.nodes), reason)
        refused.update(dict.fromkeys(region.nodes, reason))
    return dataclasses.replace(partition, regions=tuple(kept), refused=refused)


def _segments(
    gm: torch.fx.GraphModule,
    verdicts: SupportReport,
    partition: Partition,
    *,
    outlined: bool,
    min_block_size: int,
) -> Segments:
    in_regions = {name for region in partition.regions for name in region.nodes}
    native = {
        name: v.verdict is Verdict.NATIVE or (outlined and name in in_regions)
        for name, v in verdicts.verdicts.items()
        if v.verdict is not Verdict.IGNORED
    }
    return predict_segments(gm, native, min_block_size=min_block_size)
