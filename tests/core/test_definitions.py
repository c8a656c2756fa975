"""Malformed definitions are refused with every error as `file: field.path: message`."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from flows.core.spec import Workflow
from flows.service.config import load_organisation, load_workflows

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "flows" / "inspection.yaml"
ORG = load_organisation(ROOT / "configs" / "organisation.yaml")


def base() -> dict:
    return YAML(typ="safe", pure=True).load(FIXTURE.read_text(encoding="utf-8"))


def problems_of(tmp_path: Path, data: dict | str) -> list[str]:
    path = tmp_path / "inspection.yaml"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        yaml = YAML()
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(data, fh)
    _, _, problems = load_workflows([path], ORG)
    return problems


def state(d, name):
    return next(s for s in d["states"] if s["name"] == name)


def transition(d, name):
    return next(t for t in d["transitions"] if t["name"] == name)


def _mut(fn):
    def apply(d):
        fn(d)
        return d
    return apply


# (id, mutation, expected field path, expected words in the message)
MALFORMED = [
    ("unknown-target", _mut(lambda d: transition(d, "submit").update(to="nowhere")),
     "transitions[0].to", "未知状态"),
    ("unknown-source", _mut(lambda d: transition(d, "submit").update({"from": "ghost"})),
     "transitions[0].from", "未知状态"),
    ("no-initial", _mut(lambda d: state(d, "registered").update(initial=False)), "states", "没有初始状态"),
    ("two-initials", _mut(lambda d: state(d, "fixing").update(initial=True)), "states", "初始状态不止一个"),
    ("no-final", _mut(lambda d: [s.update(final=False) for s in d["states"]]), "states", "没有终态"),
    ("final-with-exit", _mut(lambda d: d["transitions"].append(
        {"name": "reopen", "label": "重开", "from": "closed", "to": "fixing", "roles": ["科室负责人"]})),
     "transitions[9].from", "终态「closed」不能有出口"),
    ("unreachable", _mut(lambda d: d["states"].append({"name": "limbo", "label": "悬空"})),
     "states[9]", "不可达"),
    ("join-without-split", _mut(lambda d: d["joins"].append({"name": "j2", "split": "nosuch", "to": "fixing"})),
     "joins[1].split", "没有对应的并行拆分"),
    ("split-without-join", _mut(lambda d: d.update(joins=[])), "splits[0]", "没有对应的汇合"),
    ("guard-syntax", _mut(lambda d: transition(d, "close").update(guard="fixed and")),
     "transitions[6].guard", "无法解析"),
    ("guard-unknown-field", _mut(lambda d: transition(d, "close").update(guard="repaired == True")),
     "transitions[6].guard", "未知字段"),
    ("duplicate-state", _mut(lambda d: d["states"].append({"name": "fixing", "label": "重复"})),
     "states", "名称重复"),
    ("duplicate-transition", _mut(lambda d: d["transitions"].append(dict(transition(d, "submit")))),
     "transitions", "名称重复"),
    ("role-not-in-org", _mut(lambda d: transition(d, "submit").update(roles=["处长"])),
     "transitions[0].roles", "不在组织机构中"),
    ("role-units-not-a-role-of-it", _mut(lambda d: transition(d, "submit").update(role_units={"局长": "site"})),
     "transitions[0].role_units.局长", "不是本操作的角色"),
    ("role-units-not-a-unit-field", _mut(lambda d: transition(d, "submit").update(
        role_units={"经办人": "site"})), "transitions[0].role_units.经办人", "不是本流程的单位或企业字段"),
    ("timer-on-final", _mut(lambda d: state(d, "closed").update(
        timers=[{"name": "t", "label": "t", "after": 1, "action": "escalate"}])),
     "states[7].timers[0]", "终态"),
    ("timer-fire-unknown", _mut(lambda d: state(d, "fixing")["timers"][0].update(transition="nosuch")),
     "states[6].timers[0].transition", "不存在"),
    ("timer-from-field-not-date", _mut(lambda d: state(d, "fixing")["timers"][0].update(from_field="site")),
     "states[6].timers[0].from_field", "不是本流程的日期字段"),
    ("unknown-form", _mut(lambda d: transition(d, "close").update(form="nosuch")),
     "transitions[6].form", "未知表单"),
    ("countersign-unknown-unit", _mut(lambda d: transition(d, "consult")["countersign"].update(units=["火星局"])),
     "transitions[2].countersign.units", "不在组织机构中"),
    ("return-forward", _mut(lambda d: transition(d, "send_back").update(to="fixing")),
     "transitions[3].to", "不在「consulting」之前"),
    ("bad-field-kind", _mut(lambda d: d["forms"]["report"]["fields"][0].update(kind="colour")),
     "forms.report.fields[0].kind", "须为以下之一"),
    ("choice-without-options", _mut(lambda d: d["forms"]["report"]["fields"][0].update(kind="choice", max_length=None)),
     "forms.report.fields[0]", "options"),
    ("extra-key", _mut(lambda d: transition(d, "submit").update(colour="red")),
     "transitions[0].colour", "不认识的字段"),
    ("missing-label", _mut(lambda d: state(d, "fixing").pop("label")), "states[6].label", "缺少必填项"),
    ("bad-name", _mut(lambda d: state(d, "fixing").update(name="整改")), "states[6].name", "格式不符"),
    ("bad-code", _mut(lambda d: d.update(code="tst1")), "code", "格式不符"),
    ("version-zero", _mut(lambda d: d.update(version=0)), "version", "太小"),
    ("linked-unknown-workflow", _mut(lambda d: transition(d, "close")["starts"][0].update(workflow="nosuch")),
     "transitions[6].starts[0].workflow", "未知流程"),
    ("computed-rule-unknown", _mut(lambda d: d["computed"][0]["rules"][0].update(when="deaths > 3")),
     "computed[0].rules[0].when", "未知字段"),
    ("visible-when-unknown", _mut(lambda d: d["forms"]["fix"]["fields"][1].update(visible_when="ghost")),
     "forms.fix.fields[1].visible_when", "未知字段"),
    ("field-kind-clash", _mut(lambda d: d["forms"]["fix"]["fields"].append(
        {"name": "site", "label": "地点", "kind": "number"})), "forms.fix.fields[2].kind", "类型须一致"),
    ("branch-unknown-state", _mut(lambda d: d["splits"][0]["branches"][0].update(end="nosuch")),
     "splits[0].branches[0].end", "未知状态"),
    ("extends-unknown-timer", _mut(lambda d: transition(d, "extend").update(extends="nosuch")),
     "transitions[7].extends", "未知定时器"),
    ("dead-end", _mut(lambda d: d["transitions"].remove(transition(d, "finish_b"))),
     "states[5]", "不可达"),
    # issue 12: fixed units, the earlier step's person, who may start
    ("units-not-in-org", _mut(lambda d: transition(d, "finish_a").update(units=["火星局"])),
     "transitions[4].units", "单位「火星局」不在组织机构中"),
    ("units-without-roles", _mut(lambda d: transition(d, "finish_a").update(units=["运输管理科"], roles=[])),
     "transitions[4].units", "须同时给出角色"),
    ("units-and-own-unit", _mut(lambda d: transition(d, "submit").update(units=["运输管理科"])),
     "transitions[0].units", "只能选一个"),
    ("actor-of-unknown", _mut(lambda d: transition(d, "submit").update(actor_of="nosuch")),
     "transitions[0].actor_of", "未知操作「nosuch」"),
    ("start-units-not-in-org", _mut(lambda d: d.update(start_units=["火星局"])),
     "start_units", "单位「火星局」不在组织机构中"),
    ("start-role-units-not-a-start-role", _mut(lambda d: d.update(start_role_units={"局长": "site"})),
     "start_role_units.局长", "不是可发起本流程的角色"),
    ("document-when-unknown-field", _mut(lambda d: transition(d, "close").update(
        documents=[{"template": "x", "when": "deaths > 0"}])), "transitions[6].documents[0].when", "未知字段"),
    ("document-extra-key", _mut(lambda d: transition(d, "close").update(documents=[{"template": "x", "if": "fixed"}])),
     "transitions[6].documents[0].if", "不认识的字段"),
    ("default-out-of-range", _mut(lambda d: d["forms"]["report"]["fields"][2].update(default=-1)),
     "forms.report.fields[2].default", "缺省值不符合本字段：应不小于 0"),
    ("default-not-an-option", _mut(lambda d: d["forms"]["report"]["fields"][0].update(
        kind="choice", options=["甲", "乙"], default="丙", max_length=None)), "forms.report.fields[0].default",
     "缺省值不符合本字段"),
    ("option-its-kind-ignores", _mut(lambda d: d["forms"]["report"]["fields"][1].update(pattern="^2")),
     "forms.report.fields[1]", "「pattern」只适用于 text、textarea 字段，对 date 字段不起作用"),
    ("bound-on-text", _mut(lambda d: d["forms"]["report"]["fields"][0].update(min=1)),
     "forms.report.fields[0]", "「min」只适用于 number 字段"),
    ("start-role-units-not-a-unit-field", _mut(lambda d: d.update(start_role_units={"经办人": "site"})),
     "start_role_units.经办人", "不是发起表单中的单位或企业字段"),
]


@pytest.mark.parametrize("mutate,path,words", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_definition_is_refused_with_field_path(tmp_path, mutate, path, words):
    problems = problems_of(tmp_path, mutate(copy.deepcopy(base())))
    expected_prefix = f"{tmp_path / 'inspection.yaml'}: {path}: "
    assert any(p.startswith(expected_prefix) and words in p for p in problems), problems


def test_fixture_is_valid(tmp_path):
    assert problems_of(tmp_path, base()) == []


def test_every_error_is_listed_not_just_the_first(tmp_path):
    d = base()
    transition(d, "submit").update(to="nowhere", roles=["处长"])
    transition(d, "close").update(guard="ghost > 1")
    problems = problems_of(tmp_path, d)
    assert len(problems) >= 3, problems


def test_template_naming_a_field_the_workflow_lacks_is_reported(tmp_path):
    d = base()
    transition(d, "close")["documents"] = ["accident_warning"]
    path = tmp_path / "inspection.yaml"
    YAML().dump(d, path)
    _, _, problems = load_workflows([path], ORG, ROOT / "configs" / "templates")
    assert any("transitions[6].documents[0]: 模板「accident_warning」引用了流程没有的字段「deaths」" in p
               for p in problems), problems
    transition(d, "close")["documents"] = ["no_such_template"]
    YAML().dump(d, path)
    _, _, problems = load_workflows([path], ORG, ROOT / "configs" / "templates")
    assert any("模板「no_such_template」不存在" in p for p in problems)


def test_yaml_syntax_error_names_the_line(tmp_path):
    problems = problems_of(tmp_path, "name: x\nstates: [\n  - a: b\n")
    assert len(problems) == 1 and "YAML 语法错误" in problems[0] and "行" in problems[0]


def test_file_name_must_match_workflow_name(tmp_path):
    path = tmp_path / "other.yaml"
    YAML().dump(base(), path)
    _, _, problems = load_workflows([path], ORG)
    assert any("须与文件名" in p for p in problems)


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "flows", *args], cwd=ROOT, check=False, capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_validate_exit_codes(tmp_path):
    good = run_cli("validate", str(FIXTURE))
    assert good.returncode == 0, good.stderr
    d = base()
    transition(d, "submit").update(to="nowhere")
    bad_file = tmp_path / "inspection.yaml"
    YAML().dump(d, bad_file)
    bad = run_cli("validate", str(bad_file))
    assert bad.returncode == 1
    assert "transitions[0].to: 未知状态或并行拆分「nowhere」" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_schema_command_matches_committed_copy():
    out = run_cli("schema")
    assert out.returncode == 0
    committed = json.loads((ROOT / "configs" / "schema" / "workflow.schema.json").read_text(encoding="utf-8"))
    assert json.loads(out.stdout) == committed == Workflow.model_json_schema(by_alias=True)


def test_guards_may_read_the_signatures_and_who_acts(tmp_path):
    d = base()
    transition(d, "consult")["guard"] = "'不同意' not in signatures.consult.opinion"
    transition(d, "submit")["guard"] = "actor.unit == '运输管理科' and len(signatures) == 0"
    assert problems_of(tmp_path, d) == []
