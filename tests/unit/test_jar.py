"""read_family: every copy of our cookies on one request, exactly as sent, values decoded."""

from __future__ import annotations

from ssrauth._core.jar import CookieFamily, auth_pieces, read_family
from tests.unit.factory import KEYS, OTHER_KEYS, amplify_cookies, cookie_header

ENCODED = KEYS.name("a@b.com", "accessToken")
RAW = ENCODED.replace("%40", "@")


def family(header: str) -> CookieFamily:
    return read_family(auth_pieces(header, KEYS.prefix), KEYS)


def test_only_our_clients_cookies_are_read() -> None:
    theirs = amplify_cookies("alice", access="t", keys=OTHER_KEYS)
    result = family(cookie_header([*theirs, ("_ga", "1"), (KEYS.name("alice", "idToken"), "i")]))
    assert [(c.username, c.field, c.value) for c in result.copies] == [("alice", "idToken", "i")]


def test_values_are_decoded_and_names_kept_exactly_as_sent() -> None:
    details = KEYS.name("a@b.com", "signInDetails")
    result = family(f"{details}={{%22loginId%22:%22a@b.com%22}}; {RAW}=jwt")
    assert [(c.raw_name, c.value) for c in result.copies] == [
        (details, '{"loginId":"a@b.com"}'), (RAW, "jwt")]


def test_spellings_are_one_field_with_two_wire_names() -> None:
    result = family(f"{RAW}=old; {ENCODED}=new; {ENCODED}=newer")
    assert result.values("a@b.com", "accessToken") == ["old", "new", "newer"]
    assert result.raw_names("a@b.com", "accessToken") == [RAW, ENCODED]
    assert result.duplicated() == [("a@b.com", "accessToken")]
    assert result.sent_counts == {RAW: 1, ENCODED: 2}


def test_last_auth_users_are_distinct_in_header_order() -> None:
    lau = KEYS.last_auth_user_name
    result = family(f"{lau}=bob; {lau}=alice; {lau}=bob")
    assert result.last_auth_users() == ["bob", "alice"]


def test_without_last_auth_user_amplifys_fallback_is_used() -> None:
    assert family(f"{KEYS.name('alice', 'idToken')}=i").last_auth_users() == ["username"]


def test_empty_family() -> None:
    assert family("other=1").is_empty
    assert family("other=1").duplicated() == []


def test_entries_come_from_the_index_in_header_order() -> None:
    """The per-field index answers what a scan of every copy would (the scan was quadratic in
    the users a jar names: 16,000 of them took the audit a minute)."""
    users = [f"u{i}" for i in range(50)]
    header = "; ".join(f"{KEYS.last_auth_user_name}={u}; {KEYS.name(u, 'idToken')}=x{u}; "
                       f"{KEYS.name(u, 'idToken')}=y{u}" for u in users)
    read = family(header)
    for username, field in [(None, "LastAuthUser"), *((u, "idToken") for u in users)]:
        scanned = [(i, c.value) for i, c in enumerate(read.copies)
                   if c.username == username and c.field == field]
        assert read.entries(username, field) == scanned
