"""``python -m clients``: each client release through proxyd to a provider of each wire.

    .venv/bin/python -m clients                      # the pinned releases (what CI runs)
    .venv/bin/python -m clients --newest             # today's newest of each, from npm
    .venv/bin/python -m clients --newest --write     # and put the matrix in docs/compatibility.md
    .venv/bin/python -m clients --capture            # record what each pinned release sends (clients.capture)

Each cell is a tool-using task (:mod:`clients.run`): the client runs ``echo`` because the
provider asked, sends the output back, and ends with the provider's answer. The releases are
installed once into ``.clients/`` (git-ignored). Exit status 1 when a cell failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import re
import sys
import tempfile
from pathlib import Path

from clients.install import CannotInstall, installed, newest
from clients.run import Outcome, run_one
from clients.versions import CLIENTS, PINNED, PROVIDER_WIRES, ROOT

DOC = ROOT / "docs" / "compatibility.md"
_BEGIN, _END = "<!-- matrix:begin -->", "<!-- matrix:end -->"


async def matrix(releases: list[tuple[str, str]], wires: tuple[str, ...]) -> list[Outcome]:
    outcomes = []
    for client, version in releases:
        try:
            program = await asyncio.to_thread(installed, CLIENTS[client], version)
        except CannotInstall as exc:
            outcomes += [Outcome(client, version, wire, False, str(exc), 0.0) for wire in wires]
            continue
        for wire in wires:
            with tempfile.TemporaryDirectory(prefix="proxyd-clients-") as tmp:
                outcomes.append(await run_one(client, version, wire, program, Path(tmp)))
    return outcomes


def render(outcomes: list[Outcome], wires: tuple[str, ...], when: str, how: str = "python -m clients") -> str:
    """The matrix as a Markdown table, and the failures' details under it."""
    head = f"| client | release | {' | '.join(f'{w} provider' for w in wires)} |"
    lines = [f"Run {when} with `{how}`.", "", head, "|" + " --- |" * (len(wires) + 2)]
    by_release: dict[tuple[str, str], dict[str, Outcome]] = {}
    for o in outcomes:
        by_release.setdefault((o.client, o.version), {})[o.wire] = o
    for (client, version), cells in by_release.items():
        marks = [("pass" if cells[w].ok else "**fail**") + f" ({cells[w].seconds:g} s)" if w in cells else "-"
                 for w in wires]  # fmt: skip
        lines.append(f"| {client} | {version} | {' | '.join(marks)} |")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        lines += ["", *(f"- {o.client} {o.version} → {o.wire}: {o.detail}" for o in failed)]
    return "\n".join(lines) + "\n"


def write_doc(table: str) -> None:
    text = DOC.read_text()
    pattern = re.compile(re.escape(_BEGIN) + ".*?" + re.escape(_END), re.DOTALL)
    DOC.write_text(pattern.sub(lambda _: f"{_BEGIN}\n{table}{_END}", text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--newest", action="store_true", help="today's newest release of each client, from npm")
    parser.add_argument("--client", choices=sorted(CLIENTS), action="append", help="only this client (repeatable)")
    parser.add_argument("--wire", choices=PROVIDER_WIRES, action="append", help="only this provider wire")
    parser.add_argument("--write", action="store_true", help=f"put the matrix into {DOC.relative_to(ROOT)}")
    parser.add_argument("--capture", action="store_true", help="record each pinned release's requests instead")
    args = parser.parse_args(argv)
    names = args.client or sorted(CLIENTS)
    if args.capture:
        from clients.capture import capture_all

        return asyncio.run(capture_all(names))
    try:
        releases = (
            [(n, newest(CLIENTS[n])) for n in names] if args.newest else [(n, v) for n in names for v in PINNED[n]]
        )
    except CannotInstall as exc:
        parser.error(str(exc))
    wires = tuple(args.wire or PROVIDER_WIRES)
    outcomes = asyncio.run(matrix(releases, wires))
    how = "python -m clients" + (" --newest" if args.newest else "")
    table = render(outcomes, wires, datetime.date.today().isoformat(), how)
    print(table)
    if args.write:
        write_doc(table)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
