"""The gateway: what API Gateway does with each connection and message.

:mod:`.lifecycle` keeps the connections and hands each event to the request
pipeline (:mod:`.pipeline`): select the route (:mod:`.selection`), authorize
and validate (:mod:`.access`, :mod:`.validation`), run the integration
(:mod:`.integrations`, with the events of :mod:`.events`), send the route
response (:mod:`.respond`). Beside it: the @connections API
(:mod:`.connections`, :mod:`.management`), idle and maximum-duration timers
(:mod:`.timers`), the log (:mod:`.log`). Importing this package imports
nothing else.
"""

from __future__ import annotations

__all__: list[str] = []
