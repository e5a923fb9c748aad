"""The one error translation raises: a client request that cannot be mapped, naming its field."""

from __future__ import annotations


class TranslationError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = f"{param}: {message}"
