"""``ssrauth audit`` end to end: through ``main([...])`` for every input kind, the JSON schema
and the exit codes, once through the installed script, and verification against the real
Cognito emulator (moto on loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ssrauth import ManualClock, SessionManager
from ssrauth.cli import main
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD
from tests.browser_jar import BrowserJar
from tests.unit.factory import NOW, Minter, minter, pool_key, signed_in_header

#: The committed HAR, recorded by tests/browser/test_audit_har.py (see write_sample_har there).
SAMPLE_HAR = Path(__file__).parent / "fixtures" / "seed-bug.har"
SCRIPT = Path(sys.executable).parent / "ssrauth"


def duplicated_header() -> str:
    """alice's session plus a fresher access-token copy at a deeper path, sent first."""
    copy = minter().access("alice", iat=NOW - 60)
    name = "CognitoIdentityServiceProvider.5testclient0id0abcdefghijk.alice.accessToken"
    return f"{name}={copy}; " + signed_in_header("alice", iat=NOW - 1800)


def audit_json(
    capsys: pytest.CaptureFixture[str], *args: str, now: float = NOW
) -> tuple[int, dict[str, Any]]:
    code = main(["audit", *args, "--json", "--now", str(now)])
    return code, json.loads(capsys.readouterr().out)


def test_a_healthy_cookie_header_argument_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "--cookie-header", signed_in_header("alice"), "--now", str(NOW)])

    out = capsys.readouterr().out
    assert code == 0
    assert "verdict: healthy" in out
    assert "Set-Cookie:" not in out


def test_duplicates_exit_1_with_heal_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "--cookie-header", duplicated_header(), "--host", HOST,
                 "--path", "/orders/42", "--now", str(NOW)])

    out = capsys.readouterr().out
    assert code == 1
    assert "duplicate alice.accessToken: copies #0, #2; browser (js-cookie, first) #0" in out
    assert "Set-Cookie: CognitoIdentityServiceProvider." in out
    assert "Path=/orders/42; Domain=app.example.com; Max-Age=0; Secure" in out
    assert "verdict: UNHEALTHY" in out


def test_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = audit_json(capsys, "--cookie-header", duplicated_header(), "--host", HOST)

    assert code == 1
    assert report["schema"] == "ssrauth.audit/1"
    assert set(report) == {"schema", "healthy", "source", "host", "path", "order", "cookies",
                           "unrelated", "header_bytes", "heal_bytes", "families", "findings"}
    [family] = report["families"]
    assert set(family) == {"client_id", "prefix", "provider", "verified", "last_auth_user",
                           "user", "state", "reason", "copies", "duplicates", "stale_users",
                           "device_only_users", "heal"}
    assert (family["prefix"], family["provider"]) == ("CognitoIdentityServiceProvider", "cognito")
    assert set(family["duplicates"][0]) == {"username", "field", "copies", "browser", "last",
                                            "server", "server_rule"}
    assert set(family["copies"][0]) == {"position", "name", "username", "field", "size",
                                        "fingerprint", "path", "domain", "host_only", "token"}
    assert {f["level"] for f in report["findings"]} <= {"problem", "warning", "note"}
    assert report["healthy"] is False
    assert family["heal"]


def test_header_file_har_and_cookie_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = duplicated_header()
    pairs = [piece.split("=", 1) for piece in header.split("; ")]
    cookies = [{"name": n, "value": v, "domain": HOST, "path": "/orders" if i == 0 else "/"}
               for i, (n, v) in enumerate(pairs)]
    har = {"log": {"entries": [{"request": {"method": "GET", "url": f"https://{HOST}/orders/7",
                                            "headers": [{"name": "cookie", "value": header}]}}]}}
    files = {"header.txt": "Cookie: " + header, "x.har": json.dumps(har),
             "cookies.json": json.dumps(cookies),
             "state.json": json.dumps({"cookies": cookies, "origins": []})}
    families = {}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        code, report = audit_json(capsys, str(tmp_path / name))
        assert code == 1, name
        families[name] = [(f["client_id"], f["user"], [d["field"] for d in f["duplicates"]])
                          for f in report["families"]]
    assert len({json.dumps(v) for v in families.values()}) == 1
    assert families["x.har"] == [("5testclient0id0abcdefghijk", "alice", ["accessToken"])]


