"""Render-time page make-up of a GB/T 9704 document (after docxtpl has filled it in).

    finish_layout(document)

- Titles of more than one line break into balanced lines at word boundaries (梯形/菱形), never leaving one or
  two characters on a line (`title_breaks`).
- The signature block (署名, 成文日期, 签收栏; a 纪要's 出席/列席 lines) is kept on the page of the last lines of
  body text; a table's header row stays with its first row, a small table stays whole.
- The 版记 sits at the foot of the last page, its last line on the text block's last line: Word's floating
  tables and frames anchored to the bottom are ignored by LibreOffice (and by WPS in part), so the space above the
  版记 is set from the document's own line grid. Body text is set on an exact 28.95 pt pitch, 28 characters a
  line, so laying the text out again (`estimate`: line breaks with the Chinese line-breaking rules, widow control,
  keep-with-next, space dropped at a page's top, table rows) places the 版记 as a compositor would. The layout
  tests (tests/documents/test_page_layout.py) check it against LibreOffice's pages for every kind, grown line by
  line over whole pages.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from docx.document import Document as DocumentObject
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from flows.documents import gbt9704 as g

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
PAGE_TWIPS = g.mm_to_twips(g.TEXT_HEIGHT_MM)

# ------------------------------------------------------------------ titles

# words a title line may not cut (the bureau's own vocabulary); a break at their edges is a good one
TITLE_WORDS = sorted({
    "交通运输", "突发事件", "综合应急预案", "专项应急预案", "现场处置方案", "应急预案", "应急演练", "演练计划", "安全生产",
    "失信行为", "失信黑名单", "黑名单", "有限公司", "危险货物", "危险品", "事故调查报告", "调查报告", "警示通报",
    "会议纪要", "专家评审", "评估会议", "桌面推演", "实战演练", "双盲拉练", "统计分析报告", "事先告知书", "生产安全",
    "道路运输", "城市公交", "工程建设", "水上搜救", "消防应急救援", "人员疏散", "客运站场", "施工区", "运输局",
    "第一季度", "第二季度", "第三季度", "第四季度", "上半年", "下半年", "年度", "事故", "通知", "决定", "公示", "报告",
    "车辆", "客运车辆", "道路客运", "火灾", "火灾事故", "国道", "县城段", "交叉口", "现场", "处置", "方案", "专项", "评估",
    "统计", "分析", "疏散", "拉练", "推演", "泄漏", "港口", "内河", "搜救", "客运站", "公交", "应急", "演练", "预案",
}, key=len, reverse=True)
BREAK_AFTER = ("关于印发", "关于开展", "关于将", "关于", "》", "、", "，", "）")
BREAK_BEFORE = ("的通知", "的决定", "的警示通报", "的通报", "的报告", "的批复", "的意见", "《", "（", "列入", "专家评审",
                "评估会议纪要", "会议纪要", "事故调查报告", "事故统计", "交通运输安全生产")
NO_LINE_START = set("，。、；：？！）》」』”’…—·%")
NO_LINE_END = set("（《「『“‘")
# commas and full stops at a line's end hang past the margin (Word's 允许标点溢出边界, on by default; LibreOffice's
# hanging punctuation) instead of taking the previous character down with them
HANGING = set("，。、．,.")
_ASCII_WORD = re.compile(r"[0-9A-Za-z+\-.#]")


def _ems(text: str) -> float:
    """A title's width in character widths. Digits and Latin letters count 0.6, not ½: in the preview's 小标宋
    substitute they are wider than half a character, and a title broken early still reads well."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)


def _penalties(text: str) -> list[float]:
    """Cost of a break before each position 1..len-1 (inf: never; 0: at a word or phrase edge)."""
    n = len(text)
    cost = [4.0] * (n + 1)
    cost[0] = cost[n] = math.inf
    inside = [False] * (n + 1)
    edge = [False] * (n + 1)
    i = 0
    while i < n:       # greedy longest match of the bureau's words
        word = next((w for w in TITLE_WORDS if text.startswith(w, i)), None)
        if word:
            for k in range(i + 1, i + len(word)):
                inside[k] = True
            edge[i] = edge[i + len(word)] = True
            i += len(word)
        else:
            i += 1
    depth, in_book = 0, [False] * (n + 1)
    for k, ch in enumerate(text):
        depth += (ch == "《") - (ch == "》")
        in_book[k + 1] = depth > 0
    for k in range(1, n):
        if text[k] in NO_LINE_START or text[k - 1] in NO_LINE_END or (
                _ASCII_WORD.match(text[k]) and _ASCII_WORD.match(text[k - 1])):
            cost[k] = math.inf
        elif any(text[:k].endswith(a) for a in BREAK_AFTER) or any(text[k:].startswith(b) for b in BREAK_BEFORE):
            cost[k] = 0.0
        elif inside[k]:
            cost[k] = math.inf if not edge[k] else 1.0
        elif edge[k]:
            cost[k] = 1.0
        if in_book[k] and not math.isinf(cost[k]):
            cost[k] += 3.0      # a 《book title》 reads best whole on one line
    return cost


