"""Hostile definitions (issue 9): a definition that passes `validate` must not break anything.

Each finding has its own test below; then a generated suite mutates the four shipped workflows
(every kind of node, every kind of hostile value, and text-level YAML attacks) and requires of
each mutant: refused with a located message (`file: field.path: …` or `file: 第 N 行: …`), never
an internal error, within 5 s; or accepted, and then a case started on it runs without a crash.
"""
from __future__ import annotations

import copy
import functools
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from flows.core import engine
from flows.core.errors import FlowError
from flows.core.forms import credit_code_check_char
from flows.core.org import SYSTEM
from flows.core.spec import Workflow
from flows.core.validate import DefinitionError
from flows.core.workdays import WorkCalendar
from flows.service import config as config_module
from flows.service.config import Config, load_config, load_organisation, load_workflows
from flows.service.yaml_files import MAX_FILE_BYTES, read_yaml

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "configs" / "flows"
TEMPLATES = ROOT / "configs" / "templates"
SHIPPED = sorted(FLOWS.glob("*.yaml"))
ORG = load_organisation(ROOT / "configs" / "organisation.yaml")
LIMIT_S = 5.0  # no definition may take longer than this to be judged


def shipped(name: str) -> dict:
    return read_yaml(FLOWS / f"{name}.yaml")


def as_yaml(data) -> str:
    """JSON is YAML: `\\ud800` escapes survive as lone surrogates, and markers become YAML-only spellings."""
    text = json.dumps(data, ensure_ascii=True, indent=1)
    return text.replace('"__INF__"', ".inf").replace('"__NAN__"', ".nan")


def problems_of(tmp_path: Path, name: str, text: str | bytes, installed: Path | None = None) -> list[str]:
    path = tmp_path / f"{name}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _, _, problems = load_workflows([path], ORG, installed=installed)
    return problems


def run_cli(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "flows", *args], cwd=ROOT, check=False, capture_output=True,
                          text=True, env=env, timeout=timeout)


def _with_settings(text: str, lines: list[str]) -> str:
    return text.replace("settings:\n", "settings:\n" + "".join(f"  {line}\n" for line in lines), 1)


# ================================================================ the findings, one by one

def test_billion_laughs_is_refused_at_once_with_file_and_line(tmp_path):
    laughs = ["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "drill.yaml"
    path.write_text(_with_settings((FLOWS / "drill.yaml").read_text(encoding="utf-8"), laughs), encoding="utf-8")
    started = time.perf_counter()
    out = run_cli("validate", str(path), timeout=30)
    assert out.returncode == 1 and "内部错误" not in out.stderr
    assert re.search(rf"{re.escape(str(path))}: 第 \d+ 行: 内容太多（别名「\*a\d」展开后超过 10000 项）", out.stderr), out.stderr
    assert time.perf_counter() - started < 20  # was: validate ~2 s, then `flows list` past 120 s at 5 GB


def test_recursive_alias_is_refused_not_a_circular_reference_crash(tmp_path):
    text = _with_settings((FLOWS / "drill.yaml").read_text(encoding="utf-8"), ["loop: &l [1, *l]"])
    problems = problems_of(tmp_path, "drill", text)
    assert len(problems) == 1 and "别名「*l」引用了包含它自己的内容（循环引用）" in problems[0]
    assert re.match(rf"{re.escape(str(tmp_path / 'drill.yaml'))}: 第 \d+ 行: ", problems[0])


def test_a_small_alias_is_still_read(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\n", encoding="utf-8")
    assert read_yaml(path) == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}, "c": [{"k": [1, 2]}] * 2}


@pytest.mark.parametrize("where,expected", [
    (lambda d: d.update(title="\ud800"), "title"),
    (lambda d: d["forms"]["scheme"]["fields"][0].update(label="演练\udfff地点"), "forms.scheme.fields[0].label"),
    (lambda d: d["states"][0].update(label="\x07"), "states[0].label"),
    (lambda d: d["settings"].update({"\ud801": 1}), "settings"),
], ids=["title", "field-label", "control-char", "key"])
def test_text_that_is_not_valid_utf8_is_refused_with_its_field_path(tmp_path, where, expected):
    d = shipped("drill")
    where(d)
    problems = problems_of(tmp_path, "drill", as_yaml(d))
    assert problems and all("内部错误" not in p for p in problems)
    assert any(p.startswith(f"{tmp_path / 'drill.yaml'}: {expected}") and ("U+D8" in p or "U+DF" in p or "U+0007" in p)
               for p in problems), problems
    for p in problems:
        p.encode("utf-8")  # the message itself is printable


