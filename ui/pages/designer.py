"""设计器 (admins): the office's workflows, changed in the browser without a programmer or a restart.

流程列表 on top; for the chosen workflow its draft as tables or as YAML (the two are one text),
every problem by its row, the diagram, dry runs and saved scenarios, templates, publishing with
versions, diff and rollback, one-file export and import, and who changed what. See flows.service.designer.
"""
from __future__ import annotations

import streamlit as st

from flows.service import designer, desk, draft_yaml
from ui.components import designer_run, designer_tables, designer_templates, designer_versions, diagram
from ui.components.flash import attempt, show_flash
from ui.components.text import plain
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
if not desk.is_admin(svc, svc.actor(user)):
    st.error("无权查看：只有管理员可以修改流程。")
    st.stop()
st.subheader("流程设计器")
show_flash()

open_by = designer.open_by_version(svc)  # one pass over the open cases for this run
rows = designer.workflows(svc, open_by)


def person(uid: str | None) -> str:
    found = svc.org.user(uid) if uid else None
    return found.name if found else (uid or "")



st.dataframe([{"流程": r["title"], "名称": r["name"], "已发布版本": f"第 {r['live']} 版" if r["live"] else "未发布", "草稿": r["draft"] or "",
               "草稿修改": f"{person(r['draft_by'])} {(r['draft_at'] or '')[:16].replace('T', ' ')}".strip(),
               "办理中案件（按版本）": "、".join(f"第{v}版 {n} 件" for v, n in r["open"].items()) or "无"}
              for r in rows], hide_index=True, width="stretch", key="designer-list")

with st.expander("新建流程 / 导入流程包"):
    with st.form("designer-new"):
        left, mid, right = st.columns(3)
        new_name = left.text_input("名称", key="new-workflow-name", help="小写英文和下划线，如 safety_committee；发布后不可更改")
        new_title = mid.text_input("流程名称", key="new-workflow-title", placeholder="如 安委会季度会议")
        new_code = right.text_input("编号前缀", key="new-workflow-code", help="2–6 个大写字母，如 AWH")
        if st.form_submit_button("新建流程", type="primary"):
            def made():
                designer.create(svc, user, new_name.strip(), new_title.strip(), new_code.strip())
                st.session_state["designer-pick"] = new_name.strip()
            attempt(made, f"已新建流程「{new_title}」的草稿")
    package = st.file_uploader("导入流程包（.json，含模板和测试场景）", type=["json"], key="designer-import")
    replace = st.checkbox("替换同名流程未发布的草稿", key="designer-import-replace")
    if st.button("导入", key="designer-import-go", disabled=package is None):
        def imported():
            got = designer.import_package(svc, user, package.getvalue(), replace_draft=replace)
            st.session_state["designer-pick"] = got.name
            return got
        attempt(imported, lambda got: f"已导入为草稿「{got.name}」：检查后发布")

names = [r["name"] for r in rows]
titles = {r["name"]: f"{r['title']}（{r['name']}）" for r in rows}
if not names:
    st.stop()
picked = st.session_state.pop("designer-pick", None)
if picked in names:
    st.session_state["designer-workflow"] = picked
name = st.selectbox("流程", names, format_func=titles.get, key="designer-workflow")
d = designer.draft(svc, name)
wf, problems = designer.check(svc, d)
if problems:
    with st.expander(f"已保存的草稿：{len(problems)} 处问题（发布前须全部修正）", expanded=True):
        for p in problems:
            st.markdown(f"- {plain(p.text())}")
else:
    st.success("已保存的草稿：检查通过。", icon=":material/check_circle:")

SECTIONS = ["编辑", "YAML", "流程图", "试运行", "测试场景", "模板", "发布", "导入导出", "变更记录"]
section = st.segmented_control("内容", SECTIONS, default="编辑", required=True, key="designer-section",
                               label_visibility="collapsed")
if section == "编辑":
    tree = draft_yaml.load(d.source)
    TABLES = {"基本信息": designer_tables.basics, "状态": designer_tables.states, "定时器": designer_tables.timers,
              "流转": designer_tables.transitions, "出具文书": designer_tables.documents,
              "关联案件": designer_tables.linked,
              "表单": designer_tables.form_builder,
              "并行": designer_tables.parallel, "计算字段": designer_tables.computed, "设置": designer_tables.settings}
    table = st.segmented_control("表", list(TABLES), default="基本信息", required=True, key="designer-table",
                                 label_visibility="collapsed")
    TABLES[table](svc, user, d, tree, problems)
    st.caption("登记册（register）和关联案件带入的数据在 YAML 中编辑；表格保存时保留它们和 YAML 中的注释。")
elif section == "YAML":
    text = st.text_area("流程定义（YAML）", value=d.source, height=560, key=f"yaml-{d.version}")
    if text != d.source:
        typed = designer.Draft(**{**d.__dict__, "source": text})
        found = designer.check(svc, typed)[1]
        st.caption(f"未保存的修改：{len(found)} 处问题" if found else "未保存的修改：检查通过")
        for p in found:
            st.error(p.text(), icon=":material/error:")
    if st.button("保存 YAML", type="primary", key="yaml-save", disabled=text == d.source):
        d.source = text
        attempt(lambda: designer.save(svc, user, d, what="修改 YAML"), "已保存草稿")
elif section == "流程图":
    if wf is None:
        st.warning("草稿无法解析，修正后显示流程图。")
    else:
        left, _ = st.columns([2, 3])  # at the page's full width the diagram grows to several screens
        with left:
            diagram.show(wf)
elif section in ("试运行", "测试场景"):
    if wf is None or problems:
        st.warning("草稿还有问题：修正后才能试运行。")
    elif section == "试运行":
        designer_run.dry_run(svc, user, d, wf)
    else:
        designer_run.scenarios(svc, user, d, wf)
elif section == "模板":
    designer_templates.templates(svc, user, d, wf, open_by)
elif section == "发布":
    designer_versions.publish(svc, user, d, problems, open_by)
elif section == "导入导出":
    st.download_button("导出流程包（含模板和测试场景）", data=designer.export_package(svc, name),
                       file_name=f"{name}.json", mime="application/json", key="designer-export",
                       icon=":material/download:")
    st.caption("在另一台服务器的设计器中“导入流程包”：导入为草稿，检查和试运行后再发布；不会覆盖已发布的版本。")
else:
    st.dataframe([{"时间": r["at"][:16].replace("T", " "), "操作人": person(r["by"]), "内容": r["what"]}
                  for r in designer.changes(svc, name, limit=200)], hide_index=True, width="stretch")
