"""The knowledge base's errors that interfaces report in one line (and exit 3 from the CLI)."""


class StoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached (or the local index cannot be opened)."""


class IndexEmpty(StoreUnavailable):
    """The index has no documents yet; the message says to run `kb ingest`."""


class EmbeddingUnavailable(RuntimeError):
    """The embedding model cannot be loaded (not found, no hub, bad path); the message says which."""


class UnknownSource(ValueError):
    """A source scope (`--source ID`) that names no document in the index; the message says so."""


class TokenizerFallbackWarning(RuntimeWarning):
    """tiktoken's encoding could not be loaded; token counts are estimates (agent.budget)."""
