"""What one render of an admin's template may cost: time, steps, sizes — checked inside the sandbox.

An admin's template runs in Jinja2's ImmutableSandboxedEnvironment, which keeps it away from Python's
internals but not from making the worker busy: `((9**64)**64)**64`, nested `range(100000)` loops, a
macro calling itself twice, `'x'.center(50000000)`, a list doubled in a loop. `BoundedSandbox` (mixed
into the documents' environment) stops those with a clear Chinese message, by checks on the sandbox's
own call paths while the render runs (`budget()` holds the render's counters in a context variable):

  steps   every loop iteration (the compiled `for` iterates through `loop_guard`), call (macros,
          methods, globals, `loop(...)`), intercepted operator, filter and printed value is a step; at
          most `Limits.steps`, and the clock is read every 64 steps against `Limits.seconds`
  values  a value a template makes (an operator's, call's or filter's result, a printed value, a `~`
          join) holds at most `Limits.value_chars` characters, counted through lists and dicts (a list
          holding one long text 1000 times counts 1000 times); growth is refused *before* it is built:
          `**` and `*` on integers by their bits, `*` and `+` on texts and lists by the result's size,
          padding and format widths (center, ljust, rjust, zfill, `%10s`, `{:>10}`, format, indent),
          replace, join, expandtabs, translate, wordwrap, batch and slice by what they would make
  output  the rendered text of one part of the document (and of a macro or block) is at most
          `Limits.output_chars` characters
  ranges  `range()` makes at most `Limits.range_items` numbers; `lipsum` is small

The checks run in the render's own thread and cost well under a millisecond for a normal document
(see bench/run.py's docx_render_p50_ms), so no subprocess or watchdog thread is needed: a single step
is bounded by the size limits, so a render stops soon after its time is up, and nothing is left
hanging. A breach raises `LimitExceeded`; rendering turns it into a TemplateError marked permanent
(retrying cannot help), so the effect that renders it is marked failed with the reason at once.
"""
from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.runtime import LoopContext, markup_join, str_join
from jinja2.utils import Namespace, generate_lorem_ipsum


@dataclass(frozen=True)
class Limits:
    seconds: float = 5.0             # one render's wall-clock time
    steps: int = 200_000             # loop iterations, calls, operators, filters, printed values (a shipped
                                     # template takes under 400; a 2000-row table some 10 000)
    output_chars: int = 10_000_000   # the rendered text of one document part, macro or block
    value_chars: int = 1_000_000     # one value a template makes (through lists and dicts)
    items: int = 100_000             # elements of one list a template makes (`*`, batch, slice)
    range_items: int = 10_000        # numbers of one range()
    int_bits: int = 4096             # an integer a template makes (about 1233 digits)


DEFAULT = Limits()


class LimitExceeded(Exception):  # noqa: N818 - the name says what happened; deliberately no ValueError/TypeError
    """A template went past one of its limits (the message, in Chinese, says which)."""


class Budget:
    __slots__ = ("deadline", "limits", "sizes", "steps")

    def __init__(self, limits: Limits):
        self.limits = limits
        self.steps = 0
        self.deadline = time.monotonic() + limits.seconds
        self.sizes: dict[int, tuple[Any, int]] = {}  # id → (object, size): a render's containers do not change

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise LimitExceeded(f"运算步数超过上限 {self.limits.steps:,} 步（循环或调用过多）")
        if not self.steps & 63 and time.monotonic() > self.deadline:
            raise LimitExceeded(f"渲染时间超过上限 {self.limits.seconds:g} 秒")


_budget: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@contextmanager
def budget(limits: Limits | None = None) -> Iterator[Budget]:
    """The counters of one render: every check below uses them while the block runs."""
    current = Budget(limits or DEFAULT)
    token = _budget.set(current)
    try:
        yield current
    finally:
        _budget.reset(token)


def _limits() -> Limits:
    current = _budget.get()
    return current.limits if current is not None else DEFAULT


def tick() -> None:
    current = _budget.get()
    if current is not None:
        current.tick()

# ------------------------------------------------------------------ sizes


