"""A library module that sets a context variable at import (import_context_a/_b)."""

from __future__ import annotations

import contextvars

TRACE: contextvars.ContextVar[str] = contextvars.ContextVar("trace")
TRACE.set("set by the library at import")
