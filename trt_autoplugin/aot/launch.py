"""Launching an `AotKernel` exactly as TensorRT does, without TensorRT, and timing it.

TensorRT loads an AOT plugin's PTX with the CUDA driver and calls ``cuLaunchKernel`` with the
grid, block and shared memory it evaluated from the plugin's expressions, and one argument per
input pointer, extra scalar (int32) and output pointer, in that order, and nothing else. This
module does the same through NVIDIA's ``cuda-python`` driver bindings, so the kernel that goes
into an engine is the kernel that is checked (`check.check_against_eager`) and benchmarked.
`device_seconds` is the package's one GPU timing: the tuner and the benchmarks use it.
"""

import ctypes
import hashlib
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import AotError
from ..limits import INT32_MAX, INT32_MIN
from ..probes import cuda_driver
from .kernel import AotKernel

_LOCK = threading.Lock()
# (device index, PTX digest, entry) -> CUfunction; modules stay loaded for the process, like
# TensorRT keeps an engine's kernels.
_FUNCTIONS: dict[tuple[int, str, str], Any] = {}

# torch.cuda._sleep spins for a number of cycles; H100 and H200 boost to about 2 GHz, and a
# longer sleep than needed only costs time.
_SLEEP_CYCLES_PER_SECOND = 2.0e9


def _checked(driver: Any, result: Any, what: str) -> Any:
    """The values after the status of a cuda-python call; raises on a failed status."""
    status, *values = result if isinstance(result, tuple) else (result,)
    if status != driver.CUresult.CUDA_SUCCESS:
        _, text = driver.cuGetErrorString(status)
        message = text.decode() if isinstance(text, bytes) else str(text)
        raise AotError(f"{what} failed: {status.name}: {message}")
    return values[0] if len(values) == 1 else tuple(values)


def ptx_digest(ptx: str) -> str:
    """A short content hash of a kernel's PTX (module caches key on it)."""
    return hashlib.sha256(ptx.encode()).hexdigest()[:16]


def _function(kernel: AotKernel, device: int) -> Any:
    key = (device, ptx_digest(kernel.ptx), kernel.kernel_name)
    with _LOCK:
        if key in _FUNCTIONS:
            return _FUNCTIONS[key]
        driver = cuda_driver()
        _checked(driver, driver.cuInit(0), "cuInit")
        _current_context(driver)
        image = kernel.ptx.encode() + b"\0"
        module = _checked(driver, driver.cuModuleLoadData(image), f"loading {kernel.kernel_name}")
        function = _checked(
            driver,
            driver.cuModuleGetFunction(module, kernel.kernel_name.encode()),
            f"finding entry {kernel.kernel_name}",
        )
        _FUNCTIONS[key] = function
        return function


def _current_context(driver: Any) -> None:
    # Called under torch.cuda.device(device), where the runtime made the device's primary
    # context (PyTorch's) current on this thread; modules load into it. Where it did not (a
    # runtime that initializes lazily), the primary context is retained and made current.
    context = _checked(driver, driver.cuCtxGetCurrent(), "cuCtxGetCurrent")
    if int(context) == 0:
        device = _checked(driver, driver.cuDeviceGet(torch.cuda.current_device()), "cuDeviceGet")
        primary = _checked(
            driver, driver.cuDevicePrimaryCtxRetain(device), "cuDevicePrimaryCtxRetain"
        )
        _checked(driver, driver.cuCtxSetCurrent(primary), "cuCtxSetCurrent")


def launch(
    kernel: AotKernel,
    inputs: Sequence[torch.Tensor],
    outputs: Sequence[torch.Tensor],
    stream: int,
) -> None:
    """Launches an AOT kernel on contiguous CUDA tensors, as TensorRT would.

    The grid and the scalar arguments are evaluated from the kernel's expressions on the
    inputs' shapes, like TensorRT evaluates the plugin's ``SymInt32`` expressions.

    Args:
        kernel: the kernel, any of its tactics.
        inputs: the region's inputs, contiguous, on one CUDA device.
        outputs: preallocated outputs of the region's output shapes and dtypes.
        stream: a raw ``cudaStream_t`` (``torch.cuda.current_stream().cuda_stream``).

    Raises:
        AotError: a non-contiguous or non-CUDA tensor, a value outside int32, or a failed
            driver call.
    """
    tensors = [*inputs, *outputs]
    for index, tensor in enumerate(tensors):
        if not tensor.is_cuda or not tensor.is_contiguous():
            raise AotError(f"tensor {index} must be a contiguous CUDA tensor, like TensorRT's")
    device = tensors[0].device.index if tensors else torch.cuda.current_device()
    grid, scalars = kernel.concrete_launch([tuple(x.shape) for x in inputs])
    for value in (*grid, *scalars):
        if not INT32_MIN <= value <= INT32_MAX:
            raise AotError(f"{kernel.kernel_name}: launch value {value} does not fit int32")
    driver = cuda_driver()
    values = (*(x.data_ptr() for x in inputs), *scalars, *(y.data_ptr() for y in outputs))
    types = (
        *([ctypes.c_void_p] * len(inputs)),
        *([ctypes.c_int32] * len(scalars)),
        *([ctypes.c_void_p] * len(outputs)),
    )
    # The module must be loaded into, and launched from, the tensors' device's context; the
    # guard restores the caller's device afterwards.
    with torch.cuda.device(device):
        function = _function(kernel, device)
        _checked(
            driver,
            driver.cuLaunchKernel(
                function,
                *grid,
                kernel.block,
                1,
                1,
                kernel.shared_mem,
                driver.CUstream(stream),
                (values, types),
                0,
            ),
            f"launching {kernel.kernel_name}",
        )


def device_seconds(run: Callable[[], object], *, calls: int = 1, repeats: int = 7) -> float:
    """The median device time of one call of ``run``, the host's issuing hidden.

    Each sample enqueues a sleep kernel longer than the host takes to issue ``calls`` calls,
    then the start event, the calls and the end event: the GPU reaches the start event only
    once the calls are queued behind it, so the events bracket device work alone. That is the
    time that counts for a kernel TensorRT launches from C++, where `launch`'s Python is gone.
    """
    run()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        run()
    issue = time.perf_counter() - start
    torch.cuda.synchronize()
    cycles = int((2 * issue + 50e-6) * _SLEEP_CYCLES_PER_SECOND)
    pairs = []
    for _ in range(repeats):
        begin = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(cycles)
        begin.record()
        for _ in range(calls):
            run()
        end.record()
        pairs.append((begin, end))
    torch.cuda.synchronize()
    return statistics.median(b.elapsed_time(e) for b, e in pairs) * 1e-3 / calls
