"""``ssrauth.__version__`` is written once, in ``src/ssrauth/__init__.py``; pyproject.toml reads
it from there (setuptools' dynamic version), so the package and its installed metadata agree."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from packaging.version import Version

import ssrauth

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_pyproject_takes_its_version_from_the_package() -> None:
    config = tomllib.loads(PYPROJECT.read_text())
    assert "version" not in config["project"]
    assert "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ssrauth.__version__"}


def test_installed_metadata_agrees_with_the_package() -> None:
    assert importlib.metadata.version("ssrauth") == ssrauth.__version__, (
        "the installed metadata is older than the source: pip install -e ."
    )


def test_version_is_a_normalised_pep_440_version() -> None:
    assert str(Version(ssrauth.__version__)) == ssrauth.__version__
