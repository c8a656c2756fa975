"""The form renderer: one widget per field definition, the same definitions the server checks.

Widgets are not inside an `st.form`, so a visible-when condition applies as the person types; nothing
is saved until the submit button, and then the service checks the whole form again. Errors come back
from the service by field path and are shown under their field.
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import streamlit as st

from flows.core.errors import FlowError
from flows.core.forms import Field, field_label
from flows.core.spec import Workflow
from flows.service import desk
from ui.components.text import plain

YES_NO = ["是", "否"]


def _error(errors: dict[str, str], f: Field) -> None:
    """The field's errors under it; a part of it named in Chinese (第 1 行的整改措施, 统一社会信用代码)."""
    for path, message in errors.items():
        if path == f.name or path.startswith((f"{f.name}.", f"{f.name}[")):
            where = field_label([f], path)
            part = where[len(f.label):].removeprefix("的") if where.startswith(f.label) else where
            st.error(f"{part}：{message}" if part else message, icon=":material/error:")


def _label(f: Field) -> str:
    return plain(f.label) + (f"（{plain(f.suffix)}）" if f.suffix else "") + (" \\*" if f.required else "")


def uploader_in_chinese() -> None:
    """Streamlit's file uploader says "Upload" and "… per file" and has no setting for it: its texts are
    drawn over in Chinese by a style (the only way there is; see tests/ui/test_browser.py's screenshots)."""
    limit = st.get_option("server.maxUploadSize")
    button = '[data-testid="stFileUploaderDropzone"] [data-testid="stBaseButton-secondary"] p'
    note = '[data-testid="stFileUploaderDropzoneInstructions"] span'
    st.html(f"<style>{button}, {note} {{font-size: 0}} {button}::after {{content: '上传文件'; font-size: 0.875rem}} "
            f"{note}::after {{content: '每个文件不超过 {int(limit)} MB'; font-size: 0.875rem}}</style>")


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _widget(svc, f: Field, key: str, current: Any) -> Any:
    """The value of one field's widget, in the JSON shape the service takes for its kind."""
    help_text = f.help or None
    label = _label(f)
    if f.kind in ("text", "textarea"):
        widget = st.text_area if f.kind == "textarea" else st.text_input
        return widget(label, value=current or "", key=key, help=help_text, max_chars=f.max_length) or None
    if f.kind == "number":
        # no min_value/max_value here: the browser would silently drop a value out of range (the
        # server would then say 必填); the server's check says 应不小于 … under the field instead
        step = 1 if f.integer else None
        value = st.number_input(label, value=current, key=key, help=help_text, step=step, placeholder="请输入数字")
        return int(value) if f.integer and value is not None else value
    if f.kind == "date":
        value = st.date_input(label, value=_parse_date(current), key=key, help=help_text, format="YYYY-MM-DD",
                              min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
        return value.isoformat() if value else None
    if f.kind == "datetime":
        left, right = st.columns(2)
        day = left.date_input(label, value=_parse_date(current), key=f"{key}-d", help=help_text, format="YYYY-MM-DD",
                              min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
        at = right.time_input("时间", value=time.fromisoformat(str(current)[11:16]) if current else None,
                              key=f"{key}-t", step=300)
        return datetime.combine(day, at).strftime("%Y-%m-%dT%H:%M") if day and at else None
    if f.kind == "choice":
        index = f.options.index(current) if current in f.options else None
        return st.selectbox(label, f.options, index=index, key=key, help=help_text, placeholder="请选择")
    if f.kind == "multichoice":
        return st.multiselect(label, f.options, default=[v for v in (current or []) if v in f.options], key=key,
                              help=help_text, placeholder="可多选")
    if f.kind == "bool":
        index = None if current is None else (0 if current else 1)
        answer = st.radio(label, YES_NO, index=index, key=key, help=help_text, horizontal=True)
        return None if answer is None else answer == "是"
    if f.kind == "person":
        people = {u.id: f"{u.name}（{u.unit}）" for u in svc.org.users}
        ids = list(people)
        return st.selectbox(label, ids, index=ids.index(current) if current in ids else None, key=key,
                            format_func=people.get, help=help_text, placeholder="请选择人员")
    if f.kind == "unit":
        units = [u.name for u in svc.org.units]
        return st.selectbox(label, units, index=units.index(current) if current in units else None, key=key,
                            help=help_text, placeholder="请选择单位")
    if f.kind == "enterprise":
        known = {u.name: u.credit_code or "" for u in svc.org.units if u.kind == "enterprise"}
        current = current or {}
        left, right = st.columns(2)
        name = left.text_input(label, value=current.get("name", ""), key=f"{key}-name", help=help_text,
                               placeholder="企业名称")
        code = right.text_input("统一社会信用代码", value=current.get("credit_code", "") or known.get(name, ""),
                                key=f"{key}-code", max_chars=18, placeholder="18 位，含校验码")
        return {"name": name, "credit_code": code} if name or code else None
    if f.kind == "file":
        uploader_in_chinese()
        uploads = st.file_uploader(label, accept_multiple_files=True, key=key, help=help_text)
        stored = []
        for upload in uploads or []:
            try:
                stored.append(svc.store_upload(upload.name, upload.getvalue()))
            except FlowError as exc:  # too large, a type not allowed, content not what its name says
                st.error(f"{upload.name}：{exc}")
        return stored or current or None
    if f.kind == "table":
        import pandas as pd

        columns = [c.label for c in f.columns]
        st.markdown(label)
        start = pd.DataFrame([{c.label: row.get(c.name) for c in f.columns} for row in (current or [])],
                             columns=columns)
        # a new row's text cells start empty, not as Streamlit's grey "None"
        texts = {c.label: st.column_config.TextColumn(c.label, default="") for c in f.columns
                 if c.kind in ("text", "textarea")}
        edited = st.data_editor(start, num_rows="dynamic", key=key, width="stretch", column_config=texts)
        by_label = {c.label: c.name for c in f.columns}
        rows = []
        for record in edited.to_dict("records"):
            row = {by_label[k]: (None if pd.isna(v) else v) for k, v in record.items() if k in by_label}
            if any(v not in (None, "") for v in row.values()):
                rows.append(row)
        return rows or None
    return st.text_input(label, value=str(current or ""), key=key)


def render(svc, wf: Workflow, form_name: str | None, key: str, errors: dict[str, str] | None = None,
           case: dict | None = None, initial: dict | None = None) -> dict[str, Any]:
    """The widgets of one form; returns the values typed so far (hidden fields left out).

    A field starts with `initial`'s value, else the case's (a scheme sent back for rework shows what
    was filled in, 责任追究 starts from the approved report's list), else its default."""
    errors = errors or {}
    form = wf.forms.get(form_name or "")
    values: dict[str, Any] = {}
    if form is None:
        return values
    known = initial if initial is not None else (case or {}).get("data", {})
    for f in form.fields:
        if not desk.visible(wf, f, values, case):
            continue
        current = known.get(f.name, f.default)
        value = _widget(svc, f, f"{key}-{f.name}", current)
        if value is not None:
            values[f.name] = value
        _error(errors, f)
    return values
