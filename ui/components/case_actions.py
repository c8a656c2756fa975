"""The case page's other actions: 转办, 催办, 撤回 and (for admins) 作废; the service decides who may."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import FlowError, StaleVersion
from flows.service import desk, interventions


def _done(message: str) -> None:
    st.session_state["case-notice"] = message
    st.rerun()


def _attempt(change, done: str, svc=None, cid: str | None = None) -> None:
    try:
        change()
    except StaleVersion:
        _done("案件已被他人更新，已为您载入最新状态，请核对后再办理。")
    except FlowError as exc:
        st.error(str(exc))
    else:
        if cid is not None:  # our own move: not news to this page
            st.session_state[f"seen-revision-{cid}"] = desk.revision(svc.history(cid))
        _done(done)


def other_actions(svc, user: str, case: dict, stale: bool, revision: int) -> None:
    """`stale`: the case moved since this page last showed it; then nothing here is applied. `revision`:
    how many times it had moved when shown (the service refuses the command if it moved since)."""
    cid = case["id"]
    mine = interventions.held_states(svc, user, case)
    taken_back = interventions.withdrawable(svc, user, case)
    admin = desk.is_admin(svc, svc.actor(user))
    holding = bool(desk.holders(svc, case))
    if not (mine or taken_back or (admin and case["status"] == "open") or holding):
        return
    with st.expander("其他操作"):
        wf = svc.definition_of(case)
        if mine:
            state = mine[0] if len(mine) == 1 else st.selectbox(
                "转办哪个环节", mine, format_func=lambda s: wf.state(s).label, key=f"transfer-state-{cid}")
            people = interventions.transferable_to(svc, user, cid, state)
            names = {p["id"]: f"{p['name']}（{p['unit']}）" for p in people}
            to = st.selectbox(f"转办「{wf.state(state).label}」给", list(names), index=None, format_func=names.get,
                              placeholder="请选择同事", key=f"transfer-to-{cid}")
            note = st.text_input("转办说明", key=f"transfer-note-{cid}")
            if st.button("转办", key=f"transfer-{cid}", disabled=to is None) and not stale:
                _attempt(lambda: interventions.transfer(svc, cid, user, state, to, note, expected_revision=revision),
                         f"已转办给{names.get(to, '')}。", svc, cid)
        if holding and case["status"] == "open" and not mine and interventions.may_urge(svc, user):
            note = st.text_input("催办说明", key=f"urge-note-{cid}")
            if st.button("催办", key=f"urge-{cid}") and not stale:
                _attempt(lambda: interventions.urge(svc, cid, user, note, expected_revision=revision), "已催办。", svc, cid)
        if taken_back:
            if st.button(f"撤回「{taken_back.get('label')}」", key=f"withdraw-{cid}",
                         help="下一环节的办理人尚未办理时，可撤回本人最近一次办理") and not stale:
                _attempt(lambda: interventions.withdraw(svc, cid, user, expected_revision=revision), "已撤回。", svc, cid)
        if admin and case["status"] == "open":
            reason = st.text_input("作废理由（必填）", key=f"cancel-reason-{cid}")
            if st.button("作废案件", key=f"cancel-{cid}", type="secondary") and not stale:
                _attempt(lambda: interventions.cancel(svc, cid, user, reason, expected_revision=revision), "案件已作废。", svc, cid)
