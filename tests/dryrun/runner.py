"""Runs Torch-TensorRT's own dryrun over models, with and without trt_autoplugin's pass.

Run by ``test_torch_tensorrt_dryrun.py`` in a subprocess whose ``PYTHONPATH`` holds a Torch-TensorRT
installation without shared libraries and the import-only ``tensorrt`` stand-in (see
``environment.py``). What is real here: Torch-TensorRT's lowering passes (ours registered through
the public `trt_autoplugin.register_lowering_pass`), its live converter registry with capability
validators and dynamic-shape checks, and its partitioner. What is not: no engine is built and no
plugin layer exists (dryrun stops before the only step that touches ``tensorrt.Builder``).

Prints one JSON object: per model and ``min_block_size``, Torch-TensorRT's engines and PyTorch
segments without the pass and with it, and trt_autoplugin's own predictions of both.
"""

import argparse
import copy
import json
import sys
import traceback
from pathlib import Path

import torch


def _answer_cuda_queries_on_a_cpu_machine() -> None:
    # Torch-TensorRT asks these at import and in dryrun; a CPU build of torch has no answer.
    # They describe the target GPU, not anything computed: (9, 0) is the H200/H100.
    if torch.cuda.is_available():
        return
    torch.cuda.get_device_capability = lambda device=None: (9, 0)
    torch.cuda.current_device = lambda: 0
    if not hasattr(torch._C, "_CudaDeviceProperties"):
        torch._C._CudaDeviceProperties = type("_CudaDeviceProperties", (), {})


def _keep_torch_blocks_on_the_cpu() -> None:
    # dryrun moves the PyTorch blocks to the target device (cuda:0), which a CPU build lacks.
    if torch.cuda.is_available():
        return
    from torch_tensorrt.dynamo import _compiler

    _compiler.to_torch_device = lambda device: torch.device("cpu")


_answer_cuda_queries_on_a_cpu_machine()

import torch_tensorrt  # noqa: E402
from torch_tensorrt.dynamo import _compiler  # noqa: E402

import trt_autoplugin  # noqa: E402
from trt_autoplugin import examples  # noqa: E402
from trt_autoplugin.support import SnapshotSupport  # noqa: E402
from trt_autoplugin.torch_tensorrt_registry import compilation_settings  # noqa: E402

_keep_torch_blocks_on_the_cpu()

_TRACKERS: list[object] = []
_display = _compiler.dryrun_stats_display


def _recording_display(tracker: object, dryrun: object) -> None:
    # Observes Torch-TensorRT's own dryrun tracker (unsupported ops); changes nothing.
    _TRACKERS.append(tracker)
    _display(tracker, dryrun)


_compiler.dryrun_stats_display = _recording_display


def _input_specs(ep: torch.export.ExportedProgram, inputs: tuple) -> list:
    """``torch_tensorrt.Input`` per example input, its dynamic dims over their export range."""
    placeholders = [
        n for n in ep.graph.nodes if n.op == "placeholder" and n.name in _user_input_names(ep)
    ]
    specs = []
    for node, example in zip(placeholders, inputs, strict=True):
        low, high = [], []
        for size, concrete in zip(node.meta["val"].shape, example.shape, strict=True):
            if isinstance(size, torch.SymInt):
                bounds = ep.range_constraints[size.node.expr]
                low.append(max(int(bounds.lower), 1))
                high.append(int(bounds.upper))
            else:
                low.append(concrete)
                high.append(concrete)
        specs.append(
            torch_tensorrt.Input(
                min_shape=tuple(low),
                opt_shape=tuple(example.shape),
                max_shape=tuple(high),
                dtype=example.dtype,
            )
        )
    return specs


def _user_input_names(ep: torch.export.ExportedProgram) -> list[str]:
    return list(ep.graph_signature.user_inputs)


