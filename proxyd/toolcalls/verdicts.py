"""What a model's recent answers say about its tool calling, in words (pure).

Each answer to a request that offered tools leaves one outcome (:attr:`Findings.outcome`) in its
model's window of the last :data:`WINDOW`; the verdict reads the window, so it follows a fix (a
server restarted with its tool parser) within a few requests. The four cases a user needs to
tell apart, each with what to change:

- ``well``: calls tools well;
- ``in_text``: writes its calls as text: the server's tool parser is off;
- ``invalid``: arguments often invalid (not JSON, or not what the tool's schema asks);
- ``never``: never calls tools: it may not be able to.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from proxyd.diagnosis import say
from proxyd.toolcalls.findings import Findings

WINDOW = 20
NEVER_AFTER = 5  # answers without any call before "never calls tools" is said
SHARE = 0.25  # of the answers with calls: in text, or invalid, this often is "often"
# The vLLM --tool-call-parser that reads each form a model writes its calls in.
VLLM_PARSERS = {"hermes": "hermes", "function_tag": "qwen3_coder", "mistral": "mistral", "python_tag": "llama3_json",
                "json": "llama3_json", "pythonic": "pythonic", "harmony": "openai"}  # fmt: skip
SAY = {
    "well": "calls tools well",
    "in_text": "calls in text: the server's tool parser is probably off",
    "invalid": "arguments often invalid",
    "never": "never calls tools",
    "unknown": "no tool calls judged yet",
}


@dataclass(slots=True)
class ModelTools:
    """One model's tool-calling record."""

    recent: deque[str] = field(default_factory=lambda: deque(maxlen=WINDOW))
    counts: Counter[str] = field(default_factory=Counter)  # results since start (the metric's)
    forms: Counter[str] = field(default_factory=Counter)  # the text forms its in-text calls had
    last_problem: dict[str, object] | None = None

    def add(self, findings: Findings, now: float) -> None:
        self.recent.append(findings.outcome)
        self.counts.update(r.result for r in findings.records)
        self.forms.update(r.form for r in findings.records if r.form)
        problems = findings.problems()
        if problems:
            first = problems[0].judged
            self.last_problem = {"at": now, "tool": first.tool[:80], "result": first.result, "detail": first.detail}

    def verdict(self) -> str:
        outcomes = Counter(self.recent)
        called = len(self.recent) - outcomes["none"]
        if called and outcomes["in_text"] >= max(1.0, SHARE * called):
            return "in_text"
        if called and outcomes["invalid"] >= max(1.0, SHARE * called):
            return "invalid"
        if called:
            return "well"
        return "never" if len(self.recent) >= NEVER_AFTER else "unknown"

    def report(self) -> dict[str, object]:
        verdict = self.verdict()
        form = self.forms.most_common(1)[0][0] if self.forms else None
        return {
            "verdict": verdict,
            "says": SAY[verdict],
            "fix": fix(verdict, form, len(self.recent)),
            "fix_params": {"parser": parser_for(form), "answers": len(self.recent)},  # the page's words for the fix
            "recent": dict(Counter(self.recent)),
            "calls": dict(self.counts),
            "last_problem": self.last_problem,
        }


def parser_for(form: str | None) -> str:
    return VLLM_PARSERS.get(form or "", "<the model's parser>")


# What to change, for a verdict: {parser} is vLLM's parser for the form the calls came in,
# {answers} how many answers were judged (the page says these in its reader's language too).
FIXES = {
    "in_text": "start the server with its tool parser (vLLM: --enable-auto-tool-choice --tool-call-parser {parser}; "
    "llama.cpp: --jinja; Ollama/LM Studio: a model build whose template supports tools), or let proxyd turn them "
    "into tool calls: tool_calls: {repair: true} on the provider or model",
    "invalid": "the model sends arguments that are not JSON or not what the tool's schema asks: try a larger model "
    "or a lower temperature; tool_calls: {repair: true} fixes those that are almost right",
    "never": "{answers} answers to requests with tools had no tool call: if the model cannot use tools, set "
    "capabilities.tools: false for it (clients then get a clear 400); proxyd check --tools tells more",
}


def fix(verdict: str, form: str | None, answers: int) -> str | None:
    """What to change, for a verdict (``form``: how the model wrote its calls as text)."""
    if verdict not in FIXES:
        return None
    return say(FIXES[verdict], {"parser": parser_for(form), "answers": answers})


class ToolHealth:
    """Every model's record, by provider and model (names from the config or the catalog)."""

    __slots__ = ("models",)

    def __init__(self) -> None:
        self.models: dict[tuple[str, str], ModelTools] = {}

    def add(self, provider: str, model: str, findings: Findings, now: float) -> None:
        record = self.models.get((provider, model))
        if record is None:
            record = self.models[(provider, model)] = ModelTools()
        record.add(findings, now)

    def of(self, provider: str) -> dict[str, dict[str, object]]:
        return {model: r.report() for (p, model), r in sorted(self.models.items()) if p == provider}

    def keep(self, providers: set[str]) -> None:
        """Forget the providers a reload removed."""
        self.models = {k: v for k, v in self.models.items() if k[0] in providers}
