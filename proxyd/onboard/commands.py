"""``proxyd add``, ``remove`` and ``set`` as commands: arguments in, one checked edit of the config out."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from proxyd.onboard.edit import (
    EditError,
    add_provider,
    dump,
    key_file,
    read,
    remove_provider,
    set_value,
    write_checked,
)
from proxyd.onboard.init import config_target


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], config_help: str) -> None:
    add = sub.add_parser("add", help="add a provider to the config (keeps its comments and layout)")
    add.add_argument("name")
    add.add_argument("url", help="its base URL (a pasted .../chat/completions or .../messages is fine)")
    key = add.add_mutually_exclusive_group()
    key.add_argument("--key-env", metavar="VAR", help="the key is in this environment variable")
    key.add_argument("--key-file", metavar="FILE", help="the key is in this file")
    key.add_argument("--key", choices=["-"], help="-: read the key from standard input into a 0600 file")
    add.add_argument("--wire", choices=["auto", "responses", "chat", "anthropic"])
    add.add_argument("--header", action="append", default=[], metavar="K=V", help="a header sent on every request")
    add.add_argument(
        "--model", action="append", default=[], metavar="ID", help="a model to list (the first is the default)"
    )
    remove = sub.add_parser("remove", help="take a provider out of the config")
    remove.add_argument("name")
    set_ = sub.add_parser("set", help="set one value: NAME.wire, NAME.models.ID.context_window 32768 ...")
    set_.add_argument("path", metavar="NAME.KEY")
    set_.add_argument("value", help="a YAML value: 32768, true, low, 'sandbox, free' (tags)...")
    for cmd in (add, remove, set_):
        cmd.add_argument("--config", help=config_help)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    path = config_target(args.config, env)
    try:
        doc = read(path)
        if args.command == "add":
            did = _add(args, doc, path)
        elif args.command == "remove":
            remove_provider(doc, args.name)
            did = f"removed provider {args.name}"
        else:
            set_value(doc, args.path, yaml.safe_load(args.value) if args.value.strip() else "")
            did = f"set {args.path} = {args.value}"
        warnings = write_checked(path, dump(doc), env)
    except EditError as exc:
        print(f"proxyd: {exc}", file=sys.stderr)
        return 2
    print(f"{did} in {path} (a running proxyd reloads it)")
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 0


def _add(args: argparse.Namespace, doc: object, path: Path) -> str:
    key: dict[str, str] = {}
    if args.key_env:
        key["api_key"] = f"${{{args.key_env}}}"
    elif args.key_file:
        key["api_key_file"] = args.key_file
    elif args.key == "-":
        key["api_key_file"] = key_file(path, args.name, sys.stdin.read())
    headers = {}
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise EditError(f"--header {item!r}: write it as Name=value")
        headers[name.strip()] = value
    add_provider(doc, args.name, args.url, key, args.wire, headers, args.model)
    return f"added provider {args.name}"
