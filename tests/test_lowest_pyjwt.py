"""The token checks hold with the lowest PyJWT that pyproject.toml allows, not only the newest.

PyJWT's leniencies changed between versions (2.8.0 accepted characters inserted into a
signature; its ``PyJWK`` raises ValueError where later ones raise PyJWTError), so the attack
suite and the verifier's tests run again in a subprocess with that version first on the path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def lowest_pyjwt() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = [re.fullmatch(r"pyjwt(?:\[crypto\])?>=([\d.]+)", d.lower()) for d in dependencies]
    versions = [m.group(1) for m in floors if m is not None]
    assert len(versions) == 1, "pyproject.toml must state PyJWT's lowest version as >=X.Y"
    return versions[0]


def test_the_token_checks_hold_with_the_lowest_pyjwt_allowed(tmp_path: Path) -> None:
    version = lowest_pyjwt()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--target", str(tmp_path),
                    f"PyJWT=={version}"], check=True, timeout=120, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}

    used = subprocess.run([sys.executable, "-c", "import jwt; print(jwt.__version__)"],
                          env=env, capture_output=True, text=True, check=True, timeout=60)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/unit/test_jwt_attacks.py", "tests/unit/test_tokens.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert Version(used.stdout.strip()) == Version(version)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
