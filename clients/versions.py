"""Which clients, which releases, and how each is installed and started (no I/O).

CI runs the pinned releases (:data:`PINNED`): the last one a test was written against and the
newest checked by hand, so it stays deterministic. ``python -m clients --newest`` asks npm for
today's newest instead (:mod:`clients.install`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".clients"  # git-ignored: one folder per client and release, installed once


@dataclass(frozen=True)
class Client:
    name: str  # as the matrix names it
    package: str  # on npm
    wire: str  # the only wire it speaks: proxyd's client endpoint for it

    def folder(self, version: str) -> Path:
        return CACHE / f"{self.name}-{version}"

    def program(self, version: str) -> list[str]:
        """The argv that starts this release, once installed."""
        folder = self.folder(version) / "node_modules"
        if self.name == "claude-code":
            script = folder / "@anthropic-ai" / "claude-code" / "cli.js"
            if script.exists():  # up to 2.1.112: plain JavaScript on Node
                return ["node", str(script)]
            return [str(folder / "@anthropic-ai" / "claude-code" / "bin" / "claude.exe")]  # a native binary
        if self.name == "gemini-cli":
            return [str(folder / ".bin" / "gemini")]
        return [str(folder / ".bin" / "codex")]


CLAUDE_CODE = Client("claude-code", "@anthropic-ai/claude-code", "anthropic")
CODEX = Client("codex", "@openai/codex", "responses")
GEMINI_CLI = Client("gemini-cli", "@google/gemini-cli", "gemini")
CLIENTS = {c.name: c for c in (CLAUDE_CODE, CODEX, GEMINI_CLI)}
PINNED: dict[str, tuple[str, ...]] = {
    "claude-code": ("2.1.112", "2.1.332"),  # the last pure-JavaScript release, the newest native one
    "codex": ("0.169.0", "0.171.0"),
    "gemini-cli": ("0.61.0",),
}
PROVIDER_WIRES = ("chat", "responses", "anthropic", "gemini")
