"""JSON out, serialised once: orjson straight to the bytes the response sends.

Routes that return a pydantic model are serialised once already (FastAPI hands the model to pydantic's own
JSON writer). The hot path (``POST /ask``) and the error responses build plain data and return ``Json(data)``,
which skips building and validating a model of what the route has just built.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


def dumps(data: Any) -> bytes:
    """UTF-8 JSON (characters as they are, not ``\\u`` escapes); dataclasses and enums as orjson writes them."""
    return orjson.dumps(data)


class Json(JSONResponse):
    """``JSONResponse`` rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
