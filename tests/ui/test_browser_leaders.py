"""Issue 11, "leaders see the whole office": 全部案件, 统计, 演练计划与日历 and 台账 in headless Chromium
against the real stack (one for the module), on the demo data plus accidents reported in the summer
whose 60-day investigations have run out.

Screenshots go to build/screenshots/leaders/, to be looked at as a leader would.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

import pytest

from tests.orchestration.orch_helpers import SHOTS, pick
from tests.ui.browser_helpers import fresh_folder, run, settle, sign_in, stack, table_ids
from tests.ui.browser_helpers import shot as take_shot

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.prefect]

LEADERS = SHOTS / "leaders"
PEOPLE = ("awb_zhang", "juzhang", "ygk_liu", "qy_yang")
SUMMER = datetime(2026, 7, 1, 9, 0)
ACCIDENT = {"occurred_at": "2026-06-30T08:30", "place": "X354线大豫段", "accident_type": "道路运输",
            "deaths": 0, "serious_injuries": 1, "direct_loss": 12, "description": "货车追尾。",
            "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}}


def summer_accidents(data, config) -> dict[str, str]:
    """Two accidents of 局安委办 and one of 运输管理科, reported on 1 July: their 60 days have passed."""
    from flows.service import open_service

    svc = open_service(data, config=config, clock=lambda: SUMMER)
    try:
        ours = [svc.start("accident", "awb_zhang", {**ACCIDENT, "place": place})["id"] for place in ("城东客运站", "G204国道")]
        theirs = svc.start("accident", "ygk_liu", {**ACCIDENT, "place": "港区道路"})["id"]
    finally:
        svc.close()
    return {"ours": ours, "theirs": theirs}


@pytest.fixture(scope="module")
def office(tmp_path_factory, configs_root, orch_config):
    from flows.demo import fill

    fresh_folder(LEADERS)
    base = tmp_path_factory.mktemp("leaders")
    fill(str(base / "data"))                                   # the demo data (`make demo`)
    made = summer_accidents(base / "data", orch_config)
    with stack(base, orch_config, PEOPLE) as running:
        running.cases.update({"ours": ",".join(made["ours"]), "theirs": made["theirs"]})
        yield running


def shot(page, name: str) -> None:
    take_shot(page, LEADERS / f"{name}.png")


def caption_count(page) -> int:
    text = page.get_by_text(re.compile(r"^共找到 \d+ 件")).inner_text()
    return int(re.search(r"\d+", text).group())


# ------------------------------------------------------------------ 全部案件: filter and export

def test_a_leader_filters_overdue_accidents_of_one_unit_and_exports_them(page, office, tmp_path):
    from openpyxl import load_workbook

    ours = office.cases["ours"].split(",")
    sign_in(page, office, "juzhang")
    page.get_by_role("link", name="全部案件").click()
    page.get_by_role("heading", name="全部案件").wait_for()
    settle(page)
    everything = caption_count(page)
    assert everything > 40                                        # the demo's cases and the summer's
    shot(page, "1-01-all-cases")
    run(page, lambda: pick(page, "cases-workflow", "事故调查“一案三查”"))
    run(page, lambda: page.get_by_text("仅看已超期").click())
    run(page, lambda: pick(page, "cases-unit", "局安委办"))
    assert sorted(table_ids(page, "cases-table")) == sorted(ours)  # not 运输管理科's, not the demo's
    assert caption_count(page) == 2
    assert "overdue=1" in page.url and "workflow=accident" in page.url  # a search that can be sent on
    shot(page, "1-02-overdue-accidents-of-one-unit")
    with page.expect_download() as got:
        page.get_by_role("button", name="导出 Excel").click()
    path = tmp_path / "cases.xlsx"
    got.value.save_as(path)
    sheet = load_workbook(path).active
    assert "事故调查" in sheet["A1"].value and "已超期" in sheet["A1"].value
    header = [c.value for c in sheet[2]]
    assert header[:3] == ["案件编号", "标题", "流程"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert sorted(r[0] for r in rows) == sorted(ours)
    assert {r[header.index("所属单位")] for r in rows} == {"局安委办"}
    assert all(isinstance(r[header.index("发起日期")], datetime) and isinstance(r[header.index("办理期限")], datetime)
               for r in rows)                                     # dates, not text
    assert all(r[header.index("期限状态")].startswith("已超期") for r in rows)
    page.goto(f"{office.url}/cases?text=港区道路&workflow=accident")  # a link (from 统计) sets the search
    page.get_by_text("共找到 1 件").wait_for()
    settle(page)
    assert page.locator(".st-key-cases-text input").input_value() == "港区道路"
    assert table_ids(page, "cases-table") == [office.cases["theirs"]]


# ------------------------------------------------------------------ 统计 and 台账 with the demo data

def test_the_dashboard_and_the_registers_render_with_the_demo_data(page, office):
    sign_in(page, office, "juzhang")
    page.get_by_role("link", name="统计").click()
    settle(page)
    page.locator("[data-testid='stMetric']").nth(3).wait_for()          # the four headline figures
    drawn = 0
    for number, section in enumerate(("案件办理", "事故统计", "演练完成情况", "事故统计报告", "失信黑名单"), 1):
        page.locator("[data-testid='stButtonGroup']").get_by_text(section, exact=True).click()
        settle(page)
        page.get_by_role("heading", name=section).wait_for()
        charts = page.locator("[data-testid='stVegaLiteChart']")
        for i in range(charts.count()):
            charts.nth(i).scroll_into_view_if_needed()
            charts.nth(i).locator("canvas, svg").first.wait_for()      # each chart drawn
        drawn += charts.count()
        assert page.locator("[data-testid='stException']").count() == 0, section
        shot(page, f"2-01-dashboard-{number}")
    assert drawn >= 6
    page.get_by_role("link", name="台账", exact=True).click()
    settle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    shot(page, "2-02-registers")


# ------------------------------------------------------------------ 演练计划与日历

def _moved(day: date) -> date:
    """A week later, or earlier when that leaves the month: the same weekday, the same period."""
    later = day + timedelta(days=7)
    return later if later.month == day.month else day - timedelta(days=7)


def stored_row(office, seq: int = 1) -> dict:
    """The plan row as stored (read by a service of this process, which writes nothing)."""
    from flows.jobs import plan_edit

    svc = office.service()
    try:
        return next(r for r in plan_edit.editable_plan(svc, 2027)["rows"] if r["seq"] == seq)
    finally:
        svc.close()


def edit_cell(page, grid, column: int, row: int = 0) -> None:
    """Open the editor of a cell of a data editor (a grid drawn on a canvas): click the row's first
    cell, walk right with the keyboard (one key at a time: the grid takes them as they come), Enter."""
    settle(page)
    box = grid.locator("canvas").first.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 36 + 35 * row + 17)
    page.wait_for_timeout(500)
    for _ in range(column):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(150)
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)


def test_a_drill_moved_in_the_plan_is_published_on_its_new_date(page, office):
    sign_in(page, office, "awb_zhang")
    page.get_by_role("link", name="演练计划与日历").click()
    page.get_by_role("heading", name="演练计划与日历").wait_for()
    year = page.locator(".st-key-drill-year input")
    run(page, lambda: (year.fill("2027"), year.press("Enter")))
    run(page, lambda: page.get_by_role("button", name="生成年度应急演练计划").click())
    page.get_by_text(re.compile("^生成 2027 年度应急演练计划：(排队中|运行中)")).wait_for()   # Prefect runs it
    shot(page, "3-00-plan-being-generated-by-prefect")
    page.get_by_text("生成 2027 年度应急演练计划：已完成。").wait_for(timeout=120_000)        # the page follows it
    settle(page)
    grid = page.locator("[class*='st-key-plan-editor-2027']")
    grid.locator("td").first.wait_for(state="attached")
    cells = grid.locator("tr").nth(1).locator("td").all_text_contents()  # the first drill's row
    name, old = cells[1], date.fromisoformat(cells[3])
    new = _moved(old)
    shot(page, "3-01-plan-generated")
    edit_cell(page, grid, column=5)                               # its 场景类别, which the plan left open
    options = page.locator("#portal").get_by_role("option").filter(has_text=re.compile(".+"))
    options.first.wait_for()
    run(page, lambda: options.first.click())
    page.get_by_text("各行均已核对无误。").wait_for()
    run(page, lambda: page.get_by_role("button", name="保存修改").click())
    page.get_by_text("已保存 1 项修改。").wait_for()
    save = page.get_by_role("button", name="保存修改")
    assert save.is_disabled()                                     # nothing left to save
    edit_cell(page, grid, column=3)                               # then its 计划日期, a week on
    editor = page.locator("input[type='date']")
    editor.wait_for()
    editor.fill(new.isoformat())
    run(page, lambda: editor.press("Enter"))
    page.wait_for_function("(b) => !b.disabled", arg=save.element_handle(), timeout=30_000)  # the page has it
    run(page, lambda: save.click())
    page.get_by_text("已保存 1 项修改。").wait_for()
    assert stored_row(office)["planned_date"] == new.isoformat()
    run(page, lambda: page.get_by_role("button", name="发布计划并发起演练案件").click())
    page.get_by_text("发布 2027 年度应急演练计划：已完成。").wait_for(timeout=120_000)
    settle(page)
    row = stored_row(office)
    assert row["planned_date"] == new.isoformat() and row["scenario"], row   # publishing kept the office's edits
    shot(page, "3-02-plan-published")
    settle(page)
    page.get_by_text("演练日历", exact=True).click()
    page.locator(".st-key-cal-month-2027").wait_for()
    pick(page, "cal-month-2027", re.compile(rf"^{new.month}月"))   # (perhaps already the month shown)
    settle(page)
    link = page.get_by_role("link", name=re.compile(rf"^{re.escape(name)}"))
    link.wait_for()
    day_box = link.locator("xpath=ancestor::div[@data-testid='stVerticalBlock'][1]")
    assert day_box.locator("strong").first.inner_text() == str(new.day)   # on the new date's square
    assert page.get_by_text(f"{new.year}年{new.month}月").count() >= 1
    shot(page, f"3-03-calendar-{calendar.month_name[new.month].lower()}")
    link.click()
    page.get_by_role("heading", name=re.compile(r"YL-\d{4}-\d+")).wait_for()
    settle(page)
    # the case's data table shows the new date (waited for: the page may still be drawing its tables)
    page.wait_for_function("(day) => [...document.querySelectorAll('[data-testid=stTable]')]"
                           ".some(t => t.innerText.includes(day))", arg=new.isoformat(), timeout=15_000)
    shot(page, "3-04-the-drills-case")


# ------------------------------------------------------------------ who may not

def test_a_clerk_has_none_of_these_pages_and_their_addresses_say_so(page, office):
    sign_in(page, office, "ygk_liu")
    menu = page.locator("[data-testid='stSidebarNav']").inner_text()
    for title in ("全部案件", "统计", "演练计划与日历", "台账", "用户"):
        assert title not in menu, menu
    for path in ("cases", "statistics", "reports", "registers", "users"):
        page.goto(f"{office.url}/{path}")
        page.get_by_text(re.compile("^无权查看")).wait_for()
        settle(page)
        assert page.locator("[data-testid='stDataFrame'], [data-testid='stVegaLiteChart']").count() == 0
    shot(page, "4-01-clerk-no-right-to-see")
