"""The offline figures planner: facts from question and passages -> one calculate() expression.

Sentences and questions here are written for the tests (none comes from a bundled document or a
gold file): the planner must work on wording it has never seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.calculator import CalcResult, calculate
from agent.figures import Fact, Plan, extract_facts, needs_figures, plan
from kb.lexicon import load_lexicon

ROOT = Path(__file__).resolve().parent.parent

RATE_SPOKEN = "Well, one gigawatt is roughly, uh, a million, sorry, half a million GPUs."
RATE_PLAIN = "In our design a gigawatt holds about 400,000 GPUs."
COST = "Building a site runs to about $50 billion per gigawatt, all in."
POWER_RANGE = "Each GPU pulls somewhere from a kilowatt to 2 kilowatts."
TOKENS = "The decoder streams 300k tokens in 600 ms on one node."


def run(question: str, passages: tuple[str, ...] = ()) -> tuple[Plan, CalcResult]:
    p = plan(question, passages)
    assert p is not None, question
    return p, calculate(p.expression, to=p.to)


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("At $20 billion per gigawatt, what would 3 gigawatts cost?", 60e9),
        ("If 250k tokens take 500 ms, how many tokens per second is that?", 500_000),
        ("Suppose 40 GW were one fifth of the national grid, how big is the whole grid?", 200),
        ("What fraction of 50 GW is 5 GW, in percent?", 10),
        ("What is 25% of 40 GW?", 10),
        ("How many GPUs fit in 3 GW at 1.5 kW per GPU?", 2e6),
        ("How many watts per GPU does 250,000 GPUs per gigawatt imply?", 4000),
    ],
)
def test_plans_from_the_question_alone(question: str, value: float) -> None:
    _, result = run(question)
    assert result.value == pytest.approx(value)


def test_a_rate_read_from_a_passage_is_combined_with_the_questions_figure() -> None:
    p, result = run("How many GPUs would 4 GW hold at that density?", (RATE_PLAIN, COST))
    assert result.value == pytest.approx(1.6e6)
    assert [f.origin for f in p.facts] == ["question", "passage"]
    assert p.facts[1].sentence == RATE_PLAIN


def test_a_spoken_correction_keeps_the_corrected_value() -> None:
    _, result = run("How many GPUs would 2 GW be?", (RATE_SPOKEN,))
    assert result.value == pytest.approx(1e6)


def test_inverting_a_stated_rate_uses_it_once() -> None:
    # the question restates the passage's rate: it is one operand, not two
    p, result = run("How many watts per GPU does half a million GPUs per gigawatt imply?", (RATE_SPOKEN,))
    assert result.value == pytest.approx(2000)
    assert len(p.facts) == 1


def test_a_percentage_the_question_applies_is_not_dropped() -> None:
    p, result = run("What would 10 GW cost at that price per gigawatt, minus 20%?", (COST,))
    assert result.value == pytest.approx(10 * 50e9 * 0.8)
    assert "20%" in p.description


def test_a_power_the_reader_cannot_take_in_is_not_planned() -> None:
    assert plan("How many GPUs would 10**300 GW be at that density?", (RATE_PLAIN,)) is None
    assert plan("How many GPUs would 10^300 GW be at that density?", (RATE_PLAIN,)) is None


def test_every_number_of_the_question_must_be_used() -> None:
    # 7 is in the question but no plan can use it: no bold figure
    assert plan("With 7 sites, how many GPUs would 2 GW be?", (RATE_PLAIN,)) is None


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("half a million", 500_000, ""),
        ("a million", 1e6, ""),
        ("250k", 250_000, ""),
        ("250k tokens", 250_000, "token"),
        ("3 kW", 3, "kW"),
        ("a kilowatt to 3 kilowatts", 1, "kW"),
        ("between 4 and 6 kilowatts", 4, "kW"),  # a range, read at its low end like "4 to 6"
        ("800 ms", 800, "ms"),
        ("a fifth", 0.2, ""),
        ("two thirds", 2 / 3, ""),
        ("two billion people", 2e9, "person"),
        ("45%", 45, "%"),
        ("12 GW", 12, "GW"),
        ("a gigawatt is 250 thousand GPUs", 250_000, "GPU/GW"),
        ("$30 billion per gigawatt", 30e9, "USD/GW"),
        ("$2 per million tokens", 2e-6, "USD/token"),
        ("a 3 kW GPU", 3, "kW/GPU"),
        ("4x", 4, ""),
    ],
)
def test_extract_facts(text: str, value: float, unit: str) -> None:
    facts = extract_facts(text)
    assert len(facts) == 1, facts
    assert facts[0].value == pytest.approx(value)
    assert facts[0].unit == unit
    assert isinstance(facts[0], Fact) and facts[0].origin == "question"


def test_misheard_unit_words_come_from_the_lexicon() -> None:
    lex = load_lexicon()
    wrong = next(w for w, right in lex.misheard.items() if lex.word_units.get(right) == "GW")
    facts = extract_facts(f"around 12 {wrong} of capacity")
    assert [(f.value, f.unit) for f in facts] == [(12, "GW")]


def test_a_users_lexicon_file_extends_the_bundled_one(tmp_path: Path) -> None:
    extra = tmp_path / "lexicon.json"
    extra.write_text(json.dumps({"units": {"GW": ["gigs"]}, "misheard": {"gigawot": "gigawatt"}}))
    lex = load_lexicon(str(extra))
    assert lex.word_units["gigs"] == "GW" and lex.word_units["gigawot"] == "GW"
    assert lex.word_units["gigawatt"] == "GW"  # the bundled words stay


def test_a_gigawatt_alone_is_not_a_fact() -> None:
    assert extract_facts("what would a gigawatt cost?") == []


@pytest.mark.parametrize(
    "question",
    ["Which database does the team prefer?", "Why did the speaker leave the company?", "costs doubling every year"],
)
def test_no_plan(question: str) -> None:
    assert plan(question, ()) is None


def test_no_plan_for_plain_lookups_even_with_passages() -> None:
    passages = (RATE_PLAIN, COST)
    assert plan("Which database does the team prefer?", passages) is None
    assert plan("What would a gigawatt cost?", passages) is None  # a quoted figure, not a computation


@pytest.mark.parametrize(
    "question",
    [
        "At $20 billion per gigawatt, what would 3 gigawatts cost?",
        "If 250k tokens take 500 ms, how many tokens per second is that?",
        "What fraction of 50 GW is 5 GW, in percent?",
        "costs doubling every year for 4 years",
        "How many GPUs would 4 GW hold at that density?",
        "What is 25% of 40 GW?",
        "How much does one server cost?",  # per unit: maybe a cost per kW and kW per server
        "How much does a ticket cost?",
    ],
)
def test_needs_figures_true(question: str) -> None:
    assert needs_figures(question)


@pytest.mark.parametrize(
    "question",
    [
        "What did the speaker say a data centre costs?",
        "Which database does the team prefer?",
        "Why did the speaker leave the company?",
        "What did they say about the 12 GW plan?",
        "Why are prices rising so fast?",
    ],
)
def test_needs_figures_false(question: str) -> None:
    assert not needs_figures(question)


@pytest.mark.slow
def test_plan_is_the_same_in_every_process() -> None:
    """No set or dict order leaks into a plan: interpreters with different hash seeds (which order
    sets of words differently) make the same plans as this one."""
    questions = ["How many GPUs would 4 GW hold at that density?", "What is 25% of 40 GW?",
                 "How many tokens per second does the decoder stream?"]
    passages = (COST, RATE_PLAIN, RATE_SPOKEN, TOKENS)
    code = ("import json, sys; from agent.figures import plan; "
            "print(json.dumps([repr(plan(q, tuple(json.loads(sys.argv[2])))) for q in json.loads(sys.argv[1])]))")
    here = [repr(plan(q, passages)) for q in questions]
    assert all(p != "None" for p in here)
    for seed in ("0", "1", "12345"):
        out = subprocess.run([sys.executable, "-c", code, json.dumps(questions), json.dumps(passages)], cwd=ROOT,
                             env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True)
        assert json.loads(out.stdout) == here, f"PYTHONHASHSEED={seed}"


@pytest.mark.slow
def test_import_is_cheap() -> None:
    code = "import sys, agent.figures; assert 'pint' not in sys.modules, 'pint imported at import time'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_tokens_per_second_from_a_passage() -> None:
    _, result = run("How many tokens per second does the decoder stream?", (TOKENS,))
    assert result.value == pytest.approx(500_000)


def test_a_share_named_in_words_is_read_from_the_passage_and_applied() -> None:
    q = "Going by the report's expected export share, how many megawatts of the plant's 12 MW would be exported?"
    passages = ["Prices rose by 5% last spring.", "We expect roughly 40% of the output to be exported by then."]
    p = plan(q, passages)
    assert p is not None and calculate(p.expression, to=p.to).value == pytest.approx(4.8)
    assert [f.origin for f in p.facts] == ["passage", "question"] and "exported" in (p.facts[0].sentence or "")


def test_a_share_no_passage_states_gives_no_figure() -> None:
    q = "Going by the report's expected export share, how many megawatts of the plant's 12 MW would be exported?"
    assert plan(q, ["Prices rose by 5% last spring.", "The plant makes 12 MW."]) is None


def test_a_hyphenated_quantity_is_read_with_its_unit() -> None:
    [fact] = extract_facts("the new 40-megawatt campus")
    assert (fact.value, fact.unit) == (40, "MW")
    assert extract_facts("2.4-2.5 million hours")[0].value == pytest.approx(2.4e6)  # still a range


def test_a_count_asked_in_millions_is_planned() -> None:
    q = "Going by the rule of thumb for GPUs per gigawatt, about how many million GPUs would a 6-gigawatt build need?"
    p, result = run(q, (RATE_PLAIN,))
    assert p.to == "GPU" and result.value == pytest.approx(2.4e6)


def test_how_many_times_more_compares_the_figures_each_side_names() -> None:
    q = "How many times more GPU hours went into the Falcon-9B base model than into its chat tuning?"
    passages = ("The chat tuning of Falcon-9B took some 40,000 GPU hours.",
                "Its base model was trained for about 1.2 million GPU hours on web text.")
    p, result = run(q, passages)
    assert result.value == pytest.approx(30)  # a name's digits ("9B") are not a figure to use
    assert [f.value for f in p.facts] == [1.2e6, 40_000]


def test_the_side_named_by_no_words_is_the_other_figure_of_the_same_sentence() -> None:
    q = "In the survey's city question, how many times more people does the bigger city have than the other one?"
    passages = ("Pick one to live in: Lyon with its 500k people or Paris with 2M people.", "Rents rose by 40% in five years.")
    _, result = run(q, passages)
    assert result.value == pytest.approx(4)


def test_a_statement_with_a_tag_still_states_its_figure() -> None:
    _, result = run("What would a 3 GW build cost?", ("A gigawatt costs about $20 billion, right?",))
    assert result.value == pytest.approx(60e9)


def test_digits_inside_a_model_name_are_no_figure_of_the_question() -> None:
    q = "How many times more A100 hours did the Falcon-70B base model take than its chat tuning?"
    passages = ("Its chat tuning took some 40,000 GPU hours.", "The base model took about 1.2 million GPU hours.")
    assert calculate(plan(q, passages).expression).value == pytest.approx(30)  # type: ignore[union-attr]


@pytest.mark.parametrize(("question", "passages"), [
    pytest.param("How many times more people does the bigger city have than the other one?",
                 ("Would you rather live in Lyon (500k people) or Paris (2M people)?",), id="figures-only-in-a-question"),
    pytest.param("How many times more water goes to the orchard than to the greenhouse?",
                 ("The orchard pump runs for 3 hours a night.", "Last year the greenhouse was rebuilt in 6 months."),
                 id="a-ratio-below-one"),  # 3 hours / 6 months is no answer to "how many times more"
    pytest.param("How many times more servers does the north site run than the south site?",
                 ("The north site runs 900 servers today, up from 300 servers last year.",), id="a-side-never-named"),
])
def test_times_more_gives_no_figure_it_cannot_source(question: str, passages: tuple[str, ...]) -> None:
    assert plan(question, passages) is None


def test_power_asked_in_no_unit_is_shown_in_the_one_that_reads_best() -> None:
    p = plan("How much power do 4,000 GPUs draw at 2.5 kW per GPU?")
    assert p is not None and p.to is None
    assert calculate(p.expression).text == "10 MW"


def test_two_rates_that_cancel_do_not_dress_up_a_stated_figure() -> None:
    passages = ["A megawatt is about 500 GPUs at the new site.", "Each GPU draws roughly 2 kW there.",
                "The site is aiming for 30 megawatts of capacity by the end of the decade."]
    assert plan("How many megawatts is the site aiming for by 2030?", passages) is None  # a lookup: 30 MW is stated


@pytest.mark.parametrize(
    ("question", "expression"),
    [
        ("How many GPUs can 60 MW run at 1.5 kW each?", "(60 MW) / (1.5 kW/GPU)"),
        ("If each token costs $0.004, what do 2 million cost?", "(0.004 USD/token) * (2e6 token)"),
    ],
)
def test_a_figure_left_to_the_one_thing_the_question_counts(question: str, expression: str) -> None:
    p = plan(question)
    assert p is not None and p.expression == expression


def test_a_bare_number_stays_bare_when_two_things_are_counted() -> None:
    assert plan("If each GPU serves 40 people, what do 3 million need?") is None


@pytest.mark.parametrize(
    "question",
    [
        "At $30,000 per GPU, what would 2 racks cost?",  # racks are not GPUs
        "How much would the 3 largest labs spend on GPUs at $30,000 each?",
        "How much do GPUs cost in 2030 at $30,000 each?",  # a year, and "GPUs" alone picks no passage count
        "At 700 W per GPU, how much power does cluster 7 draw?",
        "How many GPUs does the gap between 2 GW and 3 GW power?",  # a difference, not a range
    ],
)
def test_no_count_is_made_up_for_the_counted_thing(question: str) -> None:
    assert plan(question, ["The lab plans 5000 GPUs per cluster.", "A rack holds 8 GPUs."]) is None


def test_a_share_of_power_keeps_the_wholes_unit() -> None:
    p = plan("How much power is a fifth of 100 GW?")
    assert p is not None and calculate(p.expression, to=p.to).text == "20 GW"


def test_a_figure_the_question_restates_fills_the_side_its_passage_names() -> None:
    q = ("Taking the 1.2 million GPU hours figure, how many times more did the Falcon-9B base model take "
         "than its chat tuning?")
    passages = ("The chat tuning of Falcon-9B took some 40,000 GPU hours.",
                "Its base model was trained for about 1.2 million GPU hours on web text.")
    p, result = run(q, passages)
    assert result.value == pytest.approx(30)
    assert [(f.value, f.origin) for f in p.facts] == [(1.2e6, "question"), (40_000, "passage")]
