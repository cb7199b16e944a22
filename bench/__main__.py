"""``python -m bench``: run the benchmark suite (see bench/README.md)."""

from bench.suite import main

raise SystemExit(main())
