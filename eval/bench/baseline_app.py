"""The LangChain baseline as an HTTP service, for the benchmark: ``POST /ask`` returns the top-1 chunk.

Built the way the afternoon recipe is: split and embed the corpus at start-up (there is no persisted index),
one sync route, uvicorn. ``uvicorn --factory eval.bench.baseline_app:app_factory``; the corpus comes from
``PLANQA_CORPUS`` like the real service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel


class Question(BaseModel):
    question: str


def app_factory() -> FastAPI:
    from config.settings import get_settings
    from eval.systems import LangChainBaseline
    from index.embeddings import load_embeddings
    from index.readers import read_document

    state: dict[str, LangChainBaseline] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = get_settings()
        corpus = read_document(settings.corpus).text
        state["qa"] = LangChainBaseline(corpus, load_embeddings(settings.embedding_model))
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ask")
    def ask(body: Question) -> dict[str, object]:
        p = state["qa"].ask(body.question)
        return {"answer": p.text, "found": p.found, "tasks": list(p.tasks), "elapsed_ms": round(p.ms, 2)}

    return app
