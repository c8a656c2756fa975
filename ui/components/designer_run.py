"""试运行 and 测试场景: walk a throwaway case through the draft as chosen people (nothing is stored),
keep the walk as a scenario, and see every saved scenario replayed against the draft as it is now."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import FlowError, InvalidForm
from flows.service import designer
from flows.service.dry_run import DryRun, replay_scenario
from ui.components import form as form_view
from ui.components.flash import attempt, flash
from ui.components.text import plain


def _person(svc, uid: str) -> str:
    user = svc.org.user(uid)
    return f"{user.name}（{user.unit}，{'、'.join(sorted({r for r, _ in svc.org.actor(uid).roles}))}）" if user else uid


def _step(do) -> None:
    """A dry-run step: a wrong form's errors go under its fields (kept for the next run), a refusal
    to the top; then the page runs again."""
    try:
        do()
    except InvalidForm as exc:
        st.session_state["dry-errors"] = exc.errors
        flash("error", "表单有误，请按提示修改。")
    except FlowError as exc:
        flash("error", str(exc))
    else:
        st.session_state.pop("dry-errors", None)
    st.rerun()


def dry_run(svc, user: str, d: designer.Draft, wf) -> None:
    runs = st.session_state.setdefault("dry-runs", {})
    run: DryRun | None = runs.get(d.name)
    if run is not None and run.wf is not wf and run.wf.model_dump() != wf.model_dump():
        st.info("草稿已修改：试运行按修改后的草稿重新开始。")
        run = None
    people = sorted(u.id for u in svc.org.users)
    who = st.selectbox("以谁的身份操作", people, format_func=lambda uid: _person(svc, uid), key=f"dry-who-{d.name}")
    errors = st.session_state.get("dry-errors", {})
    if run is None or run.case is None:
        st.markdown("**发起试运行案件**")
        values = form_view.render(svc, wf, wf.start_form, key=f"dry-start-{d.name}", errors=errors)
        if st.button("发起试运行", type="primary", key=f"dry-start-go-{d.name}"):
            def started():
                made = DryRun.begin(svc, wf, d)
                made.start(who, values)
                runs[d.name] = made
            _step(started)
        return
    st.markdown(f"**当前：{plain(run.states())}**　试运行时间 {run.now:%Y-%m-%d %H:%M}")
    actions = run.actions(who)
    if run.case["status"] == "open":
        if not actions:
            st.caption(f"{plain(_person(svc, who))} 在此没有可执行的操作。")
        labels = {a.name: a.label + ("" if a.enabled else f"（{a.reason}）") for a in actions}
        chosen = st.radio("可执行的操作", list(labels), format_func=labels.get, key=f"dry-action-{d.name}",
                          horizontal=True) if actions else None
        info = next((a for a in actions if a.name == chosen), None)
        if info is not None:
            values = form_view.render(svc, wf, info.form, key=f"dry-form-{d.name}-{info.name}", errors=errors,
                                      case=run.case)
            comment = st.text_input("意见", key=f"dry-comment-{d.name}-{info.name}") if info.needs_comment else None
            if st.button(f"执行：{info.label}", type="primary", key=f"dry-act-{d.name}", disabled=not info.enabled):
                _step(lambda: run.act(who, info.name, values, comment))
    left, right = st.columns([1, 3])
    days = left.number_input("时间前进（天）", min_value=1, max_value=3660, value=1, step=1, key=f"dry-days-{d.name}")
    if right.button("前进", key=f"dry-advance-{d.name}"):
        attempt(lambda: run.advance(int(days)),
                lambda fired: "；".join(fired) if fired else f"前进 {int(days)} 天：没有到期的期限")
    st.markdown("**经过**")
    for line in run.log:
        st.text(line)
    for i, doc in enumerate(run.documents):
        if doc.content:
            st.download_button(f"下载文书：{doc.title}", data=doc.content, file_name=f"试运行-{doc.template}.docx",
                               key=f"dry-doc-{d.name}-{i}", icon=":material/download:")
        else:
            st.warning(f"文书「{doc.title}」未能生成：{doc.error}")
    left, mid, right = st.columns([2, 1, 1])
    name = left.text_input("场景名称", key=f"dry-scenario-name-{d.name}", placeholder="如：两位领导会签后进入督办")
    if mid.button("保存为测试场景", key=f"dry-save-{d.name}", disabled=not name):
        d.scenarios = [s for s in d.scenarios if s.get("name") != name] + [run.scenario(name)]
        attempt(lambda: designer.save(svc, user, d, what=f"保存测试场景「{name}」"),
                f"已保存测试场景「{name}」（{len(run.steps)} 步）：发布前会自动重跑")
    if right.button("重新开始", key=f"dry-reset-{d.name}"):
        runs.pop(d.name, None)
        st.rerun()


def scenarios(svc, user: str, d: designer.Draft, wf) -> None:
    if not d.scenarios:
        st.info("还没有测试场景：在「试运行」中走一遍流程，再“保存为测试场景”。发布前会自动重跑每个场景。")
        return
    rows = []
    for s in d.scenarios:
        failure = replay_scenario(svc, wf, d, s) if wf is not None else "草稿有问题，无法运行"
        rows.append({"场景": s.get("name"), "步数": len(s.get("steps") or []), "结果": "通过" if not failure else "未通过",
                     "说明": failure or ""})
    st.dataframe(rows, hide_index=True, width="stretch", key=f"scenario-table-{d.name}")
    left, right = st.columns([2, 1])
    drop = left.selectbox("删除场景", [s.get("name") for s in d.scenarios], index=None, placeholder="选择要删除的场景",
                          key=f"scenario-drop-{d.name}")
    if right.button("删除", key=f"scenario-drop-go-{d.name}", disabled=drop is None):
        d.scenarios = [s for s in d.scenarios if s.get("name") != drop]
        attempt(lambda: designer.save(svc, user, d, what=f"删除测试场景「{drop}」"), None)
