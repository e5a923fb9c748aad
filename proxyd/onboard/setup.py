"""``proxyd setup CLIENT``: what a client needs to use proxyd, printed or merged into its config.

Model names come from the running proxyd's ``GET /v1/models`` (its live catalog), else from
the config. ``--write`` merges the snippet into the client's own file after a backup, keeping
what else the file holds (TOML and YAML with their comments); a JSON file with comments (JSONC)
is left alone, with the snippet to paste.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp

from proxyd.config.keys import shell_reference
from proxyd.config.loader import find_config, load_config
from proxyd.config.settings import Config, ConfigError
from proxyd.onboard.backup import keep_backup
from proxyd.onboard.clients import CLIENTS, Snippet, Target, snippet

_ID_KEYS = ("model_id", "name", "model")  # what tells two list entries apart when merging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], config_help: str) -> None:
    setup = sub.add_parser("setup", help="print (or --write) what a client needs to use proxyd")
    setup.add_argument("client", choices=CLIENTS)
    setup.add_argument("--write", action="store_true", help="merge it into the client's config file (a backup is kept)")
    setup.add_argument("--model", help="the main model (default: the catalog's first alias or model)")
    setup.add_argument("--home", help=argparse.SUPPRESS)  # tests: another home directory
    setup.add_argument("--config", help=config_help)


def run(args: argparse.Namespace) -> int:
    path, _ = find_config(args.config, os.environ)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"proxyd: {path} is not valid: {exc}", file=sys.stderr)
        return 2
    target = asyncio.run(target_of(config, args.model))
    piece = snippet(args.client, target)
    print(piece.text, end="")
    for line in piece.exports:  # what the client reads from its environment: in your shell's profile too
        print(f"# and in the shell that starts {args.client}:\n{line}")
    if not args.write:
        return 0
    if piece.path is None:
        print(f"proxyd: {args.client} keeps no config file proxyd can write; use the lines above", file=sys.stderr)
        return 2
    home = Path(args.home or os.environ.get("HOME", "~")).expanduser()
    try:
        written = write(home / piece.path, piece)
    except ValueError as exc:
        print(f"proxyd: {exc}", file=sys.stderr)
        return 2
    print(f"merged into {written}")
    return 0


async def target_of(config: Config, main: str | None) -> Target:
    """proxyd's address, and the models of its live catalog (else the config's) for a client's roles."""
    origin = f"http://{host_of(config.listen.host)}:{config.listen.port}"
    tokens = config.listen.access.tokens  # listen.token first, else the first named client's
    listed = await _catalog(origin, tokens[0].token if tokens else None) or _configured(config)
    aliases = [m for m in listed if "/" not in m]
    chosen = main or (aliases or listed or ["default"])[0]
    small = next((m for m in listed if any(w in m for w in ("haiku", "small", "fast", "mini"))), chosen)
    return Target(origin, chosen, small, tuple(listed or [chosen]), token_hint(config))


def token_hint(config: Config) -> str | None:
    """How a shell reads the token a client should send (the first one), never the token."""
    tokens = config.listen.access.tokens
    if not tokens:
        return None
    return shell_reference(tokens[0].source) or "<the token of listen.token in your proxyd config>"


def host_of(host: str) -> str:
    """How a client on this machine reaches proxyd listening on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host


async def _catalog(origin: str, token: str | None) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with (
            asyncio.timeout(3),
            aiohttp.ClientSession() as session,
            session.get(f"{origin}/v1/models", headers=headers) as resp,
        ):
            data = (await resp.json())["data"] if resp.status == 200 else []
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError):
        return []
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]


def _configured(config: Config) -> list[str]:
    out: list[str] = []
    for p in config.providers:
        out += [m.alias for m in p.models if m.alias and "*" not in m.alias and "?" not in m.alias]
        out += [f"{p.name}/{m.id}" for m in p.models]
    return out


def write(path: Path, piece: Snippet) -> Path:
    """Merge ``piece`` into the client's file at ``path``, keeping a backup of what was there."""
    original = path.read_text(encoding="utf-8") if path.exists() else ""
    merged = _merge_text(original, piece)
    path.parent.mkdir(parents=True, exist_ok=True)
    if original:
        keep_backup(path)
    path.write_text(merged, encoding="utf-8")
    return path


def _merge_text(original: str, piece: Snippet) -> str:
    if piece.format == "toml":
        import tomlkit

        doc = tomlkit.parse(original) if original.strip() else tomlkit.document()
        _deep_merge(doc, piece.merge)
        return tomlkit.dumps(doc)
    if piece.format == "json":
        try:
            doc = json.loads(original) if original.strip() else {}
        except ValueError:
            raise ValueError(f"{piece.path} is not plain JSON (comments?): paste the lines above by hand") from None
        _deep_merge(doc, piece.merge)
        return json.dumps(doc, indent=2) + "\n"
    from ruamel.yaml import YAML

    yaml = YAML()
    loaded: Any = yaml.load(original) if original.strip() else None
    if piece.client == "llm":  # a top-level list of models
        loaded = _merge_list(loaded if isinstance(loaded, list) else [], piece.merge["models"])
    else:
        loaded = loaded if isinstance(loaded, dict) else {}
        _deep_merge(loaded, piece.merge)
    out = io.StringIO()
    yaml.dump(loaded, out)
    return out.getvalue()


def _deep_merge(dst: Any, src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _deep_merge(dst[key], value)
        elif isinstance(value, list) and isinstance(dst.get(key), list):
            dst[key] = _merge_list(dst[key], value)
        else:
            dst[key] = value


def _merge_list(dst: list[Any], src: list[Any]) -> list[Any]:
    """Entries of ``src`` replace those of ``dst`` with the same id; the others stay. In place,
    so a round-trip list keeps its comments."""

    def ident(item: Any) -> Any:
        return next((item.get(k) for k in _ID_KEYS if isinstance(item, dict) and item.get(k)), json.dumps(item))

    incoming = {ident(item) for item in src}
    for i in reversed(range(len(dst))):
        if ident(dst[i]) in incoming:
            del dst[i]
    dst.extend(src)
    return dst
