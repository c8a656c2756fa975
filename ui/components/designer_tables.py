"""编辑: a draft as tables (basics, states, timers, transitions, each step's form, settings).

Each table is a data editor over the draft's YAML; 保存 puts the rows back into the YAML tree with
`flows.service.draft_yaml` (what a table does not show, comments included, is kept) and saves the
draft with its version, so a colleague's save in between is refused, not overwritten. The problems
of each table's rows are listed under it.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from flows.core.forms import FIELD_KINDS
from flows.service import designer, draft_yaml
from flows.service.draft_check import Problem
from ui.components.flash import attempt

cc = st.column_config
KIND_NAMES = {"text": "单行文字", "textarea": "多行文字", "number": "数字", "date": "日期", "datetime": "日期时间",
              "choice": "单选", "multichoice": "多选", "bool": "是/否", "person": "人员", "unit": "单位",
              "enterprise": "企业", "file": "附件", "table": "表格"}
TRANSITION_KINDS = ["normal", "return", "reject"]
TIMER_UNITS = ["days", "workdays", "months", "years"]


def _text_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _scalar(text: Any) -> Any:
    """A cell typed as text, read as YAML would: 10 → 10, 1.5 → 1.5, true/false, else the text."""
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    try:
        return float(stripped) if "." in stripped else {"true": True, "false": False}.get(stripped, stripped)
    except ValueError:
        return stripped


def _records(edited) -> list[dict]:
    """A data editor's rows (a list of dicts or a DataFrame) as plain dicts, NaN as None."""
    rows = edited.to_dict("records") if hasattr(edited, "to_dict") else list(edited)
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()} for row in rows]


def problems_of(problems: list[Problem], *sections: str) -> None:
    mine = [p for p in problems if p.section in sections]
    for p in mine:
        st.error(p.text(), icon=":material/error:")


def _save(svc, user: str, d: designer.Draft, change, what: str) -> None:
    def saved():
        tree = draft_yaml.load(d.source)
        change(tree)
        d.source = draft_yaml.dump(tree)
        designer.save(svc, user, d, what=what)
    attempt(saved, f"已保存：{what}")


