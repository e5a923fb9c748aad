"""The runtime: what a reload keeps of each provider's record."""

from __future__ import annotations

from typing import Any

from proxyd.runtime import Runtime
from tests.conftest import make_config


async def test_a_learned_wire_survives_an_edit_of_a_model_but_not_of_the_wire() -> None:
    def config(**extra: Any) -> Any:
        return make_config({"providers": [{"name": "a", "base_url": "http://127.0.0.1:1/v1", **extra}]})

    runtime = Runtime(config())
    try:
        runtime.wires["a"].learn("chat", "POST /responses answered 404", None)
        runtime.swap(config(models=[{"id": "m", "context_window": 8192}]))  # the page set a model's window
        assert runtime.wires["a"].wire == "chat"
        runtime.swap(config(models=[{"id": "m", "context_window": 8192}], wire="responses"))
        assert runtime.wires["a"].wire is None  # a new wire setting: detect again
    finally:
        await runtime.close()
