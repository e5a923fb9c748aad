"""Known services, told apart by a base URL's host and port, and the defaults each gets (pure).

A user pastes a base URL and a key; what proxyd knows of the service behind it fills the
rest: which wire to speak, where the API lives, which request fields it takes. Detection only
sets defaults: anything the provider's config says wins, and nothing is ever refused for
being unknown.

Also here: the plain-HTTP policy. ``http://`` is fine where the traffic never leaves the
machine or the private network (loopback, private ranges, ``.local`` mDNS names, one-label LAN
names, Docker's ``host.docker.internal``, Tailscale's 100.64/10 and ``.ts.net``); anywhere else
a key would cross the internet in clear text, so it takes ``allow_insecure_http: true``.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Wire = Literal["auto", "responses", "chat", "anthropic", "gemini"]
Reasoning = Literal["openai", "openrouter", "none"]
Content = Literal["parts", "string", "user-parts"]
MaxTokens = Literal["keep", "max_tokens", "max_completion_tokens"]
Auth = Literal["bearer", "api-key", "x-api-key", "x-goog-api-key", "none"]


@dataclass(frozen=True)
class Service:
    name: str
    wire: Wire = "chat"
    api_path: str = "/v1"  # where the API lives; added to a base URL given without a path
    reasoning: Reasoning = "openai"  # how reasoning effort is sent
    developer_role: bool = False  # takes the "developer" role (else it is sent as "system")
    content: Content = "parts"  # "string": part arrays flattened to text; "user-parts": all but user messages
    max_tokens_field: MaxTokens = "keep"
    auth: Auth = "bearer"
    tool_call_ids: Literal["keep", "alnum9"] = "keep"
    cache_control: Literal["keep", "drop"] = "drop"  # takes Anthropic's cache breakpoints on content parts
    prompt_cache_key: Literal["keep", "drop"] = "drop"  # takes OpenAI's prompt_cache_key


# (host suffix or "", port or None) -> service; the first match wins.
KNOWN: tuple[tuple[str, int | None, Service], ...] = (
    ("api.anthropic.com", None, Service("Anthropic", wire="anthropic", auth="x-api-key")),
    ("generativelanguage.googleapis.com", None, Service("Google AI Studio", wire="gemini", api_path="/v1beta",
                                                        auth="x-goog-api-key")),
    ("openrouter.ai", None, Service("OpenRouter", wire="auto", api_path="/api/v1", reasoning="openrouter",
                                    cache_control="keep", prompt_cache_key="keep")),
    ("api.groq.com", None, Service("Groq", api_path="/openai/v1", content="user-parts")),
    ("api.together.xyz", None, Service("Together", max_tokens_field="max_tokens")),
    ("api.together.ai", None, Service("Together", max_tokens_field="max_tokens")),
    ("api.mistral.ai", None, Service("Mistral", max_tokens_field="max_tokens", tool_call_ids="alnum9")),
    ("api.perplexity.ai", None, Service("Perplexity", api_path="", reasoning="none", max_tokens_field="max_tokens")),
    ("api.fireworks.ai", None, Service("Fireworks", api_path="/inference/v1", max_tokens_field="max_tokens")),
    ("api.deepseek.com", None, Service("DeepSeek", reasoning="none", content="string", max_tokens_field="max_tokens")),
    ("api.cerebras.ai", None, Service("Cerebras", content="string")),
    (".openai.azure.com", None, Service("Azure OpenAI", wire="auto", api_path="/openai/v1", developer_role=True,
                                        max_tokens_field="max_completion_tokens", auth="api-key",
                                        prompt_cache_key="keep")),
    ("api.openai.com", None, Service("OpenAI", wire="auto", developer_role=True,
                                     max_tokens_field="max_completion_tokens", prompt_cache_key="keep")),
    ("", 1234, Service("LM Studio", max_tokens_field="max_tokens")),
    ("", 11434, Service("Ollama", wire="auto", max_tokens_field="max_tokens")),
    ("", 4000, Service("LiteLLM", cache_control="keep")),
    ("", 8000, Service("vLLM", wire="auto")),
)  # fmt: skip

# Anthropic-compatible endpoints that OpenAI-style services publish beside their main API.
ANTHROPIC_COMPATIBLE = Service("an Anthropic-compatible endpoint", wire="anthropic", api_path="", auth="x-api-key")
GENERIC = Service("an OpenAI-compatible server", wire="auto", developer_role=True)  # left as it is


def detect(base_url: str) -> Service | None:
    """The known service behind ``base_url``; ports alone count only for local hosts."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        return None
    for suffix, known_port, service in KNOWN:
        if suffix and (host == suffix.lstrip(".") or host.endswith(suffix if suffix[0] == "." else "." + suffix)):
            return service
        if known_port is not None and port == known_port and is_local_host(host):
            return service
    return None


def anthropic_hint(given: str) -> bool:
    """Does a base URL, as the user gave it, point at an Anthropic Messages API? A pasted
    ``.../messages`` does, and so does the ``/anthropic`` path under which DeepSeek, Moonshot and
    others serve one."""
    path = urlsplit(given.strip()).path.rstrip("/").lower()
    return path.endswith("/messages") or path.endswith("/anthropic") or "/anthropic/" in path


def complete_base_url(base_url: str, service: Service | None) -> tuple[str, str | None]:
    """``base_url`` with the service's API path added when it was given without any path;
    the second value says what was added (for a log line), or None."""
    if service is None or not service.api_path:
        return base_url, None
    parts = urlsplit(base_url)
    if parts.path not in ("", "/"):
        return base_url, None  # a path the user chose is kept as given
    return base_url.rstrip("/") + service.api_path, service.api_path


_TAILSCALE = ipaddress.ip_network("100.64.0.0/10")
_LOCAL_NAMES = ("localhost", "host.docker.internal")
_LOCAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa", ".ts.net")


def is_local_host(host: str) -> bool:
    """True for hosts whose traffic stays on the machine or the private network."""
    host = host.lower().strip("[]").rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES) or ("." not in host and bool(host))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip in _TAILSCALE


@functools.lru_cache(maxsize=256)
def is_local_url(url: str) -> bool:
    """:func:`is_local_host` of a URL's host, remembered: it is asked of base URLs per request."""
    return is_local_host(urlsplit(url).hostname or "")


def plain_http_problem(base_url: str, written: str | None = None) -> str | None:
    """Why ``base_url`` may not be plain HTTP, or None when it is fine; ``written``: the URL as
    the config wrote it, when that names variables (the message quotes it, not their values)."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or is_local_host(parts.hostname or ""):
        return None
    host = parts.hostname if written is None else (urlsplit(written).netloc or written)
    return (
        f"is plain http:// to {host}, a host outside this machine and private network: the key and "
        "every prompt would cross the internet unencrypted. Use https://, or set allow_insecure_http: true "
        "for this provider if the network is trusted"
    )
