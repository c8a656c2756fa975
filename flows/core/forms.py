"""Form fields: one definition drives the server-side check and the UI widget.

A workflow's forms are lists of `Field`. `check_form` validates what a user
submitted against them and returns the cleaned values, or raises `FormInvalid`
with one Chinese message per field path.

Bounds that hold even when a field declares none (documented defaults):

- text `TEXT_MAX_LENGTH` (200) characters, textarea `TEXTAREA_MAX_LENGTH` (5000), a comment
  `COMMENT_MAX_LENGTH` (2000), an attachment's name `FILE_NAME_MAX_LENGTH` (200);
- numbers within ±`NUMBER_LIMIT` (10^15), written with ASCII digits only;
- dates and datetimes between `DATE_MIN` and `DATE_MAX` (1900-01-01 … 2200-12-31; a workflow
  narrows or widens them with ``settings.date_min`` / ``settings.date_max``);
- a table `TABLE_MAX_ROWS` (200) rows, a file field `FILES_MAX` (20) attachments.

Text is NFC-normalised; control characters (other than tab and, in a textarea, line breaks),
NUL and lone surrogates are refused; text made only of spaces and invisible format characters
(zero-width space, BOM, bidi marks …) counts as empty. Keys a form does not declare are refused
by name, at every level (a table row, an enterprise, an attachment).
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from math import isfinite
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PydField

from flows.core.expressions import parse as parse_expression

IDENTIFIER = r"^[a-z][a-z0-9_]*$"

FieldKind = Literal[
    "text",  # 单行文本
    "textarea",  # 多行文本
    "number",  # 数字 (min/max)
    "date",  # 日期 YYYY-MM-DD
    "datetime",  # 日期时间 YYYY-MM-DDTHH:MM
    "choice",  # 单选
    "multichoice",  # 多选
    "bool",  # 是/否
    "person",  # 人员 (a user id of the organisation)
    "unit",  # 单位 (a unit name of the organisation)
    "enterprise",  # 企业: {name, credit_code} with GB 32100 check character
    "file",  # 附件: list of stored file references
    "table",  # 表格: rows of `columns`
]
FIELD_KINDS: tuple[str, ...] = get_args(FieldKind)  # the designer's 类型 column


# which kinds read each kind-specific option (`_clean`, `_row_count`)
OPTION_KINDS = {
    "min": ("number",), "max": ("number",), "integer": ("number",),
    "min_length": ("text", "textarea"), "max_length": ("text", "textarea"), "pattern": ("text", "textarea"),
    "pattern_message": ("text", "textarea"), "options": ("choice", "multichoice"),
    "min_rows": ("table",), "max_rows": ("table",),
}


class Field(BaseModel):
    """One form field. `name` is the key in the case's data."""

    model_config = ConfigDict(extra="forbid")

    name: str = PydField(pattern=IDENTIFIER)
    label: str = PydField(min_length=1)
    kind: FieldKind
    required: bool = False
    help: str | None = None
    suffix: str | None = None  # shown after the widget, e.g. 万元
    default: Any = None
    # number
    min: float | None = None
    max: float | None = None
    integer: bool = False
    # text / textarea
    min_length: int | None = PydField(default=None, ge=0)
    max_length: int | None = PydField(default=None, ge=1)
    pattern: str | None = None
    pattern_message: str | None = None
    # choice / multichoice
    options: list[str] = []
    # table
    columns: list[Field] = []
    min_rows: int | None = PydField(default=None, ge=0)
    max_rows: int | None = PydField(default=None, ge=1)
    # shown (and checked) only when this expression over the case data is true
    visible_when: str | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            import regex  # ~80 ms to import: only for the forms that have a pattern

            try:
                regex.compile(value)
            except (regex.error, OverflowError, RecursionError) as exc:
                raise ValueError(f"正则表达式无效: {exc}") from None
        return value

    @model_validator(mode="after")
    def _kind_specific(self) -> Field:
        for option, kinds in OPTION_KINDS.items():  # an option the field's kind never reads is refused, not ignored
            if getattr(self, option) not in (None, False, []) and self.kind not in kinds:
                raise ValueError(f"「{option}」只适用于 {'、'.join(kinds)} 字段，对 {self.kind} 字段不起作用")
        if self.kind in ("choice", "multichoice") and not self.options:
            raise ValueError("单选/多选字段必须列出 options")
        if self.kind != "table" and self.columns:
            raise ValueError("只有表格字段可以有 columns")
        if self.kind == "table" and not self.columns:
            raise ValueError("表格字段必须列出 columns")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min 不能大于 max")
        if len({c.name for c in self.columns}) != len(self.columns):
            raise ValueError("表格的列名重复")
        return self


