"""A bare FastAPI app, for the benchmark's HTTP limit: what the framework and server cost with no work at all.

``GET /health`` and ``POST /ask`` (a pydantic body, like PlanQA's) answering a constant reply of the size of a
typical PlanQA answer, so the bytes on the wire match. Served like PlanQA (uvicorn, uvloop, httptools, one
worker): ``uvicorn --factory eval.bench.bare_app:app_factory``.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

# About as long as "谁负责近视防控?"'s answer with its citations (~2 KB of JSON).
_TEXT = "重点抓好作业、睡眠、手机、读物、体质管理，推进儿童青少年近视防控。" * 18


class Question(BaseModel):
    question: str


def app_factory() -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ask")
    async def ask(body: Question) -> dict[str, object]:
        return {"answer": _TEXT, "found": True, "question": body.question, "citations": []}

    return app
