"""What every page of one browser session shares: the process's service and who is signed in.

The session's token lives in Streamlit's session state and, so that a reload or a link opened in a
new tab keeps the person signed in, in a cookie of this site (SameSite=Strict, set by a tiny script
in an st.iframe: Streamlit sets no cookies of its own). The service checks the token on every
run (`Accounts.session_user`), so an expired or ended session sends the person back to 登录; the
data directory keeps only the token's hash.
"""
from __future__ import annotations

import gc
import os
import sys
import threading
import time

import streamlit as st

from flows.orchestration.dispatch import is_orchestrated, service_for
from flows.service.accounts import SignInRefused

TOKEN = "session_token"
NOTICE = "sign_in_notice"
COOKIE = "safety_session"
_PENDING_COOKIE = "cookie_to_write"


@st.cache_resource
def service():
    svc = service_for(os.environ.get("WORKFLOW_DATA_DIR"))
    # The loaded store (every case's index, the configs) lives as long as the process: moved out of
    # the collector's sight, a full collection no longer walks it, which cost clicks 0.3–0.7 s at 100k cases.
    gc.collect()
    gc.freeze()
    threading.Thread(target=_warm, args=(svc,), name="warm-caches", daemon=True).start()
    return svc


def _warm(svc) -> None:
    """Read the archive once, in the background, for the pages that search or count every case (全部案件,
    统计, 台账, the drill calendar), so that their first view does not wait for it; then freeze that too."""
    from flows.service import dashboard, registers, search
    from flows.service.case_sets import workflow_cases

    started = time.perf_counter()
    try:
        search.index_of(svc).refresh()
        for workflow in ("blacklist", "plan_revision", "drill"):
            workflow_cases(svc, workflow)
        registers.blacklist_rows(svc, svc.clock().date())  # its credit-repair histories, read once
        dashboard.cache_of(svc).get(background=False)  # in this thread: the first snapshot
    except Exception:  # noqa: BLE001 - only a head start: each page reads what it needs itself
        return
    gc.collect()
    gc.freeze()
    print(f"后台预读完成：{len(search.index_of(svc).rows)} 件案件，用时 {time.perf_counter() - started:.1f} 秒",
          file=sys.stderr, flush=True)


def status_line(svc) -> str:
    mode = "由 Prefect 执行案件处理与定时任务" if is_orchestrated(svc) else "未连接 Prefect：案件处理在本进程内执行"
    return f"{mode}｜数据目录 {os.environ.get('WORKFLOW_DATA_DIR', './data')}"


def current_user(svc) -> str | None:
    """The signed-in person's id, or None (with the reason kept for the 登录 page)."""
    from_cookie = not st.session_state.get(TOKEN)
    token = st.session_state.get(TOKEN) or _cookie()
    if not token:
        return None
    try:
        user = svc.accounts.session_user(token)
    except SignInRefused as exc:
        st.session_state.pop(TOKEN, None)
        if from_cookie:
            st.session_state[_PENDING_COOKIE] = ""  # forget the dead token in the browser too
        if not (from_cookie and "请先登录" in str(exc)):  # an old cookie of a signed-out session says nothing
            st.session_state[NOTICE] = str(exc)
        return None
    st.session_state[TOKEN] = token
    return user


def _cookie() -> str | None:
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and value else None


def write_cookie() -> None:
    """Write (or clear) the session cookie asked for by the last sign-in or sign-out, once."""
    if _PENDING_COOKIE not in st.session_state:
        return
    import json

    token = st.session_state.pop(_PENDING_COOKIE)
    age = 0 if not token else 7 * 24 * 3600  # the server ends idle sessions long before
    # st.iframe runs an HTML string with same-origin access (our own script: the token is JSON-quoted);
    # "content" sizes the frame to its empty body
    st.iframe(f"<script>parent.document.cookie = {json.dumps(COOKIE)} + '=' + {json.dumps(token)} + "
              f"'; path=/; max-age={age}; SameSite=Strict';</script>", height="content")


def user_or_stop(svc) -> str:
    """For a page: the signed-in person, or the page stops (app.py shows 登录 on the next run)."""
    user = current_user(svc)
    if user is None:
        st.rerun()
    return user


def sign_in(svc, user_id: str, password: str) -> str | None:
    """None when signed in, else the reason."""
    try:
        st.session_state[TOKEN] = svc.accounts.sign_in(user_id, password)
    except SignInRefused as exc:
        return str(exc)
    st.session_state.pop(NOTICE, None)
    st.session_state[_PENDING_COOKIE] = st.session_state[TOKEN]
    return None


def sign_out(svc) -> None:
    svc.accounts.sign_out(st.session_state.pop(TOKEN, None) or _cookie())
    st.session_state.clear()
    st.session_state[_PENDING_COOKIE] = ""
