"""A small Django site behind ssrauth.django.SsrAuthMiddleware: the routes the framework contract
(framework_contract.py) drives, as sync and async views.

Django reads its settings once per process: :func:`configure` does so on first use, and
``SSRAUTH_MANAGER`` names :data:`manager`, which a test sets before it builds a handler (the
middleware reads the setting when the handler loads it).
"""

from __future__ import annotations

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path

from ssrauth import ProviderRejected, ProviderUnavailable, SessionManager
from ssrauth.django import current_session, get_auth, require_user
from tests.integration.rig.apps import APP_VALUE
from tests.integration.rig.cookies import cookie_name

#: The manager the next handler built will use.
manager: SessionManager | None = None


def configure() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="ssrauth-tests",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["ssrauth.django.SsrAuthMiddleware",
                    "django.middleware.common.CommonMiddleware"],
        SSRAUTH_MANAGER=f"{__name__}.manager",
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()


def sign_in(request: HttpRequest) -> HttpResponse:
    try:
        session = get_auth(request).sign_in(request.POST["username"], request.POST["password"])
    except ProviderRejected as error:
        return JsonResponse({"error": error.code}, status=401)
    except ProviderUnavailable as error:
        return JsonResponse({"error": "unavailable"}, status=503,
                            headers={"Retry-After": str(error.retry_after)})
    return JsonResponse({"username": session.username})


async def sign_out(request: HttpRequest) -> HttpResponse:
    await get_auth(request).asign_out()
    return JsonResponse({"signed_out": True})


@require_user
def me(request: HttpRequest) -> HttpResponse:
    user = current_session(request)
    assert user is not None
    return JsonResponse({"username": user.username, "sub": user.sub})


@require_user
async def async_me(request: HttpRequest) -> HttpResponse:
    user = current_session(request)
    assert user is not None
    return JsonResponse({"username": user.username, "sub": user.sub})


@require_user
def own_cookie(request: HttpRequest, field: str) -> HttpResponse:
    # The app writes one of the auth cookies itself: ssrauth must leave that cookie to it.
    user = current_session(request)
    assert user is not None
    assert manager is not None
    response = JsonResponse({"username": user.username})
    name = cookie_name(manager.config.client_id, user.cookie_username, field)
    response.set_cookie(name, APP_VALUE, path="/", secure=True, samesite="Lax")
    return response


def visit(request: HttpRequest) -> HttpResponse:
    # The app's own cookie, set on the same response as ssrauth's.
    visits = int(request.COOKIES.get("visits", "0")) + 1
    response = JsonResponse({"visits": visits})
    response.set_cookie("visits", str(visits))
    return response


def page(request: HttpRequest, rest: str) -> HttpResponse:
    # A page a CDN may cache for a minute, unless ssrauth has cookies to set on it.
    user = current_session(request)
    return JsonResponse({"user": user.username if user else None, "path": rest},
                        headers={"Cache-Control": "private, max-age=60"})


urlpatterns = [
    path("signin", sign_in),
    path("signout", sign_out),
    path("api/me", me),
    path("api/async-me", async_me),
    path("own-cookie/<str:field>", own_cookie),
    path("visit", visit),
    re_path(r"^(?P<rest>.*)$", page),
]
