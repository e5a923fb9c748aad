"""Local servers proxyd runs (pure): a provider's ``command``, ``ready``, ``idle_unload_s`` and
``memory``, and the top-level ``local`` section that caps what runs at once."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

from proxyd.config.keys import CTRL_RE, Env, expand_env
from proxyd.config.settings import LocalLimits, LocalServer
from proxyd.config.yaml_fields import Errors, check_keys, integer, number, section

LOCAL_KEYS = ("command", "ready", "idle_unload_s", "memory")
_COMMAND_KEYS = {"argv", "env", "cwd"}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_EXAMPLE = "e.g. command: [llama-server, -m, /models/qwen.gguf, --port, '8081']"


def parse_local_server(doc: dict[str, Any], base_url: str, path: str, env: Env, errs: Errors) -> LocalServer | None:
    """A provider's server that proxyd runs, from its ``command`` (None: none); the keys that go
    with it (``ready``, ``idle_unload_s``, ``memory``) are refused without one."""
    raw = doc.get("command")
    if raw is None:
        for key in LOCAL_KEYS[1:]:
            if key in doc:
                errs.add(f"{path}.{key}", "applies to a server proxyd starts: add a command (the server's argv)")
        return None
    argv, env_pairs, cwd = _command(raw, f"{path}.command", env, errs)
    host = urlsplit(base_url).hostname if base_url else None
    if host is not None and host not in _LOOPBACK:
        errs.add(f"{path}.base_url", f"is {host}, and proxyd starts this provider's server on this machine: "
                                     "point base_url at 127.0.0.1 and the port the command listens on")  # fmt: skip
    ready = section(doc.get("ready"), f"{path}.ready", errs)
    check_keys(ready, {"path", "timeout_s"}, f"{path}.ready", errs)
    ready_path = ready.get("path")
    if ready_path is not None and (not isinstance(ready_path, str) or not ready_path.startswith("/")):
        errs.add(f"{path}.ready.path", "must be a path on the server, e.g. /health (llama.cpp) or /v1/models")
        ready_path = None
    idle = doc.get("idle_unload_s")
    if idle is not None and (isinstance(idle, bool) or not isinstance(idle, int | float) or idle <= 0):
        errs.add(f"{path}.idle_unload_s", "must be a number of seconds above 0 (leave it out to keep it running)")
        idle = None
    memory = size(doc.get("memory"), f"{path}.memory", errs) or 0
    if not argv:
        return None
    return LocalServer(
        argv=argv,
        env=env_pairs,
        cwd=cwd,
        ready_path=ready_path,
        start_timeout_s=number(ready, "timeout_s", LocalServer.start_timeout_s, f"{path}.ready", errs, lo=0.1),
        idle_unload_s=float(idle) if idle is not None else None,
        memory=memory,
    )


Command = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str | None]


def _command(raw: object, path: str, env: Env, errs: Errors) -> Command:
    """argv (a list, or a string split as a shell would, with no shell run), env and cwd."""
    doc: dict[str, Any] = {"argv": raw}
    if isinstance(raw, dict):
        doc = raw
        check_keys(doc, _COMMAND_KEYS, path, errs)
        path = f"{path}.argv"
    argv_raw = doc.get("argv")
    if isinstance(argv_raw, str):
        try:
            argv_raw = shlex.split(argv_raw)
        except ValueError as exc:
            errs.add(path, f"cannot be split into words ({exc}): write it as a list, {_EXAMPLE}")
            return (), (), None
    if not isinstance(argv_raw, list) or not argv_raw or not all(isinstance(a, str | int | float) for a in argv_raw):
        errs.add(path, f"must be the server's argv, a list of words, {_EXAMPLE}")
        return (), (), None
    argv = tuple(_expanded(str(a), f"{path}[{i}]", env, errs) for i, a in enumerate(argv_raw))
    base = path.removesuffix(".argv")
    env_doc = section(doc.get("env"), f"{base}.env", errs)
    pairs = tuple((str(k), _expanded(str(v), f"{base}.env.{k}", env, errs)) for k, v in env_doc.items())
    cwd = doc.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not cwd):
        errs.add(f"{base}.cwd", "must be a folder path")
        cwd = None
    return argv, pairs, cwd


def _expanded(value: str, path: str, env: Env, errs: Errors) -> str:
    text, missing = expand_env(value, env)
    for var in missing:
        errs.add(path, f"environment variable {var} is not set")
    if CTRL_RE.search(text):
        errs.add(path, "contains a line break or control character")
    return text


def size(raw: object, path: str, errs: Errors) -> int | None:
    """A memory size: ``6GiB``, ``512MB``, ``4G`` (binary units), or a bare number of GiB."""
    if raw is None:
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return int(raw * _UNITS["G"])
    match = _SIZE_RE.match(raw) if isinstance(raw, str) else None
    if match is None or float(match.group(1)) <= 0:
        errs.add(path, f"must be a size such as 6GiB or 512MiB (a bare number is GiB), got {raw!r}")
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def parse_local(raw: object, errs: Errors) -> LocalLimits:
    doc = section(raw, "local", errs)
    check_keys(doc, {"max_running", "memory"}, "local", errs)
    running = integer(doc, "max_running", 0, "local", errs, lo=1, hi=1000) if "max_running" in doc else None
    return LocalLimits(max_running=running, memory=size(doc.get("memory"), "local.memory", errs))
