"""What every response store is (pure): a record, the interface, and the error of a store that is down.

Two engines keep it: SQLite on this machine (:mod:`.sqlite`, the default) and Redis shared by
several instances (:mod:`.shared`). Both promise the same: ``put`` returns once any instance can
``get`` the record, records go by age (``store.max_age_days``) and, oldest first, by size
(``store.max_mb``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Record:
    input: list[dict[str, Any]]
    response: dict[str, Any]


class StoreDown(Exception):
    """The store did not answer (a shared store that is down or unreachable); ``where`` is safe to show."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where, self.detail = where, detail


class ResponseStore(Protocol):
    where: str  # what the store is, safe to show: a file's path, or a URL without its password

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def get(self, response_id: str) -> Record | None: ...

    async def put(self, input_items: list[dict[str, Any]], response: dict[str, Any]) -> None: ...

    async def delete(self, response_id: str) -> bool: ...

    def describe(self) -> dict[str, Any]:
        """For ``/status``: the engine, where it is, and whether its last call worked."""
        ...
