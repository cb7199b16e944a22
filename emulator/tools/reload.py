"""Live reload: edited handler modules and routes.yaml take effect for the
next event, while open connections stay open.

Only what changed is imported again (plus the routes' own modules, so that
they bind to fresh versions of what they import): a module that did not
change keeps its state, such as an in-memory connection store. A module that
no longer imports, or a routes.yaml that no longer validates, leaves the
previous version serving and says why in the log.

Only the folders that matter are watched, each on its own (not recursively):
the config's (for a Terraform configuration, its own folder, not those of its
local modules) and those of the modules imported from the API's folder. A
recursive watch of the API's folder would walk everything under it first,
such as a ``.venv`` of thousands of folders, and that walk holds the event
loop for as long as it takes (hundreds of milliseconds), so that neither a
connection nor Ctrl-C is served meanwhile. A module imported later, from a
folder not watched yet (a route added to routes.yaml), restarts the watch
with its folder.

Only Python sources and the config get past the watcher: a log file written
in a watched folder (``apigw-ws serve 2> serve.log``) changes with every line
the server logs, and working out, each time, whether the change was one of
the API's files (resolving paths, looking through every loaded module) took a
share of the server's time under load. That filter runs on the watch's own
thread, so that such a change never wakes the event loop.

The watch is watchfiles' ``RustNotify`` (the backend its ``awatch`` drives,
in its API reference), made on the event loop, so that the watch is in place
before the first connection is served, and waited on by a thread of its own:
without ``awatch``'s anyio, whose import (tens of milliseconds) would come
between the printed URL and the first connection, and whose task group and
worker thread call would wake the loop for every batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType

from watchfiles import main as watchfiles_main
from watchfiles._rust_notify import RustNotify

from emulator.app import Emulator
from emulator.errors import ConfigError
from emulator.model.api import ApiConfig
from emulator.model.config import load_config, with_limits

__all__ = ["Reloader"]

logger = logging.getLogger("emulator.reload")

# The files of a Terraform configuration (a folder) that the config is read from.
_TERRAFORM = (".tf", ".tf.json", ".tfvars", ".tfvars.json")
# The watch's timings, in milliseconds: changes are grouped for up to DEBOUNCE,
# and given once none came for STEP; the thread looks at its stop every STEP,
# and at newly imported modules every TIMEOUT without a change.
_DEBOUNCE_MS, _STEP_MS, _TIMEOUT_MS = 50, 10, 200


def _file_of(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _not_user_code() -> list[Path]:
    """The interpreter's library, installed packages and scripts, and the
    emulator itself: never the API's code, even inside the API's folder (a
    ``.venv`` beside routes.yaml, this repository's own routes.yaml)."""
    paths = sysconfig.get_paths()
    keys = ("stdlib", "platstdlib", "purelib", "platlib", "scripts")
    emulator = Path(__file__).resolve().parent.parent
    return [Path(paths[key]).resolve() for key in keys] + [emulator]


class _Files:
    """Where each imported module's file is, symlinks resolved, worked out once
    per module object: resolving every module's path anew (hundreds, once boto3
    is in) took tens of milliseconds of the event loop's time."""

    def __init__(self) -> None:
        self._folders: dict[str, Path] = {}
        self._files: dict[str, tuple[ModuleType, Path | None]] = {}

    def of(self, name: str, module: ModuleType) -> Path | None:
        known = self._files.get(name)
        if known is not None and known[0] is module:
            return known[1]
        file = getattr(module, "__file__", None)
        resolved = None
        if file:
            folder, base = os.path.split(os.path.abspath(file))
            if folder not in self._folders:
                self._folders[folder] = Path(folder).resolve()
            resolved = self._folders[folder] / base
        self._files[name] = (module, resolved)
        return resolved


def _notify(paths: list[str]) -> RustNotify:
    """A watch of ``paths``, each on its own (not recursively), in place once
    made. With ``awatch``'s defaults, from watchfiles itself so that they stay
    its own: polling on WSL or with ``WATCHFILES_FORCE_POLLING``, every
    ``WATCHFILES_POLL_DELAY_MS`` (300 ms), ``WATCHFILES_DEBUG`` and
    ``WATCHFILES_IGNORE_PERMISSION_DENIED``."""
    return RustNotify(
        paths,
        watchfiles_main._default_debug(None),
        watchfiles_main._default_force_polling(None),
        watchfiles_main._default_poll_delay_ms(300),
        False,  # recursive
        watchfiles_main._default_ignore_permission_denied(None),
    )


class _Watch:
    """One watch of some folders: watchfiles' backend, in place once made (on
    the loop), and a thread of its own that waits on it. The thread hands the
    loop (:attr:`batches`) each batch of changes that may matter, then None
    once stopped, or what went wrong: the loop raises it, as it would have
    raised awatch's, and never waits for a thread that is gone."""

    def __init__(self, reloader: Reloader, paths: list[str], stop: asyncio.Event) -> None:
        self.notify = _notify(paths)
        self.stop = stop
        self.done = False  # replaced by a watch of more folders, or cancelled
        self.batches: asyncio.Queue[list[str] | BaseException | None] = asyncio.Queue()
        self._reloader = reloader
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, name="apigw-ws reload", daemon=True).start()

    def is_set(self) -> bool:
        """Whether to stop waiting: what the backend asks between its steps."""
        return self.done or self.stop.is_set()

    def _run(self) -> None:
        end: BaseException | None = None
        try:
            with self.notify:
                self._hand_over()
        except BaseException as exc:  # noqa: BLE001 - a task boundary: the loop raises it
            end = exc
        if self.done:
            return  # nobody waits for it
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for it either
            self._loop.call_soon_threadsafe(self.batches.put_nowait, end)

    def _hand_over(self) -> None:
        reloader = self._reloader
        while True:
            raw = self.notify.watch(_DEBOUNCE_MS, _STEP_MS, _TIMEOUT_MS, self)
            if self.is_set():
                return  # stopped ("stop"), replaced or cancelled
            if raw == "timeout" or raw == "signal":  # signals go to the main thread
                if len(sys.modules) == reloader._modules_seen:
                    continue
                batch: list[str] = []  # modules imported since: their folders may need a watch
            else:
                assert not isinstance(raw, str), raw
                batch = [path for _, path in raw if reloader._wanted(path)]
                if not batch:
                    continue
            self._loop.call_soon_threadsafe(self.batches.put_nowait, batch)


