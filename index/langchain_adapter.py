"""A PlanQA embedding model behind LangChain's ``Embeddings`` interface: ``PlanQAEmbeddings.as_langchain()``.

Its own module so that only a caller that wants LangChain imports ``langchain_core`` (the server never does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from index.embeddings import PlanQAEmbeddings


class LangChainEmbeddings(Embeddings):
    """A real ``langchain_core`` ``Embeddings`` (its async methods included) giving ``model``'s vectors."""

    def __init__(self, model: PlanQAEmbeddings) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)
