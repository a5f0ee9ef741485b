"""The Python examples of docs/extending.md, run as the page shows them: the blocks of one
section, and a module made of them (``exec``, in page order, under the page's file name so a
traceback points at the page)."""

from __future__ import annotations

import re
import types
from pathlib import Path

EXTENDING_DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def extending_doc_blocks(section: str) -> list[str]:
    """The Python examples of one section (``## A store``) of docs/extending.md, as written."""
    text = EXTENDING_DOC.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return re.findall(r"```python\n(.*?)```", text[start:end if end >= 0 else None], re.S)


def extending_doc_module(blocks: list[str]) -> types.ModuleType:
    """``blocks`` run one after another as one module, exactly as written."""
    module = types.ModuleType("extending_doc")
    exec(compile("\n".join(blocks), "docs/extending.md", "exec"), module.__dict__)
    return module
