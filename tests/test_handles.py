"""handles.py: one registration-handle design; `destroy` undoes a registration exactly once,
from any number of threads."""

import threading

from trt_autoplugin.handles import RegistrationHandle


class _Counted(RegistrationHandle):
    __slots__ = ("calls",)
    _lock = threading.RLock()

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _unregister(self) -> None:
        self.calls += 1

    def _name(self) -> str:
        return "counted"


def test_destroy_unregisters_once_from_many_threads() -> None:
    handle = _Counted()
    assert repr(handle) == "_Counted('counted', registered)"
    threads = [threading.Thread(target=handle.destroy) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handle.destroy()
    assert handle.calls == 1 and handle.is_destroyed
    assert repr(handle) == "_Counted('counted', destroyed)"


def test_every_registry_uses_the_one_design() -> None:
    from trt_autoplugin.converter import ConverterHandle, RegionHandle
    from trt_autoplugin.lowering import LoweringPassHandle
    from trt_autoplugin.outline import RegionOpHandle
    from trt_autoplugin.plugin import PluginHandle

    for kind in (ConverterHandle, RegionHandle, LoweringPassHandle, RegionOpHandle, PluginHandle):
        assert issubclass(kind, RegistrationHandle), kind
