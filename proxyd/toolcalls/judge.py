"""One tool call judged, and the repair that would make it valid (pure).

A call is ``ok`` when it names an offered tool and its arguments are a JSON object that matches
the tool's schema; otherwise it is ``unknown_tool``, ``invalid_json`` or ``schema_mismatch``.
Calls found in text are ``in_text`` (:mod:`.in_text`), and a call proxyd fixed is counted as
``repaired``. Free-form (custom) tools take text, so only their name is judged.

A repair never invents a value. It may:

- take the name the model decorated (``functions.get_weather``, ``get_weather<|channel|>...``,
  a different case) when exactly one offered tool is meant;
- read arguments that are almost JSON: a fenced block, trailing commas, single quotes, Python's
  ``True``/``None``, text after the object, an object encoded twice as a string, nothing at all
  for a tool whose schema accepts ``{}``;
- turn a string into the number, boolean, array or object the schema's top-level property
  declares (the XML-style calls of Qwen3-Coder give every value as text).

and is used only when the result validates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from proxyd.toolcalls.offered import Offered, ToolSpec
from proxyd.toolcalls.schemas import Schemas

RESULTS = ("ok", "invalid_json", "schema_mismatch", "unknown_tool", "in_text", "repaired")
_FENCE_RE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.S)
_DECOR_RE = re.compile(r"^(?:functions\.|tools\.|default_api\.)|<\|.*$|[\s\"'`]+$|^[\s\"'`]+")
_TRAILING_RE = re.compile(r",\s*(?:[}\]]|$)")
_WORD_RE = re.compile(r"[A-Za-z_]+")
_TYPES = {"integer": int, "number": int | float, "boolean": bool, "array": list, "object": dict}
_PY_WORDS = {"True": "true", "False": "false", "None": "null"}


@dataclass(frozen=True, slots=True)
class Judged:
    result: str  # one of RESULTS but "repaired": what the call was as the model sent it
    tool: str  # the name as called
    arguments: str  # as sent (for the problem log line, which cuts and redacts it)
    detail: str | None = None  # what is wrong
    fixed: tuple[str, str] | None = None  # (name, arguments) that make it valid, when a repair can

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def judge(name: str, arguments: str, offered: Offered, schemas: Schemas) -> Judged:
    spec = offered.get(name)
    renamed = None
    if spec is None:
        renamed = known_name(name, offered)
        if renamed is None:
            return Judged("unknown_tool", name, arguments, f"{name[:80]!r} is not one of the tools offered")
        spec = offered.get(renamed)
        assert spec is not None
    verdict = _judge_arguments(spec, arguments, schemas)
    if renamed is None:
        return verdict
    fixed = verdict.fixed if verdict.fixed is not None else (renamed, arguments) if verdict.ok else None
    return Judged("unknown_tool", name, arguments, f"{name[:80]!r} stands for the tool {renamed!r}", fixed)


def known_name(name: str, offered: Offered) -> str | None:
    """The one offered tool a decorated name means, if any."""
    bare = name
    for _ in range(3):
        bare = _DECOR_RE.sub("", bare)
    if bare != name and offered.get(bare) is not None:
        return bare
    folded = [n for n in offered.tools if n.lower() == bare.lower()]
    return folded[0] if len(folded) == 1 else None


def _judge_arguments(spec: ToolSpec, arguments: str, schemas: Schemas) -> Judged:
    if spec.freeform:
        return Judged("ok", spec.name, arguments)
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        candidate = almost_json(arguments)
        fixed = _validated(spec, candidate, schemas)
        return Judged("invalid_json", spec.name, arguments, _json_problem(arguments), fixed)
    problem = _problem(spec, value, schemas)
    if problem is None:
        return Judged("ok", spec.name, arguments)
    candidate = _unwrapped(value)
    return Judged("schema_mismatch", spec.name, arguments, problem, _validated(spec, candidate, schemas))


def _problem(spec: ToolSpec, value: object, schemas: Schemas) -> str | None:
    if not isinstance(value, dict):
        return f"the arguments are a JSON {type(value).__name__.replace('str', 'string')}, not an object"
    return schemas.problem(spec.schema, value) if spec.schema else None


def _validated(spec: ToolSpec, candidate: object, schemas: Schemas) -> tuple[str, str] | None:
    if not isinstance(candidate, dict):
        return None
    for value in (candidate, coerce(candidate, spec.schema)):
        if value is not None and _problem(spec, value, schemas) is None:
            return spec.name, json.dumps(value, ensure_ascii=False)
    return None


def _unwrapped(value: object) -> object:
    """Arguments encoded twice (a JSON string holding the object) or already fine but mistyped."""
    if isinstance(value, str):
        return almost_json(value)
    return value


def _json_problem(arguments: str) -> str:
    if not arguments.strip():
        return "the arguments are empty, not a JSON object"
    try:
        json.loads(arguments)
    except ValueError as exc:
        return f"the arguments are not JSON ({exc})"[:200]
    return "the arguments are not JSON"


def almost_json(text: str) -> Any:
    """The JSON value ``text`` almost is, or None."""
    if not text.strip():
        return {}
    fenced = _FENCE_RE.match(text)
    if fenced:
        text = fenced.group(1)
    normal = normalize(text.strip())
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(normal)
    except (ValueError, RecursionError):
        return None
    return value


def normalize(text: str) -> str:
    """Single-quoted strings as JSON strings, trailing commas dropped, Python's constants in
    JSON's words; what is inside double-quoted strings is left alone."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            end, literal = _string_at(text, i)
            out.append(literal)
            i = end
        elif ch == "\\" and text[i + 1 : i + 2] in ("n", "r", "t"):
            out.append(" ")  # an escape written outside any string: whitespace was meant (Qwen3.5, OpenHands#2488)
            i += 2
        elif ch == ",":
            if not _TRAILING_RE.match(text, i):
                out.append(ch)
            i += 1
        elif ch.isalpha():
            word = _WORD_RE.match(text, i)
            token = word.group(0) if word else ch
            out.append(_PY_WORDS.get(token, token))
            i += len(token)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _string_at(text: str, start: int) -> tuple[int, str]:
    """The end of the string literal opening at ``start``, and it as a JSON string: a
    double-quoted one as it is, a single-quoted one with its quotes swapped and escaped."""
    quote, i, chars = text[start], start + 1, ['"']
    while i < len(text) and text[i] != quote:
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            chars.append("'" if nxt == "'" and quote == "'" else ch + nxt)
            i += 2
            continue
        chars.append('\\"' if ch == '"' else ch)
        i += 1
    chars.append('"')
    return i + 1, "".join(chars)


def coerce(value: dict[str, Any], schema: object) -> dict[str, Any] | None:
    """``value`` with string values of top-level properties turned into the scalar, array or
    object type the schema declares for them; None when nothing changed."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return None
    out, changed = dict(value), False
    for key, given in value.items():
        declared = props.get(key)
        kind = declared.get("type") if isinstance(declared, dict) else None
        if isinstance(given, str) and isinstance(kind, str) and kind != "string":
            turned = _as_type(given, kind)
            if turned is not None:
                out[key], changed = turned, True
    return out if changed else None


def _as_type(text: str, kind: str) -> Any:
    wanted = _TYPES.get(kind)
    value = almost_json(text) if wanted is not None and text.strip() else None
    if value is None or isinstance(value, bool) != (kind == "boolean"):
        return None
    return value if isinstance(value, wanted) else None  # type: ignore[arg-type]
