"""The year's drill plan on the page: generate it, adjust its rows (dates, organisers, scenarios) in a
table, publish it, and see per plan and period what was due and done. The rules are in
flows.jobs.plan_edit (rows) and flows.jobs.drill_publish (publishing); this module only draws them.

The table is edited from the version of the plan read when editing began (kept in the session), so a
save made by someone else meanwhile is refused with 计划已被他人修改 instead of being overwritten.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from flows.core.errors import FlowError
from flows.jobs import drill_publish, plan_edit
from flows.service import reports
from ui.components.downloads import download
from ui.components.jobs import run_job
from ui.components.text import plain

L = plan_edit.LABELS
STATE = "发起情况"
_FLASH = "drill-plan-flash"


# ------------------------------------------------------------------ jobs with their progress

def _flash(*lines: tuple[str, str]) -> None:
    st.session_state[_FLASH] = list(lines)


def show_flash() -> None:
    for kind, text in st.session_state.pop(_FLASH, []):
        getattr(st, kind)(text)


# ------------------------------------------------------------------ generating

def generate_section(svc, year: int, plan: dict | None) -> None:
    if plan is not None and plan["published_at"]:
        return
    confirm = True
    if plan is not None and plan["edited_at"]:
        confirm = st.checkbox(f"重新生成将放弃 {plan['edited_at'][:16].replace('T', ' ')} 保存的修改", key=f"regen-ok-{year}")
    label = "重新生成年度应急演练计划" if plan is not None else "生成年度应急演练计划"
    if st.button(label, key="drill-plan-generate", disabled=not confirm):
        made = run_job(svc, "drill-plan", {"year": year}, f"生成 {year} 年度应急演练计划")
        if made is not None:
            _reset(year)
            _flash(("success", f"已生成 {year} 年度应急演练计划，共 {made['rows']} 项（{made['number'] or '无文号'}）。"))
            st.rerun()


# ------------------------------------------------------------------ the editable table

def _base_key(year: int) -> str:
    return f"plan-base-{year}"


def _editor_key(year: int, version: int) -> str:
    return f"plan-editor-{year}-{version}"


def forget_edits(year: int) -> None:
    """The table being edited is dropped: the stored plan changed (a job made or published it)."""
    _reset(year)


def _reset(year: int) -> None:
    base = st.session_state.pop(_base_key(year), None)
    if base is not None:
        st.session_state.pop(_editor_key(year, base["version"]), None)


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        L["seq"]: r["seq"], L["drill_name"]: r["drill_name"], L["period"]: r["period"],
        L["planned_date"]: date.fromisoformat(r["planned_date"]) if r.get("planned_date") else None,
        L["owner_unit"]: r.get("owner_unit") or None, L["scenario"]: r.get("scenario") or None,
        STATE: f"未能发起：{r['error']}" if r.get("error") else "未发起",
    } for r in rows], columns=[L["seq"], L["drill_name"], L["period"], L["planned_date"], L["owner_unit"],
                               L["scenario"], STATE])


def _edited_rows(frame: pd.DataFrame) -> list[dict]:
    out = []
    for rec in frame.to_dict("records"):
        out.append({"seq": rec[L["seq"]], "planned_date": rec[L["planned_date"]],
                    "owner_unit": rec[L["owner_unit"]] if isinstance(rec[L["owner_unit"]], str) else "",
                    "scenario": rec[L["scenario"]] if isinstance(rec[L["scenario"]], str) else ""})
    return out


def editor_section(svc, user: str, plan: dict) -> bool:
    """The rows without a case, editable; returns True when the table holds unsaved changes."""
    year = plan["year"]
    base = st.session_state.get(_base_key(year))
    if base is None:
        base = {"version": plan["version"], "rows": [r for r in plan["rows"] if not r["locked"]]}
        st.session_state[_base_key(year)] = base
    if base["version"] != plan["version"]:
        st.info("计划已被他人修改或已发布；刷新后看到最新内容（表中未保存的修改会放弃）。")
        if st.button("刷新计划", key=f"plan-refresh-{year}"):
            _reset(year)
            st.rerun()
    if not base["rows"]:
        return False
    st.markdown("**调整计划**（计划日期、组织单位、场景类别可改；改好后点「保存修改」）")
    if plan["published_at"]:
        st.caption("计划已发布：已发起案件的演练不能在此修改（在其案件中办理），这里只列出尚未发起的；"
                   "已印发的计划文件保持原样，这里的修改用于补发案件。")
    first, last = date(year, 1, 1), date(year, 12, 31)
    left, right = st.columns([3, 1])
    with left:
        edited = st.data_editor(
            _frame(base["rows"]), key=_editor_key(year, base["version"]), hide_index=True, num_rows="fixed",
            disabled=[L["seq"], L["drill_name"], L["period"], STATE],
            column_config={
                L["seq"]: st.column_config.NumberColumn(width="small"),
                L["planned_date"]: st.column_config.DateColumn(min_value=first, max_value=last, format="YYYY-MM-DD",
                                                               required=True, help="须为该周期内的工作日"),
                L["owner_unit"]: st.column_config.SelectboxColumn(options=plan_edit.organisers(svc), required=True),
                L["scenario"]: (st.column_config.SelectboxColumn(options=plan_edit.scenarios(svc), required=True)
                                if plan_edit.scenarios(svc) else
                                st.column_config.TextColumn(max_chars=plan_edit.SCENARIO_MAX, required=True)),
                STATE: st.column_config.TextColumn(width="large"),
            })
    rows = _edited_rows(edited)
    changed = bool(st.session_state.get(_editor_key(year, base["version"]), {}).get("edited_rows"))
    problems = plan_edit.check_rows(svc, year, rows, plan["rows"])
    with right:
        if problems:
            st.error(f"有 {len(problems)} 处需要修改（改正前不能保存）：\n\n"
                     + "\n".join(f"- {plain(p)}" for p in problems))
        else:
            st.success("各行均已核对无误。")
    with left:
        if st.button("保存修改", key=f"plan-save-{year}", type="primary", disabled=not changed or bool(problems)):
            try:
                out = plan_edit.save_rows(svc, year, rows, base["version"], user, svc.clock())
            except plan_edit.PlanConflict as exc:
                st.warning(str(exc))
            except plan_edit.PlanRowsInvalid as exc:
                with right:
                    st.error("未保存：\n\n" + "\n".join(f"- {plain(p)}" for p in exc.problems))
            except FlowError as exc:
                st.error(f"未保存：{exc}")
            else:
                _reset(year)
                _flash(("success", f"已保存 {out['changed']} 项修改。"))
                st.rerun()
    return changed


def started_section(plan: dict) -> None:
    started = [r for r in plan["rows"] if r["locked"]]
    if not started:
        return
    st.markdown(f"**已发起案件的演练**（{len(started)} 项，不能再在计划中修改；点日历中的演练打开其案件）")
    st.dataframe(pd.DataFrame([{L["seq"]: r["seq"], L["drill_name"]: r["drill_name"], L["planned_date"]: r["planned_date"],
                                L["owner_unit"]: r.get("owner_unit"), L["scenario"]: r.get("scenario"),
                                "案件": r["case_id"]} for r in started]), hide_index=True)


# ------------------------------------------------------------------ publishing and coverage

def publish_section(svc, plan: dict, unsaved: bool) -> None:
    year = plan["year"]
    pending = [r for r in plan["rows"] if not r["locked"]]
    if plan["published_at"]:
        st.caption(f"{year} 年度计划已于 {plan['published_at'][:10]} 发布，已发起 "
                   f"{len(plan['rows']) - len(pending)} 个演练案件")
    if not pending and plan["published_at"]:
        return
    if unsaved:
        st.caption("表中有未保存的修改：先保存，再发布（发布按保存的计划发起案件）。")
    label = "补发未发起的演练案件" if plan["published_at"] else "发布计划并发起演练案件"
    if st.button(label, key="drill-publish", disabled=unsaved):
        result = run_job(svc, "drill-publish", {"year": year}, f"发布 {year} 年度应急演练计划")
        if result is not None:
            lines = [("markdown", f"新发起 {len(result['started'])} 个演练案件")]
            if result["failed"]:
                lines.append(("warning", f"{len(result['failed'])} 项未能发起，原因见表中「{STATE}」一列；改正后保存，再点「补发」。"))
            _reset(year)
            _flash(*lines)
            st.rerun()


def coverage_section(svc, year: int, plan: dict) -> None:
    rows = drill_publish.coverage(svc, year)
    if rows and plan["published_at"]:
        st.markdown("**按预案和周期：应演练与已实施**")
        st.dataframe([{"预案": r["plan_name"], "周期": r["period"], "应演练": r["due"], "已实施": r["done"],
                       "案件": "、".join(r["cases"])} for r in rows], hide_index=True)


def files_section(svc) -> None:
    """The plans' Word tables (and any other file issued with them), every year."""
    rows = reports.list_reports(svc, kind="drill_plan")
    if not rows:
        return
    st.markdown("**计划文件**")
    for report in rows:
        st.caption(f"{plain(report.get('title', report['key']))}　{plain(report.get('number') or '')}"
                   f"　生成于 {report.get('generated_at', '')[:16].replace('T', ' ')}")
        for i, f in enumerate(report.get("files", [])):
            download(f"下载 {f['name']}", svc.document_file(f["file"]), f["name"], key=f"rep-{report['key']}-{i}")


def plan_section(svc, user: str, year: int) -> None:
    show_flash()
    plan = plan_edit.editable_plan(svc, year)
    if plan is None:
        st.caption(f"{year} 年度应急演练计划尚未生成")
    generate_section(svc, year, plan)
    if plan is None:
        return
    if notes := svc.config.calendar.warnings(date(year, 1, 1), date(year, 12, 31)):
        st.caption("；".join(notes))
    unsaved = editor_section(svc, user, plan)
    publish_section(svc, plan, unsaved)
    started_section(plan)
    coverage_section(svc, year, plan)
