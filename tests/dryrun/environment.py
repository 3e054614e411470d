"""A Torch-TensorRT installation that runs without TensorRT, for dryrun tests in a subprocess.

Torch-TensorRT's Python pipeline (lowering passes, converter registry, partitioners, dryrun
report) needs no TensorRT library. What it needs instead:

* the ``torch_tensorrt`` package matching the installed torch (2.11 for torch 2.11, ...), unpacked
  from its wheel without any shared library: ``lib/libtorchtrt*.so`` link libnvinfer and
  ``import torch_tensorrt`` loads them whenever they exist; without them it runs in its
  Python-only mode. The wheel is taken from ``<repo>/.whl/`` when it is there (the GPU machine has
  no network: carry it), else downloaded with ``pip download --no-deps``;
* its pure-Python requirements (dllist, psutil, filelock, packaging), installed by the ``test``
  extra;
* an import-only stand-in named ``tensorrt`` (``tests/standin/tensorrt``), which is not TensorRT
  (``tests/standin/qdp.py`` says what each of the tests' stand-ins is for).

Everything lives in ``<repo>/.dryrun/`` (git-ignored) and is put on ``PYTHONPATH`` of a subprocess
only, so no test of the main process can import the stand-in by accident.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# The folder holding the import-only ``tensorrt`` package, put on the subprocess's path.
STANDIN = HERE.parent / "standin"
RUNNER = HERE / "runner.py"

# Torch-TensorRT release built for each torch minor version.
TORCH_TENSORRT_FOR_TORCH = {
    "2.11": "2.11.0",
    "2.12": "2.12.0",
    "2.13": "2.13.0",
    "2.14": "2.14.0",
}


def torch_tensorrt_version() -> str | None:
    """The Torch-TensorRT release matching the installed torch, or None if there is none."""
    minor = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    return TORCH_TENSORRT_FOR_TORCH.get(minor)


def _python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def _wheel(version: str) -> Path:
    folder = REPO / ".whl"
    pattern = f"torch_tensorrt-{version}-{_python_tag()}-*.whl"
    found = sorted(folder.glob(pattern))
    if found:
        return found[0]
    folder.mkdir(exist_ok=True)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "--dest", str(folder), f"torch-tensorrt=={version}",
        ],
        check=True,
    )  # fmt: skip
    found = sorted(folder.glob(pattern))
    if not found:
        raise FileNotFoundError(f"pip downloaded no {pattern} into {folder}")
    return found[0]


def site_directory(version: str) -> Path:
    """``<repo>/.dryrun/torch_tensorrt-<version>-<python>``: the package without shared libraries.

    Built once; the build goes to a temporary folder renamed into place, so an interrupted build
    leaves nothing half-made.
    """
    target = REPO / ".dryrun" / f"torch_tensorrt-{version}-{_python_tag()}"
    if (target / "torch_tensorrt" / "_version.py").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        with zipfile.ZipFile(_wheel(version)) as wheel:
            members = [
                m
                for m in wheel.namelist()
                if m.startswith("torch_tensorrt/") and ".so" not in Path(m).name
            ]
            wheel.extractall(staging, members)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def subprocess_environment(version: str) -> dict[str, str]:
    """The environment of a subprocess that imports Torch-TensorRT over the stand-in."""
    env = dict(os.environ)
    paths = [str(site_directory(version)), str(STANDIN), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env
