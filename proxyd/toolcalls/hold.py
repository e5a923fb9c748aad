"""Which text of a stream to hold back while it may still be a call (pure; repair on).

With repair on, a call the model writes as text must reach the client as a tool call, with the
text that held it removed, so that text cannot have been sent already. Everything else must not
wait. :class:`Hold` lets text through as it comes and holds it only from a point where a call
could begin (a marker such as ``<tool_call>``, a fence, a ``{`` or ``[`` starting a line, or the
first characters of one of those at the end of what came so far), until the held text is
surely not a call (released at once) or surely one (held to the end of the answer, where
:func:`~proxyd.toolcalls.in_text.find_calls` reads it). Its moves are one table::

    PASS --maybe--> MAYBE --text--> PASS
      \\              \\--call--> CALL (held to the end)
       \\----call---------------/
"""

from __future__ import annotations

import re

from proxyd.toolcalls.in_text import _calls_in, _json_at
from proxyd.toolcalls.judge import known_name
from proxyd.toolcalls.offered import Offered

PASS, MAYBE, CALL = "pass", "maybe", "call"
MOVES = {
    (PASS, "text"): PASS, (PASS, "maybe"): MAYBE, (PASS, "call"): CALL,
    (MAYBE, "text"): PASS, (MAYBE, "maybe"): MAYBE, (MAYBE, "call"): CALL,
}  # fmt: skip
MAX_UNDECIDED = 16 * 1024  # held text still undecided after this much is let through as text
_CALL_MARKERS = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<|python_start|>")
_MARKERS = (*_CALL_MARKERS, "<function=", "<|channel|>", "<|start|>", "```")
_START_RE = re.compile(r"<tool_call>|\[TOOL_CALLS\]|<\|python_tag\|>|<\|python_start\|>|<function=|<\|channel\|>|"
                       r"<\|start\|>|```|(?:^|(?<=\n))[ \t]*[\[{]")  # fmt: skip
_FIRST_KEY_RE = re.compile(r'\s*[\[{]\s*(?:\{\s*)?"([^"]*)("?)')
_NAME_RE = re.compile(r'"(?:name|tool|tool_name)"\s*:\s*"([^"]*)"')
_CALL_KEYS = ("name", "tool", "tool_name", "type", "function")
_FENCE_LANGS = ("", "json", "tool_call", "tool_code", "javascript")
_PYTHONIC_RE = re.compile(r"\s*\[\s*([A-Za-z_][\w.]*)\s*(\(?)")
_FUNCTION_TAG_RE = re.compile(r"<function=([^>\s]*)(>?)")


class Hold:
    __slots__ = ("held", "offered", "state")

    def __init__(self, offered: Offered) -> None:
        self.offered = offered
        self.state = PASS
        self.held = ""

    def feed(self, text: str) -> str:
        """Take the next text; return what may be sent now."""
        if self.state == CALL:
            self.held += text
            return ""
        buf, out = self.held + text, []
        begin = 0
        while True:
            if self.state == PASS:
                start = hold_start(buf, begin)
                if start is None:
                    out.append(buf)
                    buf = ""
                    break
                out.append(buf[:start])
                buf = buf[start:]
            self.state = MOVES[(self.state, classify(buf, self.offered))]
            if self.state != PASS:
                break
            begin = 1  # not a call from here: look for the next place one could start
        self.held = buf
        return "".join(out)

    def take(self) -> str:
        """The held text, at the end of the answer; the hold starts over."""
        held, self.held, self.state = self.held, "", PASS
        return held


def hold_start(text: str, begin: int = 0) -> int | None:
    """The first place at or after ``begin`` where a call could start, or None."""
    m = _START_RE.search(text, begin)
    found = m.start() if m else None
    tail = _partial_marker(text, begin)
    if tail is not None and (found is None or tail < found):
        return tail
    return found


def _partial_marker(text: str, begin: int) -> int | None:
    """Where the text ends with the first characters of a marker (``<tool``, ``[TOOL_C``, ``` `` ```)."""
    for size in range(min(len(text) - begin, 15), 0, -1):
        tail = text[-size:]
        if any(marker.startswith(tail) and marker != tail for marker in _MARKERS):
            return len(text) - size
    return None


def classify(held: str, offered: Offered) -> str:
    """``call``, ``text`` or ``maybe`` (not yet known) for text held from a possible start."""
    if held.startswith(_CALL_MARKERS):
        return "call"
    if any(marker.startswith(held) for marker in _MARKERS):
        return "maybe"
    if held.startswith("<function="):
        return _function_tag(held, offered)
    if held.startswith(("<|channel|>", "<|start|>")):
        return _harmony(held)
    if held.startswith("```"):
        return _fence(held, offered)
    if held.lstrip(" \t")[:1] in ("{", "["):
        return _json_start(held, offered)
    return "text"


def _named(name: str, offered: Offered) -> str:
    return "call" if offered.get(name) is not None or known_name(name, offered) is not None else "text"


def _function_tag(held: str, offered: Offered) -> str:
    m = _FUNCTION_TAG_RE.match(held)
    if m is None or not m.group(2):
        return "maybe" if m is not None and len(held) < 200 else "text"
    return _named(m.group(1), offered)


def _harmony(held: str) -> str:
    if "<|message|>" not in held:
        return "maybe" if len(held) < 300 else "text"
    return "call" if "to=functions." in held.split("<|message|>", 1)[0] else "text"


def _fence(held: str, offered: Offered) -> str:
    head, newline, rest = held[3:].partition("\n")
    lang = head.strip().lower()
    if not newline:
        return "maybe" if any(known.startswith(lang) for known in _FENCE_LANGS) and len(head) < 20 else "text"
    if lang not in _FENCE_LANGS:
        return "text"
    body = rest.lstrip()
    if not body:
        return "maybe"
    return _json_start(body, offered) if body[0] in "{[" else "text"


def _json_start(held: str, offered: Offered) -> str:
    """A JSON object or list (or Llama 4's pythonic list) that may be a call."""
    body = held.lstrip()
    pythonic = _PYTHONIC_RE.match(body) if body.startswith("[") else None
    if pythonic is not None and pythonic.group(2):
        return _named(pythonic.group(1), offered)
    first = _FIRST_KEY_RE.match(body)
    if first is None:
        return "maybe" if len(body.rstrip()) <= 2 or (pythonic and len(body) < 80) else "text"
    key, closed = first.groups()
    if not any(k.startswith(key) if not closed else k == key for k in _CALL_KEYS):
        return "text"
    name = _NAME_RE.search(body)
    if name is not None:
        return _named(name.group(1), offered)
    # Only a closing bracket can end a JSON value: parsing on every piece would cost the square.
    parsed = _json_at(body, 0) if body.rstrip()[-1:] in ("}", "]") else None
    if parsed is not None:
        return "call" if _calls_in(parsed[0], offered) else "text"
    return "maybe" if len(body) < MAX_UNDECIDED else "text"
