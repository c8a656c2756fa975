"""Safe expressions over a case's data: guards, visible-when conditions, rule tables.

Admins write small conditions in the workflow YAML, for example::

    deaths >= 3 or direct_loss >= 1000
    drill_kind == "双盲拉练"
    len(four_principles) == 4
    "事故原因已查清" in four_principles
    responded and not reviewed
    enterprise.credit_code and persons[0]["measure"]
    today >= add_years(entered['listed'], settings.repair_min_years)

Python's ``eval`` never sees them. Evaluation is done by the maintained library
**simpleeval** (``SimpleEval`` subclassed below, with our own operator and
function tables); before that, ``parse`` walks the ``ast`` against a whitelist,
so a forbidden construct is refused when the definition is loaded, with a
Chinese message and its position, not when a user clicks.

What the language has
    ``and or not``, comparisons (chained too), ``in`` / ``not in``, ``is`` /
    ``is not``, ``+ - * / // % **``, unary ``- +``, ``x if c else y``, literals
    (strings, numbers, ``True False None``, lists and tuples), subscripts
    ``row["x"]`` / ``items[0]`` / ``items[1:3]``, dotted access ``a.b`` (a key
    lookup in a mapping: ``enterprise.credit_code`` is ``enterprise["credit_code"]``),
    and calls to the functions in ``FUNCTIONS`` only.

What it refuses (``ExpressionError`` from ``parse``)
    attribute names starting with ``_``, calls to anything but ``FUNCTIONS``
    (``open``, ``__import__``, ``eval``, methods like ``x.upper()``), keyword
    arguments, lambda, comprehensions, ``:=``, f-strings, dict/set literals,
    bit operators, ``*``-unpacking, bytes/complex literals, sources longer than
    ``MAX_SOURCE`` characters or nested deeper than ``MAX_DEPTH``, and constant
    arithmetic that would explode (``9**9**9``).

Evaluation is total: it never raises for anything the data does
    - A name that is not in the data (a field not yet filled) is ``None``.
    - A missing key (``a.b``, ``a["b"]``) or an index out of range is ``None``;
      dotted access and subscripts on anything but a mapping/list/tuple/str are ``None``.
    - An ordering comparison or ``in`` that Python would refuse with a
      ``TypeError`` (``None >= 3``, ``"a" in None``, ``3 < "x"``) is ``False``.
      Note ``x not in None`` is also ``False``: an unknown container answers no question.
      ``==`` / ``!=`` keep Python's meaning (``None == 3`` is ``False``, ``None != 3`` is ``True``).
    - Arithmetic that fails (``None + 1``, ``1 / 0``, ``"a" - 1``) is ``None``;
      so is arithmetic past the size bounds (a power above ``MAX_POWER_BITS``
      bits, a string or list longer than ``MAX_LENGTH``).
    - A function given the wrong kind of argument returns ``None`` (``len(None)``).
    ``not None`` is ``True`` (Python truthiness), so ``responded and not reviewed``
    reads as expected while ``reviewed`` is unfilled.

Evaluation never touches the attributes of Python objects (dotted access is a
key lookup), never calls a value found in the data, and only ever calls the
wrapped functions below, which is why the per-node deep check simpleeval does
by default is skipped (it walks every table row on every evaluation).

Speed: parse once (``parse`` and ``evaluate`` are cached), evaluate many; a
simple comparison takes a few microseconds. One simpleeval instance per thread.
"""
from __future__ import annotations

import ast
import calendar as _calendar
import operator as _op
import re
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from simpleeval import SimpleEval

__all__ = ["ExpressionError", "Expression", "parse", "evaluate", "FUNCTIONS", "MAX_SOURCE"]

MAX_SOURCE = 2000  # characters of one expression
MAX_DEPTH = 60  # nesting of the syntax tree
MAX_POWER_BITS = 10_000  # an integer power may have at most this many bits (~3000 digits)
MAX_LENGTH = 100_000  # a string or list built by + or * may be at most this long
MAX_ROUND_DIGITS = 15
MAX_DAYS = 1_000_000  # add_days / add_months / add_years bounds (in days, months, years)


class ExpressionError(ValueError):
    """An expression was refused. ``str(err)`` is the Chinese message, with the position."""

    def __init__(self, message: str, source: str = "", position: int | None = None):
        self.message = message
        self.source = source
        self.position = position  # 1-based character column in the source, when known
        text = f"第 {position} 个字符处：{message}" if position else message
        super().__init__(text)


