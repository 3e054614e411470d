"""The hardware's and TensorRT's limits that decide what a plugin or a kernel may be."""

# TensorRT passes sizes, size tensors, extra kernel arguments and grid dims as 32-bit ints
# (``SymInt32``, int32 size tensors).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# TensorRT's dims are at most ``trt.Dims.MAX_DIMS`` long (``ShapeExprs`` refuses more).
MAX_RANK = 8

# CUDA's grid y and z are at most 65535 blocks (x up to 2**31 - 1, which INT32_MAX covers); a
# launch beyond fails, and TensorRT would only find out when the engine runs.
GRID_YZ_MAX = 65535

# Dynamic shared memory above 48 KiB needs cuFuncSetAttribute before the launch; TensorRT's
# launch parameters have no way to ask for it.
SHARED_MEM_MAX = 48 * 1024
