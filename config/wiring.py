"""Build the knowledge base and the answering service that the settings describe."""

from __future__ import annotations

from config.settings import Settings
from index.embeddings import load_embeddings
from index.store import PlanIndex, Progress, open_index
from rag.answer import AnswerConfig
from rag.service import AnsweringService, Budgets, ServiceConfig
from rag.sessions import SessionConfig, SessionStore


def load_index(settings: Settings, progress: Progress | None = None) -> PlanIndex:
    """Load (or, when the settings allow, build) the index of the configured plan."""
    embeddings = load_embeddings(settings.embedding_model)
    return open_index(
        settings.corpus, settings.index_dir, embeddings, rebuild=settings.rebuild_index, progress=progress
    )


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
) -> AnsweringService:
    """The answering service for ``settings``: the index (loaded unless given), the LLM step when
    ``PLANQA_LLM_*`` is set (or ``llm`` says otherwise), and a session store."""
    index = index or load_index(settings)
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
    sessions = SessionStore(
        SessionConfig(ttl_seconds=settings.conversation_ttl_s, max_conversations=settings.max_conversations)
    )
    return AnsweringService(index, config or service_config(settings), generator, sessions)
