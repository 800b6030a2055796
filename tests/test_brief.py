"""Episode briefs on a small synthetic meeting (the hashing embedder: no model to load), the
quantity extractor, the cache, bad input and the digest posted to a fake Slack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.brief.build import get_brief
from agent.brief.document import UnknownSource, load_episode
from agent.brief.text import clean_quote
from ingest.loaders import load_document
from ingest.pipeline import ingest
from interfaces.cli import main
from kb.quantities import extract_quantities, load_unit_data
from kb.store import Store

MEETING = """# Weekly product meeting
https://www.youtube.com/watch?v=meeting0001

[00:02] >> Good morning, let's start with the budget for the new warehouse robots.
[00:09] The finance team approved $4 million for the robot fleet this quarter.
[00:17] Each robot draws about 3 kW while charging, so the charging bays need new wiring.
[00:26] Facilities said the wiring upgrade takes two weeks and costs $80,000.
[00:35] >> Thanks Priya. Moving on to hiring for the support desk.
[00:41] We plan to hire 12 people for the night shift at the Denver office.
[00:50] The recruiting agency Brightpath charges 15% of the first year salary.
[00:58] Candidates will train for three weeks before taking calls alone.
[01:06] >> Next, the mobile app launch date slipped by a month.
[01:13] The release of Orbit 2 now lands in late March because the payment screen failed review.
[01:22] Orbit 2 is a budgeting app for small shops, and the beta had 5,000 users.
[01:31] Crash reports dropped by 40% after the last patch, uh, which is good news.
[01:40] >> Finally the customer survey results came back from the spring campaign.
[01:47] Customers rated delivery speed as the main reason they stay with us.
[01:55] About 2,300 customers answered the survey, twice as many as last year.
[02:04] The survey team wants to repeat it every quarter with a shorter form.
"""


@pytest.fixture
def meeting(tmp_path: Path, fast_settings):
    path = tmp_path / "weekly-product-meeting.txt"
    path.write_text(MEETING, encoding="utf-8")
    report = ingest([path], settings=fast_settings, progress=False)
    assert report.files_failed == 0
    return path, fast_settings


def _cli_env(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    """The CLI reads the same settings as the fixture (home, test embedder, chunk sizes)."""
    for key, value in (("KB_HOME", settings.home), ("KB_EMBEDDING_MODEL", "hashing"),
                       ("KB_CHUNK_TOKENS", settings.chunking.tokens), ("KB_CHUNK_OVERLAP_TOKENS", settings.chunking.overlap_tokens)):
        monkeypatch.setenv(key, str(value))


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w$%]+", " ", clean_quote(text).lower())).strip()


def assert_quotes_in_transcript(brief: dict, path: Path) -> None:
    """Every moment's and figure's quote is a transcript sentence said within 30 s of its time."""
    doc = load_document(path)
    items = brief["moments"] + brief["figures"] + [m for c in brief["chapters"] for m in c["moments"]]
    assert items
    for item in items:
        quote = _norm(item["quote"])
        hits = [s for s in doc.sentences if quote and quote in _norm(s.text)]
        assert hits, f"quote not in the transcript: {item['quote']!r}"
        if item["seconds"] is not None:
            assert any(abs(s.start_s - item["seconds"]) <= 30 for s in hits), item
            assert item["url"].endswith(f"t={int(item['seconds'])}")


@pytest.mark.slow
def test_quantities_read_units_scales_and_names():
    qs = extract_quantities("A rack holds half a million GPUs and costs $3 billion per gigawatt.")
    assert [(q.value, q.unit) for q in qs if q.unit in ("GPU", "USD/GW")] == [(500000.0, "GPU"), (3e9, "USD/GW")]
    (q,) = extract_quantities("The run took 1.2 million A100 hours")
    assert (q.value, q.unit, q.qualifier) == (1.2e6, "h", "A100")
    (q,) = extract_quantities("we serve 250k tokens")
    assert (q.value, q.unit, q.kind) == (250000.0, "token", "count")
    assert [q.value for q in extract_quantities("a thousand G half a thousand GPUs")] == [500.0]
    text = "costs rose 12% in a minute"
    for q in extract_quantities(text):
        assert text[q.span[0]:q.span[1]].strip() == q.text
    assert {q.unit for q in extract_quantities(text)} == {"%", "min"}
    assert extract_quantities("no numbers here") == []


@pytest.mark.slow
def test_user_unit_file_adds_a_unit(tmp_path: Path):
    extra = tmp_path / "units.json"
    extra.write_text(json.dumps({"units": {"widget": {"surfaces": ["widget"], "entity": "count"}}}))
    assert "widget" in load_unit_data([extra]).units
    (q,) = extract_quantities("we shipped 40 widgets", extra_units=[extra])
    assert (q.value, q.unit, q.kind) == (40.0, "widget", "count")


def test_a_question_is_never_a_key_moment_even_when_quoted():
    from agent.brief.moments import candidates
    from kb.types import Sentence

    said = [Sentence("The greenhouse heaters burn forty litres of diesel every night in January."),
            Sentence('Then the grower asked, "could solar panels cover the whole heating load?"'),
            Sentence("The grower replaced two heaters with a heat pump fed by rooftop panels."),
            Sentence("Tomato yields rose by a fifth in the first season after the change.")]
    assert candidates(said) == [0, 2, 3]


def test_a_speakers_name_is_not_what_makes_a_moment():
    from agent.brief.moments import candidates, score
    from kb.types import Sentence

    said = [Sentence("Regional Sales Director Amberley: okay, right, yes, sure."),  # the label's words are not said
            Sentence("Regional Sales Director Amberley: heaters burn forty litres of diesel every night."),
            Sentence("The grower replaced two heaters with a heat pump fed by rooftop panels."),
            Sentence("Tomato yields rose by a fifth in the first season after the change.")]
    assert candidates(said) == [1, 2, 3]
    seen: list[str] = []
    score(said, lambda texts: seen.extend(texts) or [[1.0, float(len(t))] for t in texts])
    assert seen[0] == "heaters burn forty litres of diesel every night."  # embedded without the label


def test_clean_quote_drops_only_disfluencies():
    assert clean_quote("so uh the the plan is um ready.") == "So the plan is ready."


@pytest.mark.slow
def test_brief_of_a_meeting(meeting):
    path, settings = meeting
    brief = get_brief("weekly-product-meeting", settings)
    assert set(brief) == {"source", "title", "url", "tldr", "moments", "chapters", "figures", "mentioned", "questions"}
    assert brief["tldr"]["text"] and brief["tldr"]["citations"]
    assert 1 <= len(brief["moments"]) <= 7
    assert [m["seconds"] for m in brief["moments"]] == sorted(m["seconds"] for m in brief["moments"])
    for m in brief["moments"]:
        assert set(m) == {"text", "at", "seconds", "url", "quote"}
    assert brief["chapters"] and all(set(c) == {"title", "at", "seconds", "url", "moments"} for c in brief["chapters"])
    assert_quotes_in_transcript(brief, path)
    figures = {(f["value"], f["unit"]) for f in brief["figures"]}
    assert {(4e6, "USD"), (3.0, "kW"), (12.0, "person"), (15.0, "%")} <= figures
    for f in brief["figures"]:
        assert set(f) == {"value", "unit", "what", "about", "at", "seconds", "url", "quote"}
    names = {m["name"]: m for m in brief["mentioned"]}
    assert "Orbit 2" in names and names["Orbit 2"]["count"] == 2
    assert names["Orbit 2"]["description"].startswith("a budgeting app")
    assert "Brightpath" in names and names["Brightpath"]["at"] == "00:50"
    for q in brief["questions"]:
        assert q["citations"] and all(c["source"] == "weekly-product-meeting" for c in q["citations"])


@pytest.mark.slow
def test_cache_is_used_and_rebuilt_when_the_document_changes(meeting, monkeypatch):
    path, settings = meeting
    first = get_brief("weekly-product-meeting", settings)
    import agent.brief.build as build

    def boom(*a, **k):
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(build, "build_brief", boom)
    assert get_brief("weekly-product-meeting", settings) == first
    assert get_brief("product-meeting", settings) == first  # a unique part of the id, through the index
    monkeypatch.undo()
    path.write_text(MEETING.replace("$4 million", "$6 million"), encoding="utf-8")
    ingest([path], settings=settings, progress=False)
    second = get_brief("weekly-product-meeting", settings)
    assert (6e6, "USD") in {(f["value"], f["unit"]) for f in second["figures"]}
    assert len(list((settings.home / "briefs").glob("weekly-product-meeting.*.json"))) == 2


@pytest.mark.slow
def test_short_document_is_one_chapter(tmp_path: Path, fast_settings):
    path = tmp_path / "note.md"
    path.write_text("# A short note\n\nThe pilot plant in Leeds produces 20 MW of power for the town.\n", encoding="utf-8")
    ingest([path], settings=fast_settings, progress=False)
    brief = get_brief("note", fast_settings)
    assert len(brief["chapters"]) == 1
    assert brief["chapters"][0]["at"] == "¶1" and brief["chapters"][0]["seconds"] is None
    assert brief["moments"][0]["at"].startswith("¶")
    assert (20.0, "MW") in {(f["value"], f["unit"]) for f in brief["figures"]}


def test_unknown_source_lists_close_matches(meeting, capsys, monkeypatch):
    _, settings = meeting
    _cli_env(monkeypatch, settings)
    with pytest.raises(UnknownSource, match="weekly-product-meeting"):
        get_brief("weekly-prodcut-meeting", settings)
    assert main(["brief", "weekly-prodcut-meeting"]) == 2
    assert "close matches: weekly-product-meeting" in capsys.readouterr().err


def test_empty_index_says_run_ingest(fast_settings, capsys, monkeypatch):
    _cli_env(monkeypatch, fast_settings)
    code = main(["brief", "anything"])
    assert code == 3 and "kb ingest" in capsys.readouterr().err
    assert main(["digest"]) == 3


@pytest.mark.slow
def test_cli_json_md_html(meeting, capsys, tmp_path: Path, monkeypatch):
    _, settings = meeting
    _cli_env(monkeypatch, settings)
    base: list[str] = []
    assert main(["brief", "weekly-product-meeting", "--json", *base]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "weekly-product-meeting"
    assert main(["brief", "weekly-product-meeting", "--md", *base]) == 0
    md = capsys.readouterr().out
    assert "## Key moments" in md and "&t=" in md
    out = tmp_path / "b.html"
    assert main(["brief", "weekly-product-meeting", "--html", str(out), *base]) == 0
    page = out.read_text()
    assert "<script" not in page and "http" not in page.split("<body>")[0]  # nothing external in the head


@pytest.mark.slow
def test_cli_serves_a_cached_brief_before_the_builder_and_refresh_rebuilds(meeting, capsys, monkeypatch):
    import subprocess
    import sys

    import agent.brief.build as build
    from agent.brief.markdown import brief_markdown
    from kb.settings import child_environment

    _, settings = meeting
    _cli_env(monkeypatch, settings)
    assert main(["brief", "weekly-product-meeting", "--json"]) == 0
    built = capsys.readouterr().out
    with monkeypatch.context() as m:  # a cached brief of an unchanged file: the builder is not asked
        m.setattr(build, "get_brief", lambda *a, **k: pytest.fail("the builder was asked"))
        assert main(["brief", "weekly-product-meeting", "--json"]) == 0 and capsys.readouterr().out == built
        assert main(["brief", "weekly-product-meeting"]) == 0
        assert capsys.readouterr().out == brief_markdown(json.loads(built))
        assert main(["brief", "product-meet", "--json"]) == 0 and capsys.readouterr().out == built  # a part of the id
    calls: list[int] = []
    real = build.build_brief
    monkeypatch.setattr(build, "build_brief", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main(["brief", "weekly-product-meeting", "--refresh", "--json"]) == 0 and calls == [1]
    assert capsys.readouterr().out == built  # rebuilt: the same brief
    # a new process serving it loads neither the builder, nor the citation guard, nor Chroma
    root = Path(__file__).resolve().parent.parent
    code = ("import sys; from interfaces.cli import main; code = main(['brief', 'weekly-product-meeting']); "
            "print(sorted({'agent.brief.build', 'agent.citations', 'chromadb', 'numpy'} & set(sys.modules)), file=sys.stderr); "
            "sys.exit(code)")
    env = child_environment(root, inherit_kb=True)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]" and done.stdout == brief_markdown(json.loads(built))


def test_episode_sentences_come_back_in_order(meeting):
    path, settings = meeting
    ep = load_episode(Store(settings), "weekly-product-meeting")
    assert [s.text for s in ep.sentences] == [s.text for s in load_document(path).sentences]


@pytest.mark.slow
def test_digest_posts_to_slack(meeting, monkeypatch, capsys):
    from tests.fakes.slack_api import FakeSlack

    _, settings = meeting
    with FakeSlack() as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_API_URL", slack.base_url)
        _cli_env(monkeypatch, settings)
        code = main(["digest", "--top", "2", "--slack-channel", "C123"])
        assert code == 0
        (posted,) = slack.wait_for("chat.postMessage", 1)
    block = posted["blocks"][0]
    assert posted["channel"] == "C123" and block["type"] == "markdown" and "&t=" in block["text"] and "](https://" in block["text"]
    assert "Weekly product meeting" in capsys.readouterr().out


@pytest.mark.slow
def test_digest_window_excludes_old_documents(meeting):
    from agent.brief.digest import digest, parse_window

    _, settings = meeting
    assert parse_window("90m") == 5400.0
    with pytest.raises(ValueError, match="--since"):
        parse_window("yesterday")
    assert len(digest(settings, since_s=3600, top=5)) == 2  # one meeting: at most two of its moments
    assert digest(settings, since_s=3600, top=5, now=4e9) == []


@pytest.mark.slow
def test_model_wording_keeps_only_verified_citations(meeting):
    from agent.brief.build import build_brief
    from agent.brief.wording import reword
    from tests.fakes.openai_server import FakeOpenAI, reply

    _, settings = meeting
    episode = load_episode(Store(settings), "weekly-product-meeting")
    extractive = build_brief(episode, settings, check_questions=False)
    words = {"tldr": "Robots get $4 million [00:09] and hiring starts [00:41].",
             "moments": [{"at": "00:09", "text": "Finance approved the robot budget."},
                         {"at": "00:41", "text": "Twelve night-shift hires are planned."},
                         {"at": "01:22", "text": "The app beta reached 5,000 users."},
                         {"at": "59:59", "text": "Penguins dance quietly."}],
             "chapter_titles": ["x"], "questions": ["How many people will be hired?"]}
    with FakeOpenAI([reply(json.dumps(words))]) as server:
        from agent.backends import make_chat_model

        chat = make_chat_model(settings.with_(backend="openai", openai_base_url=server.base_url, openai_api_key="t"))
        out, questions = reword(extractive, episode, settings, ["fallback?"], chat=chat)
    assert [m["at"] for m in out["moments"]] == ["00:09", "00:41", "01:22"]  # the unverifiable one is dropped
    assert all(m["quote"] for m in out["moments"]) and "Penguins" not in json.dumps(out)
    assert out["tldr"]["citations"] and questions == ["How many people will be hired?"]
    assert out["chapters"] == extractive["chapters"] or len(extractive["chapters"]) == 1


@pytest.mark.slow
def test_chat_brief_command(meeting):
    import io

    from rich.console import Console

    from interfaces.repl import Repl

    _, settings = meeting
    out, err = io.StringIO(), io.StringIO()
    repl = Repl(lambda q, **k: None, Console(file=out, width=200), settings=settings, err_console=Console(file=err),
                log=False)
    assert repl.handle("/brief weekly-product-meeting")
    assert "## Key moments" in out.getvalue() and "&t=" in out.getvalue()
    repl.handle("/brief no-such-episode")
    assert "no document 'no-such-episode'" in err.getvalue()


@pytest.mark.slow
def test_slack_brief_answers_in_the_thread(meeting, tmp_path: Path):
    from slack_sdk import WebClient

    from interfaces.slack_bot import EventLedger, SlackBot
    from tests.fakes.slack_api import FakeSlack

    _, settings = meeting

    def never(*a, **k):
        raise AssertionError("a brief request is not a question for the agent")

    with FakeSlack() as slack:
        bot = SlackBot(settings, never, EventLedger(tmp_path / "ledger.sqlite"))
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        bot.answer(client, "T1", "C1", "5.000001", "5.000001", "brief weekly-product-meeting")
        bot.pool.shutdown(wait=True)
        (posted,) = slack.wait_for("chat.postMessage", 1)
    assert posted["thread_ts"] == "5.000001"
    block = posted["blocks"][0]
    assert block["type"] == "markdown" and "**TL;DR**" in block["text"] and "Key moments" in block["text"]
    assert "&t=" in block["text"] and "TL;DR" in posted["text"]


def test_questions_are_scoped_when_answer_can_be(fast_settings):
    from types import SimpleNamespace

    from agent.brief.questions import check

    def cite(source, at):
        return {"source": source, "at": at, "url": None, "quote": "q"}

    seen = []

    def scoped(question, thread_id=None, settings=None, source=None):
        seen.append(source)
        return SimpleNamespace(abstained=False, answer=f"yes [{question[-3:-1]}]", citations=[cite(source, question[-3:-1])])

    assert [q["question"] for q in check(["a 01?", "b 02?"], "doc", fast_settings, answer_fn=scoped)] == ["a 01?", "b 02?"]
    assert seen == ["doc", "doc"]

    def unscoped(question, thread_id=None, settings=None):  # older answer(): keep answers citing the episode only
        other = question.startswith("x")
        return SimpleNamespace(abstained=question.startswith("n"), answer="…",
                               citations=[cite("other" if other else "doc", question[-3:-1])])

    kept = check(["x 01?", "n 02?", "y 03?", "z 03?"], "doc", fast_settings, answer_fn=unscoped)
    assert [q["question"] for q in kept] == ["y 03?"]  # other source, abstained, same answer twice


def test_memo_embeds_each_text_once():
    from agent.brief.memo import MemoEmbedder, memo_for

    calls = []

    class Counting:
        name, max_tokens, semantic = "counting", 8, False

        def embed(self, texts):
            calls.append(list(texts))
            return [[float(len(t)), 1.0] for t in texts]

        def count_tokens(self, text):
            return 3

    memo = MemoEmbedder(Counting(), limit=3)
    assert memo.embed(["ab", "c", "ab"]) == [[2.0, 1.0], [1.0, 1.0], [2.0, 1.0]]
    assert memo.embed(["c", "def"]) == [[1.0, 1.0], [3.0, 1.0]]
    assert calls == [["ab", "c"], ["def"]]
    assert (memo.name, memo.semantic, memo.count_tokens("x")) == ("counting", False, 3)
    memo.embed(["gh"])  # past the limit: the memory starts again
    memo.embed(["ab"])
    assert calls[-1] == ["ab"]
    assert memo_for(memo) is memo and memo_for(memo.inner) is memo_for(memo.inner)


def test_question_checks_ask_one_agent_scoped_to_the_episode(meeting, monkeypatch):
    from agent.answer import Agent
    from agent.brief.questions import check

    _, settings = meeting
    built = []
    real_init = Agent.__init__

    def counting_init(self, *a, **k):
        built.append(1)
        real_init(self, *a, **k)

    monkeypatch.setattr(Agent, "__init__", counting_init)
    store = Store(settings)
    kept = check(["How many people will be hired for the night shift?", "How much does the wiring upgrade cost?"],
                 "weekly-product-meeting", settings, store=store)
    check(["What does the recruiting agency charge?"], "weekly-product-meeting", settings, store=store)
    assert len(built) == 1  # one agent for every check of the process
    assert kept and all(c["source"] == "weekly-product-meeting" and c["url"] for q in kept for c in q["citations"])


def test_light_import_puts_everything_back():
    import sys

    import typeguard

    from agent.brief.side import light_import

    real = typeguard.typechecked
    had_sklearn = "sklearn" in sys.modules
    with light_import():
        assert typeguard.typechecked is not real
        assert typeguard.typechecked(len) is len and typeguard.typechecked()(len) is len
        if not had_sklearn:
            with pytest.raises(ImportError):
                import sklearn  # noqa: F401
    assert typeguard.typechecked is real
    assert all(sys.modules.get(name, 0) is not None for name in ("sklearn", "joblib"))


@pytest.mark.slow
def test_side_process_reads_the_same_figures(tmp_path: Path):
    from agent.brief import side
    from agent.brief.figures_table import figures

    path = tmp_path / "meeting.txt"
    path.write_text(MEETING, encoding="utf-8")
    sentences = load_document(path).sentences
    here = figures(sentences, ["Brightpath"])
    assert here and side.pool().submit(figures, sentences, ["Brightpath"]).result(timeout=120) == here


@pytest.mark.slow
def test_bench_times_wall_and_cpu_of_a_command():
    from agent.brief.bench import Timings, run_kb

    t = Timings()
    run_kb(["--help"], into=t)
    assert len(t.wall) == len(t.cpu) == 1 and t.wall[0] > 0 and t.cpu[0] >= 0
    assert "wall" in t.line("kb --help") and "cpu" in t.line("kb --help")


@pytest.mark.slow
def test_a_dead_side_process_is_replaced():
    from concurrent.futures import ThreadPoolExecutor

    from agent.brief import side

    gone = ThreadPoolExecutor(max_workers=1)
    gone.shutdown()
    side.close()
    side._POOL.append(gone)  # what a pool whose process died looks like to submit()
    assert side.submit(len, "abc").result(timeout=120) == 3
    assert side._POOL and side._POOL[0] is not gone
