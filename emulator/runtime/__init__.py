"""The Lambda runtime: functions imported, their environment, invoked in-process.

:mod:`.loader` imports a function's handler from its code folder,
:mod:`.environ` gives each invocation its function's ``os.environ``,
:mod:`.invoke` runs handlers on worker threads (:mod:`.workers`) or the event
loop with a deadline, :mod:`.context` builds the ``context`` they get,
:mod:`.output` attributes what they print and log, and :mod:`.boto` answers
their botocore calls to this emulator in-process. It knows functions, not
routes. Importing this package imports nothing else.
"""

from __future__ import annotations

__all__: list[str] = []
