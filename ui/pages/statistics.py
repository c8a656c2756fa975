"""统计: the leaders' dashboard. Headline figures, then one section at a time (chosen above it): cases by
workflow and state, overdue by unit, where cases wait; accidents by month, quarter and year against the
year before; drills due and done per plan and period; the accident statistics report on demand and
those made; the blacklist. Every chart's figures download as Excel and link to the cases behind them.
The figures come from `flows.service.dashboard`'s snapshot (made every few minutes, not on each view:
the page says when)."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import NotPermitted
from flows.documents.spreadsheet import Sheet
from flows.documents.statistics import LEVELS, METRICS, Period
from flows.jobs import drill_plan
from flows.service import dashboard, desk, reports
from flows.service.case_query import CaseQuery
from ui.components import charts
from ui.components.blacklist_panel import blacklist_panel
from ui.components.downloads import download
from ui.components.jobs import job_progress, run_job
from ui.session import service, user_or_stop

KINDS = {"month": "按月", "quarter": "按季度", "year": "按年度"}
METRIC = dict(METRICS)


def freshness(svc, user: str) -> dashboard.Snapshot:
    cache = dashboard.cache_of(svc)
    if st.session_state.pop("dash-refresh", False):
        with st.spinner("正在重新汇总全部案件…"):
            cache.refresh()
    snap = dashboard.dashboard(svc, user)
    left, right = st.columns([5, 1], vertical_alignment="center")
    note = (f"数据更新于 {snap.at:%H:%M}，每 {svc.config.platform.dashboard_refresh_minutes} 分钟刷新"
            f"（共 {snap.total} 件案件，汇总用时 {snap.seconds:.1f} 秒）")
    if cache.refreshing:
        note += "；正在后台更新，稍后刷新页面即见新数据"
    left.caption(note)
    right.button("立即刷新", key="dash-refresh-button", icon=":material/refresh:",
                 on_click=lambda: st.session_state.__setitem__("dash-refresh", True))
    if cache.error:
        st.warning(f"后台更新失败，仍显示上次的数据：{cache.error}")
    for problem in snap.problems[:5]:
        st.warning(problem)
    return snap


def headline(svc, snap: dashboard.Snapshot) -> None:
    head = dashboard.overview(snap, svc.clock().date())
    year = svc.clock().year
    since = f"1—{head['months']}月" if head["months"] > 1 else "1月"
    cells = st.columns(4)
    cells[0].metric("办理中案件", head["open"], help=f"共 {snap.total} 件案件")
    cells[1].metric("逾期未办结", head["overdue"], help="办理中、有期限已过的案件")
    cells[2].metric(f"{year}年事故（{since}）", head["count"], delta=_delta(head["count"], head["count_last_year"]),
                    delta_color="inverse", help=f"上年同期 {head['count_last_year']} 起")
    cells[3].metric(f"{year}年死亡人数（{since}）", head["deaths"], delta=_delta(head["deaths"], head["deaths_last_year"]),
                    delta_color="inverse", help=f"上年同期 {head['deaths_last_year']} 人")


def cases_section(svc, snap: dashboard.Snapshot) -> None:
    st.subheader("案件办理")
    totals: dict[tuple[str, str], int] = {}
    for r in snap.states:
        totals[(r["workflow_title"], r["status_label"])] = totals.get((r["workflow_title"], r["status_label"]), 0) + r["count"]
    rows = [{"流程": wf, "状态": status, "案件数": n} for (wf, status), n in totals.items()]
    left, right = st.columns(2)
    with left:
        st.markdown("**各流程案件数**")
        charts.figure_block("dash-workflows", "各流程案件数", charts.bars(rows, "流程", "案件数", color="状态"), rows,
                            lambda: Sheet("各流程案件数", ["流程", "状态", "案件数"], [list(r.values()) for r in rows]),
                            [(f"{r['workflow_title']}·{r['status_label']}",
                              CaseQuery(workflow=r["workflow"], status=r["status"])) for r in _firsts(snap.states)])
    with right:
        names = {r["workflow"]: r["workflow_title"] for r in snap.states}
        name = st.selectbox("流程", list(names), format_func=names.get, key="dash-workflow") if names else None
        mine = [r for r in snap.states if r["workflow"] == name]
        table = [{"环节": r["state_label"], "状态": r["status_label"], "案件数": r["count"]} for r in mine]
        charts.figure_block("dash-states", f"{names.get(name, '')}各环节案件数",
                            charts.bars(table, "环节", "案件数", color="状态"), table,
                            lambda: Sheet(f"{names.get(name, '')}各环节案件数", ["环节", "状态", "案件数"],
                                          [list(r.values()) for r in table]),
                            [(f"{r['state_label']}（{r['count']} 件）", r["query"]) for r in mine],
                            note="办理中的案件按当前环节计（并行环节各计一次），已办结的按其结束的环节计")
    left, right = st.columns(2)
    with left:
        st.markdown("**逾期案件（按承办单位）**")
        table = [{"单位": r["unit"], "逾期案件数": r["count"]} for r in snap.overdue]
        charts.figure_block("dash-overdue", "逾期案件按单位", charts.bars(table, "单位", "逾期案件数"), table,
                            lambda: Sheet("逾期案件按单位", ["单位", "逾期案件数"], [list(r.values()) for r in table]),
                            [(f"{r['unit']}（{r['count']} 件）", r["query"]) for r in snap.overdue],
                            note="逾期：办理中、有期限已过而未办结的案件")
    with right:
        st.markdown("**各环节平均停留天数**")
        top = snap.waiting[:15]
        table = [{"环节": f"{r['workflow_title']}·{r['state_label']}", "案件数": r["cases"], "平均天数": r["avg_days"],
                  "最长天数": r["max_days"]} for r in snap.waiting]
        charts.figure_block("dash-waiting", "各环节停留天数",
                            charts.bars(table[:15], "环节", "平均天数", tooltip=("环节", "案件数", "平均天数", "最长天数")),
                            table, lambda: Sheet("各环节停留天数", ["环节", "案件数", "平均天数", "最长天数"],
                                                 [list(r.values()) for r in table]),
                            [(f"{t['环节']}（{t['案件数']} 件）", r["query"]) for t, r in zip(table, snap.waiting, strict=True)],
                            note=f"按办理中的案件在当前环节已停留的自然日计（不读全部历史），停留最久的 {len(top)} 个环节")


def _firsts(rows: list[dict]) -> list[dict]:
    """One row per workflow and status (the links of the 各流程 chart)."""
    seen: dict[tuple, dict] = {}
    for r in rows:
        seen.setdefault((r["workflow"], r["status"]), r)
    return list(seen.values())


def accidents_section(svc, snap: dashboard.Snapshot) -> None:
    st.subheader("事故统计")
    today = svc.clock().date()
    years = sorted(set(snap.accident_years()) | {today.year}, reverse=True)
    a, b, c = st.columns(3)
    kind = a.radio("统计方式", list(KINDS), format_func=KINDS.get, horizontal=True, key="dash-kind")
    year = b.selectbox("年度", years, key="dash-year")
    metric = c.selectbox("指标", [m for m, _ in METRICS], format_func=METRIC.get, key="dash-metric")
    series = snap.derived(("series", kind, year), lambda: dashboard.accident_series(snap.months, kind, year))
    bars = [{"统计期": r["label"], "口径": label, METRIC[metric]: r[field]}
            for r in series for label, field in (("本期", metric), ("上年同期", f"{metric}_last_year"))]
    columns = ["统计期"] + [x for m, name in METRICS for x in (name, f"{name}同比")]
    table = [{"统计期": r["label"], **{x: v for m, name in METRICS
                                     for x, v in ((name, r[m]), (f"{name}同比", r[f"{m}_change"]))}} for r in series]
    title = f"{year}年事故{KINDS[kind][1:]}统计"
    charts.figure_block("dash-accidents", title,
                        charts.bars(bars, "统计期", METRIC[metric], offset="口径", color="口径", horizontal=False), table,
                        lambda: Sheet(title, columns, [list(r.values()) for r in table]),
                        [(f"{r['label']}（{r['count']} 起）", r["query"]) for r in series],
                        note="同比：与上年同期相比。链接按案件上报日期筛选")
    periods = [Period.parse(r["period"]) for r in series]
    whole = Period(year, "year")
    options = [whole] + [p for p in periods if p != whole]
    period = st.selectbox("按类型和等级查看", options, format_func=lambda p: p.label, key="dash-period")
    rep = snap.derived(("report", period.key), lambda: dashboard.accident_report(snap.months, period))
    cols = st.columns(len(METRICS))
    for col, (m, name) in zip(cols, METRICS, strict=True):
        col.metric(name, rep["totals"][m]["total"], delta=_delta(rep["totals"][m]["total"], rep["last_year"][m]["total"]),
                   delta_color="inverse", help="与上年同期相比")
    by_type = [{"事故类型": r["type"], "事故等级": name, "起数": r["count"][key]}
               for r in rep["rows"] for name, key in LEVELS if r["count"][key]]
    type_table = [{"事故类型": r["type"], **{name: r[metric][key] for name, key in LEVELS}, "合计": r[metric]["total"]}
                  for r in rep["rows"] + [rep["totals"]]]
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{period.label}按事故类型**")
        charts.figure_block("dash-types", f"{period.label}事故按类型和等级",
                            charts.bars(by_type, "事故类型", "起数", color="事故等级") if by_type else None, type_table,
                            lambda: Sheet(f"{period.label}{METRIC[metric]}", list(type_table[0]),
                                          [list(r.values()) for r in type_table]),
                            [(f"{period.label}的事故案件", rep["query"])], note=f"表中为{METRIC[metric]}")
    with right:
        st.markdown(f"**{period.label}按事故等级**")
        by_level = [{"事故等级": name, "起数": rep["totals"]["count"][key], "死亡": rep["totals"]["deaths"][key],
                     "重伤": rep["totals"]["serious_injuries"][key], "直接经济损失（万元）": rep["totals"]["direct_loss"][key]}
                    for name, key in LEVELS]
        charts.figure_block("dash-levels", f"{period.label}事故按等级",
                            charts.bars(by_level, "事故等级", "起数", tooltip=list(by_level[0])), by_level,
                            lambda: Sheet(f"{period.label}事故按等级", list(by_level[0]), [list(r.values()) for r in by_level]),
                            [(f"{period.label}的事故案件", rep["query"])])
    st.caption(rep["analysis"])


def _delta(now: float, before: float) -> str | None:
    return None if now == before else dashboard.change(now, before)


def drills_section(svc, snap: dashboard.Snapshot) -> None:
    st.subheader("演练完成情况")
    today = svc.clock().date()
    year = st.selectbox("计划年度", range(today.year + 1, today.year - 5, -1), index=1, key="dash-drill-year")
    record = reports.get_report(svc, drill_plan.plan_key(year)) or {}
    if not record.get("plan_rows"):
        st.caption(f"{year} 年度应急演练计划尚未生成")
        return
    if not record.get("published_at"):
        st.caption(f"{year} 年度计划尚未发布，演练尚未立案")
    rows = snap.derived(("drills", year, record.get("generated_at"), record.get("published_at")), lambda: dashboard.drill_compliance(
        drill_plan.coverage(record["plan_rows"], snap.drill_cases()), snap.drills, today))
    plans: dict[str, dict] = {}
    for r in rows:
        p = plans.setdefault(r["plan_name"], {"预案": r["plan_name"], "已实施": 0, "逾期未实施": 0, "未到期或未立案": 0})
        p["已实施"] += r["done"]
        p["逾期未实施"] += r["overdue"]
        p["未到期或未立案"] += max(0, r["due"] - r["done"] - r["overdue"])
    stacked = [{"预案": p["预案"], "情况": k, "次数": p[k]} for p in plans.values()
               for k in ("已实施", "逾期未实施", "未到期或未立案") if p[k]]
    table = [{"预案": r["plan_name"], "周期": r["period"], "应演练": r["due"], "已实施": r["done"], "逾期未实施": r["overdue"],
              "未立案": r["not_started"], "案件": "、".join(r["cases"])} for r in rows]
    charts.figure_block("dash-drills", f"{year}年度演练完成情况", charts.bars(stacked, "预案", "次数", color="情况"), table,
                        lambda: Sheet(f"{year}年度演练完成情况", list(table[0]), [list(r.values()) for r in table]),
                        [(f"{r['plan_name']}（{r['period']}）：应 {r['due']}，已 {r['done']}，逾期 {r['overdue']}", r["query"])
                         for r in rows],
                        note="逾期未实施：计划日期已过、尚未实施且未办结的演练")


def blacklist_section(svc) -> None:
    st.subheader("失信黑名单")
    blacklist_panel(svc)


def reports_section(svc) -> None:
    st.subheader("事故统计报告")
    left, right = st.columns(2)
    with left:
        text = st.text_input("统计期（如 2025-03、2025-Q1、2025）", value=f"{svc.clock().year - 1}", key="dash-report-period")
        try:
            period = Period.parse(text)
        except ValueError as exc:
            period = None
            st.error(str(exc))
        if st.button("生成事故统计报告", disabled=period is None, key="dash-report-make"):
            if run_job(svc, "statistics", {"period": period.key}, f"生成{period.label}事故统计报告") is not None:
                st.success(f"已生成{period.label}事故统计报告。")
    with right:
        made = sorted(reports.list_reports(svc, kind="accident_statistics"), key=lambda r: r.get("period", ""), reverse=True)
        if not made:
            st.caption("暂无事故统计报告")
            return
        labels = {r["key"]: f"{Period.parse(r['period']).label if r.get('period') else r['key']}"
                             f"（生成于 {r.get('generated_at', '')[:16].replace('T', ' ')}）" for r in made}
        key = st.selectbox(f"已生成的报告（{len(made)} 份）", list(labels), format_func=labels.get, key="dash-report-pick")
        record = next(r for r in made if r["key"] == key)
        for i, f in enumerate(record.get("files", [])):
            download(f"下载 {f['name']}", svc.document_file(f["file"]), f["name"], key=f"dash-rep-{key}-{i}")


svc = service()
user = user_or_stop(svc)
if not desk.sees_all(svc, svc.actor(user)):
    st.error("无权查看：统计只对局领导、安委办和管理员开放。")
    st.stop()
st.subheader("统计")
job_progress()  # a report handed to Prefect: its state, then what became of it
try:
    snap = freshness(svc, user)
except NotPermitted as exc:
    st.error(str(exc))
    st.stop()
headline(svc, snap)
# one section at a time: a leader reads one question at once, and a page of every chart took seconds
# to draw at 100,000 cases (a segmented control, not st.tabs: tabs draw every section)
SECTIONS = {"案件办理": lambda: cases_section(svc, snap), "事故统计": lambda: accidents_section(svc, snap),
            "演练完成情况": lambda: drills_section(svc, snap), "事故统计报告": lambda: reports_section(svc),
            "失信黑名单": lambda: blacklist_section(svc)}
view = st.segmented_control("查看", list(SECTIONS), default="案件办理", required=True, key="dash-section",
                            label_visibility="collapsed")
SECTIONS[view or "案件办理"]()
