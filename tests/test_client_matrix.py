"""Every pinned release of every client (Claude Code's last JavaScript release and its newest
native one, two Codex releases) does a tool-using task through a real ``proxyd serve`` to a
provider of every wire: the matrix of ``python -m clients`` (docs/compatibility.md), in CI.

Claude Code 2.1.328 and later failed here through a chat or Responses provider: proxyd refused
the system message it sends inside ``messages``, which the real API takes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clients import matrix as matrix_module
from clients.install import CannotInstall, installed
from clients.matrix import render, write_doc
from clients.run import Outcome, run_one
from clients.versions import CLIENTS, PINNED, PROVIDER_WIRES

RELEASES = [(client, version) for client, versions in PINNED.items() for version in versions]


@pytest.mark.parametrize("wire", PROVIDER_WIRES)
@pytest.mark.parametrize(("client", "version"), RELEASES, ids=[f"{c}-{v}" for c, v in RELEASES])
async def test_a_release_does_a_tool_task_through_each_wire(
    client: str, version: str, wire: str, tmp_path: Path
) -> None:
    try:
        program = await asyncio.to_thread(installed, CLIENTS[client], version)
    except CannotInstall as exc:
        pytest.skip(f"{client} {version} cannot be installed here: {exc}")
    outcome = await run_one(client, version, wire, program, tmp_path)
    assert outcome.ok, outcome.detail


def test_the_matrix_names_each_failure_under_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = [Outcome("codex", "9.9.9", "chat", True, "", 1.0),
                Outcome("codex", "9.9.9", "anthropic", False, "exit 1: API Error: 400 ...", 2.0)]  # fmt: skip
    table = render(outcomes, ("chat", "anthropic"), "2026-12-06", "python -m clients --newest")
    assert "| codex | 9.9.9 | pass (1 s) | **fail** (2 s) |" in table
    assert "- codex 9.9.9 → anthropic: exit 1: API Error: 400 ..." in table
    doc = tmp_path / "compatibility.md"
    doc.write_text("# x\n\n<!-- matrix:begin -->\nold\n<!-- matrix:end -->\n\nafter\n")
    monkeypatch.setattr(matrix_module, "DOC", doc)
    write_doc(table)
    assert doc.read_text() == f"# x\n\n<!-- matrix:begin -->\n{table}<!-- matrix:end -->\n\nafter\n"
