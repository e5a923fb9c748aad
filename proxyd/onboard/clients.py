"""What each client needs to use proxyd, in the client's own format (pure).

Each :class:`Snippet` is the text to show and, for clients with a config file, the structure to
merge into it (``proxyd setup --write``). Model names come from proxyd's live catalog, so a
snippet names models that exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

KEY_ENV = "PROXYD_API_KEY"  # where the snippets tell clients to find the key (any value, or proxyd's token)


@dataclass(frozen=True)
class Snippet:
    client: str
    format: str  # toml, json, yaml, shell, python, text
    text: str
    path: str | None = None  # the client's config file, under the home directory; None: nothing to write
    merge: dict[str, Any] = field(default_factory=dict)  # what --write puts into that file
    exports: tuple[str, ...] = ()  # shell lines the client needs besides its file (setup prints them)


@dataclass(frozen=True)
class Target:
    origin: str  # http://127.0.0.1:8787
    main: str  # the model for real work
    small: str  # a small fast model for background work
    models: tuple[str, ...]  # every model the catalog lists
    # How a shell gets proxyd's token ("$(cat /run/secrets/alice.token)", "$PROXYD_TOKEN"): never
    # the token itself, which setup must not print. None: proxyd asks for no token.
    token: str | None = None

    @property
    def v1(self) -> str:
        return f"{self.origin}/v1"

    def export(self, name: str) -> tuple[str, ...]:
        """The line that gives ``name`` proxyd's token, when it asks for one."""
        return () if self.token is None else (f'export {name}="{self.token}"',)


def snippet(client: str, t: Target) -> Snippet:
    return _MAKERS[client](t)


def _codex(t: Target) -> Snippet:
    # Codex stops when env_key names a variable that is not set: name one only when proxyd needs a
    # token, so that without one the written config works in any fresh shell.
    key = f'env_key = "{KEY_ENV}"\n' if t.token else ""
    text = (
        f'model = "{t.main}"\nmodel_provider = "proxyd"\n\n[model_providers.proxyd]\nname = "proxyd"\n'
        f'base_url = "{t.v1}"\n{key}wire_api = "responses"\n'
    )
    provider = {
        "name": "proxyd",
        "base_url": t.v1,
        "wire_api": "responses",
        **({"env_key": KEY_ENV} if t.token else {}),
    }
    merge = {"model": t.main, "model_provider": "proxyd", "model_providers": {"proxyd": provider}}
    return Snippet("codex", "toml", text, ".codex/config.toml", merge, t.export(KEY_ENV))


def _claude_code(t: Target) -> Snippet:
    env = {"ANTHROPIC_BASE_URL": t.origin, "ANTHROPIC_MODEL": t.main,
           "ANTHROPIC_SMALL_FAST_MODEL": t.small, "ANTHROPIC_DEFAULT_HAIKU_MODEL": t.small}  # fmt: skip
    if t.token is None:  # any value works; with a token, the shell gives it (never written to the file)
        env["ANTHROPIC_AUTH_TOKEN"] = "proxyd"
    return Snippet("claude-code", "json", json.dumps({"env": env}, indent=2) + "\n", ".claude/settings.json",
                   {"env": env}, t.export("ANTHROPIC_AUTH_TOKEN"))  # fmt: skip


def _gemini_cli(t: Target) -> Snippet:
    # Gemini CLI takes its base URL and key from the shell only. With a base URL, headless use also
    # needs the key's auth type chosen in its settings (else it picks one headless mode refuses,
    # exit 41): written when there is no settings file yet, else to be added to it by hand.
    settings = json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}})
    key = t.token if t.token is not None else "proxyd"
    text = (
        f'export GOOGLE_GEMINI_BASE_URL={t.origin}\nexport GEMINI_API_KEY="{key}"\nexport GEMINI_MODEL={t.main}\n'
        f"[ -f ~/.gemini/settings.json ] || {{ mkdir -p ~/.gemini && echo '{settings}' > ~/.gemini/settings.json; }}\n"
    )
    return Snippet("gemini-cli", "shell", text)


def _opencode(t: Target) -> Snippet:
    provider = {"npm": "@ai-sdk/openai-compatible", "name": "proxyd",
                "options": {"baseURL": t.v1, "apiKey": f"{{env:{KEY_ENV}}}"},
                "models": {m: {"name": m} for m in t.models}}  # fmt: skip
    doc = {"$schema": "https://opencode.ai/config.json", "provider": {"proxyd": provider}, "model": f"proxyd/{t.main}"}
    return Snippet("opencode", "json", json.dumps(doc, indent=2) + "\n", ".config/opencode/opencode.json", doc,
                   t.export(KEY_ENV))  # fmt: skip


