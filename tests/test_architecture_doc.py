"""docs/architecture.md stays true to the tree: its module table has a row for every module of
``src/ssrauth`` (a subpackage's ``__init__.py`` under the package's own row, ``demo/`` as one
app), and every module path the page names in backticks exists, so a module renamed, split or
added without its line fails here rather than leaving the map wrong."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "src" / "ssrauth"
PAGE = ROOT / "docs" / "architecture.md"

#: A backticked module path: ``_core/steps.py``, ``wsgi.py``, ``_manager/``, ``tests/x.py``.
MODULE_PATH = re.compile(r"`((?:\w+/)*\w+\.py|\w+/)`")
#: The first cell of a row of the module table.
TABLE_ROW = re.compile(r"^\| ([^|]+) \|", re.M)


def row_of(module: Path) -> str:
    """The row a module file belongs to, as the table names it."""
    relative = module.relative_to(PACKAGE_DIR)
    if relative.parts[0] == "demo":
        return "demo/"
    if len(relative.parts) > 1 and relative.name == "__init__.py":
        return f"{relative.parent.as_posix()}/"
    return relative.as_posix()


def table_rows() -> set[str]:
    rows: set[str] = set()
    for cell in TABLE_ROW.findall(PAGE.read_text(encoding="utf-8")):
        rows.update(MODULE_PATH.findall(cell))
    return rows


def test_every_module_has_a_row() -> None:
    modules = {row_of(path) for path in PACKAGE_DIR.rglob("*.py")}
    assert modules - table_rows() == set(), "modules with no row in docs/architecture.md"


def test_every_module_path_the_page_names_exists() -> None:
    text = PAGE.read_text(encoding="utf-8")
    demo_files = {path.name for path in (PACKAGE_DIR / "demo").glob("*.py")}
    missing = []
    for named in set(MODULE_PATH.findall(text)):
        if named.startswith(("tests/", "bench/")):
            exists = (ROOT / named).exists()
        else:
            exists = (PACKAGE_DIR / named).exists() or named in demo_files
        if not exists:
            missing.append(named)
    assert missing == [], "docs/architecture.md names paths that do not exist"


def test_the_checks_read_the_table() -> None:
    """The reader itself: a table it could not see would make both checks pass on anything."""
    rows = table_rows()
    assert {"_core/steps.py", "_manager/flows.py", "__init__.py", "demo/"} <= rows
