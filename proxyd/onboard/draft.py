"""The config ``proxyd init`` writes: commented YAML, keys as ``${VAR}`` references (pure)."""

from __future__ import annotations

import json

from proxyd.onboard.finds import Found

_HEADER = """\
# proxyd's config, written by `proxyd init`. proxyd reloads it when you save it.
# Every setting is explained in docs/configuration.md of proxyd's repository.
#   proxyd validate   - every problem, with its YAML path
#   proxyd check      - a one-token probe of each provider, with cause and fix of each failure
"""
_EXAMPLE = """\
  # Nothing was found on this machine, so this is an example: start Ollama (ollama serve) and it
  # works as it is, or point base_url at your server, or add a hosted service with its key:
  #   - name: openrouter
  #     base_url: https://openrouter.ai/api/v1
  #     api_key: ${OPENROUTER_API_KEY}
  - name: ollama
    base_url: http://127.0.0.1:11434/v1
    wire: auto
"""


def render(found: list[Found]) -> str:
    """The config text for the providers ``found`` (in order); with none, a working example."""
    lines = [_HEADER, "listen: {host: 127.0.0.1, port: 8787}"]
    default = found[0].name if found else "ollama"
    lines.append(f"default_provider: {default}    # gets requests whose model names no provider\n")
    lines.append("providers:")
    if not found:
        lines.append(_EXAMPLE)
    fast = next((entry for entry in found if entry.models), None)  # gets the alias the README's examples use
    for entry in found:
        lines += _provider(entry, entry is fast)
    return "\n".join(lines).rstrip() + "\n"


def _provider(entry: Found, fast: bool = False) -> list[str]:
    out = [f"  - name: {entry.name}", f"    base_url: {entry.base_url}", f"    wire: {entry.wire}"]
    if entry.key_env:
        out.append(f"    api_key: ${{{entry.key_env}}}    # read from the environment when proxyd starts")
    if entry.models:
        out.append(f"    default_model: {_scalar(entry.models[0])}")
        out.append("    models:    # add alias, context_window, capabilities, tags to any of them")
        out += [f"      - id: {_scalar(model)}" for model in entry.models]
        if fast:  # model="fast" then works in every client and example, whatever the model is called
            out[-len(entry.models)] += '\n        alias: fast    # a short name for it: model="fast" in any client'
    elif entry.local:
        out.append("    # its GET /models listed nothing yet; proxyd discovers models as they appear")
    out.append("")
    return out


def _scalar(text: str) -> str:
    """A YAML scalar for a model id: plain when safe, JSON-quoted (valid YAML) otherwise."""
    safe = text and text[0].isalnum() and all(c.isalnum() or c in "._-/" for c in text.replace(":", "."))
    return text if safe and ": " not in text and not text.endswith(":") else json.dumps(text)
