"""``python bench/run.py``: the same as ``python -m bench``, from any directory."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.suite import main

    raise SystemExit(main())
