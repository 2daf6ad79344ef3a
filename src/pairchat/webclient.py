"""The built web client as pairchat serves it over HTTP: its files
(src/pairchat/static, read into memory at start) and the security headers of
every answer. A broker's gateway serves the chat at `/`; operations listeners
serve the moderator console at `/moderate` (`console_routes`), which calls the
moderation API beside it (`pairchat.api.admin`).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONSOLE = "/moderate"  # the console's URL path; its page is moderate.html
_NO_CONSOLE = b"the moderator console is not built (run `make install`)\n"
# Types served whatever the machine's /etc/mime.types says (`mimetypes` reads it).
_TYPES = {".webmanifest": "application/manifest+json"}

# A Host the CSP may name: a DNS name or IP literal and a port, nothing that could
# end the directive.
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?")


def security_headers(host: str | None) -> dict[str, str]:
    """The headers of every HTTP answer: the page may load only its own files
    and connect only to this broker (CSP 'self' does not cover ws: and wss: in
    older browsers, so they are named from the request's Host; without a Host,
    `connect-src 'self'` alone)."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; connect-src 'self'{sockets}; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    headers: dict[str, str]  # Content-Type and Cache-Control


def load_static(root: Path) -> dict[str, StaticFile]:
    """Every file of the built web client by URL path; `/` is index.html, and
    nothing when the client is not built. Only these paths are ever served, so
    no request can reach another file."""
    files: dict[str, StaticFile] = {}
    if not (root / "index.html").is_file():
        return files
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        url = "/" + path.relative_to(root).as_posix()
        kind = (
            _TYPES.get(path.suffix)
            or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream"
        )
        if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        # Vite names assets by their content's hash: they never change.
        cache = "public, max-age=31536000, immutable" if url.startswith("/assets/") else "no-cache"
        files[url] = StaticFile(path.read_bytes(), {"Content-Type": kind, "Cache-Control": cache})
    files["/"] = files["/index.html"]
    return files


def console_routes(root: Path = STATIC_DIR) -> list[web.RouteDef]:
    """GET /moderate (the console's page, moderate.html) and the files it
    loads (/assets/*, /favicon.svg), for an operations listener; 404 with a
    hint when the client is not built. Every answer carries the security
    headers, with `connect-src 'self'`: the console only calls /admin/ there."""
    files = load_static(root)
    served = {path: found for path, found in files.items() if path.startswith("/assets/")}
    if "/moderate.html" in files:
        served[CONSOLE] = files["/moderate.html"]
        if "/favicon.svg" in files:
            served["/favicon.svg"] = files["/favicon.svg"]

    async def serve(request: web.Request) -> web.Response:
        found = served.get(request.path)
        if found is None:
            body = _NO_CONSOLE if request.path == CONSOLE else b"not found\n"
            return web.Response(
                status=404,
                body=body,
                headers={"Content-Type": "text/plain; charset=utf-8", **security_headers(None)},
            )
        return web.Response(body=found.body, headers={**found.headers, **security_headers(None)})

    return [
        web.get(CONSOLE, serve),
        web.get("/favicon.svg", serve),
        web.get("/assets/{name:.+}", serve),
    ]
