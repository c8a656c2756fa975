"""Expression figures for bench/run.py (moved here from tests/core/test_expressions.py, whose wall-clock
bounds flaked on a loaded machine). Each figure comes with a ratio against a baseline measured in the
same run, so a slow machine moves both and the ratio stays readable.

  expr_eval_us                  a parsed guard (`deaths >= 3 or direct_loss >= 1000`), per evaluation  ≤ 20 µs
  expr_eval_cached_us           `evaluate(source, data)`: the parse cache plus the evaluation           ≤ 20 µs
  python_eval_us                baseline: the same condition as a plain Python function
  expr_vs_python_ratio          expr_eval_us / python_eval_us
  expr_table_20k_us             `len(rows) > 0` over a 20,000-row table (the rows are never walked)     ≤ 1000 µs
  expr_table_vs_one_row_ratio   the same over a one-row table: ≈ 1 when the table is not walked         ≤ 3
  expr_size_bomb_max_ms         the slowest run-time size bomb (9 ** 9 ** 9 and the like) to be refused  ≤ 500 ms
  expr_size_bomb_vs_eval_ratio  expr_size_bomb_max_ms against expr_eval_us
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GUARD = "deaths >= 3 or direct_loss >= 1000"
DATA = {"deaths": 1, "direct_loss": 10}
# the same cases as tests/core/test_expressions.py::test_size_bombs_are_bounded_at_run_time
SIZE_BOMBS = [
    ("x ** y", {"x": 9, "y": 9 ** 9}),
    ("x ** y", {"x": 10, "y": 100000}),
    ("x * y", {"x": "a", "y": 10 ** 9}),
    ("x * y", {"x": [1], "y": 10 ** 6}),
    ("[x] * y", {"x": [0] * 1000, "y": 1000}),
    ("x + x", {"x": "a" * 60000}),
    ("str(x ** 3000)", {"x": 10}),
    ("int(x)", {"x": "9" * 10000}),
    ("round(x, -y)", {"x": 5, "y": 10 ** 9}),
    ("x ** 0.5", {"x": -8}),
    ("float(x) ** 400", {"x": "1e300"}),
]


def _per_call_us(call, n: int) -> float:
    """The best of 5 rounds of n calls, in µs per call (the least disturbed by other load)."""
    call()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def expression_figures(quick: bool = False) -> list[tuple[str, float, str]]:
    if str(ROOT) not in sys.path:  # `python bench/expressions_bench.py` on its own
        sys.path.insert(0, str(ROOT))
    from flows.core.expressions import evaluate, parse

    n = 2000 if quick else 20000
    expr = parse(GUARD)

    def python(d):
        return d["deaths"] >= 3 or d["direct_loss"] >= 1000

    eval_us = _per_call_us(lambda: expr.evaluate(DATA), n)
    cached_us = _per_call_us(lambda: evaluate("deaths >= 3", DATA), n)
    python_us = _per_call_us(lambda: python(DATA), n)

    table = parse("len(rows) > 0")
    big = {"rows": [{"problem": f"隐患{i}", "measure": "整改"} for i in range(20000)]}
    one = {"rows": big["rows"][:1]}
    big_us = _per_call_us(lambda: table.evaluate(big), n // 20)
    one_us = _per_call_us(lambda: table.evaluate(one), n // 20)

    bomb_s = 0.0
    for source, data in SIZE_BOMBS:
        t0 = time.perf_counter()
        assert evaluate(source, data) is None, source
        bomb_s = max(bomb_s, time.perf_counter() - t0)

    return [("expr_eval_us", eval_us, "µs"), ("expr_eval_cached_us", cached_us, "µs"),
            ("python_eval_us", python_us, "µs"), ("expr_vs_python_ratio", eval_us / python_us, "x"),
            ("expr_table_20k_us", big_us, "µs"), ("expr_table_vs_one_row_ratio", big_us / one_us, "x"),
            ("expr_size_bomb_max_ms", bomb_s * 1000, "ms"),
            ("expr_size_bomb_vs_eval_ratio", bomb_s * 1e6 / eval_us, "x")]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    for name, value, unit in expression_figures(parser.parse_args().quick):
        print(f"{name}: {value:.3f} {unit}", flush=True)
