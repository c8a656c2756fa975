"""The accident level of the shipped rule table (configs/flows/accident.yaml, `computed: level`), held
against 《生产安全事故报告和调查处理条例》（国务院令第493号）第三条 at every threshold: below, at and above it,
through the service (a case started with those figures stores the level its definition gives).

The numbers probed are every number in the table's `when` expressions and every number of the
regulation, so a threshold moved in the YAML is probed where it now is and where the law puts it.
The last test moves thresholds in a copy of configs the ways a slip would and checks each is caught.
"""
from __future__ import annotations

import ast
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from flows.core.spec import Workflow
from flows.service import open_service
from flows.service.config import load_config

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("deaths", "serious_injuries", "direct_loss")  # 人, 人, 万元
STEP = {"deaths": Decimal(1), "serious_injuries": Decimal(1), "direct_loss": Decimal("0.01")}
# 第三条: 特别重大 30 人以上死亡、100 人以上重伤、1 亿元以上直接经济损失; 重大 10 / 50 / 5000 万元;
# 较大 3 / 10 / 1000 万元; 一般 below. "以上" includes the number itself, "以下" does not (第三条 itself).
LAW = (("特别重大", {"deaths": 30, "serious_injuries": 100, "direct_loss": 10000}),
       ("重大", {"deaths": 10, "serious_injuries": 50, "direct_loss": 5000}),
       ("较大", {"deaths": 3, "serious_injuries": 10, "direct_loss": 1000}))
LOWEST = "一般"
REPORT = {"occurred_at": "2025-03-01T08:30", "place": "X354线", "accident_type": "道路运输", "description": "相撞"}


def by_law(figures: dict) -> str:
    for level, limits in LAW:
        if any(Decimal(str(figures.get(f, 0))) >= n for f, n in limits.items()):
            return level
    return LOWEST


def level_rules(wf: Workflow) -> list[tuple[str, str | None]]:
    (comp,) = [c for c in wf.computed if c.name == "level"]
    return [(rule.value, rule.when) for rule in comp.rules]


def comparisons(when: str) -> set[tuple[str, str, Decimal]]:
    """(field, operator, number) of every `field <op> number` in an expression."""
    found = set()
    for node in ast.walk(ast.parse(when, mode="eval")):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(right, ast.Constant) and isinstance(right.value, int | float):
                    found.add((node.left.id, type(op).__name__, Decimal(str(right.value))))
    return found


def probes(wf: Workflow) -> list[dict]:
    """Figures around every number of the table and of the law (one field at a time, the others 0),
    plus combinations: every field just below a row's limits, and a lower row's figure beside a higher one's."""
    numbers = {(f, Decimal(n)) for _, limits in LAW for f, n in limits.items()}
    for _, when in level_rules(wf):
        numbers |= {(f, n) for f, _, n in comparisons(when) if f in FIELDS} if when else set()
    out = []
    for field, n in sorted(numbers):
        for value in (n - STEP[field], n, n + STEP[field]):
            if value >= 0:
                out.append({f: (value if f == field else Decimal(0)) for f in FIELDS})
    for _, limits in LAW:
        out.append({f: Decimal(n) - STEP[f] for f, n in limits.items()})
    for (_, high), (_, low) in zip(LAW, LAW[1:], strict=False):
        for field in FIELDS:
            out.append({f: Decimal(high[f] if f == field else low[f]) for f in FIELDS})
    return out


def as_data(figures: dict) -> dict:
    return {f: int(v) if f != "direct_loss" else float(v) for f, v in figures.items()}


def level_mismatches(svc) -> list[str]:
    """Every probe whose started case stores another level than the law's."""
    wrong = []
    for figures in probes(svc.definition("accident")):
        data = as_data(figures)
        case = svc.start("accident", "awb_zhang", {**REPORT, **data})
        if case["data"]["level"] != by_law(figures):
            wrong.append(f"{data}: {case['data']['level']}, by law {by_law(figures)}")
    return wrong


def table_differences(wf: Workflow) -> list[str]:
    """How the table's rows differ from the law's: order, levels, and each row's (field, >=, number)."""
    rules = level_rules(wf)
    expected = [(level, {(f, "GtE", Decimal(n)) for f, n in limits.items()}) for level, limits in LAW]
    actual = [(value, comparisons(when)) for value, when in rules if when is not None]
    out = [f"row {i + 1}: {a} instead of {e}" for i, (a, e) in enumerate(zip(actual, expected, strict=False))
           if a != e]
    if len(actual) != len(expected):
        out.append(f"{len(actual)} conditional rows instead of {len(expected)}")
    if rules[-1] != (LOWEST, None):
        out.append(f"the last row is {rules[-1]}, not the default {LOWEST}")
    return out


def test_every_threshold_of_the_shipped_table_at_its_boundary(service):
    figures = probes(service.definition("accident"))
    assert len(figures) >= 3 * 9 + 3 + 6  # 9 thresholds × below/at/above, plus the combinations
    assert level_mismatches(service) == []
    levels = {by_law(f) for f in figures}
    assert levels == {"特别重大", "重大", "较大", "一般"}  # every row is reached


def test_the_shipped_table_is_the_law_row_by_row(config):
    assert table_differences(config.workflows["accident"]) == []


SLIPS = {
    "重大 from 20 deaths": ('"deaths >= 10 or', '"deaths >= 20 or'),
    "较大 from 11 injuries": ("serious_injuries >= 10 or", "serious_injuries >= 11 or"),
    "较大 above 1000万 only": ("direct_loss >= 1000\"", "direct_loss > 1000\""),
    "特别重大 at ten times the loss": ("direct_loss >= 10000\"", "direct_loss >= 100000\""),
}


@pytest.mark.parametrize("slip", sorted(SLIPS))
def test_each_slip_in_a_copy_of_the_table_is_caught(slip, tmp_path, clock):
    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    path = configs / "flows" / "accident.yaml"
    old, new = SLIPS[slip]
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the shipped table no longer has {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    config = load_config(configs)
    svc = open_service(tmp_path / "data", config=config, clock=clock)
    try:
        assert level_mismatches(svc), f"{slip}: no probe noticed"
    finally:
        svc.close()
    assert table_differences(config.workflows["accident"]), f"{slip}: the row-by-row check did not notice"
