"""Gemini's thought signatures, carried through the other wires in the call's id (pure).

A Gemini thinking model signs its function calls (``thoughtSignature``), and refuses the next
turn when a call comes back without its signature. Other wires have no field for it, but every
client sends a call's id back as it got it: the signature rides in the id, marked as proxyd's
(:data:`MARK`), URL-safe base64 so that the id keeps to ``[A-Za-z0-9_-]`` (Anthropic's tool ids).
Only a mark proxyd wrote is read back: a signature it did not issue reaches no provider.
"""

from __future__ import annotations

import base64
import binascii

MARK = "__pxsig_"
# Google's documented stand-in for a call that has no signature of its own (a call made by another
# model, or injected by the client): it passes the validator of Gemini 3's function-call turns.
SKIP = "skip_thought_signature_validator"


def signed_id(call_id: str, signature: object) -> str:
    if not isinstance(signature, str) or not signature:
        return call_id
    encoded = base64.urlsafe_b64encode(signature.encode()).decode().rstrip("=")
    return f"{call_id}{MARK}{encoded}"


def unsigned(call_id: str) -> tuple[str, str | None]:
    """The call's own id, and the signature proxyd put in it (None: none, or not proxyd's)."""
    head, mark, tail = call_id.partition(MARK)
    if not mark or not tail:
        return call_id, None
    try:
        raw = base64.b64decode(tail + "=" * (-len(tail) % 4), altchars=b"-_", validate=True)
        signature = raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return call_id, None
    return (head, signature) if signature else (call_id, None)
