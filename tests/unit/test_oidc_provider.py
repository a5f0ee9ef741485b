"""OidcProvider's answers classified (httpx MockTransport stands in for the wire) and OidcConfig.
The real provider is exercised in tests/integration/oidc."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from ssrauth import ConfigError, OidcConfig, OidcProvider, ProviderRejected, ProviderUnavailable

ISSUER = "https://idp.example"
DISCOVERY = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth",
             "token_endpoint": f"{ISSUER}/token", "jwks_uri": f"{ISSUER}/jwks",
             "revocation_endpoint": f"{ISSUER}/revoke"}
Handler = Callable[[httpx.Request], httpx.Response]


def provider(token: Handler, document: dict[str, object] | None = None,
             **config: object) -> tuple[OidcProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=document or DISCOVERY)
        return token(request)

    settings = {"issuer": ISSUER, "client_id": "app", "redirect_uri": "https://a/cb", **config}
    client = httpx.Client(transport=httpx.MockTransport(handle))
    return OidcProvider(OidcConfig(**settings), client=client), seen  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "body", "kind"), [
    (400, {"error": "invalid_grant"}, ProviderRejected),
    (400, {"error": "invalid_token"}, ProviderRejected),
    (401, {"error": "invalid_client"}, ProviderUnavailable),
    (400, {"error": "unauthorized_client"}, ProviderUnavailable),
    (400, {"error": "temporarily_unavailable"}, ProviderUnavailable),
    (500, {"error": "server_error"}, ProviderUnavailable),
    (503, {"error": "invalid_grant"}, ProviderUnavailable),
    (429, {"error": "invalid_grant"}, ProviderUnavailable),
    (502, None, ProviderUnavailable),
    (200, {"token_type": "Bearer"}, ProviderUnavailable),
])
def test_only_a_dead_grant_is_a_rejection(status: int, body: object,
                                          kind: type[Exception]) -> None:
    answer = httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    oidc, _ = provider(lambda request: answer)
    with pytest.raises(kind):
        oidc.refresh("rt", None)


def test_a_network_error_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(ProviderUnavailable, match="failed"):
        provider(refuse)[0].refresh("rt", None)


def test_a_rotated_refresh_token_replaces_the_old_and_an_absent_one_keeps_it() -> None:
    rotated, _ = provider(lambda r: httpx.Response(200, json={
        "access_token": "a", "id_token": "i", "refresh_token": "rt2", "expires_in": 60}))
    assert rotated.refresh("rt1", None).refresh_token == "rt2"
    assert rotated.refresh("rt1", None).expires_in == 60
    kept, _ = provider(lambda r: httpx.Response(200, json={"access_token": "a", "id_token": "i"}))
    assert kept.refresh("rt1", None).refresh_token == "rt1"


def test_discovery_is_fetched_once_and_its_issuer_must_match_exactly() -> None:
    oidc, seen = provider(lambda r: httpx.Response(200, json={"access_token": "a"}))
    oidc.refresh("rt", None)
    oidc.refresh("rt", None)
    assert [r.url.path for r in seen].count("/.well-known/openid-configuration") == 1
    mixed_up, _ = provider(lambda r: httpx.Response(200), {**DISCOVERY, "issuer": ISSUER + "/"})
    with pytest.raises(ProviderUnavailable, match="issuer"):
        mixed_up.discover()


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def timed_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


@pytest.mark.parametrize(("answer", "said"), [
    (refused, "refresh failed at"),
    (timed_out, "refresh timed out at"),
    (lambda r: httpx.Response(503, text="busy"), "refresh at"),
    (lambda r: httpx.Response(200, text="<html>portal</html>"), "not a JSON object"),
    (lambda r: httpx.Response(200, json={"token_type": "Bearer"}), "no access_token"),
    (lambda r: httpx.Response(400, json={"error": "invalid_grant"}), "invalid_grant"),
])
def test_every_token_endpoint_error_names_the_endpoint_and_nothing_it_carried(
    answer: Handler, said: str
) -> None:
    oidc, _ = provider(answer, client_secret="client-secret-value")
    with pytest.raises((ProviderRejected, ProviderUnavailable)) as raised:
        oidc.refresh("refresh-token-value", None)
    message = str(raised.value)
    assert f"{ISSUER}/token" in message
    assert said in message
    assert "refresh-token-value" not in message
    assert "client-secret-value" not in message


@pytest.mark.parametrize("document", [
    {**DISCOVERY, "issuer": "https://elsewhere.example"},
    {"issuer": ISSUER},
    ["not", "an", "object"],
])
def test_a_discovery_document_refused_names_where_it_came_from(document: object) -> None:
    oidc, _ = provider(lambda r: httpx.Response(200), document)  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable, match=f"discovery at {ISSUER}/.well-known/"):
        oidc.discover()


def test_client_authentication_public_basic_and_post() -> None:
    def forms(**config: object) -> tuple[dict[str, list[str]], str | None]:
        oidc, seen = provider(lambda r: httpx.Response(200, json={"access_token": "a"}),
                              **config)
        oidc.refresh("rt", None)
        request = seen[-1]
        form = dict(httpx.QueryParams(request.content.decode()).multi_items())
        return {k: [v] for k, v in form.items()}, request.headers.get("authorization")

    public, no_auth = forms()
    assert public["client_id"] == ["app"]
    assert no_auth is None
    basic, auth = forms(client_secret="s:ecret")
    assert "client_id" not in basic
    assert auth == "Basic " + base64.b64encode(b"app:s%3Aecret").decode()
    posted, _ = forms(client_secret="s", token_auth="client_secret_post")
    assert posted["client_secret"] == ["s"]


def test_revocation_only_where_advertised() -> None:
    oidc, seen = provider(lambda r: httpx.Response(200))
    assert oidc.revoke("rt") is True
    assert seen[-1].url.path == "/revoke"
    without = {k: v for k, v in DISCOVERY.items() if k != "revocation_endpoint"}
    assert provider(lambda r: httpx.Response(200), without)[0].revoke("rt") is False


def test_the_authorization_url_carries_pkce_s256_state_and_nonce() -> None:
    oidc, _ = provider(lambda r: httpx.Response(200), authorize_params={"prompt": "consent"})
    url = httpx.URL(oidc.authorization_url("st", "verifier", "nn"))
    params = dict(url.params)
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == "iMnq5o6zALKXGivsnlom_0F5_WYda32GHkxlV7mq7hQ"
    assert (params["state"], params["nonce"], params["prompt"]) == ("st", "nn", "consent")


def test_config_from_env_and_validation() -> None:
    config = OidcConfig.from_env({"SSRAUTH_OIDC_ISSUER": ISSUER,
                                  "SSRAUTH_OIDC_CLIENT_ID": "x.apps.example",
                                  "SSRAUTH_OIDC_PROMPT": "consent",
                                  "SSRAUTH_COOKIE_SECURE": "false"})
    assert config.cookie_client_id == "x_apps_example"
    assert config.authorize_params == {"prompt": "consent"}
    assert config.cookie_policy.secure is False
    with pytest.raises(ConfigError, match="SSRAUTH_OIDC_CLIENT_ID"):
        OidcConfig.from_env({"SSRAUTH_OIDC_ISSUER": ISSUER})
    with pytest.raises(ConfigError):
        OidcConfig(issuer=ISSUER, client_id="a", scopes="email")


def test_an_overflowing_expires_in_is_no_lifetime_not_an_exception() -> None:
    body = b'{"access_token": "a", "id_token": "i", "refresh_token": "r", "expires_in": 1e999}'
    oidc, _ = provider(lambda request: httpx.Response(
        200, content=body, headers={"content-type": "application/json"}))
    assert oidc.refresh("r", None).expires_in is None
