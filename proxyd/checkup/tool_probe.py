"""``proxyd check --tools``: the probe that needs a tool, and what its answer says (pure).

The probe offers one trivial tool (``get_weather(city)``) with a question only it can answer,
``tool_choice: auto`` as agents send it, on the provider's own wire. The answer, judged as real
traffic is (:mod:`proxyd.toolcalls`), puts the model in one of the cases a user must tell apart,
each with its fix:

- ``well``: a proper call of the tool with valid arguments;
- ``in_text``: the call came as text: the server's tool parser is off;
- ``invalid``: a call whose name or arguments are wrong;
- ``never``: no call at all (and ``capabilities.tools: false`` is offered);
- ``refused``: the server refused the tools themselves; the messages of Ollama (``does not support
  tools``), llama.cpp (``tools param requires --jinja flag``) and vLLM (``"auto" tool choice
  requires --enable-auto-tool-choice and --tool-call-parser``) each have their own fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxyd.checkup.diagnose import error_message
from proxyd.toolcalls.findings import Findings
from proxyd.toolcalls.offered import Offered, from_pivot
from proxyd.toolcalls.verdicts import SAY, fix
from proxyd.wires.registry import WIRES

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city. The only way to know today's weather.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name, e.g. Paris"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
QUESTION = "What is the weather in Paris right now? Call the get_weather tool to find out; do not guess."
# (what the server says, why, what to do): from the servers' code and their users' reports.
_REFUSALS = (
    ("does not support tools", "the server says this model does not support tools (Ollama: its template has no tools)",
     "pick a build of the model whose template supports tools, or set capabilities.tools: false for it"),
    ("requires --jinja", "llama-server was started without --jinja, so it cannot take tools",
     "restart llama-server with --jinja (and a chat template that knows tools)"),
    ("--enable-auto-tool-choice", "vLLM was started without its tool parser",
     "restart vLLM with --enable-auto-tool-choice --tool-call-parser <the model's parser: hermes, llama3_json, "
     "mistral, qwen3_coder...>"),
)  # fmt: skip
_NEVER = (
    "it answered a question only the tool could answer without calling it: if the model cannot use "
    "tools, set capabilities.tools: false for it (clients then get a clear 400, not a silent failure)"
)


@dataclass(frozen=True)
class ToolVerdict:
    verdict: str  # well, in_text, invalid, never, refused
    says: str
    fix: str | None
    seen: str | None = None  # the call as the model made it, for the report


def probe_body(wire: str, model: str) -> dict[str, Any]:
    """The probe request on ``wire``: the pivot's form through the wire's adapter."""
    pivot = {"model": model, "messages": [{"role": "user", "content": QUESTION}], "tools": [TOOL],
             "tool_choice": "auto", "max_tokens": 300, "temperature": 0}  # fmt: skip
    return WIRES[wire].from_pivot(pivot)


def offered() -> Offered:
    return from_pivot([TOOL])


def refusal(status: int, body: bytes) -> ToolVerdict | None:
    """The server refused the tools (not the key, the model or the path): why and the fix."""
    if status < 400 or status in (401, 403, 404, 429):
        return None
    said = error_message(body)
    for words, why, what in _REFUSALS:
        if words in said:
            return ToolVerdict("refused", why, what)
    if "tool" in said.lower():
        return ToolVerdict("refused", f"the server refused the tools: {said}", "see the server's message")
    return None


def answer_verdict(findings: Findings) -> ToolVerdict:
    """The case an answer's tool calls put the model in."""
    outcome = findings.outcome
    verdict = {"ok": "well", "none": "never"}.get(outcome, outcome)
    first = findings.records[0] if findings.records else None
    seen = f"{first.judged.tool}({first.judged.arguments[:120]})" if first is not None else None
    says = SAY[verdict]
    if first is not None and first.form:
        says += f" (written as {first.form})"
    elif first is not None and verdict == "invalid":
        says = f"the call was malformed: {first.judged.detail}"
    if verdict == "never":
        return ToolVerdict(verdict, "did not call the tool it was asked to call", _NEVER)
    return ToolVerdict(verdict, says, fix(verdict, first.form if first else None, 1), seen)


def set_line(provider: str, model: str, verdict: str) -> str | None:
    """The ``proxyd set`` line that acts on a verdict, when one does."""
    where = f"{provider}.models.{model}"
    if verdict in ("never", "refused"):
        return f"proxyd set {where}.capabilities.tools false"
    if verdict in ("in_text", "invalid"):
        return f"proxyd set {where}.tool_calls.repair true"
    return None
