"""Every default template rendered with realistic data, checked against the GB/T 9704-2012 layout."""
from __future__ import annotations

import re

import pytest
from docx.enum.text import WD_LINE_SPACING
from docx.shared import Pt, RGBColor

from flows.documents import templates_build
from flows.documents.rendering import render
from tests.documents.conftest import W, all_text, open_docx, squeeze

RED_HEADER = ["plan_publish_notice", "annual_drill_plan", "drill_notice", "blacklist_decision",
              "accident_warning", "accident_statistics"]
MINUTES = ["expert_review_minutes", "drill_evaluation_minutes"]
PLAIN = ["blacklist_prior_notice", "blacklist_publicity", "accident_report"]
ALL = RED_HEADER + MINUTES + PLAIN
WITH_VERSION_NOTE = RED_HEADER + MINUTES

EXPECTED_TEXT = {   # user text with < & > must appear exactly as typed
    "plan_publish_notice": ["细化了Ⅳ级响应的启动条件（死亡人数<3人 & 重伤<10人）；",
                            "现将修订后的《县交通运输局道路运输突发事件应急预案》（2024版）印发给你们",
                            "原《县交通运输局道路运输突发事件应急预案》（2021版）同时废止",
                            "并于印发之日起20个工作日内报上级主管部门备案",
                            "附件：县交通运输局道路运输突发事件应急预案"],
    "expert_review_minutes": ["建议进一步明确与县级总体预案的衔接关系 & 补充通讯保障措施。", "第3期",
                              "2024年2月20日，县交通运输局安委办在局三楼会议室组织召开", "市交通运输局综合规划科",
                              "评审专家组由3名专家组成", "专家组同意《县交通运输局道路运输突发事件应急预案》通过评审",
                              "列席：县应急管理局孙伟、县消防救援大队周强", "请假：港航事业发展中心吴刚（公出）"],
    "annual_drill_plan": ["关于印发2024年度应急演练计划的通知", "县汽车客运站客流疏散现场处置方案", "10月15日",
                          "全员应急疏散逃生", "共计5项。", "附件：2024年度应急演练计划"],
    "drill_notice": ["驾驶员<应急处置>", "2024年4月15日。", "县汽车客运站东侧停车场。",
                     "本次演练采用实战演练形式，演练场景为消防应急救援。"],
    "drill_evaluation_minutes": ["部分乘客不清楚安全锤位置 & 使用方法", "开展乘客安全告知<视频>宣传", "2024年5月31日",
                                 "参演52人", "出席：张明、刘洋、陈静、县顺达客运有限公司总经理黄海", "第4期"],
    "blacklist_prior_notice": ["县顺达客运有限公司（统一社会信用代码：91320000MA1XXXXX0Y）：",
                               "驾驶员疲劳驾驶报警未处置<共计126次>", "5个工作日内（2024年3月12日前）",
                               "依据《安全生产失信行为联合惩戒对象管理办法》第五条", "联系人及电话：刘洋 0513-8888 1234"],
    "blacklist_decision": ["（一）列为重点监管对象并提高检查频次。", "（三）在信用平台公开。",
                           "（自2024年3月15日起至2027年3月14日止）", "你单位在规定期限内未提出陈述、申辩意见。",
                           "《安全生产失信行为事先告知书》（县交信告〔2024〕2号）", "本决定经公示7个工作日无异议后执行"],
    "blacklist_publicity": ["公示期为7个工作日（2024年3月6日至2024年3月14日）", "91320000MA1XXXXX0Y", "重大隐患整改不力",
                            "驾驶员疲劳驾驶报警未处置<共计126次>"],
    "accident_report": ["2024年1月12日14时30分，G204国道县城段K12+300处发生一起道路运输生产安全事故",
                        "直接经济损失356.5万元", "（车速>80km/h）未及时处置 & 安全教育流于形式", "移送司法机关",
                        "县公安局交警大队", "该事故为较大事故。该事故由上级挂牌督办。", "（四）事故等级。较大事故。"],
    "accident_warning": ["（一）县顺达客运有限公司驾驶员王某：移送司法机关。", "“三个100%”", "（四）严格落实安全生产责任。",
                         "全县交通运输系统召开事故警示教育大会"],
    "accident_statistics": ["共发生生产安全事故4起，死亡6人，重伤3人，直接经济损失497.05万元",
                            "其中，一般事故3起，较大事故1起，重大事故0起，特别重大事故0起", "140.55",
                            "一季度事故集中在道路运输领域 & 春运期间", "表4　直接经济损失（万元）"],
}

