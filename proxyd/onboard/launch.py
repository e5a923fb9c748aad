"""``proxyd claude [ARGS…]`` and ``proxyd codex [ARGS…]``: start a client pointed at proxyd.

The client gets proxyd's address, its token (in the child's environment only, never printed)
and the models of proxyd's catalog for each of its roles, which this says before it starts.
When nothing answers on the configured port, ``proxyd serve`` is started in the background
first (its log beside the response store) and keeps running after the client ends, as a
service would. The client replaces this process, so its exit status is the command's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from proxyd.config.loader import find_config, load_config, state_dir
from proxyd.config.settings import ConfigError
from proxyd.onboard.setup import host_of, target_of

# client -> (program on PATH, how to install it)
PROGRAMS = {
    "claude": ("claude", "npm install -g @anthropic-ai/claude-code"),
    "codex": ("codex", "npm install -g @openai/codex"),
}
READY_S = 20.0  # how long a background proxyd serve may take to answer /readyz


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], config_help: str) -> None:
    for name, what in (("claude", "Claude Code"), ("codex", "Codex")):
        cmd = sub.add_parser(name, help=f"start {what} pointed at proxyd (starting proxyd serve if needed)")
        cmd.add_argument("--config", help=config_help)
        cmd.add_argument("args", nargs=argparse.REMAINDER, help=f"passed to {what} as they are")


def parse(argv: list[str]) -> argparse.Namespace:
    """``claude|codex [--config FILE] [--] ARGS…``: everything after proxyd's own option is the client's."""
    command, rest = argv[0], argv[1:]
    config = None
    if rest[:1] == ["--config"] and len(rest) > 1:
        config, rest = rest[1], rest[2:]
    elif rest[:1] and rest[0].startswith("--config="):
        config, rest = rest[0].split("=", 1)[1], rest[1:]
    return argparse.Namespace(command=command, config=config, args=rest)


def run(args: argparse.Namespace) -> int:
    path, _ = find_config(args.config, os.environ)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"proxyd: {path} is not valid:", *(f"  {line}" for line in exc.errors), sep="\n", file=sys.stderr)
        return 2
    program, install = PROGRAMS[args.command]
    found = shutil.which(program)
    if found is None:
        print(f"proxyd: {program} is not on PATH: install it ({install}), then run proxyd {args.command} again",
              file=sys.stderr)  # fmt: skip
        return 2
    origin = f"http://{host_of(config.listen.host)}:{config.listen.port}"
    if not _answers(origin):
        started = _start_serve(path, origin)
        if started is not None:
            print(f"proxyd: {started}", file=sys.stderr)
            return 2
    target = asyncio.run(target_of(config, None))
    token = config.listen.access.tokens[0].token if config.listen.access.tokens else None
    argv, env = (_claude if args.command == "claude" else _codex)(found, origin, target.main, target.small, token)
    roles = (
        f"main model {target.main}, small model {target.small}" if args.command == "claude" else f"model {target.main}"
    )
    print(f"proxyd: starting {program} through proxyd at {origin} ({roles})", file=sys.stderr)
    os.execve(found, [*argv, *_passed(args.args)], {**os.environ, **env})
    return 0  # not reached: the client replaced this process


def _claude(program: str, origin: str, main: str, small: str, token: str | None) -> tuple[list[str], dict[str, str]]:
    env = {"ANTHROPIC_BASE_URL": origin, "ANTHROPIC_AUTH_TOKEN": token or "proxyd", "ANTHROPIC_MODEL": main,
           "ANTHROPIC_SMALL_FAST_MODEL": small, "ANTHROPIC_DEFAULT_HAIKU_MODEL": small}  # fmt: skip
    return [program], env


def _codex(program: str, origin: str, main: str, small: str, token: str | None) -> tuple[list[str], dict[str, str]]:
    provider = f'{{name="proxyd", base_url="{origin}/v1", wire_api="responses", env_key="PROXYD_API_KEY"}}'
    argv = [
        program,
        "-c",
        'model_provider="proxyd"',
        "-c",
        f'model="{main}"',
        "-c",
        f"model_providers.proxyd={provider}",
    ]
    return argv, {"PROXYD_API_KEY": token or "proxyd"}


def _passed(args: list[str]) -> list[str]:
    return args[1:] if args[:1] == ["--"] else args


def _answers(origin: str) -> bool:
    try:
        with urllib.request.urlopen(f"{origin}/readyz", timeout=1) as resp:
            return bool(resp.status == 200)
    except (OSError, ValueError):
        return False


def _start_serve(path: Path, origin: str, env: Mapping[str, str] | None = None) -> str | None:
    """Start ``proxyd serve`` detached; None once it answers, else why it did not."""
    log = state_dir(env or os.environ) / "serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxyd", "serve", "--config", str(path), "--log-format", "json"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if _answers(origin):
            print(f"proxyd: started proxyd serve in the background (pid {proc.pid}, log {log})", file=sys.stderr)
            return None
        if proc.poll() is not None:
            return f"proxyd serve exited ({proc.returncode}) before it answered at {origin}: see {log}"
        time.sleep(0.1)
    return f"proxyd serve did not answer at {origin} within {READY_S:g} s: see {log}"
