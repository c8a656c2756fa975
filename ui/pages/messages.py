"""消息: my 待办提醒 and 催办, newest first; opening one goes to its case."""
from __future__ import annotations

import streamlit as st

from ui.components.text import plain
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
st.subheader("消息")
rows = svc.messages(user, limit=100)
unread = [m for m in rows if not m["read"]]
st.caption(f"共 {len(rows)} 条，未读 {len(unread)} 条")
if unread and st.button("全部标为已读", key="msg-read"):
    svc.mark_read(user, [m["_key"] for m in unread])
    st.rerun()
kinds = {"task": "待办提醒", "escalation": "催办"}
for m in rows:
    with st.container(border=True):
        mark = ":red[未读]　" if not m["read"] else ""
        st.markdown(f"{mark}{m['at'][:16].replace('T', ' ')}　【{kinds.get(m['kind'], m['kind'])}】{plain(m['text'])}")
        st.page_link("pages/case.py", label=f"打开案件 {m['case_id']}", query_params={"id": m["case_id"]})