class Form(BaseModel):
    """A named form a transition asks for."""

    model_config = ConfigDict(extra="forbid")

    title: str
    fields: list[Field]

    @model_validator(mode="after")
    def _unique_names(self) -> Form:
        seen: set[str] = set()
        for f in self.fields:
            if f.name in seen:
                raise ValueError(f"字段名重复: {f.name}")
            seen.add(f.name)
        return self


# ================================================================ checking submitted values
#
# `check_form` is pure: the organisation's people and units and the case data so far
# come in through `FormContext`. It returns the cleaned values of the form's visible
# fields and raises `FormInvalid` listing every bad field at once.

MISSING = "必填"

TEXT_MAX_LENGTH = 200  # a text field without max_length
TEXTAREA_MAX_LENGTH = 5000  # a textarea without max_length
COMMENT_MAX_LENGTH = 2000  # the 意见/理由 of an action or a comment
FILE_NAME_MAX_LENGTH = 200
NUMBER_LIMIT = 10**15  # |number| for a number field without min/max on that side
NUMBER_TEXT_MAX = 40  # characters of a number written as text
PATTERN_TIMEOUT_S = 0.2  # the longest a field's pattern may take on one value
DATE_MIN = date(1900, 1, 1)  # the range of every date and datetime (settings.date_min / date_max)
DATE_MAX = date(2200, 12, 31)
TABLE_MAX_ROWS = 200  # a table without max_rows
FILES_MAX = 20  # attachments of one file field
FILE_REF = re.compile(r"sha256:[0-9a-f]{64}")  # the only refs the platform issues (flows.service.files)
_KEYS_SHOWN = 10  # unknown keys named in a refusal


class FormInvalid(ValueError):
    """A submitted form was refused. `errors`: field path → Chinese message.

    Paths: ``deaths``, ``enterprise.credit_code``, ``persons[2].measure`` (row index
    counted from 0), ``evidence[0]`` for one attachment.
    """

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        detail = "；".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(f"表单填写有误：{detail}")


@dataclasses.dataclass(frozen=True)
class FormContext:
    users: Mapping[str, str] = dataclasses.field(default_factory=dict)  # user id → name
    units: frozenset[str] = frozenset()  # unit names
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the case's data so far (for visible_when)
    # whether a file ref names an upload the platform stored (the service provides it; None: none is known)
    file_known: Callable[[str], bool] | None = None
    date_min: date = DATE_MIN
    date_max: date = DATE_MAX


# ---------------------------------------------------------------- 统一社会信用代码 (GB 32100-2015)

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARS)}


