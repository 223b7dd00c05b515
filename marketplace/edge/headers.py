"""Security headers on every response (pure ASGI middleware).

The pages load only our own ES modules and stylesheet; the job page may load Stripe.js, which Stripe
requires to come from js.stripe.com and which renders the Payment Element in frames from Stripe's
hosts. Inline styles stay allowed (a few ``style`` attributes set bar widths and colour swatches);
inline and injected scripts do not. ``/docs`` (Swagger UI from a CDN) gets its own, looser policy.
Headers the route set itself are kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRIPE_JS = "https://js.stripe.com https://*.js.stripe.com"

PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' {STRIPE_JS}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https://*.stripe.com",
        "font-src 'self'",
        "connect-src 'self' https://api.stripe.com",
        f"frame-src {STRIPE_JS} https://hooks.stripe.com",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)

DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=63072000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"].startswith(DOCS_PATHS) else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
