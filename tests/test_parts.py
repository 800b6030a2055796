"""A question's parts and the documents it names (agent/parts.py), and what the agent does with them."""

from __future__ import annotations

from pathlib import Path

from agent.answer import Agent
from agent.parts import named_sources, question_asks, question_parts
from ingest.pipeline import ingest
from kb.settings import Settings

SOURCES = [("garden-podcast-spring", "Garden podcast: spring planting"), ("kitchen-blog-notes", "Kitchen blog notes"),
           ("council-meeting-2024", "Council meeting, March")]


def test_a_question_that_asks_two_things_has_two_parts() -> None:
    assert question_parts("Why did the team pick a rubber case, and what did the case cost?") == [
        "Why did the team pick a rubber case?", "what did the case cost?"]
    assert question_parts("Is the budget fixed? What do the two designers say about it?") == [
        "Is the budget fixed?", "What do the two designers say about it?"]


def test_one_question_with_and_in_it_stays_whole() -> None:
    for q in ("What did they say about the case and the buttons?", "How did the pilot go, and why?",
              "Which battery lasts longer and costs less?"):
        assert question_parts(q) == [q]


def test_a_statement_the_question_builds_on_is_not_an_ask() -> None:
    q = "The head gardener says most water goes on the lawns; what share does the blog give the vegetable beds?"
    assert question_parts(q) == [q]


def test_a_document_named_by_its_title_words() -> None:
    assert named_sources("What does the kitchen blog say about salt?", SOURCES) == [("kitchen-blog-notes", ["kitchen blog"])]
    assert [s for s, _ in named_sources("How do the podcast's and the blog's views on compost differ?", SOURCES)] == [
        "garden-podcast-spring", "kitchen-blog-notes"]


def test_a_role_no_title_has_names_nothing() -> None:
    assert named_sources("What did the guest say about salt?", SOURCES) == []
    assert named_sources("What does the blog say?", SOURCES[1:2]) == []  # one document: nothing to choose


def test_a_part_naming_two_documents_is_asked_of_each_without_their_names() -> None:
    asks = question_asks("Is compost worth it? What do the podcast and the blog say?", sources=SOURCES)
    assert [a.source for a in asks] == [None, "garden-podcast-spring", "kitchen-blog-notes"]
    later = asks[1]
    assert later.lean and later.history == ("Is compost worth it?",)
    assert "podcast" not in later.query and "blog" not in later.query and "compost" in later.query


def test_without_a_catalogue_nothing_is_narrowed() -> None:
    asks = question_asks("What does the kitchen blog say about salt?")
    assert len(asks) == 1 and asks[0].source is None and asks[0].query == "What does the kitchen blog say about salt?"


def _two_documents(tmp_path: Path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "garden-podcast.txt").write_text(
        "[00:05] Water the tomato seedlings every morning before the sun is high.\n"
        "[00:12] Mulch keeps the soil moist through a dry week.\n")
    (docs / "kitchen-blog.txt").write_text(
        "[00:03] Soak dried beans in cold water overnight before cooking them.\n"
        "[00:09] Salt the cooking water only after the beans soften.\n")
    settings = Settings(home=tmp_path / "home", embedding_model="hashing", backend="offline")
    ingest([docs], settings=settings, progress=False)
    return settings


def test_a_question_naming_a_document_is_searched_and_answered_there(tmp_path: Path) -> None:
    agent = Agent(_two_documents(tmp_path))
    a = agent.ask("What does the kitchen blog say about water?")
    assert not a.abstained and {c["source"] for c in a.citations} == {"kitchen-blog"}
    assert a.tool_calls[0]["arguments"]["source"] == "kitchen-blog"
    both = agent.ask("What do the garden podcast and the kitchen blog say about water?")
    assert {c["source"] for c in both.citations} == {"garden-podcast", "kitchen-blog"}
    assert [c["arguments"].get("source") for c in both.tool_calls] == ["garden-podcast", "kitchen-blog"]


def test_a_run_scoped_to_one_document_asked_about_another_says_so(tmp_path: Path) -> None:
    from agent.prompts import OUTSIDE_SCOPE

    agent = Agent(_two_documents(tmp_path))
    a = agent.ask("What does the kitchen blog say about water?", source="garden-podcast")
    assert a.abstained and not a.citations and not a.tool_calls  # nothing searched outside the scope
    assert a.answer.startswith(OUTSIDE_SCOPE.split("{")[0]) and "(kitchen-blog)" in a.answer
    assert agent.ask("Summarize the kitchen blog", source="garden-podcast").abstained  # an overview too
    # naming the scope too, or only a role any document may have, is asked inside the scope
    both = agent.ask("How does the garden podcast's advice on water differ from the kitchen blog's?", source="garden-podcast")
    assert both.tool_calls and all(c["arguments"]["source"] == "garden-podcast" for c in both.tool_calls)
    same = agent.ask("What does the garden podcast say about water?", source="garden-podcast")
    assert not same.abstained and {c["source"] for c in same.citations} == {"garden-podcast"}


