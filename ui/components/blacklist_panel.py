"""The blacklist at a glance, for the 统计 dashboard: the enterprises listed now whose term ends soonest
(amber within 30 days) and the credit-repair applications waiting longest; 台账 lists and searches all."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import NotPermitted
from flows.service import registers
from ui.components.text import plain_label
from ui.session import user_or_stop

_AMBER = "background-color: #fff3cd"
SHOWN = 20  # the soonest term ends; 台账 lists and searches them all


def blacklist_panel(svc) -> None:
    try:
        summary = registers.blacklist_summary(svc, user_or_stop(svc))
    except NotPermitted as exc:
        st.error(str(exc))
        return
    listed, pending = summary["listed"], summary["pending_repairs"]
    left, right = st.columns(2)
    left.metric("列入中企业", len(listed))
    right.metric("待审核信用修复申请", len(pending))
    if listed:
        import pandas as pd

        shown = listed[:SHOWN]
        frame = pd.DataFrame([{"企业": r["enterprise"], "统一社会信用代码": r["credit_code"],
                               "期限届满": r["term_end"], "剩余天数": r["days_left"], "案件编号": r["case_id"]}
                              for r in shown])
        soon = [r["soon"] for r in shown]
        styled = frame.style.apply(lambda row: [_AMBER if soon[row.name] else ""] * len(row), axis=1)
        st.dataframe(styled, hide_index=True, width="stretch", key="blacklist-panel-listed")
        notes = [f"共 {len(listed)} 家，此处列期满最近的 {SHOWN} 家，全部见黑名单台账"] if len(listed) > SHOWN else []
        if notes := notes + (["黄色：30 天内期满"] if any(soon) else []):
            st.caption("；".join(notes))
    else:
        st.caption("目前没有列入黑名单的企业")
    for r in pending[:SHOWN]:  # the earliest applications: they have waited longest
        st.page_link("pages/case.py", label=plain_label(f"信用修复申请：{r['enterprise']}（{r['applied']} 申请）"),
                     query_params={"id": r["case_id"]}, icon=":material/assignment:")
    if len(pending) > SHOWN:
        st.caption(f"另有 {len(pending) - SHOWN} 件信用修复申请待审核，见黑名单台账")
    st.page_link("pages/registers.py", label="查看黑名单台账", icon=":material/menu_book:")
