"""创建管理员: the first start of an empty data directory (no default password exists)."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import FlowError
from ui.session import service, sign_in

svc = service()
st.subheader("首次启动：创建管理员账号")
st.write("数据目录中还没有任何可登录的管理员。请创建第一个管理员账号，之后由管理员在「用户」页添加其他人员。"
         "如只想试用，可在命令行执行 `make demo` 载入演示数据和演示账号。")
units = sorted(svc.org.unit_names)
with st.form("first-admin"):
    user_id = st.text_input("账号", value="admin", help="以小写字母开头，只含小写字母、数字和下划线")
    name = st.text_input("姓名", value="系统管理员")
    unit = st.selectbox("单位", units, index=units.index("局办公室") if "局办公室" in units else 0)
    password = st.text_input("密码", type="password")
    again = st.text_input("再次输入密码", type="password")
    if st.form_submit_button("创建并登录", type="primary"):
        if password != again:
            st.error("两次输入的密码不一致")
        else:
            try:
                svc.accounts.create_first_admin(user_id.strip(), name, unit, password)
            except FlowError as exc:
                st.error(str(exc))
            else:
                sign_in(svc, user_id.strip(), password)
                st.rerun()