def credit_code_check_char(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015: 31 − Σ(value × weight) mod 31, 31 → 0)."""
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17.upper(), CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


CREDIT_CODE_AUTHORITIES = "123456789ANY"  # 登记管理部门代码 (first character)
# 行政区划码 (characters 3–8): a province-level code (GB/T 2260), or 10 for national registrations
CREDIT_CODE_PROVINCES = frozenset(
    "10 11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
    "71 81 82".split())


def credit_code_problem(code: str) -> str | None:
    """None when `code` is a valid 统一社会信用代码, else the Chinese reason.

    Besides the check character: the first character is a registration authority, the 3rd–8th
    a division code (six digits of a province-level region), so codes like eighteen zeros,
    whose check character happens to agree, are refused."""
    if not isinstance(code, str):
        return "统一社会信用代码须为文字"
    code = code.strip().upper()
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位（现为 {len(code)} 位）"
    bad = [c for c in code if c not in _CREDIT_VALUE]
    if bad:
        return f"统一社会信用代码含有无效字符「{_char_text(bad[0])}」（不使用 I、O、Z、S、V）"
    if code[0] not in CREDIT_CODE_AUTHORITIES:
        return f"统一社会信用代码第 1 位「{code[0]}」不是登记管理部门代码"
    if not code[2:8].isdigit() or code[2:4] not in CREDIT_CODE_PROVINCES:
        return f"统一社会信用代码第 3–8 位「{code[2:8]}」不是行政区划代码"
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误（应为 {expected}）"
    return None


def credit_code_valid(code: str) -> bool:
    """True when `code` (case-insensitive, surrounding spaces ignored) passes GB 32100-2015."""
    return credit_code_problem(code) is None


# ---------------------------------------------------------------- one value per kind
# Each cleaner returns the clean value, or raises _Bad(message) / _BadMany({subpath: message}).

class _Bad(Exception):
    def __init__(self, message: str):
        self.message = message


class _BadMany(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors


_LIST_KINDS = ("multichoice", "file", "table")
_TRUE = {"是", "true", "True", "TRUE", "1", "yes", "on"}
_FALSE = {"否", "false", "False", "FALSE", "0", "no", "off"}
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME_TEXT = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?", re.ASCII)
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)

# Invisible characters: Unicode's format characters (category Cf, as of Unicode 14: soft hyphen,
# zero-width space and joiners, bidi marks, word joiner, BOM, tag characters …) and the fillers
# that render as nothing (combining grapheme joiner, Hangul fillers, Khmer inherent vowels).
_INVISIBLE = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
              "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
              "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
              "\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
_BLANK = re.compile(rf"[\s{_INVISIBLE}]*")
_EDGES = re.compile(rf"^[\s{_INVISIBLE}]+|[\s{_INVISIBLE}]+$")
# refused in any text: C0/C1 controls (NUL included) but tab, line breaks (checked apart), lone surrogates
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAK = re.compile("[\n\r\u2028\u2029]")


def is_blank(text: str) -> bool:
    """True when `text` holds only spaces and invisible format characters (zero-width space …)."""
    return _BLANK.fullmatch(text) is not None


def _char_text(ch: str) -> str:
    """One character as a user can read it in a message: itself, or U+XXXX when invisible."""
    if ch.isprintable() and not _BLANK.fullmatch(ch):
        return ch
    return f"U+{ord(ch):04X}"


def _display(text: str, limit: int = 30) -> str:
    """`text` fit for a message: at most `limit` characters, what cannot be shown as U+XXXX."""
    short = text[:limit]
    shown = "".join(c if c.isprintable() else _char_text(c) for c in short)
    return shown + ("…" if len(text) > limit else "")


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return is_blank(value)
    if isinstance(value, (list, tuple)):
        return not value
    if isinstance(value, Mapping):  # e.g. an enterprise widget left blank: {"name": "", "credit_code": ""}
        # one level only: a deeply nested value is not empty, and is refused by its cleaner
        return all(v is None or (isinstance(v, str) and is_blank(v)) for v in value.values())
    return False


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _quote(value: Any) -> str:
    """A value as quoted in a message; never the text of a huge or nested one."""
    if isinstance(value, bool) or value is None:
        return "所填的值"
    if isinstance(value, int) and abs(value) < 10**30:
        return f"「{value}」"
    if isinstance(value, float):
        return f"「{value:g}」"
    if isinstance(value, str):
        return f"「{_display(value)}」"
    return "所填的值"


def _unknown_keys(values: Mapping, known: Sequence[str] | set[str]) -> str | None:
    """The refusal of keys a form (a row, an enterprise, an attachment) does not declare."""
    extra = [k for k in values if k not in known]
    if not extra:
        return None
    names = [_display(k) if isinstance(k, str) else _quote(k) for k in extra[:_KEYS_SHOWN]]
    more = f" 等 {len(extra)} 个" if len(extra) > _KEYS_SHOWN else ""
    return f"未知字段：{'、'.join(names)}{more}"


class TextInvalid(ValueError):
    """A text refused by `clean_text`; `message` is the Chinese reason (without the field's label)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def clean_text(value: Any, *, max_length: int, multiline: bool, min_length: int | None = None,
               strip: bool = True) -> str:
    """The text rules every text follows (fields, attachment names, comments): a string (or a plain
    number), NFC-normalised, no control characters, lone surrogates or (unless `multiline`) line
    breaks, invisible characters and spaces stripped at both ends when `strip`, within the lengths.
    Raises TextInvalid."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TextInvalid("须为文字")
    if isinstance(value, str):
        text = str.__str__(value)  # a plain str, even from a subclass
    elif isinstance(value, int) and abs(value) < 10**30:
        text = str(int(value))
    elif isinstance(value, float) and isfinite(value):
        text = repr(float(value))
    else:
        raise TextInvalid("须为文字")
    if len(text) > max_length * 4 + 1000:  # far too long: say so before spending time on it
        raise TextInvalid(f"最多 {max_length} 个字（现为 {len(text)} 个）")
    bad = _BAD_CHAR.search(text)
    if bad:
        raise TextInvalid(f"含有不允许的字符（{_char_text(bad.group())}）")
    text = unicodedata.normalize("NFC", text)
    if strip:
        text = _EDGES.sub("", text)
    if not multiline and _LINE_BREAK.search(text):
        raise TextInvalid("不能换行")
    if min_length is not None and len(text) < min_length:
        raise TextInvalid(f"至少 {min_length} 个字（现为 {len(text)} 个）")
    if len(text) > max_length:
        raise TextInvalid(f"最多 {max_length} 个字（现为 {len(text)} 个）")
    return text


def _text(f: Field, value: Any) -> str:
    single = f.kind == "text"
    default = TEXT_MAX_LENGTH if single else TEXTAREA_MAX_LENGTH
    try:  # text stripped; a textarea kept as typed (its indentation is the writer's)
        text = clean_text(value, max_length=f.max_length or default, multiline=not single,
                          min_length=f.min_length, strip=single)
    except TextInvalid as exc:
        raise _Bad(exc.message) from None
    if f.pattern is not None:
        import regex

        try:  # an admin's pattern may backtrack exponentially ((a+)+b): bounded in time, never a hung worker
            matched = regex.fullmatch(f.pattern, text, timeout=PATTERN_TIMEOUT_S)
        except TimeoutError:
            raise _Bad("格式检查超时，请联系管理员检查该字段的格式规则") from None
        if matched is None:
            raise _Bad(f.pattern_message or "格式不符合要求")
    return text


def _number(f: Field, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _Bad("须为数字")
    if isinstance(value, str):
        text = value.strip()
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise _Bad("须为有限的数字")
        if len(text) > NUMBER_TEXT_MAX or _NUMBER_TEXT.fullmatch(text) is None:
            # int() and float() would take '３', '٣' and '3_000'; a number here is written 0-9
            if any(c.isdigit() and not c.isascii() for c in text[:NUMBER_TEXT_MAX]):
                raise _Bad("须为数字（请使用半角数字 0–9）")
            raise _Bad("须为数字")
        number: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    elif isinstance(value, int):
        number = int(value)
    elif isinstance(value, float):
        number = float(value)
    else:
        raise _Bad("须为数字")
    if isinstance(number, float) and not isfinite(number):
        raise _Bad("须为有限的数字")
    low = f.min if f.min is not None else -NUMBER_LIMIT
    high = f.max if f.max is not None else NUMBER_LIMIT
    if number < low:
        raise _Bad(f"应不小于 {_fmt(low)}")
    if number > high:
        raise _Bad(f"应不大于 {_fmt(high)}")
    if isinstance(number, float) and f.integer:
        if not number.is_integer():
            raise _Bad("须为整数")
        number = int(number)
    return number


def _in_range(day: date, ctx: FormContext) -> None:
    if not ctx.date_min <= day <= ctx.date_max:
        raise _Bad(f"应在 {ctx.date_min.isoformat()} 至 {ctx.date_max.isoformat()} 之间")


def _date(f: Field, value: Any, ctx: FormContext) -> str:
    day: date | None = None
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str) and _DATE_TEXT.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            pass
    if day is None:
        raise _Bad("不是有效的日期（格式 YYYY-MM-DD）")
    _in_range(day, ctx)
    return day.isoformat()


def _datetime(f: Field, value: Any, ctx: FormContext) -> str:
    if isinstance(value, datetime):
        moment = value.replace(microsecond=0, tzinfo=None)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        match = _DATETIME_TEXT.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise _Bad("不是有效的日期时间（格式 YYYY-MM-DDTHH:MM）")
        day, hour, minute, second = match.groups()
        try:
            moment = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second or '00'}")
        except ValueError:
            raise _Bad("不是有效的日期时间（格式 YYYY-MM-DDTHH:MM）") from None
    _in_range(moment.date(), ctx)
    return moment.strftime("%Y-%m-%dT%H:%M:%S" if moment.second else "%Y-%m-%dT%H:%M")


def _choice(f: Field, value: Any) -> str:
    if not isinstance(value, str) or value not in f.options:
        raise _Bad(f"{_quote(value)}不在可选项中")
    return value


def _multichoice(f: Field, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _Bad("须为选项列表")
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str) or item not in f.options:
            raise _Bad(f"{_quote(item)}不在可选项中")
        if item in seen:
            raise _Bad(f"{_quote(item)}重复选择")
        seen.add(item)
    return [o for o in f.options if o in seen]  # the options' order


def _bool(f: Field, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.strip() in _TRUE:
            return True
        if value.strip() in _FALSE:
            return False
    raise _Bad("须为「是」或「否」")


def _person(f: Field, value: Any, ctx: FormContext) -> str:
    if not isinstance(value, str) or value not in ctx.users:
        raise _Bad(f"{_quote(value)}不是系统中的人员")
    return value


def _unit(f: Field, value: Any, ctx: FormContext) -> str:
    if not isinstance(value, str) or value.strip() not in ctx.units:
        raise _Bad(f"{_quote(value)}不是已登记的单位")
    return value.strip()


_ENTERPRISE_KEYS = ("name", "credit_code")
_FILE_KEYS = ("ref", "name", "size", "type")  # what flows.service.files.store_upload returns


def _enterprise(f: Field, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Bad("须填写企业名称和统一社会信用代码")
    unknown = _unknown_keys(value, _ENTERPRISE_KEYS)
    if unknown:
        raise _Bad(unknown)
    errors: dict[str, str] = {}
    name, code = value.get("name"), value.get("credit_code")
    if _is_empty(name):
        errors["name"] = MISSING
    else:
        try:
            name = clean_text(name, max_length=TEXT_MAX_LENGTH, multiline=False)
        except TextInvalid as exc:
            errors["name"] = exc.message
    if _is_empty(code):
        errors["credit_code"] = MISSING
    else:
        problem = credit_code_problem(code)
        if problem:
            errors["credit_code"] = problem
    if errors:
        raise _BadMany({f".{k}": v for k, v in errors.items()})
    return {"name": name, "credit_code": code.strip().upper()}


def _file(item: Any, ctx: FormContext) -> dict[str, str]:
    """One attachment: a ref the platform issued for an upload it stored, and a file name."""
    if not isinstance(item, Mapping):
        raise _Bad("附件须有文件名（name）和存储位置（ref）")
    unknown = _unknown_keys(item, _FILE_KEYS)
    if unknown:
        raise _Bad(unknown)
    name, ref = item.get("name"), item.get("ref")
    if _is_empty(name) or _is_empty(ref):
        raise _Bad("附件须有文件名（name）和存储位置（ref）")
    try:
        name = clean_text(name, max_length=FILE_NAME_MAX_LENGTH, multiline=False)
    except TextInvalid as exc:
        raise _Bad(f"附件名{exc.message}") from None
    if "/" in name or "\\" in name:
        raise _Bad("附件名不能含有路径（/ 或 \\）")
    # a path, a URL or a made-up hash is refused: only what the file store holds is an attachment
    if (not isinstance(ref, str) or FILE_REF.fullmatch(ref) is None or ctx.file_known is None
            or not ctx.file_known(ref)):
        raise _Bad(f"附件{_quote(name)}不是本平台保存的文件，请重新上传")
    return {"name": name, "ref": ref}


def _files(f: Field, value: Any, ctx: FormContext) -> list[dict[str, str]]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _Bad("须为附件列表")
    if len(value) > FILES_MAX:
        raise _Bad(f"最多 {FILES_MAX} 个附件（现为 {len(value)} 个）")
    out, errors = [], {}
    for i, item in enumerate(value):
        try:
            out.append(_file(item, ctx))
        except _Bad as bad:
            errors[f"[{i}]"] = bad.message
    if errors:
        raise _BadMany(errors)
    return out


def _row_count(f: Field, count: int) -> str | None:
    """A table's declared bounds (and the default cap): they hold whenever the table is shown."""
    most = f.max_rows if f.max_rows is not None else TABLE_MAX_ROWS
    if f.min_rows is not None and count < f.min_rows:
        return f"至少填写 {f.min_rows} 行（现为 {count} 行）"
    if count > most:
        return f"最多 {most} 行（现为 {count} 行）"
    return None


