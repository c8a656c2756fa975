"""演练计划与日历: the year's drill plan (generate, adjust its rows, publish: the drills become cases),
what was due and done, and the drills on a calendar whose links open their cases. The accident
statistics are on the 统计 page."""
from __future__ import annotations

import streamlit as st

from flows.jobs import drill_plan
from flows.service import desk
from ui.components.drill_calendar import calendar_section
from ui.components.drill_plan import files_section, forget_edits, plan_section
from ui.components.jobs import job_progress
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
if not desk.sees_all(svc, svc.actor(user)):
    st.error("无权查看：演练计划与日历只对局领导、安委办和管理员开放。")
    st.stop()
st.subheader("演练计划与日历")
ended = job_progress()  # a job handed to Prefect: its state, then what it made
today = svc.clock().date()
year = int(st.number_input("年度", min_value=drill_plan.YEAR_MIN, max_value=drill_plan.YEAR_MAX, value=today.year,
                           step=1, key="drill-year"))
if ended & {"drill-plan", "drill-publish"}:
    forget_edits(year)  # Prefect made or published the plan: the table is read again
# a segmented control, not st.tabs: a choice made in the calendar (its month) reruns the page, and tabs
# then fall back to the first one
view = st.segmented_control("查看", ["年度计划", "演练日历"], default="年度计划", key="drill-view",
                            label_visibility="collapsed") or "年度计划"
if view == "年度计划":
    plan_section(svc, user, year)
else:
    calendar_section(svc, year, today)
files_section(svc)
