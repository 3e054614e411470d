"""``python -m benchmarks``: the benchmark suite (see `benchmarks.suite`).

python -m benchmarks [--quick] [--device cuda|cpu] [--out benchmarks/results]
"""

from .suite import main

raise SystemExit(main())
