"""模板: the Word templates a draft issues: upload one made in Word, its placeholders checked against
the steps that issue it, its 标题 and 发文字号 settings, a preview as pictures of its pages."""
from __future__ import annotations

import streamlit as st

from flows.service import designer
from ui.components import form as form_view
from ui.components.downloads import DOCX
from ui.components.flash import attempt


def templates(svc, user: str, d: designer.Draft, wf, open_by: dict) -> None:
    issued = designer.issued_templates(wf) if wf is not None else []
    names = sorted(set(issued) | set(d.templates))
    new = st.text_input("模板名称", key=f"tpl-new-{d.name}", placeholder="新模板的名称，如 committee_minutes",
                        help="流转的「出具文书」一栏填写同一名称")
    chosen = st.selectbox("模板", names, index=None if not names else 0, key=f"tpl-pick-{d.name}",
                          placeholder="选择模板") if names else None
    template = new.strip() or chosen
    if not template:
        st.info("本流程还没有出具文书的步骤：在「流转」表的「出具文书」一栏填写模板名称，或在上面输入新模板的名称。")
        return
    path = designer.template_file(svc, d, template)
    where = "本流程上传" if template in d.templates else ("系统模板（configs/templates）" if path else "尚未上传")
    st.markdown(f"**{template}**：{where}" + ("" if template in issued else "（尚无步骤出具它）"))
    form_view.uploader_in_chinese()
    upload = st.file_uploader("上传 Word 模板（.docx）", type=["docx"], key=f"tpl-upload-{d.name}-{template}",
                              help="在 Word 中用 {{ case.data.字段名 }} 写占位符；循环用 {%p for x in 列表 %} … {%p endfor %}")
    if st.button("上传", key=f"tpl-upload-go-{d.name}", disabled=upload is None):
        attempt(lambda: designer.upload_template(svc, user, d, template, upload.getvalue()),
                f"已上传模板「{template}」：发布后随新版本生效，办理中的案件仍用原模板")
    if path is None:
        return
    rows = designer.placeholders(svc, d, template)
    bad = [r for r in rows if not r["ok"]]
    if bad:
        st.error(f"{len(bad)} 个占位符在出具它的步骤中没有：" + "；".join(f"{r['name']}：{r['fix']}" for r in bad))
    st.dataframe([{"占位符": r["name"], "检查": "✔" if r["ok"] else "✘", "修改建议": r["fix"]} for r in rows],
                 hide_index=True, width="stretch", key=f"tpl-fields-{d.name}-{template}")
    spec = d.documents.get(template) or {}
    with st.form(f"tpl-spec-{d.version}-{template}"):
        title = st.text_input("文书标题", value=spec.get("title", ""), help="可用 {字段名}，如 {quarter}安委会会议纪要")
        left, right = st.columns(2)
        prefix = left.text_input("发文字号前缀", value=spec.get("number_prefix") or "", help="如 县交安；纪要留空")
        minutes = right.text_input("纪要标志", value=spec.get("minutes") or "", help="纪要填写，如 安委会会议纪要；按年编第N期")
        if st.form_submit_button("保存文书设置"):
            d.documents[template] = {k: v for k, v in (("title", title or template), ("number_prefix", prefix or None),
                                                       ("minutes", minutes or None)) if v}
            attempt(lambda: designer.save(svc, user, d, what=f"修改文书设置 {template}"),
                    f"已保存文书「{template}」的设置")
    used = designer.template_versions(svc, d.name, template, open_by)
    if used:
        st.markdown("**各版本使用的模板**（模板随流程版本发布；办理中的案件用其版本的模板）")
        st.dataframe([{"流程版本": f"第 {r['version']} 版", "模板文件": r["file"], "办理中案件": r["open"]} for r in used],
                     hide_index=True, width="stretch", key=f"tpl-versions-{d.name}-{template}")
        if template in d.templates and st.button("让办理中的旧版本案件也使用草稿中的这个模板",
                                                 key=f"tpl-apply-{d.name}-{template}",
                                                 help="例如更正了通知中的错字：不必等新版本，办理中的案件此后出具的文书即用新模板"):
            attempt(lambda: designer.apply_template_to_running(svc, user, d.name, template),
                    lambda changed: f"第 {'、'.join(map(str, changed))} 版的案件此后用新模板出具" if changed
                    else "没有需要更换模板的办理中版本")
    left, mid, right = st.columns(3)
    left.download_button("下载模板", data=path.read_bytes(), file_name=f"{template}.docx", mime=DOCX,
                         key=f"tpl-download-{d.name}-{template}")
    run = (st.session_state.get("dry-runs") or {}).get(d.name)
    rendered = next((doc.content for doc in reversed(run.documents) if doc.template == template and doc.content),
                    None) if run else None
    content = None
    if mid.button("预览（示例数据）", key=f"tpl-preview-{d.name}-{template}"):
        content = "sample"
    if right.button("预览（试运行数据）", key=f"tpl-preview-run-{d.name}-{template}", disabled=rendered is None,
                    help="先在「试运行」中走到出具此文书的步骤"):
        content = rendered
    if content is not None:
        with st.spinner("正在排版预览……"):
            try:
                pages = designer.preview_pages(svc, d, template, None if content == "sample" else content)
            except Exception as exc:  # noqa: BLE001 - the converter's own failure, shown as it is
                st.error(f"无法预览：{exc}")
            else:
                for i, page in enumerate(pages):
                    st.image(page, caption=f"第 {i + 1} 页", width=520)
