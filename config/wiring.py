"""Build the knowledge base and the answering service that the settings describe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.settings import Settings
from index.catalog import plan_meta
from index.embeddings import PlanQAEmbeddings, load_embeddings
from index.library import PlanFolder
from index.store import PlanIndex, Progress, open_index
from index.vectors import VectorStore, VectorStoreConfig, open_vector_store
from rag.answer import AnswerConfig
from rag.library import LibraryConfig, LibraryService
from rag.service import AnsweringService, Budgets, ServiceConfig
from rag.sessions import SessionConfig, SessionStore
from rag.state import StateStore, StateStoreConfig, open_state_store

if TYPE_CHECKING:
    from rag.generator import Generator


def load_index(settings: Settings, progress: Progress | None = None) -> PlanIndex:
    """Load (or, when the settings allow, build) the index of the configured plan."""
    embeddings = load_embeddings(settings.embedding_model)
    store = vector_store(settings, embeddings.dimension)
    return open_index(
        settings.corpus,
        settings.index_dir,
        embeddings,
        rebuild=settings.rebuild_index,
        progress=progress,
        store=store,
        tag=plan_folder(settings, store).tag(settings.corpus),  # as the library files it: one build serves both
    )


def vector_store(settings: Settings, dimension: int) -> VectorStore:
    """The vector store the settings name (PLANQA_VECTOR_STORE), for vectors of ``dimension``."""
    config = VectorStoreConfig(dimension, uri=settings.milvus_address, collection=settings.milvus_collection)
    return open_vector_store(settings.vector_store, config)


def service_config(settings: Settings) -> ServiceConfig:
    budgets = Budgets(
        web=settings.llm_budget_web_s,
        wechat=settings.llm_budget_wechat_s,
        openai=settings.llm_budget_openai_s,
    )
    return ServiceConfig(
        answer=AnswerConfig(top_k=settings.top_k, lexicons=settings.lexicon_domains),
        max_question_chars=settings.max_question_chars,
        max_replayed_turns=settings.max_conversation_turns,
        budgets=budgets,
    )


def build_service(
    settings: Settings,
    index: PlanIndex | None = None,
    *,
    config: ServiceConfig | None = None,
    llm: bool | None = None,
    store: StateStore | None = None,
) -> AnsweringService:
    """The answering service for ``settings``: the index (loaded unless given), the LLM step when
    ``PLANQA_LLM_*`` is set (or ``llm`` says otherwise), and a session store (in ``store``, else in the state
    store the settings name)."""
    index = index or load_index(settings)
    generator = build_generator(settings, llm)
    return AnsweringService(index, config or service_config(settings), generator, build_sessions(settings, store))


def plan_folder(settings: Settings, store: VectorStore | None = None) -> PlanFolder:
    """The plans the settings name: the folder PLANQA_PLANS, or the one file PLANQA_CORPUS (whose index stays
    where it always was, PLANQA_INDEX_DIR itself); their vectors in ``store`` (default: FAISS)."""
    if settings.plans is not None:
        return PlanFolder(settings.plans, settings.index_dir, store=store)
    return PlanFolder(settings.corpus.parent, settings.index_dir, single=settings.corpus, store=store)


def library_config(settings: Settings) -> LibraryConfig:
    return LibraryConfig(settings.default_plan, settings.default_issuer, settings.current_year)


def build_library(
    settings: Settings,
    *,
    config: ServiceConfig | None = None,
    llm: bool | None = None,
    embeddings: PlanQAEmbeddings | None = None,
    progress: Progress | None = None,
    store: StateStore | None = None,
) -> LibraryService:
    """The library the settings describe: every plan loaded (built when missing or stale, if allowed), one
    answering service each, one session store (in ``store``, else the settings' state store) and LLM step
    shared."""
    embeddings = embeddings or load_embeddings(settings.embedding_model)
    folder = plan_folder(settings, vector_store(settings, embeddings.dimension))
    plans = folder.load_all(embeddings, settings.rebuild_index, progress)
    return LibraryService(
        plans,
        config or service_config(settings),
        library_config(settings),
        build_generator(settings, llm),
        build_sessions(settings, store),
        folder=folder,
        embeddings=embeddings,
        rebuild=settings.rebuild_index,
    )


def single_library(settings: Settings, service: AnsweringService) -> LibraryService:
    """A one-plan library around ``service`` (built elsewhere: tests, the evaluation), with the settings' folder
    (so a plan folder's plans can still be added)."""
    path = settings.corpus if settings.plans is None else service.index.path
    meta = plan_meta(path, service.plan.title)
    library = LibraryService(
        [(meta, service)], service.config, library_config(settings), service.generator, service.sessions
    )
    return library


def build_generator(settings: Settings, llm: bool | None = None) -> Generator | None:
    """The LLM step when ``PLANQA_LLM_*`` is set (or ``llm`` says otherwise)."""
    use_llm = settings.llm_enabled if llm is None else llm
    generator = None
    if use_llm:
        if not settings.llm_enabled:
            from index.errors import PlanQAError

            raise PlanQAError(
                "未配置大模型。No LLM configured: set PLANQA_LLM_BASE_URL and PLANQA_LLM_MODEL "
                "(any OpenAI-compatible endpoint)."
            )
        from rag.generator import Generator, LLMConfig  # the LLM client loads only when one is configured

        generator = Generator(
            LLMConfig(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key,
                max_tokens=settings.llm_max_tokens,
            )
        )
    return generator


def session_config(settings: Settings) -> SessionConfig:
    return SessionConfig(ttl_seconds=settings.conversation_ttl_s, max_conversations=settings.max_conversations)


def state_config(settings: Settings) -> StateStoreConfig:
    return StateStoreConfig(path=settings.state_path, url=settings.redis_url, caps=session_config(settings).caps())


def build_state_store(settings: Settings, workers: int | None = None) -> StateStore:
    """The state store the settings name (``Settings.state_backend``), opened: StateStoreError when its file or
    server cannot be reached, MissingDependencyError naming the extra when its client is not installed."""
    return open_state_store(settings.state_backend(workers), state_config(settings))


def build_sessions(settings: Settings, store: StateStore | None = None) -> SessionStore:
    return SessionStore(session_config(settings), store or build_state_store(settings))