def title_breaks(text: str, per_line: float) -> list[str]:
    """`text` in as few lines of at most `per_line` character widths as it needs, balanced (each line near the
    average), broken at word edges, no line of one or two characters."""
    if _ems(text) <= per_line:
        return [text]
    n_lines = math.ceil(_ems(text) / per_line)
    cost = _penalties(text)
    n = len(text)
    widths = [0.0]
    for ch in text:
        widths.append(widths[-1] + _ems(ch))

    def solve(lines: int):
        ideal = widths[n] / lines
        best: dict[tuple[int, int], tuple[float, list[int]]] = {(0, 0): (0.0, [])}
        for used in range(lines):
            for (start, _), (score, cuts) in sorted(s for s in best.items() if s[0][1] == used):
                ends = [n] if used == lines - 1 else range(start + 1, n)
                for end in ends:
                    w = widths[end] - widths[start]
                    if w > per_line + 1e-6:
                        break
                    if end - start <= 2 or (end < n and math.isinf(cost[end])):
                        continue
                    total = score + abs(w - ideal) + (cost[end] if end < n else 0)
                    key = (end, used + 1)
                    if key not in best or total < best[key][0]:
                        best[key] = (total, cuts + [end])
        return best.get((n, lines))

    for lines in (n_lines, n_lines + 1):
        found = solve(lines)
        if found:
            cuts = [0] + found[1]
            return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    return [text]


def balance_titles(document: DocumentObject, style_ids: tuple[str, ...] = ("GBTitle",)) -> None:
    """Break each title paragraph into balanced lines with explicit line breaks (w:br)."""
    test = " or ".join(f'@w:val="{sid}"' for sid in style_ids)
    for p in document.element.body.xpath(f"./w:p[w:pPr/w:pStyle[{test}]]"):
        runs = p.findall(W + "r")
        if not runs or p.find(f"{W}r/{W}br") is not None:
            continue          # an admin's own breaks stay
        text = "".join(t.text or "" for r in runs for t in r.findall(W + "t"))
        size = _run_size(runs[0]) or g.SIZE_2
        lines = title_breaks(text.strip(), g.TEXT_WIDTH_PT / size - 0.05)
        if len(lines) < 2:
            continue
        first = runs[0]
        for r in runs[1:]:
            p.remove(r)
        for t in first.findall(W + "t"):
            first.remove(t)
        rpr = first.find(W + "rPr")
        anchor = first
        for i, line in enumerate(lines):
            r = first if i == 0 else _copy_run(rpr)
            if i:
                r.append(OxmlElement("w:br"))
                anchor.addnext(r)
            t = OxmlElement("w:t")
            t.text = line
            r.append(t)
            anchor = r


def _copy_run(rpr):
    from copy import deepcopy
    r = OxmlElement("w:r")
    if rpr is not None:
        r.append(deepcopy(rpr))
    return r


def _run_size(r) -> float | None:
    sz = r.find(f"{W}rPr/{W}sz")
    return int(sz.get(qn("w:val"))) / 2 if sz is not None else None

# ------------------------------------------------------------------ keeping the signature with the text


SIGNATURE_STYLES = ("GBSignature", "GBDate", "GBReceipt")
ATTENDANCE_STYLE = "GBAttendance"      # a 纪要's 出席/列席/请假 lines: its signature block


