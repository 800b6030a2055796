"""The one abstention policy: does this turn's evidence answer the question?

Two scores that mean the same thing on every corpus, and one check:
- `similarity`: the best cosine similarity between the question and a claim sentence of the
  retrieved passages (the index's embedding model);
- `coverage`: the largest share of the question's content words found in one sentence and its
  neighbours; when it is all of them (two or more) and two stand side by side as in the question
  (a term), the similarity needed is lower by FULL_COVERAGE_SLACK;
- names: a name the question asks about (a capitalised word, a model name such as H100) that no
  retrieved sentence mentions, even spelled a little differently or abbreviated ("MSFT"), means
  the passages are about something else.
The thresholds were calibrated on the dev questions (`evals/gold/dev.jsonl`, `evals/gold/kb.jsonl`)
and are settings (`KB_ABSTAIN_THRESHOLD`, `KB_MIN_COVERAGE`). The offline model, the graph's final
check and the OpenAI path all call `assess`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.evidence import SentenceEncoder, attach_speakers, attributed, content_terms, disclaims, is_claim, terms_of
from kb.lexicon import lexicon
from kb.numbers import number_words_pattern
from kb.tokens import tokenize

_ENTITY = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][\w&-]*[A-Za-z0-9](?:\s+[A-Z0-9][\w-]*)*)|\b([A-Za-z]+\d[\w.-]*)\b")
_NOT_ENTITIES = {"I", "AI", "OK", "US", "USA", "What", "How", "Why", "Who", "When", "Which", "Where", "And", "The",
                 "In", "If", "Is", "Are", "Do", "Does", "Did", "Can", "Could", "Would", "Should", "Was", "Were"}
# words that say what kind of answer is wanted, not what it is about
QUESTION_WORDS = frozenset(tokenize(
    "many much big long large often fast kind type way according mention mentioned discuss discussed describe "
    "explain give example compare call need both main point points reason reasons think view opinion "
    # what was said, not what it was about: "summarize the discussion about…", "what did she propose…"
    "summarize summarise summary discussion discussions propose proposed suggest suggested decide decided decision "
    "conclusion conclude concluded agree agreed disagree disagreed"
)) | frozenset(tokenize(" ".join(sorted(lexicon().document_words))))


# A question all of whose content words (two or more) stand in one sentence and its neighbours,
# two of them side by side in a sentence as in the question (a term: "the glass ceiling test"),
# needs less similarity: the embedding model scores a coined term or jargon it does not know
# low against the very sentence that defines it. Words that only happen to meet ("what kind of
# business is X short on?" beside "…the business I'd be short of") are no term. On the dev sets no
# question failed the similarity check with full coverage, so this changes none of them.
FULL_COVERAGE_TERMS = 2
FULL_COVERAGE_SLACK = 0.2


def _pairs(text: str) -> set[tuple[str, str]]:
    words = tokenize(text)
    return set(zip(words, words[1:]))


def _names_a_phrase(question: str, claims: Sequence[dict], terms: set[str]) -> bool:
    """Two content words side by side in the question stand side by side in a claim sentence."""
    asked = {p for p in _pairs(question) if p[0] in terms and p[1] in terms}
    return bool(asked) and any(asked & _pairs(c["text"]) for c in claims)

_NUMBER_WORD_LIST = number_words_pattern()  # "one" ... "ninety", "hundred" ... "trillion" (kb.numbers)
_NUMBER_WORDS = f"(?:{_NUMBER_WORD_LIST})"
# "what did X say about the cost": the question asks what was said, not for an amount
_REPORTING = r"(?:about|say|said|says|think|thinks|thought|discuss|discussed|mention|mentioned|decide|decided|propose|proposed|suggest|suggested|agree|agreed|talk|talked)\b"
# An amount of money in a sentence: "$40", "€12", "twelve euros", "40k dollars", "USD 5"
MONEY = re.compile(r"[$€£¥]\s?\d|\b(?:\d[\d,.]*\s*(?:k|m|bn|b)?|" + _NUMBER_WORDS + r")\s*"
                   r"(?:dollars?|usd|euros?|eur|pounds?|cents?|bucks)\b|\b(?:dollars?|usd|euros?)\b.{0,20}\d", re.I)
# What a question asks for, and what a sentence must hold to give it: a quantity question needs a
# number, a money question an amount of money, a duration question a length of time.
# "what gross margin percentage", "what market share": a word or two naming the share, not a verb's subject ("what did Ada share")
_MODIFIERS = r"(?:(?!(?:is|are|was|were|do|does|did|has|have|had|will|would|can|could|should|might|may)\b)[a-z][\w-]*\s+){0,2}?"
_ROUGHLY = r"(?:exact|rough|approximate|precise|overall|total|average|expected|typical|estimated)"
_WANTS = (
    ("year", re.compile(r"\b(?:what|which)\s+year\b(?![-\s]*(?:over|end|of\b|on\b|old\b))", re.I),
     re.compile(r"\b(?:1[5-9]|20)\d\d\b|\b(?:last|next|this)\s+year\b|\byears?\s+ago\b", re.I)),
    ("money", re.compile(r"\b(?:in|how\s+many)\s+(?:us\s+)?dollars\b|\bhow\s+much\b.*\b(?:cost|costs|costing|pay|pays|paid|paying|price|charge|charges|charged|charging|spend|spends|spent|spending|earn|earns|earned|earning|revenue)\b|\bprice\b"
                         r"|\bwhat\s+(?:does|did|do|would|will|could|might|should)\s+(?:(?!" + _REPORTING + r"\s)[\w'$.,-]+\s+){0,8}?"
                         r"(?!(?:the|a|an|its|their|his|her|our|your|this|that|of|about|on|for)\s)[\w'$.,-]+\s+cost"
                         r"(?=\s*(?:\?|$|,|\b(?:in|at|per|to|us|them|you|each|a|an|one)\b))"
                         r"|\bwhat\s+(?:is|was|would\s+be)\s+the\s+(?:total\s+)?cost\s*(?:\?|$|\b(?:of|per|for)\s+(?!not\b)(?:a|an|one|the|each|every|\d))"
                         r"|\bhow\s+expensive\b"
                         r"|\b(?:stock|shares?)\b[^?]{0,40}\b(?:close|closed|trade|traded|open|opened|peak|peaked)\s+at\b"  # a share price
                         r"|\bwhat\s+(?:does|did|do|would|will)\s+(?:(?!" + _REPORTING + r"\s)[\w'$.,-]+\s+){1,5}?(?:pay|charge|earn)s?\b"
                         r"(?!\s+(?:attention|off|back|heed|respect|tribute|homage|ahead|from|the\s+right|the\s+price|dividends|in\b))", re.I),
     MONEY),
    ("duration", re.compile(r"\bhow\s+(?:long|many\s+(?:days|weeks|months|years|hours|minutes|seconds))\b", re.I),
     re.compile(r"\b(?:\d[\d,.]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|several|couple)\s*(?:-\s*)?"
                r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|ms|milliseconds?|decades?)\b"
                r"(?!\s+of\s+(?:compute|computation|computing|gpu|cpu|machine|processing)\b)", re.I)),  # "hours of compute": an amount of work
    # "what (exact) percentage…", "what share of…": a share, stated as one ("80%", "half", "a majority")
    ("share", re.compile(r"\b(?:what|by\s+what)\s+(?:" + _ROUGHLY + r"\s+)?" + _MODIFIERS + r"(?:percentage|percent|fraction|share|proportion)\b"
                         r"|\bas\s+a\s+(?:percentage|percent|share|fraction)\s+of\b|\bhow\s+many\s+percent\b", re.I),
     re.compile(r"%|\bper\s?cent\b|\bpercentage\s+points?\b|\b(?:half|halved|quarter|third|thirds|fifth|tenth|majority|"
                r"minority|bulk|twice|double|doubled|triple|tripled|fraction)\b|\d(?:\.\d+)?\s*(?:x|times|fold)\b"
                r"|\b\d+\s+(?:in|out\s+of)\s+(?:every\s+)?\d{1,3}\b", re.I)),  # "1 in 4", not "5 in 2023"
    ("number", re.compile(r"\bhow\s+(?:many|much)\b|\bwhat\s+(?:percentage|percent|fraction|share|number)\b"
                          r"|\bby\s+what\s+(?:factor|multiple|percentage|percent)\b|\bas\s+a\s+(?:percentage|percent|share|fraction|multiple)\s+of\b", re.I),
     re.compile(r"\d|\b(?:half|quarter|third|dozen|twice|double|triple|percent|" + _NUMBER_WORD_LIST + r")\b", re.I)),
    # "what … figure / ratio / rate": a stated figure, written in digits or with a scale word
    ("figure", re.compile(r"\bwhat\b[^?]{0,40}\b(?:figure|ratio|rate)\b", re.I),
     re.compile(r"\d|\b(?:half|quarter|third|hundred|thousand|million|billion|trillion|percent)\b", re.I)),
)


def wanted(question: str) -> tuple[str, re.Pattern[str]] | None:
    """The kind of thing the question asks for ("money", "duration", "number"), when it asks for one."""
    changes = re.search(r"\b(?:cut|cuts|reduce|reduces|lower|lowers|save|saves|drop|drops|shrink|shrinks)\b", question, re.I)
    for name, asks, holds in _WANTS:
        if name == "money" and changes:
            continue  # "how much does that cut costs?" asks for a share, not an amount of money
        if asks.search(question):
            return name, holds
    return None


_HOW_MANY = re.compile(r"\bhow\s+many\s+([a-z][a-z-]+)\b(?!\s+(?:of|more|less|fewer|times)\b)", re.I)
_A_NUMBER = re.compile(r"\d|\b(?:half|dozens?|several|few|" + _NUMBER_WORD_LIST + r")\b", re.I)


def counted_thing(question: str) -> str | None:
    """What a "how many X…?" question counts ("GPUs", "parameters"), as its stem; None when it
    counts nothing named, or a duration or amount another kind checks ("how many days", "how many
    dollars", "how many times more")."""
    m = _HOW_MANY.search(question)
    kind = wanted(question) if m else None
    if kind is None or kind[0] != "number":
        return None
    stems = tokenize(m.group(1))
    return stems[0] if stems and stems[0] not in QUESTION_WORDS and stems[0] != "time" else None


def counts(text: str, thing: str) -> bool:
    """The sentence gives a number of `thing` (a stem): a number within four words before it
    ("half a million GPUs", "175 billion parameters", "1,000 of the GPUs")."""
    words = re.findall(r"[\w$%.,'-]+", text)
    for i, w in enumerate(words):
        if tokenize(w)[:1] == [thing] and any(_A_NUMBER.search(x) for x in words[max(0, i - 4):i]):
            return True
    return False


@dataclass
class Assessment:
    similarity: float
    coverage: float
    missing_names: list[str] = field(default_factory=list)
    answerable: bool = False
    reason: str = ""


def question_terms(question: str) -> set[str]:
    return content_terms(question, QUESTION_WORDS)


def names(question: str) -> list[str]:
    out = []
    for m in _ENTITY.finditer(question):
        name = (m.group(1) or m.group(2) or "").strip()
        out += [_head(re.sub(r"('s|’s)$", "", w)) for w in re.split(r"\s+", name) if w and w not in _NOT_ENTITIES]
    return [w for w in out if len(w) > 1]


def _head(word: str) -> str:
    """A name without the lower-case words hyphened onto it: "RL-style", "Llama-based" and
    "COVID-era" name RL, Llama and COVID ("GPT-4o" and "Wi-Fi" stay whole)."""
    return re.sub(r"(?:-[a-z]+)+$", "", word)


def _abbreviates(short: str, name: str) -> bool:
    """"MSFT" for Microsoft, "NVDA" for Nvidia: a capitalised abbreviation (3-5 letters) that starts
    the name and whose letters all come in the name's order."""
    rest = iter(name[1:])
    return 3 <= len(short) <= 5 and len(name) > len(short) and short[0] == name[0] and all(c in rest for c in short[1:])


def _mentioned(name: str, words: set[str], text: str, capitals: set[str] = frozenset()) -> bool:
    low = name.lower()
    if any(_abbreviates(c.lower(), low) for c in capitals):
        return True
    if re.search(rf"(?<![a-z0-9]){re.escape(low)}(?![a-z0-9])", text) or set(tokenize(name)) <= words:
        return True
    # a name spelled a little differently ("Open AI" / "OpenAI", "Kubernetes" / "Kubernetis")
    squashed = re.sub(r"[^a-z0-9]", "", text)  # "L_C_D_", "L.C.D.", "Open AI" for LCD, OpenAI
    if len(re.sub(r"[^a-z0-9]", "", low)) >= 3 and re.sub(r"[^a-z0-9]", "", low) in squashed:
        return True
    return len(low) >= 5 and any(difflib.SequenceMatcher(None, low, w).ratio() >= 0.8 for w in words if abs(len(w) - len(low)) <= 2)


def missing_names(question: str, texts: Sequence[str]) -> list[str]:
    """Names of the question that no retrieved sentence mentions."""
    joined = " ".join(texts)
    capitals = set(re.findall(r"\b[A-Z]{3,5}\b", joined))
    text = joined.lower()
    words = set(re.findall(r"[a-z0-9]+", text)) | set(tokenize(text))
    return [n for n in names(question) if not _mentioned(n, words, text, capitals)]


def documents_of(items: Sequence[dict]) -> list[str]:
    """The titles and ids of the documents the items come from: a name the question gives its
    document ("the Stanford lecture", "episode 12") is mentioned there, not in the sentences."""
    return [str(d) for d in dict.fromkeys(x for i in items for x in (i.get("title"), i.get("source")) if x)]


def coverage(terms: set[str], windows: Sequence[str]) -> float:
    """The largest unweighted share of `terms` in one window of text."""
    if not terms:
        return 0.0
    return max((len(terms & terms_of(w)) / len(terms) for w in windows), default=0.0)


def windows(items: Sequence[dict]) -> list[str]:
    """Each sentence with its neighbours in the same passage."""
    out = []
    for i, s in enumerate(items):
        near = [x["text"] for x in items[max(0, i - 1): i + 2] if x.get("passage") == s.get("passage")]
        out.append(" ".join(near))
    return out


def unstated(question: str, texts: Sequence[str]) -> str | None:
    """What these sentences lack of what the question asks for (a duration, an amount of money, a
    number of the thing it counts), said as a reason; None when they hold it or it asks for no kind."""
    kind, counted = wanted(question), counted_thing(question)
    if kind and not any(kind[1].search(t) for t in texts):
        return f"the question asks for {kind[0]} and no sentence states one"
    if counted and not any(counts(t, counted) for t in texts):
        return f"the question asks how many {counted} and no sentence counts them"
    return None


def assess(question: str, items: Sequence[dict], encoder: SentenceEncoder, min_similarity: float, min_coverage: float,
           looks_like_instruction, query: str | None = None, answer: Sequence[str] | None = None) -> Assessment:
    """Whether the sentences `items` (dicts with `text`, `passage`, `pos`) answer `question`.
    `query` is the standalone form of a follow-up (what was searched for); `answer`, the sentences
    an answer would quote (all claims when not given), must hold the kind of thing asked for."""
    query = query or question
    attach_speakers(items)
    claims = [i for i in items if is_claim(i, looks_like_instruction)]
    if not claims:
        return Assessment(0.0, 0.0, [], False, "no retrieved sentence makes a claim")
    sims = encoder.similarities(query, [attributed(c) for c in claims]) if encoder.embedder is not None else []
    similarity = max(sims, default=0.0)
    terms = question_terms(query)
    cov = coverage(terms, windows(items))
    missing = missing_names(question, [i["text"] for i in items if not disclaims(i["text"])] + documents_of(items))
    result = Assessment(round(similarity, 4), round(cov, 4), missing)
    if len(terms) >= FULL_COVERAGE_TERMS and cov >= 1.0 and _names_a_phrase(query, claims, terms):
        min_similarity -= FULL_COVERAGE_SLACK  # the question's term as written, and all its words: they vouch for it
    if missing:
        result.reason = f"the passages never mention {', '.join(missing)}"
    elif encoder.embedder is not None and similarity < min_similarity:
        result.reason = f"no sentence is close enough in meaning ({similarity:.2f} < {min_similarity})"
    elif cov < min_coverage:
        result.reason = f"the passages cover too little of the question ({cov:.2f} < {min_coverage})"
    else:
        quoted = list(answer) if answer is not None else [c["text"] for c in claims]
        result.reason = unstated(question, quoted) or ""
        result.answerable = not result.reason
    return result
