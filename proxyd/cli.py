"""Command line: ``proxyd serve | validate | models``.

Exit codes: 0 success, 1 a runtime failure (cannot listen), 2 a config or usage error.
Nothing printed here ever includes a key: providers show where their key comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Sequence

from proxyd import __version__
from proxyd.catalog import model_objects
from proxyd.config import Config, ConfigError, Listen
from proxyd.loader import find_config, load_config

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    path, why = find_config(args.config, os.environ)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"proxyd: {path} ({why}) is not valid:", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "validate":
        _print_summary(config, f"{path} ({why})")
        return EXIT_OK
    if args.command == "models":
        for model in model_objects(config):
            print(f"{model['id']}\t{model['owned_by']}")
        return EXIT_OK
    return _serve(_with_overrides(config, args), f"{path} ({why})", args.log_level)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxyd", description="A local reverse proxy for LLM APIs.")
    parser.add_argument("--version", action="version", version=f"proxyd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = "config file (default: $PROXYD_CONFIG, ~/.config/proxyd/config.yaml, then the shipped example)"
    serve = sub.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", help=config_help)
    serve.add_argument("--host", help="listen address (overrides listen.host)")
    serve.add_argument("--port", type=int, help="listen port (overrides listen.port; 0 picks a free one)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    for name, text in (
        ("validate", "check the config and show what it configures"),
        ("models", "list model ids"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--config", help=config_help)
    return parser


def _with_overrides(config: Config, args: argparse.Namespace) -> Config:
    listen: Listen = config.listen
    if args.host:
        listen = dataclasses.replace(listen, host=args.host)
    if args.port is not None:
        listen = dataclasses.replace(listen, port=args.port)
    return dataclasses.replace(config, listen=listen)


def _serve(config: Config, source: str, log_level: str) -> int:
    from proxyd import log
    from proxyd.server import ListenError, serve

    log.configure(log_level)
    try:
        asyncio.run(serve(config, source))
    except ListenError as exc:
        print(f"proxyd: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _print_summary(config: Config, source: str) -> None:
    print(f"config ok: {source}")
    print(f"listen: http://{config.listen.host}:{config.listen.port}/v1")
    print(f"default_provider: {config.default_provider or '(none)'}")
    for p in config.providers:
        print(f"provider {p.name}: {p.base_url}  wire={p.wire}  key={p.key_source}  models={len(p.models)}")