def keep_signature_with_text(document: DocumentObject) -> None:
    """Keep-with-next from the last body paragraph through the signature block (a 纪要: its attendance lines,
    each also kept whole), so that a page break moves the last lines of text with the signature instead of
    leaving 署名 and 日期, or a lone 出席 line, on a page of their own."""
    body = document.element.body
    sig = body.xpath('./w:p[w:pPr/w:pStyle[@w:val="GBSignature"]]')
    styles = SIGNATURE_STYLES
    if not sig:
        sig = body.xpath(f'./w:p[w:pPr/w:pStyle[@w:val="{ATTENDANCE_STYLE}"]]')[:1]
        styles = (ATTENDANCE_STYLE,)
        if not sig:
            return
        for p in body.xpath(f'./w:p[w:pPr/w:pStyle[@w:val="{ATTENDANCE_STYLE}"]]'):
            g._set(g._child(p.get_or_add_pPr(), "w:keepLines"), val="1")
    block = [sig[-1]]
    nxt = sig[-1].getnext()
    while nxt is not None and nxt.tag == W + "p" and _style(nxt) in styles:
        block.append(nxt)
        nxt = nxt.getnext()
    prev = sig[-1].getprevious()
    while prev is not None and prev.tag == W + "p" and not _text(prev):
        prev = prev.getprevious()
    if prev is not None and prev.tag == W + "p":
        block.insert(0, prev)
    for p in block[:-1]:
        g._set(g._child(p.get_or_add_pPr(), "w:keepNext"), val="1")


def _style(p) -> str:
    st = p.find(f"{W}pPr/{W}pStyle")
    return st.get(qn("w:val")) if st is not None else "Normal"


def _text(el) -> str:
    return "".join(t.text or "" for t in el.iter(W + "t"))

SMALL_TABLE_ROWS = 3     # a table of up to three rows (a header and two) is never split


def keep_tables_together(document: DocumentObject) -> None:
    """A table's header row stays with its first row, a small table stays whole, and the line introducing a
    table (…如下： / …组成：) stays with it: keep-with-next on their paragraphs, which Word and LibreOffice honour."""
    body = document.element.body
    for tbl in body.findall(W + "tbl"):
        if _is_note_table(tbl):
            continue
        rows = tbl.findall(W + "tr")
        if len(rows) <= SMALL_TABLE_ROWS:
            keep = rows[:-1]
        else:
            keep = [tr for tr in rows if tr.find(f"{W}trPr/{W}tblHeader") is not None]
        for tr in keep:
            for p in tr.iter(W + "p"):
                g._set(g._child(p.get_or_add_pPr(), "w:keepNext"), val="1")
        intro = tbl.getprevious()
        if intro is not None and intro.tag == W + "p" and _text(intro).rstrip().endswith(("：", ":")):
            g._set(g._child(intro.get_or_add_pPr(), "w:keepNext"), val="1")

# ------------------------------------------------------------------ estimating where lines fall


@dataclass
class _Para:
    before: int
    after: int
    line: int
    exact: bool
    left: int
    right: int
    first: int
    size: float
    condense: int
    keep_next: bool
    page_break_before: bool
    widow: bool
    snap: bool
    keep_lines: bool


class _Styles:
    def __init__(self, document: DocumentObject) -> None:
        root = document.styles.element
        self.by_id = {st.get(qn("w:styleId")): st for st in root.findall(qn("w:style"))}
        self.defaults = root.find(qn("w:docDefaults"))

    def chain(self, style_id: str | None):
        seen = []
        sid = style_id or "Normal"
        while sid and sid in self.by_id and sid not in [s.get(qn("w:styleId")) for s in seen]:
            st = self.by_id[sid]
            seen.append(st)
            based = st.find(qn("w:basedOn"))
            sid = based.get(qn("w:val")) if based is not None else None
        return seen

    def resolve(self, p) -> _Para:
        sources = [p.find(W + "pPr")] + [st.find(W + "pPr") for st in self.chain(_style(p))]
        sources.append(self.defaults.find(f"{W}pPrDefault/{W}pPr") if self.defaults is not None else None)
        rsources = [st.find(W + "rPr") for st in self.chain(_style(p))]
        rsources.append(self.defaults.find(f"{W}rPrDefault/{W}rPr") if self.defaults is not None else None)

        def attr(tag: str, name: str, srcs=sources):
            for src in srcs:
                if src is None:
                    continue
                el = src.find(W + tag)
                if el is not None and el.get(W + name) is not None:
                    return el.get(W + name)
            return None

        def flag(tag: str) -> bool:
            v = attr(tag, "val")
            if v is None:
                for src in sources:
                    if src is not None and src.find(W + tag) is not None:
                        return True
                return False
            return v not in ("0", "false")

        rule = attr("spacing", "lineRule") or "auto"
        size = float(attr("sz", "val", rsources) or 32) / 2
        run_sizes = [int(el.get(W + "val")) / 2 for el in p.iterfind(f"{W}r/{W}rPr/{W}sz")]
        if run_sizes:
            size = max(run_sizes)
        line = int(float(attr("spacing", "line") or 240))
        return _Para(before=int(float(attr("spacing", "before") or 0)), after=int(float(attr("spacing", "after") or 0)),
                     line=line, exact=rule == "exact", left=int(float(attr("ind", "left") or 0)),
                     right=int(float(attr("ind", "right") or 0)),
                     first=_first_indent(sources),
                     size=size, condense=int(float(attr("spacing", "val", rsources) or 0)),
                     keep_next=flag("keepNext"), page_break_before=flag("pageBreakBefore"),
                     widow=flag("widowControl"), snap=attr("snapToGrid", "val") not in ("0", "false"),
                     keep_lines=flag("keepLines"))


