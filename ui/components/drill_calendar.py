"""The drills of a year as a calendar drawn with Streamlit's own widgets (nothing loads from a CDN): a
year overview (drills per month, due and done), a month selector, and the month as a grid of
st.columns where each drill with a case is a link to it; a drill not yet published shows as planned.
The entries come from flows.jobs.plan_edit.calendar_entries."""
from __future__ import annotations

import calendar as _calendar
from datetime import date

import streamlit as st

from flows.jobs import plan_edit
from ui.components.text import plain, plain_label

WEEK = ["一", "二", "三", "四", "五", "六", "日"]
ICONS = {"已实施": ":material/check_circle:", "逾期": ":material/error:", "待实施": ":material/schedule:",
         "已取消": ":material/cancel:"}


def year_overview(months: list[dict], year: int) -> None:
    due = sum(m["due"] for m in months)
    done = sum(m["done"] for m in months)
    cols = st.columns(4)
    cols[0].metric(f"{year} 年应演练", due)
    cols[1].metric("已实施", done)
    cols[2].metric("逾期未实施", sum(m["overdue"] for m in months))
    cols[3].metric("未发起（计划）", sum(m["planned"] for m in months))
    st.dataframe([{"月份": f"{m['month']}月", "计划演练": m["due"], "已实施": m["done"], "逾期": m["overdue"],
                   "未发起": m["planned"]} for m in months], hide_index=True)


def _default_month(year: int, today: date, months: list[dict]) -> int:
    if today.year == year:
        return today.month
    return next((m["month"] for m in months if m["due"]), 1)


def _entry(e: dict) -> None:
    where = f"{e['date'].isoformat()} · {e.get('owner_unit') or ''}"
    if e["case_id"]:
        st.page_link("pages/case.py", label=plain_label(f"{e['drill_name']}（{e['status']}）"),
                     icon=ICONS.get(e["status"]), query_params={"id": e["case_id"]},
                     help=f"{where} · 案件 {e['case_id']}")
    else:
        reason = f"；未能发起：{e['error']}" if e.get("error") else ""
        st.caption(f":material/event: 计划：{plain(e['drill_name'])}{plain(reason)}", help=where)


def month_grid(svc, entries: list[dict], year: int, month: int, today: date) -> None:
    by_day: dict[date, list[dict]] = {}
    for e in entries:
        by_day.setdefault(e["date"], []).append(e)
    head = st.columns(7)
    for col, name in zip(head, WEEK, strict=True):
        col.markdown(f"**星期{name}**")
    for week in _calendar.Calendar().monthdatescalendar(year, month):
        cols = st.columns(7)
        for col, day in zip(cols, week, strict=True):
            if day.month != month:
                continue
            with col.container(border=True):
                rest = "" if svc.config.calendar.is_workday(day) else " :gray[休]"
                mark = " :blue[今天]" if day == today else ""
                st.markdown(f"**{day.day}**{rest}{mark}")
                for e in by_day.get(day, []):
                    _entry(e)


def calendar_section(svc, year: int, today: date) -> None:
    entries = plan_edit.calendar_entries(svc, year, today)
    months = plan_edit.month_overview(entries, year)
    year_overview(months, year)
    month = st.selectbox("月份", list(range(1, 13)), index=_default_month(year, today, months) - 1,
                         format_func=lambda m: f"{m}月（{months[m - 1]['due']} 项）", key=f"cal-month-{year}")
    shown = [e for e in entries if e["date"].month == month]
    st.caption(f"{year}年{month}月：{len(shown)} 项演练。点演练打开其案件；「计划」为尚未发布（还没有案件）的演练。")
    month_grid(svc, entries, year, month, today)
