"""The customs-staff web console: server-rendered pages on top of the served models and the store.

Mounted at ``/`` by the service. Pages are plain HTML forms (Jinja2), so they work without JavaScript and need no
build step. Every form validates its input completely before it writes or scores anything, and shows problems on the
page, naming the field and the reason. Who may open each page is declared on the route (``serving.console.auth``:
a signed-in API key with the page's scope, unless auth is disabled).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from serving.console.auth import public
from serving.console.pages import STATIC_DIR, page_router

static = page_router()

_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}


@static.get("/console-static/{name}")
@public  # the sign-in page needs the stylesheet
async def static_file(name: str) -> Response:
    # Only files that exist directly in static/: no path traversal, no directory listing.
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in _STATIC_TYPES:
        return Response(status_code=404)
    return FileResponse(path, media_type=_STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=300"})


def _assemble() -> APIRouter:
    from serving.console import classify, kpi_page, models_page, reviews, shipments_page, transition_page
    from serving.console.signin import router as signin_router

    combined = APIRouter()
    for part in (signin_router, static, classify.router, kpi_page.router, models_page.router, reviews.router,
                 shipments_page.router, transition_page.router):
        combined.include_router(part)
    return combined


router = _assemble()