def size_of(value: Any, cap: int | None = None) -> int:
    """The characters `value` stands for, counted through lists, tuples, sets, dicts and namespaces (each
    element at least 1); the count stops soon after it passes `cap`. Containers are counted once per render."""
    current = _budget.get()
    memo = current.sizes if current is not None else {}
    return _size(value, _limits().value_chars if cap is None else cap, memo, 0)


def _size(value: Any, cap: int, memo: dict, depth: int) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, Namespace):
        value = object.__getattribute__(value, "_Namespace__attrs")
    if not isinstance(value, (list, tuple, set, frozenset, dict)):
        return 1
    hit = memo.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    if depth > 100:
        raise LimitExceeded("模板生成的数据嵌套过深（超过 100 层）")
    total = len(value)
    pairs = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in pairs:
        total += _size(item, cap - total, memo, depth + 1) + (0 if key is None else _size(key, cap, memo, depth + 1))
        if total > cap:
            return total  # a partial count: not remembered
    memo[id(value)] = (value, total)
    return total


def check_size(value: Any, what: str = "模板生成的内容") -> Any:
    cap = _limits().value_chars
    if (len(value) if isinstance(value, str) else size_of(value, cap)) > cap:
        raise LimitExceeded(f"{what}过长（超过 {cap:,} 个字符）")
    return value


def _check_chars(n: int, what: str) -> None:
    cap = _limits().value_chars
    if n > cap:
        raise LimitExceeded(f"{what}会生成 {n:,} 个字符，超过上限 {cap:,}")


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(value)
        except (TypeError, ValueError, OverflowError):
            return 0  # not a number: the operation itself reports it
    return value


def _materialize(iterable: Any) -> list:
    """An iterator's items as a list, each a step and counted against the size limit as it comes."""
    items, total, cap = [], 0, _limits().value_chars
    for item in iterable:
        tick()
        total += size_of(item, cap) + 1
        if total > cap:
            raise LimitExceeded(f"模板生成的序列过长（超过 {cap:,} 个字符）")
        items.append(item)
    return items

# ------------------------------------------------------------------ format strings


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def check_percent_format(fmt: str) -> None:
    """`'%10s' % x`: widths and precisions within the limit; `*` (a width taken from the data) is refused."""
    if "%" not in fmt:
        return
    cap = _limits().value_chars
    for width, precision in _PERCENT.findall(fmt):
        if "*" in (width, precision):
            raise LimitExceeded("格式化中不允许用 * 从数据中取宽度")
        for number in (width, precision):
            if number and (len(number) > 9 or int(number) > cap):
                raise LimitExceeded(f"格式化宽度 {number} 超过上限 {cap:,}")


def check_brace_format(fmt: str) -> None:
    """`'{:>10}'.format(x)`: widths within the limit; a width taken from the arguments is refused."""
    cap = _limits().value_chars
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # malformed: format() itself says so
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise LimitExceeded("格式说明中不允许嵌套 {}（从数据中取宽度）")
        for number in re.findall(r"\d+", spec):
            if len(number) > 9 or int(number) > cap:
                raise LimitExceeded(f"格式化宽度 {number} 超过上限 {cap:,}")

# ------------------------------------------------------------------ operators


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Before `left <operator> right` runs (the sandbox's intercepted operators)."""
    tick()
    lim = _limits()
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 \
                and left.bit_length() * right > lim.int_bits:
            raise LimitExceeded(f"乘方运算的结果过大（超过 {lim.int_bits} 位二进制）")
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool) and \
                not isinstance(right, bool) and left.bit_length() + right.bit_length() > lim.int_bits:
            raise LimitExceeded(f"乘法运算的结果过大（超过 {lim.int_bits} 位二进制）")
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and times > 0:
                if len(seq) * times > max(lim.items, 0) and not isinstance(seq, str):
                    raise LimitExceeded(f"重复运算生成的序列过长（超过 {lim.items:,} 项）")
                _check_chars(size_of(seq) * times, "重复运算")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _check_chars(size_of(left) + size_of(right), "连接运算")
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left)
        check_size(right, "格式化的参数")

# ------------------------------------------------------------------ calls: str methods, globals


_WIDTH_METHODS = frozenset(["center", "ljust", "rjust", "zfill"])


