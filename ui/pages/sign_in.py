"""登录: user name and password; wrong ones are counted and lock the account for a while."""
from __future__ import annotations

import streamlit as st

from ui.session import NOTICE, service, sign_in

svc = service()
st.subheader("登录")
if st.session_state.get(NOTICE):
    st.info(st.session_state[NOTICE])
with st.form("sign-in"):
    user_id = st.text_input("账号")
    password = st.text_input("密码", type="password")
    if st.form_submit_button("登录", type="primary"):
        problem = sign_in(svc, user_id, password)
        if problem:
            st.error(problem)
        else:
            st.rerun()
