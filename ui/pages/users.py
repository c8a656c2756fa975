"""用户 (admins): add people, change their unit and roles, disable, reset passwords; every change recorded."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import FlowError
from flows.service import desk
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
if not desk.is_admin(svc, svc.actor(user)):
    st.error("无权查看：只有管理员可以管理用户。")
    st.stop()
st.subheader("用户")
people = svc.accounts.people()
st.dataframe([{"账号": p["id"], "姓名": p["name"], "单位": p["unit"], "角色": "、".join(p["roles"]),
               "状态": "已停用" if p["disabled"] else ("可登录" if p["has_password"] else "未设密码"),
               "来源": "组织机构文件" if p["source"] == "file" else "管理员添加"} for p in people],
             hide_index=True, width="stretch")
units = sorted(svc.org.unit_names)
roles = sorted(svc.config.org.role_names)


def attempt(change, done: str) -> None:
    try:
        change()
    except FlowError as exc:
        st.error(str(exc))
    else:
        st.success(done)


add, edit = st.tabs(["添加人员", "修改人员"])
with add, st.form("add-user", clear_on_submit=False):
    new_id = st.text_input("账号", help="以小写字母开头，只含小写字母、数字和下划线")
    name = st.text_input("姓名")
    unit = st.selectbox("单位", units, index=None, placeholder="请选择")
    new_roles = st.multiselect("角色", roles, placeholder="请选择")
    password = st.text_input("初始密码", type="password", help="本人首次登录后请修改")
    if st.form_submit_button("添加", type="primary"):
        attempt(lambda: svc.accounts.add_user(user, new_id.strip(), name, unit or "", new_roles, password),
                f"已添加 {name}。")
with edit:
    ids = [p["id"] for p in people]
    labels = {p["id"]: f"{p['name']}（{p['id']}，{p['unit']}）" for p in people}
    chosen = st.selectbox("人员", ids, format_func=labels.get, key="edit-user")
    person = next(p for p in people if p["id"] == chosen)
    with st.form(f"edit-{chosen}"):
        name = st.text_input("姓名", value=person["name"])
        unit = st.selectbox("单位", units, index=units.index(person["unit"]) if person["unit"] in units else None)
        chosen_roles = st.multiselect("角色", roles, default=[r for r in person["roles"] if r in roles],
                                      placeholder="请选择")
        if st.form_submit_button("保存"):
            attempt(lambda: svc.accounts.set_user(user, chosen, name=name, unit=unit, roles=chosen_roles), "已保存。")
    left, right = st.columns(2)
    with left, st.form(f"reset-{chosen}", clear_on_submit=True):
        password = st.text_input("新密码", type="password")
        if st.form_submit_button("重置密码"):
            attempt(lambda: svc.accounts.reset_password(user, chosen, password), "密码已重置，本人登录后需修改。")
    with right:
        if person["disabled"]:
            if st.button("启用账号", key=f"enable-{chosen}"):
                attempt(lambda: svc.accounts.set_disabled(user, chosen, False), "已启用。")
        elif st.button("停用账号", key=f"disable-{chosen}"):
            attempt(lambda: svc.accounts.set_disabled(user, chosen, True), "已停用。")
with st.expander("变更记录"):
    actions = {"added": "添加", "changed": "修改", "disabled": "停用", "enabled": "启用", "password_reset": "重置密码",
               "password_changed": "本人修改密码", "locked": "密码错误次数过多而锁定", "first_admin": "创建首个管理员"}
    st.dataframe([{"时间": r["at"].replace("T", " ")[:16], "操作人": r["by"], "人员": r["user"],
                   "操作": actions.get(r["action"], r["action"]), "内容": r.get("detail", "")}
                  for r in svc.accounts.log(200)], hide_index=True, width="stretch")
