"""What the page's forms may ask: only the values it offers, each of the right kind."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.errors import ProxyError
from proxyd.page.forms import ProviderForm, SetForm, provider_form, set_form

BASE = {"name": "groq", "base_url": "https://api.groq.com/openai/v1"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BASE, ProviderForm("groq", "https://api.groq.com/openai/v1")),
        ({**BASE, "key": {"kind": "env", "value": " GROQ_API_KEY "}, "wire": "chat"},
         ProviderForm("groq", "https://api.groq.com/openai/v1", "env", "GROQ_API_KEY", "chat")),
        ({**BASE, "key": {"kind": "paste", "value": " gsk_x "}}, ProviderForm(BASE["name"], BASE["base_url"], "paste", " gsk_x ")),
        ({**BASE, "headers": {"X-Title": "proxyd"}, "models": [" llama-3.3-70b "]},
         ProviderForm("groq", BASE["base_url"], headers=(("X-Title", "proxyd"),), models=("llama-3.3-70b",))),
    ],
)  # fmt: skip
def test_provider_forms(body: dict[str, Any], expected: ProviderForm) -> None:
    assert provider_form(body) == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], None),
        ({"base_url": "http://x"}, "name"),
        ({**BASE, "name": "has space"}, "name"),
        ({**BASE, "name": "-dash"}, "name"),
        ({"name": "x"}, "base_url"),
        ({**BASE, "key": {"kind": "vault"}}, "key"),
        ({**BASE, "key": "sk-literal"}, "key"),
        ({**BASE, "key": {"kind": "env", "value": "not a var"}}, "key.value"),
        ({**BASE, "key": {"kind": "paste", "value": "  "}}, "key.value"),
        ({**BASE, "wire": "grpc"}, "wire"),
        ({**BASE, "headers": {"X": 1}}, "headers"),
        ({**BASE, "models": "llama"}, "models"),
    ],
)
def test_bad_provider_forms_say_which_field(body: Any, field: str | None) -> None:
    with pytest.raises(ProxyError) as caught:
        provider_form(body)
    assert caught.value.status == 400 and caught.value.param == field


def test_the_key_is_written_as_a_reference_never_as_the_key() -> None:
    assert provider_form({**BASE, "key": {"kind": "env", "value": "K"}}).key_entry() == {"api_key": "${K}"}
    assert provider_form({**BASE, "key": {"kind": "file", "value": "/k"}}).key_entry() == {"api_key_file": "/k"}
    pasted = provider_form({**BASE, "key": {"kind": "paste", "value": "sk-secret"}})
    assert pasted.key_entry("keys/groq") == {"api_key_file": "keys/groq"}
    assert pasted.key_entry() == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"provider": "p", "key": "base_url", "value": " http://h/v1 "}, SetForm("p", "base_url", "http://h/v1")),
        ({"provider": "p", "key": "default_model", "value": ""}, SetForm("p", "default_model", None)),
        ({"provider": "p", "key": "wire", "value": "chat"}, SetForm("p", "wire", "chat")),
        ({"provider": "p", "model": "m", "key": "context_window", "value": 32768},
         SetForm("p", "context_window", 32768, "m")),
        ({"provider": "p", "model": "m", "key": "context_window", "value": None}, SetForm("p", "context_window", None, "m")),
        ({"provider": "p", "model": "m", "key": "capabilities.vision", "value": False},
         SetForm("p", "capabilities.vision", False, "m")),
        ({"provider": "p", "model": "m", "key": "tags", "value": "sandbox, free,"}, SetForm("p", "tags", ["sandbox", "free"], "m")),
        ({"provider": "p", "model": "m", "key": "tags", "value": ""}, SetForm("p", "tags", None, "m")),
        ({"provider": "p", "model": "m", "key": "alias", "value": " fast "}, SetForm("p", "alias", "fast", "m")),
    ],
)  # fmt: skip
def test_set_forms(body: dict[str, Any], expected: SetForm) -> None:
    assert set_form(body) == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "p", "key": "api_key", "value": "sk-x"}, "key"),  # keys are not the page's to write
        ({"provider": "p", "key": "headers", "value": {}}, "key"),
        ({"provider": "p", "model": "m", "key": "capabilities.streaming", "value": True}, "key"),
        ({"provider": "p", "model": "m", "key": "context_window", "value": -1}, "value"),
        ({"provider": "p", "model": "m", "key": "context_window", "value": True}, "value"),
        ({"provider": "p", "model": "m", "key": "context_window", "value": "32k"}, "value"),
        ({"provider": "p", "model": "m", "key": "capabilities.tools", "value": "yes"}, "value"),
        ({"provider": "p", "model": "m", "key": "reasoning_effort", "value": "max"}, "value"),
        ({"provider": "p", "key": "wire", "value": "soap"}, "value"),
        ({"provider": "p", "model": "", "key": "alias", "value": "x"}, "model"),
        ({"key": "wire", "value": "chat"}, "provider"),
    ],
)
def test_bad_set_forms_say_which_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ProxyError) as caught:
        set_form(body)
    assert caught.value.status == 400 and caught.value.param == field
