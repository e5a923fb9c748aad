"""``proxyd init``: find what this machine has, let the user pick, write a commented config.

On a terminal it asks, provider by provider and model by model; ``--yes`` takes everything
found, for scripts. It never overwrites a config without ``--force`` (and then keeps a
backup), validates what it wrote, and says what to type next.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from proxyd.config.loader import EXAMPLE_CONFIG, find_config, load_config, user_config
from proxyd.config.settings import ConfigError
from proxyd.onboard.backup import keep_backup
from proxyd.onboard.draft import render
from proxyd.onboard.finds import Found, keys_in
from proxyd.onboard.scan import local_servers

Ask = Callable[[str], str]


def config_target(explicit: str | None, env: dict[str, str]) -> Path:
    """Where ``init`` writes: ``--config``, ``$PROXYD_CONFIG``, else the user's config path."""
    path, _ = find_config(explicit, env)
    return user_config(env) if path == EXAMPLE_CONFIG else path  # never the shipped example


def run_init(args: argparse.Namespace, ask: Ask = input) -> int:
    env = dict(os.environ)
    path = config_target(args.config, env)
    if path.exists() and not args.force:
        print(f"proxyd: {path} exists; proxyd init leaves it alone (--force replaces it and keeps a backup)",
              file=sys.stderr)  # fmt: skip
        return 2
    ports = {name: int(port) for name, _, port in (p.partition("=") for p in args.port or [])}
    found = asyncio.run(local_servers(ports=ports)) + keys_in(env)
    if not args.yes and not sys.stdin.isatty():
        _show(found)
        print("proxyd: not a terminal, so nothing was asked: pass --yes to write all of that", file=sys.stderr)
        return 2
    if args.yes:
        _show(found)  # --yes asks nothing, but says what it takes
    picked = found if args.yes else _pick(found, ask)
    _write(path, render(picked))
    try:
        load_config(path, env)
    except ConfigError as exc:  # a bug in init, never the user's: say so
        print(f"proxyd: the config init wrote does not validate: {exc}", file=sys.stderr)
        return 1
    _next_steps(path, picked)
    return 0


def _show(found: list[Found]) -> None:
    print("Found:" if found else "Found no local server and no provider key.")
    for entry in found:
        print(f"  {entry.describe()}")


def _pick(found: list[Found], ask: Ask) -> list[Found]:
    _show(found)
    picked = []
    for entry in found:
        if ask(f"Use {entry.name}? [Y/n] ").strip().lower() in ("n", "no"):
            continue
        if len(entry.models) > 1:
            for i, model in enumerate(entry.models, 1):
                print(f"    {i}. {model}")
            answer = ask("  Which models (numbers like 1,3; Enter for all)? ").strip()
            if answer:
                chosen = [entry.models[int(n) - 1] for n in answer.replace(" ", "").split(",")
                          if n.isdigit() and 0 < int(n) <= len(entry.models)]  # fmt: skip
                entry.models = chosen or entry.models
        picked.append(entry)
    return picked


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        print(f"kept the old config as {keep_backup(path)}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)  # atomic: a running proxyd reloads the whole file once


def _next_steps(path: Path, picked: list[Found]) -> None:
    model = next((f"{f.name}/{f.models[0]}" for f in picked if f.models), "ollama/llama3.2")
    print(f"wrote {path} ({len(picked)} provider{'s' if len(picked) != 1 else ''})")
    print("next:")
    print("  proxyd serve                      # API at http://127.0.0.1:8787/v1, page at http://127.0.0.1:8787/")
    print("  proxyd check                      # a one-token probe of each provider")
    print(f"  curl -sS http://127.0.0.1:8787/v1/chat/completions -H 'Content-Type: application/json' "
          f"-d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"hi\"}}]}}'")  # fmt: skip