def _segments(module: torch.nn.Module) -> dict[str, object]:
    names = [name for name, _ in module.named_children()]
    engines = sum(name.startswith("_run_on_acc") for name in names)
    torch_segments = sum(name.startswith("_run_on_gpu") for name in names)
    # A graph Torch-TensorRT left unpartitioned (nothing converts) runs whole in PyTorch: one
    # PyTorch segment, though it has no submodule.
    return {
        "engines": engines,
        "torch_segments": torch_segments or (0 if engines else 1),
        "children": names,
    }


def _dryrun(
    ep: torch.export.ExportedProgram, specs: list, min_block_size: int, **settings: object
) -> dict:
    _TRACKERS.clear()
    module = torch_tensorrt.dynamo.compile(
        # compile changes the program it is given (pre-lowering passes; on a GPU machine it
        # moves the weights to the GPU): each run gets its own copy.
        copy.deepcopy(ep),
        arg_inputs=specs,
        dryrun=True,
        min_block_size=min_block_size,
        offload_module_to_cpu=True,
        **settings,
    )
    result = _segments(module)
    tracker = _TRACKERS[-1] if _TRACKERS else None
    result["unsupported_ops"] = dict(getattr(tracker, "unsupported_ops", {}) or {})
    return result


def _dryrun_or_error(ep: torch.export.ExportedProgram, specs: list, min_block_size: int) -> dict:
    # Without our pass Torch-TensorRT 2.13 itself raises on an FFT chain (complex_graph_detection:
    # "The size of tensor a (8) must match..."): recorded, so the row with the pass still runs.
    try:
        return _dryrun(ep, specs, min_block_size)
    except Exception as e:  # noqa: BLE001 - whatever Torch-TensorRT raises is the answer
        first_line = str(e).splitlines()[0] if str(e) else ""
        return {
            "engines": None,
            "torch_segments": None,
            "unsupported_ops": {},
            "error": f"{type(e).__name__}: {first_line}",
        }


def _prediction(report: trt_autoplugin.Report) -> dict:
    return {
        "before": [report.before.tensorrt, report.before.pytorch],
        "after": [report.after.tensorrt, report.after.pytorch],
        "regions": [list(r.targets) for r in report.regions],
        "left_in_graph": [[e.node, e.target, e.kind, e.reason] for e in report.left_in_graph],
        "size_tensors": [
            [[s.extent, s.upper_bound] for s in r.size_tensors] for r in report.regions
        ],
        "oracle": report.oracle,
    }


def _model(name: str) -> tuple:
    if name in examples.EXAMPLES:
        return examples.load_example(name)
    import models  # tests/dryrun/models.py: real models beyond the examples

    return models.MODELS[name]()


def run_model(name: str, min_block_sizes: list[int]) -> dict:
    model, inputs, dynamic_shapes = _model(name)
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
    specs = _input_specs(ep, inputs)
    out: dict = {}
    for size in min_block_sizes:
        row: dict = {"without_pass": _dryrun_or_error(ep, specs, size)}
        handle = trt_autoplugin.register_lowering_pass()
        try:
            row["with_pass"] = _dryrun(ep, specs, size)
        finally:
            handle.destroy()
        row["live_prediction"] = _prediction(
            trt_autoplugin.autoplugin(ep, min_block_size=size).report
        )
        row["snapshot_prediction"] = _prediction(
            trt_autoplugin.autoplugin(ep, support=SnapshotSupport(), min_block_size=size).report
        )
        out[str(size)] = row
    return out


def has_fallback_setting() -> bool:
    """Whether this release has ``fallback_data_dependent_ops`` (2.13 on)."""
    from torch_tensorrt.dynamo import CompilationSettings

    return "fallback_data_dependent_ops" in CompilationSettings.__dataclass_fields__