def _table(f: Field, value: Any, ctx: FormContext, env: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(value, (list, tuple)):
        raise _Bad("须为表格行的列表")
    count = _row_count(f, len(value))
    if count and len(value) > (f.max_rows or TABLE_MAX_ROWS):
        raise _Bad(count)  # far too many rows: not worth checking each
    errors: dict[str, str] = {"": count} if count else {}
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, Mapping):
            errors[f"[{i}]"] = "每一行须为一组字段值"
            continue
        try:
            rows.append(_check(f.columns, row, ctx, env))
        except FormInvalid as exc:
            errors.update({f"[{i}].{path}" if path else f"[{i}]": msg for path, msg in exc.errors.items()})
    if errors:
        raise _BadMany(errors)
    return rows


def _clean(f: Field, value: Any, ctx: FormContext, env: Mapping[str, Any]) -> Any:
    kind = f.kind
    if kind in ("text", "textarea"):
        return _text(f, value)
    if kind == "number":
        return _number(f, value)
    if kind == "date":
        return _date(f, value, ctx)
    if kind == "datetime":
        return _datetime(f, value, ctx)
    if kind == "choice":
        return _choice(f, value)
    if kind == "multichoice":
        return _multichoice(f, value)
    if kind == "bool":
        return _bool(f, value)
    if kind == "person":
        return _person(f, value, ctx)
    if kind == "unit":
        return _unit(f, value, ctx)
    if kind == "enterprise":
        return _enterprise(f, value)
    if kind == "file":
        return _files(f, value, ctx)
    if kind == "table":
        return _table(f, value, ctx, env)
    raise _Bad(f"未知的字段类型 {kind}")  # unreachable: Field.kind is a Literal


