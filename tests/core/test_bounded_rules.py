"""An admin's rule that passes `validate` is still bounded when a user's value meets it: a pattern that
backtracks exponentially, a timer whose length comes from a form field."""
from __future__ import annotations

from datetime import datetime

import pytest

from flows.core import engine
from flows.core.errors import FlowError
from flows.core.forms import Field, FormContext, FormInvalid, check_form
from flows.core.org import Organisation
from flows.core.spec import Workflow
from flows.core.workdays import WorkCalendar


@pytest.mark.timeout(20)
def test_a_backtracking_pattern_gives_up_with_a_message_instead_of_hanging():
    field = Field(name="code", label="编号", kind="text", pattern="(a|aa)+c")
    with pytest.raises(FormInvalid) as refused:
        check_form([field], {"code": "a" * 40}, FormContext())        # exponential backtracking
    assert refused.value.errors == {"code": "格式检查超时，请联系管理员检查该字段的格式规则"}
    assert check_form([field], {"code": "aaac"}, FormContext()) == {"code": "aaac"}


def test_a_pattern_that_cannot_compile_is_refused_at_definition():
    with pytest.raises(ValueError, match="正则表达式无效"):
        Field(name="code", label="编号", kind="text", pattern="(unclosed")


def test_a_timer_length_typed_into_a_form_is_bounded_before_any_date_arithmetic():
    wf = Workflow.model_validate({
        "name": "t", "title": "测试", "code": "TT", "version": 1, "start_form": "s",
        "forms": {"s": {"title": "发起", "fields": [{"name": "days", "label": "期限天数", "kind": "number", "integer": True}]}},
        "states": [{"name": "a", "label": "甲", "initial": True,
                    "timers": [{"name": "due", "label": "办理期限", "after": "days", "unit": "days",
                                "action": "escalate"}]},
                   {"name": "b", "label": "乙", "final": True}],
        "transitions": [{"name": "go", "label": "完成", "from": "a", "to": "b", "roles": ["经办人"]}]})
    org = Organisation.model_validate({"units": [{"name": "科"}], "roles": [{"name": "经办人"}],
                                       "users": [{"id": "u", "name": "某人", "unit": "科", "roles": ["经办人"]}]})
    ctx = engine.Context(org=org, calendar=WorkCalendar(), workflows=frozenset({"t"}))
    now = datetime(2025, 3, 3, 9)
    with pytest.raises(FlowError, match="「办理期限」的期限长度 1e\\+09 超出允许范围（0–36500）"):
        engine.new_case(wf, ctx, case_id="TT-1", actor=org.actor("u"), data={"days": 10**9}, now=now)
    ok = engine.new_case(wf, ctx, case_id="TT-1", actor=org.actor("u"), data={"days": 30}, now=now)
    assert ok.case["deadlines"][0]["due"].startswith("2025-04-02")
