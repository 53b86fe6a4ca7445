"""``/docs`` (Swagger UI) and ``/redoc`` (Redoc) of the gateway's own API, with no CDN.

FastAPI's pages load their JavaScript and CSS from a CDN, so without internet they are blank.
Here the pages are FastAPI's own (``get_swagger_ui_html``, ``get_redoc_html``) pointed at assets
the gateway serves from the ``fastapi-offline`` package (Swagger UI 5, Apache-2.0; Redoc 2, MIT),
under ``/docs/assets/``. Only the files named below are served: the name is looked up, never
joined into a path.

The pages carry a Content-Security-Policy: scripts only from the gateway plus the page's own
inline start-up script (by its hash), requests only to the gateway, no framing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from app.core.errors import NotFound

router = APIRouter(include_in_schema=False)

_ASSET_DIR = Path(str(files("fastapi_offline") / "static"))
# name -> media type; nothing else under the package is reachable.
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
ASSETS_PATH = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with headers that allow what it needs and nothing more."""
    body = bytes(page.body).decode("utf-8")
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(body)
    )
    policy = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self'"
        " blob:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": policy,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache",
        },
    )


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI of /openapi.json."""
    root = _root(request)
    return _with_policy(
        get_swagger_ui_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} — Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            # No authorization-code or implicit flow: nothing redirects back to the page.
            oauth2_redirect_url=None,
            swagger_ui_parameters=request.app.swagger_ui_parameters,
        )
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """Redoc of /openapi.json."""
    root = _root(request)
    return _with_policy(
        get_redoc_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} — Redoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
    )


@router.get(ASSETS_PATH + "/{name}")
async def asset(name: str) -> FileResponse:
    """One of the pages' assets, from the installed package."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound("No such asset.")
    return FileResponse(
        _ASSET_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
