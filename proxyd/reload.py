"""Hot reload: the config file (and every ``api_key_file`` it names) is watched with watchfiles,
and SIGHUP reloads too.

A reload reads and checks the whole file, then swaps it in at once (:meth:`Runtime.swap`). A
file that fails (bad YAML, a failed check, a missing ``${ENV}``) changes nothing: every error is
logged with its YAML path and counted as ``proxyd_config_reloads_total{result="failure"}``.

Editors save by renaming a new file over the old one, or by truncating it and writing it again.
The watcher looks at the directories (a rename replaces the watched inode) and lets watchfiles
gather a burst of events into one; it then skips files whose bytes did not change since the last
load, and an empty or missing file, which is a save still under way. So each save is one reload
of the complete file.

``listen``, ``store`` and ``tcp_keepalive`` cannot change under a running server: a reload that
changes them says so in the log and keeps the running values. The exceptions are the access
settings (``listen.token``, ``allowed_hosts``, ``allowed_origins``), which take effect at once;
a reload that would drop the token of a proxyd listening beyond loopback fails.

Under systemd each reload is framed by ``RELOADING=1`` and ``READY=1`` (:mod:`proxyd.notify`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import structlog
import watchfiles
from aiohttp import web

from proxyd.config.loader import load_config
from proxyd.config.providers import notices
from proxyd.config.settings import Config, ConfigError
from proxyd.local.supervisor import LOCAL
from proxyd.metrics import METRICS
from proxyd.notify import Notifier
from proxyd.probes import HEALTH
from proxyd.runtime import RUNTIME

RESTART_ONLY = ("listen", "store", "tcp_keepalive")
Fingerprint = tuple[tuple[str, str | None], ...]


class Reloader:
    def __init__(
        self,
        app: web.Application,
        path: Path,
        adjust: Callable[[Config], Config] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        watch: bool = True,
        key_files: tuple[Path, ...] = (),
        on_load: Callable[[Config], None] | None = None,
    ) -> None:
        self.app = app
        self.on_load = on_load
        self.watch = watch
        self.path = path.absolute()
        self.adjust = adjust or (lambda config: config)
        self.env = env
        self.log = structlog.get_logger("proxyd.reload")
        self.last: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self._watched: frozenset[Path] = frozenset({self.path, *(f.absolute() for f in key_files)})
        self._fingerprint: Fingerprint | None = None
        self._task: asyncio.Task[None] | None = None
        self._rewatch: asyncio.Event | None = None

    async def reload(self, trigger: str) -> bool:
        """Load the file and put it in force; False when it failed (the running config stays)."""
        async with self._lock:
            fingerprint = await asyncio.to_thread(_fingerprint, self._watched)
            if trigger == "file change":
                if fingerprint == self._fingerprint:
                    return True  # the same bytes: another event of a save already loaded
                if _unfinished(fingerprint, self.path):
                    self.log.info("config_save_in_progress", config=str(self.path), note="empty or missing; waiting")
                    return True
            self._fingerprint = fingerprint
            notifier = self.app.get(NOTIFIER)
            if notifier is not None:
                notifier.reloading()
            ok = await self._load(trigger)
            if notifier is not None:
                gen = self.app[RUNTIME].current.number
                notifier.ready(f"config generation {gen} in force" + ("" if ok else " (the last reload failed)"))
            return ok

    async def _load(self, trigger: str) -> bool:
        seen: list[Path] = []
        try:
            config = await asyncio.to_thread(load_config, self.path, self.env or os.environ, seen)
        except ConfigError as exc:
            self._failed(trigger, exc.errors)
            return False
        if self.on_load is not None:
            self.on_load(config)
        self._watch_files({self.path, *(p.absolute() for p in seen)})
        config = self.adjust(config)
        if self.app[RUNTIME].exposed and not config.listen.access.tokens:
            self._failed(
                trigger,
                [
                    "listen.token: proxyd listens on a non-loopback address, so the token stays required "
                    "(or listen.tokens)"
                ],
            )
            return False
        self._apply(config, trigger)
        return True

    def _failed(self, trigger: str, errors: list[str]) -> None:
        self.app[METRICS].reloads.labels("failure").inc()
        now = time.time()
        # "since": the first failure after the last good load, so the page can say how long the
        # file has been broken (the running config is that old).
        since = self.last["since"] if self.last is not None and self.last["result"] == "failure" else now
        self.last = {"result": "failure", "trigger": trigger, "at": now, "since": since, "errors": errors}
        self.log.error(
            "config_reload_failed",
            config=str(self.path),
            trigger=trigger,
            errors=errors,
            note="the running config stays in force; fix the file and save it again",
        )

    def _apply(self, config: Config, trigger: str) -> None:
        runtime = self.app[RUNTIME]
        old = runtime.current.config
        config = self._keep_restart_only(old, config)
        gen = runtime.swap(config)
        local = self.app.get(LOCAL)
        if local is not None:
            local.sync(config)
        names = {p.name for p in config.providers}
        metrics = self.app[METRICS]
        for provider in old.providers:
            if provider.name not in names:
                metrics.forget_provider(provider.name)
        metrics.know_providers(names)
        metrics.reloads.labels("success").inc()
        metrics.last_reload.set(gen.loaded_at)
        self.last = {"result": "success", "trigger": trigger, "at": gen.loaded_at, "errors": []}
        self.log.info(
            "config_reloaded",
            config=str(self.path),
            trigger=trigger,
            generation=gen.number,
            providers=sorted(names),
            changed=sorted(_changed(old, config)),
        )
        self.app[HEALTH].wake()
        announce(config, self.log)

    def _keep_restart_only(self, old: Config, new: Config) -> Config:
        kept = {}
        for name in RESTART_ONLY:
            running = getattr(old, name)
            if name == "listen":  # the access settings apply at once
                running = dataclasses.replace(old.listen, access=new.listen.access)
            if running != getattr(new, name):
                kept[name] = running
                self.log.warning(
                    "config_restart_needed",
                    setting=name,
                    note=f"{name} cannot change while proxyd runs; the running value stays until a restart",
                )
        return dataclasses.replace(new, **kept) if kept else new

    # --- watching --------------------------------------------------------------------------------

    def start(self) -> None:
        self._fingerprint = _fingerprint(self._watched)
        if self.watch:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def _watch_files(self, files: set[Path]) -> None:
        if frozenset(files) != self._watched:
            self._watched = frozenset(files)
            if self._rewatch is not None:
                self._rewatch.set()

    async def _watch(self) -> None:
        while True:
            watched = self._watched
            dirs = sorted({str(p.parent) for p in watched if p.parent.is_dir()})
            self._rewatch = asyncio.Event()

            def wanted(_: watchfiles.Change, path: str, names: frozenset[Path] = watched) -> bool:
                return Path(path) in names

            try:
                async for _ in watchfiles.awatch(
                    *dirs, watch_filter=wanted, stop_event=self._rewatch, recursive=False, step=50
                ):
                    await self.reload("file change")
            except (OSError, RuntimeError) as exc:  # a watched directory vanished, say
                self.log.warning("config_watch_error", error_type=type(exc).__name__, note="SIGHUP still reloads")
                await asyncio.sleep(5)


def _fingerprint(files: frozenset[Path]) -> Fingerprint:
    out = []
    for path in sorted(files):
        try:
            digest: str | None = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            digest = None
        out.append((str(path), digest))
    return tuple(out)


_EMPTY = hashlib.sha256(b"").hexdigest()


def _unfinished(fingerprint: Fingerprint, config: Path) -> bool:
    digest = dict(fingerprint).get(str(config))
    return digest is None or digest == _EMPTY


def _changed(old: Config, new: Config) -> set[str]:
    """The providers, and the model groups (``group main``), that the reload changed."""
    before = {p.name: p for p in old.providers} | {f"group {g.alias}": g for g in old.groups}
    after = {p.name: p for p in new.providers} | {f"group {g.alias}": g for g in new.groups}
    return {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}


RELOADS = web.AppKey("reloads", Reloader)
NOTIFIER = web.AppKey("notifier", Notifier)


def announce(config: Config, log: Any) -> None:
    """Log what each provider's settings mean for the user (a bare URL completed, TLS off)."""
    for provider in config.providers:
        for level, message in notices(provider):
            getattr(log, level)("provider_notice", provider=provider.name, note=message)