# ---------------------------------------------------------------- the form

def _visible(f: Field, env: Mapping[str, Any]) -> bool:
    return f.visible_when is None or bool(parse_expression(f.visible_when).evaluate(env))


def _check(fields: Sequence[Field], values: Mapping[str, Any], ctx: FormContext,
           outer: Mapping[str, Any]) -> dict[str, Any]:
    """Clean `values` against `fields`; `outer` is what visible_when sees besides these values."""
    # 1. clean every field, visible or not (a visibility may depend on a cleaned value);
    #    tables last, so their columns' visible_when see this form's cleaned values
    cleaned: dict[str, Any] = {}
    problems: dict[str, dict[str, str]] = {}
    for f in sorted(fields, key=lambda f: f.kind == "table"):
        # a field left out takes its `default` (checked as if typed: `validate` refuses a default its
        # own field would refuse); one given empty stays empty
        raw = values.get(f.name) if f.name in values or f.default is None else f.default
        if _is_empty(raw):
            cleaned[f.name] = [] if f.kind in _LIST_KINDS else None
            if f.required:
                problems[f.name] = {"": MISSING}
            elif f.kind == "table" and f.name in values and _row_count(f, 0):
                problems[f.name] = {"": _row_count(f, 0)}  # a table given empty is a value: its min_rows holds
            continue
        try:
            cleaned[f.name] = _clean(f, raw, ctx, {**outer, **cleaned})
        except _Bad as bad:
            problems[f.name] = {"": bad.message}
            cleaned[f.name] = None
        except _BadMany as bad:
            problems[f.name] = bad.errors
            cleaned[f.name] = None
    # 2. decide visibility until it settles: a hidden field's value is not seen by the others
    hidden: set[str] = set()
    for _ in range(len(fields) + 1):
        env = {**outer, **{k: v for k, v in cleaned.items() if k not in hidden}}
        for name in hidden:
            env[name] = outer.get(name)
        now_hidden = {f.name for f in fields if not _visible(f, env)}
        if now_hidden == hidden:
            break
        hidden = now_hidden
    # 3. report the visible fields' problems, keep the visible fields' values
    errors: dict[str, str] = {}
    unknown = _unknown_keys(values, {f.name for f in fields})
    if unknown:  # never stored, so never silently: a misspelt or forged key is named
        errors[""] = unknown
    for f in fields:
        if f.name in hidden:
            continue
        for sub, message in problems.get(f.name, {}).items():
            errors[f"{f.name}{sub}"] = message
    if errors:
        raise FormInvalid(errors)
    return {f.name: cleaned[f.name] for f in fields if f.name not in hidden}