# ---------------------------------------------------------------- operators
# Every operator is wrapped: data problems give None (arithmetic) or False (comparisons).

_ARITH_ERRORS = (TypeError, ValueError, ArithmeticError, MemoryError)


def _too_long(value: Any) -> bool:
    return isinstance(value, (str, list, tuple)) and len(value) > MAX_LENGTH


def _power_ok(a: Any, b: Any) -> bool:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        return abs(a).bit_length() * b <= MAX_POWER_BITS
    return True


def _pow(a: Any, b: Any) -> Any:
    if not _power_ok(a, b):
        return None
    try:
        result = a ** b
    except _ARITH_ERRORS:
        return None
    return None if isinstance(result, complex) else result


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple)) and len(a) + len(b) > MAX_LENGTH:
        return None
    try:
        return a + b
    except _ARITH_ERRORS:
        return None


def _mul(a: Any, b: Any) -> Any:
    # repetition only for strings (bounded); lists are not repeated (nested repetition is a bomb)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return None
    if isinstance(a, str) or isinstance(b, str):
        text, times = (a, b) if isinstance(a, str) else (b, a)
        if not isinstance(times, int):
            return None
        return text * times if len(text) * max(times, 0) <= MAX_LENGTH else None
    try:
        return a * b
    except _ARITH_ERRORS:
        return None


def _number_op(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """%, /, //, -: numbers only (``"%s" % x`` string formatting is not offered)."""

    def apply(a: Any, b: Any) -> Any:
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return None
        try:
            return fn(a, b)
        except _ARITH_ERRORS:
            return None

    return apply


def _unary(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(a: Any) -> Any:
        if not isinstance(a, (int, float)):
            return None
        return fn(a)

    return apply


def _ordering(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        try:
            return fn(a, b)
        except TypeError:
            return False

    return compare


def _contains(item: Any, container: Any) -> bool:
    try:
        return item in container
    except TypeError:
        return False


def _not_contains(item: Any, container: Any) -> bool:
    try:
        return item not in container
    except TypeError:
        return False


OPERATORS: dict[type, Callable] = {
    ast.Add: _add,
    ast.Sub: _number_op(_op.sub),
    ast.Mult: _mul,
    ast.Div: _number_op(_op.truediv),
    ast.FloorDiv: _number_op(_op.floordiv),
    ast.Mod: _number_op(_op.mod),
    ast.Pow: _pow,
    ast.Not: _op.not_,
    ast.USub: _unary(_op.neg),
    ast.UAdd: _unary(_op.pos),
    ast.Eq: _ordering(_op.eq),
    ast.NotEq: _ordering(_op.ne),
    ast.Lt: _ordering(_op.lt),
    ast.LtE: _ordering(_op.le),
    ast.Gt: _ordering(_op.gt),
    ast.GtE: _ordering(_op.ge),
    ast.In: _contains,
    ast.NotIn: _not_contains,
    ast.Is: _op.is_,
    ast.IsNot: _op.is_not,
}

_OPERATOR_SYMBOLS = {
    ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
    ast.Invert: "~", ast.MatMult: "@",
}

# ---------------------------------------------------------------- functions
# Each returns None instead of raising on arguments of the wrong kind.

_SCALARS = (str, int, float, date)  # bool is an int; datetime is a date


def _scalar_args(values: tuple) -> bool:
    return all(isinstance(v, _SCALARS) for v in values)


def _fn_len(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, dict, set, frozenset)) else None


def _extreme(pick: Callable) -> Callable:
    def run(*args: Any) -> Any:
        values = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        if not values or not _scalar_args(values):
            return None
        try:
            return pick(values)
        except TypeError:
            return None

    return run


def _fn_sum(values: Any) -> Any:
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, (int, float)) for v in values):
        return None
    return sum(values)


def _fn_any(values: Any) -> bool | None:
    return any(values) if isinstance(values, (list, tuple)) else None


def _fn_all(values: Any) -> bool | None:
    return all(values) if isinstance(values, (list, tuple)) else None


def _fn_abs(value: Any) -> Any:
    return abs(value) if isinstance(value, (int, float)) else None


