"""The layers as a test: ssrauth's import contract, read from the source with ``ast``.

Layers, bottom to top (a module imports only from its own layer or below; two different
packages on one layer stay independent of each other):

    _core  <  _config  <  _coordination  <  _providers  <  _manager  <  _adapters | _audit
        <  public modules (ssrauth, starlette, fastapi, wsgi, flask, django, cli, emulator, demo)

- ``_core`` is pure (docs/architecture.md): besides itself it imports an allow-list of the
  standard library (no I/O module: no sockets, TLS, HTTP, SQLite, files, subprocesses, event
  loops) and PyJWT, nothing else: no httpx, redis, psycopg, cryptography, no web framework; and
  it calls no ``open``.
- The public adapters only translate: they reach the manager through ``ssrauth``'s own names,
  the manager's public face (``ssrauth._manager.manager``, ``.request``) and
  ``ssrauth._adapters`` (the pieces every adapter shares), never the core, the configuration,
  the providers, the coordinators or the manager's flows directly; ``_adapters`` itself builds
  on the core and the manager only.
- No module imports another module's private (``_x``) name, or reaches one as an attribute of
  a module it imported (``plan._x``).
- No import is hidden from this reading: ``importlib.import_module`` and ``__import__`` are
  refused.
- No import cycle among ssrauth's modules.

Every import counts, wherever it is written: at module level, inside a function, under
``if TYPE_CHECKING:``. The checker's own cases below feed it fake trees that break each rule,
so a rule that stopped biting would fail here too.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "ssrauth"

# Lower rank = lower layer. Packages sharing a rank may not import each other.
LAYERS: Mapping[str, int] = {
    "_core": 0,
    "_config": 1,
    "_coordination": 2,
    "_providers": 3,
    "_manager": 4,
    "_adapters": 5,
    "_audit": 5,
}
PUBLIC = "public"
PUBLIC_RANK = 6

ADAPTERS = frozenset(
    f"{PACKAGE}.{name}" for name in ("starlette", "fastapi", "wsgi", "flask", "django")
)
# Where an adapter may reach: the package's public names, the manager, what adapters share,
# and each other (FastAPI builds on Starlette's adapter, Flask on the WSGI one).
ADAPTER_REACH = (f"{PACKAGE}._manager.manager", f"{PACKAGE}._manager.request",
                 f"{PACKAGE}._adapters")
# What the adapters' shared pieces build on.
SHARED_ADAPTER_REACH = ("_adapters", "_core", "_manager")

# The standard library the pure core may use: computation, data and concurrency primitives.
# Anything else (sockets, files, processes, event loops, HTTP, SQLite…) is I/O for the edges.
CORE_STDLIB = frozenset({
    "__future__", "abc", "base64", "binascii", "bisect", "collections", "contextlib",
    "dataclasses", "datetime", "decimal", "enum", "functools", "hashlib", "heapq", "hmac",
    "ipaddress", "itertools", "json", "logging", "math", "numbers", "operator", "re", "secrets",
    "string", "struct", "threading", "time", "types", "typing", "unicodedata", "urllib.parse",
    "uuid", "warnings", "weakref",
})
CORE_THIRD_PARTY = frozenset({"jwt"})
# Calls that import out of sight of this reading.
DYNAMIC_IMPORTS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``importer`` reaches ``target`` (and, for ``from``
    imports, these ``names`` in it) on source line ``line``."""

    importer: str
    target: str
    names: tuple[str, ...]
    line: int


def modules_under(root: Path) -> dict[str, Path]:
    """Every module of the package under ``root`` (a ``src`` folder), by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> Iterator[Import]:
    """Every import in ``path``, with relative ones resolved: ``ast.walk`` reaches function
    bodies and ``if TYPE_CHECKING:`` blocks alike. ``from pkg import name`` points at the
    submodule ``pkg.name`` when there is one, else at ``pkg``."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names = tuple(alias.name for alias in node.names)
            submodules = [name for name in names if f"{base}.{name}" in known]
            for name in submodules:
                yield Import(module, f"{base}.{name}", (), node.lineno)
            rest = tuple(name for name in names if name not in submodules)
            if rest or not submodules:
                yield Import(module, base, rest, node.lineno)


