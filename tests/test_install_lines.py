"""Every install line and make target the README and docs/*.md name exists: each extra in
``pip install -e '.[…]'`` (from a checkout) and ``pip install 'ssrauth[…]'`` (once published) is
declared in pyproject.toml, and each ``make X`` is a Makefile target. The quick starts those lines
install for are run by their own tests (test_readme, test_frameworks_doc, test_metrics,
test_testing_plugin); the packaging test installs the built wheel itself."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXTRAS = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
             ["project"]["optional-dependencies"])
TARGETS = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"),
                         re.M))
INSTALL = re.compile(r"pip\s+install\s+(?:-e\s+)?'(?:\.|ssrauth)\[([\w,]+)\]'")


def named(pattern: re.Pattern[str] | str) -> list[tuple[str, str]]:
    return [(doc.relative_to(ROOT).as_posix(), found) for doc in DOCS
            for found in re.findall(pattern, doc.read_text(encoding="utf-8"))]


def test_the_docs_name_install_lines_and_make_targets() -> None:
    assert len(named(INSTALL)) >= 10
    assert {target for _, target in named(r"`make (\w+)")} >= {"demo", "test", "bench"}


@pytest.mark.parametrize(("doc", "extras"), named(INSTALL))
def test_every_extra_an_install_line_names_is_declared(doc: str, extras: str) -> None:
    assert set(extras.split(",")) <= EXTRAS, doc


@pytest.mark.parametrize(("doc", "target"), sorted(set(named(r"`make (\w+)"))))
def test_every_make_target_the_docs_name_exists(doc: str, target: str) -> None:
    assert target in TARGETS, doc

