"""What a tool probe's answer says: the server refusals from trackers, and the four cases."""

from __future__ import annotations

import json

import pytest

from proxyd.checkup.tool_probe import QUESTION, TOOL, answer_verdict, probe_body, refusal, set_line
from proxyd.toolcalls.findings import Findings, Record
from proxyd.toolcalls.judge import Judged

OLLAMA = {
    "error": {
        "message": "registry.ollama.ai/library/gemma3:4b does not support tools",
        "type": "api_error",
        "param": None,
        "code": None,
    }
}  # fmt: skip  (louisho5/picobot#6)
LLAMA_CPP = {
    "error": {"code": 500, "message": "tools param requires --jinja flag", "type": "server_error"}
}  # ramalama#988
VLLM = {
    "object": "error",
    "message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}  # fmt: skip  (langchain4j#3475)


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (400, OLLAMA, "does not support tools"),
        (500, LLAMA_CPP, "--jinja"),
        (400, VLLM, "--enable-auto-tool-choice"),
        (400, {"error": {"message": "tool_choice is not supported"}}, "see the server's message"),
    ],
)
def test_refusals(status: int, body: dict[str, object], words: str) -> None:
    verdict = refusal(status, json.dumps(body).encode())
    assert verdict is not None and verdict.verdict == "refused"
    assert words in verdict.says + str(verdict.fix)


@pytest.mark.parametrize("status", [401, 403, 404, 429, 200])
def test_not_refusals(status: int) -> None:
    assert refusal(status, json.dumps(OLLAMA).encode()) is None


def test_other_errors_are_not_about_tools() -> None:
    assert refusal(500, b'{"error": {"message": "CUDA out of memory"}}') is None


def record(result: str, form: str | None = None) -> Record:
    return Record(Judged(result, "get_weather", '{"city": "Paris"}', None if result == "ok" else "why"), form=form)


@pytest.mark.parametrize(
    ("records", "verdict", "fix_has"),
    [
        ((record("ok"),), "well", None),
        ((record("in_text", "hermes"),), "in_text", "--tool-call-parser hermes"),
        ((record("invalid_json"),), "invalid", "repair"),
        ((), "never", "capabilities.tools: false"),
    ],
)
def test_answer_verdicts(records: tuple[Record, ...], verdict: str, fix_has: str | None) -> None:
    found = answer_verdict(Findings(records))
    assert found.verdict == verdict
    assert (found.fix is None) == (fix_has is None) and (fix_has is None or fix_has in str(found.fix))


def test_set_lines() -> None:
    assert set_line("ollama", "gemma3:4b", "never") == "proxyd set ollama.models.gemma3:4b.capabilities.tools false"
    assert set_line("vllm", "qwen", "in_text") == "proxyd set vllm.models.qwen.tool_calls.repair true"
    assert set_line("vllm", "qwen", "well") is None


@pytest.mark.parametrize("wire", ["chat", "responses", "anthropic"])
def test_the_probe_on_each_wire_offers_the_tool_and_asks_for_it(wire: str) -> None:
    body = probe_body(wire, "m")
    assert body["model"] == "m" and QUESTION in json.dumps(body)
    assert TOOL["function"]["name"] in json.dumps(body["tools"])  # type: ignore[index]
