"""docs/tokens.md's examples, run as written: a tuned key source for a manager, and verifying
one token with keys handed in (its answers and reasons)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "tokens.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_its_two_examples() -> None:
    assert len(python_blocks()) == 2


def test_a_tuned_key_source_is_the_managers() -> None:
    namespace: dict[str, object] = {}
    exec(compile(python_blocks()[0], "docs/tokens.md:tuned", "exec"), namespace)

    manager, keys = namespace["manager"], namespace["keys"]
    assert manager.jwks is keys  # type: ignore[attr-defined]
    assert keys.refetch_interval == 10.0  # type: ignore[attr-defined]
    manager.close()  # type: ignore[attr-defined]


def test_verifying_one_token_answers_claims_and_reasons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exec(compile(python_blocks()[1], "docs/tokens.md:verify", "exec"), {})

    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("expired: token expired at ")
    assert printed[1] == "refused: token lacks the 'aud' claim"
