"""PDF/PNG previews through LibreOffice. Missing LibreOffice or poppler-utils fails these tests (never a
silent skip): `make test` installs them, as it does Chromium and PostgreSQL for their tests."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from flows.documents.preview import office_command, to_pdf, to_png
from flows.documents.rendering import render_to
from tests.documents.conftest import squeeze


def missing_tools() -> list[str]:
    tools = {"LibreOffice": office_command()} | {name: shutil.which(name) for name in ("pdftotext", "pdftoppm", "pdfinfo")}
    return [name for name, found in tools.items() if found is None]


@pytest.fixture(scope="module", autouse=True)
def office_installed():
    missing = missing_tools()
    if missing:
        pytest.fail(f"未安装 {'、'.join(missing)}：PDF 预览测试需要 Debian 软件包 libreoffice-writer-nogui poppler-utils "
                    "fonts-noto-cjk fonts-arphic-ukai，make test 会安装它们（需 root；或以 root 运行 make system-packages）",
                    pytrace=False)


def pdf_text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def previews(tmp_path_factory, templates_dir, samples):
    out = tmp_path_factory.mktemp("preview")
    made = {}
    for name in ("accident_warning", "expert_review_minutes"):
        docx = render_to(templates_dir / f"{name}.docx", samples[name], out / f"{name}.docx")
        made[name] = (to_pdf(docx, out), docx)
    return out, made


def test_notice_pdf_text(previews, samples):
    _, made = previews
    text = squeeze(pdf_text(made["accident_warning"][0]))
    doc = samples["accident_warning"]["doc"]
    for expected in ("县交通运输局文件", doc["number"], doc["title"], "局各科室、各单位：",
                     "（一）县顺达客运有限公司驾驶员王某：移送司法机关。", "—1—", "—2—",
                     "抄送：县安委办，县应急管理局", "县交通运输局办公室2024年3月5日印发"):
        assert squeeze(expected) in text, expected


def test_minutes_pdf_text(previews):
    _, made = previews
    text = squeeze(pdf_text(made["expert_review_minutes"][0]))
    for expected in ("专家评审会议纪要", "第3期", "建议进一步明确与县级总体预案的衔接关系&补充通讯保障措施。",
                     "细化了Ⅳ级响应的启动条件（死亡人数<3人&重伤<10人）", "出席：王建国", "列席：县应急管理局孙伟"):
        assert squeeze(expected) in text, expected


def test_pdf_pages_are_a4(previews):
    _, made = previews
    info = subprocess.run(["pdfinfo", str(made["accident_warning"][0])], check=False, capture_output=True, text=True).stdout
    assert "(A4)" in info, info


def test_png_pages(previews):
    out, made = previews
    pages = to_png(made["accident_warning"][1], out / "png")
    assert len(pages) >= 2 and all(p.stat().st_size > 10_000 for p in pages)
    assert [p.name for p in pages][0] == "accident_warning-1.png"


def test_preview_sets_fangsong_in_a_real_fangsong_face():
    """仿宋 in the preview is Fandol's 仿宋 (make preview-fonts installs it), not a Song or a sans substitute."""
    from flows.documents import gbt9704
    from flows.documents.preview import font_substitutes, substitutes_note

    used = font_substitutes()
    assert used[gbt9704.FANGSONG] == "FandolFang", used
    assert "未安装" not in substitutes_note()


def test_preview_command_reports_fonts_and_layout(previews, capsys):
    from flows.documents.preview import main

    out, made = previews
    assert main(["preview", str(made["accident_warning"][1]), "--out", str(out / "cli")]) == 0
    err = capsys.readouterr().err
    assert "预览字体替代：仿宋_GB2312→FandolFang" in err
    assert "版式检查：未发现问题" in err
