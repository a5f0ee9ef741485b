"""The distribution: `python -m build` makes an sdist and a wheel (the wheel built from the
sdist, so the sdist is complete), and the wheel installs in a clean virtualenv with its declared
dependencies, imports, and runs `ssrauth --help`.

Kept near 40 s: the build runs once, in a copy of the sources (the checkout gets no build/ or
egg-info); the clean venv gets the wheel and its base dependencies from the configured index (the
offline mirror works), and reaches the framework extras' packages through this test run's
site-packages, appended after its own, to import the adapter modules.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = ("ssrauth", "ssrauth.starlette", "ssrauth.fastapi", "ssrauth.wsgi",
                  "ssrauth.flask", "ssrauth.django", "ssrauth.emulator", "ssrauth.metrics",
                  "ssrauth.testing", "ssrauth.cli", "ssrauth.demo")
#: What a bare `pip install ssrauth` must be enough for.
BASE_MODULES = ("ssrauth", "ssrauth.wsgi", "ssrauth.emulator", "ssrauth.metrics", "ssrauth.cli")


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "CHANGELOG.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, source)
    return out


def test_the_sdist_carries_the_sources_license_and_changelog(dist: Path) -> None:
    [sdist] = dist.glob("ssrauth-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "src/ssrauth/py.typed",
            "src/ssrauth/demo/dashboard.html", "src/ssrauth/testing.py"} <= names


def test_the_wheel_declares_its_extras_entry_points_and_license(dist: Path) -> None:
    [wheel] = dist.glob("ssrauth-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert {"ssrauth/py.typed", "ssrauth/demo/dashboard.html", "ssrauth/demo/layout.html",
            "ssrauth/demo/signin.html"} <= names
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    assert "Description-Content-Type: text/markdown" in metadata
    extras = {line.split(": ", 1)[1] for line in metadata.splitlines()
              if line.startswith("Provides-Extra: ")}
    assert {"starlette", "fastapi", "flask", "django", "redis", "emulator", "demo", "prometheus",
            "otel"} <= extras
    assert "ssrauth = ssrauth.cli:main" in entry_points
    assert "[pytest11]\nssrauth = ssrauth.testing" in entry_points


def test_the_wheel_installs_in_a_clean_venv_and_every_public_module_imports(
    dist: Path, tmp_path: Path,
) -> None:
    [wheel] = dist.glob("ssrauth-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # This run's pip installs into the new venv (pip --python): no ensurepip, and the index
    # settings of this machine (a mirror included) apply.
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", wheel)

    base = "; ".join(f"import {module}" for module in BASE_MODULES)
    run(python, "-I", "-c", base)
    assert "usage: ssrauth" in run(venv / "bin" / "ssrauth", "--help")

    # The adapters need their frameworks: borrowed from this run's site-packages, after the
    # venv's own, so ssrauth itself still comes from the wheel.
    site = Path(run(python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                .strip())
    (site / "zz_borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    every = "; ".join(f"import {module}" for module in PUBLIC_MODULES)
    where = run(python, "-I", "-c", f"{every}; print(ssrauth.__file__)").strip()
    assert Path(where).is_relative_to(site)
