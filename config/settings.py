"""The one settings object. Environment variables with the prefix ``PLANQA_`` override each field.

Defaults come from the library (``rag/limits.py``, ``index/embeddings.py``): a default is written once.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embeddings import DEFAULT_MODEL
from index.vectors import DEFAULT_STORE, VECTOR_STORES
from index.vectors.milvus_store import DEFAULT_COLLECTION, address_problem
from rag import limits
from rag.lexicon import DEFAULT_DOMAINS, available_domains
from rag.state import STATE_STORES

ROOT = Path(__file__).resolve().parent.parent
WECHAT_MODES = ("plaintext", "compatible", "safe")  # the 公众号 console's 明文模式, 兼容模式, 安全模式
DEFAULT_CORPUS = ROOT / "data" / "pingxiang-2021-education-work-plan.txt"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANQA_", frozen=True, extra="ignore")

    corpus: Path = Field(
        DEFAULT_CORPUS,
        description="One plan file served as a one-plan library when PLANQA_PLANS is unset: .txt, .docx, .pdf, .html",
    )
    plans: Path | None = Field(
        None, description="The plans folder: every plan file in it is served (unset: PLANQA_CORPUS alone)"
    )
    default_plan: str = Field("", description="Plan id answered when a question names none (unset: see below)")
    default_issuer: str = Field(
        "", description="Issuer whose newest plan is the default (unset: the issuer with the most plans)"
    )
    current_year: int | None = Field(
        None, ge=1900, le=2200, description="What 今年 means when choosing a plan (unset: the clock's year)"
    )
    admin_api_keys: str = Field(
        "", repr=False, description="Comma-separated bearer tokens that may add and remove plans over HTTP"
    )
    index_dir: Path = Field(ROOT / "var" / "index", description="Where the index is built and loaded")
    vector_store: str = Field(
        DEFAULT_STORE, description=f"Where sentence vectors live: {' or '.join(VECTOR_STORES)} (index/vectors)"
    )
    milvus_uri: str = Field(
        "",
        description="Milvus for PLANQA_VECTOR_STORE=milvus: a path ending in .db (milvus-lite, embedded, one "
        "process) or http://host:19530 (a Milvus server or cluster); unset: PLANQA_INDEX_DIR/milvus.db",
    )
    milvus_collection: str = Field(
        DEFAULT_COLLECTION, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$", description="The Milvus collection"
    )
    embedding_model: str = Field(
        DEFAULT_MODEL, description="multilingual-e5-small (bundled) or a sentence-transformers folder"
    )
    rebuild_index: bool = Field(True, description="Build the index at start-up when missing or stale")
    lexicons: str = Field(
        ",".join(DEFAULT_DOMAINS), description="Lexicon domains (lexicons/<domain>.txt), comma-separated"
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64, description="planqa serve's worker processes")
    # The shared state store (rag/state): conversations, WeChat's de-duplication and continuations, rate limits.
    state_store: str = Field(
        "",
        description="Where request state lives: memory (this process), sqlite (this machine's processes) or redis "
        "(several machines); unset: redis with PLANQA_REDIS_URL, sqlite with several workers, else memory",
    )
    state_path: Path = Field(ROOT / "var" / "state.sqlite3", description="The SQLite state store's file")
    redis_url: str = Field("", repr=False, description="Redis for the state store: redis://host:6379/0")
    top_k: int = Field(limits.TOP_K, ge=1, le=limits.MAX_TOP_K, description="Citations per answer by default")
    max_question_chars: int = Field(limits.MAX_QUESTION_CHARS, ge=1, le=5000, description="Longest question")
    max_request_bytes: int = Field(64 * 1024, ge=1024, description="Largest request body accepted")
    log_level: str = "info"
    # WeChat (api/wechat): an empty token leaves /wechat or /wecom answering 404.
    wechat_token: str = Field("", repr=False, description="公众号 server-configuration Token")
    wechat_aes_key: str = Field("", repr=False, description="公众号 EncodingAESKey (43 characters)")
    wechat_appid: str = Field("", description="公众号 AppID (needed for safe mode and the customer-service API)")
    wechat_mode: str = Field(
        "",
        description="消息加解密方式, as in the console: plaintext, compatible or safe (default: safe with an "
        "EncodingAESKey, plaintext without)",
    )
    wechat_appsecret: str = Field("", repr=False, description="公众号 AppSecret: late answers go by 客服消息")
    wechat_api_base: str = Field("https://api.weixin.qq.com", description="WeChat API base URL")
    wecom_token: str = Field("", repr=False, description="企业微信 app Token")
    wecom_aes_key: str = Field("", repr=False, description="企业微信 app EncodingAESKey (43 characters)")
    wecom_corpid: str = Field("", description="企业微信 CorpID")
    # Optional LLM answers (rag/generator.py): off unless both a base URL and a model are set.
    llm_base_url: str = Field("", description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1")
    llm_model: str = Field("", description="Model name the endpoint knows")
    llm_api_key: str = Field("not-needed", repr=False, description="API key (local servers ignore it)")
    llm_max_tokens: int = Field(
        limits.LLM_MAX_TOKENS, ge=16, le=2048, description="Longest generated answer, in tokens"
    )
    llm_budget_wechat_s: float = Field(limits.LLM_BUDGET_WECHAT_S, gt=0, le=60, description="LLM budget, WeChat")
    llm_budget_web_s: float = Field(
        limits.LLM_BUDGET_WEB_S, gt=0, le=300, description="LLM time budget for /ask and the web page"
    )
    llm_budget_openai_s: float = Field(
        limits.LLM_BUDGET_OPENAI_S, gt=0, le=300, description="LLM time budget for /v1/chat/completions"
    )
    # Answers written by the LLM hold a worker thread each (api/streams.py): at most this many at once.
    max_llm_streams: int = Field(
        limits.MAX_LLM_STREAMS, ge=1, le=32, description="LLM answers at once (the thread pool has 40 threads)"
    )
    max_streams_per_client: int = Field(
        limits.MAX_STREAMS_PER_CLIENT, ge=0, description="LLM answers at once per API key or address (0: no limit)"
    )
    # Conversations (rag/sessions.py) and the OpenAI-compatible endpoint's replayed history.
    conversation_ttl_s: float = Field(
        limits.CONVERSATION_TTL_S, gt=0, description="Forget a conversation this long after its last turn"
    )
    max_conversations: int = Field(
        limits.MAX_CONVERSATIONS, ge=1, description="Conversations kept; the least recently used go first"
    )
    max_conversation_turns: int = Field(
        limits.MAX_CONVERSATION_TURNS, ge=1, le=20, description="Earlier user messages of a /v1 history replayed"
    )
    api_keys: str = Field(
        "",
        repr=False,
        description="Comma-separated bearer tokens; when set, all but /health, /ready, the page "
        "and the WeChat callbacks need one",
    )
    rate_limit_per_ip: int = Field(600, ge=0, description="Requests a minute per client address (0: no limit)")
    rate_limit_per_key: int = Field(3000, ge=0, description="Requests a minute per API key (0: no limit)")
    rate_limit_auth_failures: int = Field(
        10, ge=0, description="Wrong API keys a minute per client address before it gets 429 (0: no limit)"
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-For is believed; empty: the socket address only",
    )
    log_questions: bool = Field(False, description="Write question text into the logs (off: questions can be personal)")

    @model_validator(mode="after")
    def _wechat_complete(self) -> Settings:
        if (self.wechat_aes_key or self.wechat_appsecret) and not self.wechat_appid:
            raise ValueError("PLANQA_WECHAT_APPID is required with PLANQA_WECHAT_AES_KEY or PLANQA_WECHAT_APPSECRET")
        if self.wechat_mode not in ("", *WECHAT_MODES):
            modes = ", ".join(WECHAT_MODES)
            raise ValueError(f"PLANQA_WECHAT_MODE must be one of {modes} (the console's 消息加解密方式)")
        if self.wechat_mode in ("compatible", "safe") and not self.wechat_aes_key:
            raise ValueError(
                f"PLANQA_WECHAT_MODE={self.wechat_mode} needs PLANQA_WECHAT_AES_KEY: copy the EncodingAESKey from the "
                "console"
            )
        if self.wecom_token and not (self.wecom_aes_key and self.wecom_corpid):
            raise ValueError(
                "PLANQA_WECOM_TOKEN needs PLANQA_WECOM_AES_KEY and PLANQA_WECOM_CORPID (WeCom always encrypts)"
            )
        return self

    @model_validator(mode="after")
    def _state_store_known(self) -> Settings:
        if self.state_store not in ("", *STATE_STORES):
            raise ValueError(
                f"PLANQA_STATE_STORE must be one of {', '.join(STATE_STORES)} (or unset), not {self.state_store!r}"
            )
        if self.state_store == "redis" and not self.redis_url:
            raise ValueError("PLANQA_STATE_STORE=redis needs PLANQA_REDIS_URL (redis://host:6379/0)")
        if self.redis_url and self.state_store in ("memory", "sqlite"):
            raise ValueError(
                f"PLANQA_REDIS_URL is set but PLANQA_STATE_STORE={self.state_store}: unset one (the URL alone means "
                "redis)"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("PLANQA_REDIS_URL must start with redis://, rediss:// or unix:// (redis://host:6379/0)")
        return self

    def state_backend(self, workers: int | None = None) -> str:
        """The state store serving ``workers`` processes (default: PLANQA_WORKERS): as set, else redis with a
        URL, else sqlite (shared by this machine's processes) for several workers, else this process's memory."""
        if self.state_store:
            return self.state_store
        if self.redis_url:
            return "redis"
        return "sqlite" if (workers or self.workers) > 1 else "memory"

    @property
    def wechat_message_mode(self) -> str:
        """The 公众号's message mode: as set, else safe when an EncodingAESKey is set, plaintext otherwise."""
        return self.wechat_mode or ("safe" if self.wechat_aes_key else "plaintext")

    @property
    def api_key_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def admin_key_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.admin_api_keys.split(",") if k.strip())

    @model_validator(mode="after")
    def _one_source_of_plans(self) -> Settings:
        if self.plans is not None and "corpus" in self.model_fields_set:
            raise ValueError(
                "PLANQA_PLANS and PLANQA_CORPUS are both set: PLANQA_PLANS serves a folder of plans, PLANQA_CORPUS one "
                "file; unset one"
            )
        return self

    @field_validator("plans")
    @classmethod
    def _plans_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"PLANQA_PLANS: no such folder {value}; create it, or point it at the folder of plans")
        return value

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @model_validator(mode="after")
    def _llm_complete(self) -> Settings:
        if bool(self.llm_base_url) != bool(self.llm_model):
            raise ValueError(
                "PLANQA_LLM_BASE_URL and PLANQA_LLM_MODEL go together: set both to enable LLM answers, or neither"
            )
        return self

    @field_validator("corpus")
    @classmethod
    def _corpus_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"PLANQA_CORPUS: no such file {value}; point it at the plan (.txt, .docx, .pdf or .html)")
        return value

    @field_validator("lexicons")
    @classmethod
    def _known_lexicons(cls, value: str) -> str:
        known = available_domains()
        unknown = [d for d in _domains(value) if d not in known]
        if unknown or not _domains(value):
            raise ValueError(f"PLANQA_LEXICONS: unknown domain(s) {unknown}; use a comma-separated list of {known}")
        return value

    @property
    def lexicon_domains(self) -> tuple[str, ...]:
        return _domains(self.lexicons)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        for item in (s.strip() for s in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as e:
                    raise ValueError(f"PLANQA_TRUSTED_PROXIES: {item!r} is not an address or network ({e})") from e
        return value

    @field_validator("vector_store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value not in VECTOR_STORES:
            raise ValueError(
                f"PLANQA_VECTOR_STORE: unknown store {value!r}; set it to one of {', '.join(VECTOR_STORES)}"
            )
        return value

    @field_validator("milvus_uri")
    @classmethod
    def _milvus_address(cls, value: str) -> str:
        if value and (problem := address_problem(value)):
            raise ValueError(problem)
        return value

    @property
    def milvus_address(self) -> str:
        """PLANQA_MILVUS_URI, or milvus-lite's folder beside the index."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("PLANQA_LOG_LEVEL must be one of debug, info, warning, error")
        return value.lower()


def _domains(value: str) -> tuple[str, ...]:
    return tuple(d.strip() for d in value.split(",") if d.strip())


@lru_cache
def get_settings() -> Settings:
    return Settings()
