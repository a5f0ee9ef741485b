"""Fixtures for the shared (cross-process) coordinators: a store per test, SQLite and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .stores import REDIS_URL, STORES, StoreSpec, redis_client


@pytest.fixture
def new_store(tmp_path: Path) -> Iterator[Callable[[str], StoreSpec]]:
    """Makes an empty store of a kind; Redis keys under a fresh prefix, deleted afterwards."""
    prefixes: list[str] = []

    def make(kind: str) -> StoreSpec:
        if kind == "sqlite":
            return StoreSpec("sqlite", str(tmp_path / f"ssrauth-{uuid.uuid4().hex}.db"))
        redis_client()  # fails the test with a clear message when Redis is not there
        prefixes.append(f"ssrauth-test:{uuid.uuid4().hex}:")
        return StoreSpec("redis", REDIS_URL, prefixes[-1])

    yield make
    if prefixes:
        client = redis_client()
        for prefix in prefixes:
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, new_store: Callable[[str], StoreSpec]) -> StoreSpec:
    return new_store(request.param)