def test_the_documents_a_scoped_question_names_besides_its_scope() -> None:
    from agent.parts import other_documents

    assert other_documents("What does the kitchen blog say about salt?", "garden-podcast-spring", SOURCES) == [
        "kitchen-blog-notes"]
    assert other_documents("What did council-meeting-2024 decide?", "garden-podcast-spring", SOURCES) == [
        "council-meeting-2024"]
    assert other_documents("What does the garden podcast say, and the kitchen blog?", "garden-podcast-spring",
                           SOURCES) == []
    assert other_documents("What does the host say about salt?", "kitchen-blog-notes", SOURCES) == []  # a role
    assert other_documents("What does the blog say about salt?", "kitchen-blog-notes", SOURCES) == []
    meetings = [("club-meeting-03", "Club meeting 03"), ("club-meeting-14", "Club meeting 14")]
    assert other_documents("What was meeting 14 about?", "club-meeting-03", meetings) == ["club-meeting-14"]
    assert other_documents("What was decided in the meeting?", "club-meeting-03", meetings) == []


def test_a_kind_of_document_or_an_id_that_reads_as_a_topic_names_no_other_document() -> None:
    from agent.parts import other_documents

    sources = [("chess-talk-9", "Chess talk with Ada"), ("garden-podcast", "Garden podcast"),
               ("kitchen-blog", "Kitchen blog"), ("rust-2", "Rust 2 notes")]
    for question in ("Summarize this podcast", "What does the podcast say about openings?",
                     "Does the guest have a blog?", "What did the host say about Rust-2?", "What do the notes say?"):
        assert other_documents(question, "chess-talk-9", sources) == [], question


def test_a_count_or_a_time_after_the_document_word_names_nothing() -> None:
    episodes = [("show-ep-02", "Garden show, episode 02"), ("show-ep-03", "Garden show, episode 03"),
                ("show-ep-12", "Garden show, episode 12")]
    for question in ("Was the episode 2 hours?", "Was mulch mentioned in the episode 3 times?",
                     "What is said at the episode 12:30 mark?", "What did the 2 episodes say?",
                     "Which 3 episodes mention mulch?"):
        assert named_sources(question, episodes) == [], question
    assert [s for s, _ in named_sources("What did episode 2 discuss?", episodes)] == ["show-ep-02"]


def test_a_follow_up_stays_in_the_document_its_thread_named() -> None:
    asks = question_asks("And what does it say about pepper?", ["What does the kitchen blog say about salt?"], SOURCES)
    assert [a.source for a in asks] == ["kitchen-blog-notes"]
    assert [a.source for a in question_asks("What do the podcast hosts grow?", ["What does the kitchen blog say?"],
                                            SOURCES)] == ["garden-podcast-spring"]


def test_a_role_word_matches_the_title_word_it_starts_with() -> None:
    sources = [("shop-review-comments", "Shop review comments"), ("shop-podcast", "Shop podcast")]
    assert [s for s, _ in named_sources("What does one commenter say about the prices?", sources)] == ["shop-review-comments"]


def test_a_follow_up_is_answered_from_the_document_its_thread_named(tmp_path: Path) -> None:
    agent = Agent(_two_documents(tmp_path))
    agent.ask("What does the kitchen blog say about salt?", thread_id="kitchen")
    a = agent.ask("And what does it say about soaking beans overnight?", thread_id="kitchen")
    assert not a.abstained and {c["source"] for c in a.citations} == {"kitchen-blog"}
    assert a.tool_calls[0]["arguments"]["source"] == "kitchen-blog"


def test_a_sentence_that_only_repeats_the_documents_title_is_no_answer() -> None:
    from agent.backends.offline import OfflineModel, _sentences
    from kb.types import Passage, Sentence

    title = "Kitchen blog notes | Spring 2025 | Beans"
    p = Passage("c1", "kitchen-blog", title, "", 1.0, sentences=(
        Sentence(text="Kitchen blog notes | Spring 2025 | Beans", locator="¶1"),
        Sentence(text="Soak the dried beans in cold water overnight before cooking.", locator="¶2")))
    sentences = _sentences([[p]])
    assert [s["heading"] for s in sentences] == [True, False]
    picked = OfflineModel().pick("What do the kitchen blog notes say about beans?", [], sentences)
    assert [s["text"] for s in picked] == ["Soak the dried beans in cold water overnight before cooking."]


def test_a_follow_up_also_looks_where_the_last_answer_was_found(tmp_path: Path) -> None:
    agent = Agent(_two_documents(tmp_path))
    first = agent.ask("When should the dried beans be soaked?", thread_id="beans")
    assert not first.abstained and first.citations
    a = agent.ask("And why is that?", thread_id="beans")
    context = [c for c in a.tool_calls if c.get("context")]
    assert [c["arguments"]["source"] for c in context] == [first.citations[0]["source"]]
    assert context[0]["arguments"]["query"] == first.citations[0]["quote"]
    fresh = agent.ask("And why is that?", thread_id="no-history")  # no earlier turn: nothing to look back at
    assert not any(c.get("context") for c in fresh.tool_calls)


