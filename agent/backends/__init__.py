"""Chat model backends: OpenAI (and OpenAI-compatible servers) and the offline, model-free one."""

from __future__ import annotations

from agent.models import ChatModel
from kb.settings import Settings


def make_chat_model(settings: Settings) -> ChatModel:
    """The backend the settings select (`auto`: OpenAI when a key or base URL is set, else offline)."""
    if settings.resolved_backend == "openai":
        from agent.backends.openai_chat import OpenAIChat

        return OpenAIChat(settings)
    from agent.backends.offline import OfflineModel

    return OfflineModel(settings)