def check_call(obj: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Before a call from a template; returns the arguments to call with (a join's iterable is made a
    list, counted as it is read)."""
    tick()
    if isinstance(obj, LoopContext) and args:  # `loop(children)` of a recursive loop: its items are steps too
        return (loop_guard(args[0]), *args[1:]), kwargs
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if name in ("format", "format_map") and hasattr(obj, "__wrapped__"):  # the sandbox's wrapped str.format
        owner = getattr(obj.__wrapped__, "__self__", None)
    if not isinstance(owner, str):
        return args, kwargs
    text = owner
    if name in _WIDTH_METHODS and args:
        _check_chars(_as_int(args[0], "宽度"), f"{name}()")
    elif name == "expandtabs":
        tabsize = _as_int(args[0] if args else kwargs.get("tabsize", 8), "宽度")
        _check_chars(len(text) + text.count("\t") * max(tabsize, 0), "expandtabs()")
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, *args[:3])
    elif name == "join" and args:
        items = _materialize(args[0])
        _check_chars(sum(size_of(i) for i in items) + len(text) * len(items), "join()")
        return (items, *args[1:]), kwargs
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((size_of(v) for v in args[0].values()), default=1)
        _check_chars(len(text) * max(longest, 1), "translate()")
    elif name in ("format", "format_map"):
        check_brace_format(text)
    for key, arg in (*enumerate(args), *kwargs.items()):
        if key not in ("_loop_vars", "_block_vars"):
            check_size(arg, "调用的参数")
    return args, kwargs


def _check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old, new = str(text), str(old), str(new)
    n = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        n = min(n, count)
    _check_chars(len(text) + n * max(len(new) - len(old), 0), "replace()")


def safe_range(*args: Any) -> range:
    """`range()` in a template: at most Limits.range_items numbers."""
    result = range(*args)
    cap = _limits().range_items
    try:
        n = len(result)
    except OverflowError:
        n = cap + 1
    if n > cap:
        raise LimitExceeded(f"range() 的元素过多（上限 {cap:,} 个）")
    return result


def safe_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 - Jinja's names
    if _as_int(n, "段数") > 20 or _as_int(max, "词数") > 200 or _as_int(min, "词数") > 200:
        raise LimitExceeded("lipsum() 的段数或词数过多（至多 20 段、每段 200 词）")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)

# ------------------------------------------------------------------ loops and output


class _CountedIter:
    """A loop's iterable: each item is a step; its length stays available to `loop.length`."""
    __slots__ = ("_it", "_source", "_budget")

    def __init__(self, iterable: Any, current: Budget):
        self._source = iterable
        self._it = iter(iterable)
        self._budget = current

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._it)
        self._budget.tick()
        return item

    def __len__(self) -> int:
        return len(self._source)


def loop_guard(iterable: Any) -> Any:
    current = _budget.get()
    return iterable if current is None else _CountedIter(iterable, current)


def bounded_concat(pieces: Any) -> str:
    """The environment's `concat`: a part, macro or block's text, refused past Limits.output_chars."""
    pieces = pieces if isinstance(pieces, list) else list(pieces)
    cap = _limits().output_chars
    if sum(map(len, pieces)) > cap:
        raise LimitExceeded(f"渲染结果过长（超过 {cap:,} 个字符）")
    return "".join(pieces)


def finalize(value: Any) -> Any:
    """Every printed value (`{{ … }}`): a step, and within the size limit."""
    tick()
    if isinstance(value, str):
        if len(value) > _limits().value_chars:
            check_size(value, "输出的内容")
        return value
    return check_size(value, "输出的内容")

# ------------------------------------------------------------------ filters


def _filter_center(value, width=80, *_, **__):
    _check_chars(_as_int(width, "宽度"), "center")


def _filter_indent(value, width=4, *_, **__):
    per_line = len(width) if isinstance(width, str) else _as_int(width, "缩进")
    _check_chars(len(str(value)) + (str(value).count("\n") + 1) * max(per_line, 0), "indent")


def _filter_format(value, *_, **__):
    check_percent_format(str(value))


def _filter_replace(value, old="", new="", count=None, *_, **__):
    _check_replace(value, old, new, count)


def _filter_wordwrap(value, width=79, break_long_words=True, wrapstring=None, *_, **__):
    text = str(value)
    lines = len(text) // max(_as_int(width, "宽度"), 1) + text.count("\n") + 1
    _check_chars(len(text) + lines * len(str(wrapstring or "\n")), "wordwrap")


