"""What a language model reads of a search result (agent.focus): the sentences that bear on the
query with their neighbours, gap marks for the rest; the passages themselves stay whole."""

from __future__ import annotations

import json

from agent.citations import guard
from agent.evidence import SentenceEncoder
from agent.focus import focus
from agent.models import ToolResult
from agent.render import GAP, tool_content
from agent.tools import SEARCH, Toolbox
from kb.settings import Settings
from kb.types import Passage, Sentence, handle


def passage(source: str, start: float, *texts: str) -> Passage:
    sentences = tuple(Sentence(t, start_s=start + 10.0 * i) for i, t in enumerate(texts))
    return Passage(chunk_id=f"{source}-{int(start)}", source=source, title=source.title(), score=0.5, text=" ".join(texts),
                   start_s=start, end_s=start + 10.0 * len(texts), sentences=sentences)


ORCHARD = passage(
    "orchard", 0.0,
    "Good morning and welcome to the walk around the farm.",
    "We planted the first rows of trees in the spring.",
    "The pear orchard yields about nine tonnes of fruit a year.",
    "Most of that fruit goes to the cider press in town.",
    "The goats keep the grass down between the rows.",
    "The barn roof was replaced after the storm last winter.",
    "Visitors can buy honey at the gate on weekends.",
)
DAIRY = passage(
    "dairy", 100.0,
    "The dairy has forty cows of three breeds.",
    "Milking starts at five every morning.",
    "The cheese cellar stays cool all summer without power.",
)
QUERY = "How much fruit does the pear orchard yield a year?"


def test_the_best_sentences_are_shown_with_their_neighbours_and_each_passage_keeps_its_best() -> None:
    shown = focus(QUERY, [ORCHARD, DAIRY], SentenceEncoder(None), top=1)
    assert shown[0] == (1, 2, 3)  # the yield sentence, one either side
    best = shown[1][len(shown[1]) // 2] if len(shown[1]) == 3 else None
    assert shown[1] in ((0, 1), (1, 2)) or shown[1] == (best - 1, best, best + 1)  # its best sentence and neighbours


def test_a_passage_without_a_claim_still_shows_its_best_sentence() -> None:
    chatter = passage("chatter", 300.0, "Right?", "Okay.", "Mm-hmm, pears?", "Yeah.", "Sure.")
    shown = focus(QUERY, [ORCHARD, chatter], SentenceEncoder(None), top=1)
    assert shown[1] and len(shown[1]) <= 3
    content = json.loads(tool_content(ToolResult(SEARCH, {"query": QUERY}, passages=(ORCHARD, chatter), shown=shown)))
    assert [p["source"] for p in content["passages"]] == ["orchard", "chatter"]


def test_the_tool_message_shows_only_the_focused_sentences_and_the_guard_still_resolves_them() -> None:
    shown = focus(QUERY, [ORCHARD, DAIRY], SentenceEncoder(None), top=1)
    content = json.loads(tool_content(ToolResult(SEARCH, {"query": QUERY}, passages=(ORCHARD, DAIRY), shown=shown)))
    lines = content["passages"][0]["sentences"]
    assert lines[0] == GAP and lines[-1] == GAP and len(lines) == 5
    assert any("nine tonnes" in line for line in lines) and not any("honey" in line for line in lines)
    s = ORCHARD.sentences[2]
    checked = guard(f"{s.text} [{handle(ORCHARD, s)}]", [ORCHARD, DAIRY])
    assert checked.dropped == 0 and checked.citations[0]["quote"] == s.text
    whole = json.loads(tool_content(ToolResult(SEARCH, {"query": QUERY}, passages=(ORCHARD, DAIRY))))
    assert len(whole["passages"][0]["sentences"]) == len(ORCHARD.sentences)


class Shelf:
    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages

    def search(self, query: str, k: int | None = None, source: str | None = None, mode: str = "hybrid") -> list[Passage]:
        return self.passages[:k]


def test_the_toolbox_focuses_a_search_only_when_given_a_focus() -> None:
    encoder = SentenceEncoder(None)
    focused = Toolbox(Shelf([ORCHARD, DAIRY]), Settings(top_k=2),  # type: ignore[arg-type]
                      focus=lambda q, ps: focus(q, ps, encoder, top=1))
    result = focused.run(SEARCH, json.dumps({"query": QUERY}))
    assert result.shown is not None and result.shown[0] == (1, 2, 3)
    assert result.passages == (ORCHARD, DAIRY)  # the evidence the guard reads is whole
    plain = Toolbox(Shelf([ORCHARD, DAIRY]), Settings(top_k=2)).run(SEARCH, json.dumps({"query": QUERY}))  # type: ignore[arg-type]
    assert plain.shown is None


def test_the_budget_packs_the_focused_text_and_keeps_each_passage_with_its_sentences() -> None:
    from agent.render import passage_text

    encoder = SentenceEncoder(None)
    shown = focus(QUERY, [ORCHARD, DAIRY], encoder, top=1)
    budget = len(passage_text(ORCHARD, shown[0])) + 10  # a character a token: room for the focused orchard only
    assert len(passage_text(ORCHARD)) > budget  # the whole passage would not have fitted

    class Characters:
        def count(self, text: str) -> int:
            return len(text)

    packed = Toolbox(Shelf([ORCHARD, DAIRY]), Settings(top_k=2, context_token_budget=budget),  # type: ignore[arg-type]
                     counter=Characters(), focus=lambda q, ps: focus(q, ps, encoder, top=1))
    result = packed.run(SEARCH, json.dumps({"query": QUERY}))
    assert result.passages == (ORCHARD,) and result.shown == ((1, 2, 3),)


def test_a_model_backend_reads_focused_passages_unless_the_setting_says_whole(fast_settings: Settings) -> None:
    from agent.answer import Agent

    model = fast_settings.with_(backend="openai", openai_api_key="k", openai_base_url="http://127.0.0.1:9/v1")
    assert Agent(model).toolbox.focus is not None
    assert Agent(model.with_(passage_view="whole")).toolbox.focus is None
    assert Agent(fast_settings.with_(backend="offline")).toolbox.focus is None  # it reads data, not text
