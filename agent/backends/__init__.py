"""Chat model backends: OpenAI (and OpenAI-compatible servers) and the offline, model-free one."""

from __future__ import annotations

from typing import Any

from agent.models import ChatModel
from kb.settings import Settings


def make_chat_model(settings: Settings, retriever: Any = None) -> ChatModel:
    """The backend the settings select (`auto`: OpenAI when a key or base URL is set, else offline).
    The offline model takes the index's term weights and embedder from `retriever`."""
    if settings.resolved_backend == "openai":
        from agent.backends.openai_chat import OpenAIChat

        return OpenAIChat(settings)
    from agent.backends.offline import OfflineModel

    return OfflineModel(settings, idf=getattr(retriever, "idf", None), embedder=getattr(retriever, "embedder", None))