def _aider(t: Target) -> Snippet:
    doc = {"openai-api-base": t.v1, "openai-api-key": "proxyd", "model": f"openai/{t.main}"}
    text = "".join(f"{k}: {json.dumps(v)}\n" for k, v in doc.items())
    return Snippet("aider", "yaml", text, ".aider.conf.yml", doc)


def _continue(t: Target) -> Snippet:
    models = [{"name": f"{m} (proxyd)", "provider": "openai", "model": m, "apiBase": t.v1, "apiKey": "proxyd"}
              for m in dict.fromkeys((t.main, t.small))]  # fmt: skip
    doc = {"name": "proxyd", "version": "1.0.0", "schema": "v1", "models": models}
    text = "name: proxyd\nversion: 1.0.0\nschema: v1\nmodels:\n" + "".join(
        f"  - name: {json.dumps(m['name'])}\n    provider: openai\n    model: {json.dumps(m['model'])}\n"
        f"    apiBase: {t.v1}\n    apiKey: proxyd\n"
        for m in models
    )
    return Snippet("continue", "yaml", text, ".continue/config.yaml", doc)


def _zed(t: Target) -> Snippet:
    caps = {"tools": True, "images": False, "parallel_tool_calls": False, "prompt_cache_key": False}
    models = [
        {"name": m, "display_name": f"{m} via proxyd", "max_tokens": 131072, "capabilities": caps} for m in t.models
    ]
    doc = {"language_models": {"openai_compatible": {"proxyd": {"api_url": t.v1, "available_models": models}}}}
    return Snippet("zed", "json", json.dumps(doc, indent=2) + "\n", ".config/zed/settings.json", doc)


def _cline(t: Target) -> Snippet:
    text = (f"In Cline's settings: API Provider \"OpenAI Compatible\", Base URL {t.v1}, API Key proxyd "
            f"(or proxyd's token), Model ID {t.main}.\n")  # fmt: skip
    return Snippet("cline", "text", text)


def _llm(t: Target) -> Snippet:
    entries = [
        {"model_id": f"proxyd-{m}", "model_name": m, "api_base": t.v1, "api_key_name": "proxyd"} for m in t.models
    ]
    text = (
        "".join(
            f"- model_id: {json.dumps(e['model_id'])}\n  model_name: {json.dumps(e['model_name'])}\n"
            f"  api_base: {t.v1}\n  api_key_name: proxyd\n"
            for e in entries
        )
        + "# then: llm keys set proxyd   (any value, or proxyd's token)\n"
    )
    return Snippet("llm", "yaml", text, ".config/io.datasette.llm/extra-openai-models.yaml", {"models": entries})


def _qwen_code(t: Target) -> Snippet:
    text = f"export OPENAI_BASE_URL={t.v1}\nexport OPENAI_API_KEY=proxyd\nexport OPENAI_MODEL={t.main}\n"
    return Snippet("qwen-code", "shell", text)


_ASK = '[{"role": "user", "content": "hi"}]'


def _openai_sdk(t: Target) -> Snippet:
    text = (
        f'from openai import OpenAI\n\nclient = OpenAI(base_url="{t.v1}", api_key="proxyd")\n'
        f'reply = client.chat.completions.create(model="{t.main}", messages={_ASK})\n'
        "print(reply.choices[0].message.content)\n"
    )
    return Snippet("openai-sdk", "python", text)


def _google_genai(t: Target) -> Snippet:
    text = (
        "from google import genai\nfrom google.genai import types\n\n"
        f'client = genai.Client(api_key="proxyd", http_options=types.HttpOptions(base_url="{t.origin}"))\n'
        f'reply = client.models.generate_content(model="{t.main}", contents="hi")\n'
        "print(reply.text)\n"
    )
    return Snippet("google-genai", "python", text)


def _anthropic_sdk(t: Target) -> Snippet:
    text = (
        f'from anthropic import Anthropic\n\nclient = Anthropic(base_url="{t.origin}", api_key="proxyd")\n'
        f'reply = client.messages.create(model="{t.main}", max_tokens=1024, messages={_ASK})\n'
        "print(reply.content[0].text)\n"
    )
    return Snippet("anthropic-sdk", "python", text)


_MAKERS = {
    "codex": _codex, "claude-code": _claude_code, "gemini-cli": _gemini_cli, "opencode": _opencode,
    "aider": _aider, "continue": _continue,
    "zed": _zed, "cline": _cline, "llm": _llm, "qwen-code": _qwen_code, "openai-sdk": _openai_sdk,
    "anthropic-sdk": _anthropic_sdk, "google-genai": _google_genai,
}  # fmt: skip
CLIENTS = tuple(_MAKERS)