NUMBER = re.compile(r"^[\u4e00-\u9fff]+〔\d{4}〕[1-9]\d*号$")
ISSUE = re.compile(r"^第[1-9]\d*期$")
NUMBER_STYLES = {"发文字号", "文书编号", "报告编号", "纪要期号"}


@pytest.fixture(scope="module")
def rendered(templates_dir, samples):
    return {name: open_docx(render(templates_dir / f"{name}.docx", samples[name])) for name in ALL}


def test_every_kind_has_a_template(templates_dir):
    assert {p.stem for p in templates_dir.glob("*.docx")} == set(templates_build.TEMPLATES) == set(ALL)
    assert (templates_dir / "README.md").is_file()


@pytest.mark.parametrize("name", ALL)
def test_page_a4_and_margins(rendered, name):
    for section in rendered[name].sections:
        assert section.page_width.mm == pytest.approx(210, abs=0.5)
        assert section.page_height.mm == pytest.approx(297, abs=0.5)
        assert section.top_margin.mm == pytest.approx(37, abs=0.5)
        assert section.bottom_margin.mm == pytest.approx(35, abs=0.5)
        assert section.left_margin.mm == pytest.approx(28, abs=0.5)
        assert section.right_margin.mm == pytest.approx(26, abs=0.5)


@pytest.mark.parametrize("name", ALL)
def test_body_is_16pt_fangsong_with_exact_line_pitch(rendered, name):
    doc = rendered[name]
    normal = doc.styles["Normal"]
    assert normal.font.size == Pt(16)
    rfonts = normal.element.rPr.find(W + "rFonts")
    assert rfonts.get(W + "eastAsia") == "仿宋_GB2312" and rfonts.get(W + "ascii") == "仿宋_GB2312"
    assert normal.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert normal.paragraph_format.line_spacing == Pt(28.95)
    spacing = normal.element.pPr.find(W + "spacing")
    assert (spacing.get(W + "line"), spacing.get(W + "lineRule")) == ("579", "exact")
    body = [p for p in doc.paragraphs if p.style.name == "Normal" and p.text.strip()]
    assert len(body) >= 3
    for p in body:
        assert p.paragraph_format.line_spacing in (None, Pt(28.95))     # inherits the exact pitch
        for run in p.runs:
            if run.text.strip():
                assert run.font.size in (None, Pt(16)), (p.text, run.font.size)


@pytest.mark.parametrize("name", ALL)
def test_every_text_run_names_an_east_asian_font(rendered, name):
    body = rendered[name].element.body
    for r in body.iter(W + "r"):
        if any((t.text or "").strip() for t in r.iter(W + "t")):
            rfonts = r.find(f"{W}rPr/{W}rFonts")
            assert rfonts is not None and rfonts.get(W + "eastAsia"), "".join(t.text for t in r.iter(W + "t"))


@pytest.mark.parametrize("name", ALL)
def test_title_is_22pt_xiaobiaosong(rendered, name, samples):
    titles = [p for p in rendered[name].paragraphs if p.style.name == "公文标题" and p.text.strip()]
    assert titles, "no title"
    title = titles[0]
    assert title.alignment == 1 or title.style.paragraph_format.alignment == 1   # centred
    for run in title.runs:
        assert run.font.size == Pt(22)
        assert run.element.rPr.find(W + "rFonts").get(W + "eastAsia") == "方正小标宋简体"
    assert squeeze(title.text) == squeeze(samples[name]["doc"]["title"])


@pytest.mark.parametrize("name", ALL)
def test_document_number_is_well_formed(rendered, name, samples):
    numbers = [p.text.strip() for p in rendered[name].paragraphs if p.style.name in NUMBER_STYLES and p.text.strip()]
    assert numbers == [samples[name]["doc"]["number"]]
    assert (ISSUE if name in MINUTES else NUMBER).match(numbers[0])


