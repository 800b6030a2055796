"""`kb eval --judge`: an LLM judge scores each answer against the reference (correct) and the
retrieved passages (faithful). Needs a configured model (OpenAI or compatible); its token cost is
reported apart from the answers' cost."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from agent.prompts import JUDGE_PROMPT
from evals.gold_file import GoldQuestion
from kb.settings import Settings, reveal


class JudgeUnavailable(RuntimeError):
    pass


def check_judge(settings: Settings) -> None:
    if not (reveal(settings.agent.openai_api_key) or settings.agent.openai_base_url):
        raise JudgeUnavailable("--judge needs a model: set OPENAI_API_KEY or OPENAI_BASE_URL")


def judge_rows(rows: list[dict[str, Any]], questions: Sequence[GoldQuestion], settings: Settings) -> dict[str, Any]:
    from agent.answer import cost_usd
    from agent.backends.openai_chat import OpenAIChat

    check_judge(settings)
    chat = OpenAIChat(settings)
    by_id = {q.id: q for q in questions}
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    correct: list[bool] = []
    faithful: list[bool] = []
    for row in rows:
        q = by_id[row["id"]]
        passages = "\n".join(f"- [{c.get('at')}] {c.get('quote', '')}" for c in row.get("citations") or []) or "(none cited)"
        prompt = JUDGE_PROMPT.format(question=q.question, reference=q.reference or "(not covered)", passages=passages,
                                     answer=row.get("answer") or "(no answer)")
        reply = chat.complete([{"role": "user", "content": prompt}])
        usage["prompt_tokens"] += reply.prompt_tokens
        usage["completion_tokens"] += reply.completion_tokens
        verdict = _parse(reply.content)
        row["judge"] = verdict
        correct.append(bool(verdict.get("correct")))
        faithful.append(bool(verdict.get("faithful")))
    n = len(rows) or 1
    return {"judge_correct": sum(correct) / n, "judge_faithful": sum(faithful) / n, "model": settings.agent.model,
            **usage, "cost_usd": cost_usd(settings, usage)}


def _parse(text: str) -> dict[str, Any]:
    m = re.search(r"\{.*\}", text or "", re.DOTALL)
    if not m:
        return {"correct": False, "faithful": False, "reason": f"unparseable judge reply: {text[:100]!r}"}
    try:
        data = json.loads(m.group(0))
    except ValueError:
        return {"correct": False, "faithful": False, "reason": f"unparseable judge reply: {text[:100]!r}"}
    return {"correct": bool(data.get("correct")), "faithful": bool(data.get("faithful")), "reason": str(data.get("reason", ""))}
