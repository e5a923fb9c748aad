"""Tool calls a model wrote as text (pure).

A server without its tool-call parser (vLLM without ``--enable-auto-tool-choice
--tool-call-parser``, llama.cpp without ``--jinja``, a chat template that does not know tools)
returns the model's call as the answer's text. Each form below is one that servers' and model
makers' trackers show; a call counts only when it names a tool the request offered, so a JSON
example in an ordinary answer is left alone:

- Hermes / Qwen2.5 / Qwen3: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
- Qwen3-Coder: ``<tool_call><function=NAME><parameter=KEY>value</parameter></function></tool_call>``,
  and Llama 3.1's ``<function=NAME>{...}</function>``;
- Mistral: ``[TOOL_CALLS][{"name": ..., "arguments": {...}}]`` and ``[TOOL_CALLS]NAME[ARGS]{...}``;
- Llama 3.x and 4: ``<|python_tag|>{"name": ..., "parameters": {...}}``, ``<|python_start|>...<|python_end|>``;
- gpt-oss (harmony) leaking its envelope: ``...to=functions.NAME ... <|message|>{...}``;
- a fenced JSON block, or a JSON object or list starting a line, in any of the shapes
  ``{"name", "arguments" | "parameters"}``, ``{"type": "function", "function": {...}}``;
- Llama 4's pythonic list: ``[get_weather(city="Paris"), ...]``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from proxyd.toolcalls.judge import almost_json, coerce, known_name
from proxyd.toolcalls.offered import Offered

Call = tuple[str, str]  # (name as written, arguments as JSON text)
Span = tuple[int, int, list[Call]]
_NAME_KEYS = ("name", "tool_name", "tool")
_ARG_KEYS = ("arguments", "parameters", "args", "input", "tool_input")
_DECODER = json.JSONDecoder(strict=False)
_TAGGED_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)
_FUNCTION_RE = re.compile(r"<function=([^>\s]+)>(.*?)(?:</function>|$)", re.S)
_PARAMETER_RE = re.compile(r"<parameter=([^>\s]+)>(.*?)(?:</parameter>|(?=<parameter=)|$)", re.S)
_MISTRAL_RE = re.compile(r"\[TOOL_CALLS\]\s*")
_MISTRAL_NAMED_RE = re.compile(r"([A-Za-z_][\w.-]*)(?:\[CALL_ID\]\w+)?(?:\[ARGS\])?\s*(?=\{)")
_PYTHON_TAG_RE = re.compile(r"<\|python_tag\|>|<\|python_start\|>")
_HARMONY_RE = re.compile(r"(?:<\|start\|>\w*)?(?:<\|channel\|>\w+\s*)?to=functions\.([\w.-]+)[^{]*?<\|message\|>")
_FENCE_RE = re.compile(r"```(?:json|tool_call|tool_code|javascript)?[ \t]*\n(.*?)\n?```", re.S)
_LINE_START_RE = re.compile(r"(?:^|\n)[ \t]*(?=[\[{])")
_PYTHONIC_RE = re.compile(r"^\s*\[\s*[A-Za-z_][\w.]*\s*\(")
_TRAILERS_RE = re.compile(r"\s*(?:<\|(?:eom_id|eot_id|call|end|python_end)\|>)*")


@dataclass(frozen=True, slots=True)
class Found:
    calls: tuple[Call, ...]
    text: str  # the answer's text without the calls
    form: str  # which of the forms above


def find_calls(text: str, offered: Offered) -> Found | None:
    """The calls of offered tools written in ``text``, in order, or None."""
    if not offered or not text:
        return None
    for form, finder in _FINDERS:
        spans = [s for s in finder(text, offered) if s[2]]
        if spans:
            return Found(tuple(c for s in spans for c in s[2]), _without(text, spans), form)
    return None


def call_of(value: object, offered: Offered) -> Call | None:
    """A call of an offered tool in one of the JSON shapes models use, or None."""
    if not isinstance(value, dict):
        return None
    inner = value.get("function")
    if isinstance(inner, dict):
        return call_of(inner, offered)
    name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if name is None and isinstance(inner, str):
        name = inner
    if name is None or (offered.get(name) is None and known_name(name, offered) is None):
        return None
    args: object = next((value[k] for k in _ARG_KEYS if k in value), {})
    return name, args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)


def _calls_in(value: object, offered: Offered) -> list[Call]:
    """One call, or a list of them (all must be calls)."""
    items = value if isinstance(value, list) else [value]
    calls = [call_of(item, offered) for item in items]
    return [c for c in calls if c is not None] if calls and None not in calls else []


def _json_at(text: str, start: int) -> tuple[Any, int] | None:
    try:
        return _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None


def _tagged(text: str, offered: Offered) -> Iterator[Span]:
    for m in _TAGGED_RE.finditer(text):
        inner = m.group(1)
        if "<function=" in inner:
            calls = [c for f in _FUNCTION_RE.finditer(inner) if (c := _xml_call(f, offered)) is not None]
        else:
            start = inner.find("{")
            parsed = _json_at(inner, start) if start >= 0 else None
            calls = _calls_in(parsed[0], offered) if parsed else []
        yield m.start(), _past_trailers(text, m.end()), calls


def _functions(text: str, offered: Offered) -> Iterator[Span]:
    for m in _FUNCTION_RE.finditer(text):
        call = _xml_call(m, offered)
        yield m.start(), _past_trailers(text, m.end()), [call] if call else []


def _xml_call(m: re.Match[str], offered: Offered) -> Call | None:
    name, body = m.group(1), m.group(2).strip()
    spec = offered.get(name) or offered.get(known_name(name, offered) or "")
    if spec is None:
        return None
    if body.startswith("{"):
        return name, body
    args: dict[str, Any] = {p.group(1): p.group(2).strip() for p in _PARAMETER_RE.finditer(body)}
    return name, json.dumps(coerce(args, spec.schema) or args, ensure_ascii=False)


def _mistral(text: str, offered: Offered) -> Iterator[Span]:
    for m in _MISTRAL_RE.finditer(text):
        at = m.end()
        named = _MISTRAL_NAMED_RE.match(text, at)
        if named is not None:
            parsed = _json_at(text, named.end())
            if parsed is None or call_of({"name": named.group(1), "arguments": parsed[0]}, offered) is None:
                continue
            yield m.start(), parsed[1], [(named.group(1), json.dumps(parsed[0], ensure_ascii=False))]
            continue
        parsed = _json_at(text, at)
        if parsed is not None:
            yield m.start(), _past_trailers(text, parsed[1]), _calls_in(parsed[0], offered)


def _python_tag(text: str, offered: Offered) -> Iterator[Span]:
    for m in _PYTHON_TAG_RE.finditer(text):
        at, calls = m.end(), []
        while (parsed := _json_at(text, len(text) - len(text[at:].lstrip()))) is not None:
            found = _calls_in(parsed[0], offered)
            if not found:
                break
            calls += found
            at = parsed[1]
            if text[at:].lstrip().startswith(";"):
                at = text.index(";", at) + 1
        yield m.start(), _past_trailers(text, at), calls


def _harmony(text: str, offered: Offered) -> Iterator[Span]:
    for m in _HARMONY_RE.finditer(text):
        parsed = _json_at(text, m.end())
        if parsed is not None and call_of({"name": m.group(1), "arguments": parsed[0]}, offered) is not None:
            yield m.start(), _past_trailers(text, parsed[1]), [(m.group(1), json.dumps(parsed[0], ensure_ascii=False))]


def _fenced(text: str, offered: Offered) -> Iterator[Span]:
    for m in _FENCE_RE.finditer(text):
        yield m.start(), m.end(), _calls_in(almost_json(m.group(1)), offered)


def _line_json(text: str, offered: Offered) -> Iterator[Span]:
    at = 0
    for m in _LINE_START_RE.finditer(text):
        if m.end() < at:
            continue
        parsed = _json_at(text, m.end())
        if parsed is not None and (calls := _calls_in(parsed[0], offered)):
            at = parsed[1]
            yield m.end(), _past_trailers(text, at), calls


def _pythonic(text: str, offered: Offered) -> Iterator[Span]:
    if not _PYTHONIC_RE.match(text):
        return
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return
    if not isinstance(tree.body, ast.List):
        return
    calls = [_python_call(node, offered) for node in tree.body.elts]
    if calls and None not in calls:
        yield 0, len(text), [c for c in calls if c is not None]


def _python_call(node: ast.expr, offered: Offered) -> Call | None:
    if not isinstance(node, ast.Call) or node.args or not isinstance(node.func, ast.Name | ast.Attribute):
        return None
    name = ast.unparse(node.func)
    try:
        args = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
    except (ValueError, SyntaxError):
        return None
    return call_of({"name": name, "arguments": args}, offered)


def _past_trailers(text: str, end: int) -> int:
    m = _TRAILERS_RE.match(text, end)
    return m.end() if m else end


def _without(text: str, spans: list[Span]) -> str:
    kept, at = [], 0
    for start, end, _ in sorted(spans):
        if start >= at:
            kept.append(text[at:start])
            at = end
    kept.append(text[at:])
    return "".join(kept).strip()


Finder = Callable[[str, Offered], Iterator[Span]]
# Most specific first: a tagged call's JSON would also be found as a JSON line.
_FINDERS: tuple[tuple[str, Finder], ...] = (
    ("hermes", _tagged),
    ("function_tag", _functions),
    ("mistral", _mistral),
    ("python_tag", _python_tag),
    ("harmony", _harmony),
    ("fenced_json", _fenced),
    ("json", _line_json),
    ("pythonic", _pythonic),
)
