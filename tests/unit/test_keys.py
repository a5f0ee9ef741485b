"""Amplify JS v6 cookie names: building them and recognising ours among a request's cookies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssrauth._core.keys import KNOWN_FIELDS, AmplifyKeys, AuthCookieName
from tests.unit.factory import CLIENT_ID, KEYS, OTHER_CLIENT_ID, UNICODE

PREFIX = f"CognitoIdentityServiceProvider.{CLIENT_ID}"


@pytest.mark.parametrize(
    ("username", "field", "name"),
    [
        ("alice", "accessToken", f"{PREFIX}.alice.accessToken"),
        ("first.last@example.co.uk", "idToken", f"{PREFIX}.first.last%40example.co.uk.idToken"),
        ("jürgen", "refreshToken", f"{PREFIX}.j%C3%BCrgen.refreshToken"),
        ("3f2c-uuid-like", "clockDrift", f"{PREFIX}.3f2c-uuid-like.clockDrift"),
        ("o(k)", "signInDetails", f"{PREFIX}.o%28k%29.signInDetails"),
    ],
    ids=["plain", "email", "unicode", "uuid", "parentheses"],
)
def test_names_are_written_like_amplify(username: str, field: str, name: str) -> None:
    assert KEYS.name(username, field) == name


def test_last_auth_user_name() -> None:
    assert KEYS.last_auth_user_name == f"{PREFIX}.LastAuthUser"
    assert KEYS.classify(KEYS.last_auth_user_name) == AuthCookieName(None, "LastAuthUser")


@pytest.mark.parametrize("client_id", ["", "has.dot"])
def test_client_ids_that_would_break_the_name_grammar_are_refused(client_id: str) -> None:
    with pytest.raises(ValueError, match="not a Cognito app client id"):
        AmplifyKeys(client_id)


_USERNAMES = st.text(UNICODE, min_size=1, max_size=64)


@settings(max_examples=200, deadline=None)
@given(_USERNAMES, st.sampled_from(sorted(KNOWN_FIELDS)))
def test_every_written_name_classifies_back_to_its_user_and_field(
    username: str, field: str
) -> None:
    assert KEYS.classify(KEYS.name(username, field)) == AuthCookieName(username, field)


@settings(max_examples=200, deadline=None)
@given(_USERNAMES.filter(lambda u: "%" not in u), st.sampled_from(sorted(KNOWN_FIELDS)))
def test_unencoded_names_classify_too(username: str, field: str) -> None:
    # Writers that skip encoding (older adapter-nextjs) send the username as is; only a "%"
    # could be mistaken for an escape, and such a writer could not round-trip it either.
    assert KEYS.classify(f"{PREFIX}.{username}.{field}") == AuthCookieName(username, field)


@settings(max_examples=200, deadline=None)
@given(_USERNAMES, st.sampled_from(sorted(KNOWN_FIELDS)))
def test_another_clients_names_are_never_ours(username: str, field: str) -> None:
    assert KEYS.classify(AmplifyKeys(OTHER_CLIENT_ID).name(username, field)) is None


@pytest.mark.parametrize(
    "raw_name",
    [
        f"{PREFIX}.a@b.com.accessToken",  # adapter-nextjs < 1.7.0 wrote names unencoded
        f"{PREFIX}.a%40b.com.accessToken",  # js-cookie
        f"{PREFIX}.a%40b%2Ecom.accessToken",  # full encodeURIComponent-style escapes
        "CognitoIdentityServiceProvider%2E" + CLIENT_ID + ".a%40b.com.accessToken",
    ],
)
def test_raw_and_encoded_spellings_are_the_same_cookie(raw_name: str) -> None:
    assert KEYS.classify(raw_name) == AuthCookieName("a@b.com", "accessToken")


@pytest.mark.parametrize(
    "raw_name",
    [
        f"CognitoIdentityServiceProvider.{OTHER_CLIENT_ID}.alice.accessToken",
        f"CognitoIdentityServiceProvider.{CLIENT_ID}x.alice.accessToken",  # client id prefix
        f"CognitoIdentityServiceProvider.{CLIENT_ID[:-1]}.alice.accessToken",
        f"XCognitoIdentityServiceProvider.{CLIENT_ID}.alice.accessToken",
        f"aws-amplify-federatedInfo.{CLIENT_ID}.alice.accessToken",
        f"{PREFIX}",
        f"{PREFIX}.",
        f"{PREFIX}.accessToken",  # no username segment
        f"{PREFIX}..accessToken",  # empty username
        f"{PREFIX}.alice.",  # empty field
        "_ga",
        "session%20id",
        "%E2%82%AC",
    ],
)
def test_everything_else_is_not_ours(raw_name: str) -> None:
    assert KEYS.classify(raw_name) is None


def test_field_is_the_last_segment_even_for_dotted_usernames() -> None:
    assert KEYS.classify(f"{PREFIX}.a.b.c.deviceKey") == AuthCookieName("a.b.c", "deviceKey")


def test_a_user_called_last_auth_user_is_still_a_user() -> None:
    # Only the exact "<prefix>.LastAuthUser" is the pointer; a user of that name has fields.
    assert KEYS.classify(KEYS.name("LastAuthUser", "idToken")) == AuthCookieName(
        "LastAuthUser", "idToken")