def _first_indent(sources) -> int:
    """First-line indent (negative: hanging) from the nearest level that sets either: a style's hanging
    indent replaces Normal's first-line indent, it does not add to it."""
    for src in sources:
        ind = src.find(W + "ind") if src is not None else None
        if ind is not None and (ind.get(W + "firstLine") is not None or ind.get(W + "hanging") is not None):
            return int(float(ind.get(W + "firstLine") or 0)) - int(float(ind.get(W + "hanging") or 0))
    return 0


# Word's 中文与西文/数字间距 (autoSpaceDE/DN, on by default) and LibreOffice's Asian-Latin spacing put a
# little space (measured in LibreOffice: 0.1–0.2 of a character) between a Chinese character and a run of Latin
# letters or digits, on each side
AUTOSPACE_EMS = 0.15


def _is_ideograph(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF" and unicodedata.category(ch) == "Lo"


def _line_count(text: str, width: int, first: int, size: float, condense: int) -> int:
    """Lines a paragraph of `text` takes: full-width characters at `size` (+ character spacing), ASCII at half
    plus the Chinese-Latin spacing, ASCII words unbroken, a comma or full stop at a line's end hanging in the
    margin, other closing punctuation taking the previous character down with it, opening punctuation never
    at a line's end."""
    if not text:
        return 1
    full = size * 20 + condense
    half = size * 10 + condense
    gap = size * 20 * AUTOSPACE_EMS
    lines, used, limit = 1, 0.0, width - first
    units: list[str] = re.findall(r"[0-9A-Za-z.+\-%/]+|.", text, flags=re.S)
    prev_w, prev = 0.0, ""
    for i, unit in enumerate(units):
        if unit == "\n":
            lines, used, limit = lines + 1, 0.0, width
            continue
        w = sum(full if unicodedata.east_asian_width(c) in "WF" else half for c in unit)
        if unit[0].isascii() and unit[0].isalnum():
            after = units[i + 1] if i + 1 < len(units) else ""
            w += gap * (_is_ideograph(prev[-1:] or " ") + _is_ideograph(after[:1] or " "))
        if used + w > limit:
            if unit in HANGING and used:
                used += w                                              # hangs into the margin
            elif (unit[0] in NO_LINE_START or prev in NO_LINE_END) and used:
                lines, used, limit = lines + 1, prev_w + w, width      # the previous character goes down with it
            else:
                lines, used, limit = lines + 1, w, width
        else:
            used += w
        prev_w, prev = w, unit
    return lines


# the height of an "auto" (single) line in font sizes: CJK faces set ascent + descent near 1.45 em (Noto CJK,
# the preview's faces, 1.448); a face with less (Word's 方正小标宋) only leaves the 版记 a little above the foot
AUTO_LINE_EMS = 1.45


def _para_lines_height(p, props: _Para, width: int) -> tuple[int, int]:
    """(lines, height of one line in twips) of paragraph `p` set `width` twips wide."""
    text = "".join((t.text or "") if t.tag == W + "t" else ("\n" if t.tag == W + "br" and t.get(W + "type")
                                                             in (None, "textWrapping") else "")
                   for t in p.iter(W + "t", W + "br"))
    text = text.split("\t")[-1] if "\t" in text else text   # a tabbed line (署名, 版记) is one line
    n = _line_count(text, width - props.left - props.right, props.first, props.size, props.condense)
    if props.exact:
        pitch = props.line
    else:
        natural = props.size * 20 * AUTO_LINE_EMS * props.line / 240
        pitch = math.ceil(natural / g.LINE_TWIPS) * g.LINE_TWIPS if props.snap and natural > 0 else natural
    return n, int(pitch)


def _table_rows(tbl, styles: _Styles) -> list[tuple[int, bool, bool]]:
    """(height, cant_split, is_header) of each row."""
    rows = []
    mar = tbl.find(f"{W}tblPr/{W}tblCellMar")
    top = bottom = 0
    if mar is not None:
        for side in mar:
            if side.tag in (W + "top", W + "bottom"):
                v = int(side.get(W + "w") or 0)
                top, bottom = (v, bottom) if side.tag == W + "top" else (top, v)
    for tr in tbl.findall(W + "tr"):
        best = 0
        for tc in tr.findall(W + "tc"):
            w_el = tc.find(f"{W}tcPr/{W}tcW")
            width = int(w_el.get(W + "w")) - 120 if w_el is not None else g.TEXT_WIDTH_TWIPS
            h = top + bottom
            for p in tc.findall(W + "p"):
                props = styles.resolve(p)
                n, pitch = _para_lines_height(p, props, width)
                h += n * pitch + props.before + props.after
            best = max(best, h)
        hr = tr.find(f"{W}trPr/{W}trHeight")
        if hr is not None:
            best = max(best, int(hr.get(W + "val") or 0)) if hr.get(W + "hRule") != "exact" else int(hr.get(W + "val"))
        rows.append((best + 10, tr.find(f"{W}trPr/{W}cantSplit") is not None,
                     tr.find(f"{W}trPr/{W}tblHeader") is not None))
    return rows


@dataclass
class Position:
    page: int          # 0-based
    used: int          # twips used on that page after the element


@dataclass
class _Block:
    """A body paragraph or table as the page make-up sees it."""
    heights: list[int]            # its lines (a paragraph) or rows (a table), top to bottom
    before: int = 0
    after: int = 0
    keep_next: bool = False
    widow: bool = False           # at least two lines on either side of a page break
    keep_lines: bool = False      # never split
    page_break_before: bool = False
    header: int = 0               # a table's repeated header rows
    table: bool = False
    header_rows: tuple = ()


def _blocks(elements, styles: _Styles) -> list[_Block]:
    found = []
    for el in elements:
        if el.tag == W + "p":
            props = styles.resolve(el)
            n, pitch = _para_lines_height(el, props, g.TEXT_WIDTH_TWIPS)
            hard = el.find(f"{W}r/{W}br[@{qn('w:type')}='page']") is not None
            found.append(_Block([pitch] * n, props.before, props.after + _border_height(el, styles), props.keep_next,
                                props.widow, props.keep_lines, props.page_break_before or hard))
        elif el.tag == W + "tbl":
            rows = _table_rows(el, styles)
            heads = tuple(k for k, (_, _, head) in enumerate(rows) if head)
            found.append(_Block([h for h, _, _ in rows], header=sum(h for h, _, head in rows if head), table=True,
                                header_rows=heads))
    return found


def _table_start(block: _Block) -> int:
    """The rows of a table that go onto a page together: all of a small table, else its header and first row."""
    if len(block.heights) <= SMALL_TABLE_ROWS:
        return sum(block.heights)
    return sum(block.heights[:len(block.header_rows) + 1])


def _border_height(p, styles: _Styles) -> int:
    """Twips a paragraph's top and bottom borders add (the rule and its distance from the text): the red rule
    under 发文字号 and under the 纪要's issuing line."""
    sources = [p.find(W + "pPr")] + [st.find(W + "pPr") for st in styles.chain(_style(p))]
    for src in sources:
        bdr = src.find(W + "pBdr") if src is not None else None
        if bdr is not None:
            return sum(int(float(side.get(W + "space") or 0)) * 20 + int(float(side.get(W + "sz") or 0)) * 20 // 8
                       for side in bdr if side.tag in (W + "top", W + "bottom")
                       and side.get(W + "val") not in (None, "nil", "none"))
    return 0


def _first_part(block: _Block) -> int:
    """Height that must follow a keep-with-next paragraph onto its page: the next block's first lines."""
    if block.table:
        return _table_start(block)
    if block.keep_lines:
        return block.before + sum(block.heights)
    if not block.widow:
        lines = block.heights[:1]
    else:                # two lines stay on the page, and two go over: a paragraph of three lines cannot split
        lines = block.heights[:2] if len(block.heights) >= 4 else block.heights
    return block.before + sum(lines)


def estimate(elements, styles: _Styles) -> Position:
    """Where the text ends after laying out `elements` (body paragraphs and tables) from the top of page 1, as
    Word and LibreOffice make up pages: space before is dropped at the top of a page that the flow began,
    widow/orphan control keeps two lines on either side of a break, keep-with-next moves a paragraph to the
    next page with the block it belongs to, table rows are not split and the header row repeats."""
    blocks = _blocks(elements, styles)
    page, used = 0, 0
    limit = PAGE_TWIPS + 5
    flowed = False           # the page was begun by the flow (not by the document's start or a page break)
    for i, b in enumerate(blocks):
        if b.page_break_before and (page or used):
            page, used, flowed = page + 1, 0, False
        if b.keep_next and used:
            chain, j = b.before + sum(b.heights) + b.after, i + 1
            while j < len(blocks) and blocks[j].keep_next and not blocks[j].table:
                chain += blocks[j].before + sum(blocks[j].heights) + blocks[j].after
                j += 1
            if j < len(blocks):
                chain += _first_part(blocks[j])
            if used + chain > limit and chain <= PAGE_TWIPS:
                page, used, flowed = page + 1, 0, True
        if b.table:
            if used and used + _table_start(b) > limit:
                page, used, flowed = page + 1, 0, True
            for k, h in enumerate(b.heights):
                if used + h > limit and used:
                    page, used, flowed = page + 1, (b.header if k else 0), True
                used += h
            continue
        used += b.before if used or not flowed else 0
        n = len(b.heights)
        k = 0
        while k < n:
            room = 0
            while k + room < n and used + sum(b.heights[k:k + room + 1]) <= limit:
                room += 1
            if k + room == n:
                used += sum(b.heights[k:])
                break
            if b.keep_lines and k == 0 and sum(b.heights) <= PAGE_TWIPS:
                room = 0
            elif b.widow:        # no single first line at a page's foot, no single last line at the next's top
                if n - (k + room) < 2:
                    room = n - k - 2
                if room < 2 and k == 0:
                    room = 0
            if room <= 0 and not used:
                room = 1         # a line taller than the page still takes a page
            used += sum(b.heights[k:k + room])
            k += room
            page, used, flowed = page + 1, 0, True
        used += b.after
        if used > limit:
            page, used, flowed = page + 1, 0, True
    return Position(page, used)

# ------------------------------------------------------------------ the 版记 at the foot of the last page


def _is_note_table(tbl) -> bool:
    return bool(tbl.xpath('.//w:p[w:pPr/w:pStyle[@w:val="GBNote"]]')) and bool(
        [t for t in tbl.iter(W + "t") if (t.text or "").endswith("印发")])


def place_version_note(document: DocumentObject) -> None:
    """Space before the 版记 table so that its last line falls on the last line of the page; a 版记 that no longer
    fits under the text goes to the foot of a page of its own."""
    body = document.element.body
    tables = [t for t in body.findall(W + "tbl") if _is_note_table(t)]
    if not tables:
        return
    note = tables[-1]
    spacer = note.getprevious()
    if spacer is None or spacer.tag != W + "p" or _style(spacer) != "GBNote" or _text(spacer):
        return
    styles = _Styles(document)
    before = [el for el in body if el.tag in (W + "p", W + "tbl")]
    before = before[:before.index(spacer)]
    pos = estimate(before, styles)
    note_height = sum(h for h, _, _ in _table_rows(note, styles))
    # the spacer is one empty line of exact height: unlike space before, a line is not dropped at a page's top
    free = PAGE_TWIPS - pos.used - note_height
    pPr = spacer.get_or_add_pPr()
    if free < g.lines(1):   # at least one empty line between text and 版记, else a page of its own
        g._set(g._child(pPr, "w:pageBreakBefore"), val="1")
        free = PAGE_TWIPS - note_height
    g.set_spacing(pPr, line=max(20, free - SAFETY_TWIPS), rule="exact", before=0)
    for r in spacer.findall(W + "r"):
        spacer.remove(r)


SAFETY_TWIPS = 240   # ~4 mm less than computed: a rounding error must never push the 版记 onto another page


def finish_layout(document: DocumentObject) -> None:
    balance_titles(document)
    keep_signature_with_text(document)
    keep_tables_together(document)
    place_version_note(document)
