"""修改密码: a person changes their own password."""
from __future__ import annotations

import streamlit as st

from flows.service.accounts import SignInRefused
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
st.subheader("修改密码")
if svc.accounts.must_change_password(user):
    st.warning("您的密码由管理员设置，请改为只有您知道的密码。")
with st.form("password", clear_on_submit=True):
    old = st.text_input("原密码", type="password")
    new = st.text_input("新密码", type="password",
                        help=f"至少 {svc.config.platform.security.min_password_length} 个字符")
    again = st.text_input("再次输入新密码", type="password")
    if st.form_submit_button("修改", type="primary"):
        if new != again:
            st.error("两次输入的新密码不一致")
        else:
            try:
                svc.accounts.change_password(user, old, new)
            except SignInRefused as exc:
                st.error(str(exc))
            else:
                st.success("密码已修改，下次登录请使用新密码。")
