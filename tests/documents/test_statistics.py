"""flows.documents.statistics: pure figures by month, quarter and year, by type × level."""
from __future__ import annotations

import io
import shutil
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from flows.documents import statistics as st
from flows.documents.statistics import Period

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def accident_wf(config):
    return config.workflows["accident"]


def accident(cid, when, kind="道路运输", deaths=0, injuries=0, loss=0.0, level=None, status="open"):
    data = {"occurred_at": when, "accident_type": kind, "deaths": deaths, "serious_injuries": injuries,
            "direct_loss": loss, "place": "X354线"}
    if level:
        data["level"] = level
    return {"id": cid, "workflow": "accident", "data": data, "status": status, "created_at": when}


def test_period_parse_labels_and_bounds():
    m = Period.parse("2025-03")
    assert (m.kind, m.key, m.label, m.start, m.end) == ("month", "2025-03", "2025年3月", date(2025, 3, 1),
                                                         date(2025, 4, 1))
    q = Period.parse("2025-q4")
    assert (q.key, q.label, q.start, q.end) == ("2025-Q4", "2025年第四季度", date(2025, 10, 1), date(2026, 1, 1))
    y = Period.parse("2024")
    assert (y.key, y.label, y.start, y.end) == ("2024", "2024年", date(2024, 1, 1), date(2025, 1, 1))
    assert Period.parse("2025-12").end == date(2026, 1, 1)
    for bad in ("2025-13", "2025-Q5", "25-01", "2025/01", ""):
        with pytest.raises(ValueError, match="统计期"):
            Period.parse(bad)


def test_previous_and_last_year():
    assert Period.parse("2025-01").previous() == Period.parse("2024-12")
    assert Period.parse("2025-Q1").previous() == Period.parse("2024-Q4")
    assert Period.parse("2025-Q3").previous() == Period.parse("2025-Q2")
    assert Period.parse("2025").previous() == Period.parse("2024")
    assert Period.parse("2025-03").last_year() == Period.parse("2024-03")


@pytest.mark.parametrize("today, expected", [
    (date(2025, 4, 1), ["2025-03", "2025-Q1", "2024"]),
    (date(2025, 4, 20), ["2025-03", "2025-Q1", "2024"]),
    (date(2025, 1, 1), ["2024-12", "2024-Q4", "2024"]),
    (date(2025, 2, 1), ["2025-01", "2024-Q4", "2024"]),
])
def test_due_periods_are_the_latest_complete_ones(today, expected):
    assert [p.key for p in st.due_periods(today)] == expected


def test_level_from_case_or_from_figures(accident_wf):
    assert st.level_of({"level": "重大", "deaths": 0}) == "重大"  # the stored level: the rule table's at the time
    assert st.level_of({"level": "重大", "deaths": 0}, accident_wf) == "重大"
    assert st.level_of({"deaths": 3}, accident_wf) == "较大"
    assert st.level_of({"serious_injuries": 50}, accident_wf) == "重大"
    assert st.level_of({"direct_loss": 10000}, accident_wf) == "特别重大"
    assert st.level_of({"deaths": 2, "serious_injuries": 9, "direct_loss": 999.99}, accident_wf) == "一般"


def test_a_level_that_cannot_be_judged_is_refused_with_its_reason(accident_wf, config):
    with pytest.raises(ValueError, match="未给出事故流程的定义"):
        st.level_of({"deaths": 3})  # no stored level and no rule table: no hidden copy of the thresholds
    with pytest.raises(ValueError, match="没有事故等级的计算规则"):
        st.level_of({"deaths": 3}, config.workflows["drill"])
    with pytest.raises(ValueError, match="「严重」不是统计表的等级"):
        st.level_of({"level": "严重"}, accident_wf)
    with pytest.raises(ValueError, match="案件 SG-2025-00001：事故等级「严重」"):
        st.table([accident("SG-2025-00001", "2025-03-01", level="严重")], workflow=accident_wf)


def test_select_by_accident_date_not_report_date():
    cases = [accident("A", "2025-03-31T23:50"), accident("B", "2025-04-01T00:10"),
             {**accident("C", "2025-03-05T08:00"), "workflow": "blacklist"}]
    cases[1]["created_at"] = "2025-03-30T00:00"
    assert [c["id"] for c in st.select(cases, Period.parse("2025-03"))] == ["A"]
    assert [c["id"] for c in st.select(cases, Period.parse("2025-Q2"))] == ["B"]


def test_table_by_type_and_level_with_exact_money(accident_wf):
    cases = [accident("A", "2025-03-01T08:00", "道路运输", deaths=3, injuries=2, loss=180.1, level="较大"),
             accident("B", "2025-03-02T08:00", "道路运输", deaths=0, injuries=1, loss=0.1),
             accident("C", "2025-03-03T08:00", "水上交通", deaths=1, loss=0.2),
             accident("D", "2025-03-04T08:00", "索道", loss=5000)]
    t = st.table(cases, workflow=accident_wf)
    rows = {r["type"]: r for r in t["rows"]}
    assert list(rows)[:6] == list(st.ACCIDENT_TYPES) and "索道" in rows  # every type listed; unknown appended
    road = rows["道路运输"]
    assert road["count"] == {"general": 1, "larger": 1, "major": 0, "especially_major": 0, "total": 2}
    assert road["deaths"]["larger"] == 3 and road["serious_injuries"]["total"] == 3
    assert road["direct_loss"]["total"] == 180.2
    assert rows["港口"]["count"]["total"] == 0
    assert rows["索道"]["count"]["major"] == 1  # 5000万 is 重大
    assert t["totals"]["count"]["total"] == 4
    assert t["totals"]["direct_loss"]["total"] == 5180.4  # 0.1 + 0.2 summed exactly, no 0.30000000000000004
    assert t["totals"]["deaths"]["total"] == 4


