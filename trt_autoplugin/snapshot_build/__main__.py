"""``python -m trt_autoplugin.snapshot_build``: see :func:`trt_autoplugin.snapshot_build.main`."""

import sys

from trt_autoplugin.snapshot_build.cli import main

if __name__ == "__main__":
    sys.exit(main())
