"""The web app: ``create_app(WebConfig)`` (``fleet serve`` builds the config
from the composition root's store and vault).

Every response carries the security headers (a CSP that allows no inline
script, ``nosniff``, no framing, no referrer); pages need a session, the API a
session or a bearer token; errors are problem details on /api/v1 and an error
page elsewhere."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from web import api, challenges, kpis, metrics, ops, ops_accounts, pages
from web.auth import LoginLimiter, LoginRequired, principal
from web.config import WebConfig
from web.problems import Problem
from web.rendering import HERE, render

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


ROUTERS = (
    pages.router,
    api.router,
    metrics.router,
    kpis.router,
    ops.router,
    ops_accounts.router,
    challenges.router,
)
"""Every route of the app (the permission table test walks these)."""


def create_app(config: WebConfig) -> FastAPI:
    app = FastAPI(
        title="deductions-fleet",
        version="1",
        description="Deductions, approvals and disputes. Authenticate with "
        "`Authorization: Bearer <token>` (`fleet users token USER`).",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    app.state.limiter = LoginLimiter(config.login_attempts_per_minute)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith(
            ("/api/", "/deductions", "/approvals", "/worklist", "/ops", "/kpis")
        ):
            response.headers.setdefault("Cache-Control", "private, no-store")
        if config.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    def problem(request: Request, exc: Problem) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                exc.body(request.url.path),
                status_code=exc.status,
                media_type="application/problem+json",
            )
        if request.headers.get("hx-request"):
            return render(request, "_error.html", None, exc.status, problem=exc)
        return render(request, "error.html", principal(request), exc.status, problem=exc)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return problem(request, exc)

    @app.exception_handler(LoginRequired)
    async def on_login_required(request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()[:5]
        )
        return problem(request, Problem(422, "Invalid request", where[:500]))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(request, Problem(exc.status_code, title, str(exc.detail)[:200]))

    return app


__all__ = ["CSP", "ROUTERS", "SECURITY_HEADERS", "create_app"]
