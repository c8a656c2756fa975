"""计划与统计报表: the annual drill plan (generate, publish, due and done) and the accident statistics."""
from __future__ import annotations

import streamlit as st

from flows.jobs import drill_plan, drill_publish
from flows.service import desk, reports
from ui.components.downloads import download
from ui.components.jobs import run_job
from ui.session import service, user_or_stop


def drill_plan_section(svc, year: int) -> None:
    """Publishing the year's plan starts its drills as cases; leaders see, per plan and period, due and done."""
    record = reports.get_report(svc, drill_plan.plan_key(year))
    if record is None:
        st.caption(f"{year} 年度应急演练计划尚未生成")
        return
    if st.button("发布计划并发起演练案件" if not record.get("published_at") else "补发未发起的演练案件",
                 key="drill-publish"):
        result = run_job(svc, "drill-publish", {"year": year})
        if result:
            st.write(f"新发起 {len(result['started'])} 个演练案件")
            for row in result["failed"]:
                st.warning(f"第 {row['seq']} 项「{row['drill_name']}」未能发起：{row['error']}")
        record = reports.get_report(svc, drill_plan.plan_key(year))
    if record.get("published_at"):
        st.caption(f"{year} 年度计划已于 {record['published_at'][:10]} 发布，已发起 {record.get('published_cases', 0)} 个演练案件")
    rows = drill_publish.coverage(svc, year)
    if rows and record.get("published_at"):
        st.dataframe([{"预案": r["plan_name"], "周期": r["period"], "应演练": r["due"], "已实施": r["done"],
                       "案件": "、".join(r["cases"])} for r in rows], hide_index=True)


def reports_page(svc) -> None:
    col1, col2 = st.columns(2)
    with col1:
        year = st.number_input("年度", min_value=2020, max_value=2100, value=svc.clock().year, step=1)
        if st.button("生成年度应急演练计划"):
            made = run_job(svc, "drill-plan", {"year": int(year)})
            if made and made.get("published_at"):
                st.info("该年度计划已发布（演练已立案），不再重新生成。")
        drill_plan_section(svc, int(year))
    with col2:
        period = st.text_input("统计期（如 2025-03、2025-Q1、2025）", value=f"{svc.clock().year - 1}")
        if st.button("生成事故统计报告"):
            run_job(svc, "statistics", {"period": period.strip()})
    rows = reports.list_reports(svc)
    if not rows:
        st.caption("暂无报表")
    for report in rows:
        st.markdown(f"**{report.get('title', report['key'])}**　{report.get('number') or ''}"
                    f"　生成于 {report.get('generated_at', '')[:16].replace('T', ' ')}")
        for i, f in enumerate(report.get("files", [])):
            download(f"下载 {f['name']}", svc.document_file(f["file"]), f["name"], key=f"rep-{report['key']}-{i}")


svc = service()
if not desk.sees_all(svc, svc.actor(user_or_stop(svc))):
    st.error("无权查看：计划与统计报表只对局领导、安委办和管理员开放。")
    st.stop()
reports_page(svc)