def test_lone_surrogate_does_not_reach_the_cli(tmp_path):
    d = shipped("drill")
    d["title"] = "\ud800"
    path = tmp_path / "drill.yaml"
    path.write_text(as_yaml(d), encoding="utf-8")
    out = run_cli("validate", str(path))
    assert out.returncode == 1 and "title: 含有无效字符 U+D800" in out.stderr and "内部错误" not in out.stderr


@pytest.mark.parametrize("change,path,words", [
    (lambda d: d["states"][2]["timers"][0].update(after=10**9), "states[2].timers[0].after", "数值太大"),
    (lambda d: d["states"][6]["timers"][0].update(after=200), "states[6].timers[0].after", "期限太长"),  # years
    (lambda d: d["settings"].update(defense_days=10**8), "states[2].timers[0].after", "期限太长"),
    (lambda d: d["settings"].update(defense_days=10**12), "settings.defense_days", "数值超出范围"),
    (lambda d: d["settings"].update(defense_days="五天"), "states[2].timers[0].after", "不是数字"),
    (lambda d: d["states"][2]["timers"][0].update(extend_by=30_000, max_extensions=1), "states[2].timers[0].extend_by",
     "期限太长"),
    (lambda d: d["states"][2]["timers"][0].update(extend_by=5, max_extensions=10**6), "states[2].timers[0].max_extensions",
     "数值太大"),
    (lambda d: d.update(version=10**7), "version", "数值太大"),
], ids=["after", "after-years", "after-from-settings", "settings", "settings-text", "extend-by", "extensions",
        "version"])
def test_every_number_validation_accepts_is_bounded(tmp_path, change, path, words):
    d = shipped("blacklist")
    change(d)
    problems = problems_of(tmp_path, "blacklist", as_yaml(d))
    assert any(p.startswith(f"{tmp_path / 'blacklist.yaml'}: {path}: ") and words in p for p in problems), problems


def test_the_longest_accepted_deadline_can_be_entered(tmp_path):
    d = shipped("blacklist")
    d["states"][2]["timers"][0].update(after=25_000)  # workdays: about a hundred years
    path = tmp_path / "blacklist.yaml"
    path.write_text(as_yaml(d), encoding="utf-8")
    workflows, _, problems = load_workflows([path], ORG)
    assert problems == []
    exercise(workflows["blacklist"])


@pytest.mark.parametrize("text,words", [
    ("9" * 5000, "version: 数字位数太多"),
    ("[" * 600 + "]" * 600, "嵌套太深"),
    (".inf", "须为有限的数字"),
    ("!!binary aGVsbG8=", "不支持 YAML 的标记"),
], ids=["5000-digits", "depth-600", "inf", "binary"])
def test_literals_and_depth_past_the_bounds_are_located_refusals(tmp_path, text, words):
    source = re.sub(r"\nversion: \d+\n", f"\nversion: {text}\n", (FLOWS / "drill.yaml").read_text(encoding="utf-8"),
                    count=1)
    problems = problems_of(tmp_path, "drill", source)
    assert any(words in p for p in problems), problems
    assert all(re.match(rf"{re.escape(str(tmp_path / 'drill.yaml'))}: (第 \d+ 行|version): ", p) for p in problems)


@pytest.mark.parametrize("pattern", ["a{99999999999}", "(" * 3000 + ")" * 3000])
def test_a_pattern_that_crashes_the_regex_compiler_is_a_refusal(tmp_path, pattern):
    d = shipped("drill")
    d["forms"]["scheme"]["fields"][0]["pattern"] = pattern
    problems = problems_of(tmp_path, "drill", as_yaml(d))
    # refused at the field that has it (the regex package compiles it; its own errors say why)
    assert len(problems) == 1 and "forms.scheme.fields[0].pattern: 正则表达式无效" in problems[0], problems


