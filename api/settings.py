"""The one settings object. Environment variables with the prefix ``PLANQA_`` override each field."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "data" / "pingxiang-2021-education-work-plan.txt"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANQA_", frozen=True, extra="ignore")

    corpus: Path = Field(DEFAULT_CORPUS, description="The plan's text file (UTF-8)")
    index_dir: Path = Field(ROOT / "var" / "index", description="Where the index is built and loaded")
    embedding_model: str = Field(
        "multilingual-e5-small", description="multilingual-e5-small (bundled) or a sentence-transformers folder"
    )
    rebuild_index: bool = Field(True, description="Build the index at start-up when missing or stale")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    top_k: int = Field(3, ge=1, le=20, description="Citations per answer by default")
    max_question_chars: int = Field(500, ge=1, le=5000)
    max_request_bytes: int = Field(64 * 1024, ge=1024, description="Largest request body accepted")
    log_level: str = "info"

    @field_validator("corpus")
    @classmethod
    def _corpus_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"PLANQA_CORPUS: no such file {value}; point it at the plan's UTF-8 text file")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("PLANQA_LOG_LEVEL must be one of debug, info, warning, error")
        return value.lower()


@lru_cache
def get_settings() -> Settings:
    return Settings()
