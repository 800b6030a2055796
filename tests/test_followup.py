"""Follow-ups made standalone (agent/followup.py): the previous turn's topic is carried, a count of
"them" counts the unit the last turn named one of, and the last turn's figures are no operands."""

from __future__ import annotations

from agent.followup import standalone_query


def test_a_count_of_them_counts_the_unit_the_last_turn_named_one_of() -> None:
    q = standalone_query("And what would seven of them cost?", ["What does a tonne of recycled steel cost?"])
    assert q.startswith("And what would seven tonne cost?")
    assert standalone_query("Twelve of those would draw what?", ["What do 40 GPUs draw?"]).startswith("Twelve GPUs would")


def test_a_count_of_them_without_a_unit_before_stays_as_asked() -> None:
    assert standalone_query("What about two of them?", ["Who chairs the board?"]).startswith("What about two of them?")


def test_the_last_turns_figures_stay_in_the_search_but_not_in_the_plan() -> None:
    history = ["How much would 3 kW of heaters cost to run?"]
    assert "3" in standalone_query("And 8 kW?", history)
    planned = standalone_query("And 8 kW?", history, figures=False)
    assert planned.startswith("How much would 8 kW of heaters") and "3" not in planned
    chained = standalone_query("And for ten hours?", [*history, "And what would five of them cost?"], figures=False)
    assert "five" not in chained and "3" not in chained  # nor those of the turn before it


def test_the_unit_named_with_one_is_counted_in_the_plan_too() -> None:
    q = standalone_query("What would five of them cost?", ["What does one kilowatt of solar cost?"], figures=False)
    assert q.startswith("What would five kilowatt cost?") and "one" not in q[q.index("("):]


def test_a_follow_up_that_is_only_a_figure_asks_the_last_question_again_with_it() -> None:
    last = "How much power does one GPU draw in a day?"
    assert standalone_query("And what about 300 of them?", [last]).startswith(
        "How much power does 300 GPU draw in a day?")
    assert standalone_query("And 5 kW?", ["What would 2 kW of pumps cost to run?"]).startswith(
        "What would 5 kW of pumps cost to run?")
    assert standalone_query("What about 2031?", ["How many ships docked in 2030?"]).startswith(
        "How many ships docked in 2031?")


def test_a_bare_number_changes_the_number_and_keeps_the_unit() -> None:
    history = ["How much power does one GPU draw in a day?", "And what about 300 of them?"]
    q = standalone_query("And a thousand?", history, figures=False)
    assert q.startswith("How much power does a thousand GPU draw in a day?") and "300" not in q


def test_a_follow_up_with_more_than_a_figure_is_a_question_of_its_own() -> None:
    q = standalone_query("And what about the 3 other pumps?", ["How much did 2 pumps cost?"])
    assert q.startswith("And what about the 3 other pumps?")


def test_a_rates_unit_is_not_the_figure_a_follow_up_replaces() -> None:
    q = standalone_query("And what about 3 hours?", ["How much does one GPU cost per day?"])
    assert "per day" in q and not q.startswith("How much does one GPU cost 3 hours")


def test_a_plain_noun_is_not_what_them_counts() -> None:
    q = standalone_query("What did one of them say?", ["What did Ada and Bob say about a budget?"])
    assert q.startswith("What did one of them say?")


def test_a_year_replaces_a_year_and_a_time_code_is_no_figure() -> None:
    assert standalone_query("And in 2031?", ["What does a pump cost in 2030?"]).startswith("What does a pump cost in 2031?")
    assert standalone_query("And 3?", ["What did Ada say at 00:02:00?"]).startswith("And 3?")


def test_the_figure_of_the_same_unit_is_the_one_replaced() -> None:
    q = standalone_query("and 3 GW?", ["If a GPU draws 1 kW, how many GPUs does 2 GW power?"])
    assert q.startswith("If a GPU draws 1 kW, how many GPUs does 3 GW power?")


def test_a_long_thread_of_figure_follow_ups_stays_short_and_fast() -> None:
    import time

    history = ["How many GPUs can 1 GW power?", *(f"And {n} GW?" for n in range(2, 16))]
    standalone_query("And 3 GW?", history[:2])  # loads the quantity reader
    started = time.perf_counter()
    q = standalone_query("And 20 GW?", history)
    assert q.startswith("How many GPUs can 20 GW power?") and len(q) < 400
    assert time.perf_counter() - started < 2.0  # was minutes: each turn doubled the query
    assert standalone_query("and" + " " * 300 + "x? y", ["What is 2 GW?"])  # no runaway backtracking


def test_a_remark_before_the_question_proper_still_leans_on_the_last_turn() -> None:
    from agent.followup import is_followup

    history = ["How long does a kiln take to cool after a glaze firing?"]
    q = standalone_query("wow, that sounds like ages. how do potters get them to cool faster?", history)
    assert q.endswith("(kiln take cool after glaze firing)")
    # a message of several sentences that asks something of its own is not a follow-up
    assert not is_followup("I fire stoneware at home. Which cone suits a porcelain body best for translucency?")
