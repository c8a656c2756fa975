"""flows.core.forms: check_form, the credit code check and widget defaults."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.core.forms import (
    Field,
    FormContext,
    FormInvalid,
    check_form,
    credit_code_check_char,
    credit_code_valid,
    widget_default,
)

USERS = {"awb_zhang": "张伟", "ygk_liu": "刘洋"}
UNITS = frozenset({"局安委办", "运输管理科"})
CTX = FormContext(users=USERS, units=UNITS)


def F(name: str, kind: str, **kw) -> Field:
    return Field(name=name, label=kw.pop("label", name), kind=kind, **kw)


def errors_of(fields, values, ctx=CTX) -> dict[str, str]:
    with pytest.raises(FormInvalid) as exc:
        check_form(fields, values, ctx)
    assert str(exc.value).startswith("表单填写有误")
    return exc.value.errors


def clean(field: Field, value, ctx=CTX):
    return check_form([field], {field.name: value}, ctx)[field.name]


def error(field: Field, value, ctx=CTX) -> str:
    errs = errors_of([field], {field.name: value}, ctx)
    assert list(errs) == [field.name], errs
    return errs[field.name]


# ---------------------------------------------------------------- 统一社会信用代码

@pytest.mark.parametrize("code", [
    "91350100M000100Y43",  # the example usually quoted for GB 32100-2015
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91320600MA1MXK3P27",  # organisation.yaml
    "91350100m000100y43",  # case is not significant
])
def test_valid_credit_codes(code):
    assert credit_code_valid(code)


def test_every_single_character_change_is_caught():
    code = "91350100M000100Y43"
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for i in range(18):
        for c in alphabet:
            if c != code[i]:
                changed = code[:i] + c + code[i + 1:]
                assert not credit_code_valid(changed), changed


@pytest.mark.parametrize("code", [
    "91350100M000100Y44", "91350100M000100Y4", "91350100M000100Y433", "", "91350100M0001O0Y43",
    "91350100I000100Y43", "91350100M000100Y4 3", "９1350100M000100Y43",
])
def test_invalid_credit_codes(code):
    assert not credit_code_valid(code)


def test_check_char():
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert credit_code_check_char("91440300192203821") == "6"


# ---------------------------------------------------------------- required and empty

def test_required_and_empty():
    fields = [F("a", "text", required=True), F("b", "number", required=True), F("c", "multichoice", options=["x"],
              required=True), F("d", "enterprise", required=True), F("e", "bool", required=True),
              F("f", "table", required=True, columns=[F("x", "text")]), F("g", "file", required=True)]
    errs = errors_of(fields, {"a": "  ", "b": "", "c": [], "d": {"name": "", "credit_code": ""}, "f": []})
    assert errs == {name: "必填" for name in "abcdefg"}


def test_false_is_an_answer_not_missing():
    assert check_form([F("fixed", "bool", required=True)], {"fixed": False}, CTX) == {"fixed": False}
    assert check_form([F("n", "number", required=True)], {"n": 0}, CTX) == {"n": 0}


def test_optional_empty_fields_and_extra_keys():
    fields = [F("a", "text"), F("b", "multichoice", options=["x"]), F("c", "table", columns=[F("x", "text")]),
              F("d", "file"), F("e", "enterprise"), F("f", "date")]
    assert check_form(fields, {"a": ""}, CTX) == {
        "a": None, "b": [], "c": [], "d": [], "e": None, "f": None}
    # a key the form does not declare is refused by name, not dropped (issue 9)
    assert errors_of(fields, {"a": "", "zzz": "dropped"}) == {"": "未知字段：zzz"}


def test_every_bad_field_is_listed_at_once():
    fields = [F("site", "text", required=True, max_length=5), F("found_on", "date", required=True),
              F("injuries", "number", integer=True, min=0, required=True), F("unit", "unit"),
              F("owner", "person"), F("ok", "text")]
    errs = errors_of(fields, {"site": "一二三四五六", "found_on": "2024-02-30", "injuries": -1,
                              "unit": "不存在的科", "owner": "nobody", "ok": "fine"})
    assert errs == {
        "site": "最多 5 个字（现为 6 个）",
        "found_on": "不是有效的日期（格式 YYYY-MM-DD）",
        "injuries": "应不小于 0",
        "unit": "「不存在的科」不是已登记的单位",
        "owner": "「nobody」不是系统中的人员",
    }


def test_values_must_be_a_mapping():
    assert errors_of([F("a", "text")], ["not", "a", "dict"]) == {"": "表单数据须为字段名到值的映射"}
    assert check_form([F("a", "text")], None, CTX) == {"a": None}


# ---------------------------------------------------------------- text

def test_text():
    f = F("site", "text", min_length=2, max_length=10)
    assert clean(f, "  城关码头 ") == "城关码头"
    assert error(f, "码") == "至少 2 个字（现为 1 个）"
    assert error(f, ["list"]) == "须为文字"
    assert error(f, True) == "须为文字"
    assert clean(F("no", "text"), 12) == "12"


def test_textarea_keeps_indentation():
    assert clean(F("body", "textarea"), "\u3000\u3000正文第一段。\n第二段。") == "\u3000\u3000正文第一段。\n第二段。"
    assert errors_of([F("body", "textarea", required=True)], {"body": " \n\t"}) == {"body": "必填"}


def test_pattern():
    f = F("doc_no", "text", pattern=r"〔\d{4}〕\d+号", pattern_message="文号格式应如〔2024〕12号")
    assert clean(f, "〔2024〕12号") == "〔2024〕12号"
    assert error(f, "〔2024〕12号附") == "文号格式应如〔2024〕12号"  # the whole value must match
    assert error(F("p", "text", pattern=r"\d+"), "12a") == "格式不符合要求"


# ---------------------------------------------------------------- numbers

def test_numbers():
    f = F("loss", "number", min=0, max=100000)
    assert clean(f, 12) == 12 and isinstance(clean(f, 12), int)
    assert clean(f, "12") == 12 and isinstance(clean(f, "12"), int)
    assert clean(f, " 12.5 ") == 12.5
    assert clean(f, 0) == 0
    assert error(f, -0.01) == "应不小于 0"
    assert error(f, "100001") == "应不大于 100000"
    assert error(F("x", "number", min=0.5), 0.4) == "应不小于 0.5"
    assert error(f, "十二") == "须为数字"
    assert error(f, True) == "须为数字"
    assert error(f, "nan") == "须为有限的数字"
    assert error(f, "inf") == "须为有限的数字"
    assert error(f, [1]) == "须为数字"


def test_integer_numbers():
    f = F("deaths", "number", integer=True, min=0)
    assert clean(f, 3.0) == 3 and isinstance(clean(f, 3.0), int)
    assert clean(f, "3") == 3
    assert error(f, 2.5) == "须为整数"
    assert error(f, "2.5") == "须为整数"


# ---------------------------------------------------------------- dates

def test_dates():
    f = F("found_on", "date")
    assert clean(f, "2024-10-01") == "2024-10-01"
    assert clean(f, date(2024, 10, 1)) == "2024-10-01"
    assert clean(f, datetime(2024, 10, 1, 9, 30)) == "2024-10-01"
    for bad in ("2024-13-01", "2024/10/01", "20241001", "2024-W40-1", "明天", 20241001):
        assert error(f, bad) == "不是有效的日期（格式 YYYY-MM-DD）", bad


def test_datetimes():
    f = F("occurred_at", "datetime")
    assert clean(f, "2024-10-01T09:30") == "2024-10-01T09:30"
    assert clean(f, "2024-10-01 09:30") == "2024-10-01T09:30"
    assert clean(f, "2024-10-01T09:30:15") == "2024-10-01T09:30:15"
    assert clean(f, "2024-10-01T09:30:00.123") == "2024-10-01T09:30"
    assert clean(f, datetime(2024, 10, 1, 9, 30, 5, 999)) == "2024-10-01T09:30:05"
    assert clean(f, date(2024, 10, 1)) == "2024-10-01T00:00"
    for bad in ("2024-10-01", "2024-10-01T25:00", "2024-10-01T09:30+08:00", "昨天下午", 3):
        assert error(f, bad) == "不是有效的日期时间（格式 YYYY-MM-DDTHH:MM）", bad


# ---------------------------------------------------------------- choices and yes/no

def test_choice():
    f = F("drill_kind", "choice", options=["实战演练", "双盲拉练", "桌面推演"])
    assert clean(f, "双盲拉练") == "双盲拉练"
    assert error(f, "拉练") == "「拉练」不在可选项中"
    assert error(f, 3) == "「3」不在可选项中"


def test_multichoice():
    f = F("four_principles", "multichoice", options=["原因", "处理", "整改", "教育"])
    assert clean(f, ["教育", "原因"]) == ["原因", "教育"]  # the options' order
    assert clean(f, "整改") == ["整改"]
    assert error(f, ["原因", "原因"]) == "「原因」重复选择"
    assert error(f, ["原因", "其他"]) == "「其他」不在可选项中"
    assert error(f, 5) == "须为选项列表"


@pytest.mark.parametrize("given, expected", [
    (True, True), (False, False), ("是", True), ("否", False), ("true", True), ("false", False)])
def test_bool(given, expected):
    assert clean(F("fixed", "bool"), given) is expected


def test_bool_refuses_other_values():
    assert error(F("fixed", "bool"), "也许") == "须为「是」或「否」"
    assert error(F("fixed", "bool"), 2) == "须为「是」或「否」"


# ---------------------------------------------------------------- organisation

def test_person_and_unit():
    assert clean(F("owner", "person"), "awb_zhang") == "awb_zhang"
    assert error(F("owner", "person"), "张伟") == "「张伟」不是系统中的人员"  # ids, not names
    assert clean(F("unit", "unit"), "局安委办") == "局安委办"
    assert error(F("unit", "unit"), "局安委办", FormContext()) == "「局安委办」不是已登记的单位"


# ---------------------------------------------------------------- enterprise

def test_enterprise():
    f = F("enterprise", "enterprise", required=True)
    assert clean(f, {"name": " 通达客运有限公司 ", "credit_code": "91320600ma1mxk3p27"}) == {
        "name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}
    assert error(f, {"name": "某公司", "credit_code": "91320600MA1MXK3P27", "x": 1}) == "未知字段：x"  # issue 9
    errs = errors_of([f], {"enterprise": {"name": "某公司", "credit_code": "91350100M000100Y44"}})
    assert errs == {"enterprise.credit_code": "统一社会信用代码校验位错误（应为 3）"}
    errs = errors_of([f], {"enterprise": {"name": "", "credit_code": "91350100M000100Y4"}})
    assert errs == {"enterprise.name": "必填", "enterprise.credit_code": "统一社会信用代码应为 18 位（现为 17 位）"}
    errs = errors_of([f], {"enterprise": {"name": "某公司", "credit_code": "91350100I000100Y43"}})
    assert "无效字符「I」" in errs["enterprise.credit_code"]
    errs = errors_of([f], {"enterprise": {"name": "某公司"}})
    assert errs == {"enterprise.credit_code": "必填"}
    assert errors_of([f], {"enterprise": "某公司"}) == {"enterprise": "须填写企业名称和统一社会信用代码"}


# ---------------------------------------------------------------- files

def test_files():
    # issue 9: a ref is only one the file store issued (and holds); the service tells the core which
    stored = "sha256:" + "ab" * 32
    ctx = FormContext(users=USERS, units=UNITS, file_known=lambda ref: ref == stored)
    f = F("evidence", "file")
    files = [{"name": "现场照片.jpg", "ref": stored, "size": 10, "type": "image/jpeg"}]
    assert clean(f, files, ctx) == [{"name": "现场照片.jpg", "ref": stored}]
    errs = errors_of([f], {"evidence": [{"name": "a.pdf", "ref": stored}, {"name": "b.pdf"}, "c.pdf"]}, ctx)
    assert set(errs) == {"evidence[1]", "evidence[2]"}
    assert error(f, 3) == "须为附件列表"
    assert errors_of([f], {"evidence": [{"name": "a.pdf", "ref": stored}]}) == {  # no store: nothing is known
        "evidence[0]": "附件「a.pdf」不是本平台保存的文件，请重新上传"}


# ---------------------------------------------------------------- tables

PERSONS = F("persons", "table", required=True, min_rows=1, max_rows=3, columns=[
    F("name", "text", required=True),
    F("owner", "person"),
    F("measure", "choice", options=["警告", "记过", "移送司法"], required=True),
    F("fine", "number", min=0, visible_when="measure != '移送司法'"),
])


def test_table_rows_are_cleaned():
    rows = [{"name": " 王某 ", "measure": "警告", "fine": "500"}, {"name": "李某", "measure": "移送司法", "fine": 9}]
    assert clean(PERSONS, rows) == [
        {"name": "王某", "owner": None, "measure": "警告", "fine": 500},
        {"name": "李某", "owner": None, "measure": "移送司法"},  # the hidden column is dropped
    ]


def test_table_errors_name_row_and_column():
    rows = [{"name": "王某", "measure": "警告"}, {"name": "", "measure": "罚款", "owner": "x"},
            {"name": "赵某", "measure": "记过", "fine": -1}]
    assert errors_of([PERSONS], {"persons": rows}) == {
        "persons[1].name": "必填",
        "persons[1].owner": "「x」不是系统中的人员",
        "persons[1].measure": "「罚款」不在可选项中",
        "persons[2].fine": "应不小于 0",
    }


def test_table_row_counts_and_shapes():
    assert error(PERSONS, "not rows") == "须为表格行的列表"
    four = [{"name": f"人{i}", "measure": "警告"} for i in range(4)]
    assert error(PERSONS, four) == "最多 3 行（现为 4 行）"
    at_least_two = F("rows", "table", min_rows=2, columns=[F("x", "text")])
    assert error(at_least_two, [{"x": "a"}]) == "至少填写 2 行（现为 1 行）"
    assert error(at_least_two, []) == "至少填写 2 行（现为 0 行）"       # given empty: a value, its bound holds
    assert check_form([at_least_two], {}, FormContext()) == {"rows": []}  # left out of an optional step: none
    assert errors_of([PERSONS], {"persons": [{"name": "王某", "measure": "警告"}, "row"]}) == {
        "persons[1]": "每一行须为一组字段值"}


# ---------------------------------------------------------------- visible_when

DRILL = [
    F("problems_found", "bool", required=True),
    F("problems", "table", required=True, visible_when="problems_found", columns=[F("problem", "text", required=True)]),
    F("note", "text", required=True, visible_when="problems_found and len(problems) > 2"),
]


def test_hidden_field_is_neither_required_nor_kept():
    assert check_form(DRILL, {"problems_found": False, "problems": [{"problem": ""}]}, CTX) == {"problems_found": False}
    assert check_form(DRILL, {"problems_found": "否"}, CTX) == {"problems_found": False}


def test_visible_field_is_required_and_checked():
    assert errors_of(DRILL, {"problems_found": "是"}) == {"problems": "必填"}
    assert errors_of(DRILL, {"problems_found": True, "problems": [{"problem": ""}]}) == {"problems[0].problem": "必填"}
    ok = check_form(DRILL, {"problems_found": True, "problems": [{"problem": "通道堵塞"}]}, CTX)
    assert ok == {"problems_found": True, "problems": [{"problem": "通道堵塞"}]}
    three = [{"problem": f"问题{i}"} for i in range(3)]
    assert errors_of(DRILL, {"problems_found": True, "problems": three}) == {"note": "必填"}


def test_visible_when_sees_the_case_data():
    fields = [F("enterprise", "enterprise", required=True, visible_when="severe")]
    assert check_form(fields, {}, FormContext(data={"severe": False})) == {}
    assert errors_of(fields, {}, FormContext(data={"severe": True})) == {"enterprise": "必填"}
    # the form's own value wins over the case data
    fields = [F("severe", "bool"), F("detail", "text", required=True, visible_when="severe")]
    assert check_form(fields, {"severe": False}, FormContext(data={"severe": True})) == {"severe": False}


def test_a_hidden_field_does_not_show_its_dependants():
    fields = [
        F("a", "bool"),
        F("b", "bool", visible_when="a"),
        F("c", "text", required=True, visible_when="b"),
    ]
    assert check_form(fields, {"a": False, "b": True}, CTX) == {"a": False}
    assert errors_of(fields, {"a": True, "b": True}) == {"c": "必填"}


def test_visible_when_uses_cleaned_values():
    fields = [F("deaths", "number"), F("report", "text", required=True, visible_when="deaths >= 3")]
    assert errors_of(fields, {"deaths": "3"}) == {"report": "必填"}  # "3" was cleaned to 3 first
    assert check_form(fields, {"deaths": "2"}, CTX) == {"deaths": 2}


# ---------------------------------------------------------------- widget defaults

def test_widget_default():
    assert widget_default(F("a", "number", default=5)) == 5
    assert widget_default(F("a", "multichoice", options=["x"])) == []
    assert widget_default(F("a", "text")) == ""
    assert widget_default(F("a", "enterprise")) == {"name": "", "credit_code": ""}
    assert widget_default(F("a", "date")) is None


_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@given(st.sampled_from("123456789ANY"), st.sampled_from(_CHARS), st.sampled_from(["32", "11", "44", "65"]),
       st.text(alphabet="0123456789", min_size=4, max_size=4), st.text(alphabet=_CHARS, min_size=9, max_size=9),
       st.sampled_from(list(_CHARS)))
def test_check_char_property(authority, kind, province, division, rest, other):
    # issue 9: any 17 characters with their check character was valid (eighteen zeros too); a body
    # now starts with a registration authority and a division code
    body = authority + kind + province + division + rest
    code = body + credit_code_check_char(body)
    assert credit_code_valid(code)
    assert credit_code_valid(code.lower())
    if other != code[17]:
        assert not credit_code_valid(body + other)