def _fn_round(value: Any, digits: Any = None) -> Any:
    if not isinstance(value, (int, float)):
        return None
    if digits is None:
        try:
            return round(value)
        except _ARITH_ERRORS:
            return None
    if not isinstance(digits, int) or abs(digits) > MAX_ROUND_DIGITS:
        return None
    return round(value, digits)


def _fn_int(value: Any) -> int | None:
    if not isinstance(value, (str, int, float)):
        return None
    try:
        return int(value.strip()) if isinstance(value, str) else int(value)
    except _ARITH_ERRORS:
        return None


def _fn_float(value: Any) -> float | None:
    if not isinstance(value, (str, int, float)):
        return None
    try:
        return float(value)
    except _ARITH_ERRORS:
        return None


def _fn_str(value: Any) -> str | None:
    if value is None or not isinstance(value, _SCALARS):
        return None  # containers are not stringified (size)
    if isinstance(value, date):
        return value.isoformat()
    try:
        return str(value)
    except ValueError:  # int too large to print
        return None


def _fn_bool(value: Any) -> bool:
    return bool(value)


def _as_date(value: Any) -> tuple[date, str] | None:
    """(date, how to give it back) for a date, a datetime or an ISO string."""
    if isinstance(value, datetime):
        return value.date(), "date"
    if isinstance(value, date):
        return value, "date"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", value):
        try:
            return date.fromisoformat(value[:10]), "str"
        except ValueError:
            return None
    return None


def _date_shift(kind: str) -> Callable[[Any, Any], Any]:
    def shift(value: Any, amount: Any) -> Any:
        parsed = _as_date(value)
        if parsed is None or not isinstance(amount, int) or isinstance(amount, bool) or abs(amount) > MAX_DAYS:
            return None
        day, how = parsed
        try:
            if kind == "days":
                result = day + timedelta(days=amount)
            else:
                months = amount * (12 if kind == "years" else 1)
                index = day.year * 12 + day.month - 1 + months
                year, month = divmod(index, 12)
                month += 1
                result = date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))
        except (OverflowError, ValueError):
            return None
        return result.isoformat() if how == "str" else result

    return shift


# name → (function, min args, max args or None for "any")
FUNCTIONS: dict[str, tuple[Callable, int, int | None]] = {
    "len": (_fn_len, 1, 1),
    "min": (_extreme(min), 1, None),
    "max": (_extreme(max), 1, None),
    "sum": (_fn_sum, 1, 1),
    "any": (_fn_any, 1, 1),
    "all": (_fn_all, 1, 1),
    "abs": (_fn_abs, 1, 1),
    "round": (_fn_round, 1, 2),
    "int": (_fn_int, 1, 1),
    "float": (_fn_float, 1, 1),
    "str": (_fn_str, 1, 1),
    "bool": (_fn_bool, 1, 1),
    # dates: ISO strings in → ISO strings out (date objects → date objects); Feb 29 + 1 year → Feb 28
    "add_days": (_date_shift("days"), 2, 2),
    "add_months": (_date_shift("months"), 2, 2),
    "add_years": (_date_shift("years"), 2, 2),
}


# ---------------------------------------------------------------- the evaluator

class _Evaluator(SimpleEval):
    """simpleeval with our operators and functions, None for missing data, key-only dotted access."""

    def __init__(self) -> None:
        super().__init__(operators=dict(OPERATORS), functions={k: v[0] for k, v in FUNCTIONS.items()}, names={})
        self.nodes[ast.List] = self._eval_list
        self.nodes[ast.Tuple] = self._eval_tuple
        self.nodes[ast.Expression] = self._eval_expression

    # Whitelisted trees only reach here (see _check); the results need no deep re-check:
    # values come from the data and from the wrapped functions, and are never called.
    def _eval(self, node: ast.AST) -> Any:
        return self.nodes[type(node)](node)

    def _eval_expression(self, node: ast.Expression) -> Any:
        return self._eval(node.body)

    def _eval_name(self, node: ast.Name) -> Any:
        return self.names.get(node.id)

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        value = self._eval(node.value)
        if isinstance(value, Mapping):
            return value.get(node.attr)
        return None

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        container = self._eval(node.value)
        key = self._eval(node.slice)
        if isinstance(container, Mapping):
            try:
                return container.get(key)
            except TypeError:  # unhashable key
                return None
        if isinstance(container, (list, tuple, str)) and (
            (isinstance(key, int) and not isinstance(key, bool)) or isinstance(key, slice)
        ):
            try:
                return container[key]
            except (IndexError, TypeError, ValueError):
                return None
        return None

    def _eval_list(self, node: ast.List) -> list:
        return [self._eval(item) for item in node.elts]

    def _eval_tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self._eval(item) for item in node.elts)


