"""The one number reader (kb/numbers.py) and the readers built on its vocabulary: the figures
planner, the calculator, the citation guard's figures and the graph's computed-figure check."""

from __future__ import annotations

import pytest

from kb.numbers import DIGITS, find_numbers, mentions_number, parse_numbers, to_float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("roughly 3.2 trillion rows", [3.2e12]),
        ("a budget of $12bn, later $4 tn", [12e9, 4e12]),
        ("seventeen million downloads", [17e6]),
        ("twelve and a half thousand seats", [12_500]),
        ("12,345.6 and .25 and 4e3", [12_345.6, 0.25, 4e3]),
        ("from 3 to 4 billion", [3e9, 4e9]),
        ("lists: 1,000, 2,000", [1000, 2000]),
        ("a 6.5b model", [6.5e9]),
    ],
)
def test_parse_numbers_reads_scales_words_and_digits(text: str, expected: list[float]) -> None:
    assert parse_numbers(text) == pytest.approx(expected)


def test_find_numbers_gives_spans_and_skips_markers() -> None:
    text = "At [1:02:03] it was 40k, see [2] and 09:15."
    (n,) = find_numbers(text)
    assert (n.value, text[n.start:n.end]) == (40_000, "40k")


def test_digits_and_mentions() -> None:
    import re

    assert [to_float(m.group(0)) for m in re.finditer(DIGITS, "7,500 or 0.75 or 3E2")] == [7500, 0.75, 300]
    assert mentions_number("about a third of them") and mentions_number("sixteen")
    assert not mentions_number("no figures here, zero-shot aside")


def test_the_figures_planner_reads_the_same_vocabulary() -> None:
    from agent.figures import extract_facts

    facts = [(f.value, f.unit) for f in extract_facts("thirteen GPUs, $4tn of capex, 12.5b tokens")]
    assert facts == [(13.0, "GPU"), (4e12, "USD"), (12.5e9, "token")]


def test_the_calculator_reads_the_same_scales() -> None:
    from agent.calculator import calculate

    assert calculate("3 hundred * 2").value == 600
    assert calculate("$2tn / 4").value == 5e11
    assert calculate("1,500 / 3.").value == 500


def test_citation_figures_are_normalised_with_the_reader() -> None:
    from agent.citations import numbers

    assert numbers("output fell 4% to 1.2 million units") == numbers("a -4% move, to 1,200,000 units")
    assert numbers("about 3 [12:01] at 12:01") == {"3"}


def test_an_answer_states_a_computed_figure_in_any_written_form() -> None:
    from agent.graph import states_a_figure

    calc = [{"value": 1_234_567.0, "text": "1.235 million GPUs"}]
    assert states_a_figure("So about 1.235 million GPUs.", calc)
    assert states_a_figure("That is 1,234,567 of them.", calc)
    assert states_a_figure("Five point oh: 5.0 million.", [{"value": 5e6, "text": "5 million"}])
    assert not states_a_figure("That is 1.3 million.", calc)
