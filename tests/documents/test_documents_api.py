"""The rendering API: sandbox, escaping, errors, template variables, helpers, command line."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from flows.documents import filters, gbt9704, preview, statistics
from flows.documents.filters import chinese_date, format_doc_number, format_issue_number
from flows.documents.rendering import TemplateError, render, template_variables
from flows.documents.statistics import statistics_context
from tests.documents.conftest import all_text, open_docx, squeeze


def make_template(path: Path, *texts: str) -> Path:
    doc = gbt9704.new_document()
    for text in texts:
        gbt9704.paragraph(doc, "Normal", text)
    doc.save(str(path))
    return path


CTX = {"case": {"id": "SG-1", "data": {"place": "A<B & C>D", "items": "字段值", "list": [1, 2]}}}


# ------------------------------------------------------------------ sandbox

@pytest.mark.parametrize("expr", [
    "{{ case.__class__.__mro__ }}",
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ case.data.place.__class__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ case.data.nothing.__class__ }}",
    "{{ case['__class__'] }}",
    "{{ case.data.list.append(3) }}",
    "{{ 'x' * 10000000 }}",
    "{{ 9 ** 999999 }}",
    "{{ ''.format.__globals__ }}",
])
def test_templates_cannot_reach_python_internals(tmp_path, expr):
    tpl = make_template(tmp_path / "evil.docx", "正文：" + expr)
    with pytest.raises(TemplateError) as err:
        render(tpl, CTX)
    assert "evil.docx" in str(err.value)


def test_context_is_not_modified_by_a_template(tmp_path):
    tpl = make_template(tmp_path / "t.docx", "{% set _ = case.data.list.pop() if false %}{{ case.data.list|length }}")
    ctx = json.loads(json.dumps(CTX))
    assert "2" in all_text(open_docx(render(tpl, ctx)))
    assert ctx == CTX


def test_user_text_is_escaped_and_appears_as_typed(tmp_path):
    tpl = make_template(tmp_path / "t.docx", "地点：{{ case.data.place }}", "{{ case.data.place|paragraphs }}")
    data = render(tpl, CTX)
    text = all_text(open_docx(data))
    assert "地点：A<B & C>D" in text
    assert "&amp;" not in text


def test_markup_in_user_text_does_not_become_word_xml(tmp_path):
    tpl = make_template(tmp_path / "t.docx", "{{ case.data.place }}")
    injected = '</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>粗体'
    doc = open_docx(render(tpl, {"case": {"data": {"place": injected}}}))
    assert injected in all_text(doc)
    assert not doc.element.body.xpath(".//w:b")


def test_control_characters_are_dropped(tmp_path):
    tpl = make_template(tmp_path / "t.docx", "{{ case.data.place }}")
    doc = open_docx(render(tpl, {"case": {"data": {"place": "甲\x00乙\x07丙\x0c丁\r\n戊\ufffe"}}}))
    text = all_text(doc)
    assert "甲乙丙丁" in text and "戊" in text


def test_dict_keys_win_over_dict_methods(tmp_path):
    tpl = make_template(tmp_path / "t.docx", "{{ case.data.items }}")
    assert "字段值" in all_text(open_docx(render(tpl, CTX)))


# ------------------------------------------------------------------ errors

def test_missing_template(tmp_path):
    with pytest.raises(TemplateError, match="模板文件不存在"):
        render(tmp_path / "nope.docx", {})


def test_not_a_docx(tmp_path):
    bad = tmp_path / "bad.docx"
    bad.write_text("这不是 Word 文件", encoding="utf-8")
    with pytest.raises(TemplateError, match="bad.docx.*无法打开"):
        render(bad, {})
    with pytest.raises(TemplateError, match="bad.docx"):
        template_variables(bad)


def test_syntax_error_names_the_template_and_the_place(tmp_path):
    tpl = make_template(tmp_path / "broken.docx", "第一段", "事故地点{{ case.data.place ", "第三段")
    with pytest.raises(TemplateError, match="broken.docx.*语法错误") as err:
        render(tpl, CTX)
    assert "事故地点" in str(err.value)
    with pytest.raises(TemplateError, match="broken.docx"):
        template_variables(tpl)


def test_template_error_is_a_value_error():
    assert issubclass(TemplateError, ValueError)


# ------------------------------------------------------------------ template variables

def test_template_variables_of_a_shipped_template(templates_dir):
    names = template_variables(templates_dir / "accident_warning.docx")
    assert {"case.data.place", "case.data.accident_type", "case.data.deaths", "case.data.responsible_persons",
            "case.data.occurred_at", "doc.number", "doc.title", "doc.cc", "doc.printed_by"} <= names
    assert not any(n.startswith(("p.", "loop")) for n in names)
    plan = template_variables(templates_dir / "annual_drill_plan.docx")
    assert {"rows", "extra.year", "doc.number"} <= plan
    assert not any(n.startswith("r.") for n in plan)


def test_template_variables_follow_chains_and_skip_locals(tmp_path):
    tpl = make_template(tmp_path / "t.docx",
                        "{{ case.data['enterprise'].name }}{{ case.data[key] }}",
                        "{% set y = case.data.z %}{{ y.w }}{{ extra.period|default('') }}",
                        "{%p for m in case.data.measures %}", "{{ m }}{{ loop.index|cn_number }}", "{%p endfor %}")
    assert template_variables(tpl) == {"case.data.enterprise.name", "case.data", "key", "case.data.z",
                                       "extra.period", "case.data.measures"}


def test_every_shipped_template_uses_only_the_four_context_roots(templates_dir):
    for path in templates_dir.glob("*.docx"):
        roots = {n.split(".")[0] for n in template_variables(path)}
        assert roots <= {"case", "doc", "rows", "extra"}, (path.name, roots)


# ------------------------------------------------------------------ helpers

def test_format_doc_number():
    assert format_doc_number("县交安", 2024, 12) == "县交安〔2024〕12号"
    assert format_doc_number("县交安", 2024, 1) == "县交安〔2024〕1号"      # no leading zeros
    for bad in (("", 2024, 1), ("县交安", 24, 1), ("县交安", 2024, 0), ("县交安", 2024, True), ("县交安", 2024, "3")):
        with pytest.raises(ValueError):
            format_doc_number(*bad)


def test_issue_number_and_dates():
    assert format_issue_number(3) == "第3期"
    with pytest.raises(ValueError):
        format_issue_number(0)
    assert chinese_date(date(2024, 3, 5)) == "2024年3月5日"
    assert chinese_date(datetime(2024, 12, 25, 8, 0)) == "2024年12月25日"


def test_filters():
    f = filters.FILTERS
    assert f["cn_date"]("2024-03-05") == "2024年3月5日"
    assert f["cn_date"]("2024-03-05", False) == "3月5日"
    assert f["cn_date"]("") == "" and f["cn_date"](None) == "" and f["cn_date"]("上半年") == "上半年"
    assert f["cn_datetime"]("2024-01-12T14:30:00") == "2024年1月12日14时30分"
    assert f["cn_datetime"]("2024-01-12T09:00") == "2024年1月12日9时"
    assert f["cn_datetime"]("2024-01-12") == "2024年1月12日"
    assert f["num"](12.0) == "12" and f["num"](356.5) == "356.5" and f["num"](1234.567) == "1234.57"
    assert f["num"](3) == "3" and f["num"](None) == "" and f["num"]("12.50") == "12.5" and f["num"](0) == "0"
    assert f["names"](["张三", "李四"]) == "张三、李四" and f["names"]("王五") == "王五"
    assert f["names"]([{"name": "甲"}, {"name": "乙"}]) == "甲、乙"
    assert f["paragraphs"]("一\r\n\n 二 \n") == "一\a二" and f["paragraphs"](None) == ""
    assert [f["cn_number"](n) for n in (1, 4, 10, 12, 20, 25, 99, 100)] == \
        ["一", "四", "十", "十二", "二十", "二十五", "九十九", "100"]


def test_statistics_context(config):
    ctx = statistics_context("2024年第一季度", [
        {"accident_type": "道路运输", "level": "较大", "deaths": 3, "serious_injuries": 2, "direct_loss": 356.5},
        {"accident_type": "道路运输", "deaths": 0, "serious_injuries": 0, "direct_loss": 0.1},
        {"accident_type": "道路运输", "deaths": 0, "serious_injuries": 0, "direct_loss": 0.2},
        {"accident_type": "铁路", "deaths": 12, "serious_injuries": 0, "direct_loss": 0},   # level from figures
    ], workflow=config.workflows["accident"])                                    # ...by the workflow's rule table
    totals = ctx["extra"]["totals"]
    assert ctx["extra"]["period"] == "2024年第一季度"
    assert totals["count"] == {"general": 2, "larger": 1, "major": 1, "especially_major": 0, "total": 4}
    assert totals["direct_loss"]["total"] == 356.8 and totals["direct_loss"]["general"] == 0.3
    rows = {r["type"]: r for r in ctx["rows"]}
    assert list(rows)[:6] == list(statistics.ACCIDENT_TYPES) and rows["铁路"]["deaths"]["major"] == 12


def test_banner_shrinks_to_one_line(tmp_path):
    doc = gbt9704.new_document()
    gbt9704.paragraph(doc, "GBBanner", "{{ doc.banner }}")
    doc.save(str(tmp_path / "b.docx"))
    long = "县交通运输局安全生产委员会办公室文件"
    out = open_docx(render(tmp_path / "b.docx", {"doc": {"banner": long}}))
    run = out.paragraphs[0].runs[0]
    assert run.font.size.pt * len(long) <= gbt9704.TEXT_WIDTH_PT
    short = open_docx(render(tmp_path / "b.docx", {"doc": {"banner": "县交通运输局文件"}}))
    assert short.paragraphs[0].runs[0].font.size.pt == gbt9704.BANNER_SIZE


# ------------------------------------------------------------------ command line

def test_cli_vars_and_render(tmp_path, templates_dir, samples, capsys):
    assert preview.main(["vars", str(templates_dir / "drill_notice.docx")]) == 0
    assert "case.data.drill_name" in capsys.readouterr().out.split()
    data = tmp_path / "data.json"
    data.write_text(json.dumps(samples["drill_notice"], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.docx"
    assert preview.main(["render", str(templates_dir / "drill_notice.docx"), "--data", str(data),
                           "--out", str(out)]) == 0
    assert "驾驶员<应急处置>" in all_text(open_docx(out.read_bytes()))


def test_preview_without_libreoffice_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(preview.shutil, "which", lambda name: None)
    f = tmp_path / "x.docx"
    f.write_bytes(b"")
    with pytest.raises(preview.PreviewError, match="libreoffice-writer-nogui"):
        preview.to_pdf(f, tmp_path)
    assert preview.main(["preview", str(f)]) == 1
    assert "LibreOffice" in capsys.readouterr().err


def test_templates_build_cli(tmp_path):
    from flows.documents import templates_build
    assert templates_build.main(["--out", str(tmp_path), "drill_notice"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["drill_notice.docx"]
    with pytest.raises(SystemExit):
        templates_build.main(["--out", str(tmp_path), "no_such_template"])


def test_workflow_settings_and_timer_deadlines_fill_in_for_extra(templates_dir, samples):
    """The service may pass the workflow's `settings` and `case.deadlines` (by timer name) instead of `extra`."""
    base = samples["blacklist_prior_notice"]
    ctx = {"case": dict(base["case"], deadlines={"defense_period": "2024年3月12日"}), "doc": base["doc"],
           "settings": {"defense_days": 5, "publicity_days": 7, "listing_years": 3, "repair_min_years": 1}}
    text = squeeze(all_text(open_docx(render(templates_dir / "blacklist_prior_notice.docx", ctx))))
    assert "5个工作日内（2024年3月12日前）" in text and "列入期限3年" in text
    ctx["extra"] = {"listing_years": 2}          # explicit extra wins over settings
    text = squeeze(all_text(open_docx(render(templates_dir / "blacklist_prior_notice.docx", ctx))))
    assert "列入期限2年" in text
    # a period the service reports (case.periods): issued on 5 March, 7 working days are 6 to 14 March
    pub = {"case": dict(base["case"], periods={"publicity_period": {"start": "2024-03-06", "end": "2024-03-14",
                                                                    "days": 7}}),
           "doc": dict(samples["blacklist_publicity"]["doc"]), "settings": {"publicity_days": 7, "listing_years": 3}}
    text = squeeze(all_text(open_docx(render(templates_dir / "blacklist_publicity.docx", pub))))
    assert "公示期为7个工作日（2024年3月6日至2024年3月14日）" in text


