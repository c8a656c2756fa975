"""Layout helpers for Word documents in the GB/T 9704-2012 (党政机关公文格式) layout.

Used by `flows.templates_build` to build the default templates, and by
`flows.documents` after rendering (the issuer banner is shrunk to fit one line).

Figures (as commonly quoted from the standard):
A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm (text block 156 × 225 mm);
22 lines of 28 characters: exact line pitch 28.95 pt and a character grid;
body 3号 (16 pt) 仿宋; title 2号 (22 pt) 小标宋; headings 黑体 / 楷体;
page numbers "— 1 —" in 4号 (14 pt) 宋体, outside corner, 7 mm below the text block.

Fonts are named as the Windows fonts the office has; the font table gives Word an
alternative (e.g. 仿宋_GB2312 → 仿宋) for a machine that lacks one.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_BREAK
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm
from lxml import etree

# ------------------------------------------------------------------ figures

PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210, 297
MARGIN_TOP_MM, MARGIN_BOTTOM_MM, MARGIN_LEFT_MM, MARGIN_RIGHT_MM = 37, 35, 28, 26
TEXT_WIDTH_MM = PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM          # 156
TEXT_HEIGHT_MM = PAGE_HEIGHT_MM - MARGIN_TOP_MM - MARGIN_BOTTOM_MM        # 225
FOOTER_DISTANCE_MM = 25     # page number: the dashes sit about 7 mm below the text block
HEADER_DISTANCE_MM = 15

TWIPS_PER_MM = 1440 / 25.4
TWIPS_PER_PT = 20
TEXT_WIDTH_TWIPS = round(TEXT_WIDTH_MM * TWIPS_PER_MM)                    # 8844
TEXT_WIDTH_PT = TEXT_WIDTH_TWIPS / TWIPS_PER_PT                           # 442.2

LINE_PT = 28.95                       # exact line pitch (22 lines in 225 mm)
LINE_TWIPS = 579                      # w:spacing w:line="579" w:lineRule="exact"
CHARS_PER_LINE = 28
# 28 characters of 16 pt need 448 pt but the line is 442.2 pt: 3号 text is condensed by 0.25 pt
# (w:spacing w:val="-5" in twentieths of a point), which Word and LibreOffice lay out alike
# (a Word character grid with a negative charSpace would do it in Word only).
CONDENSE_TWIPS = -5

SIZE_1, SIZE_2, SIZE_3, SIZE_4, SIZE_SMALL_4, SIZE_5 = 26, 22, 16, 14, 12, 10.5   # 一号 二号 三号 四号 小四 五号
BANNER_SIZE = 44                      # 发文机关标志 / 纪要标志, shrunk at render time to stay on one line

FANGSONG = "仿宋_GB2312"              # body
KAITI = "楷体_GB2312"                 # second-level headings
HEITI = "黑体"                        # first-level headings, labels
XIAOBIAOSONG = "方正小标宋简体"        # title and issuer banner
SONGTI = "宋体"                       # page numbers

FONT_ALTERNATIVES = {                 # written to the font table (w:altName) for Word's substitution
    FANGSONG: ("仿宋", "modern", "fixed"),
    KAITI: ("楷体", "modern", "fixed"),
    HEITI: ("SimHei", "modern", "fixed"),
    XIAOBIAOSONG: ("宋体", "script", "variable"),
    SONGTI: ("SimSun", "auto", "variable"),
}

RED = "FF0000"
BLACK = "000000"


def mm_to_twips(mm: float) -> int:
    return round(mm * TWIPS_PER_MM)


def chars(n: float, size_pt: float = SIZE_3) -> int:
    """Width of n characters of the given size, in twips."""
    return round(n * size_pt * TWIPS_PER_PT)


def lines(n: float) -> int:
    """Height of n lines of the exact line pitch, in twips."""
    return round(n * LINE_TWIPS)


# ------------------------------------------------------------------ low-level XML

# child order of the property elements we touch (ECMA-376 sequences)
_ORDER = {
    "pPr": ("pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers pBdr shd "
            "tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi "
            "adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc "
            "textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange"),
    "rPr": ("rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint noProof "
            "snapToGrid vanish webHidden color spacing w kern position sz szCs highlight u effect bdr shd "
            "fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath"),
    "tblPr": ("tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc "
              "tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption tblDescription"),
    "trPr": "cnfStyle divId gridBefore gridAfter wBefore wAfter cantSplit trHeight tblHeader tblCellSpacing jc hidden",
    "tcPr": "cnfStyle tcW gridSpan hMerge vMerge tcBorders shd noWrap tcMar textDirection tcFitText vAlign hideMark",
}
_ORDER = {k: tuple(qn(f"w:{t}") for t in v.split()) for k, v in _ORDER.items()}


def _child(parent, tag: str):
    """The child `tag` of `parent`, created in schema order when missing."""
    found = parent.find(qn(tag))
    if found is not None:
        return found
    el = OxmlElement(tag)
    seq = _ORDER.get(etree.QName(parent).localname, ())
    tag = qn(tag)
    if tag in seq:
        successors = seq[seq.index(tag) + 1:]
        for sibling in parent:
            if sibling.tag in successors:
                sibling.addprevious(el)
                return el
    parent.append(el)
    return el


def _set(el, **attrs) -> None:
    for key, value in attrs.items():
        el.set(qn(f"w:{key}"), str(value))


def set_fonts(rPr, font: str, size_pt: float | None = None, *, color: str | None = None,
              bold: bool | None = None) -> None:
    """Name `font` in every slot of rFonts (ascii, hAnsi, eastAsia, cs) and set size, colour, bold."""
    rfonts = _child(rPr, "w:rFonts")
    for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        rfonts.attrib.pop(qn(f"w:{attr}"), None)
    _set(rfonts, ascii=font, hAnsi=font, eastAsia=font, cs=font, hint="eastAsia")
    if bold is not None:
        b = _child(rPr, "w:b")
        _set(b, val="1" if bold else "0")
        bcs = _child(rPr, "w:bCs")
        _set(bcs, val="1" if bold else "0")
    if color is not None:
        _set(_child(rPr, "w:color"), val=color)
    if size_pt is not None:
        half = str(round(size_pt * 2))
        _set(_child(rPr, "w:sz"), val=half)
        _set(_child(rPr, "w:szCs"), val=half)


def set_spacing(pPr, *, line: int | None = LINE_TWIPS, rule: str = "exact", before: int = 0,
                after: int = 0) -> None:
    sp = _child(pPr, "w:spacing")
    _set(sp, before=before, after=after, beforeLines=0, afterLines=0)
    if line is not None:
        _set(sp, line=line, lineRule=rule)


def set_indent(pPr, *, first_chars: float = 0, left: int = 0, right: int = 0, hanging: int = 0) -> None:
    ind = _child(pPr, "w:ind")
    for attr in list(ind.attrib):
        del ind.attrib[attr]
    _set(ind, left=left, right=right)
    if hanging:
        _set(ind, hanging=hanging)
    elif first_chars:
        _set(ind, firstLine=chars(first_chars), firstLineChars=round(first_chars * 100))
    else:
        _set(ind, firstLine=0, firstLineChars=0)


def set_border(pPr, side: str, *, color: str, size_eighths: int, space_pt: int = 1) -> None:
    bdr = _child(pPr, "w:pBdr")
    edge = bdr.find(qn(f"w:{side}"))
    if edge is None:
        edge = OxmlElement(f"w:{side}")
        bdr.append(edge)
    _set(edge, val="single", sz=size_eighths, space=space_pt, color=color)


def set_tabs(pPr, stops: Iterable[tuple[str, int]]) -> None:
    tabs = _child(pPr, "w:tabs")
    for el in list(tabs):
        tabs.remove(el)
    for align, pos in stops:
        tab = OxmlElement("w:tab")
        _set(tab, val=align, pos=pos)
        tabs.append(tab)


# ------------------------------------------------------------------ styles

@dataclass(frozen=True)
class ParaStyle:
    """One paragraph style of the house layout (Chinese display name, ASCII style id)."""
    style_id: str
    name: str
    font: str = FANGSONG
    size: float = SIZE_3
    align: str = "both"                # w:jc
    first_chars: float = 0             # first-line indent in characters
    left: int = 0                      # twips
    right: int = 0
    hanging: int = 0
    before: int = 0                    # twips
    after: int = 0
    line: int | None = LINE_TWIPS
    line_rule: str = "exact"
    color: str | None = None
    keep_next: bool = False
    outline: int | None = None
    snap_to_grid: bool = True


STYLES: dict[str, ParaStyle] = {s.style_id: s for s in [
    # Normal is the body text: 3号仿宋, justified, first line indented two characters
    ParaStyle("Normal", "Normal", first_chars=2),
    ParaStyle("GBBanner", "发文机关标志", font=XIAOBIAOSONG, size=BANNER_SIZE, align="center", color=RED,
              before=mm_to_twips(35) - 120, line=240, line_rule="auto", snap_to_grid=False),
    ParaStyle("GBDocNumber", "发文字号", align="center", before=lines(2)),
    ParaStyle("GBIssueNumber", "纪要期号", align="center", before=lines(1)),
    # no indents: its red rule spans the text width; tab stops set the issuer and the date one character in
    ParaStyle("GBMinutesMeta", "纪要编发机关和日期", align="left"),
    ParaStyle("GBTitle", "公文标题", font=XIAOBIAOSONG, size=SIZE_2, align="center", before=lines(2),
              after=0, keep_next=True, snap_to_grid=False),
    ParaStyle("GBIssuerHead", "文书机关名称", font=XIAOBIAOSONG, size=SIZE_2, align="center",
              before=lines(1), keep_next=True, snap_to_grid=False),
    ParaStyle("GBNumberRight", "文书编号", align="right", before=lines(1)),
    ParaStyle("GBNumberCenter", "报告编号", align="center", before=lines(1)),
    ParaStyle("GBAddressee", "主送机关", align="left", before=lines(1)),
    ParaStyle("GBHeading1", "一级标题", font=HEITI, first_chars=2, keep_next=True, outline=0),
    ParaStyle("GBHeading2", "二级标题", font=KAITI, first_chars=2, keep_next=True, outline=1),
    ParaStyle("GBAttachment", "附件说明", first_chars=2, before=lines(1)),
    ParaStyle("GBSignature", "发文机关署名", align="left", before=lines(2)),
    ParaStyle("GBDate", "成文日期", align="left"),
    ParaStyle("GBAttendance", "出席列席名单", align="left", left=chars(5), hanging=chars(3)),
    ParaStyle("GBAttachLabel", "附件标识", font=HEITI, align="left"),
    ParaStyle("GBCaption", "表题", font=HEITI, size=SIZE_4, align="center", before=lines(0.5),
              keep_next=True, snap_to_grid=False),
    ParaStyle("GBTableText", "表格文字", size=SIZE_SMALL_4, align="center", line=280, line_rule="exact",
              snap_to_grid=False),
    ParaStyle("GBTableHead", "表头文字", font=HEITI, size=SIZE_SMALL_4, align="center", line=280,
              line_rule="exact", snap_to_grid=False),
    ParaStyle("GBNote", "版记", size=SIZE_4, align="left", left=chars(1, SIZE_4), right=chars(1, SIZE_4),
              snap_to_grid=False),
    ParaStyle("GBReceipt", "签收栏", align="left", before=lines(2)),
    ParaStyle("GBPageNumber", "页码", font=SONGTI, size=SIZE_4, line=240, line_rule="auto",
              snap_to_grid=False),
]}

# the signature block is centred on one axis: issuer above the date, the date about 4 characters from the right
SIGNATURE_AXIS = TEXT_WIDTH_TWIPS - chars(4) - chars(3.25)


def _apply_para_style(style, spec: ParaStyle) -> None:
    el = style.element
    pPr = el.get_or_add_pPr()
    set_spacing(pPr, line=spec.line, rule=spec.line_rule, before=spec.before, after=spec.after)
    set_indent(pPr, first_chars=spec.first_chars, left=spec.left, right=spec.right, hanging=spec.hanging)
    _set(_child(pPr, "w:jc"), val=spec.align)
    if spec.keep_next:
        _set(_child(pPr, "w:keepNext"), val="1")
    _set(_child(pPr, "w:snapToGrid"), val="1" if spec.snap_to_grid else "0")
    if spec.outline is not None:
        _set(_child(pPr, "w:outlineLvl"), val=spec.outline)
    _set(_child(pPr, "w:widowControl"), val="1" if spec.style_id == "Normal" else "0")
    rPr = el.get_or_add_rPr()
    set_fonts(rPr, spec.font, spec.size, color=spec.color or BLACK, bold=False)
    _set(_child(rPr, "w:spacing"), val=CONDENSE_TWIPS if spec.size == SIZE_3 else 0)


def _define_styles(doc: DocumentObject) -> None:
    styles_el = doc.styles.element
    # document defaults: 仿宋 3号, simplified Chinese, no spacing after paragraphs
    defaults = styles_el.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    set_fonts(rpr, FANGSONG, SIZE_3)
    lang = _child(rpr, "w:lang")
    _set(lang, val="en-US", eastAsia="zh-CN", bidi="ar-SA")
    ppr = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr"))
    set_spacing(ppr)
    for spec in STYLES.values():
        if spec.style_id == "Normal":
            style = doc.styles["Normal"]
        else:
            style = doc.styles.add_style(spec.name, WD_STYLE_TYPE.PARAGRAPH)
            style.element.set(qn("w:styleId"), spec.style_id)
            style.base_style = doc.styles["Normal"]
            style.quick_style = True
        _apply_para_style(style, spec)
    tab_axis = [("center", SIGNATURE_AXIS)]
    set_tabs(doc.styles["发文机关署名"].element.get_or_add_pPr(), tab_axis)
    set_tabs(doc.styles["成文日期"].element.get_or_add_pPr(), tab_axis)
    set_tabs(doc.styles["纪要编发机关和日期"].element.get_or_add_pPr(),
             [("left", chars(1)), ("right", TEXT_WIDTH_TWIPS - chars(1))])
    set_tabs(doc.styles["版记"].element.get_or_add_pPr(), [("right", TEXT_WIDTH_TWIPS - chars(1, SIZE_4))])
    # character style for the 黑体 labels (出席：) and 楷体 lead-ins (（一）……。)
    for name, style_id, font in (("黑体标签", "GBLabel", HEITI), ("楷体引领", "GBLead", KAITI)):
        cs = doc.styles.add_style(name, WD_STYLE_TYPE.CHARACTER)
        cs.element.set(qn("w:styleId"), style_id)
        set_fonts(cs.element.get_or_add_rPr(), font)


def _prune_styles(doc: DocumentObject) -> None:
    """Keep the default styles, ours and what they refer to: the default template's hundreds of
    unused table and list styles make styles.xml 365 KB, parsed and written on every render."""
    root = doc.styles.element
    styles = {st.get(qn("w:styleId")): st for st in root.findall(qn("w:style"))}
    keep = {sid for sid, st in styles.items() if st.get(qn("w:default")) in ("1", "true")}
    keep |= set(STYLES) | {"GBLabel", "GBLead", "TableGrid"}
    todo = list(keep)
    while todo:
        st = styles.get(todo.pop())
        if st is None:
            continue
        for tag in ("w:basedOn", "w:link", "w:next"):
            ref = st.find(qn(tag))
            if ref is not None and ref.get(qn("w:val")) not in keep:
                keep.add(ref.get(qn("w:val")))
                todo.append(ref.get(qn("w:val")))
    for sid, st in styles.items():
        if sid not in keep:
            root.remove(st)


def style_id(name_or_id: str) -> str:
    return name_or_id if name_or_id in STYLES else next(s.style_id for s in STYLES.values() if s.name == name_or_id)


# ------------------------------------------------------------------ document set-up

def _font_table(doc: DocumentObject) -> None:
    for part in doc.part.package.iter_parts():
        if part.content_type.endswith("wordprocessingml.fontTable+xml"):
            root = etree.fromstring(part.blob)
            known = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
            for name, (alt, family, pitch) in FONT_ALTERNATIVES.items():
                if name in known:
                    continue
                font = etree.SubElement(root, qn("w:font"))
                font.set(qn("w:name"), name)
                for tag, val in (("altName", alt), ("charset", "86"), ("family", family), ("pitch", pitch)):
                    etree.SubElement(font, qn(f"w:{tag}")).set(qn("w:val"), val)
            part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _drop_default_parts(doc: DocumentObject) -> None:
    """python-docx's default template carries an English thumbnail picture, a second copy of the
    styles (stylesWithEffects) and customXml: not ours, and they slow every render down."""
    rels = doc.part.package.rels
    for rid, rel in list(rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del rels[rid]
    rels = doc.part.rels
    for rid, rel in list(rels.items()):
        if rel.reltype.endswith("/stylesWithEffects") or rel.reltype == RT.CUSTOM_XML:
            del rels[rid]


def _page_number_paragraph(paragraph, outside: str) -> None:
    """"— 1 —" with a PAGE field, 4号宋体, one character in from the outside edge."""
    paragraph.style = "页码"
    pPr = paragraph._p.get_or_add_pPr()
    _set(_child(pPr, "w:jc"), val=outside)
    one = chars(1, SIZE_4)
    set_indent(pPr, left=one if outside == "left" else 0, right=one if outside == "right" else 0)

    def run(text: str | None = None, fld: str | None = None, instr: str | None = None):
        r = paragraph.add_run()
        set_fonts(r._r.get_or_add_rPr(), SONGTI, SIZE_4)
        if text is not None:
            r.text = text
        if fld:
            el = OxmlElement("w:fldChar")
            _set(el, fldCharType=fld)
            r._r.append(el)
        if instr:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = instr
            r._r.append(el)
        return r

    run("— ")
    run(fld="begin")
    run(instr=" PAGE ")
    run(fld="separate")
    run("1")
    run(fld="end")
    run(" —")


def new_document() -> DocumentObject:
    """An empty document with the GB/T 9704 page, grid, styles, fonts and page-number footers."""
    doc = Document()
    _drop_default_parts(doc)
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP_MM), Mm(MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(MARGIN_LEFT_MM), Mm(MARGIN_RIGHT_MM)
    section.header_distance, section.footer_distance = Mm(HEADER_DISTANCE_MM), Mm(FOOTER_DISTANCE_MM)
    section.gutter = 0
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    for attr in list(grid.attrib):
        del grid.attrib[attr]
    _set(grid, type="lines", linePitch=LINE_TWIPS)

    settings = doc.settings.element
    tfl = settings.find(qn("w:themeFontLang"))
    if tfl is not None:
        _set(tfl, val="en-US", eastAsia="zh-CN")
    doc.settings.odd_and_even_pages_header_footer = True

    _define_styles(doc)
    _prune_styles(doc)
    _font_table(doc)

    # page numbers: odd pages right, even pages left ("单页码居右空一字，双页码居左空一字")
    section.footer.is_linked_to_previous = False
    _page_number_paragraph(section.footer.paragraphs[0], "right")
    section.even_page_footer.is_linked_to_previous = False
    _page_number_paragraph(section.even_page_footer.paragraphs[0], "left")

    props = doc.core_properties
    props.author = "县交通运输局"
    props.last_modified_by = "县交通运输局"
    props.title = ""
    props.comments = ""
    body = doc.element.body
    for p in body.findall(qn("w:p")):   # the default template's empty first paragraph
        body.remove(p)
    return doc


# ------------------------------------------------------------------ paragraphs

Run = str | tuple[str, str]   # text, or (text, "label") for 黑体 / (text, "lead") for 楷体


def paragraph(container, style: str, *runs: Run, page_break_before: bool = False):
    """A paragraph of a house style; every run carries its font explicitly (Latin and East Asian)."""
    spec = STYLES[style_id(style)]
    p = container.add_paragraph(style=spec.name if spec.style_id != "Normal" else "Normal")
    if page_break_before:
        _set(_child(p._p.get_or_add_pPr(), "w:pageBreakBefore"), val="1")
    for item in runs:
        text, kind = (item, None) if isinstance(item, str) else item
        font, color = spec.font, spec.color
        if kind == "label":
            font = HEITI
        elif kind == "lead":
            font = KAITI
        parts = text.split("\t")
        for i, part in enumerate(parts):
            if i:
                tab = p.add_run()
                set_fonts(tab._r.get_or_add_rPr(), font, spec.size, color=color)
                tab.add_tab()
            if part:
                r = p.add_run(part)
                set_fonts(r._r.get_or_add_rPr(), font, spec.size, color=color)
                if kind in ("label", "lead"):
                    r.style = "黑体标签" if kind == "label" else "楷体引领"
    return p


def red_rule(p, space_pt: int = 7) -> None:
    """The red separator line the full text width, 4 mm below the characters of the paragraph's text (GB/T 9704
    7.2.4 for 发文字号): the border's 7 pt distance is counted from the foot of the exact 28.95 pt line, which
    ends about 1.5 mm under the characters (measured in the PDF preview: 4.0 mm)."""
    set_border(p._p.get_or_add_pPr(), "bottom", color=RED, size_eighths=12, space_pt=space_pt)


def page_break(doc: DocumentObject) -> None:
    p = doc.add_paragraph(style="Normal")
    p.add_run().add_break(WD_BREAK.PAGE)


# ------------------------------------------------------------------ tables

def _cell_props(cell, width_twips: int) -> None:
    tcPr = cell._tc.get_or_add_tcPr()
    tcw = _child(tcPr, "w:tcW")
    _set(tcw, w=width_twips, type="dxa")
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def _table_borders(tblPr, *, outer: int = 4, inner: int = 4, sides: bool = True) -> None:
    borders = _child(tblPr, "w:tblBorders")
    for el in list(borders):
        borders.remove(el)
    for side, size in (("top", outer), ("left", outer if sides else 0), ("bottom", outer),
                       ("right", outer if sides else 0), ("insideH", inner), ("insideV", inner if sides else 0)):
        edge = OxmlElement(f"w:{side}")
        if size:
            _set(edge, val="single", sz=size, space=0, color=BLACK)
        else:
            _set(edge, val="nil")
        borders.append(edge)


def _set_table_frame(table, widths_mm: list[float]) -> list[int]:
    tbl = table._tbl
    tblPr = tbl.tblPr
    total = TEXT_WIDTH_TWIPS
    twips = [round(w * TWIPS_PER_MM) for w in widths_mm]
    twips[-1] += total - sum(twips)
    _set(_child(tblPr, "w:tblW"), w=total, type="dxa")
    _set(_child(tblPr, "w:jc"), val="center")
    _set(_child(tblPr, "w:tblLayout"), type="fixed")
    mar = _child(tblPr, "w:tblCellMar")
    for el in list(mar):
        mar.remove(el)
    for side, val in (("top", 30), ("left", 60), ("bottom", 30), ("right", 60)):
        edge = OxmlElement(f"w:{side}")
        _set(edge, w=val, type="dxa")
        mar.append(edge)
    grid = tbl.tblGrid
    for col, w in zip(grid.findall(qn("w:gridCol")), twips, strict=False):
        _set(col, w=w)
    return twips


def _row_props(row, *, header: bool = False) -> None:
    trPr = row._tr.get_or_add_trPr()
    _set(_child(trPr, "w:cantSplit"), val="1")
    if header:
        _set(_child(trPr, "w:tblHeader"), val="1")
    h = _child(trPr, "w:trHeight")
    _set(h, val=454, hRule="atLeast")   # 8 mm


def _clear(cell) -> None:
    for p in cell.paragraphs:
        p._p.getparent().remove(p._p)


def _fill(cell, style: str, *runs: Run):
    _clear(cell)
    return paragraph(cell, style, *runs)


def data_table(doc: DocumentObject, headers: list[str], cells: list[str], widths_mm: list[float], *,
               loop: str | None = None, footer_rows: list[list[str]] = (), align: list[str] | None = None,
               font_size: float | None = None):
    """A bordered table: a header row repeated on each page, then either one row per item of
    `loop` ("r in rows": a docxtpl {%tr for %} row pair) or the single row `cells`, then `footer_rows`."""
    n = len(headers)
    extra = 2 if loop else 0
    table = doc.add_table(rows=1 + 1 + extra + len(footer_rows), cols=n)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    twips = _set_table_frame(table, widths_mm)
    _table_borders(table._tbl.tblPr)
    rows = list(table.rows)
    _row_props(rows[0], header=True)
    for i, text in enumerate(headers):
        _cell_props(rows[0].cells[i], twips[i])
        _fill(rows[0].cells[i], "GBTableHead", text)
    body_rows = rows[1:]
    if loop:
        start, data, end = body_rows[0], body_rows[1], body_rows[2]
        for row, tag in ((start, "{%tr for " + loop + " %}"), (end, "{%tr endfor %}")):
            for i in range(n):
                _cell_props(row.cells[i], twips[i])
                _fill(row.cells[i], "GBTableText", tag if i == 0 else "")
        body_rows = [data] + body_rows[3:]
    else:
        data = body_rows[0]
    for i, text in enumerate(cells):
        _cell_props(data.cells[i], twips[i])
        _fill(data.cells[i], "GBTableText", text)
        if align and align[i] != "center":
            _set(_child(data.cells[i].paragraphs[0]._p.get_or_add_pPr(), "w:jc"), val=align[i])
    _row_props(data)
    for row, texts in zip(body_rows[1:], footer_rows, strict=False):
        _row_props(row)
        for i, text in enumerate(texts):
            _cell_props(row.cells[i], twips[i])
            _fill(row.cells[i], "GBTableHead" if i == 0 else "GBTableText", text)
    if font_size:       # a wide table may use a smaller size (e.g. 五号 10.5 pt) than the default 小四
        for r in table._tbl.iter(qn("w:r")):
            rPr = r.find(qn("w:rPr"))
            for tag in ("w:sz", "w:szCs"):
                el = rPr.find(qn(tag)) if rPr is not None else None
                if el is not None:
                    el.set(qn("w:val"), str(round(font_size * 2)))
    return table


def version_note(doc: DocumentObject, cc_label: str = "抄送") -> None:
    """版记 after the body: 抄送 (only when doc.cc is given) and 印发机关 + 印发日期 between black rules
    (outer 0.35 mm, inner 0.25 mm), kept together on one page.

    GB/T 9704 puts the 版记 at the foot of the last page. A floating table (or frame) anchored to the
    bottom does that in Word but LibreOffice ignores the anchoring and splits it across pages, so
    the default keeps it inline; see configs/templates/README.md for making it float in Word."""
    spacer = paragraph(doc, "GBNote", "")
    set_spacing(spacer._p.get_or_add_pPr(), before=lines(1))
    _set(_child(spacer._p.get_or_add_pPr(), "w:keepNext"), val="1")
    table = doc.add_table(rows=4, cols=1)
    tblPr = table._tbl.tblPr
    _set_table_frame(table, [TEXT_WIDTH_MM])
    for el in _child(tblPr, "w:tblCellMar"):
        _set(el, w=0)
    _table_borders(tblPr, outer=8, inner=6, sides=False)
    rows = list(table.rows)
    for row in rows:
        _set(_child(row._tr.get_or_add_trPr(), "w:cantSplit"), val="1")
        _cell_props(row.cells[0], TEXT_WIDTH_TWIPS)
    _fill(rows[0].cells[0], "GBNote", "{%tr if doc.cc %}")
    p = _fill(rows[1].cells[0], "GBNote", f"{cc_label}：", "{{ doc.cc }}")
    # continuation lines align with the first character after the colon
    set_indent(p._p.get_or_add_pPr(), left=chars(4, SIZE_4), right=chars(1, SIZE_4), hanging=chars(3, SIZE_4))
    _set(_child(p._p.get_or_add_pPr(), "w:keepNext"), val="1")      # keep the rows together
    _fill(rows[2].cells[0], "GBNote", "{%tr endif %}")
    _fill(rows[3].cells[0], "GBNote",
          "{{ doc.printed_by or \"县交通运输局办公室\" }}\t{{ doc.printed_date or doc.date }}印发")
    anchor_paragraph(doc)


def anchor_paragraph(doc: DocumentObject) -> None:
    """A 1 pt empty paragraph: a Word body must end with a paragraph, not a table. Off the line grid (on it, it
    would take a whole 28.95 pt line and push itself onto an empty page under a 版记 set at the foot)."""
    p = doc.add_paragraph(style="Normal")
    pPr = p._p.get_or_add_pPr()
    _set(_child(pPr, "w:snapToGrid"), val="0")
    _set(_child(pPr, "w:widowControl"), val="0")
    set_spacing(pPr, line=20, rule="exact")
    set_indent(pPr)
    rPr = _child(pPr, "w:rPr")
    _set(_child(rPr, "w:sz"), val=2)
    _set(_child(rPr, "w:szCs"), val=2)


# ------------------------------------------------------------------ render-time adjustment

def text_ems(text: str) -> float:
    """Width of text in character widths: full-width characters 1, others ½."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in text)


def fit_banners(document: DocumentObject, style_ids: tuple[str, ...] = ("GBBanner",)) -> None:
    """Shrink the red issuer banner (发文机关标志 / 纪要标志) so that it stays on one line."""
    w = qn("w:val")
    test = " or ".join(f'@w:val="{sid}"' for sid in style_ids)
    for p in document.element.body.xpath(f"./w:p[w:pPr/w:pStyle[{test}]]"):
        text = "".join(p.xpath("./w:r/w:t/text()"))
        ems = text_ems(text.strip())
        if not ems:
            continue
        sizes = p.xpath("./w:r/w:rPr/w:sz | ./w:r/w:rPr/w:szCs")
        biggest = max((int(el.get(w)) / 2 for el in sizes), default=BANNER_SIZE)
        fit = min(biggest, (TEXT_WIDTH_PT - 4) / ems)
        for el in sizes:
            el.set(w, str(int(fit * 2)))
