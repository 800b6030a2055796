"""Chat model backends: OpenAI (and OpenAI-compatible servers) and the offline, model-free one."""

from __future__ import annotations

from collections.abc import Callable

from agent.evidence import SentenceEncoder
from agent.models import ChatModel
from kb.settings import Settings


def make_chat_model(settings: Settings, idf: Callable[[str], float] | None = None,
                    encoder: SentenceEncoder | None = None,
                    titles: Callable[[], list[tuple[str, str]]] | None = None) -> ChatModel:
    """The backend the settings select (`auto`: OpenAI when a key or base URL is set, else offline).
    The offline model reads meaning with `encoder` (over the index's embedding model) and weighs
    terms with `idf` (the index's term weights); without them, uniform weights and term overlap.
    `titles` lists the documents, so that a question naming one by its title is answered from it."""
    if settings.resolved_backend == "openai":
        from agent.backends.openai_chat import OpenAIChat

        return OpenAIChat(settings)
    from agent.backends.offline import OfflineModel

    return OfflineModel(settings, idf=idf, encoder=encoder, titles=titles)