_local = threading.local()


def _evaluator() -> _Evaluator:
    try:
        return _local.evaluator
    except AttributeError:
        _local.evaluator = _Evaluator()
        return _local.evaluator


# ---------------------------------------------------------------- parsing and the whitelist

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.Constant,
    ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.List, ast.Tuple,
    ast.And, ast.Or, ast.Load,
) + tuple(OPERATORS)

_REFUSED_MESSAGES: dict[type, str] = {
    ast.Lambda: "不支持 lambda 函数",
    ast.NamedExpr: "不支持赋值（:=）",
    ast.ListComp: "不支持推导式",
    ast.SetComp: "不支持推导式",
    ast.DictComp: "不支持推导式",
    ast.GeneratorExp: "不支持推导式",
    ast.Dict: "不支持字典字面量",
    ast.Set: "不支持集合字面量，请改用列表 [...]",
    ast.JoinedStr: "不支持 f-字符串",
    ast.FormattedValue: "不支持 f-字符串",
    ast.Starred: "不支持 * 展开",
    ast.Await: "不支持 await",
    ast.Yield: "不支持 yield",
    ast.YieldFrom: "不支持 yield",
}

_UNSET = object()


class _Checker:
    """Walks the tree against the whitelist, collects free names, folds constant arithmetic."""

    def __init__(self, source: str, lead: int):
        self.source = source
        self.lead = lead
        self.names: set[str] = set()

    def position(self, node: ast.AST) -> int | None:
        col = getattr(node, "col_offset", None)
        if col is None:
            return None
        line = self.source.splitlines()[getattr(node, "lineno", 1) - 1] if self.source else ""
        return len(line.encode("utf-8")[:col].decode("utf-8", "ignore")) + 1 + self.lead

    def refuse(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, self.source, self.position(node))

    def check(self, node: ast.AST, depth: int = 0) -> Any:
        """Returns the node's constant value when it has one (for folding), else _UNSET."""
        if depth > MAX_DEPTH:
            raise self.refuse(node, f"表达式嵌套过深（最多 {MAX_DEPTH} 层）")
        kind = type(node)
        if kind in _REFUSED_MESSAGES:
            raise self.refuse(node, _REFUSED_MESSAGES[kind])
        if kind in _OPERATOR_SYMBOLS:
            raise ExpressionError(f"不支持运算符「{_OPERATOR_SYMBOLS[kind]}」", self.source)
        if kind not in _ALLOWED:
            raise self.refuse(node, f"不支持的写法（{kind.__name__}）")
        if kind is ast.Constant:
            value = node.value
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise self.refuse(node, f"不支持的常量「{value!r}」")
            return value
        if kind is ast.Name:
            self.names.add(node.id)
            return _UNSET
        if kind is ast.Attribute:
            if node.attr.startswith("_"):
                raise self.refuse(node, f"不允许访问以下划线开头的名称「{node.attr}」")
            self.check(node.value, depth + 1)
            return _UNSET
        if kind is ast.Subscript:
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str) \
                    and node.slice.value.startswith("__"):
                raise self.refuse(node, f"不允许访问以下划线开头的名称「{node.slice.value}」")
            self.check(node.value, depth + 1)
            self.check(node.slice, depth + 1)
            return _UNSET
        if kind is ast.Call:
            return self.check_call(node, depth)
        if kind is ast.BinOp:
            if type(node.op) in _OPERATOR_SYMBOLS:
                raise self.refuse(node, f"不支持运算符「{_OPERATOR_SYMBOLS[type(node.op)]}」")
            left = self.check(node.left, depth + 1)
            right = self.check(node.right, depth + 1)
            if left is _UNSET or right is _UNSET:
                return _UNSET
            if isinstance(node.op, ast.Pow) and not _power_ok(left, right):
                raise self.refuse(node, "数值过大：乘方的结果超出允许范围")
            return OPERATORS[type(node.op)](left, right)
        if kind is ast.UnaryOp:
            if type(node.op) in _OPERATOR_SYMBOLS:
                raise self.refuse(node, f"不支持运算符「{_OPERATOR_SYMBOLS[type(node.op)]}」")
            operand = self.check(node.operand, depth + 1)
            return _UNSET if operand is _UNSET else OPERATORS[type(node.op)](operand)
        for child in ast.iter_child_nodes(node):
            self.check(child, depth + 1)
        return _UNSET

    def check_call(self, node: ast.Call, depth: int) -> Any:
        if not isinstance(node.func, ast.Name):
            raise self.refuse(node, "只能调用内置函数（" + "、".join(FUNCTIONS) + "），不能调用方法或表达式的结果")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.refuse(node, f"不允许调用函数「{name}」（可用：{'、'.join(FUNCTIONS)}）")
        if node.keywords:
            raise self.refuse(node, f"函数「{name}」不支持关键字参数")
        _, least, most = FUNCTIONS[name]
        count = len(node.args)
        if count < least or (most is not None and count > most):
            wanted = f"{least}" if least == most else (f"至少 {least}" if most is None else f"{least}–{most}")
            raise self.refuse(node, f"函数「{name}」需要 {wanted} 个参数，给了 {count} 个")
        for arg in node.args:
            self.check(arg, depth + 1)
        return _UNSET


