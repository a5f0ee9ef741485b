"""The test suite's own layout rules: a test module imports helpers, never another test module or a
``conftest.py``, and a ``conftest.py`` only registers fixtures.

Why: a test module imported by another runs its module-level code twice under two names and
hides shared helpers among tests; pytest loads ``conftest.py`` itself, so importing one gives a
second copy of its module. Helpers live in modules named by what they provide
(``tests/integration/rig/…``, ``tests/unit/factory.py``, ``tests/browser_jar.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SKIPPED_FOLDERS = {"node_modules", "dist", "__pycache__"}


def suite_modules() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py")
                  if not SKIPPED_FOLDERS & set(path.relative_to(TESTS).parts))


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, dotted and absolute (relative imports resolved)."""
    package = list(path.relative_to(TESTS.parent).with_suffix("").parts[:-1])
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # ``from . import x`` may import the module ``x`` itself.
            found += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return found


def forbidden(module: str) -> bool:
    last = module.rpartition(".")[2]
    return module.startswith("tests") and (last.startswith("test_") or last == "conftest")


def test_the_rules_see_the_suite() -> None:
    names = {path.name for path in suite_modules()}
    assert {"conftest.py", "test_suite_layout.py", "browser_jar.py"} <= names
    assert forbidden("tests.unit.test_plan")
    assert forbidden("tests.integration.conftest")
    assert not forbidden("tests.integration.rig.browsers")
    assert not forbidden("ssrauth.conftest")


@pytest.mark.parametrize("path", suite_modules(), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_module_imports_a_test_module_or_a_conftest(path: Path) -> None:
    assert [m for m in imported_modules(path) if forbidden(m)] == []


@pytest.mark.parametrize("path", sorted(TESTS.rglob("conftest.py")),
                         ids=lambda p: str(p.relative_to(TESTS)))
def test_a_conftest_only_registers_fixtures(path: Path) -> None:
    """Top-level functions are fixtures; no classes, no constants (imports and the docstring
    only besides)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    strays = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.FunctionDef) and any(
                "fixture" in ast.unparse(decorator) for decorator in node.decorator_list):
            continue
        strays.append(ast.unparse(node).partition("\n")[0])
    assert strays == []
