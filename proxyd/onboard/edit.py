"""``proxyd add``, ``remove`` and ``set``: the config edited in place.

The YAML is read and written by a round-trip library, so the user's comments, order and
formatting stay as they were; only the edited entry changes. The result is checked as proxyd
would load it before anything is written, and written atomically, so a running proxyd reloads
the whole new file once (or keeps the old one, should a check it alone can make fail). A key
given on standard input goes to a 0600 file beside the config, named by ``api_key_file``; no key
value is ever written into the YAML.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from proxyd.config.loader import load_text
from proxyd.config.settings import ConfigError
from proxyd.config.yaml_errors import yaml_problem

_UNSET_RE = re.compile(r"environment variable (\w+) is not set")
_CAPABILITIES = ("tools", "vision", "reasoning", "streaming")
_MODEL_SECTIONS = {"capabilities": _CAPABILITIES, "tool_calls": ("repair",)}


class EditError(Exception):
    """An edit that cannot be made; the message says why and what to do."""


def _yaml() -> YAML:
    y = YAML()  # round-trip: comments, order and quoting survive
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


def read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EditError(f"cannot read {path}: {exc.strerror}; run proxyd init first") from None
    except UnicodeDecodeError:
        raise EditError(f"{path} is not UTF-8 text: fix the file first") from None
    try:
        return _yaml().load(text)
    except YAMLError as exc:  # a typo: say where, and that nothing changed
        where = yaml_problem(str(path), text, exc)
        raise EditError("\n".join(where) + "\nfix the file first; nothing was changed, and a running proxyd keeps "
                        "the config it loaded last") from None  # fmt: skip


def providers(doc: Any) -> CommentedSeq:
    found = doc.get("providers") if isinstance(doc, dict) else None
    if not isinstance(found, CommentedSeq):
        raise EditError("the config has no providers list to edit")
    return found


def find(doc: Any, name: str) -> CommentedMap:
    for entry in providers(doc):
        if isinstance(entry, CommentedMap) and entry.get("name") == name:
            return entry
    names = ", ".join(str(e.get("name")) for e in providers(doc) if isinstance(e, dict))
    raise EditError(f"no provider named {name!r} (configured: {names or 'none'})")


def add_provider(doc: Any, name: str, url: str, key: dict[str, str], wire: str | None,
                 headers: dict[str, str], models: list[str]) -> None:  # fmt: skip
    if any(isinstance(e, dict) and e.get("name") == name for e in providers(doc)):
        raise EditError(f"a provider named {name!r} exists already: remove it first, or pick another name")
    entry = CommentedMap([("name", name), ("base_url", url)])
    if wire:
        entry["wire"] = wire
    entry.update(key)
    if headers:
        entry["headers"] = CommentedMap(headers)
    if models:
        entry["default_model"] = models[0]
        entry["models"] = CommentedSeq([CommentedMap([("id", m)]) for m in models])
    providers(doc).append(entry)


def remove_provider(doc: Any, name: str) -> None:
    providers(doc).remove(find(doc, name))
    if doc.get("default_provider") == name:
        del doc["default_provider"]


def set_value(doc: Any, dotted: str, value: Any) -> None:
    """``NAME.key`` or ``NAME.models.ID.key`` (``capabilities.X``, ``tags``, ``alias``,
    ``context_window``...): one value, set where the config keeps it."""
    name, _, rest = dotted.partition(".")
    find(doc, name)  # an unknown provider is the first thing to say
    if not rest:
        raise EditError(f"say what to set: {name}.wire, {name}.models.ID.context_window ...")
    if rest.startswith("models."):
        model_id, _, key = rest[len("models.") :].rpartition(".")
        for section, keys in _MODEL_SECTIONS.items():  # a model id may hold dots: its nested keys do not
            if key in keys and model_id.endswith(f".{section}"):
                model_id, key = model_id[: -len(section) - 1], f"{section}.{key}"
        set_model_value(doc, name, model_id, key, value)
    else:
        set_provider_value(doc, name, rest, value)


def set_provider_value(doc: Any, name: str, key: str, value: Any) -> None:
    """One value of a provider's own (``None`` takes it out)."""
    _set_in(find(doc, name), key, value)


def set_model_value(doc: Any, name: str, model_id: str, key: str, value: Any) -> None:
    """One value of one model (``None`` takes it out); the model gets an entry if it had none."""
    if not model_id:
        raise EditError("say which model: NAME.models.ID.KEY")
    _set_in(_model(find(doc, name), model_id), key, value)


def _model(entry: CommentedMap, model_id: str) -> CommentedMap:
    models = entry.get("models")
    if models is None:
        # The provider listed what it discovered; a value for one model must not hide the others.
        entry["list_discovered"] = True
        models = entry["models"] = CommentedSeq()
    for i, item in enumerate(models):
        if item == model_id:  # a plain id becomes a mapping, to hold the value
            models[i] = found = CommentedMap([("id", model_id)])
            return found
        if isinstance(item, CommentedMap) and item.get("id") == model_id:
            return item
    added = CommentedMap([("id", model_id)])
    models.append(added)
    return added


def _set_in(mapping: CommentedMap, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(mapping.get(part), dict):
            mapping[part] = CommentedMap()
        mapping = mapping[part]
    if parts[-1] == "tags" and isinstance(value, str):
        value = [t.strip() for t in value.split(",") if t.strip()]
    if value is None:
        mapping.pop(parts[-1], None)
    else:
        mapping[parts[-1]] = value


def dump(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def write_checked(path: Path, text: str, env: dict[str, str], *, env_is_proxyds: bool = False) -> list[str]:
    """Check ``text`` as proxyd would load it, then write it atomically; the warnings to show
    (environment variables this shell lacks, which proxyd serve will need). ``env_is_proxyds``:
    the edit comes from the running proxyd, whose environment is the one that counts, so a
    variable it lacks is an error, not a warning."""
    warnings: list[str] = []
    try:
        load_text(text, path, env)
    except ConfigError as exc:
        unset = [m.group(1) for line in exc.errors if (m := _UNSET_RE.search(line))]
        real = [line for line in exc.errors if not _UNSET_RE.search(line)]
        if real:
            raise EditError("the edited config would not load:\n  " + "\n  ".join(real)) from None
        if unset and env_is_proxyds:
            raise EditError(
                f"proxyd's environment has no ${unset[0]}: set it where proxyd is started (systemd: "
                "Environment= or EnvironmentFile=) and restart proxyd, or give the key another way"
            ) from None
        warnings = [f"${var} is not set here: proxyd serve needs it in its environment" for var in dict.fromkeys(unset)]
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    tmp.replace(path)
    return warnings


def key_file(config: Path, name: str, key: str) -> str:
    """Store a key typed on standard input in a 0600 file beside the config; its relative path."""
    if not key.strip():
        raise EditError("no key on standard input")
    folder = config.parent / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.strip() + "\n")
    return f"keys/{name}"
