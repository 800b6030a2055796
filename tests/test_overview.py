"""Questions about a whole document: recognised by their frame, answered with the document's key
moments (the overview tool), never by a search for the word "meeting"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.answer import Agent
from agent.overview import asks_overview
from agent.prompts import NOT_IN_KB, WHICH_DOCUMENT
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
    "What is the lecture mainly about?",
    "What is this episode about, in short?",
    "What topics does this meeting cover?",
    "Summarize the meeting in three sentences.",
    "What was the purpose of the meeting?",
    "What should I know about this episode?",
    "Summarize the show.",
    "What was discussed in the meeting?",
    "Can you sum up the meeting?",
    "Briefly describe the meeting",
    "Summarize the meeting in 3 sentences",
    "What are the 5 main points?",
    "Would you please summarize the meeting?",  # a request, not a yes-or-no fact
    "Is there an overview of the meeting?",
    "Which topics were discussed?",
    "Summarize the meeting in 2 or 3 sentences",
    "Would you mind summarizing the meeting?",
    "What did the speaker talk about in the lecture?",  # a role, but the kind of document is named
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
    "How about the greenhouse?",
    "What did the treasurer talk about?",  # a speaker is a topic: searched
    "Who talked about the agenda?",  # who, when, which, how many, yes or no: a fact
    "Did they go over the agenda?",
    "When was the agenda discussed?",
    "How many key points are there?",
    "What is the first part about?",
    "What was discussed about the budget?",
    "Tell me about 2017.",  # a year is a topic; only a count of the form asked for is not
    "What was discussed at 00:15?",
    "What did the host describe?",  # what a person in a role said is a topic
    "What are the participants discussing?",
    "Which one covers the agenda?",
])
def test_questions_with_a_topic_are_searched(question: str) -> None:
    assert not asks_overview(question)


def test_the_phrase_naming_the_document_is_no_topic() -> None:
    assert asks_overview("Summarize the allotment society meeting", naming=["allotment society meeting"])
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


def test_a_question_with_a_topic_is_searched_as_usual(agent: Agent) -> None:
    a = agent.ask("What was discussed about slugs?")
    assert [c["name"] for c in a.tool_calls] == [SEARCH]
    b = agent.ask("Summarize what the treasurer said about the roof", source="allotment-society")
    assert [c["name"] for c in b.tool_calls][:1] == [SEARCH] and "two hundred pounds" in b.answer


def test_unscoped_with_several_documents_it_asks_which(agent: Agent) -> None:
    for question in ("Give me a summary.", "What were the key takeaways?"):
        a = agent.ask(question)
        assert a.abstained and a.answer == WHICH_DOCUMENT and not a.citations
        assert [c["name"] for c in a.tool_calls] == [OVERVIEW] and "which document?" in a.tool_calls[0]["result"]["error"]
    named = agent.ask("Give me a summary of the choir notes.")  # "summary" itself names no document
    assert not named.abstained and {c["source"] for c in named.citations} == {"choir-notes"}


def test_in_a_thread_an_overview_naming_the_document_still_is_one(agent: Agent) -> None:
    first = agent.ask("What did they do about the leaking water butts?", source="allotment-society")
    again = agent.ask("Summarize the meeting.", thread_id=first.thread_id, source="allotment-society")
    assert [c["name"] for c in again.tool_calls] == [OVERVIEW] and not again.abstained


def test_what_about_another_document_after_an_overview_is_its_overview(agent: Agent) -> None:
    first = agent.ask("Give me an overview of the allotment society meeting.")
    other = agent.ask("What about the choir notes?", thread_id=first.thread_id)
    assert [c["name"] for c in other.tool_calls] == [OVERVIEW] and {c["source"] for c in other.citations} == {"choir-notes"}


def test_what_about_another_document_after_a_topic_question_asks_the_topic_again(agent: Agent) -> None:
    first = agent.ask("What did the allotment society meeting say about slugs?")
    other = agent.ask("What about the choir notes?", thread_id=first.thread_id)
    assert [c["name"] for c in other.tool_calls][:1] == [SEARCH]


def test_inside_one_document_a_thread_may_ask_for_its_overview(agent: Agent) -> None:
    first = agent.ask("What did they do about the leaking water butts?", source="allotment-society")
    for question in ("Give me an overview.", "What is this about?"):
        a = agent.ask(question, thread_id=first.thread_id, source="allotment-society")
        assert [c["name"] for c in a.tool_calls] == [OVERVIEW] and not a.abstained


def test_after_being_asked_which_document_the_thread_can_say_it(agent: Agent) -> None:
    first = agent.ask("What is this about?")
    assert first.answer == WHICH_DOCUMENT
    again = agent.ask("What is this about?", thread_id=first.thread_id, source="choir-notes")
    assert not again.abstained and {c["source"] for c in again.citations} == {"choir-notes"}


def test_two_documents_named_get_an_overview_each_under_its_title(agent: Agent) -> None:
    a = agent.ask("Give me an overview of the choir notes and the allotment society meeting")
    assert [c["name"] for c in a.tool_calls] == [OVERVIEW, OVERVIEW] and not a.abstained
    assert {c["source"] for c in a.citations} == {"choir-notes", "allotment-society"}
    assert "**Choir notes**" in a.answer and "**Allotment Society, spring**" in a.answer


def test_inside_one_document_a_follow_up_pointing_back_stays_on_its_topic(agent: Agent) -> None:
    first = agent.ask("What did they do about the leaking water butts?", source="allotment-society")
    for question in ("Tell me more about that.", "Can you sum that up?"):
        a = agent.ask(question, thread_id=first.thread_id, source="allotment-society")
        assert [c["name"] for c in a.tool_calls][:1] == [SEARCH]


def test_what_about_a_named_document_after_kb_asked_which(agent: Agent) -> None:
    first = agent.ask("What is this about?")
    assert first.answer == WHICH_DOCUMENT
    other = agent.ask("What about choir-notes?", thread_id=first.thread_id)
    assert [c["name"] for c in other.tool_calls] == [OVERVIEW] and {c["source"] for c in other.citations} == {"choir-notes"}


def test_a_document_named_by_its_id_or_title_inside_it(agent: Agent) -> None:
    by_id = agent.ask("Summarize choir-notes")
    assert [c["name"] for c in by_id.tool_calls] == [OVERVIEW] and {c["source"] for c in by_id.citations} == {"choir-notes"}
    titled = agent.ask("Summarize the allotment society meeting", source="allotment-society")
    assert [c["name"] for c in titled.tool_calls] == [OVERVIEW]  # its own title is no topic


def test_parallel_overviews_of_one_document_build_it_once(fast_settings: Settings, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    import agent.overview as overview
    from ingest.pipeline import ingest

    ingest([_corpus(tmp_path / "docs")], settings=fast_settings, progress=False)
    real, builds = overview.key_moments, []

    def slow(*args: object, **kw: object) -> overview.Overview:
        builds.append(1)
        time.sleep(0.05)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(overview, "key_moments", slow)
    box = Toolbox(Retriever(fast_settings), fast_settings)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(box.run(OVERVIEW, '{"source": "allotment-society"}')))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(results) == 6 and all(r.error is None for r in results)  # type: ignore[attr-defined]


def test_a_retriever_without_stored_documents_is_a_clear_error(fast_settings: Settings) -> None:
    class Peer:  # like the evals' naive peer: passages, but no kb store
        store = object()

    box = Toolbox(Peer(), fast_settings)  # type: ignore[arg-type]
    assert "no stored documents" in (box.run(OVERVIEW, '{"source": "x"}').error or "")


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


def test_an_overview_word_alone_names_no_document_but_a_title_with_one_does() -> None:
    from agent.graph import _named_for_overview

    titles = [("budget-summary", "Budget summary, 2025"), ("choir-notes", "Choir notes")]
    assert _named_for_overview("Give me a summary.", titles) == []
    assert [sid for sid, _ in _named_for_overview("What are the choir notes about?", titles)] == ["choir-notes"]
    assert _named_for_overview("Give me a short summary.", titles) == []  # "short summary" is no title
    kinds = [("garden-podcast", "Garden podcast"), ("choir-notes", "Choir notes")]
    assert [sid for sid, _ in _named_for_overview("Summarize the podcast.", kinds)] == ["garden-podcast"]
    assert [sid for sid, _ in _named_for_overview("Give me an overview of the budget summary", titles)] == ["budget-summary"]
    assert [sid for sid, _ in _named_for_overview("What is in budget-summary about?", titles)] == ["budget-summary"]


def test_what_points_back_at_the_last_answer() -> None:
    from agent.overview import points_back

    assert points_back("Tell me more about that.") and points_back("Can you describe it?")
    assert not points_back("Can you summarize it for me?") and not points_back("Give me the main points again")


def test_a_meeting_named_by_its_number_is_the_one_summarised(fast_settings: Settings, tmp_path: Path) -> None:
    from ingest.pipeline import ingest

    folder = tmp_path / "minutes"
    folder.mkdir()
    for n, topic in ((3, "The hall roof leaks over the stage and needs new slates."),
                     (14, "The bake sale raised money for new hymn books this spring.")):
        (folder / f"parish-meeting-{n:02d}.txt").write_text(
            f"# Parish meeting {n:02d}\n[00:00] {topic}\n[00:20] Everyone agreed to meet again next month about it.\n")
    ingest([folder], settings=fast_settings, progress=False)
    a = Agent(fast_settings.with_(backend="offline")).ask("What was meeting 14 about?")
    assert [c["name"] for c in a.tool_calls] == [OVERVIEW]
    assert {c["source"] for c in a.citations} == {"parish-meeting-14"}



def test_a_scoped_run_reads_its_id_as_a_name_only_where_written_whole(fast_settings: Settings, tmp_path: Path) -> None:
    from ingest.pipeline import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fair-log.txt").write_text("# Autumn show notes\n[00:00] The marrow class drew nine entries.\n"
                                       "[00:20] Judging starts at noon on the Saturday.\n[00:40] Rosettes go to the top three.\n")
    ingest([docs], settings=fast_settings, progress=False)
    agent = Agent(fast_settings.with_(backend="offline"))
    whole = agent.ask("Summarize fair-log.", source="fair-log")  # the id, written whole, names the scope
    assert [c["name"] for c in whole.tool_calls][:1] == [OVERVIEW]
    inside = agent.ask("Summarize fair-log-2.", source="fair-log")  # another id that begins with this one
    assert [c["name"] for c in inside.tool_calls][:1] == [SEARCH]
