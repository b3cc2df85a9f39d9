"""The web page for teachers: ``/`` and its static files (plain HTML, CSS and JavaScript; nothing external)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SettingsDep
from api.errors import ApiError

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Everything comes from this server: an intranet has no CDN, and nothing else may run on the page.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/")
async def page(settings: SettingsDep) -> HTMLResponse:
    """The page, with the question box limited to PLANQA_MAX_QUESTION_CHARS (the one setting of the limit)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace("{max_question_chars}", str(settings.max_question_chars))
    return HTMLResponse(html, headers=_HEADERS)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    path = STATIC / name
    # Only plain file names of the folder itself: no sub-paths, no dot-files, known types only.
    if "/" in name or "\\" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        raise ApiError(404, "not_found", f"找不到文件 {name}。No such static file: {name}.")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=_HEADERS)
