"""The gate runaway_probe's hanging handlers wait on; tests/test_runaway.py opens it.

A module of its own: the test imports it without importing the handlers'
module, whose boto3 client at import needs the function's region.
"""

from __future__ import annotations

import threading

gate = threading.Event()
gate.set()
GATE_TIMEOUT = 30.0