@pytest.mark.parametrize("name", RED_HEADER + MINUTES)
def test_red_banner_and_red_rule(rendered, name, samples):
    doc = rendered[name]
    banner = [p for p in doc.paragraphs if p.style.name == "发文机关标志"]
    assert len(banner) == 1
    expected = samples[name]["doc"].get("minutes") if name in MINUTES else samples[name]["doc"]["banner"]
    assert banner[0].text == expected
    for run in banner[0].runs:
        assert run.font.color.rgb == RGBColor(0xFF, 0x00, 0x00)
        assert run.element.rPr.find(W + "rFonts").get(W + "eastAsia") == "方正小标宋简体"
        # shrunk to stay on one line of the 156 mm text block
        assert run.font.size.pt * len(banner[0].text) <= 442.2
    rules = [p for p in doc.paragraphs
             if p._p.find(f"{W}pPr/{W}pBdr/{W}bottom") is not None
             and p._p.find(f"{W}pPr/{W}pBdr/{W}bottom").get(W + "color") == "FF0000"]
    assert len(rules) == 1
    rule = rules[0]._p.find(f"{W}pPr/{W}pBdr/{W}bottom")
    assert rule.get(W + "val") == "single"
    ind = rules[0]._p.find(f"{W}pPr/{W}ind")        # the rule spans the full text width
    style_ind = rules[0].style.element.pPr.find(W + "ind")
    for el in (ind, style_ind):
        if el is not None:
            assert el.get(W + "left") in (None, "0") and el.get(W + "right") in (None, "0") or name in MINUTES
    # banner, number, rule come before the title
    styles = [p.style.name for p in doc.paragraphs if p.text.strip()]
    assert styles.index("发文机关标志") < styles.index("公文标题")


@pytest.mark.parametrize("name", RED_HEADER)
def test_addressee_signature_and_date(rendered, name, samples):
    doc = rendered[name]
    addressee = [p for p in doc.paragraphs if p.style.name == "主送机关" and p.text.strip()]
    assert addressee and addressee[0].text.endswith("：")
    assert addressee[0].paragraph_format.first_line_indent in (None, 0) and \
        addressee[0].style.paragraph_format.alignment == 0
    signature = [p.text.strip() for p in doc.paragraphs if p.style.name == "发文机关署名"]
    date = [p.text.strip() for p in doc.paragraphs if p.style.name == "成文日期"]
    assert signature == [samples[name]["doc"]["issuer"]]
    assert date == [samples[name]["doc"]["date"]] and re.fullmatch(r"\d{4}年[1-9]\d?月[1-9]\d?日", date[0])


@pytest.mark.parametrize("name", ALL)
def test_footer_page_numbers_between_dashes(rendered, name):
    doc = rendered[name]
    assert doc.settings.odd_and_even_pages_header_footer
    section = doc.sections[0]
    for footer, side in ((section.footer, "right"), (section.even_page_footer, "left")):
        xml = footer._element.xml
        assert 'w:fldCharType="begin"' in xml and "PAGE" in xml and 'w:fldCharType="end"' in xml
        text = "".join(t.text or "" for t in footer._element.iter(W + "t"))
        assert text.startswith("— ") and text.endswith(" —")
        p = footer.paragraphs[0]
        assert p._p.find(f"{W}pPr/{W}jc").get(W + "val") == side
        for run in p.runs:
            assert run.font.size == Pt(14)


@pytest.mark.parametrize("name", WITH_VERSION_NOTE)
def test_version_note_lines(rendered, name, samples):
    d = samples[name]["doc"]
    note = rendered[name].tables[-1]
    cells = [row.cells[0].text for row in note.rows]
    label = "分送" if name in MINUTES else "抄送"
    assert cells[0] == f"{label}：{d['cc']}"
    assert cells[-1] == f"{d['printed_by']}\t{d['printed_date']}印发"
    borders = note._tbl.tblPr.find(W + "tblBorders")
    assert borders.find(W + "top").get(W + "sz") == "8" and borders.find(W + "bottom").get(W + "sz") == "8"
    assert borders.find(W + "insideH").get(W + "sz") == "6"
    for p in (c.paragraphs[0] for row in note.rows for c in row.cells):
        for run in p.runs:
            if run.text.strip():
                assert run.font.size == Pt(14)