@pytest.mark.parametrize("value,words", [(True, "须为整数"), ("1", "须为整数"), (1.0, "须为整数")])
def test_definition_types_are_strict(tmp_path, value, words):
    d = shipped("drill")
    d["version"] = value
    assert any(p.endswith(f"version: {words}") for p in problems_of(tmp_path, "drill", as_yaml(d)))


def test_strict_types_reach_the_form_fields_too(tmp_path):
    d = shipped("drill")
    d["forms"]["scheme"]["fields"][0]["required"] = "yes"
    d["states"][0]["initial"] = 1
    problems = problems_of(tmp_path, "drill", as_yaml(d))
    assert any(p.endswith("forms.scheme.fields[0].required: 须为 true 或 false") for p in problems), problems
    assert any(p.endswith("states[0].initial: 须为 true 或 false") for p in problems), problems


def test_a_union_is_one_message(tmp_path):
    d = shipped("blacklist")
    d["states"][2]["timers"][0]["after"] = True
    d["transitions"][0]["from"] = ["registered", 3]
    problems = problems_of(tmp_path, "blacklist", as_yaml(d))
    assert f"{tmp_path / 'blacklist.yaml'}: states[2].timers[0].after: 须为整数或文字" in problems
    assert f"{tmp_path / 'blacklist.yaml'}: transitions[0].from[1]: 须为文字" in problems


def test_shipped_configs_stay_valid_under_the_strict_models():
    config = load_config(ROOT / "configs", strict=True)
    assert sorted(config.workflows) == sorted(p.stem for p in SHIPPED) and config.problems == []


def test_a_new_file_is_checked_against_the_installed_workflows(tmp_path):
    d = shipped("drill")
    d.update(name="new", code="HMD")
    path = tmp_path / "new.yaml"
    path.write_text(as_yaml(d), encoding="utf-8")
    out = run_cli("validate", str(path))
    assert out.returncode == 1
    assert f"{path}: code: 编号前缀「HMD」与流程 blacklist" in out.stderr, out.stderr


def test_an_edited_copy_must_raise_its_version(tmp_path):
    d = shipped("drill")
    d["title"] = "应急演练（修订）"
    problems = problems_of(tmp_path, "drill", as_yaml(d), installed=FLOWS)
    assert any(p.startswith(f"{tmp_path / 'drill.yaml'}: version: ") and f"version 改为 {d['version'] + 1}" in p
               for p in problems)
    d["version"] += 1
    assert problems_of(tmp_path, "drill", as_yaml(d), installed=FLOWS) == []
    assert problems_of(tmp_path, "drill", as_yaml(shipped("drill")), installed=FLOWS) == []  # an identical copy


