"""Checks of a rendered document's pages against GB/T 9704, read from its PDF (`pdftotext -bbox-layout`).

    pages = read_pdf(pdf)
    layout_problems(pages) -> ["第 3 页只有发文机关署名和成文日期，没有正文", …]

What is checked, as a secretary looks at the pages: the 版记 (抄送/印发) at the foot of the last page, its
last line on the text block's last line; no page that holds only the signature, date, 签收 or 版记 without
body text; no empty last page; no title line of one or two characters. The preview (`python -m flows.documents
preview`) prints these, and the layout tests assert there are none.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from flows.documents import gbt9704

PT_PER_MM = 72 / 25.4
TEXT_TOP_PT = gbt9704.MARGIN_TOP_MM * PT_PER_MM
TEXT_BOTTOM_PT = (gbt9704.PAGE_HEIGHT_MM - gbt9704.MARGIN_BOTTOM_MM) * PT_PER_MM
LINE_PT = gbt9704.LINE_PT

_PAGE_NUMBER = re.compile(r"^—\s*\d+\s*—$")
_PRINTED = re.compile(r"印发$")
_CC = re.compile(r"^(抄送|分送)[：:]")
_DATE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
_RECEIPT = re.compile(r"签收")


@dataclass(frozen=True)
class Line:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass
class Page:
    number: int
    width: float
    height: float
    lines: list[Line] = field(default_factory=list)

    @property
    def content(self) -> list[Line]:
        """The page's lines without its page number."""
        return [ln for ln in self.lines if not _PAGE_NUMBER.match(ln.text.replace(" ", ""))]


def read_pdf(pdf: Path) -> list[Page]:
    """Every page with its text lines (top to bottom), from poppler's `pdftotext -bbox-layout`."""
    if shutil.which("pdftotext") is None:
        raise RuntimeError("未找到 pdftotext（Debian 软件包 poppler-utils），无法检查版式")
    xml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, check=True,
                         timeout=120).stdout
    root = etree.fromstring(xml, parser=etree.XMLParser(recover=True, huge_tree=True))
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    pages = []
    for i, page in enumerate(root.iterfind(".//x:page", ns), 1):
        found = Page(i, float(page.get("width")), float(page.get("height")))
        for line in page.iterfind(".//x:line", ns):
            words = [w.text or "" for w in line.iterfind("x:word", ns)]
            text = "".join(words).strip()
            if text:
                found.lines.append(Line(text, float(line.get("xMin")), float(line.get("yMin")),
                                        float(line.get("xMax")), float(line.get("yMax"))))
        found.lines.sort(key=lambda ln: (round(ln.top), ln.x0))
        pages.append(found)
    return pages


def _is_trailer(line: Line, page: Page, issuer_lines: set[str]) -> bool:
    """A line of the signature block (署名, 成文日期, 签收) or of the 版记."""
    text = line.text.replace(" ", "")
    right_half = line.x0 > page.width * 0.45
    return (_PRINTED.search(text) is not None or _CC.match(text) is not None or _RECEIPT.search(text) is not None
            or (right_half and (_DATE.match(text) is not None or text in issuer_lines)))


def layout_problems(pages: list[Page], *, issuer: str = "县交通运输局") -> list[str]:
    """What a secretary would have to fix by hand in these pages (Chinese), empty when there is nothing."""
    problems: list[str] = []
    if not pages:
        return ["文档没有页面"]
    last = pages[-1]
    if not last.content:
        problems.append(f"末页（第 {last.number} 页）是空白页")
    issuer_lines = {issuer, issuer + "办公室", issuer + "事故调查组"}
    for page in pages:
        content = page.content
        note_only = all(_PRINTED.search(ln.text) or _CC.match(ln.text) for ln in content)
        if content and not note_only and all(_is_trailer(ln, page, issuer_lines) for ln in content):
            problems.append(f"第 {page.number} 页只有署名、成文日期或签收栏，没有正文")
    printed = [(page, ln) for page in pages for ln in page.content if _PRINTED.search(ln.text.replace(" ", ""))]
    if printed:
        page, line = printed[-1]
        if page is not last:
            problems.append(f"版记在第 {page.number} 页，不在末页")
        elif line.bottom < TEXT_BOTTOM_PT - LINE_PT:
            gap_mm = (TEXT_BOTTOM_PT - line.bottom) / PT_PER_MM
            problems.append(f"版记没有位于末页最下方（最后一行距版心下边缘 {gap_mm:.0f} 毫米）")
        elif line.bottom > TEXT_BOTTOM_PT + 4:
            problems.append("版记超出版心下边缘")
    for title in title_lines(pages):
        if len(title.text.replace(" ", "")) <= 2:
            problems.append(f"标题有一行只有「{title.text}」")
    return problems


def title_lines(pages: list[Page]) -> list[Line]:
    """The lines of the first page's title: 2号 (22 pt) text centred, the first such block below the 版头."""
    if not pages:
        return []
    page = pages[0]
    found: list[Line] = []
    for line in page.content:
        size = line.height / 1.3          # a line box of CJK text is about 1.3 × its font size
        centred = abs((line.x0 + line.x1) / 2 - (gbt9704.MARGIN_LEFT_MM * PT_PER_MM + gbt9704.TEXT_WIDTH_PT / 2)) < 12
        if 19 <= size <= 25 and centred:
            if found and line.top - found[-1].bottom > LINE_PT:
                break
            found.append(line)
        elif found:
            break
    return found