def _check_count(what: str, count: Any) -> None:
    if _as_int(count, "数量") > _limits().items:
        raise LimitExceeded(f"{what} 的数量 {count} 超过上限 {_limits().items:,}")


def _filter_batch(value, linecount=1, *_, **__):
    _check_count("batch", linecount)


def _filter_slice(value, slices=1, *_, **__):
    _check_count("slice", slices)


def _filter_tojson(value, indent=None, *_, **__):
    if indent is not None and (len(indent) if isinstance(indent, str) else _as_int(indent, "缩进")) > 16:
        raise LimitExceeded("tojson 的缩进超过 16")


def _filter_sum(value, attribute=None, start=0, *_, **__):
    if not isinstance(start, (int, float)):
        raise LimitExceeded("sum 只用于数字（start 须为数字）")


def _filter_urlize(value, trim_url_limit=None, nofollow=False, target=None, rel=None, *_, **__):
    if len(str(target or "")) + len(str(rel or "")) > 200:
        raise LimitExceeded("urlize 的 target、rel 过长")


_FILTER_CHECKS = {"center": _filter_center, "indent": _filter_indent, "format": _filter_format,
                  "replace": _filter_replace, "wordwrap": _filter_wordwrap, "batch": _filter_batch,
                  "slice": _filter_slice, "tojson": _filter_tojson, "sum": _filter_sum,
                  "urlize": _filter_urlize}


def guard_filter(name: str, func: Any) -> Any:
    """`func` with the limits around it: a step; an iterator it is given read into a list as it is
    counted; its input and result within the size limit; and for the filters that make more than they
    are given (center, indent, format, replace, wordwrap, batch, slice, tojson, sum, urlize), what they
    would make checked first."""
    if getattr(func, "_bounded", False):
        return func
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    pre = _FILTER_CHECKS.get(name)

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        if len(args) > offset:
            value = args[offset]
            if isinstance(value, Iterator):
                value = _materialize(value)
                args = (*args[:offset], value, *args[offset + 1:])
            for arg in (*args[offset:], *kwargs.values()):
                check_size(arg, f"过滤器 {name} 的参数")
            if pre is not None:
                pre(*args[offset:], **kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, (str, list, tuple, dict)):
            check_size(result, f"过滤器 {name} 的结果")
        return result

    guarded._bounded = True  # type: ignore[attr-defined]
    return guarded

# ------------------------------------------------------------------ the compiled template


class BoundedCodeGenerator(CodeGenerator):
    """Compiles `for` loops to iterate through `environment.loop_guard(…)` (each item a step) and `~`
    joins to be size-checked before they are made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) in self._loop_iterables:
            self.write("environment.loop_guard(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        return super().visit(node, *args, **kwargs)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            func_name = "(environment.join_markup if context.eval_ctx.volatile else environment.join_str)"
        elif frame.eval_ctx.autoescape:
            func_name = "environment.join_markup"
        else:
            func_name = "environment.join_str"
        self.write(f"{func_name}((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox:
    """Mixed in before a Jinja sandbox class: the limits on the sandbox's call paths. Call
    `install_limits()` at the end of `__init__` (after the filters are registered)."""

    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def install_limits(self) -> None:
        self.globals["range"] = safe_range
        self.globals["lipsum"] = safe_lipsum
        self.concat = bounded_concat
        self.finalize = finalize
        for name, func in list(self.filters.items()):
            self.filters[name] = guard_filter(name, func)

    @staticmethod
    def loop_guard(iterable: Any) -> Any:
        return loop_guard(iterable)

    @staticmethod
    def join_markup(parts: tuple) -> str:
        _check_chars(sum(size_of(p) for p in parts), "连接（~）")
        return check_size(markup_join(parts), "连接（~）的结果")

    @staticmethod
    def join_str(parts: tuple) -> str:
        _check_chars(sum(size_of(p) for p in parts), "连接（~）")
        return check_size(str_join(parts), "连接（~）的结果")

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right), "运算结果")

    def call(self, context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = check_call(obj, args, kwargs)
        return check_size(super().call(context, obj, *args, **kwargs), "调用的结果")
