"""With no configuration, the workers of one machine share a SQLite file in the user's private
runtime directory, one per app; the manager says at start-up which coordinator it uses and why.
(That the workers then make one provider call for one expiry: test_revocation_feed.py.)"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ssrauth import (
    LocalCoordinator,
    ManualClock,
    RedisCoordinator,
    SessionManager,
    SqliteCoordinator,
)
from ssrauth._coordination.url import coordinator_from_env, default_store_path
from ssrauth.emulator import CognitoEmulator


def private_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    return folder


def test_unset_gives_a_sqlite_file_per_app_in_the_runtime_directory(
    tmp_path: Path, emulator: CognitoEmulator, clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = private_folder(tmp_path)
    environ = {"XDG_RUNTIME_DIR": str(runtime)}
    config = emulator.config()
    other_app = config.with_changes(client_id="anotherclientid123")

    with caplog.at_level(logging.INFO, logger="ssrauth"):
        coordinator = coordinator_from_env(clock=clock, environ=environ, config=config)

    assert isinstance(coordinator, SqliteCoordinator)
    path = default_store_path(config, environ)
    assert path is not None
    assert path.parent == runtime / "ssrauth"
    assert coordinator.store.path == str(path)
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert default_store_path(other_app, environ) != path  # two apps never share a file
    assert default_store_path(config, environ) == path  # every worker of one app finds it
    assert f"SqliteCoordinator (SSRAUTH_COORDINATOR is unset: the worker processes of this " \
           f"machine share {path}" in caplog.text
    assert "redis://" in caplog.text  # and what several hosts need
    coordinator.close()


def test_without_a_runtime_directory_a_private_one_is_made_in_the_temp_dir(
    tmp_path: Path, emulator: CognitoEmulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    path = default_store_path(emulator.config(), {})
    assert path is not None
    assert path.parent == tmp_path / f"ssrauth-{os.getuid()}"
    assert os.stat(path.parent).st_mode & 0o777 == 0o700


def test_a_folder_others_may_enter_is_refused_and_the_manager_stays_in_process(
    tmp_path: Path, emulator: CognitoEmulator, clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Another user who can write there could plant tombstones or read what is stored."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    shared = tmp_path / f"ssrauth-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))  # not private either
    monkeypatch.delenv("SSRAUTH_COORDINATOR", raising=False)

    with caplog.at_level(logging.INFO, logger="ssrauth"):
        manager = SessionManager(emulator.config(), clock=clock)

    assert isinstance(manager.coordinator, LocalCoordinator)
    assert "LocalCoordinator (SSRAUTH_COORDINATOR is unset and no private runtime" in caplog.text


def test_the_log_line_names_the_configured_store_without_its_password(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture,
) -> None:
    environ = {"SSRAUTH_COORDINATOR": "redis://:s3cret@127.0.0.1:6379/0"}
    with caplog.at_level(logging.INFO, logger="ssrauth"):
        coordinator = coordinator_from_env(clock=clock, environ=environ)
    assert "RedisCoordinator (SSRAUTH_COORDINATOR=redis://:***@127.0.0.1:6379/0)" in caplog.text
    assert "s3cret" not in caplog.text
    assert isinstance(coordinator, RedisCoordinator)
    coordinator.close()
