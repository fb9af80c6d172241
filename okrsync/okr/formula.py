"""Safe arithmetic over metric ids, for ``formula:`` metrics.

The expression is parsed with :mod:`ast` and walked node by node; only numbers, metric names,
``+ - * /``, unary minus, parentheses and the calls ``min max abs round`` are accepted. Nothing
is ever passed to eval/exec, and attribute access, subscripts, comparisons or any other call
are rejected when the config is loaded, not when the sync runs.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import cast

from okrsync.okr.numbers import checked

_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {"min": min, "max": max, "abs": abs, "round": round}


class FormulaError(ValueError):
    """The formula is malformed, or cannot be computed from these values (e.g. division by zero)."""


MAX_LENGTH = 2000  # characters: a formula is a line of arithmetic, not a program
MAX_DEPTH = 200  # nesting (each operator of a chain adds one): evaluation stays far from Python's recursion limit

_TOO_DEEP = f"the formula nests more than {MAX_DEPTH} levels (each operator in a chain adds one): split it into metrics"


def parse(expression: str) -> ast.Expression:
    """Parse and check ``expression``; raise FormulaError naming the first forbidden part."""
    if len(expression) > MAX_LENGTH:
        raise FormulaError(f"a formula may be at most {MAX_LENGTH} characters (this one has {len(expression)})")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"invalid formula {expression[:80]!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise FormulaError(_TOO_DEEP) from None
    if _depth(tree) > MAX_DEPTH:
        raise FormulaError(_TOO_DEEP)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
                raise FormulaError(f"only {', '.join(_FUNCTIONS)} may be called in a formula")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise FormulaError(f"only numbers are allowed as constants, not {node.value!r}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise FormulaError("only + - * / are allowed in a formula")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise FormulaError("only unary - and + are allowed in a formula")
        elif not isinstance(node, ast.Expression | ast.Name | ast.Load | ast.operator | ast.unaryop):
            raise FormulaError(f"{type(node).__name__} is not allowed in a formula")
    return tree


def _depth(tree: ast.AST) -> int:
    """The deepest nesting of ``tree``, without recursion (a hostile formula must not exhaust the stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def names(expression: str) -> set[str]:
    """The metric ids a formula refers to (function names excluded)."""
    tree = parse(expression)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def evaluate(expression: str, values: Mapping[str, float]) -> float:
    """Compute ``expression`` with metric ids bound to ``values``; the result is finite and in range."""
    try:
        return checked(_eval(parse(expression).body, values))
    except OverflowError:
        raise FormulaError("the result is out of range (overflow)") from None
    except ValueError as exc:
        if isinstance(exc, FormulaError):
            raise
        raise FormulaError(f"the result is {exc}") from None


def _eval(node: ast.AST, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        # parse() accepts only int and float constants (bool and every other kind are refused there)
        return float(cast(int | float, node.value))
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise FormulaError(f"no value for {node.id!r}")
        return float(values[node.id])
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        if isinstance(node.op, ast.Div) and right == 0:
            raise FormulaError("division by zero")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        args = [_eval(a, values) for a in node.args]
        func = cast(ast.Name, node.func)  # parse() accepts a call only of a plain name in _FUNCTIONS
        try:
            return float(_FUNCTIONS[func.id](*args))
        except TypeError as exc:
            raise FormulaError(f"{func.id}(): {exc}") from None
    raise FormulaError(f"{type(node).__name__} is not allowed in a formula")  # pragma: no cover


def resolve_all(
    formulas: Mapping[str, str], values: Mapping[str, float], failed: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, str]]:
    """Compute every formula metric from fetched ``values`` (and from each other).

    Returns (computed values, errors by metric). A formula that depends on a failed metric
    fails with that metric's name; formulas that depend on each other in a circle fail with
    the circle spelled out. Others are unaffected.
    """
    computed: dict[str, float] = {}
    errors: dict[str, str] = {}
    deps = {m: names(f) for m, f in formulas.items()}

    def visit(metric: str, trail: tuple[str, ...]) -> None:
        if metric in computed or metric in errors:
            return
        if metric in trail:
            circle = " -> ".join(trail[trail.index(metric) :] + (metric,))
            for m in trail[trail.index(metric) :]:
                errors[m] = f"formula cycle: {circle}"
            return
        for dep in sorted(deps[metric]):
            if dep in formulas:
                visit(dep, trail + (metric,))
        if metric in errors:
            return
        bad = sorted(d for d in deps[metric] if d in failed or d in errors)
        if bad:
            errors[metric] = f"depends on {', '.join(bad)}, which failed"
            return
        try:
            computed[metric] = evaluate(formulas[metric], {**values, **computed})
        except FormulaError as exc:
            errors[metric] = str(exc)

    for metric in formulas:
        visit(metric, ())
    return computed, errors