class Reloader:
    """Watches the config's folder and swaps in new versions of the API."""

    def __init__(
        self,
        emulator: Emulator,
        config_path: str | Path | None,
        limits: Mapping[str, object] | None = None,
        load: Callable[[], ApiConfig] | None = None,
    ) -> None:
        """Watch ``config_path`` (a routes.yaml, or a template read by ``load``; a
        folder: a Terraform configuration, whose .tf and .tfvars files are watched)."""
        self.emulator = emulator
        self.load = load
        self.limits = dict(limits or {})  # command-line limits, kept across reloads
        self.config_path = Path(config_path).resolve() if config_path is not None else None
        self.reloads = 0  # successful reloads
        # Changes in the watched folders that cannot matter (a log file written
        # there), left out before the event loop wakes; and the batches of
        # changes it woke for. For tests and tools.
        self.ignored = 0
        self.wakes = 0
        # One entry per change that touched the API: True if the new version
        # serves, False if the previous one still does. For tests and tools.
        self.results: asyncio.Queue[bool] = asyncio.Queue()
        self._not_user_code = _not_user_code()
        self._files = _Files()
        self._user_folders: dict[tuple[Path, ...], dict[Path, bool]] = {}
        self._modules_seen = -1  # len(sys.modules) when the folders were last worked out
        self._config_name = self.config_path.name if self.config_path is not None else None
        self._config_is_folder = self.config_path is not None and self.config_path.is_dir()

    def _roots(self) -> list[Path]:
        return [self.emulator.config.base_dir.resolve()]

    def _user_modules(self) -> dict[str, Path]:
        roots = tuple(self._roots())
        is_user = self._user_folders.setdefault(roots, {})
        found = {}
        for name, module in list(sys.modules.items()):
            file = self._files.of(name, module) if module is not None else None
            if file is None:
                continue
            folder = file.parent
            if folder not in is_user:
                is_user[folder] = any(folder.is_relative_to(root) for root in roots) and not any(
                    folder.is_relative_to(path) for path in self._not_user_code
                )
            if is_user[folder]:
                found[name] = file
        return found

    def folders(self) -> set[Path]:
        """The folders to watch: the config's, and those the API's modules come from."""
        self._modules_seen = len(sys.modules)
        if self.config_path is None:
            config_folder = self._roots()[0]
        elif self._config_is_folder:
            config_folder = self.config_path  # a Terraform configuration's files are in it
        else:
            config_folder = self.config_path.parent
        return {config_folder} | {file.parent for file in self._user_modules().values()}

    def _needs_more_folders(self, watched: set[Path]) -> bool:
        # Cheap while nothing new is imported: this runs every watch timeout.
        if len(sys.modules) == self._modules_seen:
            return False
        return not self.folders() <= watched

    def apply(self, changed: Iterable[str | Path]) -> bool:
        """Reload after ``changed`` files changed; True if a new version serves."""
        paths = {Path(path).resolve() for path in changed if self._can_matter(os.fspath(path))}
        if not paths:
            return False
        config = self.emulator.config
        config_changed = self._config_changed(paths)
        if config_changed:
            assert self.config_path is not None
            try:
                if self.load is not None:
                    config = self.load()
                else:
                    config = with_limits(load_config(self.config_path), self.limits)
            except ConfigError as exc:
                logger.warning("%s; still serving the previous version", exc)
                return False
        stale = self._stale(paths)
        if not stale and not config_changed:
            return False
        # The functions' modules, by the names they are imported under (a module
        # loaded from a codeUri folder has a name of its own).
        imported = {handler.function.__module__ for handler in self.emulator.handlers.values()}
        fresh = stale | imported | {function.module for function in config.functions.values()}
        saved = {name: sys.modules[name] for name in fresh if name in sys.modules}
        for name in fresh:
            module = sys.modules.pop(name, None)
            file = _file_of(module) if module is not None else None
            if file is not None:
                # A stale .pyc can survive an edit within the same second.
                with contextlib.suppress(FileNotFoundError, ValueError):
                    os.remove(importlib.util.cache_from_source(str(file)))
        importlib.invalidate_caches()
        try:
            handlers = self.emulator.load(config)
        except ConfigError as exc:
            for name in fresh:
                sys.modules.pop(name, None)
            sys.modules.update(saved)
            logger.warning("%s; still serving the previous version", exc)
            return False
        self.emulator.replace(config, handlers)
        self.reloads += 1
        what = sorted(stale) + (
            [str(self.config_path.name)] if config_changed and self.config_path else []
        )
        logger.info("reloaded %s; open connections stay open", ", ".join(what))
        return True

    async def watch(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Apply changes to the API's files until ``stop`` is set.

        ``ready`` is set once the watch is in place: edits after it are seen.
        It is in place before this first yields to the loop.
        """
        while not stop.is_set():
            watched = self.folders()
            # A module's folder may be gone since it was imported.
            watch = _Watch(self, sorted(str(folder) for folder in watched if folder.is_dir()), stop)
            if ready is not None:
                ready.set()
            try:
                while True:
                    batch = await watch.batches.get()
                    if batch is None or stop.is_set():
                        return  # stopped: what changed meanwhile waits for the next start
                    if isinstance(batch, BaseException):
                        raise batch
                    self.wakes += 1
                    relevant = [path for path in batch if self._can_matter(path)]
                    if relevant and self._touches_api(relevant):
                        self.results.put_nowait(self.apply(relevant))
                    if self._needs_more_folders(watched):
                        logger.debug("watching more folders: %s", self.folders() - watched)
                        break
            finally:
                watch.done = True  # its thread ends within a step, and closes the watch

    def _can_matter(self, path: str) -> bool:
        """Whether a change to ``path`` may be one to the API: a Python source,
        or the config (its file, or a Terraform file beside it), by name alone.

        Neither compiled nor native modules: a ``.pyc`` is rewritten from its
        source, and an extension module cannot be imported anew in a process.
        """
        name = os.path.basename(path)
        if name.endswith(".py") or name == self._config_name:
            return True
        return self._config_is_folder and name.endswith(_TERRAFORM)

    def _wanted(self, path: str) -> bool:
        """The watch's filter, run on its thread for each change: whether the
        loop must wake for it. A change that cannot matter is left out, unless
        the loop has work that a wake would bring: watching the folders of
        modules imported since.
        """
        if self._can_matter(path):
            return True
        self.ignored += 1
        return len(sys.modules) != self._modules_seen

    def _config_changed(self, paths: set[Path]) -> bool:
        """Whether the config changed: its file, or a Terraform file under its folder."""
        folder = self.config_path
        if folder is None:
            return False
        if folder in paths:
            return True
        return self._config_is_folder and any(
            path.name.endswith(_TERRAFORM) and path.is_relative_to(folder) for path in paths
        )

    def _touches_api(self, changes: Iterable[str]) -> bool:
        paths = {Path(path).resolve() for path in changes}
        return self._config_changed(paths) or bool(self._stale(paths))

    def _stale(self, paths: set[Path]) -> set[str]:
        """The API's modules whose source is among ``paths``. Without a source
        among them, no look through the loaded modules (hundreds)."""
        sources = {path for path in paths if path.suffix == ".py"}
        if not sources:
            return set()
        return {name for name, file in self._user_modules().items() if file in sources}
