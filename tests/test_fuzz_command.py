"""``python -m bench.fuzz`` (``make fuzz``) stays working: the long-run command with a tiny
budget, under both engines, and its input decoder on the inputs the targets rely on. The long run
itself is not part of the suite (docs/security.md, "Fuzzing")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.fuzz import WEIGHTS, Bytes, Request, check_set_cookies, header_from

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("engine", ["atheris", "hypothesis"])
def test_the_fuzz_command_runs_every_target_with_a_small_budget(engine: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.fuzz", "--budget", "small", "--engine", engine],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ran = {line.split()[0] for line in done.stdout.splitlines() if "no failure" in line}
    assert ran == set(WEIGHTS)


def test_the_same_bytes_make_the_same_input() -> None:
    data = bytes(range(256)) * 4
    assert header_from(Bytes(data)) == header_from(Bytes(data))
    assert Request.from_bytes(data) == Request.from_bytes(data)


def test_empty_bytes_still_make_an_input() -> None:
    assert header_from(Bytes(b"")) == ""
    assert Request.from_bytes(b"") == Request([b""], "/")


def test_the_set_cookie_oracle_rejects_what_a_browser_would_mangle() -> None:
    check_set_cookies(["a=b; Path=/; Max-Age=0; Secure", " a=b; Path=/; Max-Age=1; SameSite=Lax"])
    for bad in ["a=b\r\nX: y; Path=/; Max-Age=0", "a=b; Path=/; Max-Age=0; Domain=", "=b; Path=/"]:
        with pytest.raises(AssertionError):
            check_set_cookies([bad])
    with pytest.raises(AssertionError):
        check_set_cookies(["a=b; Path=/; Max-Age=0"] * 321)