def layer_of(module: str) -> tuple[str, int]:
    """(package, rank) of an ssrauth module: ``ssrauth._core.x`` → (``_core``, 0); the
    package itself and every module without a leading underscore are public."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1], LAYERS[parts[1]]
    return PUBLIC, PUBLIC_RANK


def is_ours(target: str) -> bool:
    return target == PACKAGE or target.startswith(f"{PACKAGE}.")


def within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(f"{prefix}.")


def core_may_import(target: str) -> bool:
    """The pure core's outside world: the allowed standard library, and PyJWT."""
    top = target.split(".")[0]
    if top == "urllib":
        return within(target, "urllib.parse")
    return top in CORE_STDLIB or top in CORE_THIRD_PARTY


def layer_violations(edge: Import) -> Iterator[str]:
    where = f"{edge.importer}:{edge.line} imports {edge.target}"
    package, rank = layer_of(edge.importer)
    if not is_ours(edge.target):
        if package == "_core" and not core_may_import(edge.target):
            yield f"{where}: the core is pure (standard library without I/O, and PyJWT only)"
        return
    target_package, target_rank = layer_of(edge.target)
    if target_rank > rank:
        yield f"{where}: {package} sits below {target_package}"
    elif target_rank == rank and target_package != package and package != PUBLIC:
        yield f"{where}: {package} and {target_package} are independent"
    if package == "_adapters" and target_package not in SHARED_ADAPTER_REACH:
        yield f"{where}: what the adapters share builds on the core and the manager only"
    if edge.importer in ADAPTERS and not (
        edge.target == PACKAGE
        or edge.target in ADAPTERS
        or any(within(edge.target, reach) for reach in ADAPTER_REACH)
    ):
        yield (
            f"{where}: adapters only translate; reach it through ssrauth's public names, "
            "the manager's public face (ssrauth._manager.manager, .request) or ssrauth._adapters"
        )


def private_name_violations(edge: Import) -> Iterator[str]:
    for name in edge.names:
        if name.startswith("_") and not name.startswith("__"):
            yield f"{edge.importer}:{edge.line} imports the private name {name} from {edge.target}"