def test_analysis_compares_with_previous_period_and_last_year(accident_wf):
    period = Period.parse("2025-03")
    now = st.table([accident("A", "2025-03-01", deaths=2, loss=10), accident("B", "2025-03-02", "港口")],
                   workflow=accident_wf)
    before = st.table([accident("C", "2025-02-01", deaths=1, loss=20)], workflow=accident_wf)
    empty = st.table([])
    text = st.analysis(period, now, before, empty)
    assert "道路运输1起、港口1起" in text
    assert "与上一统计期相比，事故起数增加1起，上升100.0%，死亡人数增加1人，上升100.0%" in text
    assert "直接经济损失减少10万元，下降50.0%" in text
    assert "与上年同期相比，事故起数增加2起，死亡人数增加2人" in text
    assert st.analysis(period, empty).startswith("2025年3月全县交通运输行业未发生生产安全事故")
    assert "较大及以上" in st.analysis(period, st.table([accident("X", "2025-03-01", deaths=3)], workflow=accident_wf))


def test_report_and_workbook(accident_wf):
    cases = [accident("SG-2025-00001", "2025-01-15T08:00", deaths=1, loss=12.5),
             accident("SG-2025-00002", "2025-02-15T08:00", "水上交通", injuries=12, status="closed"),
             accident("SG-2024-00009", "2024-02-01T08:00")]
    rep = st.report(cases, Period.parse("2025-Q1"), workflow=accident_wf)
    assert rep["label"] == "2025年第一季度" and len(rep["accidents"]) == 2
    assert rep["accidents"][1]["level"] == "较大" and rep["accidents"][1]["status"] == "已结案"
    assert rep["last_year"]["count"]["total"] == 1 and rep["previous"]["count"]["total"] == 0
    wb = load_workbook(io.BytesIO(st.workbook(rep)))
    assert wb.sheetnames == ["事故起数", "死亡人数", "重伤人数", "直接经济损失", "事故明细", "分析"]
    ws = wb["事故起数"]
    assert [c.value for c in ws[2]] == ["事故类型", "一般", "较大", "重大", "特别重大", "合计"]
    assert [c.value for c in ws[ws.max_row]] == ["合计", 1, 1, 0, 0, 2]
    details = wb["事故明细"]
    assert details.cell(2, 1).value == "SG-2025-00001" and details.cell(3, 5).value == "较大"
    assert wb["直接经济损失"].cell(3, 6).value == 12.5
    assert st.report(cases, Period.parse("2025"), workflow=accident_wf)["last_year"] is None  # year vs year before


def test_statistics_follow_an_admins_change_of_the_rule_table(tmp_path, clock):
    """较大 from 2 deaths instead of 3, in a copy of configs: the engine's stored level and the level
    statistics judge for a record without one both follow the one rule table."""
    from flows.jobs.statistics import accident_statistics
    from flows.service import open_service
    from flows.service.config import load_config

    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    path = configs / "flows" / "accident.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count('"deaths >= 3 or') == 1
    path.write_text(text.replace('"deaths >= 3 or', '"deaths >= 2 or'), encoding="utf-8")
    config = load_config(configs)
    svc = open_service(tmp_path / "data", config=config, clock=clock)
    try:
        figures = {"place": "城北港区", "accident_type": "港口", "deaths": 2, "serious_injuries": 0, "direct_loss": 5,
                   "description": "经过"}
        stored = svc.start("accident", "awb_zhang", {**figures, "occurred_at": "2025-02-10T08:00"})
        assert stored["data"]["level"] == "较大"
        legacy = svc.start("accident", "awb_zhang", {**figures, "occurred_at": "2025-02-11T08:00"})
        del legacy["data"]["level"]  # a record kept before the level was stored
        svc.store.commit(legacy, [], None, legacy["version"])
        assert "level" not in svc.case(legacy["id"])["data"]
        (made,) = accident_statistics(svc, clock.now, period="2025-02")
        assert made["accidents"] == 2
        ws = load_workbook(svc.document_file(next(f for f in made["files"] if f.endswith(".xlsx"))))["事故起数"]
        assert [c.value for c in ws[ws.max_row]] == ["合计", 0, 2, 0, 0, 2]  # both 较大, none 一般
    finally:
        svc.close()
    shipped = load_config(ROOT / "configs").workflows["accident"]
    assert st.level_of({"deaths": 2}, shipped) == "一般" and st.level_of({"deaths": 2}, config.workflows["accident"]) == "较大"
