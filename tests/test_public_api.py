"""The public API is exactly what docs/api.md says: for ``ssrauth`` and each public module, the
names the page lists and the module's ``__all__`` are one set, every listed name exists, every
public module has its section, and the error tree drawn there is the classes' own (httpx keeps
the same promise in ``tests/test_exported_members.py``).

The page is read as written: a ``## `module``` heading opens a module's section, and each list
item that starts with a backticked name documents that name; indentation in the errors list is
subclassing.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import ssrauth

ROOT = Path(__file__).resolve().parents[1]
API_PAGE = ROOT / "docs" / "api.md"
PACKAGE_DIR = ROOT / "src" / "ssrauth"

SECTION = re.compile(r"^## `(ssrauth(?:\.\w+)?)`\s*$", re.M)
ITEM = re.compile(r"^(?P<indent> *)- `(?P<name>\w+)`", re.M)


def documented() -> dict[str, list[tuple[int, str]]]:
    """Module name → its list items on the page: (indentation, name), in page order."""
    text = API_PAGE.read_text(encoding="utf-8")
    heads = list(SECTION.finditer(text))
    sections: dict[str, list[tuple[int, str]]] = {}
    for head, following in zip(heads, [*heads[1:], None], strict=True):
        body = text[head.end():following.start() if following else None]
        sections[head.group(1)] = [(len(m.group("indent")), m.group("name"))
                                   for m in ITEM.finditer(body)]
    return sections


def public_modules() -> list[str]:
    """``ssrauth`` and every module file under it without a leading underscore (``__main__``
    runs the command; ``demo/`` is an app, not an API)."""
    files = sorted(p.stem for p in PACKAGE_DIR.glob("*.py") if not p.stem.startswith("_"))
    return ["ssrauth", *(f"ssrauth.{stem}" for stem in files)]


def test_every_public_module_has_a_section_and_no_other_does() -> None:
    assert sorted(documented()) == sorted(public_modules())


@pytest.mark.parametrize("module_name", public_modules())
def test_the_page_lists_exactly_the_module_exports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__) | ({"__version__"} if module is ssrauth else set())
    listed = [name for _, name in documented()[module_name]]
    assert len(listed) == len(set(listed)), f"{module_name}: a name listed twice"
    assert set(listed) - exported == set(), f"{module_name}: documented but not exported"
    assert exported - set(listed) == set(), f"{module_name}: exported but not documented"
    for name in listed:
        assert getattr(module, name) is not None, f"{module_name}.{name} does not resolve"


def test_the_error_tree_on_the_page_is_the_class_tree() -> None:
    """Each error's parent on the page (the nearest less-indented error above it) is a direct
    base of the class, and every exported error is drawn."""
    items = documented()["ssrauth"]
    errors = [(indent, name) for indent, name in items
              if isinstance(getattr(ssrauth, name), type)
              and issubclass(getattr(ssrauth, name), BaseException)]
    assert errors[0] == (0, "SsrAuthError")
    parents: list[tuple[int, str]] = []
    for indent, name in errors:
        while parents and parents[-1][0] >= indent:
            parents.pop()
        if parents:
            parent = getattr(ssrauth, parents[-1][1])
            assert parent in getattr(ssrauth, name).__bases__, (name, parent)
        parents.append((indent, name))
    exported_errors = {name for name in ssrauth.__all__
                       if isinstance(getattr(ssrauth, name), type)
                       and issubclass(getattr(ssrauth, name), BaseException)}
    assert {name for _, name in errors} == exported_errors


def test_the_reader_finds_what_a_broken_page_would_hide() -> None:
    """The parser itself: a heading it misses or an item it skips would make the checks above
    pass on anything."""
    sections = documented()
    assert (0, "__version__") in sections["ssrauth"]
    assert (4, "ProviderRejected") in sections["ssrauth"]
    assert len(sections["ssrauth"]) == len(ssrauth.__all__) + 1
