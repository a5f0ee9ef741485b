"""``ssrauth audit --oidc-issuer`` against the real oidc-provider: cookies from a real sign-in by
redirect, keys found through the issuer's discovery document, and a jar that also holds a
Cognito family and cookies of nobody's."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ssrauth import ManualClock
from ssrauth.cli import main
from tests.integration.oidc.idp import CLIENT_ID, TestIdp
from tests.integration.oidc.oidc_app import PREFIX, log_in
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import value_of
from tests.unit.factory import Minter, pool_key, signed_in_header

pytestmark = pytest.mark.anyio


def audit_json(capsys: pytest.CaptureFixture[str], header: str, now: float,
               *options: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", "--cookie-header", header, "--json", "--now", str(now), *options])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, json.loads(captured.out)


async def test_a_real_sign_in_verifies_through_discovery(
    browser: Browser, idp: TestIdp, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    await log_in(browser, idp)
    idp.reset_counts()

    code, report = audit_json(capsys, browser.cookie_header("/"), clock.now(),
                              "--oidc-issuer", idp.issuer, "--client-id", CLIENT_ID)

    assert code == 0, report["findings"]
    [family] = report["families"]
    assert (family["prefix"], family["provider"], family["verified"]) == ("ssrauth", "oidc", True)
    assert (family["user"], family["state"], family["heal"]) == ("alice", "authenticated", [])
    tokens = {c["field"]: c["token"]["status"] for c in family["copies"] if c["token"]}
    assert tokens == {"idToken": "valid", "accessToken": "opaque"}
    # The keys came from discovery and the JWKS, through the issuer: no new HTTP path.
    assert idp.proxy.count("/.well-known/openid-configuration") == 1
    assert idp.proxy.count("/jwks") == 1


async def test_a_forged_id_token_in_a_mixed_jar_fails_only_its_own_family(
    browser: Browser, idp: TestIdp, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    await log_in(browser, idp)
    real = jwt.decode(value_of(browser.jar, f"{PREFIX}.alice.idToken"),
                      options={"verify_signature": False})
    kid = jwt.get_unverified_header(value_of(browser.jar, f"{PREFIX}.alice.idToken"))["kid"]
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**real, "iat": real["iat"] + 1}, own, "RS256", headers={"kid": kid})
    cognito = signed_in_header("bob", access=Minter(pool_key()).access("bob"))
    header = "; ".join([cognito, "_ga=GA1.2.3", f"{PREFIX}.alice.idToken={forged}",
                        browser.cookie_header("/"), "theme=dark"])

    offline_code, offline = audit_json(capsys, header, clock.now())
    code, report = audit_json(capsys, header, clock.now(),
                              "--oidc-issuer", idp.issuer, "--client-id", CLIENT_ID)

    assert offline_code == 1  # a duplicate is a problem either way
    # Offline the forgery reads as the freshest copy; only the issuer's keys tell it apart.
    forged_copy = offline["families"][1]["copies"][0]
    assert offline["families"][1]["duplicates"][0]["server"] == forged_copy["position"]  # wins
    assert code == 1
    cognito_family, oidc_family = report["families"]
    assert (cognito_family["provider"], cognito_family["verified"]) == ("cognito", False)
    assert cognito_family["heal"] == []
    assert oidc_family["verified"] is True
    assert oidc_family["copies"][0]["token"]["status"] == "invalid"
    [dup] = oidc_family["duplicates"]
    assert dup["server"] != forged_copy["position"]
    assert dup["server_rule"] == "the freshest verified copy"
    assert oidc_family["heal"]
    assert all(line.startswith(f"{PREFIX}.alice.idToken=") for line in oidc_family["heal"])
    assert forged not in "".join(oidc_family["heal"])
    assert report["unrelated"] == 2
    invalid = [f["client_id"] for f in report["findings"] if f["code"] == "token-invalid"]
    assert invalid == [CLIENT_ID]


async def test_the_environment_of_an_oidc_deployment_verifies_with_its_prefix(
    idp: TestIdp, clock: ManualClock, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, browser: Browser,
) -> None:
    """``SSRAUTH_OIDC_*`` as a deployment sets them, with its own cookie prefix: the family
    under that prefix is found and verified without any option."""
    await log_in(browser, idp)
    header = browser.cookie_header("/").replace(f"{PREFIX}.", f"myapp.{CLIENT_ID}.")
    monkeypatch.setenv("SSRAUTH_OIDC_ISSUER", idp.issuer)
    monkeypatch.setenv("SSRAUTH_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SSRAUTH_OIDC_COOKIE_PREFIX", "myapp")

    code, report = audit_json(capsys, header, clock.now())

    assert code == 0, report["findings"]
    [family] = report["families"]
    assert (family["prefix"], family["verified"], family["state"]) == (
        "myapp", True, "authenticated")


def test_an_unreachable_issuer_is_a_warning_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    header = f"{PREFIX}.LastAuthUser=alice; {PREFIX}.alice.idToken=x"

    code = main(["audit", "--cookie-header", header, "--json",
                 "--oidc-issuer", "http://127.0.0.1:9", "--client-id", CLIENT_ID])

    report = json.loads(capsys.readouterr().out)
    assert code == 1  # the garbage id token, not the outage
    warning = next(f for f in report["findings"] if f["code"] == "jwks-unavailable")
    assert "discovery failed" in warning["message"]
    assert "127.0.0.1:9/.well-known/openid-configuration" in warning["message"]
    assert report["families"][0]["verified"] is False
