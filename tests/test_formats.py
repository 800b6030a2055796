"""Each input format parses into re-flowed sentences with the right times, locators and links."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import load_document
from ingest.reflow import Fragment, reflow
from kb.links import with_time

TRANSCRIPT = """# A Talk About Compute
https://www.youtube.com/watch?v=abc123XYZ_0

[00:09] Hello everybody.
[10:31] So a gigawatt is roughly a million G half a million GPUs.
[10:36] Right? So we push on three dimensions. keep improving
[10:40] hardware and software.
[43:46] >> talking about uh like a gigawatt is $70
[43:51] billion in spend so these are massive
[1:02:03] >> Thank you.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_transcript_format(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "talk.txt", TRANSCRIPT))
    assert doc.source == "talk" and doc.kind == "transcript"
    assert doc.title == "A Talk About Compute"
    assert doc.url == "https://www.youtube.com/watch?v=abc123XYZ_0"
    by_text = {s.text: s for s in doc.sentences}
    assert by_text["So a gigawatt is roughly a million G half a million GPUs."].start_s == 631
    # a sentence that continues onto the next caption line keeps its first fragment's time
    s = by_text["keep improving hardware and software."]
    assert s.start_s == 636 and s.marks == ((15, 640.0),)
    fragment_sentence = next(x for x in doc.sentences if "$70 billion in spend" in x.text)
    assert fragment_sentence.start_s == 43 * 60 + 46
    assert fragment_sentence.time_at(fragment_sentence.text.index("billion")) == 43 * 60 + 51
    assert doc.sentences[-1].text == "Thank you." and doc.sentences[-1].start_s == 3723
    # a change of speaker starts a new sentence, even after words without a full stop
    doc = load_document(write(tmp_path, "turns.txt", "# T\n[00:01] so the first speaker trails off\n[00:03] >> The second one speaks.\n"))
    assert [(s.text, s.start_s) for s in doc.sentences] == [("so the first speaker trails off", 1.0),
                                                            ("The second one speaks.", 3.0)]


def test_reflow_cuts_long_unpunctuated_runs() -> None:
    words = "so this is a very long caption run without any punctuation at all and so it keeps going".split()
    frags = [Fragment(float(i), " ".join(words[i * 4 : i * 4 + 4])) for i in range(0, 5)] * 3
    frags = [Fragment(float(i), f.text) for i, f in enumerate(frags)]
    sentences = reflow(frags)
    assert len(sentences) > 1
    assert all(len(s.text.split()) <= 30 for s in sentences)
    assert [s.start_s for s in sentences] == sorted(s.start_s for s in sentences)


def test_srt(tmp_path: Path) -> None:
    srt_text = (
        "1\n00:00:01,000 --> 00:00:03,000\nhttps://youtu.be/abc123XYZ_0\n\n"
        "2\n00:10:31,500 --> 00:10:34,000\nSo a gigawatt is roughly\n\n"
        "3\n00:10:34,000 --> 00:10:36,000\nhalf a million GPUs.\n\n"
        "4\n00:10:40,000 --> 00:10:42,000\n- Thank you.\n"
    )
    doc = load_document(write(tmp_path, "clip.srt", srt_text))
    assert doc.kind == "srt" and doc.url == "https://youtu.be/abc123XYZ_0"
    assert doc.sentences[0].text == "So a gigawatt is roughly half a million GPUs."
    assert doc.sentences[0].start_s == 631.5
    assert doc.sentences[-1].text == "Thank you."


def test_vtt(tmp_path: Path) -> None:
    vtt_text = (
        "WEBVTT\n\nNOTE source https://www.youtube.com/watch?v=abc123XYZ_0\n\n"
        "00:43:46.000 --> 00:43:51.000\ntalking about uh like a gigawatt is $70\n\n"
        "00:43:51.000 --> 00:43:54.000\nbillion in spend.\n\n"
        "01:00:00.000 --> 01:00:02.000\nBye.\n"
    )
    doc = load_document(write(tmp_path, "clip.vtt", vtt_text))
    assert doc.kind == "vtt" and doc.url == "https://www.youtube.com/watch?v=abc123XYZ_0"
    assert doc.sentences[0].text == "talking about uh like a gigawatt is $70 billion in spend."
    assert doc.sentences[0].start_s == 2626
    assert doc.sentences[1].start_s == 3600


def test_plain_text_and_markdown(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "notes.txt", "First insight. It has two sentences.\nSecond insight here.\n"))
    assert doc.kind == "text" and not doc.timed and doc.url is None
    assert [(s.text, s.locator) for s in doc.sentences] == [
        ("First insight.", "¶1"), ("It has two sentences.", "¶1"), ("Second insight here.", "¶2")]
    md = load_document(write(tmp_path, "guide.md", "# The Guide\n\nA paragraph that is\nhard wrapped.\n\n## Part two\n\nMore text.\n"))
    assert md.title == "The Guide"
    assert md.sentences[0].text == "A paragraph that is hard wrapped." and md.sentences[0].locator == "¶1"


def test_bundled_corpus_parses() -> None:
    from ingest.pipeline import bundled_corpus

    files = sorted(bundled_corpus().glob("*.txt"))
    assert len(files) == 4
    docs = {d.source: d for d in map(load_document, files)}
    talk = docs["stanford-mse435-2026-infrastructure-capstone-transcript"]
    assert talk.url == "https://www.youtube.com/watch?v=4k53z3Ysjg0"
    starts = {s.start_s for s in talk.sentences}
    assert {631.0, 2626.0} <= starts  # [10:31] and [43:46]


def test_links() -> None:
    assert with_time("https://www.youtube.com/watch?v=4k53z3Ysjg0", 631) == "https://www.youtube.com/watch?v=4k53z3Ysjg0&t=631"
    assert with_time("https://youtu.be/abc?t=5", 2640.7) == "https://youtu.be/abc?t=2640"
    assert with_time("https://example.com/talk.mp4", 10) == "https://example.com/talk.mp4#t=10"


def test_srt_markup_is_removed(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "tags.srt", '1\n00:00:01,000 --> 00:00:02,000\n<i>Italic</i> and <font color="red">red</font>.\n'))
    assert doc.sentences[0].text == "Italic and red."


def test_a_timestamp_alone_on_its_line_takes_the_next_line(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "t.txt", "# T\n[00:01]\nHello there everyone.\n[00:05]\n>> Another speaker.\n"))
    assert [(s.text, s.start_s) for s in doc.sentences] == [("Hello there everyone.", 1.0), ("Another speaker.", 5.0)]


def test_markdown_title_and_wrapped_paragraphs(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "a.md", "# Title here\nFirst line of a\nwrapped paragraph. Second sentence.\n## Head\nMore.\n"))
    assert doc.title == "Title here"
    assert [(s.text, s.locator) for s in doc.sentences] == [
        ("First line of a wrapped paragraph.", "¶1"), ("Second sentence.", "¶1"), ("Head", "¶2"), ("More.", "¶3")]
