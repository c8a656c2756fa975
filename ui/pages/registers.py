"""台账: 预案台账 and 黑名单台账, searched, filtered and sorted by flows.service.registers, each row
opening its case(s), each exported to Excel as shown. For 局领导, 安委办 and 管理员 only."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import NotPermitted
from flows.service import registers as reg
from ui.components.register_table import register_table
from ui.session import service, user_or_stop

_AMBER, _RED = "background-color: #fff3cd", "background-color: #f8d7da"
ALL = "全部"


def _chosen(key: str, default=None):
    """A filter's value as this run will draw it (the rows are read once, before the filters' choices)."""
    value = st.session_state.get(key, default)
    return None if value == ALL else value


def _options(found: list[str], key: str) -> list[str]:
    current = st.session_state.get(key)
    return [ALL, *found, *([current] if current and current != ALL and current not in found else [])]


def plans_section(svc, user: str) -> None:
    found = reg.plan_register(svc, user, reg.PlanQuery(
        text=_chosen("plans-text", ""), statuses=tuple(_chosen("plans-status", ())), kind=_chosen("plans-kind"),
        unit=_chosen("plans-unit"), assessment_due=bool(_chosen("plans-due")), sort=_chosen("plans-sort") or ""))
    st.text_input("搜索", key="plans-text", placeholder="预案名称、编制单位、案件编号")
    c1, c2, c3, c4 = st.columns(4)
    c1.multiselect("状态", reg.PLAN_STATUSES, key="plans-status", placeholder="全部")
    c2.selectbox("预案类型", _options(found.facets["kind"], "plans-kind"), key="plans-kind")
    c3.selectbox("编制单位", _options(found.facets["owner_unit"], "plans-unit"), key="plans-unit")
    c4.selectbox("排序", list(reg.PLAN_SORTS), format_func=reg.PLAN_SORTS.get, key="plans-sort")
    st.checkbox("只看评估已到期的", key="plans-due")
    due_rows = [r["assessment_due"] for r in found.rows]
    register_table("plans", "预案台账", found, reg.PLAN_COLUMNS,
                   styler=lambda f: f.style.apply(lambda row: [_AMBER if due_rows[row.name] else ""] * len(row), axis=1))
    st.caption("下次评估：印发日期起 3 年（流程设置 reassess_years），到期当日由定期评估任务发起修订案件；黄色为已到期。")


def blacklist_section(svc, user: str) -> None:
    found = reg.blacklist_register(svc, user, reg.BlacklistQuery(
        text=_chosen("blacklist-text", ""), statuses=tuple(_chosen("blacklist-status", ())),
        reason=_chosen("blacklist-reason"), repair_pending=bool(_chosen("blacklist-pending")),
        sort=_chosen("blacklist-sort") or ""))
    st.text_input("搜索", key="blacklist-text", placeholder="企业名称、统一社会信用代码、决定书文号、案件编号")
    c1, c2, c3 = st.columns(3)
    c1.multiselect("状态", reg.BLACKLIST_STATUSES, key="blacklist-status", placeholder="全部")
    c2.selectbox("列入事由", _options(found.facets["reason"], "blacklist-reason"), key="blacklist-reason")
    c3.selectbox("排序", list(reg.BLACKLIST_SORTS), format_func=reg.BLACKLIST_SORTS.get, key="blacklist-sort")
    st.checkbox("只看信用修复审核中的", key="blacklist-pending")
    shade = [_AMBER if r["days_left"] is not None and r["days_left"] <= 30 else
             _RED if r["status"] == "期满待复核" else "" for r in found.rows]
    register_table("blacklist", "黑名单台账", found, reg.BLACKLIST_COLUMNS,
                   styler=lambda f: f.style.apply(lambda row: [shade[row.name]] * len(row), axis=1))
    st.caption("剩余天数按自然日计算（列入期限以年计）；黄色为 30 天内期满，红色为期满待复核。")


svc = service()
user = user_or_stop(svc)
try:
    reg.check_access(svc, user)
except NotPermitted as exc:
    st.error(str(exc))
    st.stop()
st.subheader("台账")
plans_tab, blacklist_tab = st.tabs(["预案台账", "黑名单台账"])
with plans_tab:
    plans_section(svc, user)
with blacklist_tab:
    blacklist_section(svc, user)
