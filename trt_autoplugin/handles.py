"""Handles of what trt_autoplugin registers in process-wide registries (region ops, TensorRT
plugins, Torch-TensorRT converters, the lowering pass): one design, `destroy` undoes it once.
"""

import threading


class RegistrationHandle:
    """Something registered in a process-wide registry; `destroy` undoes it, once.

    Like torch's ``RegistrationHandle``, but idempotent and thread-safe: subclasses give the
    lock their registry is guarded by (``_lock``), a name (``_name``) and ``_unregister``.
    """

    __slots__ = ("_destroyed",)
    _lock: threading.RLock

    def __init__(self) -> None:
        self._destroyed = False

    @property
    def is_destroyed(self) -> bool:
        return self._destroyed

    def destroy(self) -> None:
        """Unregisters (idempotent)."""
        with self._lock:
            if self._destroyed:
                return
            self._unregister()
            self._destroyed = True

    def _unregister(self) -> None:
        raise NotImplementedError

    def _name(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "destroyed" if self._destroyed else "registered"
        return f"{type(self).__name__}({self._name()!r}, {state})"