def test_a_question_that_opens_with_a_phrase_or_a_request_still_has_two_parts() -> None:
    assert len(question_parts("In the spring episode, what did Ada plant first, and why did Ben water it twice?")) == 2
    assert len(question_parts("Summarize the seed order, and what did it cost the school?")) == 2


def test_a_plural_document_word_names_a_document() -> None:
    docs = [("garden-notes", "Garden notes, April"), ("choir-minutes", "Choir minutes")]
    assert [sid for sid, _ in named_sources("What do the garden notes say about frost?", docs)] == ["garden-notes"]
    assert named_sources("What did the gardener note about frost?", docs) == []  # a verb names nothing
    meetings = [("board-meeting", "Board meeting, March"), ("garden-notes", "Garden notes")]
    assert named_sources("Where will the volunteers meet next week?", meetings) == []


def test_the_phrases_naming_one_document() -> None:
    from agent.parts import phrases_naming

    assert phrases_naming("Summarize the compute scaling podcast", "scaling-talk", "Compute scaling podcast") == [
        "compute scaling podcast"]
    assert phrases_naming("Summarize the garden notes", "scaling-talk", "Compute scaling podcast") == []


def test_a_number_after_the_document_word_names_that_one() -> None:
    episodes = [("show-ep-07", "Garden show, episode 07"), ("show-ep-12", "Garden show, episode 12"),
                ("show-ep-31", "Garden show, episode 31")]
    assert [sid for sid, _ in named_sources("What was episode 12 about?", episodes)] == ["show-ep-12"]
    assert [sid for sid, _ in named_sources("What did episode #7 say about mulch?", episodes)] == ["show-ep-07"]
    assert [sid for sid, _ in named_sources("What did episode 31 conclude?", episodes)] == ["show-ep-31"]
    assert named_sources("What did the episode say about mulch?", episodes) == []  # all alike: none
    # a count after the word is not a name
    assert named_sources("Did the episode 12 times mention mulch before spring?", episodes) == []


def test_each_number_of_a_list_after_the_document_word_names_one() -> None:
    episodes = [("show-ep-07", "Garden show, episode 07"), ("show-ep-12", "Garden show, episode 12"),
                ("show-ep-31", "Garden show, episode 31")]
    assert [s for s, _ in named_sources("Contrast episode 7 and 12 on mulch", episodes)] == ["show-ep-07", "show-ep-12"]
    assert [s for s, _ in named_sources("What did episodes 31, 7 or #12 say about mulch?", episodes)] == [
        "show-ep-31", "show-ep-07", "show-ep-12"]
    asks = question_asks("How do episodes 12 and 31 differ on watering?", [], episodes)
    assert [a.source for a in asks] == ["show-ep-12", "show-ep-31"]
    assert all("12" not in a.query and "31" not in a.query for a in asks)
    # a count after the list is no name: "episode 7 and 3 hours of tips"
    assert [s for s, _ in named_sources("Did episode 7 and 3 hours of tips cover mulch?", episodes)] == ["show-ep-07"]


def test_an_id_is_a_name_only_where_it_reads_as_no_topic() -> None:
    from agent.parts import ids_written

    sources = [("choir-notes", "Choir notes"), ("gpt-4", "Model notes"), ("web3", "Chain notes"),
               ("club-meeting-03", "Club meeting 03"), ("talk", "A talk")]
    assert ids_written("Summarize choir-notes and club-meeting-03", sources) == ["choir-notes", "club-meeting-03"]
    assert ids_written("Summarize what they said about gpt-4 and web3 in the talk", sources) == []
    assert ids_written("Was the choir-notes-draft ever sent?", sources) == []  # part of a longer word


def test_a_number_names_the_document_numbered_so_not_one_whose_title_has_that_number_elsewhere() -> None:
    meetings = [("club-03", "Club meeting 03: Ann, Bo and 5 more"), ("club-05", "Club meeting 05: Ann, Cy"),
                ("club-11", "Club meeting 11: Bo and 3 more")]
    assert [s for s, _ in named_sources("What did meeting 3 decide?", meetings)] == ["club-03"]
    assert [s for s, _ in named_sources("How do meetings 5 and 3 differ on dues?", meetings)] == ["club-05", "club-03"]
    assert named_sources("What did meeting 8 decide?", meetings) == []  # numbered so by none


def test_a_later_part_that_leans_on_the_first_is_answered_from_the_first_parts_document(tmp_path: Path) -> None:
    agent = Agent(_two_documents(tmp_path))
    a = agent.ask("When should the dried beans be soaked, and should that be done every morning before the sun is high?")
    assert not a.abstained
    assert {c["source"] for c in a.citations} == {"kitchen-blog"}  # not the podcast's morning watering