def check_form(fields: Sequence[Field], values: Mapping[str, Any], ctx: FormContext) -> dict[str, Any]:
    """Check a submitted form and return its cleaned values.

    - Only the form's fields are returned, and only the visible ones: a field whose
      `visible_when` is false is neither required nor kept. A key the form does not
      declare is refused (path "" for the form, ``team[0]`` for a row): 未知字段：status、version. `visible_when` sees ``{**ctx.data, **cleaned values of this form}``
      (a hidden field's own value is not seen; the case data's is).
    - A field left out (its key absent) takes its `default`, if it has one, checked like a typed value.
    - Empty means None, "" (or only spaces and invisible characters), [] or {}; a visible
      empty field gives None ([] for multichoice, file and table), or "必填" when required;
      a table's min_rows holds whenever the table is given, even empty and not required.
    - Clean values: text stripped (textarea kept as typed), numbers as int/float
      ("12" → 12, integer fields 3.0 → 3), dates "YYYY-MM-DD", datetimes
      "YYYY-MM-DDTHH:MM" (":SS" only when not zero), multichoice in the options' order,
      bool True/False ("是"/"否" accepted), enterprise {"name", "credit_code"} with the
      code upper-cased, files [{"name", "ref"}] (only refs `ctx.file_known` accepts),
      table rows checked column by column. The module's docstring lists the default bounds.
    - Raises FormInvalid with every bad field at once (paths like ``persons[2].measure``).
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise FormInvalid({"": "表单数据须为字段名到值的映射"})
    return _check(fields, values, ctx, dict(ctx.data or {}))


def widget_default(f: Field) -> Any:
    """The value a UI widget starts with: the field's `default`, else empty for its kind."""
    if f.default is not None:
        return f.default
    if f.kind in _LIST_KINDS:
        return []
    if f.kind == "enterprise":
        return {"name": "", "credit_code": ""}
    if f.kind in ("text", "textarea"):
        return ""
    return None


