"""What each role may read of ``/status`` and of the page's data (pure).

An admin reads everything. A viewer reads the state of providers, models, groups and the
aggregate traffic, but nothing that locates a secret or belongs to one request of another
client: no key source, no file path (the config, token files, the store), no reload error text
(it names files and lines), no request list. A client reads only whether proxyd and its
providers are up, and which models they serve: nothing of other clients at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxyd.config.settings import Role
from proxyd.diagnosis import Diagnosis

# Values of a diagnosis that locate a secret or a file: where a key comes from, a server's program.
_LOCATING = ("key_source", "program")
# What a client sees of a provider in /status: enough to know why its requests fail.
_CLIENT_PROVIDER_FIELDS = ("name", "state", "wire", "detected_wire", "models")


def status_for(doc: dict[str, Any], role: Role) -> dict[str, Any]:
    """``/status`` as ``role`` may read it (``doc`` is the admin's document)."""
    if role == "admin":
        return doc
    if role == "client":
        config = doc["config"]
        return {
            "version": doc["version"],
            "ready": doc["ready"],
            "config": {"generation": config["generation"], "loaded_at": config["loaded_at"]},
            "providers": [
                {**{k: p.get(k) for k in _CLIENT_PROVIDER_FIELDS}, **_local_states(p)} for p in doc["providers"]
            ],
            "groups": [{"alias": g["alias"], "strategy": g["strategy"]} for g in doc["groups"]],
        }
    config, access = doc["config"], doc["access"]
    return {
        **doc,
        "config": {**config, "source": None, "last_reload": _reload_for_viewer(config.get("last_reload"))},
        "access": {"clients": [{"name": c["name"], "models": c["models"]} for c in access["clients"]]},
        "store": {k: v for k, v in doc["store"].items() if k != "where"} if doc.get("store") else doc.get("store"),
        "providers": [{**p, "key": None, **_local_for_viewer(p)} for p in doc["providers"]],
    }


def _local_states(provider: dict[str, Any]) -> dict[str, Any]:
    """Whether its local servers run: enough for a client to know why its request waits."""
    return _local_fields(provider, lambda local: {"state": local["state"], "for_s": local["for_s"]})


def _local_for_viewer(provider: dict[str, Any]) -> dict[str, Any]:
    """Its local servers without their output (it names files), process ids, or program."""
    return _local_fields(provider, lambda local: {**local, "pid": None, "last_lines": [], **_unlocated(local, "error")})


def _unlocated(said: dict[str, Any] | None, cause: str = "cause") -> dict[str, Any]:
    """A diagnosis's fields (``said[cause]``, ``fix``, ``diagnosis``) without the values that
    locate a secret or a file; nothing when it has none."""
    d = (said or {}).get("diagnosis")
    if not d or not any(k in d["params"] for k in _LOCATING):
        return {}
    shown = Diagnosis(d["code"], {**d["params"], **{k: "…" for k in _LOCATING if k in d["params"]}},
                      d["fix_code"], d["via"])  # fmt: skip
    out = {cause: shown.cause, "diagnosis": shown.as_json()}
    return {**out, "fix": shown.fix} if "fix" in (said or {}) else out


def _provider_for_viewer(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "key": None, "test": _test_for_viewer(p.get("test")), **_unlocated(p), **_local_for_viewer(p)}


def _test_for_viewer(test: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Test's result without its curl command, which says where the key comes from."""
    return None if test is None else {**test, "curl": None, **_unlocated(test)}


def _local_fields(provider: dict[str, Any], shown: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    local, models = provider.get("local"), provider.get("local_models")
    return {
        "local": shown(local) if local else None,
        "local_models": {m: shown(v) for m, v in models.items()} if models else None,
    }


def page_for(doc: dict[str, Any], role: Role) -> dict[str, Any]:
    """The page's data as ``role`` may read it: a viewer's page is read-only, without key
    sources, the config's path or the request list."""
    if role == "admin":
        return doc
    return {
        **doc,
        "providers": [_provider_for_viewer(p) for p in doc["providers"]],
        "traffic": {**doc["traffic"], "recent": []},
        "config": None,
        "reload_failed": _reload_for_viewer(doc.get("reload_failed")),
        "editable": False,
        "not_editable": "read-only: this token's role is viewer (changes and Tests need an admin's token)",
        "not_editable_code": "viewer",
    }


def _reload_for_viewer(last: dict[str, Any] | None) -> dict[str, Any] | None:
    if last is None:
        return None
    return {k: last[k] for k in ("result", "trigger", "at", "since") if k in last}
