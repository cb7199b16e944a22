"""A Lambda function of the API: its handler, code and configuration.

A pure module. Routes name their function (the ``AWS_PROXY`` integration),
and so does the ``$connect`` authorizer; one function may serve several
routes, as one Lambda function may sit behind several integrations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = ["DEFAULT_MEMORY_SIZE", "FunctionConfig", "function_name_for"]

# AWS: MemorySize defaults to 128 MB (botocore lambda CreateFunction).
DEFAULT_MEMORY_SIZE = 128
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class FunctionConfig:
    """One Lambda function.

    ``code_uri`` is the folder its module is imported from, as written
    (relative to the config's folder, ``ApiConfig.base_dir``); None means that
    folder itself. ``timeout`` is Lambda's function timeout in seconds; None
    leaves only the integration's timeout to bound an invocation. ``where``
    names where the function is declared (``routes.$default``, ``authorizer``),
    for error messages.
    """

    name: str
    handler: str
    environment: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    code_uri: Path | None = None
    timeout: float | None = None
    memory_size: int = DEFAULT_MEMORY_SIZE
    where: str = field(default="", compare=False)

    @property
    def module(self) -> str:
        """The handler's module, ``handlers.chat`` for ``handlers.chat.on_connect``."""
        return self.handler.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        """The handler's function, ``on_connect`` for ``handlers.chat.on_connect``."""
        return self.handler.rpartition(".")[2]


def function_name_for(handler: str) -> str:
    """A Lambda-valid function name for a handler string: ``handlers-chat-on_connect``."""
    return handler.replace(".", "-")[:64]