def _syntax_message(exc: SyntaxError, source: str) -> str:
    msg = exc.msg or ""
    if msg.startswith("invalid character"):
        found = re.search(r"'(.)'", msg)
        char = found.group(1) if found else "?"
        return f"含有全角或无效字符「{char}」，请改用半角符号（如 ( ) \" , ）"
    if "unterminated string" in msg or "EOL while scanning" in msg:
        return "字符串缺少结束引号"
    if "was never closed" in msg:
        return "括号未闭合"
    if msg.startswith("unmatched") or "does not match" in msg:
        return "括号不匹配"
    if re.search(r"(?<![=!<>])=(?!=)", source):
        return "语法错误：比较是否相等请用 ==，表达式中不能赋值"
    if "&&" in source or "||" in source or re.search(r"(?<![!<>=])!(?!=)", source):
        return "语法错误：逻辑运算请用 and / or / not"
    return "语法错误"


class Expression:
    """A parsed, checked expression. Immutable; evaluate it as often as needed."""

    __slots__ = ("source", "names", "_tree")

    def __init__(self, source: str, names: frozenset[str], tree: ast.Expression):
        self.source = source
        self.names = names  # free variable names (top-level data keys it reads)
        self._tree = tree

    def evaluate(self, data: Mapping[str, Any]) -> Any:
        """The value over `data`; see the module docstring for the None/False rules."""
        evaluator = _evaluator()
        evaluator.names = data if data is not None else {}
        try:
            return evaluator._eval(self._tree)
        except RecursionError:  # bounded by MAX_DEPTH; kept as a last resort
            return None
        finally:
            evaluator.names = {}

    def __call__(self, data: Mapping[str, Any]) -> Any:
        return self.evaluate(data)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


@lru_cache(maxsize=4096)
def _parse(source: str) -> Expression:
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"表达式过长（{len(source)} 个字符，最多 {MAX_SOURCE} 个）", source)
    if "\x00" in source:
        raise ExpressionError("表达式含有无效字符", source)
    stripped = source.strip()
    if not stripped:
        raise ExpressionError("表达式为空", source)
    lead = len(source) - len(source.lstrip())
    # YAML block scalars may carry line breaks: an expression is one line (offsets unchanged)
    text = stripped.replace("\r", " ").replace("\n", " ")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        message = _syntax_message(exc, text)
        if not exc.offset:  # the parser ran off the end
            position = len(text) + 1 + lead
            if message == "语法错误":
                message = "语法错误：表达式不完整"
        else:
            position = exc.offset + lead
        raise ExpressionError(message, source, position) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"表达式嵌套过深（最多 {MAX_DEPTH} 层）", source) from None
    checker = _Checker(text, lead)
    checker.check(tree)
    return Expression(source, frozenset(checker.names), tree)


def parse(source: str) -> Expression:
    """Parse and check `source`; raises ExpressionError (Chinese message, position) if refused."""
    if not isinstance(source, str):
        raise ExpressionError(f"表达式须为文字，不能是 {type(source).__name__}")
    return _parse(source)


def evaluate(source: str, data: Mapping[str, Any]) -> Any:
    """Parse (cached) and evaluate. Raises ExpressionError only for a source that does not parse."""
    return parse(source).evaluate(data)
