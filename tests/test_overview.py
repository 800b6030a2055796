"""Questions about a whole document: recognised by their frame, answered with the document's key
moments (the overview tool), never by a search for the word "meeting"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.answer import Agent
from agent.overview import asks_overview
from agent.prompts import NOT_IN_KB
from agent.tools import OVERVIEW, SEARCH, Toolbox
from kb.retrieval import Retriever
from kb.settings import Settings


@pytest.mark.parametrize("question", [
    "What is this episode about?",
    "Can you summarise the session for me?",
    "Give me a quick overview.",
    "What were the main talking points of the panel?",
    "tl;dr please",
    "What did they talk about?",
    "What were the key takeaways?",
    "What was discussed?",
    "Recap the whole lecture",
])
def test_questions_about_the_whole_document(question: str) -> None:
    assert asks_overview(question)


@pytest.mark.parametrize("question", [
    "Summarize what the treasurer said about the roof repairs.",
    "What did the group decide about the logo colour?",
    "What happened to the spare batteries?",
    "What is the new library about?",  # a topic, not the document
    "Who spoke first?",
    "How many volunteers signed up?",
])
def test_questions_with_a_topic_are_searched(question: str) -> None:
    assert not asks_overview(question)


def test_the_named_documents_title_is_no_topic() -> None:
    assert asks_overview("Summarize the allotment society meeting", title="Allotment Society, spring")
    assert not asks_overview("Summarize the allotment society meeting")


def _corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    lines = [
        "Welcome everyone to the allotment society meeting.",
        "The water butts on the north plots leak after every frost.",
        "We agreed to replace them with sealed tanks before March.",
        "Our seed swap brought forty new members this year.",
        "The compost heap needs turning every second week.",
        "A rota for turning it will go up on the shed door.",
        "Slugs ate most of the lettuce on plot nine.",
        "Copper tape around the beds seemed to keep them away.",
        "The treasurer reported that the shed roof repair cost two hundred pounds.",
        "Next month we will vote on buying a shared rotavator.",
    ]
    (folder / "allotment-society.txt").write_text(
        "# Allotment Society, spring\n" + "".join(f"[{i // 6:02d}:{i * 10 % 60:02d}] {t}\n" for i, t in enumerate(lines)))
    (folder / "choir-notes.txt").write_text(
        "# Choir notes\n[00:00] The altos rehearsed the new anthem twice.\n[00:20] Tenors will meet on Thursday.\n")
    return folder


@pytest.fixture
def agent(fast_settings: Settings, tmp_path: Path) -> Agent:
    from ingest.pipeline import ingest

    ingest([_corpus(tmp_path / "docs")], settings=fast_settings, progress=False)
    return Agent(fast_settings.with_(backend="offline"))


def test_an_episode_asked_for_its_gist_answers_with_its_key_moments(agent: Agent) -> None:
    a = agent.ask("What is this episode about?", source="allotment-society")
    assert not a.abstained and a.answer != NOT_IN_KB
    assert [c["name"] for c in a.tool_calls] == [OVERVIEW]
    assert a.citations and {c["source"] for c in a.citations} == {"allotment-society"}
    ats = [c["at"] for c in a.citations]
    assert len(ats) == len(set(ats)) >= 2  # several moments, each cited once at its own second
    assert "Key moments:" in a.answer


def test_a_document_named_in_the_question_is_the_one_summarised(agent: Agent) -> None:
    a = agent.ask("Give me an overview of the choir notes.")
    assert not a.abstained and {c["source"] for c in a.citations} == {"choir-notes"}


def test_without_a_document_it_searches_as_usual(agent: Agent) -> None:
    a = agent.ask("What was discussed?")  # two documents, none named: nothing to summarise
    assert [c["name"] for c in a.tool_calls] == [SEARCH]
    b = agent.ask("Summarize what the treasurer said about the roof", source="allotment-society")
    assert [c["name"] for c in b.tool_calls][:1] == [SEARCH] and "two hundred pounds" in b.answer


def test_the_tool_names_what_it_needs(fast_settings: Settings, tmp_path: Path) -> None:
    from ingest.pipeline import ingest

    ingest([_corpus(tmp_path / "docs")], settings=fast_settings, progress=False)
    box = Toolbox(Retriever(fast_settings), fast_settings)
    missing = box.run(OVERVIEW, "{}")
    assert missing.error and "which document?" in missing.error and "choir-notes" in missing.error
    unknown = box.run(OVERVIEW, json.dumps({"source": "no-such-doc"}))
    assert unknown.error and "no-such-doc" in unknown.error
    ok = box.run(OVERVIEW, json.dumps({"source": "allotment-society"}))
    assert ok.error is None and ok.output["title"] == "Allotment Society, spring" and 1 <= ok.output["lead"] <= 2
    assert ok.passages and all(p.source == "allotment-society" and len(p.sentences) == 1 for p in ok.passages)
    scoped = box.run(OVERVIEW, json.dumps({"source": "choir-notes"}), scope="allotment-society")
    assert {p.source for p in scoped.passages} == {"allotment-society"}  # the run's scope wins
