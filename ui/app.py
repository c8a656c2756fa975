"""The office's app: sign-in, then the navigation built from the person's roles; each page is a file
of ui/pages/, reusable pieces are in ui/components/.

Run by `python -m flows up` (or `streamlit run ui/app.py` with WORKFLOW_DATA_DIR set). Pages call
`flows` only (never `storage`); what a person may see or do is decided by the service, the menu
only leaves out what they could not use. A click commits and returns: when PREFECT_API_URL is set
the effects (documents...) are carried out by Prefect and appear on the page by themselves.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_STARTED = time.perf_counter()  # WORKFLOW_UI_TIMINGS=FILE: each script run's time is appended there (see the end)

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flows.service import desk  # noqa: E402
from ui.session import current_user, service, sign_out, status_line, write_cookie  # noqa: E402

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="安全生产流程平台", page_icon="📋", layout="wide")
svc = service()
svc.refresh()  # what the designer published, in this process or another, is served from this run on
user = None if svc.accounts.needs_first_admin() else current_user(svc)
admin = False

if svc.accounts.needs_first_admin():
    page = st.navigation([st.Page(PAGES / "first_admin.py", title="创建管理员", icon=":material/key:")])
elif user is None:
    page = st.navigation([st.Page(PAGES / "sign_in.py", title="登录", icon=":material/login:")])
else:
    actor = svc.actor(user)
    unread = len(svc.messages(user, unread_only=True, limit=None))
    sections = {
        "我的工作": [
            st.Page(PAGES / "inbox.py", title="待办", icon=":material/inbox:", default=True),
            st.Page(PAGES / "done.py", title="已办", icon=":material/task_alt:"),
            st.Page(PAGES / "started.py", title="我发起的", icon=":material/outbox:"),
            st.Page(PAGES / "new_case.py", title="新建", icon=":material/add_circle:"),
            st.Page(PAGES / "messages.py", title=f"消息（{unread} 未读）" if unread else "消息", icon=":material/mail:"),
            st.Page(PAGES / "case.py", title="案件", icon=":material/description:", url_path="case",
                    visibility="hidden"),
        ],
    }
    whole_office = [("cases.py", "全部案件", ":material/folder_open:"), ("statistics.py", "统计", ":material/bar_chart:"),
                    ("reports.py", "演练计划与日历", ":material/calendar_month:"),
                    ("registers.py", "台账", ":material/menu_book:")]
    management = [("users.py", "用户", ":material/group:"), ("designer.py", "流程设计器", ":material/account_tree:")]
    admin = desk.is_admin(svc, actor)
    # pages a person may not use are left out of the menu but kept at their address, hidden: a link
    # or a typed URL then shows the page's own 无权查看, not Streamlit's "page not found"
    for title, pages, allowed in (("全局", whole_office, desk.sees_all(svc, actor)), ("管理", management, admin)):
        made = [st.Page(PAGES / file, title=name, icon=icon, visibility="visible" if allowed else "hidden")
                for file, name, icon in pages]
        if allowed:
            sections[title] = made
        else:
            sections["我的工作"] += made
    sections["账号"] = [st.Page(PAGES / "password.py", title="修改密码", icon=":material/password:")]
    page = st.navigation(sections)
    with st.sidebar:
        st.caption(f"{actor.name}（{actor.unit}）")
        if st.button("退出登录", key="sign-out", icon=":material/logout:"):
            sign_out(svc)
            st.rerun()

with st.sidebar:
    write_cookie()
st.title("县交通运输局安全生产流程平台")
if admin:  # where the data lives and who carries the work out: the admin's concern, not the clerk's
    st.caption(status_line(svc))
if notice := svc.config.warning():  # a workflow file that did not load is skipped; the others run
    st.warning(notice)
try:
    page.run()
finally:  # also when the page calls st.stop or st.rerun
    if os.environ.get("WORKFLOW_UI_TIMINGS"):
        with open(os.environ["WORKFLOW_UI_TIMINGS"], "a", encoding="utf-8") as _timings:
            _timings.write(f"/{page.url_path}\t{(time.perf_counter() - _STARTED) * 1000:.1f}\t{time.time():.3f}\n")
