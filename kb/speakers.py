"""Who speaks in a transcript sentence, and the text of a sentence that answer scoring embeds.

A speaker's name that opens a turn ("Industrial Designer: I think…", "Ada: yes.") is how kb writes
speaker turns (ingest.json_transcripts, and meeting transcripts alike). It is who speaks, not what
is said: the answer step (agent.evidence) matches it as a field of its own and embeds every
sentence of a turn as "Speaker: words", carrying the name to the turn's later sentences. Ingest
embeds the same texts ahead of time (kb.vector_cache), so both must come from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kb.asking import asks_listener

# at most four words, each capitalised (or a digit after the first): "Grad B", "Dr Ada Byron"
_SPEAKER = re.compile(r"^((?:[A-Z][\w.'’-]*)(?:\s+[A-Z0-9][\w.'’-]*){0,3}):\s+(?=\S)")


def split_speaker(text: str) -> tuple[str | None, str]:
    """(the speaker's name that opens the sentence, or None; the words said)."""
    m = _SPEAKER.match(text.strip())
    return (m.group(1), text.strip()[m.end():]) if m else (None, text.strip())


def attributed_text(speaker: str | None, said: str) -> str:
    """The words said, preceded by the speaker's name where it is known."""
    return f"{speaker}: {said}" if speaker else said


def turn_speakers(sentences: Sequence[str], speaker: str | None = None) -> tuple[list[tuple[str | None, str]], str | None]:
    """(the speaker whose turn it is, the words said) for each of these consecutive sentences of one
    passage: a name that opens a sentence starts a turn that later sentences carry on (`speaker`:
    the turn the passage begins in, None when unknown); and the speaker at the end, for the
    sentences that follow."""
    out = []
    for text in sentences:
        name, said = split_speaker(text)
        speaker = name or speaker
        out.append((speaker, said))
    return out, speaker


def turn_texts(sentences: Sequence[str], speaker: str | None = None) -> tuple[list[str], str | None]:
    """Each of these consecutive sentences of one passage as "Speaker: words" (turn_speakers), one
    text per sentence; and the speaker at the end."""
    pairs, last = turn_speakers(sentences, speaker)
    return [attributed_text(who, said) for who, said in pairs], last


def scored_texts(sentences: Sequence[str], speaker: str | None = None) -> tuple[list[str], str | None]:
    """What the answer step embeds for these consecutive sentences of one passage: each sentence
    attributed to the speaker whose turn it is in (`speaker`: the turn the passage begins in, None
    when unknown), and a question's words alone, or a prompt's put as a statement (a passage question
    like the user's is matched without its speaker). Also returns the speaker at the end, for the sentences that follow."""
    pairs, last = turn_speakers(sentences, speaker)
    out = []
    for who, said in pairs:
        out.append(attributed_text(who, said))
        if who and asks_listener(said):
            out.append(said)
    return out, last


def document_texts(chunks: Iterable[Sequence[str]]) -> list[str]:
    """The texts embedded for a document's chunks (each a list of sentences, in document order): each
    chunk read alone, as a search hit starts, and after the chunk before it, as a merged passage
    reads it (kb.passages); each text once."""
    out: dict[str, None] = {}
    carried: str | None = None
    for sentences in chunks:
        alone, _ = scored_texts(sentences)
        after, carried = scored_texts(sentences, carried)
        out.update(dict.fromkeys(alone + after))
    return list(out)
