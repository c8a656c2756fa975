"""Chinese wording for documents: 发文字号, dates in Chinese, numbers, names, clauses.

The Jinja2 filters templates use ({{ case.data.deaths | num }}), and the same helpers the
service uses when it fills a document's header (its number and date).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import jinja2


def format_doc_number(prefix: str, year: int, seq: int) -> str:
    """发文字号: format_doc_number("县交安", 2024, 12) → "县交安〔2024〕12号" (full-width 〔〕, no leading zeros)."""
    if not isinstance(prefix, str) or not prefix.strip():
        raise ValueError("发文机关代字不能为空")
    if isinstance(year, bool) or not isinstance(year, int) or not 1000 <= year <= 9999:
        raise ValueError(f"年份须为四位整数：{year!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"发文顺序号须为正整数：{seq!r}")
    return f"{prefix.strip()}〔{year}〕{seq}号"


def format_issue_number(seq: int) -> str:
    """纪要期号: 3 → "第3期"."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"期号须为正整数：{seq!r}")
    return f"第{seq}期"


def chinese_date(d: date) -> str:
    """date(2024, 3, 5) → "2024年3月5日" (Arabic numerals, no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")


def _as_datetime(value: Any) -> date | datetime | None:
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not _ISO_DATE.match(text):
            return None
        try:
            if len(text) > 10:
                return datetime.fromisoformat(text.replace("Z", "+00:00"))
            return date.fromisoformat(text)
        except ValueError:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                return None
    return None


def cn_date(value: Any, year: bool = True) -> str:
    """Filter: a date, datetime or ISO text → "2024年3月5日" (cn_date(false) → "3月5日");
    anything else unchanged, empty for none."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    d = _as_datetime(value)
    if d is None:
        return str(value)
    return chinese_date(d) if year else f"{d.month}月{d.day}日"


def cn_datetime(value: Any) -> str:
    """Filter: "2024-03-05T14:30" → "2024年3月5日14时30分" (a date alone → "2024年3月5日")."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    d = _as_datetime(value)
    if d is None:
        return str(value)
    if not isinstance(d, datetime):
        return chinese_date(d)
    return chinese_date(d) + (f"{d.hour}时{d.minute}分" if d.minute else f"{d.hour}时")


def num(value: Any) -> str:
    """Filter: numbers without trailing zeros (12.0 → "12", 1234.567 → "1234.57"); empty for none."""
    if value is None or isinstance(value, jinja2.Undefined) or value == "":
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def names(value: Any) -> str:
    """Filter: a list of names (or of {name: …} rows) joined with "、"; text unchanged."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return str(value.get("name", ""))
    if isinstance(value, Iterable):
        return "、".join(names(v) for v in value if v not in (None, ""))
    return str(value)


def paragraphs(value: Any) -> str:
    """Filter: each line of a long text becomes its own paragraph (same style, first-line indent)."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    items = value if isinstance(value, (list, tuple)) else str(value).split("\n")
    return "\a".join(line.strip() for line in (str(i) for i in items) if line.strip())


_CLAUSE_END = "。．.，,；;：:、 \t\n"


def clause(value: Any) -> str:
    """Filter: text to be continued by the template's own punctuation — trailing 。，；： are dropped
    ("《办法》第五条。" → "《办法》第五条"), so "依据{{ x|clause }}，" never reads "。，"."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    return names(value).rstrip(_CLAUSE_END)


# what may end a sentence or a line of a list; a closing quote or bracket ends one when what it closes did
_SENTENCE_END = "。！？；：…"
_CLOSERS = "”’）》」』"


def _sentence(line: str) -> str:
    """One line as a sentence: its own end kept ("；" in a list, "！"), a trailing "，" or "、" made "。",
    "。" added when it has none ("共约60人" → "共约60人。"), a doubled "。。" made one."""
    line = re.sub(r"。{2,}", "。", line.strip())
    core = line.rstrip(_CLOSERS)
    if core and core[-1] in _SENTENCE_END:
        return line
    if line and line[-1] in "，,、":
        return line[:-1] + "。"
    return line + "。" if line else line


def sentences(value: Any) -> str:
    """Filter: like `paragraphs`, each line its own paragraph, and each ending as a sentence does
    (see `_sentence`): prose typed in a form reads as Chinese whether or not its last "。" was typed."""
    text = paragraphs(value)
    return "\a".join(_sentence(line) for line in text.split("\a")) if text else ""


_SERIES_SPLIT = re.compile(r"\s*(?:[；;，,、\n]|(?<=》)\s*(?=《))\s*")


def series(value: Any) -> str:
    """Filter: items (a list, or text with one per line or separated by ；，、) joined as Chinese joins
    them: "A和B", "A、B和C". For legal bases typed as "《安全生产法》第九十五条；《办法》。": a "；"
    between two bases, or a full stop inside the sentence that cites them, reads wrong."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    items = value if isinstance(value, (list, tuple)) else _SERIES_SPLIT.split(str(value))
    parts = [clause(i).strip() for i in items]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return "".join(parts)
    return "、".join(parts[:-1]) + "和" + parts[-1]


def suffixed(value: Any, tail: str) -> str:
    """Filter: `value` followed by `tail`, unless it already ends with the word `tail` ends with:
    "重大隐患整改不力"|suffixed("的失信行为") → "重大隐患整改不力的失信行为", but "严重违法违规行为" stays
    as it is (not "…行为的失信行为"), and "全员疏散逃生演练" + "实战演练" stays "全员疏散逃生演练"."""
    text = names(value).strip()
    if not text:
        return ""
    word = tail.lstrip("的")[-2:]
    return text if word and text.endswith(word) else text + tail


def _date_of(value: Any) -> date | None:
    d = _as_datetime(value)
    return d.date() if isinstance(d, datetime) else d


def add_days(value: Any, days: int) -> str:
    """Filter: an ISO date `days` later ("2024-03-14"|add_days(1) → "2024-03-15"); anything else unchanged."""
    d = _date_of(value)
    if d is None:
        return "" if value is None or isinstance(value, jinja2.Undefined) else str(value)
    return (d + timedelta(days=int(days))).isoformat()


def add_years(value: Any, years: Any) -> str:
    """Filter: an ISO date `years` later (29 February → 28 February); anything else unchanged."""
    d = _date_of(value)
    if d is None:
        return "" if value is None or isinstance(value, jinja2.Undefined) else str(value)
    try:
        n = int(years)
    except (TypeError, ValueError):
        return d.isoformat()
    try:
        return d.replace(year=d.year + n).isoformat()
    except ValueError:  # 29 February in a year without it
        return d.replace(year=d.year + n, day=28).isoformat()


_DIGITS = "零一二三四五六七八九"


def cn_number(value: Any) -> str:
    """Filter: 1 → 一, 10 → 十, 12 → 十二, 25 → 二十五 (up to 99; larger numbers stay Arabic)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return str(value)
    if not 0 <= n < 100:
        return str(n)
    if n < 10:
        return _DIGITS[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[units] if units else "")


FILTERS = {"cn_date": cn_date, "cn_datetime": cn_datetime, "num": num, "names": names,
           "paragraphs": paragraphs, "sentences": sentences, "cn_number": cn_number, "clause": clause,
           "series": series, "suffixed": suffixed, "add_days": add_days, "add_years": add_years}
