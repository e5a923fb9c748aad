"""Which response store a config names (pure): SQLite on this machine, or a shared Redis by URL.

A store's URL may hold its password, so what is shown (``/status``, logs, errors) is
:func:`shown`: scheme, host, port and database, never the user or password.
"""

from __future__ import annotations

from urllib.parse import urlsplit

SHARED_SCHEMES = ("redis", "rediss", "unix")


def url_problem(url: str) -> str | None:
    """Why ``store.url`` cannot be used, if it cannot."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:  # its words quote the URL's parts, which may hold the password
        return "is not a URL (its host or port cannot be read); write redis://[:password@]host:6379/0"
    scheme = parts.scheme.lower()
    if scheme in ("postgres", "postgresql", "sqlite", "mysql"):
        return (
            f"{scheme} is not a store proxyd can share: use redis://host:6379/0 (or rediss:// for TLS), "
            "or leave store.url out for the SQLite file on this machine"
        )
    if scheme not in SHARED_SCHEMES:
        return "must be a Redis URL: redis://[:password@]host:6379/0, rediss:// for TLS, or unix:///path/redis.sock"
    if scheme != "unix" and not parts.hostname:
        return "names no host; write redis://host:6379/0"
    if scheme == "unix" and not parts.path:
        return "names no socket; write unix:///run/redis/redis.sock"
    return None


def shown(url: str) -> str:
    """The URL without its user and password, safe to show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