def basics(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    roles, units = sorted(svc.config.org.role_names), sorted(svc.org.unit_names)
    forms = list((tree.get("forms") or {}).keys())
    with st.form(f"basics-{d.version}"):
        left, right = st.columns(2)
        title = left.text_input("流程名称", value=tree.get("title", ""))
        code = right.text_input("编号前缀", value=tree.get("code", ""), help="2–6 个大写字母，如 AWH；案件编号为 前缀-年度-序号")
        description = st.text_area("说明", value=tree.get("description", ""), height=68)
        title_template = st.text_input("案件标题", value=tree.get("title_template") or "",
                                       help="可用 {字段名}，如 {quarter}安委会会议；留空为“流程名称 + 案件编号”")
        left, right = st.columns(2)
        start_roles = left.multiselect("可发起的角色", roles, default=[r for r in _text_list(tree.get("start_roles")) if r in roles],
                                     placeholder="请选择")
        start_units = right.multiselect("只限这些单位发起", units,
                                        default=[u for u in _text_list(tree.get("start_units")) if u in units],
                                        placeholder="不限")
        start_form = st.selectbox("发起表单", ["（无）", *forms], index=1 + forms.index(tree["start_form"])
                                  if tree.get("start_form") in forms else 0)
        submitted = st.form_submit_button("保存基本信息", type="primary")
    problems_of([p for p in problems if p.section is None and p.path], None)
    if submitted:
        def change(t):
            for key, value in (("title", title), ("code", code), ("description", description),
                               ("title_template", title_template or None), ("start_roles", start_roles),
                               ("start_units", start_units or None),
                               ("start_form", None if start_form == "（无）" else start_form)):
                if value in (None, [], "") and key not in ("title", "code"):
                    t.pop(key, None)
                elif t.get(key) != value:  # untouched keys keep their layout (a flow list stays one)
                    t[key] = value
        _save(svc, user, d, change, "修改基本信息")


def states(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    rows = [{"name": s.get("name"), "label": s.get("label"), "initial": bool(s.get("initial")),
             "final": bool(s.get("final"))} for s in tree.get("states") or [] if isinstance(s, dict)]
    edited = st.data_editor(rows, key=f"states-{d.version}", num_rows="dynamic", width="stretch", hide_index=True,
                            column_config={"name": cc.TextColumn("名称", required=True, help="小写英文，如 signing"),
                                           "label": cc.TextColumn("显示名", required=True),
                                           "initial": cc.CheckboxColumn("初始状态"), "final": cc.CheckboxColumn("结束状态")})
    problems_of([p for p in problems if not (p.path.split(".")[1:2] and "timers" in p.path)], "states")
    if st.button("保存状态", key=f"save-states-{d.version}"):
        _save(svc, user, d, lambda t: draft_yaml.apply_rows(t, "states", _records(edited),
                                                            ["name", "label", "initial", "final"]), "修改状态")


def timers(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    state_names = [s.get("name") for s in tree.get("states") or [] if isinstance(s, dict)]
    transitions = [t.get("name") for t in tree.get("transitions") or [] if isinstance(t, dict)]
    roles = sorted(svc.config.org.role_names)
    rows = [{"state": s.get("name"), "name": tm.get("name"), "label": tm.get("label"), "after": str(tm.get("after", "")),
             "unit": tm.get("unit"), "action": tm.get("action"), "transition": tm.get("transition"),
             "notify": _text_list(tm.get("notify")), "from_field": tm.get("from_field")}
            for s in tree.get("states") or [] if isinstance(s, dict) for tm in s.get("timers") or []]
    edited = st.data_editor(rows, key=f"timers-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "state": cc.SelectboxColumn("所在状态", options=state_names, required=True),
        "name": cc.TextColumn("名称", required=True), "label": cc.TextColumn("显示名", required=True),
        "after": cc.TextColumn("期限", required=True, help="数字，或设置名如 settings.supervise_workdays"),
        "unit": cc.SelectboxColumn("单位", options=TIMER_UNITS, help="days 自然日（留空即是）、workdays 工作日、months 月、years 年"),
        "action": cc.SelectboxColumn("到期处理", options=["escalate", "fire"], required=True,
                                     help="escalate 催办持有人及其上级；fire 自动执行下面的流转"),
        "transition": cc.SelectboxColumn("自动流转", options=transitions),
        "notify": cc.MultiselectColumn("另外通知", options=roles),
        "from_field": cc.TextColumn("起算日期字段")})
    problems_of([p for p in problems if ".timers" in p.path], "states")
    if st.button("保存定时器", key=f"save-timers-{d.version}"):
        def change(t):
            by_state: dict[str, list[dict]] = {}
            for row in _records(edited):
                if row.get("state") and row.get("name"):
                    row["after"] = _scalar(row.get("after"))
                    by_state.setdefault(row.pop("state"), []).append(row)
            for s in t.get("states") or []:
                if by_state.get(s.get("name")):
                    timers_tree = s.get("timers")
                    holder = {"timers": timers_tree} if timers_tree is not None else {}
                    draft_yaml.apply_rows(holder, "timers", by_state[s["name"]],
                                          ["name", "label", "after", "unit", "action", "transition", "notify",
                                           "from_field"])
                    s["timers"] = holder["timers"]
                elif "timers" in s:
                    del s["timers"]
        _save(svc, user, d, change, "修改定时器")


def transitions(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    state_names = [s.get("name") for s in tree.get("states") or [] if isinstance(s, dict)]
    targets = state_names + [s.get("name") for s in tree.get("splits") or [] if isinstance(s, dict)]
    roles, units = sorted(svc.config.org.role_names), sorted(svc.org.unit_names)
    people = sorted(u.id for u in svc.org.users)
    forms = list((tree.get("forms") or {}).keys())
    rows = []
    for t in tree.get("transitions") or []:
        if not isinstance(t, dict):
            continue
        cs = t.get("countersign") or {}
        rows.append({"name": t.get("name"), "label": t.get("label"), "from": _text_list(t.get("from")),
                     "to": t.get("to"), "roles": _text_list(t.get("roles")), "units": _text_list(t.get("units")),
                     "actor_of": t.get("actor_of"), "assignee": t.get("assignee"), "own_unit": bool(t.get("own_unit")),
                     "kind": t.get("kind"), "form": t.get("form"),
                     "guard": t.get("guard"), "guard_message": t.get("guard_message"), "guard_field": t.get("guard_field"),
                     "comment_required": bool(t.get("comment_required")),
                     "cs_role": cs.get("role"), "cs_units": _text_list(cs.get("units")),
                     "cs_users": _text_list(cs.get("users"))})
    edited = st.data_editor(rows, key=f"transitions-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "name": cc.TextColumn("名称", required=True), "label": cc.TextColumn("按钮文字", required=True),
        "from": cc.MultiselectColumn("起点", options=state_names), "to": cc.SelectboxColumn("目标", options=targets),
        "roles": cc.MultiselectColumn("角色", options=roles), "units": cc.MultiselectColumn("只限单位", options=units),
        "actor_of": cc.TextColumn("原经办人", help="填写某个流转的名称：只由最近一次执行它的人办理（退回给原上报人）"),
        "assignee": cc.TextColumn("指定人员字段", help="人员字段名：只由该字段选定的人办理，如各组调查负责人"),
        "own_unit": cc.CheckboxColumn("限本案承办单位"),
        "kind": cc.SelectboxColumn("类型", options=TRANSITION_KINDS, help="留空为正常；return 退回、reject 不予通过"),
        "form": cc.SelectboxColumn("表单", options=forms), "guard": cc.TextColumn("条件", help="表达式，如 passed == true"),
        "guard_message": cc.TextColumn("条件不满足时的提示"),
        "guard_field": cc.TextColumn("提示所在字段", help="表单字段名：条件不满足时提示显示在该字段下，如 notice_date；留空显示在表单下方"),
        "comment_required": cc.CheckboxColumn("须填意见"),
        "cs_role": cc.SelectboxColumn("会签角色", options=roles), "cs_units": cc.MultiselectColumn("会签单位", options=units),
        "cs_users": cc.MultiselectColumn("会签人员", options=people,
                                         format_func=lambda uid: f"{svc.org.user(uid).name}（{uid}）")})
    problems_of(problems, "transitions")
    if st.button("保存流转", key=f"save-transitions-{d.version}"):
        def change(t):
            out = []
            for row in _records(edited):
                sources = _text_list(row.get("from"))
                row["from"] = sources[0] if len(sources) == 1 else sources
                cs = {k: v for k, v in (("role", row.pop("cs_role", None)), ("units", _text_list(row.pop("cs_units", None))),
                                        ("users", _text_list(row.pop("cs_users", None)))) if v}
                row["countersign"] = cs or None
                out.append(row)
            draft_yaml.apply_rows(t, "transitions", out, ["name", "label", "from", "to", "roles", "units", "actor_of",
                                                          "assignee", "own_unit",
                                                          "kind", "form", "guard", "guard_message", "guard_field",
                                                          "comment_required",
                                                          "countersign"])
        _save(svc, user, d, change, "修改流转")


def form_builder(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    forms = tree.get("forms") or {}
    names = list(forms.keys())
    chosen = st.selectbox("表单", [*names, "＋ 新表单"], key=f"form-pick-{d.name}")
    new = chosen == "＋ 新表单"
    form_name = st.text_input("表单名称", key=f"form-new-{d.version}", help="小写英文，如 minutes") if new else chosen
    form = {} if new else forms.get(chosen) or {}
    title = st.text_input("表单标题", value=form.get("title", ""), key=f"form-title-{d.version}-{chosen}")
    rows = [{"order": i + 1, "name": f.get("name"), "label": f.get("label"), "kind": f.get("kind"),
             "required": bool(f.get("required")), "options": _text_list(f.get("options")),
             "min": f.get("min"), "max": f.get("max"), "max_length": f.get("max_length"), "pattern": f.get("pattern"),
             "default": None if f.get("default") is None else str(f.get("default")),
             "visible_when": f.get("visible_when"), "help": f.get("help")}
            for i, f in enumerate(form.get("fields") or []) if isinstance(f, dict)]
    edited = st.data_editor(rows, key=f"fields-{d.version}-{chosen}", num_rows="dynamic", width="stretch", column_config={
        "order": cc.NumberColumn("顺序", step=1, help="改数字可调整字段顺序"),
        "name": cc.TextColumn("字段名", required=True, help="小写英文，如 meeting_date；模板中写 {{ case.data.字段名 }}"),
        "label": cc.TextColumn("标签", required=True),
        "kind": cc.SelectboxColumn("类型", options=list(FIELD_KINDS), required=True, format_func=lambda k: KIND_NAMES.get(k, k)),
        "required": cc.CheckboxColumn("必填"), "options": cc.MultiselectColumn("选项", options=[], accept_new_options=True),
        "min": cc.NumberColumn("最小值"), "max": cc.NumberColumn("最大值"), "max_length": cc.NumberColumn("最长", step=1),
        "pattern": cc.TextColumn("格式（正则）"), "default": cc.TextColumn("默认值"),
        "visible_when": cc.TextColumn("显示条件", help="表达式，如 needs_revision == true"), "help": cc.TextColumn("说明")})
    form_key = f"forms.{form_name}." if form_name else "forms.?"
    for p in problems:
        if p.path.startswith(form_key):
            st.error(p.text(), icon=":material/error:")
    left, right = st.columns([1, 5])
    if left.button("保存表单", key=f"save-form-{d.version}-{chosen}", disabled=not form_name):
        rows_out = sorted(_records(edited), key=lambda r: (r.get("order") is None, r.get("order") or 0))
        for row in rows_out:
            row.pop("order", None)
            row["default"] = _scalar(row.get("default"))
            for key in ("min", "max"):
                if isinstance(row.get(key), float) and row[key].is_integer():
                    row[key] = int(row[key])
        _save(svc, user, d, lambda t: draft_yaml.form_fields(t, form_name, title, rows_out,
                                                             ["name", "label", "kind", "required", "options", "min",
                                                              "max", "max_length", "pattern", "default",
                                                              "visible_when", "help"]),
              f"修改表单 {form_name}")
    if not new and right.button("删除此表单", key=f"drop-form-{d.version}-{chosen}"):
        _save(svc, user, d, lambda t: draft_yaml.remove_form(t, chosen), f"删除表单 {chosen}")


def settings(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    rows = [{"key": k, "value": str(v)} for k, v in (tree.get("settings") or {}).items()]
    edited = st.data_editor(rows, key=f"settings-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "key": cc.TextColumn("设置名", required=True, help="条件和期限中写 settings.设置名"),
        "value": cc.TextColumn("值", required=True)})
    problems_of(problems, "settings")
    if st.button("保存设置", key=f"save-settings-{d.version}"):
        out = [{**row, "value": _scalar(row.get("value"))} for row in _records(edited)]
        _save(svc, user, d, lambda t: draft_yaml.apply_mapping(t, "settings", out, "key", "value"), "修改设置")


def _grouped(tree: dict, section: str, groups: list[dict], key: str, child: str, columns: list[str],
             own: dict[str, str]) -> None:
    """Rows of `section` items, one row per child (branch, rule): grouped back by `key`; `own` maps
    an item's own columns (in each row) to its keys; items keep what the table does not show."""
    by_item: dict[str, dict] = {}
    for row in groups:
        name = row.get(key)
        if not name:
            continue
        item = by_item.setdefault(name, {"name": name, child: []})
        for column, field in own.items():
            if row.get(column) not in (None, "") and field not in item:
                item[field] = row[column]
        child_row = {c: row.get(c) for c in columns}
        if any(v not in (None, "") for v in child_row.values()):
            item[child].append(child_row)
    old = {i.get("name"): i for i in tree.get(section) or [] if isinstance(i, dict)}
    rows = []
    for name, item in by_item.items():
        holder = {child: old[name][child]} if name in old and child in old[name] else {}
        draft_yaml.apply_rows(holder, child, item.pop(child), columns, key=columns[0])
        rows.append({**item, child: holder[child]})
    draft_yaml.apply_rows(tree, section, rows, ["name", *own.values(), child], flow_style=False)


def parallel(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    """并行拆分 (one row per branch) and 并行汇合: 一案三查's three checks side by side, say."""
    state_names = [s.get("name") for s in tree.get("states") or [] if isinstance(s, dict)]
    st.markdown("**并行拆分**（每个分支一行；流转的「目标」填拆分名称即进入并行）")
    rows = [{"split": sp.get("name"), "split_label": sp.get("label"), "name": b.get("name"), "label": b.get("label"),
             "start": b.get("start"), "end": b.get("end")}
            for sp in tree.get("splits") or [] if isinstance(sp, dict) for b in sp.get("branches") or []]
    splits = st.data_editor(rows, key=f"splits-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "split": cc.TextColumn("拆分名称", required=True), "split_label": cc.TextColumn("拆分显示名"),
        "name": cc.TextColumn("分支名称", required=True), "label": cc.TextColumn("分支显示名", required=True),
        "start": cc.SelectboxColumn("分支起点状态", options=state_names),
        "end": cc.SelectboxColumn("分支终点状态", options=state_names)})
    problems_of(problems, "splits")
    st.markdown("**并行汇合**（各分支都到达终点后，进入「汇合到」的状态）")
    join_rows = [{"name": j.get("name"), "split": j.get("split"), "to": j.get("to")}
                 for j in tree.get("joins") or [] if isinstance(j, dict)]
    joins = st.data_editor(join_rows, key=f"joins-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "name": cc.TextColumn("汇合名称", required=True),
        "split": cc.TextColumn("对应的拆分", required=True), "to": cc.SelectboxColumn("汇合到", options=state_names)})
    problems_of(problems, "joins")
    if st.button("保存并行", key=f"save-parallel-{d.version}"):
        def change(t):
            _grouped(t, "splits", _records(splits), "split", "branches", ["name", "label", "start", "end"],
                     {"split_label": "label"})
            draft_yaml.apply_rows(t, "joins", _records(joins), ["name", "split", "to"])
            for section in ("splits", "joins"):
                if not t.get(section):
                    t.pop(section, None)
        _save(svc, user, d, change, "修改并行拆分与汇合")


def computed(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    """计算字段: a value worked out from the form's answers by the first rule whose condition holds."""
    st.markdown("**计算字段**（每条规则一行，自上而下取第一条条件成立的值；条件留空表示其余情况）")
    rows = [{"field": c.get("name"), "field_label": c.get("label"), "when": r.get("when"),
             "value": None if r.get("value") is None else str(r.get("value"))}
            for c in tree.get("computed") or [] if isinstance(c, dict) for r in c.get("rules") or []]
    edited = st.data_editor(rows, key=f"computed-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "field": cc.TextColumn("字段名", required=True), "field_label": cc.TextColumn("显示名"),
        "when": cc.TextColumn("条件", help="表达式，如 injuries >= 3"), "value": cc.TextColumn("值", required=True)})
    problems_of(problems, "computed")
    if st.button("保存计算字段", key=f"save-computed-{d.version}"):
        records = [{**r, "value": _scalar(r.get("value")), "name": r.get("field")} for r in _records(edited)]

        def change(t):
            by_field: dict[str, dict] = {}
            for r in records:
                if r.get("field"):
                    entry = by_field.setdefault(r["field"], {"name": r["field"], "rules": []})
                    entry.setdefault("label", r.get("field_label"))
                    entry["rules"].append({"when": r.get("when"), "value": r.get("value")})
            old = {c.get("name"): c for c in t.get("computed") or [] if isinstance(c, dict)}
            items = []
            for name, entry in by_field.items():
                rules = draft_yaml.CommentedSeq()
                for rule in entry["rules"]:
                    made = draft_yaml.CommentedMap()
                    made.fa.set_flow_style()
                    for key in ("when", "value"):
                        if rule.get(key) not in (None, ""):
                            made[key] = rule[key]
                    rules.append(made)
                same = name in old and [dict(r) for r in old[name].get("rules") or []] == [dict(r) for r in rules]
                items.append({"name": name, "label": entry.get("label"), "rules": old[name]["rules"] if same else rules})
            draft_yaml.apply_rows(t, "computed", items, ["name", "label", "rules"], flow_style=False)
            if not t.get("computed"):
                t.pop("computed", None)
        _save(svc, user, d, change, "修改计算字段")


def documents(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    """出具文书: which step issues which template, and on what condition (one row each)."""
    steps = {t.get("name"): t.get("label") for t in tree.get("transitions") or [] if isinstance(t, dict)}
    templates = sorted({p.stem for p in svc.config.templates_dir.glob("*.docx")} | set(d.templates))
    rows = [{"transition": t.get("name"), "template": doc if isinstance(doc, str) else doc.get("template"),
             "when": None if isinstance(doc, str) else doc.get("when")}
            for t in tree.get("transitions") or [] if isinstance(t, dict) for doc in t.get("documents") or []]
    edited = st.data_editor(rows, key=f"documents-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "transition": cc.SelectboxColumn("流转", options=list(steps), required=True,
                                         format_func=lambda n: f"{steps.get(n) or n}（{n}）"),
        "template": cc.SelectboxColumn("文书模板", options=templates, required=True,
                                       help="新模板先在「模板」中输入名称并上传"),
        "when": cc.TextColumn("出具条件", help="表达式，如 review_passed；留空表示总是出具")})
    problems_of([p for p in problems if ".documents" in p.path], "transitions")
    if st.button("保存文书", key=f"save-documents-{d.version}"):
        def change(t):
            by_step: dict[str, list] = {}
            for row in _records(edited):
                if row.get("transition") and row.get("template"):
                    by_step.setdefault(row["transition"], []).append(
                        {"template": row["template"], "when": row["when"]} if row.get("when") else row["template"])
            for item in t.get("transitions") or []:
                wanted = by_step.get(item.get("name"), [])
                current = [doc if isinstance(doc, str) else dict(doc) for doc in item.get("documents") or []]
                if wanted == current:
                    continue  # untouched: its layout stays as typed
                if not wanted:
                    item.pop("documents", None)
                    continue
                made = draft_yaml.CommentedSeq()
                made.fa.set_flow_style()
                for doc in wanted:
                    if isinstance(doc, dict):
                        entry = draft_yaml.CommentedMap(doc)
                        entry.fa.set_flow_style()
                        made.append(entry)
                    else:
                        made.append(doc)
                item["documents"] = made
        _save(svc, user, d, change, "修改出具文书")


def linked(svc, user: str, d: designer.Draft, tree: dict, problems: list[Problem]) -> None:
    """关联案件: a step that starts a case of another workflow (一案三查's 责任追究, say), on a condition.
    The new case's data (field → expression) is kept from the YAML and edited there."""
    steps = {t.get("name"): t.get("label") for t in tree.get("transitions") or [] if isinstance(t, dict)}
    workflows = sorted(svc.config.workflows)
    rows = [{"transition": t.get("name"), "workflow": start.get("workflow"), "when": start.get("when"),
             "relation": start.get("relation"), "data": "、".join(start.get("data") or {})}
            for t in tree.get("transitions") or [] if isinstance(t, dict) for start in t.get("starts") or []]
    edited = st.data_editor(rows, key=f"linked-{d.version}", num_rows="dynamic", width="stretch", column_config={
        "transition": cc.SelectboxColumn("流转", options=list(steps), required=True,
                                         format_func=lambda n: f"{steps.get(n) or n}（{n}）"),
        "workflow": cc.SelectboxColumn("发起的流程", options=workflows, required=True,
                                       format_func=lambda n: svc.config.workflows[n].title if n in svc.config.workflows else n),
        "when": cc.TextColumn("条件", help="表达式；留空表示总是发起"), "relation": cc.TextColumn("关系", help="如 责任追究"),
        "data": cc.TextColumn("带入的字段", disabled=True, help="新案件的数据（字段 → 表达式）在 YAML 的 starts.data 中编辑")})
    problems_of([p for p in problems if ".starts" in p.path], "transitions")
    if st.button("保存关联案件", key=f"save-linked-{d.version}"):
        def change(t):
            by_step: dict[str, list[dict]] = {}
            for row in _records(edited):
                if row.get("transition") and row.get("workflow"):
                    by_step.setdefault(row["transition"], []).append(row)
            for item in t.get("transitions") or []:
                wanted = by_step.get(item.get("name"), [])
                if not wanted:
                    item.pop("starts", None)
                    continue
                holder = {"starts": item["starts"]} if "starts" in item else {}
                draft_yaml.apply_rows(holder, "starts", wanted, ["workflow", "when", "relation"], key="workflow",
                                      flow_style=False)
                item["starts"] = holder["starts"]
        _save(svc, user, d, change, "修改关联案件")
