"""消息: each person's 待办提醒 and 催办."""
from __future__ import annotations

import streamlit as st

from ui.session import service


def messages_page(svc) -> None:
    """Each person's 待办提醒 and 催办 (until sign-in exists, whose list is chosen here)."""
    users = {u.id: f"{u.name}（{u.unit}）" for u in svc.org.users}
    user = st.selectbox("人员", list(users), format_func=users.get, key="msg-user")
    rows = svc.messages(user, limit=100)
    unread = [m for m in rows if not m["read"]]
    st.caption(f"共 {len(rows)} 条，未读 {len(unread)} 条")
    if unread and st.button("全部标为已读", key="msg-read"):
        svc.mark_read(user, [m["_key"] for m in unread])
        st.rerun()
    kinds = {"task": "待办提醒", "escalation": "催办"}
    for m in rows:
        mark = "" if m["read"] else ":red[未读]　"
        st.write(f"{mark}{m['at'][:16].replace('T', ' ')}　【{kinds.get(m['kind'], m['kind'])}】{m['text']}"
                 f"　（案件 {m['case_id']}）")


messages_page(service())
