"""Diagnoses: English by code, filled from their values as the page fills them (pure)."""

from __future__ import annotations

import re

import pytest

from proxyd.diagnosis import CAUSES, FIXES, NOTES, Diagnosis, note, say
from proxyd.toolcalls.verdicts import FIXES as TOOL_FIXES
from proxyd.toolcalls.verdicts import fix


@pytest.mark.parametrize(
    ("template", "params", "said"),
    [
        ("no answer from {where} within {seconds} s", {"where": "h:1", "seconds": 5.0}, "no answer from h:1 within 5 s"),
        ("took {seconds} s", {"seconds": 2.31}, "took 2.31 s"),
        ("HTTP {status}", {"status": 404}, "HTTP 404"),
        ("tool_calls: {repair: true} fixes {n}", {"n": 3}, "tool_calls: {repair: true} fixes 3"),  # braces that are text
        ("a {slot} nobody filled", {}, "a {slot} nobody filled"),
    ],
)  # fmt: skip
def test_say_fills_slots_and_leaves_other_braces(template: str, params: dict[str, object], said: str) -> None:
    assert say(template, params) == said  # type: ignore[arg-type]


def test_a_diagnosis_says_its_cause_and_fix_and_what_the_page_needs() -> None:
    d = Diagnosis("refused", {"where": "127.0.0.1:9"}, via="GET /models")
    cause, fix_ = d.cause, d.fix
    assert cause == "GET /models: connection refused or failed at 127.0.0.1:9" and fix_ == d.fix
    assert d.text == f"{cause}: {fix_}"
    assert d.as_json() == {"code": "refused", "fix_code": "refused", "params": {"where": "127.0.0.1:9"},
                           "via": "GET /models"}  # fmt: skip
    other = Diagnosis("unknown_model", {"model": "m", "ids": "a, b"}, "pick_listed")
    assert other.fix == "use one of the ids GET /models lists: a, b (set default_model)"
    assert other.as_json()["fix_code"] == "pick_listed"


def test_every_code_has_a_fix_or_names_one() -> None:
    # a cause without a fix of its own code is always given one by fix_code (checked where they are made)
    assert set(CAUSES) - set(FIXES) <= {"not_api_root", "http_404", "no_model", "no_model_listed", "no_model_list",
                                        "keys_env_unset", "not_answer", "unknown_model"}  # fmt: skip


def test_notes_and_tool_fixes_fill_the_same_way() -> None:
    said = note("form_answered", url="http://h/v1/models", status=200)
    assert said == {"code": "form_answered", "params": {"url": "http://h/v1/models", "status": 200},
                    "text": "http://h/v1/models answered 200"}  # fmt: skip
    assert "--tool-call-parser hermes" in (fix("in_text", "hermes", 5) or "")
    assert (fix("never", None, 7) or "").startswith("7 answers") and fix("well", None, 7) is None
    for template in [*CAUSES.values(), *FIXES.values(), *NOTES.values(), *TOOL_FIXES.values()]:
        assert re.fullmatch(r"[^{}]*(\{(\w+|repair: true)\}[^{}]*)*", template), template
