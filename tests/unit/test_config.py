"""CognitoConfig: from code, from environment variables, from Amplify Gen 2 amplify_outputs.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssrauth._config.cognito import CognitoConfig
from ssrauth._core.cookies import CookiePolicy
from ssrauth._core.errors import ConfigError

POOL = "eu-central-1_AbCdEf123"
CLIENT = "3n4b5urk1ft4fl3mg5e72p9ih"
AWS = "https://cognito-idp.eu-central-1.amazonaws.com"

OUTPUTS: dict[str, Any] = {
    "version": "1.3",
    "auth": {
        "aws_region": "eu-central-1",
        "user_pool_id": POOL,
        "user_pool_client_id": CLIENT,
        "identity_pool_id": "eu-central-1:00000000-0000-0000-0000-000000000000",
        "password_policy": {"min_length": 8},
    },
}


def env(**variables: str) -> dict[str, str]:
    return {f"SSRAUTH_{name}": value for name, value in variables.items()}


# -- from code -----------------------------------------------------------------------------------


def test_region_issuer_and_jwks_url_are_derived_from_the_pool_id() -> None:
    config = CognitoConfig(user_pool_id=POOL, client_id=CLIENT)
    assert config.region == "eu-central-1"
    assert config.issuer == f"{AWS}/{POOL}"
    assert config.jwks_url == f"{AWS}/{POOL}/.well-known/jwks.json"
    assert config.api_url == AWS
    assert config.cookie_policy == CookiePolicy()


def test_endpoint_url_moves_the_api_and_the_keys_but_not_the_issuer() -> None:
    # moto and LocalStack serve keys locally but sign with the real-style issuer.
    config = CognitoConfig(user_pool_id=POOL, client_id=CLIENT,
                           endpoint_url="http://127.0.0.1:5000/")
    assert config.endpoint_url == "http://127.0.0.1:5000"
    assert config.api_url == "http://127.0.0.1:5000"
    assert config.jwks_url == f"http://127.0.0.1:5000/{POOL}/.well-known/jwks.json"
    assert config.issuer == f"{AWS}/{POOL}"


def test_explicit_settings_win_over_derived_ones() -> None:
    config = CognitoConfig(user_pool_id=POOL, client_id=CLIENT, region="us-east-1",
                           issuer="https://issuer.test/pool", jwks_url="https://keys.test/jwks")
    assert (config.region, config.issuer, config.jwks_url) == (
        "us-east-1", "https://issuer.test/pool", "https://keys.test/jwks")
    assert config.api_url == "https://cognito-idp.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"user_pool_id": "nopoolid", "client_id": CLIENT}, "is not <region>_<id>"),
        ({"user_pool_id": POOL, "client_id": ""}, "client_id '' is not a Cognito app client id"),
        ({"user_pool_id": POOL, "client_id": "a.b"}, "is not a Cognito app client id"),
    ],
)
def test_unusable_settings_raise_config_error(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CognitoConfig(**settings)


@pytest.mark.parametrize(
    ("pool_id", "message"),
    [
        (f"arn:aws:cognito-idp:eu-central-1:123456789012:userpool/{POOL}",
         f"is an ARN, not a pool id: did you mean '{POOL}'"),
        (f"https://cognito-idp.eu-central-1.amazonaws.com/{POOL}",
         f"is an issuer URL, not a pool id: did you mean '{POOL}'"),
        (f"https://cognito-idp.eu-central-1.amazonaws.com/{POOL}/.well-known/jwks.json",
         f"is an issuer URL, not a pool id: did you mean '{POOL}'"),
        (f" {POOL}", f"has surrounding whitespace: did you mean '{POOL}'"),
        (f"{POOL}\n", f"has surrounding whitespace: did you mean '{POOL}'"),
        ("eu-central-1_", "the id part is empty"),
        ("_AbCdEf123", "the region part is empty"),
        ("eu-central-1_AbC/def", "is not <region>_<id>"),
        ("", "is not <region>_<id>"),
    ],
)
def test_a_pool_id_in_another_shape_names_the_value_to_use(pool_id: str, message: str) -> None:
    # Otherwise it fails much later as a network error on a JWKS URL built from it.
    with pytest.raises(ConfigError, match=re.escape(message)):
        CognitoConfig(user_pool_id=pool_id, client_id=CLIENT)


@given(st.text(max_size=60))
def test_a_pool_id_is_accepted_exactly_when_it_has_cognitos_shape(pool_id: str) -> None:
    shaped = re.fullmatch(r"[A-Za-z0-9-]+_[0-9A-Za-z]+", pool_id) is not None
    try:
        CognitoConfig(user_pool_id=pool_id, client_id=CLIENT)
    except ConfigError:
        assert not shaped
    else:
        assert shaped


def test_config_error_is_a_value_error() -> None:
    # Callers that validate input generically (argparse, pydantic) catch ValueError.
    with pytest.raises(ValueError, match="client_id"):
        CognitoConfig(user_pool_id=POOL, client_id="")


def test_with_changes_derives_pool_settings_again() -> None:
    config = CognitoConfig(user_pool_id=POOL, client_id=CLIENT)
    moved = config.with_changes(user_pool_id="us-west-2_Other")
    assert (moved.region, moved.issuer) == (
        "us-west-2", "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_Other")
    assert moved.jwks_url.endswith("/us-west-2_Other/.well-known/jwks.json")
    local = config.with_changes(endpoint_url="http://127.0.0.1:5000")
    assert local.jwks_url == f"http://127.0.0.1:5000/{POOL}/.well-known/jwks.json"
    assert local.issuer == config.issuer


def test_with_changes_keeps_what_it_is_told_to_keep() -> None:
    # An emulator setup sends the API elsewhere but keeps its keys where they are.
    config = CognitoConfig(user_pool_id=POOL, client_id=CLIENT, jwks_url="http://keys.test/jwks")
    moved = config.with_changes(endpoint_url="http://127.0.0.1:5000",
                                jwks_url=config.jwks_url)
    assert moved.jwks_url == "http://keys.test/jwks"
    assert config.with_changes(timeout=1.0).jwks_url == "http://keys.test/jwks"


# -- from the environment ------------------------------------------------------------------------


def test_from_env_reads_prefixed_variables() -> None:
    config = CognitoConfig.from_env(env(USER_POOL_ID=POOL, CLIENT_ID=CLIENT,
                                        CLIENT_SECRET="s3cret",
                                        ENDPOINT_URL="http://127.0.0.1:5000"))
    assert (config.user_pool_id, config.client_id, config.client_secret) == (POOL, CLIENT, "s3cret")
    assert config.jwks_url.startswith("http://127.0.0.1:5000/")
    assert config.cookie_policy == CookiePolicy()


def test_from_env_ignores_unprefixed_and_empty_variables() -> None:
    environ = {"USER_POOL_ID": "x_y", **env(USER_POOL_ID=POOL, CLIENT_ID=CLIENT, REGION="")}
    config = CognitoConfig.from_env(environ)
    assert (config.user_pool_id, config.region) == (POOL, "eu-central-1")


def test_from_env_with_another_prefix() -> None:
    config = CognitoConfig.from_env({"APP_USER_POOL_ID": POOL, "APP_CLIENT_ID": CLIENT},
                                    prefix="APP_")
    assert config.client_id == CLIENT


def test_from_env_names_every_missing_variable() -> None:
    with pytest.raises(ConfigError) as raised:
        CognitoConfig.from_env({})
    assert str(raised.value) == (
        "missing environment variables: SSRAUTH_USER_POOL_ID, SSRAUTH_CLIENT_ID")


@pytest.mark.parametrize(
    ("variables", "policy"),
    [
        ({"COOKIE_SECURE": "false"}, CookiePolicy(secure=False)),
        ({"COOKIE_SECURE": "0", "COOKIE_DOMAIN": ".Example.com"},
         CookiePolicy(secure=False, domain="example.com")),
        ({"COOKIE_MODE": "server-only"}, CookiePolicy.server_only()),
        ({"COOKIE_MODE": "Server-Only", "COOKIE_SECURE": "no"},
         CookiePolicy.server_only(secure=False)),
        ({"COOKIE_MODE": "amplify", "COOKIE_SECURE": "YES"}, CookiePolicy()),
    ],
)
def test_from_env_cookie_policy(variables: dict[str, str], policy: CookiePolicy) -> None:
    config = CognitoConfig.from_env(env(USER_POOL_ID=POOL, CLIENT_ID=CLIENT, **variables))
    assert config.cookie_policy == policy


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE must be true or false, got 'maybe'"),
        ({"COOKIE_MODE": "httponly"}, "COOKIE_MODE must be 'amplify' or 'server-only'"),
    ],
)
def test_from_env_rejects_unknown_cookie_settings(variables: dict[str, str],
                                                  message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CognitoConfig.from_env(env(USER_POOL_ID=POOL, CLIENT_ID=CLIENT, **variables))


def test_from_env_reads_amplify_outputs_and_lets_variables_override(tmp_path: Path) -> None:
    outputs = tmp_path / "amplify_outputs.json"
    outputs.write_text(json.dumps(OUTPUTS), encoding="utf-8")
    config = CognitoConfig.from_env(env(AMPLIFY_OUTPUTS=str(outputs), CLIENT_ID="override"))
    assert (config.user_pool_id, config.client_id, config.region) == (
        POOL, "override", "eu-central-1")


# -- from amplify_outputs.json -------------------------------------------------------------------


def test_from_amplify_outputs_document() -> None:
    config = CognitoConfig.from_amplify_outputs(OUTPUTS)
    assert (config.user_pool_id, config.client_id, config.region) == (POOL, CLIENT, "eu-central-1")
    assert config.issuer == f"{AWS}/{POOL}"


def test_from_amplify_outputs_file_path_as_str_or_path(tmp_path: Path) -> None:
    outputs = tmp_path / "amplify_outputs.json"
    outputs.write_text(json.dumps(OUTPUTS), encoding="utf-8")
    assert CognitoConfig.from_amplify_outputs(outputs) == CognitoConfig.from_amplify_outputs(
        str(outputs))
    assert CognitoConfig.from_amplify_outputs(outputs).client_id == CLIENT


def test_from_amplify_outputs_with_overrides() -> None:
    policy = CookiePolicy.server_only()
    config = CognitoConfig.from_amplify_outputs(OUTPUTS, cookie_policy=policy,
                                                endpoint_url="http://127.0.0.1:5000")
    assert config.cookie_policy is policy
    assert config.api_url == "http://127.0.0.1:5000"


def test_from_amplify_outputs_without_region_derives_it() -> None:
    auth = {k: v for k, v in OUTPUTS["auth"].items() if k != "aws_region"}
    assert CognitoConfig.from_amplify_outputs({"auth": auth}).region == "eu-central-1"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": "1.3"}, "has no 'auth' section"),
        ({"auth": "pool"}, "has no 'auth' section"),
        ({"auth": {"user_pool_client_id": CLIENT}}, "auth section lacks 'user_pool_id'"),
        ({"auth": {"user_pool_id": POOL}}, "auth section lacks 'user_pool_client_id'"),
    ],
)
def test_incomplete_amplify_outputs_raise_config_error(document: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CognitoConfig.from_amplify_outputs(document)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "cannot read"),
        ("[1, 2]", "is not a JSON object"),
    ],
    ids=["missing-file", "invalid-json", "json-array"],
)
def test_unreadable_amplify_outputs_file_raises_config_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    outputs = tmp_path / "amplify_outputs.json"
    if content is not None:
        outputs.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as raised:
        CognitoConfig.from_amplify_outputs(outputs)
    assert str(outputs) in str(raised.value)  # the message says which file
