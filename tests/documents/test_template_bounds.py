"""A template's render is bounded in time, steps and sizes: the ones that would hang a worker or build
tens of megabytes stop at once with a Chinese message, fail their effect, and `validate` finds them."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from flows.documents import gbt9704
from flows.documents.rendering import TemplateError, TemplateLimitExceeded, check_template, render
from flows.documents.sandbox_limits import Limits
from tests.documents.conftest import all_text, open_docx

ROOT = Path(__file__).resolve().parents[2]
QUICK = 10.0  # seconds: each of these stops long before (generous for a loaded machine)


def make_template(path: Path, *texts: str) -> Path:
    doc = gbt9704.new_document()
    for text in texts:
        gbt9704.paragraph(doc, "Normal", text)
    doc.save(str(path))
    return path


HOSTILE = {
    "power tower": "{{ ((((9**64)**64)**64)**64)**64 }}",
    "big product": "{% set x = 9**1000 %}{{ x * x * x * x * x }}",
    "nested ranges": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested loops under the range cap": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "loops over long texts": "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "center": "{{ 'x'.center(50000000) }}",
    "center filter": "{{ 'x'|center(50000000) }}",
    "ljust": "{{ 'x'.ljust(50000000) }}",
    "rjust": "{{ 'x'.rjust(50000000) }}",
    "zfill": "{{ '1'.zfill(50000000) }}",
    "str.format width": "{{ '{:>50000000}'.format(1) }}",
    "str.format nested width": "{{ '{:>{}}'.format(1, 50000000) }}",
    "percent width": "{{ '%50000000s' % 1 }}",
    "percent star": "{{ '%*s' % (50000000, 1) }}",
    "format filter": "{{ '%50000000d'|format(1) }}",
    "repeat": "{{ 'x' * 50000000 }}",
    "indent": "{{ 'a\\nb'|indent(50000000) }}",
    "replace": "{{ ('x' * 100000)|replace('x', 'y' * 100000) }}",
    "replace method": "{{ ('x' * 100000).replace('x', 'y' * 100000) }}",
    "join of one text many times": "{{ (['x' * 100000] * 1000)|join }}",
    "join method": "{{ ''.join(['x' * 100000] * 1000) }}",
    "join of a generator": "{{ range(1000)|map('center', 100000)|join }}",
    "expandtabs": "{{ ('\\t' * 1000).expandtabs(100000) }}",
    "translate": "{{ ('x' * 100000).translate({120: 'y' * 100000}) }}",
    "doubling a text": "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
                       "{{ ns.s|length }}",
    "doubling a list": "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
                       "{{ ns.l }}",
    "adding lists": "{% set ns = namespace(l=['x' * 1000]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}"
                    "{% endfor %}{{ ns.l|length }}",
    "a macro calling itself twice": "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}"
                                    "{{ m(40) }}",
    "recursive loop": "{% for x in range(10) recursive %}{% if loop.depth < 9 %}{{ loop(range(10)) }}{% endif %}"
                      "{% endfor %}",
    "batch padding": "{{ [1]|batch(100000000, 0)|list|length }}",
    "slice count": "{{ [1]|slice(100000000)|list|length }}",
    "sum of lists": "{{ ([[1] * 1000] * 1000)|sum(start=[])|length }}",
    "lipsum": "{{ lipsum(1000000) }}",
    "tojson indent": "{{ [[[1]]]|tojson(indent=50000000) }}",
    "wordwrap": "{{ ('x' * 100000)|wordwrap(1, true, 'y' * 1000) }}",
    "output": "{% for i in range(10000) %}{{ 'x' * 2000 }}{% endfor %}",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_template_stops_quickly_with_a_clear_message(tmp_path, source):
    tpl = make_template(tmp_path / "hostile.docx", "正文：" + source)
    start = time.monotonic()
    with pytest.raises(TemplateLimitExceeded) as err:
        render(tpl, {})
    assert time.monotonic() - start < QUICK
    message = str(err.value)
    assert message.startswith("模板「hostile.docx」超出渲染限制，已停止：")
    assert err.value.permanent and isinstance(err.value, TemplateError)


def test_the_time_budget_stops_a_render_that_only_loops(tmp_path):
    tpl = make_template(tmp_path / "slow.docx", "{% for i in range(10000) %}{% for j in range(10000) %}"
                                                 "{% endfor %}{% endfor %}")
    start = time.monotonic()
    with pytest.raises(TemplateLimitExceeded, match="渲染时间超过上限 0.3 秒"):
        render(tpl, {}, Limits(seconds=0.3, steps=10**12))
    assert time.monotonic() - start < QUICK


def test_what_documents_need_stays_well_inside_the_limits(tmp_path):
    rows = [{"name": f"单位{i}", "n": i} for i in range(2000)]
    tpl = make_template(tmp_path / "fine.docx",
                        "{% for r in rows %}{{ loop.index }}、{{ r.name }}{{ '%5.1f' % r.n }}{{ '{:>6}'.format(r.n) }}"
                        "{{ r.name|center(10) }}{{ [r.name, r.n]|join('：') }}{% endfor %}",
                        "{{ 2 ** 64 }}｜{{ 'ab' * 3 }}｜{{ range(3)|list }}｜{{ (rows|length) * 3 }}｜{{ 'a' ~ 'b' }}",
                        "{% for i in range(3) recursive %}{{ i }}{% endfor %}{{ lipsum(1, false, 5, 10)|length > 0 }}")
    text = all_text(open_docx(render(tpl, {"rows": rows})))
    assert "2000、单位1999" in text and "18446744073709551616｜ababab｜[0, 1, 2]｜6000｜ab" in text


def test_loop_length_and_last_still_work_through_the_step_counter(tmp_path):
    tpl = make_template(tmp_path / "loop.docx", "{% for x in case.data.list %}{{ x }}/{{ loop.length }}"
                                                "{% if loop.last %}。{% endif %}{% endfor %}"
                                                "{% for x in range(3)|select('odd') %}[{{ x }}{{ loop.revindex }}]{% endfor %}")
    text = all_text(open_docx(render(tpl, {"case": {"data": {"list": ["甲", "乙"]}}})))
    assert "甲/2乙/2。[11]" in text


def test_shipped_templates_render_their_samples_within_the_limits(templates_dir, samples):
    for name, ctx in samples.items():
        render(templates_dir / f"{name}.docx", ctx)
        assert check_template(templates_dir / f"{name}.docx") is None, name


def test_a_render_past_its_time_does_not_hold_up_another(tmp_path, templates_dir, samples):
    slow = make_template(tmp_path / "slow.docx", "{% for i in range(10000) %}{% for j in range(10000) %}"
                                                 "{% endfor %}{% endfor %}")
    outcome = {}

    def hog():
        try:
            render(slow, {}, Limits(seconds=2.0, steps=10**12))
        except TemplateLimitExceeded as exc:
            outcome["hog"] = str(exc)

    thread = threading.Thread(target=hog)
    thread.start()
    start = time.monotonic()
    render(templates_dir / "drill_notice.docx", samples["drill_notice"])  # the other work goes on meanwhile
    outcome["other_s"] = time.monotonic() - start
    thread.join(timeout=QUICK + 2)
    assert not thread.is_alive() and "渲染时间超过上限 2 秒" in outcome["hog"]
    assert outcome["other_s"] < QUICK

# ------------------------------------------------------------------ validate


def test_validate_reports_a_template_over_its_limits_and_only_that(tmp_path):
    from flows.service.config import template_fields

    folder = tmp_path / "templates"
    folder.mkdir()
    make_template(folder / "bomb.docx", "{{ 'x'.center(50000000) }}")
    make_template(folder / "internals.docx", "{{ ''.__class__.__mro__ }}")
    make_template(folder / "unknown_filter.docx", "{{ case.data.place|no_such_filter }}")
    make_template(folder / "numbers.docx", "死亡{{ case.data.deaths + 1 }}人，{{ case.data.place }}")  # 示例 + 1
    make_template(folder / "rows.docx", "{% for r in rows %}{% for p in r.people %}{{ p.name }}{% endfor %}{% endfor %}")
    make_template(folder / "row_bomb.docx", "{% for r in rows %}{% for i in range(10000) %}{% for j in range(10000) %}"
                                            "{% endfor %}{% endfor %}{% endfor %}")
    fields, problems = template_fields(folder)
    assert set(fields) == {"bomb", "internals", "unknown_filter", "numbers", "rows", "row_bomb"}
    by_file = {p.split(": ", 1)[0]: p for p in problems}
    assert set(by_file) == {str(folder / f"{n}.docx") for n in ("bomb", "internals", "unknown_filter", "row_bomb")}
    assert "超出渲染限制" in by_file[str(folder / "bomb.docx")] and "center()" in by_file[str(folder / "bomb.docx")]
    assert "运算步数超过上限" in by_file[str(folder / "row_bomb.docx")]  # found only with sample rows to loop over
    assert "不允许" in by_file[str(folder / "internals.docx")]
    assert "no_such_filter" in by_file[str(folder / "unknown_filter.docx")]


def test_flows_validate_names_the_template(tmp_path):
    import os
    import subprocess
    import sys

    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    make_template(configs / "templates" / "drill_notice.docx", "{{ ((((9**64)**64)**64)**64)**64 }}")
    env = {**os.environ, "WORKFLOW_CONFIGS_DIR": str(configs)}
    out = subprocess.run([sys.executable, "-m", "flows", "validate"], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=300, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "drill_notice.docx: 模板「drill_notice.docx」超出渲染限制，已停止：乘方运算的结果过大" in out.stderr

# ------------------------------------------------------------------ the effect


def test_an_effect_whose_template_is_over_its_limits_fails_at_once_and_the_rest_goes_on(tmp_path, clock):
    from flows.service import open_service
    from flows.service.config import load_config

    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    svc = open_service(tmp_path / "data", config=load_config(configs), clock=clock)
    make_template(configs / "templates" / "drill_notice.docx", "{% for i in range(10000) %}{% for j in range(10000) %}"
                                                               "{% endfor %}{% endfor %}")  # changed after start-up
    drill = {"drill_name": "疏散演练", "plan_name": "客运站场人员疏散现场处置方案", "plan_kind": "现场处置方案",
             "drill_kind": "实战演练", "scenario": "客运站场疏散", "planned_date": "2025-04-15", "owner_unit": "运输管理科"}
    cid = svc.start("drill", "awb_zhang", drill)["id"]
    for action, user, data in [("begin_scheme", "awb_zhang", None),
                               ("submit_scheme", "awb_zhang", {"location": "站", "participants": "甲",
                                                                "scheme_summary": "乙"}),
                               ("approve_scheme", "awb_head", None)]:
        svc.act(cid, action, user, data)
    start = time.monotonic()
    case = svc.act(cid, "send_notice", "awb_zhang", {"notice_date": "2025-04-01", "assembly": "集合"})
    assert time.monotonic() - start < QUICK
    assert case["active"] == ["executing"]                                  # the committed step stands
    (effect,) = [e for e in case["effects"] if e["type"] == "document"]
    assert effect["status"] == "failed" and effect["attempts"] == 1         # no retry: it cannot help
    assert "超出渲染限制" in effect["error"] and "运算步数超过上限" in effect["error"]
    assert case["documents"] == []
    assert all(e["status"] == "done" for e in case["effects"] if e["type"] == "notify")  # the rest went on
    assert svc.act(cid, "execute", "awb_zhang", {"executed_date": "2025-04-15", "participant_count": 30,
                                                 "execution_summary": "完成"})["active"] == ["evaluating"]
    svc.close()
