"""The offline figures planner: facts from question and passages -> one calculate() expression."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.calculator import CalcResult, calculate
from agent.figures import Fact, Plan, extract_facts, needs_figures, plan

ROOT = Path(__file__).resolve().parent.parent

# Real sentences of the infrastructure capstone transcript (kb/corpus).
HALF_MILLION_1 = "So a gigawatt is roughly a million G half a million GPUs."
HALF_MILLION_2 = (
    "So operationally a big challenge right it's as I said a gigawatt is half a million GPUs to manage build up "
    "staff and all that"
)
SEVENTY_BILLION = "talking about uh like a gigawatt is $70 billion in spend so these are massive numbers"
KILOWATT_GPU = "Right. And a GPU is what a kilowatt to 2 kilowatt now."


# Passages for the evaluation set's "compute" questions (kb/corpus, re-flowed).
ASPIRATIONAL = (
    "and so the 30 gawatt number here that which is an aspirational goal is a split is split across research and "
    "products."
)
HYPERSCALERS = (
    "I think I don't have the number off the top of my head, but uh I think the US is if you add up all the "
    "hyperscalers is planning to build around 100 gawatt of compute. Got it. Beyond OpenAI, so 30 gawatt of us, "
    "whatever else everyone else builds."
)
SIX_OR_TEN = (
    "And so that's uh and and when we're talking about whatever number it is, six or 10 gawatt, you're talking "
    "about quite a large number of chips being worked together."
)
INFERENCE = (
    "And so that's why our prediction is that a super majority plus like 80% plus will essentially be inference "
    "compute right in the future."
)
TRIPLED = "Right. And so the last three years have bone that out. Every year we have tripled compute year-over-year."
HUMANS = "Right. And a GPU is what a kilowatt to 2 kilowatt now. 7 billion humans out there. That's uh 700 7 terowatts of compute, right?"
DEEPSEEK = (
    "Pre-training models on internet-scale data requires vast compute (e.g., 2.5 million H800 hours for DeepSeek "
    "V3), whereas post-training like RL can use as little as 5% of that compute.",
    "This phase is considerably more data- and compute-efficient. For example, the RL training for DeepSeek R1 used "
    "about 150,000 hours of compute, roughly 5% of the pre-training budget.",
)
AMAZON = "Amazon notably at roughly $50 billion of capex this year."


def run(question: str, passages: tuple[str, ...] = ()) -> tuple[Plan, CalcResult]:
    p = plan(question, passages)
    assert p is not None, question
    return p, calculate(p.expression, to=p.to)


@pytest.mark.parametrize(
    ("question", "value", "text"),
    [
        ("at $70 billion per gigawatt, what do 6 gigawatts cost?", 420e9, "$420 billion"),
        ("400k tokens prefilled in 500 ms is how many tokens per second?", 800_000, "800,000 tokens/s"),
        ("a 2 kW GPU for each of a billion people is how many gigawatts?", 2000, "2,000 GW"),
        ("if 100 GW is a fifth of the grid, how big is the grid?", 500, "500 GW"),
        ("what fraction of 80 GW is 6 GW, in percent?", 7.5, "7.5%"),
        ("If a gigawatt costs $70 billion, what do 10 gigawatts cost?", 700e9, "$700 billion"),
        ("At $70B/GW, what would 30 GW cost?", 2.1e12, "$2.1 trillion"),
        ("6 GW is what fraction of 80 GW?", 7.5, "7.5%"),
        ("if 30 GW is 20% of capacity, what is the total capacity?", 150, "150 GW"),
        ("what is 80% of 30 GW?", 24, "24 GW"),
        ("How many GPUs fit in 1 GW at 2 kW per GPU?", 500_000, "500,000 GPUs"),
    ],
)
def test_question_only_plans(question: str, value: float, text: str) -> None:
    p, r = run(question)
    assert r.value == pytest.approx(value)
    assert r.text == text
    assert all(f.origin == "question" for f in p.facts)
    assert p.description


def test_cost_plan_shape() -> None:
    p, r = run("at $70 billion per gigawatt, what do 6 gigawatts cost?")
    assert p.expression == "(70e9 USD/GW) * (6 GW)"
    assert p.to == "USD"
    assert [(f.value, f.unit) for f in p.facts] == [(70e9, "USD/GW"), (6, "GW")]
    assert r.unit == "USD"


def test_per_second_rate_unit() -> None:
    p, r = run("400k tokens prefilled in 500 ms is how many tokens per second?")
    assert p.to == "token/s" and r.unit == "token/s"


def test_one_gpu_per_person_bridge_is_explained() -> None:
    p, _ = run("a 2 kW GPU for each of a billion people is how many gigawatts?")
    units = [f.unit for f in p.facts]
    assert "kW/GPU" in units and "person" in units and "GPU/person" in units
    assert any("for each" in f.text for f in p.facts)


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("compute tripling every year for 3 years", 27),
        ("compute doubling every year for 4 years", 16),
        ("10x per year for 2 years", 100),
        ("doubling every 6 months for 3 years", 64),
        ("tripling year-over-year for two years", 9),
    ],
)
def test_growth(question: str, value: float) -> None:
    _, r = run(question)
    assert r.value == pytest.approx(value)
    assert r.unit == ""
    assert r.text == f"{value:,}×"


def test_growth_of_a_quantity() -> None:
    _, r = run("if compute is 30 GW and keeps tripling every year, what is it after 2 years?")
    assert r.value == pytest.approx(270) and r.unit == "GW"


def test_gpus_from_the_guests_rate_and_the_corrected_value_wins() -> None:
    q = "How many GPUs would 10 GW be, at the capstone guest's GPUs per gigawatt?"
    p, r = run(q, (HALF_MILLION_1, HALF_MILLION_2))
    assert r.value == pytest.approx(5e6)
    assert r.text == "5 million GPUs"
    rate = next(f for f in p.facts if f.unit == "GPU/GW")
    assert rate.value == 500_000  # "a million G half a million GPUs": the correction counts
    assert rate.origin == "passage"
    assert rate.passage_index == 0
    assert rate.sentence == HALF_MILLION_1
    ten = next(f for f in p.facts if f.unit == "GW")
    assert ten.origin == "question" and ten.passage_index is None and ten.sentence is None


@pytest.mark.parametrize(
    "question",
    ["Using the talk's figures, what does one GPU cost?", "How many GPUs is a gigawatt, and what does one cost?"],
)
def test_cost_per_gpu_from_passages(question: str) -> None:
    p, r = run(question, (SEVENTY_BILLION, HALF_MILLION_2))
    assert r.value == pytest.approx(140_000)
    assert r.unit == "USD/GPU"
    assert r.text == "$140,000 per GPU"
    assert {f.unit for f in p.facts} == {"USD/GW", "GPU/GW"}
    assert all(f.origin == "passage" and f.sentence for f in p.facts)
    assert p.facts[0].sentence == SEVENTY_BILLION


def test_passages_with_timestamps_and_line_breaks() -> None:
    chunk = (
        "[43:46] talking about uh like a gigawatt is $70\n[43:51] billion in spend so these are massive\n"
        "[43:54] numbers and it's also So operationally a\n[43:58] big challenge right it's as I said a\n"
        "[44:00] gigawatt is half a million GPUs to\n[44:03] manage build up staff and all that so I"
    )
    p, r = run("Using the talk's figures, what does one GPU cost?", (chunk,))
    assert r.text == "$140,000 per GPU"
    assert all("[" not in (f.sentence or "") for f in p.facts)


def test_terawatts_for_every_human_uses_the_guests_per_gpu_power() -> None:
    q = "If every one of 7 billion humans had a GPU, how many terawatts would that be?"
    p, r = run(q, (KILOWATT_GPU,))
    assert r.value == pytest.approx(7) and r.unit == "TW"
    rate = next(f for f in p.facts if f.origin == "passage")
    assert rate.unit == "kW/GPU" and rate.text == "a GPU is what a kilowatt to 2 kilowatt"


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("$70 billion", 70e9, "USD"),
        ("70 billion dollars", 70e9, "USD"),
        ("$50B of capex", 50e9, "USD"),
        ("half a million", 500_000, ""),
        ("a million", 1e6, ""),
        ("400k", 400_000, ""),
        ("400k tokens", 400_000, "token"),
        ("2 kW", 2, "kW"),
        ("a kilowatt to 2 kilowatt", 1, "kW"),
        ("500 ms", 500, "ms"),
        ("a fifth", 0.2, ""),
        ("two thirds", 2 / 3, ""),
        ("a billion people", 1e9, "person"),
        ("7 billion humans", 7e9, "person"),
        ("80%", 80, "%"),
        ("30 GW", 30, "GW"),
        ("around 100 gawatt of compute", 100, "GW"),
        ("That's uh 700 7 terowatts of compute", 7, "TW"),
        ("a gigawatt is half a million GPUs", 500_000, "GPU/GW"),
        ("$70 billion per gigawatt", 70e9, "USD/GW"),
        ("$0.50 per million tokens", 0.5e-6, "USD/token"),
        ("70e9 USD/GW", 70e9, "USD/GW"),
        ("a 2 kW GPU", 2, "kW/GPU"),
        ("10x", 10, ""),
    ],
)
def test_extract_facts(text: str, value: float, unit: str) -> None:
    facts = extract_facts(text)
    assert len(facts) == 1, facts
    assert facts[0].value == pytest.approx(value)
    assert facts[0].unit == unit
    assert isinstance(facts[0], Fact) and facts[0].origin == "question"


def test_a_gigawatt_alone_is_not_a_fact() -> None:
    assert extract_facts("what does a gigawatt cost?") == []


@pytest.mark.parametrize(
    "question",
    [
        "what is the guest's favourite programming language?",
        "why are CPUs making a comeback?",
        "compute tripling every year",
        "Using the talk's figures, what does one GPU cost?",  # no passages: nothing to compute with
    ],
)
def test_no_plan(question: str) -> None:
    assert plan(question, ()) is None


def test_no_plan_for_plain_lookups_even_with_passages() -> None:
    passages = (HALF_MILLION_1, SEVENTY_BILLION)
    assert plan("what is the guest's favourite programming language?", passages) is None
    assert plan("why are CPUs making a comeback?", passages) is None
    assert plan("what does a gigawatt cost?", passages) is None  # a quoted figure, not a computation


@pytest.mark.parametrize(
    "question",
    [
        "at $70 billion per gigawatt, what do 6 gigawatts cost?",
        "400k tokens prefilled in 500 ms is how many tokens per second?",
        "a 2 kW GPU for each of a billion people is how many gigawatts?",
        "if 100 GW is a fifth of the grid, how big is the grid?",
        "what fraction of 80 GW is 6 GW, in percent?",
        "compute tripling every year for 3 years",
        "How many GPUs would 10 GW be, at the capstone guest's GPUs per gigawatt?",
        "Using the talk's figures, what does one GPU cost?",
        "How many GPUs is a gigawatt, and what does one cost?",
        "If a gigawatt costs $70 billion, what do 10 gigawatts cost?",
        "what is 80% of 30 GW?",
    ],
)
def test_needs_figures_true(question: str) -> None:
    assert needs_figures(question)


@pytest.mark.parametrize(
    "question",
    [
        "what does the guest say a gigawatt costs?",
        "How many GPUs is a gigawatt?",
        "what is the guest's favourite programming language?",
        "why are CPUs making a comeback?",
        "What did the guest say about the 30 GW goal?",
        "What share of compute will be inference?",
        "Why is compute growing so fast?",
    ],
)
def test_needs_figures_false(question: str) -> None:
    assert not needs_figures(question)


def test_plan_is_deterministic() -> None:
    q = "Using the talk's figures, what does one GPU cost?"
    passages = (SEVENTY_BILLION, HALF_MILLION_1, HALF_MILLION_2)
    assert plan(q, passages) == plan(q, passages)


def test_import_is_cheap() -> None:
    code = "import sys, agent.figures; assert 'pint' not in sys.modules, 'pint imported at import time'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize(
    ("question", "passages", "value", "text"),
    [
        (
            "What would OpenAI's aspirational compute target cost to build, in US dollars, at the capstone guest's "
            "cost per gigawatt?",
            (SIX_OR_TEN, AMAZON, SEVENTY_BILLION, ASPIRATIONAL),
            2.1e12,
            "$2.1 trillion",
        ),
        (
            "How many GPUs would OpenAI's aspirational compute target amount to, at the capstone guest's GPUs per "
            "gigawatt?",
            (SIX_OR_TEN, HALF_MILLION_1, ASPIRATIONAL),
            15e6,
            "15 million GPUs",
        ),
        (
            "What does one GPU cost, all-in, in US dollars, based on the capstone guest's cost and GPU count per "
            "gigawatt?",
            (AMAZON, HALF_MILLION_1, SEVENTY_BILLION),
            140_000,
            "$140,000 per GPU",
        ),
        (
            "How many kilowatts of power per GPU does the guest's GPUs-per-gigawatt rule of thumb imply?",
            (KILOWATT_GPU, HALF_MILLION_1),
            2,
            "2 kW/GPU",
        ),
        (
            "What percentage of the compute US hyperscalers plan to build would OpenAI's own target make up?",
            (HYPERSCALERS, ASPIRATIONAL),
            30,
            "30%",
        ),
        (
            "What was DeepSeek's RL training compute as a percentage of its pre-training compute?",
            DEEPSEEK,
            6,
            "6%",
        ),
        (
            "How many times larger is the guest's 'a GPU for every human' scenario than OpenAI's 30 GW target?",
            (HYPERSCALERS, HUMANS),
            233.333333,
            "233.3×",
        ),
        (
            "If the guest's predicted inference share applied to OpenAI's whole 30 GW target, how many gigawatts "
            "would go to inference?",
            (HYPERSCALERS, INFERENCE),
            24,
            "24 GW",
        ),
        (
            "If OpenAI's compute grew as the guest describes every year for the last three years, by what factor did "
            "it grow over the three years?",
            (ASPIRATIONAL, TRIPLED),
            27,
            "27×",
        ),
    ],
)
def test_figures_named_in_words_come_from_passages(
    question: str, passages: tuple[str, ...], value: float, text: str
) -> None:
    assert needs_figures(question)
    p, r = run(question, passages)
    assert r.value == pytest.approx(value, rel=1e-6)
    assert r.text == text
    assert any(f.origin == "passage" and f.sentence for f in p.facts)


def test_bare_passage_figures_do_not_answer_lookups() -> None:
    passages = (SIX_OR_TEN, HALF_MILLION_1, SEVENTY_BILLION, HUMANS, HYPERSCALERS)
    assert plan("How many GPUs is a gigawatt?", passages) is None
    assert plan("What does a gigawatt of compute cost?", passages) is None
    assert plan("How many GPUs does Google's largest data center hold?", passages) is None


def test_named_rate_beats_another_route_to_the_same_unit() -> None:
    # $70B/GW × 1 kW/GPU is also USD/GPU; "how many GPUs is a gigawatt" names the GPU/GW rate to use.
    passages = (SEVENTY_BILLION, KILOWATT_GPU, HALF_MILLION_1)
    p, r = run("How many GPUs is a gigawatt, and what does one cost?", passages)
    assert r.text == "$140,000 per GPU"
    assert {f.unit for f in p.facts} == {"USD/GW", "GPU/GW"}


def test_side_of_a_ratio_computed_from_single_sentence_passages() -> None:
    # As the offline backend passes them: one sentence per passage, so "7 terowatts" has no context.
    sentences = (
        "Uh I mean 30 GW is a lot, right?",
        "And a GPU is what a kilowatt to 2 kilowatt now.",
        "uh I think the US is if you add up all the hyperscalers is planning to build around 100 gawatt of compute.",
        "7 billion humans out there.",
        "That's uh 700 7 terowatts of compute, right?",
    )
    q = "How many times larger is the guest's 'a GPU for every human' scenario than OpenAI's 30 GW target?"
    p, r = run(q, sentences)
    assert r.value == pytest.approx(7e12 / 30e9)
    assert {f.unit for f in p.facts} == {"kW/GPU", "person", "GPU/person", "GW"}
