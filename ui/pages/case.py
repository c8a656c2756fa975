"""案件: one case — header, diagram, the actions this person may take with their forms, the case's data
by step, documents (updating by themselves while Prefect issues them), comments and the history."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import CommentRequired, FlowError, InvalidForm, NotFound, NotPermitted, StaleVersion
from flows.service import desk
from flows.service.retry import on_fresh_case
from ui.components import diagram, form
from ui.components.case_actions import other_actions
from ui.components.case_view import data_section, documents_section, header, history_section
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
case_id = st.query_params.get("id", "")
try:
    case = desk.open_case(svc, user, case_id)
except NotPermitted:
    st.error("无权查看该案件。")
    st.stop()
except NotFound:
    st.error(f"没有编号为「{case_id}」的案件。" if case_id else "请从待办或案件列表中选择一个案件。")
    st.stop()

wf = svc.definition_of(case)
history = svc.history(case["id"])
# a button press reruns the page on the newest case: compare with what was on the screen, so that a
# move made meanwhile (another tab, a colleague, a timer) is told and nothing is applied to a state unseen
seen_key = f"seen-revision-{case['id']}"
revision = desk.revision(history)
stale = st.session_state.get(seen_key, revision) != revision
st.session_state[seen_key] = revision
if stale:
    st.warning("案件已被他人更新，已为您载入最新状态，请核对后再办理。")
header(svc, wf, case)
left, right = st.columns([3, 2])
with right:
    with st.expander("流程图", expanded=True):
        diagram.show(wf, case, history)
with left:
    if st.session_state.get("case-notice"):  # what the last click did, at the top where it is seen
        st.success(st.session_state.pop("case-notice"))
    offered = svc.actions(case["id"], user)
    # the way forward first (it is the one chosen when the page opens), 退回 / 不予通过 / 取消 after it
    actions = sorted((a for a in offered if a.enabled), key=lambda a: a.kind in ("return", "reject"))
    refused = [a for a in offered if not a.enabled]
    if actions:
        st.markdown("#### 办理")
        labels = {a.name: a.label for a in actions}
        chosen = st.radio("操作", list(labels), format_func=labels.get, horizontal=True, key=f"act-{case['id']}")
        action = next(a for a in actions if a.name == chosen)
        key = f"act-{case['id']}-{chosen}"
        errors = st.session_state.get(f"{key}-errors", {})
        values = form.render(svc, wf, action.form, key=key, errors=errors, case=case)
        comment = st.text_area(("理由" if action.kind in ("return", "reject") else "意见")
                               + (" \\*" if action.needs_comment else ""), key=f"{key}-comment",
                               help="必填" if action.needs_comment else "选填")
        if errors.get("comment"):
            st.error(errors["comment"])
        if errors and set(errors) - {"comment"}:
            st.error("表单有误，请按提示修改后再提交。")
        if st.button(f"提交：{action.label}", type="primary", key=f"{key}-submit") and not stale:
            try:
                # the page's check is `stale`; effects' bookkeeping in between is no conflict, a move is
                on_fresh_case(lambda: svc.act(case["id"], chosen, user, data=values, comment=comment or None),
                              tries=3, pause=0,
                              moved=lambda: desk.revision(svc.history(case["id"])) != revision)
            except StaleVersion:
                st.session_state["case-notice"] = "案件已被他人更新，已为您载入最新状态，请核对后再办理。"
                st.rerun()
            except (InvalidForm, CommentRequired) as exc:
                st.session_state[f"{key}-errors"] = exc.errors
                st.rerun()
            except FlowError as exc:
                st.error(str(exc))
            else:
                st.session_state.pop(f"{key}-errors", None)
                st.session_state["case-notice"] = f"已提交「{action.label}」。"
                st.session_state[seen_key] = desk.revision(svc.history(case["id"]))  # our own move
                st.rerun()
    elif case["status"] == "open":
        st.info("本案当前没有需要您办理的环节。")
    for a in refused:
        st.caption(f"「{a.label}」暂不可办理：{a.reason}")
    other_actions(svc, user, case, stale, revision)
    data_section(svc, user, case)
    documents_section(svc, case["id"], show_runs=desk.is_admin(svc, svc.actor(user)))
    with st.expander("意见"):
        text = st.text_area("发表意见", key=f"comment-{case['id']}")
        if st.button("发表", key=f"comment-send-{case['id']}"):
            try:
                svc.comment(case["id"], user, text)
            except FlowError as exc:
                st.error(str(exc))
            else:
                st.rerun()
history_section(svc, case)  # under both columns: the whole width for its reasons and contents
