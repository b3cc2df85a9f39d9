"""PlanQA's errors, all of them, in one hierarchy. Each message says what went wrong and what to do next.

The knowledge base (``index/``) is the bottom layer, so the hierarchy lives here and ``rag/`` raises from it
too. The CLI and the API translate these at the edge; library code raises them and never swallows them.
"""


class PlanQAError(Exception):
    """Base class for every error PlanQA raises on purpose."""


class PlanParseError(PlanQAError):
    """The text does not look like a work plan (no numbered sections or tasks)."""


class InvalidQuestionError(PlanQAError):
    """The question is empty or too long."""


class IndexMissingError(PlanQAError):
    """No index has been built at the configured location."""


class IndexStaleError(PlanQAError):
    """The index was built from another corpus, model or parser version."""


class IndexCorruptError(PlanQAError):
    """An index file is unreadable or does not match its manifest."""


class IndexWriteError(PlanQAError):
    """The index could not be written: a full disk, a read-only folder, another build holding the lock."""


class UnknownModelError(PlanQAError):
    """The embedding model setting names no known backend or model."""


class MissingDependencyError(PlanQAError):
    """An optional backend was chosen but its extra is not installed."""


class InvalidConversationError(InvalidQuestionError):
    """A conversation id that is empty, too long or holds unexpected characters."""


class PromptError(PlanQAError):
    """A prompt file is missing or malformed."""


class DocumentError(PlanQAError):
    """A plan file cannot be read: an unsupported format, a damaged file, text in an unknown encoding."""


class UnsupportedFormatError(DocumentError):
    """A plan file of a type PlanQA does not read (the suffix names no reader)."""


class PlanNotFoundError(PlanQAError):
    """A plan id the library does not hold."""


class PlanConflictError(PlanQAError):
    """A plan id already taken (adding without replacing), or a change the library cannot make now."""


class PlanRejectedError(PlanQAError):
    """A plan file refused on upload: it reads, but its check report shows lines unaccounted for."""

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report  # the index.check.PlanReport, returned with the refusal


class StateStoreError(PlanQAError):
    """The shared state store (``rag/state``) is unreachable or refused an operation: Redis down, the SQLite
    file unwritable."""


class UnknownStateStoreError(PlanQAError):
    """The state store setting names no known backend."""


class UnknownVectorStoreError(PlanQAError):
    """The vector store setting names no known backend."""


class VectorStoreError(PlanQAError):
    """The vector store (a Milvus server, a milvus-lite folder) cannot be reached or refused an operation."""
