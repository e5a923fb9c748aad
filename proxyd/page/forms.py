"""What the page's forms may ask, checked before anything is probed or written (pure).

Each form arrives as a JSON object; a form that is wrong gets a 400 saying which field and
what it takes. Only the values the page offers can be set, so the page cannot write a key
(``api_key``) or a setting the user did not see; the config's own checks run after this,
when the edited file is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from proxyd.config.settings import WIRE_SETTINGS
from proxyd.errors import ProxyError

KEY_KINDS = ("env", "file", "paste", "none")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PROVIDER_KEYS = {"base_url": str, "wire": WIRE_SETTINGS, "default_model": str, "streaming": bool}
_MODEL_KEYS = {
    "context_window": int, "max_output_tokens": int, "alias": str, "tags": list,
    "capabilities.vision": bool, "capabilities.tools": bool, "capabilities.reasoning": bool,
    "reasoning_effort": ("low", "medium", "high"),
}  # fmt: skip


@dataclass(frozen=True)
class ProviderForm:
    name: str
    base_url: str
    key_kind: str = "none"
    key_value: str = ""  # the variable's name, the file's path, or the pasted key
    wire: str = "auto"
    headers: tuple[tuple[str, str], ...] = ()
    models: tuple[str, ...] = ()

    def key_entry(self, key_file: str | None = None) -> dict[str, str]:
        """The provider's key setting for the YAML: a reference, never the key itself."""
        if self.key_kind == "env":
            return {"api_key": f"${{{self.key_value}}}"}
        if self.key_kind == "file":
            return {"api_key_file": self.key_value}
        if self.key_kind == "paste" and key_file is not None:
            return {"api_key_file": key_file}
        return {}


@dataclass(frozen=True)
class SetForm:
    provider: str
    key: str
    value: Any  # None takes the value out of the config
    model: str | None = None


def invalid(field: str, what: str) -> ProxyError:
    return ProxyError(400, f"{field}: {what}", code="invalid_form", param=field)


def provider_form(body: Any) -> ProviderForm:
    body = _object(body)
    name = _text(body, "name")
    if not _NAME_RE.match(name):
        raise invalid("name", "letters, digits, '.', '_' and '-', starting with a letter or digit")
    key = body.get("key") or {}
    if not isinstance(key, dict) or key.get("kind", "none") not in KEY_KINDS:
        raise invalid("key", f"an object with kind one of {', '.join(KEY_KINDS)}")
    kind, value = key.get("kind", "none"), key.get("value", "")
    if not isinstance(value, str) or (kind != "none" and not value.strip()):
        raise invalid("key.value", "the variable's name, the file's path, or the key itself")
    if kind == "env" and not _ENV_RE.match(value.strip()):
        raise invalid("key.value", "an environment variable's name, such as OPENAI_API_KEY")
    wire = body.get("wire") or "auto"
    if wire not in WIRE_SETTINGS:
        raise invalid("wire", f"one of {', '.join(WIRE_SETTINGS)}")
    headers = body.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) and k.strip() for k, v in headers.items()):
        raise invalid("headers", "an object of header names and text values")
    models = body.get("models") or []
    if not isinstance(models, list) or not all(isinstance(m, str) and m.strip() for m in models):
        raise invalid("models", "a list of model ids")
    return ProviderForm(
        name, _text(body, "base_url"), kind, value.strip() if kind != "paste" else value, wire,
        tuple((k.strip(), v) for k, v in headers.items()), tuple(m.strip() for m in models),
    )  # fmt: skip


def set_form(body: Any) -> SetForm:
    body = _object(body)
    provider, key, model = _text(body, "provider"), _text(body, "key"), body.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise invalid("model", "a model id, or absent for a provider setting")
    allowed = _MODEL_KEYS if model is not None else _PROVIDER_KEYS
    if key not in allowed:
        raise invalid("key", f"the page sets one of {', '.join(allowed)}")
    return SetForm(provider, key, _value(key, body.get("value"), allowed[key]), model)


def _value(key: str, value: Any, kind: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(kind, tuple):
        if value not in kind:
            raise invalid("value", f"{key} is one of {', '.join(kind)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise invalid("value", f"{key} is a whole number of tokens above 0")
        return value
    if kind is list:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise invalid("value", "tags are a list of words")
        return [t.strip() for t in items if t.strip()] or None
    if not isinstance(value, kind):
        raise invalid("value", f"{key} is {'true or false' if kind is bool else 'text'}")
    return value.strip() if isinstance(value, str) else value


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProxyError(400, "the form must be sent as a JSON object", code="invalid_form")
    return body


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "required text")
    return value.strip()