def test_a_file_past_the_size_limit_is_refused_before_parsing(tmp_path):
    d = shipped("drill")
    d["description"] = "长" * (MAX_FILE_BYTES // 3 + 10)  # 3 bytes a character: just past the limit
    path = tmp_path / "drill.yaml"
    path.write_text(as_yaml(d).replace("\\u957f", "长"), encoding="utf-8")
    started = time.perf_counter()
    problems = problems_of(tmp_path, "drill", path.read_text(encoding="utf-8"))
    assert time.perf_counter() - started < 1
    assert problems == [f"{path}: 文件太大（超过 1000 KB）：一个配置文件最多 1000 KB，请拆分或精简"]


@pytest.mark.parametrize("change,words", [
    (lambda d: d.update(description="长" * 6000), "description: 太长（最多 5000 个字符）"),
    (lambda d: d.update(states=[{**d["states"][1], "name": f"s{i}"} for i in range(300)] + d["states"]),
     "states: 太多（"),
    (lambda d: d.update(transitions=d["transitions"][:1] * 501), "transitions: 太多（"),
    (lambda d: d["forms"]["scheme"].update(fields=[{"name": f"f{i}", "label": "字段", "kind": "text"} for i in range(250)]),
     "forms.scheme.fields: 字段太多（250 个，最多 200 个）"),
    (lambda d: d.update(transitions=d["transitions"] * 2000), "文件太大|内容太多（超过 10000 项）"),
], ids=["description", "states", "transitions", "fields", "20000-transitions"])
def test_counts_and_lengths_are_bounded_and_judged_fast(tmp_path, change, words):
    d = shipped("drill")
    change(d)
    started = time.perf_counter()
    problems = problems_of(tmp_path, "drill", as_yaml(d))
    assert time.perf_counter() - started < LIMIT_S
    assert any(re.search(words, p) for p in problems), problems


# ================================================================ one broken file, the rest keep running

@pytest.fixture
def broken_configs(tmp_path):
    root = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", root)
    (root / "flows" / "blacklist.yaml").write_text(
        (FLOWS / "blacklist.yaml").read_text(encoding="utf-8").replace("\ntitle: 安全生产失信黑名单", '\ntitle: "\\ud800"'),
        encoding="utf-8")
    return root


def test_a_broken_workflow_file_is_skipped_and_reported(broken_configs):
    config = load_config(broken_configs)
    # accident starts blacklist cases: it cannot load without it
    assert sorted(config.workflows) == ["drill", "plan_revision"]
    assert config.skipped == [broken_configs / "flows" / "blacklist.yaml", broken_configs / "flows" / "accident.yaml"]
    assert any("blacklist.yaml: title: 含有无效字符" in p for p in config.problems)
    assert any("accident.yaml: transitions[" in p and "关联的流程「blacklist」有错误，未能加载" in p for p in config.problems)
    assert "blacklist.yaml、accident.yaml" in config.warning()
    with pytest.raises(DefinitionError):
        load_config(broken_configs, strict=True)


def test_cli_list_starts_with_a_warning_and_validate_still_fails(broken_configs, tmp_path):
    env = {**os.environ, "WORKFLOW_CONFIGS_DIR": str(broken_configs)}
    listed = run_cli("list", "--data-dir", str(tmp_path / "data"), env=env)
    assert listed.returncode == 0, listed.stderr
    assert [row["name"] for row in json.loads(listed.stdout)] == ["drill", "plan_revision"]
    assert "未加载：blacklist.yaml、accident.yaml" in listed.stderr and "内部错误" not in listed.stderr
    validated = run_cli("validate", env=env)
    assert validated.returncode == 1 and "blacklist.yaml: title: 含有无效字符" in validated.stderr


def test_the_serving_process_warns_and_goes_on(broken_configs, monkeypatch, capsys):
    from flows.orchestration import serve

    class Started(Exception):
        pass

    class Svc:
        config = load_config(broken_configs)

    def next_step():
        raise Started

    monkeypatch.setattr(serve, "get_service", lambda: Svc())
    monkeypatch.setattr(serve, "job_deployments", next_step)
    with pytest.raises(Started):  # it went past loading to building the deployments
        serve.serve_all(broken_configs.parent / "data")
    assert "未加载：blacklist.yaml、accident.yaml" in capsys.readouterr().err


def test_the_app_starts_and_shows_the_warning(broken_configs, tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WORKFLOW_CONFIGS_DIR", str(broken_configs))
    monkeypatch.setenv("WORKFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()
        assert not at.exception, at.exception
        assert any("未加载：blacklist.yaml、accident.yaml" in w.value for w in at.warning)
    finally:
        st.cache_resource.clear()  # the next app test gets its own service


def test_config_without_problems_has_no_warning(config):
    assert config.warning() is None and config.warning_lines() == [] and config.skipped == []
    assert isinstance(config, Config)


# ================================================================ a case on an accepted definition

CREDIT = "91320100MA1ABCDE0"
CREDIT += credit_code_check_char(CREDIT)


def _sample(field, people=None) -> object:
    kind = field.kind
    if kind in ("text", "textarea"):
        return "样例" if field.pattern is None else None
    if kind == "number":
        return field.min if field.min is not None else (field.max if field.max is not None else 1)
    if kind == "date":
        return "2025-03-03"
    if kind == "datetime":
        return "2025-03-03T09:00"
    if kind == "choice":
        return field.options[0]
    if kind == "multichoice":
        return field.options[:1]
    if kind == "bool":
        return True
    if kind == "person":  # a different person for each person field
        return ORG.users[next(people) % len(ORG.users)].id if people else ORG.users[0].id
    if kind == "unit":
        return sorted(ORG.unit_names)[0]
    if kind == "enterprise":
        return {"name": "某某运输有限公司", "credit_code": CREDIT}
    if kind == "table":
        return [{c.name: _sample(c, people) for c in field.columns}]
    return None


def _form_data(wf: Workflow, form: str | None) -> dict:
    if form is None or form not in wf.forms:
        return {}
    people = itertools.count()
    return {f.name: _sample(f, people) for f in wf.forms[form].fields}


def _encodable(value) -> None:
    json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")


def exercise(wf: Workflow, steps: int = 25) -> int:
    """Start a case and move it as far as it goes (every refusal is fine, a crash is not); the
    number of steps it took."""
    _encodable(wf.model_dump(mode="json", by_alias=True))  # what publishing a version does
    ctx = engine.Context(org=ORG, calendar=WorkCalendar(), workflows=frozenset(p.stem for p in SHIPPED) | {wf.name})
    now = datetime(2025, 3, 3, 9, 0)
    try:
        case = engine.new_case(wf, ctx, case_id="T-2025-00001", actor=SYSTEM, data=_form_data(wf, wf.start_form),
                               now=now).case
    except FlowError:
        return 0
    done = 0
    for _ in range(steps):
        _encodable(case)
        engine.tasks(wf, case)
        moved = False
        for action in engine.available_actions(wf, ctx, case, SYSTEM, now):
            try:
                case = engine.fire(wf, ctx, case, action=action.name, actor=SYSTEM, now=now,
                                   data=_form_data(wf, action.form), comment="同意").case
            except FlowError:
                continue
            moved, done = True, done + 1
            break
        if not moved:
            break
    far = datetime(2199, 12, 31)
    for deadline in engine.due_deadlines(case, far):
        try:
            case = engine.apply_deadline(wf, ctx, case, deadline["id"], far).case
        except FlowError:
            pass
    _encodable(case)
    return done


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_exercise_moves_the_shipped_workflows(path, config):
    assert exercise(config.workflows[path.stem]) >= 2


# ================================================================ the generated suite

_NAME_KEYS = {"name", "transition", "form", "start_form", "to", "from", "split", "start", "end", "assignee",
              "units_field", "extends", "workflow", "table", "from_field"}

VALUE_MUTATIONS = {
    "true": lambda v: True,
    "false": lambda v: False,
    "digit-text": lambda v: "1",
    "int": lambda v: 7,
    "negative": lambda v: -5,
    "float": lambda v: 1.5,
    "huge-int": lambda v: 10**40,
    "big-int": lambda v: 10**9,
    "inf": lambda v: "__INF__",
    "nan": lambda v: "__NAN__",
    "null": lambda v: None,
    "empty-list": lambda v: [],
    "empty-map": lambda v: {},
    "empty-text": lambda v: "",
    "surrogate": lambda v: "\ud800",
    "surrogate-inside": lambda v: f"{v}\udc00" if isinstance(v, str) else "a\udc00",
    "nul": lambda v: "a\x00b",
    "long-text": lambda v: "长" * 25_000,
    "long-name": lambda v: "x" * 70,
    "deep": lambda v: functools.reduce(lambda acc, _: [acc], range(40), "x"),
    "wide": lambda v: [0] * 10_001,
    "unknown-ref": lambda v: "nowhere",
    "expression-deep": lambda v: "(" * 300 + "1" + ")" * 300,
    "expression-eval": lambda v: "__import__('os').system('true')",
    "expression-power": lambda v: "9 ** 9 ** 9 ** 9",
    "expression-unknown": lambda v: "settings.missing + ghost",
    "regex-overflow": lambda v: "a{99999999999}",
}
CONTAINER_MUTATIONS = ("unknown-key", "surrogate-key", "drop-key", "duplicate-item", "drop-item")


def _nodes(value, loc=()):
    """Every (location, value) of a definition's tree."""
    yield loc, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, (*loc, i))


def _set(data, loc, value):
    target = data
    for part in loc[:-1]:
        target = target[part]
    target[loc[-1]] = value


def _get(data, loc):
    for part in loc:
        data = data[part]
    return data


def _mutate_container(data, loc, kind):
    target = _get(data, loc)
    if isinstance(target, dict):
        if kind == "unknown-key":
            target["colour"] = "red"
        elif kind == "surrogate-key":
            target["\ud83d"] = 1
        elif kind == "drop-key" and target:
            del target[sorted(target)[0]]
        else:
            return False
    elif isinstance(target, list) and target:
        if kind == "duplicate-item":
            target.append(copy.deepcopy(target[0]))
        elif kind == "drop-item":
            del target[0]
        else:
            return False
    else:
        return False
    return True


TEXT_ATTACKS = {
    "laughs": lambda t: _with_settings(t, ["l0: &b0 [x, x, x, x, x, x, x, x, x, x]"]
                                       + [f"l{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 7)]),
    "recursive": lambda t: _with_settings(t, ["r: &r {a: *r}"]),
    "self-list": lambda t: _with_settings(t, ["r: &r [*r]"]),
    "undefined-alias": lambda t: _with_settings(t, ["r: *nothing"]),
    "merge-key": lambda t: _with_settings(t, ["m: {<<: {a: 1}}"]),
    "python-tag": lambda t: _with_settings(t, ["p: !!python/object/apply:os.system [true]"]),
    "custom-tag": lambda t: _with_settings(t, ["p: !secret x"]),
    "binary": lambda t: _with_settings(t, ["b: !!binary aGVsbG8="]),
    "set": lambda t: _with_settings(t, ["s: !!set {a, b}"]),
    "digits": lambda t: _with_settings(t, ["d: " + "7" * 5000]),
    "float-digits": lambda t: _with_settings(t, ["d: 1." + "7" * 5000]),
    "deep-flow": lambda t: _with_settings(t, ["d: " + "[" * 700 + "]" * 700]),
    "deep-map": lambda t: _with_settings(t, ["d: " + "{a: " * 400 + "1" + "}" * 400]),
    "tab": lambda t: t.replace("\n  ", "\n\t", 1),
    "two-documents": lambda t: t + "\n---\nname: other\n",
    "duplicate-key": lambda t: t + "\nname: again\n",
    "bad-indent": lambda t: t.replace("\nstates:\n", "\nstates:\n bad: [\n", 1),
    "escape-surrogate": lambda t: t.replace("\ndescription: ", '\ndescription: "\\udbff"\nx_description: ', 1),
    "escape-control": lambda t: _with_settings(t, ['c: "\\x1b[31m"']),
    "empty": lambda t: "",
    "only-comment": lambda t: "# nothing\n",
    "scalar-root": lambda t: "just text\n",
    "list-root": lambda t: "- a\n- b\n",
    "too-big": lambda t: t + "\n# " + "x" * MAX_FILE_BYTES + "\n",
    "many-nodes": lambda t: _with_settings(t, ["w: [" + ", ".join(["1"] * 11_000) + "]"]),
}
BYTE_ATTACKS = {
    "gb18030": lambda b: b.replace(b"\ntitle: ", b"\ntitle: " + "流程".encode("gb18030"), 1),
    "bom": lambda b: b"\xef\xbb\xbf" + b,
    "nul-byte": lambda b: b.replace(b"\ntitle:", b"\ntitle: \x00", 1),
    "truncated-utf8": lambda b: b[: b.index(b"\ntitle: ") + 9] + "流".encode()[:2],
}


def _generated(rng: random.Random, per_file: int) -> list[tuple[str, str, str | bytes]]:
    """(id, workflow name, file content): value mutations at sampled nodes, container mutations,
    and every text and byte attack on every shipped file."""
    out = []
    for path in SHIPPED:
        name, text = path.stem, path.read_text(encoding="utf-8")
        base = read_yaml(path)
        nodes = list(_nodes(base))[1:]
        picks = set()
        while len(picks) < per_file:
            loc, value = rng.choice(nodes)
            kinds = CONTAINER_MUTATIONS if isinstance(value, (dict, list)) and rng.random() < 0.5 else list(VALUE_MUTATIONS)
            picks.add((loc, rng.choice(kinds)))
        for loc, kind in sorted(picks, key=repr):
            data = copy.deepcopy(base)
            if kind in CONTAINER_MUTATIONS:
                if not _mutate_container(data, loc, kind):
                    continue
            else:
                _set(data, loc, VALUE_MUTATIONS[kind](_get(data, loc)))
            out.append((f"{name}:{'.'.join(map(str, loc))}:{kind}", name, as_yaml(data)))
        for kind, attack in TEXT_ATTACKS.items():
            out.append((f"{name}:text:{kind}", name, attack(text)))
        for kind, attack in BYTE_ATTACKS.items():
            out.append((f"{name}:bytes:{kind}", name, attack(text.encode("utf-8"))))
    return out


def _judge(tmp_path: Path, mutants) -> dict:
    tally = {"generated": len(mutants), "refused": 0, "accepted": 0, "accepted_cases": 0}
    slowest = (0.0, "")
    failures = []
    for i, (ident, name, content) in enumerate(mutants):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        started = time.perf_counter()
        try:
            workflows, _, problems = load_workflows(
                [folder / f"{name}.yaml"] if _write(folder / f"{name}.yaml", content) else [], ORG, TEMPLATES,
                also_known={p.stem for p in SHIPPED})  # linked starts into the other shipped workflows
        except Exception as exc:  # noqa: BLE001 - the point: nothing but a list of problems comes back
            failures.append(f"{ident}: {type(exc).__name__}: {exc}"[:300])
            continue
        elapsed = time.perf_counter() - started
        slowest = max(slowest, (elapsed, ident))
        if elapsed > LIMIT_S:
            failures.append(f"{ident}: took {elapsed:.1f} s")
        prefix = f"{folder / f'{name}.yaml'}: "
        for p in problems:
            rest = p.removeprefix(prefix)
            located = p.startswith(prefix) and (re.match(r"第 \d+ 行: \S", rest) or re.match(r"[^\s:]+: \S", rest)
                                                or rest.startswith("文件太大"))
            if not located or "内部错误" in p or "Traceback" in p:
                failures.append(f"{ident}: not a located refusal: {p[:200]}")
            try:
                p.encode("utf-8")
            except UnicodeEncodeError:
                failures.append(f"{ident}: the message cannot be printed: {p.encode('utf-8', 'backslashreplace')[:200]}")
        if problems:
            tally["refused"] += 1
            continue
        tally["accepted"] += 1
        try:
            (wf,) = workflows.values()
            exercise(wf)
            tally["accepted_cases"] += 1
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{ident}: accepted, then a case on it crashed: {type(exc).__name__}: {exc}"[:300])
    tally["slowest"] = f"{slowest[0]:.2f} s ({slowest[1]})"
    tally["failures"] = failures
    return tally


def _write(path: Path, content: str | bytes) -> bool:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return True


@pytest.fixture
def cached_templates(monkeypatch):
    cached = functools.cache(config_module.template_fields)
    monkeypatch.setattr(config_module, "template_fields", cached)


@pytest.mark.timeout(600)
def test_generated_hostile_definitions_are_refused_or_harmless(tmp_path, cached_templates, capsys):
    mutants = _generated(random.Random(9), per_file=55)
    tally = _judge(tmp_path, mutants)
    with capsys.disabled():
        print(f"\nhostile definitions: {tally['generated']} generated, {tally['refused']} refused, "
              f"{tally['accepted']} accepted ({tally['accepted_cases']} then ran a case); slowest {tally['slowest']}")
    assert tally["failures"] == []
    assert tally["generated"] >= 300 and tally["refused"] >= 250
    assert tally["accepted"] == tally["accepted_cases"]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_node_of_every_shipped_workflow_mutated(tmp_path, cached_templates, capsys):
    """The long run: each node of each shipped file gets three of the hostile values."""
    rng = random.Random(2025)
    mutants = []
    for path in SHIPPED:
        base = read_yaml(path)
        for j, (loc, value) in enumerate(list(_nodes(base))[1:]):
            for kind in rng.sample(sorted(VALUE_MUTATIONS), 3):
                data = copy.deepcopy(base)
                _set(data, loc, VALUE_MUTATIONS[kind](value))
                mutants.append((f"{path.stem}:{'.'.join(map(str, loc))}:{kind}", path.stem, as_yaml(data)))
            if isinstance(value, (dict, list)):
                data = copy.deepcopy(base)
                kind = CONTAINER_MUTATIONS[j % len(CONTAINER_MUTATIONS)]
                if _mutate_container(data, loc, kind):
                    mutants.append((f"{path.stem}:{'.'.join(map(str, loc))}:{kind}", path.stem, as_yaml(data)))
    tally = _judge(tmp_path, mutants)
    with capsys.disabled():
        print(f"\nhostile definitions (every node): {tally['generated']} generated, {tally['refused']} refused, "
              f"{tally['accepted']} accepted ({tally['accepted_cases']} then ran a case); slowest {tally['slowest']}")
    assert tally["failures"] == []
