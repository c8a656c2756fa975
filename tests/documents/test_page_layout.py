"""GB/T 9704 page make-up, checked on the pages a secretary sees: every kind rendered, converted to PDF by
LibreOffice (one start for all), and read back with `pdftotext -bbox-layout` (flows.documents.page_check).

Each kind is also rendered with its longest free text grown by half a line at a time, so that the text ends at
every height of its last page: the 版记 must stay at the foot of the last page whatever the length."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import docx
import pytest
from docx.oxml.ns import qn
from PIL import Image

from flows.documents import gbt9704 as g
from flows.documents import page_check, pagination
from flows.documents.preview import office_command, to_pdfs
from flows.documents.rendering import render_to
from tests.documents.conftest import ROOT, W
from tests.documents.doc_samples import contexts

KINDS = sorted(contexts())
# pages of each kind's sample (tests/documents/doc_samples.py) as the office's documents run
EXPECTED_PAGES = {
    "accident_report": 3, "accident_statistics": 4, "accident_warning": 3, "annual_drill_plan": 3,
    "blacklist_decision": 3, "blacklist_prior_notice": 2, "blacklist_publicity": 2,
    "drill_evaluation_minutes": 2, "drill_notice": 3, "expert_review_minutes": 3, "plan_publish_notice": 3,
}
GROWTH = "各单位要认真落实有关要求，确保各项工作落到实处。"     # 24 characters: added 12 at a time
# the case text each kind prints at length (the annual plan grows by table rows instead)
GROWS = {"plan_publish_notice": "draft_summary", "expert_review_minutes": "review_conclusion",
         "drill_notice": "scheme_summary", "drill_evaluation_minutes": "evaluation", "blacklist_prior_notice": "facts",
         "blacklist_decision": "facts", "blacklist_publicity": "facts", "accident_report": "description",
         "accident_warning": "description"}
STEPS = range(0, 8)


def grown(kind: str, ctx: dict, step: int) -> dict | None:
    """`ctx` with its text longer by `step` half lines, or its plan by `step` rows (None: it cannot grow)."""
    out = copy.deepcopy(ctx)
    if kind == "annual_drill_plan":
        out["rows"] += [dict(row, seq=len(out["rows"]) + i + 1) for i, row in enumerate(out["rows"][:1] * step)]
        return out
    if kind not in GROWS:
        return None
    out["case"]["data"][GROWS[kind]] += (GROWTH * step)[: 12 * step]
    return out


@pytest.fixture(scope="module")
def pdf_pages(tmp_path_factory, templates_dir):
    if office_command() is None:
        pytest.fail("未安装 LibreOffice：版式测试需要 Debian 软件包 libreoffice-writer-nogui poppler-utils（make test 会安装）",
                    pytrace=False)
    out = tmp_path_factory.mktemp("layout")
    docs, keys = [], []
    for name, ctx in contexts().items():
        for step in STEPS:
            variant = grown(name, ctx, step) if step else ctx
            if variant is None:
                continue
            docs.append(render_to(templates_dir / f"{name}.docx", variant, out / f"{name}-{step}.docx"))
            keys.append((name, step))
    pdfs = to_pdfs(docs, out)
    return {key: (page_check.read_pdf(pdf), pdf) for key, pdf in zip(keys, pdfs, strict=True)}


@pytest.mark.parametrize("kind", KINDS)
def test_sample_pages(pdf_pages, kind):
    pages, _ = pdf_pages[(kind, 0)]
    assert page_check.layout_problems(pages) == []
    assert len(pages) == EXPECTED_PAGES[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_version_note_stays_at_the_foot_whatever_the_length(pdf_pages, kind):
    variants = sorted(step for name, step in pdf_pages if name == kind)
    for step in variants:
        pages, _ = pdf_pages[(kind, step)]
        assert page_check.layout_problems(pages) == [], f"{kind} +{step}"
        printed = [ln for ln in pages[-1].content if ln.text.endswith("印发")]
        if printed:       # the note's last line on the text block's last line (within 5 mm)
            assert page_check.TEXT_BOTTOM_PT - printed[-1].bottom < 5 * page_check.PT_PER_MM, f"{kind} +{step}"


def test_the_variants_reach_every_height_of_a_page(pdf_pages):
    """The grown texts are not a formality: each step moves the end of the text (the signature block with it)
    down the page and over onto the next."""
    for kind in [*GROWS, "annual_drill_plan"]:
        ends = set()
        for step in STEPS:
            pages, _ = pdf_pages[(kind, step)]
            lines = [(p.number, ln) for p in pages for ln in p.content if not page_check._CC.match(ln.text)]
            note = [i for i, (_, ln) in enumerate(lines) if ln.text.endswith("印发")]
            page, last = lines[(note[-1] - 2) if note else -1]
            ends.add((len(lines), page, round(last.bottom)))
        assert len(ends) >= 4, (kind, ends)


def _red_rule(png_path):
    """(top of the red rule, its width, lowest black ink above it), in mm, from a 254 dpi page image."""
    im = Image.open(png_path).convert("RGB")
    w, h = im.size
    px = im.load()

    def red(p):
        return p[0] > 180 and p[1] < 90 and p[2] < 90
    rows = [y for y in range(h) if sum(1 for x in range(0, w, 2) if red(px[x, y])) * 2 > 1300]
    assert rows, "no red rule on page 1"
    xs = [x for x in range(w) if red(px[x, rows[0]])]
    ink = [y for y in range(rows[0] - 150, rows[0]) if any(sum(px[x, y]) < 300 for x in range(0, w, 2))]
    return rows[0] / 10, (xs[-1] - xs[0]) / 10, ink[-1] / 10


@pytest.mark.parametrize("kind, gap", [("plan_publish_notice", (3.3, 4.7)), ("expert_review_minutes", (2.5, 5.0))])
def test_red_rule_width_and_distance(pdf_pages, tmp_path, kind, gap):
    _, pdf = pdf_pages[(kind, 0)]
    subprocess.run(["pdftoppm", "-r", "254", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "p")], check=True)
    top, width, ink = _red_rule(next(tmp_path.glob("p*.png")))
    assert abs(width - g.TEXT_WIDTH_MM) < 1.0, width             # 156 mm: the text width, minutes included
    assert gap[0] <= top - ink <= gap[1], top - ink               # 发文字号 → rule: 4 mm


# ------------------------------------------------------------------ the documents' own settings (python-docx)


def _style(document, style_id):
    return next(s for s in document.styles.element.findall(qn("w:style")) if s.get(qn("w:styleId")) == style_id)


@pytest.mark.parametrize("kind", ["plan_publish_notice", "expert_review_minutes"])
def test_banner_has_its_own_line_height(templates_dir, kind):
    document = docx.Document(templates_dir / f"{kind}.docx")
    spacing = _style(document, "GBBanner").find(f"{W}pPr/{W}spacing")
    assert spacing.get(qn("w:lineRule")) != "exact"       # not the body's exact 28.95 pt: it would clip 44 pt text
    assert int(spacing.get(qn("w:line"))) >= 240


def test_minutes_rule_paragraph_spans_the_text_width(templates_dir):
    document = docx.Document(templates_dir / "expert_review_minutes.docx")
    ind = _style(document, "GBMinutesMeta").find(f"{W}pPr/{W}ind")
    assert ind is None or all(int(ind.get(qn(a)) or 0) == 0 for a in ("w:left", "w:right"))
    p = document.element.body.xpath('./w:p[w:pPr/w:pStyle[@w:val="GBMinutesMeta"]]')[0]
    assert p.find(f"{W}pPr/{W}pBdr/{W}bottom").get(qn("w:color")) == g.RED


def test_tables_keep_rows_whole_and_repeat_the_header(templates_dir, samples, tmp_path):
    path = render_to(templates_dir / "accident_statistics.docx", samples["accident_statistics"], tmp_path / "s.docx")
    body = docx.Document(path).element.body
    for tbl in body.findall(W + "tbl"):
        rows = tbl.findall(W + "tr")
        assert all(tr.find(f"{W}trPr/{W}cantSplit") is not None for tr in rows)
        if not pagination._is_note_table(tbl):
            assert rows[0].find(f"{W}trPr/{W}tblHeader") is not None
            # the header row is kept with the first row; a table of up to three rows is kept whole
            kept = rows[:-1] if len(rows) <= pagination.SMALL_TABLE_ROWS else rows[:1]
            for tr in kept:
                assert all(p.find(f"{W}pPr/{W}keepNext") is not None for p in tr.iter(W + "p"))


# ------------------------------------------------------------------ titles

TITLES = [
    "关于印发《县交通运输局道路运输突发事件应急预案》的通知", "关于开展2024年道路客运车辆火灾事故应急演练的通知",
    "关于将县顺达客运有限公司列入安全生产失信黑名单的决定", "2024年第一季度交通运输安全生产事故统计分析报告",
    "关于G204国道县城段“1·12”较大道路运输事故的警示通报", "X354线大豫段K12+300道路运输事故调查报告",
    "228国道与S221交叉口道路运输事故调查报告", "《港口危险货物泄漏现场处置方案》专家评审会议纪要",
    "2024年道路客运车辆火灾事故应急演练评估会议纪要", "关于印发2024年度应急演练计划的通知",
    "县交通运输局安全生产失信行为事先告知书", "关于开展客运站场疏散双盲拉练的通知",
    "《县交通运输局城市公交突发事件专项应急预案》专家评审会议纪要",
]


@pytest.mark.parametrize("title", TITLES)
def test_title_breaks_balanced_at_word_edges(title):
    per_line = g.TEXT_WIDTH_PT / g.SIZE_2 - 0.05
    lines = pagination.title_breaks(title, per_line)
    assert "".join(lines) == title
    assert all(pagination._ems(line) <= per_line for line in lines)
    if len(lines) > 1:
        assert min(len(line) for line in lines) > 2, lines
        for word in ("通知", "决定", "报告", "通报", "纪要", "交通运输", "应急预案", "失信黑名单", "有限公司"):
            for a, b in zip(lines, lines[1:], strict=False):
                assert not any(a.endswith(word[:k]) and b.startswith(word[k:]) for k in range(1, len(word))), lines
        widths = [pagination._ems(line) for line in lines]
        assert max(widths) - min(widths) <= 10, lines


def test_demo_documents_need_no_hand_edits(tmp_path):
    """What a newcomer sees first: every document `python -m flows demo` issues passes the same checks."""
    run = subprocess.run([sys.executable, "-m", "flows", "demo", "--data-dir", str(tmp_path / "data")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    json.loads(run.stdout)
    docs = sorted((tmp_path / "data" / "files" / "documents").rglob("*.docx"))
    assert len(docs) >= 20
    copies = []
    for i, src in enumerate(docs):          # flat, unique names for one LibreOffice batch
        dst = tmp_path / "pdf" / f"{i:02d}-{src.stem}.docx"
        dst.parent.mkdir(exist_ok=True)
        dst.write_bytes(src.read_bytes())
        copies.append(dst)
    problems = {pdf.stem: found for pdf in to_pdfs(copies, tmp_path / "pdf")
                if (found := page_check.layout_problems(page_check.read_pdf(pdf)))}
    assert problems == {}