def code_violations(module: str, path: Path, known: Mapping[str, Path]) -> Iterator[str]:
    """What the source does beyond its import statements: a private name reached as an
    attribute of one of our modules (``plan._x``), an import made at run time
    (``importlib.import_module``, ``__import__``), ``open`` in the pure core."""
    tree = ast.parse(path.read_text(), str(path))
    ours: set[str] = set()
    for edge in imports_of(module, path, known):
        if is_ours(edge.target) and not edge.names:
            ours.add(edge.target.rsplit(".", 1)[-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            ours.update(alias.asname or alias.name.split(".")[0] for alias in node.names
                        if is_ours(alias.name))
    core = layer_of(module)[0] == "_core"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ours and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            yield f"{module}:{node.lineno} reaches the private name {node.attr} of {node.value.id}"
        if isinstance(node, ast.Call):
            called = node.func
            name = (called.id if isinstance(called, ast.Name)
                    else called.attr if isinstance(called, ast.Attribute) else "")
            if name in DYNAMIC_IMPORTS:
                yield f"{module}:{node.lineno} imports at run time ({name}): write an import"
            elif core and name == "open" and isinstance(called, ast.Name):
                yield f"{module}:{node.lineno} opens a file: the core is pure"


def cycles(edges: Iterator[Import] | list[Import]) -> list[list[str]]:
    """The import cycles among our modules: strongly connected components (Tarjan) of more
    than one module, or a module importing itself."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if is_ours(edge.target):
            graph.setdefault(edge.importer, set()).add(edge.target)
            graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def contract_violations(root: Path) -> list[str]:
    """Everything the package under ``root`` does against its import contract."""
    known = modules_under(root)
    edges = [edge for module, path in known.items() for edge in imports_of(module, path, known)]
    problems = [
        problem
        for edge in edges
        for problem in (*layer_violations(edge), *private_name_violations(edge))
    ]
    problems += [problem for module, path in known.items()
                 for problem in code_violations(module, path, known)]
    problems += [f"import cycle: {' ↔ '.join(cycle)}" for cycle in cycles(edges)]
    return problems


def test_ssrauth_keeps_its_import_contract() -> None:
    assert contract_violations(SRC) == []


# The checker's own cases: fake trees that break one rule each.


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """A fake ``src`` folder: every layer's package, plus ``files`` (path → source)."""
    for package in LAYERS:
        (root / PACKAGE / package).mkdir(parents=True, exist_ok=True)
        (root / PACKAGE / package / "__init__.py").write_text("")
    (root / PACKAGE / "__init__.py").write_text("")
    for name, source in files.items():
        (root / PACKAGE / name).write_text(source)
    return root


@pytest.mark.parametrize(
    "library",
    [
        "httpx",
        "redis",
        "sqlite3",
        "psycopg",
        "cryptography.fernet",
        "starlette",
        "fastapi",
        "flask",
        "werkzeug",
        "django.http",
        "socket",
        "urllib.request",
    ],
)
def test_core_importing_io_or_a_framework_is_caught(tmp_path: Path, library: str) -> None:
    root = write_tree(tmp_path, {"_core/cookies.py": f"import {library}\n"})
    assert contract_violations(root) == [
        f"ssrauth._core.cookies:1 imports {library}: the core is pure "
        "(standard library without I/O, and PyJWT only)"
    ]


def test_core_may_import_the_standard_library_and_pyjwt(tmp_path: Path) -> None:
    source = "import hashlib\nimport jwt\nfrom urllib.parse import quote\nfrom . import memo\n"
    root = write_tree(tmp_path, {"_core/cookies.py": source, "_core/memo.py": ""})
    assert contract_violations(root) == []


@pytest.mark.parametrize(
    "upper",
    [
        "_config.cognito",
        "_coordination.shared",
        "_providers.jwks",
        "_manager.manager",
        "_adapters.respond",
        "_audit.analysis",
        "starlette",
        "cli",
    ],
)
def test_core_importing_anything_above_it_is_caught(tmp_path: Path, upper: str) -> None:
    root = write_tree(
        tmp_path,
        {"_core/session.py": f"from ..{upper} import Thing\n", f"{upper.replace('.', '/')}.py": ""},
    )
    assert [problem.split(":")[0] for problem in contract_violations(root)] == [
        "ssrauth._core.session"
    ]


def test_imports_inside_functions_and_type_checking_blocks_count(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .._manager.manager import SessionManager\n"
        "def fetch() -> None:\n"
        "    import httpx\n"
    )
    root = write_tree(tmp_path, {"_core/plan.py": source, "_manager/manager.py": ""})
    assert contract_violations(root) == [
        "ssrauth._core.plan:3 imports ssrauth._manager.manager: _core sits below _manager",
        "ssrauth._core.plan:5 imports httpx: the core is pure "
        "(standard library without I/O, and PyJWT only)",
    ]


@pytest.mark.parametrize(
    "below", ["_core.session", "_config.cognito", "_providers.cognito", "_coordination.url"]
)
def test_an_adapter_reaching_below_the_manager_is_caught(tmp_path: Path, below: str) -> None:
    root = write_tree(
        tmp_path,
        {"starlette.py": f"from .{below} import Thing\n", f"{below.replace('.', '/')}.py": ""},
    )
    assert contract_violations(root) == [
        f"ssrauth.starlette:1 imports ssrauth.{below}: adapters only translate; reach it "
        "through ssrauth's public names, the manager's public face (ssrauth._manager.manager, "
        ".request) or ssrauth._adapters"
    ]


def test_an_adapter_may_use_public_names_the_manager_and_shared_adapter_code(
    tmp_path: Path,
) -> None:
    root = write_tree(
        tmp_path,
        {
            "starlette.py": "from . import Session\nfrom ._adapters.respond import refusal\n",
            "fastapi.py": (
                "from ._manager.manager import RequestAuth\nfrom .starlette import get_auth\n"
            ),
            "_adapters/respond.py": "from .._manager.manager import RequestAuth\n",
            "_manager/manager.py": "",
        },
    )
    assert contract_violations(root) == []


# One broken rule per tree: (the files, what the checker must say).
BROKEN_TREES = {
    "core imports the package": (
        {"_core/session.py": "from ssrauth import SessionManager\n"},
        "ssrauth._core.session:1 imports ssrauth: _core sits below public",
    ),
    # The order: _providers.jwks may use _coordination.singleflight, never the reverse.
    "coordination imports a provider": (
        {
            "_providers/jwks.py": "from .._coordination.singleflight import SingleFlight\n",
            "_coordination/singleflight.py": "from .._providers.http import HttpClients\n",
            "_providers/http.py": "",
        },
        "ssrauth._coordination.singleflight:1 imports ssrauth._providers.http: "
        "_coordination sits below _providers",
    ),
    "audit imports adapter code": (
        {
            "_audit/analysis.py": "from .._adapters.respond import refusal\n",
            "_adapters/respond.py": "",
        },
        "ssrauth._audit.analysis:1 imports ssrauth._adapters.respond: "
        "_audit and _adapters are independent",
    ),
    "a private name": (
        {"_core/session.py": "from .plan import _ancestors, PlanBuilder\n", "_core/plan.py": ""},
        "ssrauth._core.session:1 imports the private name _ancestors from ssrauth._core.plan",
    ),
    "a cycle inside one layer": (
        {
            "_core/tokens.py": "from .rules import TokenRules\n",
            "_core/rules.py": "def check() -> None:\n    from .tokens import TokenSet\n",
        },
        "import cycle: ssrauth._core.rules ↔ ssrauth._core.tokens",
    ),
    "the core opens an event loop": (
        {"_core/session.py": "import asyncio\n"},
        "ssrauth._core.session:1 imports asyncio: the core is pure "
        "(standard library without I/O, and PyJWT only)",
    ),
    "the core imports a mail client": (
        {"_core/session.py": "import smtplib\n"},
        "ssrauth._core.session:1 imports smtplib: the core is pure "
        "(standard library without I/O, and PyJWT only)",
    ),
    "the core reaches urllib.request through urllib": (
        {"_core/session.py": "import urllib\n"},
        "ssrauth._core.session:1 imports urllib: the core is pure "
        "(standard library without I/O, and PyJWT only)",
    ),
    "the core opens a file": (
        {"_core/session.py": "def read() -> str:\n    return open('x').read()\n"},
        "ssrauth._core.session:2 opens a file: the core is pure",
    ),
    "an import made at run time": (
        {"_core/session.py": "def load() -> object:\n    return __import__('httpx')\n"},
        "ssrauth._core.session:2 imports at run time (__import__): write an import",
    ),
    "importlib.import_module": (
        {"_manager/flows.py": "import importlib\nREDIS = importlib.import_module('redis')\n"},
        "ssrauth._manager.flows:2 imports at run time (import_module): write an import",
    ),
    "a private name reached as an attribute": (
        {"_core/session.py": "from . import plan\nX = plan._ancestors\n", "_core/plan.py": ""},
        "ssrauth._core.session:2 reaches the private name _ancestors of plan",
    ),
    "shared adapter code reaches a provider": (
        {"_adapters/respond.py": "from .._providers.http import HttpClients\n",
         "_providers/http.py": ""},
        "ssrauth._adapters.respond:1 imports ssrauth._providers.http: what the adapters share "
        "builds on the core and the manager only",
    ),
    "an adapter reaches the manager's flows": (
        {"starlette.py": "from ._manager.flows import Flows\n", "_manager/flows.py": ""},
        "ssrauth.starlette:1 imports ssrauth._manager.flows: adapters only translate; reach it "
        "through ssrauth's public names, the manager's public face (ssrauth._manager.manager, "
        ".request) or ssrauth._adapters",
    ),
}


@pytest.mark.parametrize(("files", "problem"), list(BROKEN_TREES.values()), ids=list(BROKEN_TREES))
def test_each_broken_rule_is_caught(tmp_path: Path, files: dict[str, str], problem: str) -> None:
    assert contract_violations(write_tree(tmp_path, files)) == [problem]


def test_a_violation_added_to_the_real_tree_is_caught(tmp_path: Path) -> None:
    """A mutation of today's source: one function-level import of httpx in the core."""
    shutil.copytree(SRC / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    cookies = tmp_path / PACKAGE / "_core" / "cookies.py"
    lines = cookies.read_text().splitlines()
    cookies.write_text("\n".join([*lines, "def leak() -> None:", "    import httpx", ""]))
    assert contract_violations(tmp_path) == [
        f"ssrauth._core.cookies:{len(lines) + 2} imports httpx: the core is pure "
        "(standard library without I/O, and PyJWT only)"
    ]