def test_version_note_without_cc_has_only_the_printing_line(templates_dir, samples):
    ctx = dict(samples["accident_warning"], doc=dict(samples["accident_warning"]["doc"], cc=""))
    note = open_docx(render(templates_dir / "accident_warning.docx", ctx)).tables[-1]
    assert [row.cells[0].text for row in note.rows] == ["县交通运输局办公室\t2024年3月5日印发"]


@pytest.mark.parametrize("name", ALL)
def test_values_appear_as_typed(rendered, name):
    text = all_text(rendered[name])
    flat = squeeze(text)
    for expected in EXPECTED_TEXT[name]:
        assert squeeze(expected) in flat, expected
    assert "{{" not in text and "{%" not in text and "}}" not in text
    assert "&amp;" not in text and "&lt;" not in text


def test_multi_line_text_becomes_paragraphs_with_the_body_indent(rendered):
    doc = rendered["drill_notice"]
    lines = ["县顺达客运有限公司驾驶员、安全员等30人", "县汽车客运站工作人员10人", "县消防救援大队"]
    found = [p for p in doc.paragraphs if p.text in lines]
    assert [p.text for p in found] == lines
    for p in found:
        assert p.style.name == "Normal"


def test_tables_repeat_rows_per_item(rendered, samples):
    table = [t for t in rendered["accident_report"].tables if t.rows[0].cells[1].text == "姓名"][0]
    assert [[c.text for c in row.cells] for row in table.rows[1:]] == [
        [str(i), p["name"], p["role"], p["measure"]]
        for i, p in enumerate(samples["accident_report"]["case"]["data"]["responsible_persons"], 1)]
    plan = rendered["annual_drill_plan"].tables[0]
    assert [c.text for c in plan.rows[0].cells] == ["序号", "预案名称", "预案类型", "演练形式", "场景类别", "计划时间", "责任单位"]
    assert len(plan.rows) == 1 + 5
    assert plan.rows[0]._tr.find(f"{W}trPr/{W}tblHeader") is not None      # header repeats on each page


def test_statistics_tables_have_totals(rendered):
    tables = rendered["accident_statistics"].tables[:4]
    assert [t.rows[0].cells[0].text for t in tables] == ["事故类型"] * 4
    count, deaths, injuries, loss = ([[c.text for c in row.cells] for row in t.rows] for t in tables)
    assert count[-1] == ["合计", "3", "1", "0", "0", "4"]
    assert count[1] == ["道路运输", "1", "1", "0", "0", "2"]
    assert deaths[-1] == ["合计", "3", "3", "0", "0", "6"]
    assert injuries[-1] == ["合计", "1", "2", "0", "0", "3"]
    assert loss[-1] == ["合计", "140.55", "356.5", "0", "0", "497.05"]
    assert [row[0] for row in count[1:-1]] == ["道路运输", "水上交通", "港口", "工程建设", "城市公交", "其他"]


def test_minutes_attendance_labels_are_heiti(rendered):
    doc = rendered["drill_evaluation_minutes"]
    rows = [p for p in doc.paragraphs if p.style.name == "出席列席名单"]
    assert [p.text.split("：")[0] for p in rows] == ["出席", "列席"]      # 请假 was empty: left out
    for p in rows:
        label, names = p.runs[0], p.runs[1]
        assert label.text.endswith("：")
        assert label.element.rPr.find(W + "rFonts").get(W + "eastAsia") == "黑体"
        assert names.element.rPr.find(W + "rFonts").get(W + "eastAsia") == "仿宋_GB2312"
        assert label.font.size == names.font.size == Pt(16)
    assert not any("印章" in p.text for p in doc.paragraphs)


def test_missing_optional_data_renders_blank_not_error(templates_dir):
    for name in ALL:
        text = all_text(open_docx(render(templates_dir / f"{name}.docx", {})))
        assert "{{" not in text


def test_rendered_documents_open_in_python_docx_after_rebuild(tmp_path, samples):
    paths = templates_build.build_all(tmp_path)
    assert sorted(p.stem for p in paths) == sorted(ALL)
    for p in paths:
        doc = open_docx(render(p, samples[p.stem]))
        assert doc.sections[0].page_width.mm == pytest.approx(210, abs=0.5)
