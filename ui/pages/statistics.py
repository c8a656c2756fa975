"""Placeholder while the page is being built (issue 11)."""
from __future__ import annotations

import streamlit as st

from flows.service import desk
from ui.session import service, user_or_stop

svc = service()
if not desk.sees_all(svc, svc.actor(user_or_stop(svc))):
    st.error("无权查看：本页只对局领导、安委办和管理员开放。")
    st.stop()
st.caption("建设中")
