"""流程与案件: each workflow with its cases, their states and documents; pick one to see it."""
from __future__ import annotations

import streamlit as st

from flows.service import desk
from ui.components.case_detail import case_detail, effect_summary, state_labels
from ui.session import service, user_or_stop


def cases_page(svc) -> None:
    show_closed = st.checkbox("同时显示已结案件", value=False)
    for name, wf in sorted(svc.config.workflows.items()):
        cases = svc.cases(workflow=name, status=None if show_closed else "open")
        cases.sort(key=lambda c: c.get("updated_at", ""), reverse=True)
        st.subheader(f"{wf.title}（{len(cases)} 件{'' if show_closed else '办理中'}）")
        if wf.description:
            st.caption(wf.description)
        if not cases:
            st.caption("暂无案件")
            continue
        st.dataframe([{"编号": c["id"], "标题": c["title"], "当前环节": state_labels(svc, c),
                       "状态": "已结案" if c["status"] == "closed" else "办理中",
                       "更新时间": c.get("updated_at", "")[:16].replace("T", " "),
                       "文书": len(c.get("documents", [])), "处理": effect_summary(c)} for c in cases],
                     hide_index=True)
        chosen = st.selectbox("查看案件", [""] + [c["id"] for c in cases], key=f"pick-{name}",
                              format_func=lambda cid: "请选择…" if not cid else cid)
        if chosen:
            case_detail(svc, svc.case(chosen))


svc = service()
if not desk.sees_all(svc, svc.actor(user_or_stop(svc))):
    st.error("无权查看：全部案件只对局领导、安委办和管理员开放。")
    st.stop()
st.button("刷新")
cases_page(svc)