def run_fallback(name: str, min_block_sizes: list[int]) -> dict:
    """With ``fallback_data_dependent_ops=True``: Torch-TensorRT's numbers with the pass, and
    the predictions of an oracle told the same."""
    model, inputs, dynamic_shapes = _model(name)
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
    specs = _input_specs(ep, inputs)
    live = trt_autoplugin.TorchTensorRTSupport(
        compilation_settings(fallback_data_dependent_ops=True)
    )
    snapshot = SnapshotSupport(fallback_data_dependent_ops=True)
    out: dict = {}
    for size in min_block_sizes:
        handle = trt_autoplugin.register_lowering_pass()
        try:
            row = {"with_pass": _dryrun(ep, specs, size, fallback_data_dependent_ops=True)}
        finally:
            handle.destroy()
        for key, oracle in (("live_prediction", live), ("snapshot_prediction", snapshot)):
            row[key] = _prediction(
                trt_autoplugin.autoplugin(ep, support=oracle, min_block_size=size).report
            )
        out[str(size)] = row
    return out


def real_compile_error(name: str) -> str:
    """The first line of what a real (not dryrun) compile with the pass raises here."""
    model, inputs, dynamic_shapes = _model(name)
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
    handle = trt_autoplugin.register_lowering_pass()
    try:
        torch_tensorrt.dynamo.compile(
            ep, arg_inputs=_input_specs(ep, inputs), min_block_size=1, offload_module_to_cpu=True
        )
    except Exception as e:  # noqa: BLE001 - the test reads whatever it is
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    finally:
        handle.destroy()
    return "no error: a compile without TensorRT returned a module"


def standin_answers() -> dict:
    """What the stand-in says to the probes Torch-TensorRT and we make."""
    import importlib

    import tensorrt

    try:
        importlib.import_module("tensorrt.plugin")
        plugin = "imports"
    except ImportError as e:
        plugin = f"{type(e).__name__}: {e}"
    try:
        tensorrt.Builder  # noqa: B018 - the access is the probe
        builder = "present"
    except AttributeError as e:
        builder = f"{type(e).__name__}: {e}"
    return {
        "version": tensorrt.__version__,
        "hasattr_builder": hasattr(tensorrt, "Builder"),
        "builder": builder,
        "plugin": plugin,
    }


def analyze_json(name: str, folder: str) -> dict:
    """``trt-autoplugin analyze --example NAME --json F`` run here, where torch_tensorrt imports."""
    from trt_autoplugin import cli

    path = f"{folder}/analyze-{name}.json"
    code = cli.main(["analyze", "--example", name, "--json", path])
    with open(path) as f:
        return {"exit_code": code, "report": json.load(f)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--min-block-sizes", nargs="+", type=int, default=[1, 5])
    parser.add_argument("--real-compile", default=None, help="a model to compile for real")
    parser.add_argument("--analyze", nargs="*", default=[], help="examples to run analyze on")
    parser.add_argument(
        "--fallback", nargs="*", default=[], help="models to run with fallback_data_dependent_ops"
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result: dict = {
        "torch": torch.__version__,
        "torch_tensorrt": torch_tensorrt.__version__,
        "cuda": torch.cuda.is_available(),
        "standin": standin_answers(),
        "models": {},
        "analyze": {},
        "fallback": {} if has_fallback_setting() else None,
        "errors": {},
    }
    for name in args.analyze:
        try:
            result["analyze"][name] = analyze_json(name, str(Path(args.out).parent))
        except Exception:  # noqa: BLE001 - reported, so one failure hides no other
            result["errors"][f"analyze {name}"] = traceback.format_exc()
    for name in args.models:
        try:
            result["models"][name] = run_model(name, args.min_block_sizes)
        except Exception:  # noqa: BLE001 - reported per model, so one failure hides no other
            result["errors"][name] = traceback.format_exc()
    for name in args.fallback if result["fallback"] is not None else ():
        try:
            result["fallback"][name] = run_fallback(name, args.min_block_sizes)
        except Exception:  # noqa: BLE001 - reported per model, so one failure hides no other
            result["errors"][f"fallback {name}"] = traceback.format_exc()
    if args.real_compile:
        result["real_compile_error"] = real_compile_error(args.real_compile)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
