"""What every response store is (pure): a record, the interface, and the error of a store that is down.

Two engines keep it: SQLite on this machine (:mod:`.sqlite`, the default) and Redis shared by
several instances (:mod:`.shared`). Both promise the same: ``put`` returns once any instance can
``get`` the record, records go by age (``store.max_age_days``) and, oldest first, by size
(``store.max_mb``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# The owner of a record kept before records had one: the one-person proxyd's client name.
UNOWNED = "default"


@dataclass(frozen=True)
class Record:
    input: list[dict[str, Any]]
    response: dict[str, Any]
    owner: str = UNOWNED  # the client (listen.tokens name) whose turn it is: only it may read it


class StoreDown(Exception):
    """The store did not answer (a shared store that is down or unreachable); ``where`` is safe to show."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where, self.detail = where, detail


class LastCall:
    """Whether a store's last call worked, and if not, what it raised: for ``/status``, and
    the :class:`StoreDown` a failed call becomes (both engines keep one)."""

    def __init__(self, engine: str, where: str) -> None:
        self.engine, self.where = engine, where
        self.error: str | None = None

    def ok(self) -> None:
        self.error = None

    def failed(self, exc: BaseException) -> StoreDown:
        self.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return StoreDown(self.where, self.error)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.engine, "where": self.where, "ok": self.error is None, "error": self.error}


class ResponseStore(Protocol):
    where: str  # what the store is, safe to show: a file's path, or a URL without its password

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def get(self, response_id: str) -> Record | None: ...

    async def put(self, input_items: list[dict[str, Any]], response: dict[str, Any], owner: str = UNOWNED) -> None: ...

    async def delete(self, response_id: str) -> bool: ...

    def describe(self) -> dict[str, Any]:
        """For ``/status``: the engine, where it is, and whether its last call worked."""
        ...
