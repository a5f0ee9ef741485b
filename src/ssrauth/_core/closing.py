"""Context-manager faces for objects that hold connections: ``with`` and ``async with`` call
``close()`` / ``aclose()``, the shape httpx's clients have, written once for every owner."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

__all__ = ["Closing"]


class Closing(ABC):
    """Subclasses say how to close; ``with`` / ``async with`` close them on the way out."""

    @abstractmethod
    def close(self) -> None:
        """Release what this object opened (blocking face)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release what this object opened, from a coroutine (its loop's clients here)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
