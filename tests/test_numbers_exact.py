"""Numbers and formulas on their boundaries, with the exact messages a user reads (the error is all a
user sees of a bad cell or formula, so its words are part of the contract)."""

from decimal import Decimal

import pytest

from okrsync.okr import formula
from okrsync.okr.formula import MAX_DEPTH, MAX_LENGTH, FormulaError, resolve_all
from okrsync.okr.numbers import LIMIT, checked, parse_number


def message(fn, *args, **kw) -> str:
    with pytest.raises(ValueError) as info:
        fn(*args, **kw)
    return str(info.value)


def test_booleans_and_plain_numbers():
    assert (parse_number(True), parse_number(False), parse_number(Decimal("2.5")), parse_number(7)) == (1, 0, 2.5, 7)
    assert parse_number(LIMIT) == LIMIT and parse_number(-LIMIT) == -LIMIT  # the limit itself is kept
    assert parse_number(f"{LIMIT:.0f}") == LIMIT


def test_messages_name_the_text_and_the_rule():
    assert message(parse_number, None) == "empty value"
    assert message(parse_number, "   ") == "empty value"
    assert message(parse_number, [1]) == "not a number: [1]"
    assert message(parse_number, "abc") == "not a number: 'abc'"
    assert (
        message(parse_number, 10**400) == f"{str(10**400)[:20]}… is out of range (okrsync keeps numbers up to ±1e+15)"
    )
    assert (
        message(parse_number, "1000000000000001")
        == "'1000000000000001' is out of range (okrsync keeps numbers up to ±1e+15)"
    )
    assert message(parse_number, "1e999") == "not a finite number: '1e999'"
    assert message(checked, float("nan")) == "not a finite number: nan"
    assert message(checked, 2e15) == "2000000000000000.0 is out of range (okrsync keeps numbers up to ±1e+15)"


def test_long_text_is_cut_at_forty_characters():
    assert message(parse_number, "x" * 38) == "not a number: '" + "x" * 38 + "'"  # repr of 40 characters: whole
    assert message(parse_number, "x" * 39) == "not a number: '" + "x" * 38 + "…"  # 41: cut to 39 and an ellipsis


@pytest.mark.parametrize("raw", ["(12", "12)", "((12)", "(12))"])
def test_parentheses_mean_negative_only_as_a_pair(raw):
    assert message(parse_number, raw) == f"not a number: {raw!r}"


def test_locales_group_and_decimal_symbols():
    assert parse_number("(1,200)") == -1200 and parse_number("$ 1,234.5") == 1234.5 and parse_number("12 %") == 12
    assert parse_number("1.234,5", decimal=",", group=".") == 1234.5
    assert parse_number("12,5", decimal=",", group=".") == 12.5
    for spaced in ("1 234,5", "1\u00a0234,5", "1\u202f234,5"):  # any space groups when the locale's group is one
        assert parse_number(spaced, decimal=",", group="\u00a0") == 1234.5
    assert message(parse_number, "12.5", decimal=",", group="\u00a0") == "not a number: '12.5'"  # never guessed
    assert message(parse_number, "1,23,4") == "not a number: '1,23,4'"


def test_formula_length_and_depth_limits_are_inclusive():
    at_limit = "x" * MAX_LENGTH  # one metric id of 2,000 characters: long, not deep
    assert len(at_limit) == MAX_LENGTH and formula.parse(at_limit)
    with pytest.raises(
        FormulaError, match=f"^a formula may be at most 2000 characters \\(this one has {MAX_LENGTH + 1}\\)$"
    ):
        formula.parse(at_limit + "1")
    # a unary chain: Expression, then one UnaryOp per sign, then the constant -> signs + 2 levels
    assert formula.evaluate("-" * (MAX_DEPTH - 2) + "1", {}) == 1
    with pytest.raises(FormulaError, match=f"^the formula nests more than {MAX_DEPTH} levels"):
        formula.parse("-" * (MAX_DEPTH - 1) + "1")


@pytest.mark.parametrize(
    "expr, words",
    [
        ("max(a, key=b)", "only min, max, abs, round may be called in a formula"),
        ("a ** 2", "only + - * / are allowed in a formula"),
        ("not a", "only unary - and + are allowed in a formula"),
        ("'x'", "only numbers are allowed as constants, not 'x'"),
        ("a if b else c", "IfExp is not allowed in a formula"),
        ("a +", "invalid formula 'a +': invalid syntax"),
    ],
)
def test_formula_refusals_say_what_is_allowed(expr, words):
    with pytest.raises(FormulaError) as info:
        formula.parse(expr)
    assert str(info.value) == words


def test_formula_runtime_errors_are_exact():
    with pytest.raises(FormulaError, match="^no value for 'b'$"):
        formula.evaluate("a + b", {"a": 1})
    with pytest.raises(FormulaError, match="^the result is out of range \\(overflow\\)$"):
        formula.evaluate("1" + "0" * 400, {})  # an integer constant no float can hold
    with pytest.raises(FormulaError, match="^the result is not a finite number: inf$"):
        formula.evaluate("a * a", {"a": 1e300})


def test_resolve_all_cycles_and_failed_inputs():
    computed, errors = resolve_all(
        {"x": "y + 1", "y": "x + 1", "z": "a + 1", "w": "b * 2", "v": "z + w", "u": "a * 3"},
        {"a": 1},
        {"b": "HTTP 500"},
    )
    assert computed == {"z": 2, "u": 3}
    assert errors == {
        "x": "formula cycle: x -> y -> x",
        "y": "formula cycle: x -> y -> x",
        "w": "depends on b, which failed",
        "v": "depends on w, which failed",
    }
