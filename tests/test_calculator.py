"""The calculate() tool: unit-aware arithmetic, safe parsing, bounds and human formatting."""

from __future__ import annotations

import time

import pytest

from agent.calculator import CalcError, CalcResult, calculate, format_quantity


def test_cost_per_gpu_from_two_rates() -> None:
    r = calculate("70e9 USD/GW / (0.5e6 GPU/GW)")
    assert isinstance(r, CalcResult)
    assert r.value == pytest.approx(140_000)
    assert r.unit == "USD/GPU"
    assert r.text == "$140,000 per GPU"
    assert r.expression == "70e9 USD/GW / (0.5e6 GPU/GW)"


def test_juxtaposition_binds_tighter_than_division_and_to_unit() -> None:
    r = calculate("400e3 token / 500 ms", to="token/s")
    assert r.value == pytest.approx(800_000)
    assert r.unit == "token/s"
    assert r.text == "800,000 tokens/s"


def test_growth_is_dimensionless_times() -> None:
    r = calculate("3**3")
    assert (r.value, r.unit, r.text) == (27, "", "27×")
    assert calculate("2^10").value == 1024
    assert calculate("2**(3 year / (6 month))").value == pytest.approx(64)


@pytest.mark.parametrize(
    ("expression", "to", "value", "text"),
    [
        ("$70 billion/GW * 6 GW", None, 420e9, "$420 billion"),
        ("70 billion dollars", None, 70e9, "$70 billion"),
        ("$140,000", None, 140_000, "$140,000"),
        ("2 kW/GPU * 1 GPU/person * 1e9 people", "GW", 2000, "2,000 GW"),
        ("10 GW * 500k GPU/GW", None, 5e6, "5 million GPUs"),
        ("6 GW / (80 GW)", "%", 7.5, "7.5%"),
        ("7.5%", None, 7.5, "7.5%"),
        ("50 percent * 30 GW", None, 15, "15 GW"),
        ("100 GW / 0.2", None, 500, "500 GW"),
        ("30 GW / (20%)", None, 150, "150 GW"),
        ("7e9 humans * 1 kW/person", "TW", 7, "7 TW"),
        ("1.5 trillion token", None, 1.5e12, "1.5 trillion tokens"),
        ("-2 kW", None, -2, "-2 kW"),
        ("5 GW / MW", None, 5000, "5,000×"),
    ],
)
def test_examples(expression: str, to: str | None, value: float, text: str) -> None:
    r = calculate(expression, to=to)
    assert r.value == pytest.approx(value)
    assert r.text == text


def test_result_unit_string_parses_back() -> None:
    r = calculate("400e3 token / (500 ms) * 3 s / GPU")
    again = calculate(f"{r.value} {r.unit}")
    assert again.unit == r.unit and again.value == pytest.approx(r.value)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (420e9, "USD", "$420 billion"),
        (140_000, "USD", "$140,000"),
        (140_000, "USD/GPU", "$140,000 per GPU"),
        (70e9, "USD/GW", "$70 billion per GW"),
        (5e6, "GPU", "5 million GPUs"),
        (1, "GPU", "1 GPU"),
        (800_000, "token/s", "800,000 tokens/s"),
        (2e9, "person", "2 billion people"),
        (2000, "GW", "2,000 GW"),
        (7.5, "%", "7.5%"),
        (27, "", "27×"),
        (1_234_567, "token", "1.235 million tokens"),
        (2.1e12, "USD", "$2.1 trillion"),
        (0.333333333, "", "0.3333×"),
        (2e-6, "USD/token", "$0.000002 per token"),
        (0, "GW", "0 GW"),
        (-5e9, "USD", "-$5 billion"),
        (3, "year", "3 years"),
    ],
)
def test_format_quantity(value: float, unit: str, text: str) -> None:
    assert format_quantity(value, unit) == text


def test_power_tower_fails_fast() -> None:
    for expression in ("9**9**9", "10**10**10", "2**2**2**2**2**2", "1e100**1e100"):
        start = time.perf_counter()
        with pytest.raises(CalcError, match="too large"):
            calculate(expression)
        assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "unexpected character"),
        ("__import__", "unknown unit or name"),
        ("os", "unknown unit or name"),
        ("foo * 3", "unknown unit or name 'foo'"),
        ("(1).real", "unexpected character"),
        ("[1, 2]", "unexpected character"),
        ("lambda: 1", "unexpected character"),
        ("1 / 0", "division by zero"),
        ("5 GW / (0 h)", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("()", "empty parentheses"),
        ("(1 + 2", "missing"),
        ("1 + 2)", "unbalanced"),
        ("3 *", "ends with an operator"),
        ("2 GW + 3 s", "different dimensions"),
        ("2 ** (1 GW)", "exponent must be a plain number"),
        ("GW ** 50", "too large"),
        ("(-8) ** (1/3)", "not a real number"),
        ("1e308 * 1e308", "too large"),
        ("1" * 400, "too large"),
        ("1 + " * 200 + "1", "too long"),
    ],
)
def test_bad_input_raises_calc_error(expression: str, message: str) -> None:
    with pytest.raises(CalcError, match=message):
        calculate(expression)


def test_incompatible_target_unit() -> None:
    with pytest.raises(CalcError, match="cannot express GW in 'token/s'"):
        calculate("6 GW", to="token/s")


def test_target_must_be_a_unit() -> None:
    with pytest.raises(CalcError, match="must be a unit"):
        calculate("6 GW", to="5 MW")
    with pytest.raises(CalcError, match="unknown unit"):
        calculate("6 GW", to="bogus")


def test_calc_error_is_a_value_error() -> None:
    assert issubclass(CalcError, ValueError)


def test_scale_letters_glued_to_numbers_are_not_units() -> None:
    assert calculate("$70B/GW / (500k GPU/GW)", to="USD/GPU").value == pytest.approx(140_000)
    assert calculate("$5M*3").text == "$15 million"
    assert calculate("1.2T USD").value == pytest.approx(1.2e12)
    assert calculate("5 MW * 2").text == "10 MW"  # a unit after a space stays a unit


def test_a_number_minus_a_percentage_is_ambiguous() -> None:
    with pytest.raises(CalcError, match="ambiguous"):
        calculate("100 - 10%")
    assert calculate("100 * (1 - 10%)").value == pytest.approx(90)


def test_threads_asking_for_the_units_at_once_get_one_registry() -> None:
    import threading

    from agent import calculator

    calculator._new_registry.cache_clear()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(calculator._registry())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)


def test_power_and_energy_in_no_unit_asked_read_with_the_best_prefix() -> None:
    assert calculate("(4e3 GPU) * (2.5 kW/GPU)").text == "10 MW"
    assert calculate("(2 kW) * (3 h)").text == "6 kWh"
    assert calculate("(4e3 GPU) * (2.5 kW/GPU)", to="GW").text == "0.01 GW"  # the unit asked stays
    assert calculate("(5 J) * 2").text == "10 J"  # not a watt unit: as written
