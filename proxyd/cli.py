"""Command line: ``proxyd serve | validate | check | models | usage | init | add | remove | set | setup``,
and ``proxyd claude | codex``.

Exit codes: 0 success, 1 a runtime failure (cannot listen; a provider failed ``check``), 2 a
config or usage error. Nothing printed here ever includes a key: providers show where their
key comes from, and ``check``'s curl commands name it as the shell gets it (``$OPENROUTER_API_KEY``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proxyd import __version__
from proxyd.config.loader import find_config, load_config, readable_secrets
from proxyd.config.providers import notices
from proxyd.config.settings import Config, ConfigError, Listen, ModelEntry, Provider
from proxyd.listing import merged
from proxyd.store.where import shown

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] in (["claude"], ["codex"]) and not {"-h", "--help"} & set(given[1:2]):
        from proxyd.onboard import launch  # the client's own options follow, and argparse would take them

        return launch.run(launch.parse(given))
    args = _parser().parse_args(given)
    if args.command == "init":  # writes a config: needs none to start from
        from proxyd.onboard.init import run_init

        return run_init(args)
    if args.command == "setup":
        from proxyd.onboard import setup

        return setup.run(args)
    if args.command in ("add", "remove", "set"):  # edits the config as text, checked before writing
        from proxyd.onboard import commands

        return commands.run(args)
    path, why = find_config(args.config, os.environ)
    key_files: list[Path] = []
    try:
        config = load_config(path, seen=key_files)
    except ConfigError as exc:
        print(f"proxyd: {path} ({why}) is not valid:", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return EXIT_CONFIG
    groups = {g.alias for g in config.groups} if args.command == "check" else set()
    unknown = [n for n in getattr(args, "providers", []) if config.provider(n) is None and n not in groups]
    if unknown:
        names = ", ".join([p.name for p in config.providers] + sorted(groups))
        print(f"proxyd: no provider named {', '.join(unknown)} (configured: {names})", file=sys.stderr)
        return EXIT_CONFIG
    loose = readable_secrets(path, config)
    if args.command == "validate":
        _print_summary(config, f"{path} ({why})")
        if loose:
            print(f"warning: {loose}", file=sys.stderr)
        disabled = [(p.name, p.disabled) for p in config.providers if p.disabled]
        for name, unused in disabled:  # the rest works; --strict makes any of these a failure (CI, deploys)
            print(f"warning: provider {name} is not in use: {unused.text}", file=sys.stderr)
        return EXIT_CONFIG if disabled and args.strict else EXIT_OK
    if args.command == "models":
        return _models(config, args)
    if args.command == "check":
        return _check(config, args)
    if args.command == "usage":
        from proxyd.spend import command

        return command.run(config, args)
    return _serve(config, args, path, f"{path} ({why})", tuple(key_files), loose)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxyd", description="A local reverse proxy for LLM APIs.")
    parser.add_argument("--version", action="version", version=f"proxyd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = "config file (default: $PROXYD_CONFIG, ~/.config/proxyd/config.yaml, then the shipped example)"
    serve = sub.add_parser("serve", help="run the proxy")
    serve.add_argument("--host", help="listen address (overrides listen.host)")
    serve.add_argument("--port", type=int, help="listen port (overrides listen.port; 0 picks a free one)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--log-format", default="auto", choices=["auto", "json", "console"], help="auto: console on a terminal"
    )
    serve.add_argument("--no-watch", action="store_true", help="do not watch the config file (SIGHUP still reloads)")
    serve.add_argument(
        "--workers", type=_workers, default=1, help="serving processes on one port, for more cores (default 1)"
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set for each worker
    validate = sub.add_parser("validate", help="check the config and show what it configures")
    validate.add_argument(
        "--strict", action="store_true", help="fail (exit 2) when a provider is not in use, e.g. its key is not set"
    )
    check = sub.add_parser("check", help="send each provider a 1-token probe and explain failures")
    check.add_argument("providers", nargs="*", metavar="NAME", help="only these providers or model groups")
    check.add_argument("--json", action="store_true", help="print JSON for scripts")
    check.add_argument(
        "--tools", action="store_true", help="ask each model to call a tool: does it call tools well, in text, or not?"
    )
    check.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer (default 30)")
    models = sub.add_parser("models", help="list each provider's models (configured and discovered)")
    models.add_argument("providers", nargs="*", metavar="PROVIDER", help="only these providers")
    models.add_argument("--offline", action="store_true", help="configured models only; do not ask the providers")
    models.add_argument("--json", action="store_true", help="print JSON for scripts")
    models.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each GET /models")
    init = sub.add_parser("init", help="find local servers and provider keys, and write a config for them")
    init.add_argument("--yes", action="store_true", help="take everything found, asking nothing (for scripts)")
    init.add_argument("--force", action="store_true", help="replace an existing config (a backup is kept)")
    init.add_argument("--port", action="append", metavar="SERVER=PORT", help=argparse.SUPPRESS)  # tests: free ports
    for cmd in (serve, validate, check, models, init):
        cmd.add_argument("--config", help=config_help)
    from proxyd.onboard import commands, launch, setup
    from proxyd.spend import command as usage

    usage.register(sub, config_help)
    commands.register(sub, config_help)
    setup.register(sub, config_help)
    launch.register(sub, config_help)
    return parser


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers from 1 to 64")
    return int(text)


def _with_overrides(config: Config, args: argparse.Namespace) -> Config:
    listen: Listen = config.listen
    if args.host:
        listen = dataclasses.replace(listen, host=args.host)
    if args.port is not None:
        listen = dataclasses.replace(listen, port=args.port)
    return dataclasses.replace(config, listen=listen)


def _serve(
    config: Config, args: argparse.Namespace, path: Path, source: str, key_files: tuple[Path, ...], loose: str | None
) -> int:
    import structlog

    from proxyd import log
    from proxyd.redact import secrets_of
    from proxyd.server import ExposureError, ListenError, ReloadFrom, Worker, serve
    from proxyd.store.sqlite import StoreError

    logs = log.configure(args.log_level, args.log_format, os.environ.get("PROXYD_WORKER") if args.reuse_port else None)
    redactor = logs.redactor
    redactor.add(secrets_of(config))
    if loose and not args.reuse_port:  # a worker's supervisor has said it
        structlog.get_logger("proxyd").warning("config_readable_secrets", note=loose)
    if args.workers > 1:
        local = [p.name for p in config.providers if p.local is not None]
        if local:  # each worker would start its own copy of each server, on the one port it names
            print(f"proxyd: providers {', '.join(local)} have a command: the local servers proxyd runs need one "
                  "process to run them; drop --workers, or start those servers yourself", file=sys.stderr)  # fmt: skip
            return EXIT_CONFIG
        return _supervise(config, args, path)
    reload_from = ReloadFrom(
        path=path,
        adjust=lambda c: _with_overrides(c, args),
        watch=not args.no_watch,
        key_files=key_files,
        on_load=lambda c: redactor.add(secrets_of(c)),
    )
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    worker = Worker(metrics_dir) if args.reuse_port and metrics_dir else None
    try:
        asyncio.run(serve(_with_overrides(config, args), source, reload_from, worker, logs.access_line))
    except ExposureError as exc:
        print(f"proxyd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (ListenError, StoreError) as exc:
        print(f"proxyd: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _supervise(config: Config, args: argparse.Namespace, path: Path) -> int:
    from proxyd.workers import Supervisor, WorkersError

    command = [sys.executable, "-m", "proxyd", "serve", "--config", str(path)]
    command += ["--log-level", args.log_level, "--log-format", args.log_format]
    command += ["--host", args.host] if args.host else []
    command += ["--no-watch"] if args.no_watch else []
    supervisor = Supervisor(args.workers, command, _with_overrides(config, args).listen)
    try:
        return asyncio.run(supervisor.run())
    except WorkersError as exc:
        print(f"proxyd: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return EXIT_OK


def _check(config: Config, args: argparse.Namespace) -> int:
    from proxyd.checkup.run import check_providers
    from proxyd.checkup.tool_run import check_tools

    check = check_tools if args.tools else check_providers
    verdicts = asyncio.run(check(config, args.providers, args.timeout))
    if args.json:
        print(json.dumps([dataclasses.asdict(v) for v in verdicts], indent=2))
    else:
        width = max((len(v.provider) for v in verdicts), default=8)
        for v in verdicts:
            latency = f"{v.latency_ms:8.1f} ms" if v.latency_ms is not None else " " * 11
            head = f"{v.provider:<{width}}  {'OK  ' if v.ok else 'FAIL'}  {latency}  {v.wire or '-'}  {v.model or '-'}"
            print(head)
            for note in v.notes:
                print(f"    note:  {note}")
            if not v.ok:
                print(f"    cause: {v.cause}")
                print(f"    fix:   {v.fix}")
            if v.set:
                print(f"    set:   {v.set}")
            if v.curl:
                print(f"    curl:  {v.curl}")
    return EXIT_OK if verdicts and all(v.ok for v in verdicts) else EXIT_RUNTIME


def _models(config: Config, args: argparse.Namespace) -> int:
    discovered: dict[str, tuple[ModelEntry, ...] | None] = {}
    if not args.offline:
        from proxyd.checkup.run import discover

        discovered = asyncio.run(discover(config, args.providers, args.timeout))
    rows: list[dict[str, Any]] = []
    for p in config.providers:
        if args.providers and p.name not in args.providers:
            continue
        listed = {m.id: m for m in discovered.get(p.name) or ()}
        rows += [_model_row(p.name, merged(m, listed.get(m.id)), "config") for m in p.models]
        configured = {m.id for m in p.models}
        rows += [_model_row(p.name, m, "discovered") for i, m in listed.items() if i not in configured]
        if not args.offline and discovered.get(p.name) is None:
            print(f"proxyd: {p.name}: GET /models gave no list (see proxyd check {p.name})", file=sys.stderr)
    _print_models(rows, args.json)
    return EXIT_OK


def _model_row(provider: str, entry: ModelEntry, source: str) -> dict[str, Any]:
    return {
        "provider": provider,
        "id": f"{provider}/{entry.id}",
        "alias": entry.alias,
        "source": source,
        "context_window": entry.context_window,
        "max_output_tokens": entry.max_output_tokens,
        "capabilities": dict(entry.capabilities),
        "tags": list(entry.tags),
    }


def _print_models(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        caps = ",".join(k if v else f"no-{k}" for k, v in row["capabilities"].items()) or "-"
        window = row["context_window"] or "-"
        tags = ",".join(row["tags"]) or "-"
        alias = f" (alias {row['alias']})" if row["alias"] else ""
        print(f"{row['id']}{alias}\t{row['source']}\tcontext={window}\tcaps={caps}\ttags={tags}")


def _print_summary(config: Config, source: str) -> None:
    print(f"config ok: {source}")
    access = config.listen.access
    print(f"listen: http://{config.listen.host}:{config.listen.port}/v1  token={access.token_source}")
    if access.clients:
        print("clients: " + ", ".join(f"{e.client.name} ({e.source})" for e in access.clients))
    if config.store.url:
        print(f"store: {shown(config.store.url)} ({config.store.url_source}), shared")
    if access.allowed_hosts or access.allowed_origins:
        hosts, origins = ", ".join(access.allowed_hosts) or "-", ", ".join(access.allowed_origins) or "-"
        print(f"allowed hosts: {hosts}  origins: {origins}")
    print(f"default_provider: {config.default_provider or '(none)'}")
    for p in config.providers:
        print(f"provider {p.name}: {p.base_url}  wire={p.wire}  key={p.key_source}  models={len(p.models)}")
        print(f"  {_detected(p)}")
        if p.local is not None:  # the program only: its arguments may hold a key
            idle = f", stopped after {p.local.idle_unload_s:g} s idle" if p.local.idle_unload_s else ""
            print(f"  local server: {Path(p.local.argv[0]).name}, started on the first request{idle}")
        for level, message in notices(p):
            print(f"  {level}: {message}")


def _detected(p: Provider) -> str:
    c = p.compat
    service = f"detected {p.service}" if p.service else "no known service detected"
    return (
        f"{service}: auth={p.auth} developer_role={c.developer_role} content={c.content} "
        f"max_tokens_field={c.max_tokens_field} reasoning={c.reasoning}"
        + (f" tls_ca={p.tls.ca_file}" if p.tls.ca_file else "")
        + ("" if p.tls.verify else " tls_verify=false")
    )