# ---------------------------------------------------------------- messages with labels

_PATH_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_ENTERPRISE_LABELS = {"name": "企业名称", "credit_code": "统一社会信用代码"}


def _where(fields: Sequence[Field], path: str) -> str:
    """A field path (``team[0].name``) as a user reads it: 调查组成员第 1 行的姓名."""
    text, current, field = "", list(fields), None
    for match in _PATH_PART.finditer(path):
        name, index = match.groups()
        if index is not None:
            text += f"第 {int(index) + 1} {'行' if field is not None and field.kind == 'table' else '个'}"
            continue
        f = next((c for c in current if c.name == name), None)
        if f is None:
            label = _ENTERPRISE_LABELS.get(name, name) if field is not None and field.kind == "enterprise" else name
            f_label, current, field = label, [], None
        else:
            f_label, current, field = f.label, list(f.columns), f
        text += f"的{f_label}" if text else f_label
    return text


def field_label(fields: Sequence[Field], path: str) -> str:
    """A field path as a user reads it (``team[0].name`` → 调查组成员第 1 行的姓名)."""
    return _where(fields, path) if path else ""


def describe_errors(fields: Sequence[Field], errors: Mapping[str, str]) -> str:
    """A refusal's errors in one sentence naming the fields by their labels (for a message line)."""
    parts = []
    for path, message in errors.items():
        where = _where(fields, path) if path else ""
        parts.append(f"{where}：{message}" if where else message)
    return "；".join(parts)
