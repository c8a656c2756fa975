"""flows.core.expressions: the safe evaluator for guards and visible-when conditions."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.core import expressions
from flows.core.expressions import Expression, ExpressionError, evaluate, parse

CASE = {
    "deaths": 2,
    "serious_injuries": 0,
    "direct_loss": 1500,
    "drill_kind": "双盲拉练",
    "problems_found": True,
    "persons": [{"name": "张伟", "measure": "警告"}, {"name": "刘洋", "measure": "记过"}],
    "four_principles": ["事故原因已查清", "责任人员已处理"],
    "responded": True,
    "reviewed": False,
    "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"},
    "level": "较大",
    "settings": {"repair_min_years": 1, "investigation_days": 60},
    "entered": {"listed": "2024-03-01"},
    "today": "2025-03-01",
}


# ---------------------------------------------------------------- what the workflows write

@pytest.mark.parametrize("source, expected", [
    ("deaths >= 3 or direct_loss >= 1000", True),
    ("deaths >= 3 and direct_loss >= 1000", False),
    ('drill_kind == "双盲拉练"', True),
    ("drill_kind != '双盲拉练'", False),
    ("problems_found", True),
    ("not problems_found", False),
    ("len(persons) > 0", True),
    ('"事故原因已查清" in four_principles', True),
    ('"整改措施已落实" not in four_principles', True),
    ("len(four_principles) == 4", False),
    ("responded and not reviewed", True),
    ("level in ['较大', '重大', '特别重大']", True),
    ("level in ('较大', '重大')", True),
    ("enterprise and (level in ['较大'] or wide_impact)", True),
    ("1 <= deaths < 3", True),
    ("0 < deaths < 2", False),
    ("deaths * 10 + direct_loss / 100 == 35", True),
    ("direct_loss // 1000 == 1 and direct_loss % 1000 == 500", True),
    ("-deaths == -2", True),
    ("2 ** 10 == 1024", True),
    ("'一般' if deaths < 3 else '较大'", "一般"),
    ("settings.investigation_days", 60),
    ("enterprise.credit_code", "91320600MA1MXK3P27"),
    ('persons[1]["measure"]', "记过"),
    ("persons[-1].name", "刘洋"),
    ("persons[0:1][0].name", "张伟"),
    ("enterprise['name']", "通达客运有限公司"),
    ("today >= add_years(entered['listed'], settings.repair_min_years)", True),
    ("today >= add_years(entered['listed'], 2)", False),
    ("max(deaths, serious_injuries, 1)", 2),
    ("min([3, deaths])", 2),
    ("sum([1, 2.5])", 3.5),
    ("abs(-3) + round(2.6) + int('4') + float('0.5')", 10.5),
    ("str(deaths) + '人'", "2人"),
    ("any([reviewed, responded]) and not all([reviewed, responded])", True),
    ("bool(persons)", True),
    ("x is None", True),
    ("deaths is not None", True),
])
def test_workflow_expressions(source, expected):
    assert evaluate(source, CASE) == expected


def test_accident_level_rules():
    rules = [
        ("deaths >= 30 or serious_injuries >= 100 or direct_loss >= 10000", "特别重大"),
        ("deaths >= 10 or serious_injuries >= 50 or direct_loss >= 5000", "重大"),
        ("deaths >= 3 or serious_injuries >= 10 or direct_loss >= 1000", "较大"),
    ]

    def level(data):
        return next((value for source, value in rules if evaluate(source, data)), "一般")

    assert level({"deaths": 30}) == "特别重大"
    assert level({"deaths": 29, "serious_injuries": 50}) == "重大"
    assert level({"direct_loss": 1000}) == "较大"
    assert level({"deaths": 2, "serious_injuries": 9, "direct_loss": 999.9}) == "一般"
    assert level({}) == "一般"  # nothing filled yet: no comparison holds


# ---------------------------------------------------------------- missing data and type errors

@pytest.mark.parametrize("source, expected", [
    ("missing", None),
    ("missing >= 3", False),
    ("missing < 3", False),
    ("3 <= missing", False),
    ("missing == 3", False),
    ("missing != 3", True),
    ("missing == None", True),
    ("not missing", True),
    ("missing + 1", None),
    ("-missing", None),
    ("len(missing)", None),
    ("len(missing) == 4", False),
    ("'x' in missing", False),
    ("'x' not in missing", False),  # an unknown container answers no question
    ("missing.credit_code", None),
    ("missing['x']", None),
    ("missing[0]", None),
    ("deaths >= 'three'", False),
    ("drill_kind > 3", False),
    ("1 / 0", None),
    ("deaths % 0", None),
    ("'a' - 1", None),
    ("'%s' % deaths", None),  # no string formatting
    ("persons[9]", None),
    ("persons['name']", None),
    ("enterprise.nothing", None),
    ("enterprise[['unhashable']]", None),
    ("deaths.real", None),  # dotted access never reaches Python attributes
    ("drill_kind.upper", None),
    ("settings.keys", None),
    ("int('abc')", None),
    ("float(None)", None),
    ("round(2.5, 100000)", None),
    ("sum(['a'])", None),
    ("max([persons, persons])", None),
    ("add_years('not a date', 1)", None),
    ("add_days(entered.listed, 'x')", None),
    ("str(persons)", None),
    ("responded and not reviewed and missing", None),
])
def test_missing_names_and_type_errors_do_not_raise(source, expected):
    assert evaluate(source, CASE) == expected


def test_responded_and_not_reviewed_with_nothing_filled():
    expr = parse("responded and not reviewed")
    assert not expr.evaluate({})
    assert expr.evaluate({"responded": True})
    assert not expr.evaluate({"responded": True, "reviewed": True})


def test_evaluate_accepts_none_data():
    assert parse("x").evaluate(None) is None


def test_date_functions():
    assert evaluate("add_years('2024-02-29', 1)", {}) == "2025-02-28"
    assert evaluate("add_months('2024-01-31', 1)", {}) == "2024-02-29"
    assert evaluate("add_months('2024-01-31', -2)", {}) == "2023-11-30"
    assert evaluate("add_days('2024-12-31', 1)", {}) == "2025-01-01"
    assert evaluate("add_days(d, 3)", {"d": date(2024, 1, 30)}) == date(2024, 2, 2)
    assert evaluate("add_days('2024-01-01T09:30', 1)", {}) == "2024-01-02"
    assert evaluate("add_years('9999-01-01', 1)", {}) is None


# ---------------------------------------------------------------- names

def test_names_are_the_free_variables():
    assert parse("deaths >= 3 or direct_loss >= 1000").names == {"deaths", "direct_loss"}
    assert parse("len(persons) > 0").names == {"persons"}  # function names are not fields
    assert parse("enterprise.credit_code and persons[0]['measure']").names == {"enterprise", "persons"}
    assert parse("today >= add_years(entered['listed'], settings.repair_min_years)").names == {
        "today", "entered", "settings"}
    assert parse("'x' in ['x', 'y'] and True and None is None").names == frozenset()
    assert isinstance(parse("a").names, frozenset)


def test_parse_is_cached_and_expressions_compare_by_source():
    assert parse("a and b") is parse("a and b")
    assert parse("a and b") == Expression("a and b", frozenset(), None)
    assert parse("a and b").source == "a and b"


def test_multiline_source_from_yaml_block():
    expr = parse("deaths >= 3\n  or direct_loss >= 1000\n")
    assert expr.evaluate({"direct_loss": 1000}) is True


# ---------------------------------------------------------------- adversarial input

@pytest.mark.parametrize("source", [
    '__import__("os")',
    '__import__("os").system("echo pwned")',
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "x.__dict__",
    "x._private",
    "x['__class__']",
    "persons[0].__class__.__init__.__globals__",
    'open("x")',
    'open("/etc/passwd").read()',
    "eval('1')",
    "exec('1')",
    "compile('1', 'x', 'eval')",
    "getattr(x, 'y')",
    "globals()",
    "locals()",
    "vars()",
    "type(x)",
    "print(x)",
    "input()",
    "help()",
    "x.upper()",
    "'abc'.format(x)",
    "(lambda: 1)()",
    "lambda: 1",
    "[x for x in y]",
    "{x for x in y}",
    "{x: 1 for x in y}",
    "any(x for x in y)",
    "(y := 1)",
    "[y := 5, y ** 2]",
    "f'{x}'",
    "f'{x!r:>{10**9}}'",
    "{'a': 1}",
    "{1, 2}",
    "9**9**9",
    "10 ** 100000",
    "2 ** (10 ** 6)",
    "(-7) ** 99999",
    "1 << 100000",
    "x >> 1",
    "x & 1",
    "x | y",
    "x ^ y",
    "~x",
    "len(*x)",
    "[*x]",
    "len(x, y)",
    "len()",
    "max()",
    "round(x, ndigits=2)",
    "b'bytes'",
    "1j",
    "...",
    "x = 1",
    "import os",
    "x; y",
    "yield x",
    "await x",
    "a && b",
    "!a",
    "a == （1）",
    "“中文” == a",
    "(a",
    "a)",
    "'unterminated",
    "",
    "   ",
    "\x00",
    "a" * (expressions.MAX_SOURCE + 1),
    "not " * 100 + "x",
    "-" * 100 + "x",
    "[" * 80 + "]" * 80,
    "x" + "[0]" * 80,
])
def test_forbidden_constructs_are_refused_at_parse(source):
    with pytest.raises(ExpressionError) as exc:
        parse(source)
    message = str(exc.value)
    assert message and isinstance(exc.value, ValueError)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message)  # a Chinese message


def test_parse_refuses_non_strings():
    with pytest.raises(ExpressionError):
        parse(None)  # type: ignore[arg-type]
    with pytest.raises(ExpressionError):
        parse(3)  # type: ignore[arg-type]


def test_messages_carry_the_position():
    exc = pytest.raises(ExpressionError, parse, "deaths >= 3 or open('x')").value
    assert exc.position == 16 and "第 16 个字符" in str(exc) and "open" in str(exc)
    # positions count characters, not UTF-8 bytes
    exc = pytest.raises(ExpressionError, parse, '"中文" == x.__class__').value
    assert exc.position == 9
    exc = pytest.raises(ExpressionError, parse, "deaths >= ").value
    assert exc.position is not None and "语法错误" in str(exc)


@pytest.mark.parametrize("source, hint", [
    ("level = '较大'", "=="),
    ("a && b", "and"),
    ("a == （1）", "半角"),
    ("'abc", "引号"),
    ("(a or b", "括号"),
    ("open('x')", "open"),
    ("x.__class__", "下划线"),
    ("[x for x in y]", "推导式"),
    ("9**9**9", "数值过大"),
])
def test_messages_are_specific(source, hint):
    assert hint in str(pytest.raises(ExpressionError, parse, source).value)


@pytest.mark.parametrize("source, data", [
    ("x ** y", {"x": 9, "y": 9 ** 9}),
    ("x ** y", {"x": 10, "y": 100000}),
    ("x * y", {"x": "a", "y": 10 ** 9}),
    ("x * y", {"x": [1], "y": 10 ** 6}),
    ("[x] * y", {"x": [0] * 1000, "y": 1000}),
    ("x + x", {"x": "a" * 60000}),
    ("str(x ** 3000)", {"x": 10}),
    ("int(x)", {"x": "9" * 10000}),
    ("round(x, -y)", {"x": 5, "y": 10 ** 9}),
    ("x ** 0.5", {"x": -8}),
    ("float(x) ** 400", {"x": "1e300"}),
])
def test_size_bombs_are_bounded_at_run_time(source, data):
    assert evaluate(source, data) is None  # refused by the size bounds, not computed (time: bench/expressions_bench.py)


def test_data_values_are_never_called_or_opened():
    calls = []

    class Sneaky(dict):
        def __getattr__(self, name):  # pragma: no cover - must not be reached
            calls.append(name)
            return lambda *a: calls.append(a)

    data = {"f": lambda: calls.append("called"), "obj": Sneaky(), "mod": threading}
    assert evaluate("f", data) is data["f"]  # a value may be read...
    with pytest.raises(ExpressionError):
        parse("f()")  # ...but never called
    assert evaluate("obj.anything", data) is None  # key lookup, not getattr
    assert evaluate("mod.Thread", data) is None
    assert calls == []


class Watched(list):
    """A table that counts how often it is walked (its rows read one by one)."""

    walks = 0

    def __iter__(self):
        Watched.walks += 1
        return super().__iter__()


class WatchedRow(dict):
    reads = 0

    def values(self):
        WatchedRow.reads += 1
        return super().values()

    def items(self):
        WatchedRow.reads += 1
        return super().items()


def test_large_tables_are_not_walked():
    """No per-evaluation deep check of the data (simpleeval's default walks every row of every table);
    what it costs is in bench/expressions_bench.py."""
    rows = Watched(WatchedRow(problem=f"隐患{i}", measure="整改") for i in range(2000))
    Watched.walks = WatchedRow.reads = 0
    for source in ("len(rows) > 0", "rows", "rows[1]", "rows[1]['measure'] == '整改'", "[rows, 1]"):
        assert evaluate(source, {"rows": rows})
    assert (Watched.walks, WatchedRow.reads) == (0, 0)


def test_threads_do_not_share_data():
    expr = parse("n * 2")
    errors = []

    def work(k):
        for _ in range(2000):
            if expr.evaluate({"n": k}) != 2 * k:
                errors.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ---------------------------------------------------------------- fuzzing: only ExpressionError ever escapes

_ALPHABET = st.sampled_from(list("abxyz_0123456789 .,:;()[]{}'\"+-*/%<>=!&|^~@#\\\n") + [
    " and ", " or ", " not ", " in ", " is ", " if ", " else ", "lambda", "__class__", "len(", "max(", "**",
    "None", "True", "中文", "（", "“"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=25).map("".join))
def test_fuzz_parse_and_evaluate_never_raise_anything_else(source):
    try:
        expr = parse(source)
    except ExpressionError:
        return
    for data in ({}, CASE, {n: None for n in expr.names}, {n: [1, "a", None] for n in expr.names}):
        expr.evaluate(data)