def test_minutes_banner_may_come_as_doc_banner(templates_dir, samples):
    ctx = dict(samples["expert_review_minutes"])
    ctx["doc"] = {k: v for k, v in ctx["doc"].items() if k != "minutes"} | {"banner": "安委会会议纪要"}
    doc = open_docx(render(templates_dir / "expert_review_minutes.docx", ctx))
    assert [p.text for p in doc.paragraphs if p.style.name == "发文机关标志"] == ["安委会会议纪要"]


def test_clause_filter_and_casualty_wording(templates_dir, samples):
    assert filters.clause("《办法》第五条。") == "《办法》第五条" and filters.clause(None) == ""
    base = samples["blacklist_decision"]
    ctx = dict(base, case=dict(base["case"], data=dict(base["case"]["data"], legal_basis="《安全生产法》第九十五条。")))
    text = squeeze(all_text(open_docx(render(templates_dir / "blacklist_decision.docx", ctx))))
    assert "依据《安全生产法》第九十五条，本机关决定" in text and "。，" not in text
    acc = samples["accident_warning"]
    for deaths, injuries, expected in ((0, 0, "未造成人员死亡和重伤，直接经济损失"), (0, 2, "造成2人重伤，直接"),
                                       (1, 0, "造成1人死亡，直接"), (3, 2, "造成3人死亡、2人重伤，直接")):
        data = dict(acc["case"]["data"], deaths=deaths, serious_injuries=injuries)
        text = squeeze(all_text(open_docx(render(templates_dir / "accident_warning.docx",
                                                 dict(acc, case=dict(acc["case"], data=data))))))
        assert expected in text, expected
