"""A model's recent tool calling, in the four words a user needs, with the fix."""

from __future__ import annotations

import pytest

from proxyd.toolcalls.findings import Findings, Record
from proxyd.toolcalls.judge import Judged
from proxyd.toolcalls.verdicts import NEVER_AFTER, WINDOW, ModelTools, ToolHealth


def answer(*results: str, form: str | None = None, repaired: bool = False) -> Findings:
    return Findings(tuple(Record(Judged(r, "get_weather", "{}", None if r == "ok" else "bad"), repaired,
                                 form if r == "in_text" else None) for r in results))  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "verdict"),
    [
        ([], "unknown"),
        ([answer()] * (NEVER_AFTER - 1), "unknown"),
        ([answer()] * NEVER_AFTER, "never"),
        ([answer("ok")], "well"),
        ([answer("ok")] * 10 + [answer()] * 10, "well"),  # answering without a call is often right
        ([answer("in_text", form="hermes")], "in_text"),
        ([answer("ok")] * 3 + [answer("in_text")], "in_text"),
        ([answer("ok")] * 9 + [answer("invalid_json")], "well"),
        ([answer("ok")] * 3 + [answer("schema_mismatch")], "invalid"),
        ([answer("ok", "unknown_tool")] * 2, "invalid"),
        ([answer("in_text")] * 5 + [answer("ok")] * WINDOW, "well"),  # fixed: the window forgets
    ],
)
def test_verdicts(answers: list[Findings], verdict: str) -> None:
    record = ModelTools()
    for findings in answers:
        record.add(findings, 0.0)
    assert record.verdict() == verdict


def test_report_says_the_fix_with_the_parser_for_the_form_seen() -> None:
    record = ModelTools()
    record.add(answer("in_text", form="mistral", repaired=True), 5.0)
    report = record.report()
    assert report["verdict"] == "in_text" and report["says"].startswith("calls in text")
    assert "--tool-call-parser mistral" in str(report["fix"]) and "--jinja" in str(report["fix"])
    assert report["calls"] == {"repaired": 1}
    assert report["last_problem"] == {"at": 5.0, "tool": "get_weather", "result": "in_text", "detail": "bad"}


def test_never_offers_the_capability_switch() -> None:
    record = ModelTools()
    for _ in range(NEVER_AFTER):
        record.add(answer(), 0.0)
    assert "capabilities.tools: false" in str(record.report()["fix"])


def test_by_provider_and_forgetting() -> None:
    health = ToolHealth()
    health.add("a", "m1", answer("ok"), 0.0)
    health.add("b", "m2", answer("in_text"), 0.0)
    assert list(health.of("a")) == ["m1"] and health.of("a")["m1"]["verdict"] == "well"
    health.keep({"a"})
    assert health.of("b") == {}
