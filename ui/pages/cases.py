"""全部案件: search every case by text and filters (in flows), one page of results at a time, each row
opening its case; 导出 Excel gives the same columns for every case found. The filters live in the URL,
so a number on 统计 links here with its cases already chosen and a search can be sent to a colleague."""
from __future__ import annotations

from datetime import date

import streamlit as st

from flows.core.errors import NotPermitted
from flows.documents.spreadsheet import Sheet, xlsx
from flows.service import desk, search
from flows.service.case_query import SORTS, CaseQuery
from ui.components.downloads import XLSX
from ui.components.tables import case_table, pager_buttons
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
if not desk.sees_all(svc, svc.actor(user)):
    st.error("无权查看：全部案件只对局领导、安委办和管理员开放。")
    st.stop()
st.subheader("全部案件")

workflows = dict(sorted(svc.config.workflows.items(), key=lambda kv: kv[1].title))
units = sorted(u.name for u in svc.org.units if u.kind == "department")
STATUS = {"": "全部", "open": "办理中", "closed": "已结案"}

# A URL that differs from the one this page last wrote (a link from 统计, a bookmark) sets the filters.
url = dict(st.query_params)
if url != st.session_state.get("cases-url"):
    asked, problems = CaseQuery.from_params(url)
    for problem in problems:
        st.warning(problem)
    st.session_state.update({
        "cases-text": asked.text, "cases-workflow": asked.workflow if asked.workflow in workflows else "",
        "cases-state": asked.state or "", "cases-unit": asked.unit if asked.unit in units else "",
        "cases-status": asked.status or "", "cases-overdue": asked.overdue, "cases-supervised": asked.supervised,
        "cases-sort": asked.sort, "cases-dates": tuple(d for d in (asked.date_from, asked.date_to) if d)})

text = st.text_input("搜索", key="cases-text", placeholder="案件编号、标题、企业名称或统一社会信用代码，多个词以空格分隔")
c1, c2, c3, c4 = st.columns(4)
workflow = c1.selectbox("流程", ["", *workflows], key="cases-workflow",
                        format_func=lambda n: workflows[n].title if n else "全部")
states = {s.name: s.label for s in workflows[workflow].states} if workflow else {}
if st.session_state.get("cases-state") not in ("", *states):
    st.session_state["cases-state"] = ""
state = c2.selectbox("当前环节", ["", *states], key="cases-state", format_func=lambda n: states.get(n, "全部"),
                     disabled=not workflow, help="先选流程")
unit = c3.selectbox("所属单位", ["", *units], key="cases-unit", format_func=lambda n: n or "全部")
status = c4.selectbox("办理状态", list(STATUS), key="cases-status", format_func=STATUS.get)
c1, c2, c3, c4 = st.columns(4)
dates = c1.date_input("发起日期（起止）", key="cases-dates", format="YYYY-MM-DD")
overdue = c2.checkbox("仅看已超期", key="cases-overdue")
supervised = c3.checkbox("仅看上级挂牌督办", key="cases-supervised")
sort = c4.selectbox("排序", list(SORTS), key="cases-sort", format_func=SORTS.get)

dates = tuple(dates) if isinstance(dates, (list, tuple)) else (dates,) if dates else ()
query = CaseQuery(text=text.strip(), workflow=workflow or None, state=state or None, unit=unit or None,
                  status=status or None, date_from=dates[0] if dates else None,
                  date_to=dates[1] if len(dates) > 1 else (dates[0] if dates else None),
                  overdue=overdue, supervised=supervised, sort=sort)
params = query.to_params()
if params != dict(st.query_params):
    st.query_params.from_dict(params)
st.session_state["cases-url"] = params
if st.session_state.get("cases-last") != params:  # a new search starts on its first page
    st.session_state["cases-last"] = params
    st.session_state["cases-page"] = 0

page = st.session_state.get("cases-page", 0)
try:
    rows, total = search.search(svc, user, query, page, 20)
except NotPermitted as exc:
    st.error(str(exc))
    st.stop()
st.session_state["cases-more"] = total > (page + 1) * 20


today = svc.clock().date()


def deadline(row: search.CaseRow) -> str:
    days = desk.days_left(svc, row.due, today) if row.due else None
    if days is None:
        return ""
    return f"已超期 {-days} 个工作日" if days < 0 else ("今日到期" if days == 0 else f"剩 {days} 个工作日")


def shown(row: search.CaseRow) -> dict:
    wf = workflows.get(row.workflow)
    labels = {s.name: s.label for s in wf.states} if wf else {}
    return {"案件编号": row.id, "标题": row.title, "流程": wf.title if wf else row.workflow,
            "当前环节": "、".join(labels.get(a, a) for a in row.active) if row.status == "open" else "已结案",
            "所属单位": row.unit, "涉及企业": "、".join(row.enterprises), "发起日期": search.started_on(row),
            "办理期限": (row.due or "")[:10], "期限状态": deadline(row), "状态": STATUS.get(row.status, row.status)}


def exported(row: search.CaseRow) -> dict:
    """The row as Excel gets it: its deadline a date, not text."""
    return {**shown(row), "办理期限": date.fromisoformat(row.due[:10]) if row.due else None}


COLUMNS = ["案件编号", "标题", "流程", "当前环节", "所属单位", "涉及企业", "发起日期", "办理期限", "期限状态", "状态"]
top = st.columns([3, 1])
top[0].caption(f"共找到 {total} 件" + ("" if total <= 20 else f"，第 {page + 1} 页，每页 20 件"))


def workbook() -> bytes:
    everything, _ = search.search(svc, user, query, 0, search.EXPORT_LIMIT)
    said = [f"搜索「{query.text}」" if query.text else "", workflows[workflow].title if workflow else "",
            states.get(state, "") if state else "", unit, STATUS[status] if status else "",
            f"发起于 {query.date_from} 至 {query.date_to}" if query.date_from else "",
            "已超期" if overdue else "", "上级挂牌督办" if supervised else ""]
    caption = "全部案件" + (f"（{'，'.join(x for x in said if x)}）" if any(said) else "")
    return xlsx([Sheet("全部案件", COLUMNS, [list(exported(r).values()) for r in everything], caption=caption)])


top[1].download_button("导出 Excel", data=workbook, file_name="全部案件.xlsx", mime=XLSX, key="cases-export",
                       disabled=total == 0, icon=":material/download:",
                       help=f"导出全部 {min(total, search.EXPORT_LIMIT)} 件（列与本表相同）")
if total > search.EXPORT_LIMIT:
    st.caption(f"一次最多导出 {search.EXPORT_LIMIT} 件，请缩小筛选范围。")
case_table("cases-table", [shown(r) for r in rows], COLUMNS)
pager_buttons("cases")
