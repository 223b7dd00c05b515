"""Cross-site request protection for cookie sessions (pure ASGI middleware).

The browser app authenticates with the ``tw_token`` cookie (HttpOnly, SameSite=Lax). Other sites must
not be able to use it, nor sign a visitor into an account of theirs (login CSRF). Three layers:

* **SameSite** cookies: ``tw_token`` is Lax, ``tw_csrf`` is Strict; both Secure in production.
* **Origin check**: a state-changing request (not GET/HEAD/OPTIONS) that carries the session cookie, and
  every POST to the sign-in/up/out forms, must name our origin in ``Origin`` (or, without it, in
  ``Referer``): the public base URL's origin or the host it was sent to. Neither header: refused.
* **CSRF token** (double submit): ``tw_csrf`` holds a random token, set on the first page a browser
  gets; pages carry the same value in ``<meta name="csrf-token">`` and in their forms. Cookie-
  authenticated API calls send it as ``X-CSRF-Token`` (``static/js/api.js`` does); the forms post it as
  ``csrf_token`` and their handlers check it with :func:`form_token_ok`.

Calls with ``Authorization: Bearer`` are not touched: a browser never adds that header to a cross-site
request on its own, so those calls cannot be forged this way.
"""

from __future__ import annotations

import hmac
import re
import secrets
from contextvars import ContextVar
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.errors import CrossOriginRefused, CsrfTokenInvalid, TileworkError

SESSION_COOKIE = "tw_token"
CSRF_COOKIE = "tw_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
#: The page forms that set or clear the session cookie: checked even without a session cookie.
FORM_PATHS = frozenset({"/signin", "/signup", "/signout"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

_current: ContextVar[str] = ContextVar("tilework_csrf_token", default="")


def csrf_token() -> str:
    """This request's CSRF token, for the page being rendered."""
    return _current.get()


def form_token_ok(request: Request, submitted: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie, submitted)


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class CsrfProtection:
    def __init__(self, app: ASGIApp, *, public_base_url: str, secure_cookies: bool) -> None:
        self.app = app
        self.public_origin = _origin(public_base_url)
        self.secure = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = cookie_parser(headers.get("cookie", ""))
        existing = cookies.get(CSRF_COOKIE, "")
        token = existing if _TOKEN_SHAPE.match(existing) else secrets.token_urlsafe(32)

        if scope["method"] not in SAFE_METHODS:
            refusal = self._check(scope, headers, cookies)
            if refusal is not None:
                response = JSONResponse(refusal.to_body(), status_code=refusal.status_code)
                await response(scope, receive, send)
                return

        reset = _current.set(token)
        try:
            await self.app(scope, receive, self._sender(send, token, token != existing))
        finally:
            _current.reset(reset)

    def _check(self, scope: Scope, headers: dict[str, str], cookies: dict[str, str]) -> TileworkError | None:
        if headers.get("authorization", "").lower().startswith("bearer "):
            return None
        form_path = scope["path"] in FORM_PATHS
        if SESSION_COOKIE not in cookies and not form_path:
            return None
        if not self._same_origin(headers):
            return CrossOriginRefused(
                "a signed-in browser request must come from this site's own pages (Origin/Referer check)"
            )
        if form_path:
            return None  # the form handler checks the csrf_token field
        cookie, sent = cookies.get(CSRF_COOKIE, ""), headers.get(CSRF_HEADER, "")
        if not cookie or not sent or not hmac.compare_digest(cookie, sent):
            return CsrfTokenInvalid(
                "send the page's CSRF token in the X-CSRF-Token header, or use a bearer token"
            )
        return None

    def _same_origin(self, headers: dict[str, str]) -> bool:
        claimed = headers.get("origin", "")
        origin = _origin(claimed) if claimed and claimed != "null" else None
        if origin is None and not claimed:
            referer = headers.get("referer", "")
            origin = _origin(referer) if referer else None
        if origin is None:
            return False
        if origin == self.public_origin:
            return True
        host = headers.get("host", "").lower()
        return bool(host) and urlsplit(origin).netloc == host

    def _sender(self, send: Send, token: str, new: bool) -> Send:
        if not new:
            return send
        cookie = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        if self.secure:
            cookie += "; Secure"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.append("Set-Cookie", cookie)
            await send(message)

        return send_with_cookie