@pytest.mark.parametrize(("args", "message"), [
    (["/no/such/file"], "cannot read /no/such/file"),
    (["--cookie-header", "{oops"], "looks like JSON"),
    (["--cookie-header", "   "], "no cookies found"),
    (["--cookie-header", "a=1", "--user-pool-id", "eu-west-1_x"], "go together"),
    (["--cookie-header", "a=1", "--config", "/no/outputs.json"], "cannot read"),
    (["--cookie-header", "a=1", "--oidc-issuer", "https://idp.example"], "go together"),
    (["--cookie-header", "a=1", "--audience", "api"], "goes with --oidc-issuer"),
    (["--cookie-header", "a=1", "--oidc-issuer", "https://idp.example", "--client-id", "c",
      "--user-pool-id", "eu-west-1_x"], "does not combine"),
    (["--cookie-header", "a=1", "--oidc-issuer", "idp.example", "--client-id", "c"],
     "not an http(s) URL"),
    (["--cookie-header", "a=1", "--client-id", "c", "--user-pool-id",
      "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"],
     "is an issuer URL, not a pool id: did you mean 'eu-west-1_AbC123'?"),
])
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_the_installed_script_reads_stdin() -> None:
    done = subprocess.run([str(SCRIPT), "audit", "-", "--json", "--now", str(NOW)],
                          input=duplicated_header(), capture_output=True, text=True, timeout=60,
                          check=False)

    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["families"][0]["duplicates"][0]["field"] == "accessToken"
    module = subprocess.run([sys.executable, "-m", "ssrauth", "audit", "--cookie-header",
                             signed_in_header("alice"), "--now", str(NOW)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert module.returncode == 0, module.stderr


def test_the_committed_sample_har_is_audited_as_in_the_docs(
    capsys: pytest.CaptureFixture[str]
) -> None:
    har = json.loads(SAMPLE_HAR.read_text())
    now = har["log"]["comment"].split("now=")[1]

    code = main(["audit", str(SAMPLE_HAR), "--cookie-domain", "example.test", "--insecure",
                 "--now", now])

    out = capsys.readouterr().out
    assert code == 1
    assert "/orders/42" in out
    assert "duplicate alice@example.com.accessToken" in out


# -- verification against the emulator ----------------------------------------------------------


def signed_in_jar(manager: SessionManager) -> BrowserJar:
    auth = manager.load("", "/", HOST)
    auth.sign_in("alice", PASSWORD)
    jar = BrowserJar(HOST)
    jar.apply(auth.set_cookie_headers())
    return jar


@pytest.fixture
def pool_env(emulator: CognitoEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSRAUTH_USER_POOL_ID", emulator.user_pool_id)
    monkeypatch.setenv("SSRAUTH_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("SSRAUTH_ENDPOINT_URL", emulator.url)


@pytest.mark.usefixtures("pool_env")
def test_verified_against_the_pool(
    manager: SessionManager, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    header = signed_in_jar(manager).cookie_header("/")

    code = main(["audit", "--cookie-header", header, "--json", "--now", str(clock.now())])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    [family] = report["families"]
    assert family["verified"] is True
    assert family["state"] == "authenticated"
    assert {c["token"]["status"] for c in family["copies"] if c["token"]} == {"valid"}


@pytest.mark.usefixtures("pool_env")
def test_a_token_from_another_pool_is_invalid(
    manager: SessionManager, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    jar = signed_in_jar(manager)
    access = next(c for c in jar.cookies if c.name.endswith(".accessToken"))
    config = manager.config
    forger = Minter(pool_key(), issuer=config.issuer, client_id=config.client_id)
    forged = forger.access("alice", iat=int(clock.now()))  # readable, but not the pool's key
    header = f"{access.name}={forged}; " + jar.cookie_header("/")

    code, report = audit_json(capsys, "--cookie-header", header, now=clock.now())

    assert code == 1
    [family] = report["families"]
    assert family["copies"][0]["token"]["status"] == "invalid"
    assert family["duplicates"][0]["server"] == family["copies"][2]["position"]
    assert "token-invalid" in {f["code"] for f in report["findings"]}


def test_an_unreachable_jwks_is_a_warning_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SSRAUTH_USER_POOL_ID", "eu-west-1_TestPool1")
    monkeypatch.setenv("SSRAUTH_CLIENT_ID", "5testclient0id0abcdefghijk")
    monkeypatch.setenv("SSRAUTH_JWKS_URL", "http://127.0.0.1:9/jwks.json")  # discard: refused

    code, report = audit_json(capsys, "--cookie-header", signed_in_header("alice"))

    assert code == 0
    warning = next(f for f in report["findings"] if f["code"] == "jwks-unavailable")
    assert "127.0.0.1:9" in warning["message"]
    assert report["families"][0]["verified"] is False
