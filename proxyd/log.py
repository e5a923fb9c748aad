"""Logging set-up: structlog, JSON lines or readable console output, secrets redacted.

Logs go to stderr (stdout stays free for command output). ``--log-format auto`` picks console
output when stderr is a terminal and JSON lines otherwise (journald, Docker, files). Records of
the standard ``logging`` module (aiohttp's own) are routed through the same chain, so they are
formatted and redacted alike. Redaction runs after exceptions are rendered to text, so a
traceback that quotes a header is cleaned too.

Lines are written once per event-loop turn (:class:`Lines`), not one write per line: under load
each request's access line would otherwise cost a write syscall of its own. Outside a running
loop, and at exit, they are written at once.

The access line, one per request, skips the processor chain when the output is JSON
(:class:`AccessLine`): its fields are proxyd's own (numbers, fixed words, configured names)
except the model a client named, so that one value is redacted, the level and timestamp are
added as the chain would add them, and the line is encoded once. The chain costs a request
about 30 µs more (``bench/stagecost.py``), mostly in redacting fields that cannot hold a secret.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog

from proxyd import jsoncodec
from proxyd.redact import MIN_SECRET, PLAIN, redact_value

FORMATS = ("auto", "json", "console")


class Redactor:
    """A structlog processor that blanks secrets in every field of every event."""

    def __init__(self) -> None:
        self._secrets: frozenset[str] = frozenset()

    def add(self, secrets: Iterable[str]) -> None:
        """Hunt these values from now on (keys of earlier configs stay hunted: they may be echoed)."""
        self._secrets = self._secrets | {s for s in secrets if len(s) >= MIN_SECRET}

    def __call__(self, logger: Any, method: str, event: Any) -> Any:
        secrets = self._secrets
        # Most fields of a line are numbers or None: the type test saves a call per field.
        return {k: v if type(v) in PLAIN else redact_value(k, v, secrets) for k, v in event.items()}

    def value(self, key: str, value: Any) -> Any:
        """One field's value, redacted."""
        return redact_value(key, value, self._secrets)


class AccessLine:
    """Writes a request's access line as JSON, as the processor chain would render it."""

    __slots__ = ("_lines", "_redactor", "_worker")

    def __init__(self, lines: Lines, redactor: Redactor, worker: str | None) -> None:
        self._lines, self._redactor, self._worker = lines, redactor, worker

    def __call__(self, fields: dict[str, Any]) -> None:
        """``fields``: the line's, in order; every one but ``model`` is proxyd's own words and numbers."""
        model = fields.get("model")
        if model is not None:
            fields["model"] = self._redactor.value("model", model)  # a client's string
        fields["event"], fields["level"] = "request", "info"
        if self._worker is not None:
            fields["worker"] = self._worker
        fields["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self._lines.msg(jsoncodec.dumps(fields).decode())


@dataclass(frozen=True)
class Logs:
    """Logging as configured: the redactor (told of every config's secrets) and the access
    line's direct writer (``None`` when the output is not JSON or info lines are filtered)."""

    redactor: Redactor
    access_line: AccessLine | None


class Lines:
    """A structlog logger that gathers the lines of one event-loop turn into one write."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._pending: list[str] = []
        self._lock = threading.Lock()  # the reload watcher and aiohttp's resolver log from threads
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop a flush is scheduled on

    def msg(self, message: str) -> None:
        with self._lock:
            self._pending.append(message)
            if self._loop is not None and not self._loop.is_closed():
                return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._loop = loop
        loop.call_soon(self.flush)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = failure = msg

    def flush(self) -> None:
        with self._lock:
            self._loop = None
            if not self._pending:
                return
            text = "\n".join(self._pending) + "\n"
            self._pending.clear()
        try:
            self._file.write(text)
            self._file.flush()
        except (OSError, ValueError):  # stderr closed or gone: logging must not take the daemon down
            pass


def _add_worker(worker: str) -> structlog.typing.Processor:
    def add(logger: Any, method: str, event: Any) -> Any:
        event["worker"] = worker
        return event

    return add


class _ToStructlog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in someone else's log call
            message = str(record.msg)
        structlog.get_logger().log(record.levelno, message, logger=record.name, exc_info=record.exc_info)


def configure(level: str = "info", fmt: str = "auto", worker: str | None = None) -> Logs:
    """``worker``: this process's number under ``serve --workers N``, added to every line."""
    redactor = Redactor()
    lines = Lines(sys.stderr)
    atexit.register(lines.flush)
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    processors: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        *([_add_worker(worker)] if worker is not None else []),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redactor,
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) if console else structlog.processors.JSONRenderer(),
    ]
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *args: lines,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [_ToStructlog()]
    root.setLevel(max(numeric, logging.INFO))  # aiohttp's debug chatter is not ours
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # "1 change detected" for every save
    direct = not console and numeric <= logging.INFO
    return Logs(redactor, AccessLine(lines, redactor, worker) if direct else None)
