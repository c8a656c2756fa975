"""Previews of generated documents: .docx → PDF (LibreOffice) → PNG pages (pdftoppm).

    python -m flows.documents preview FILE.docx [--out DIR]
    python -m flows.documents render TEMPLATE.docx --data DATA.json [--out FILE.docx]
    python -m flows.documents vars TEMPLATE.docx

A Linux machine has none of the office's Windows fonts, so the preview substitutes packaged faces.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from flows.documents import gbt9704
from flows.documents.page_check import layout_problems, read_pdf
from flows.documents.rendering import TemplateError, render_to, template_variables


class PreviewError(RuntimeError):
    """A PDF/PNG preview could not be made (converter missing or failed)."""


PREVIEW_PACKAGES = "libreoffice-writer-nogui poppler-utils fonts-noto-cjk fonts-arphic-ukai"

# how a Linux preview substitutes the office's Windows fonts: Fandol's 仿宋 and 楷体 (`make preview-fonts` takes them
# out of Debian's texlive-lang-chinese), then fonts-noto-cjk and fonts-arphic-ukai
FONT_SUBSTITUTES = {
    gbt9704.FANGSONG: ("FandolFang", "Noto Serif CJK SC"), "仿宋": ("FandolFang", "Noto Serif CJK SC"),
    gbt9704.KAITI: ("AR PL UKai CN", "FandolKai"), "楷体": ("AR PL UKai CN", "FandolKai"),
    gbt9704.HEITI: ("Noto Sans CJK SC",), gbt9704.SONGTI: ("Noto Serif CJK SC",),
    gbt9704.XIAOBIAOSONG: ("Noto Serif CJK SC",),
}
BOLD_SUBSTITUTES = {gbt9704.XIAOBIAOSONG}   # 小标宋 is a heavy Song: the bold Noto Serif is closest


def _fontconfig_file() -> Path:
    rules = []
    for family, subs in FONT_SUBSTITUTES.items():
        prepend = "".join(f"<string>{s}</string>" for s in subs)
        weight = '<edit name="weight" mode="assign" binding="strong"><const>bold</const></edit>' \
            if family in BOLD_SUBSTITUTES else ""
        rules.append(f'<match target="pattern"><test name="family"><string>{family}</string></test>'
                     f'<edit name="family" mode="prepend" binding="strong">{prepend}</edit>{weight}</match>')
    text = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n' + "\n".join(rules) + "\n</fontconfig>\n")
    path = Path(tempfile.gettempdir()) / f"flows-documents-fonts-{os.getuid()}.conf"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def font_substitutes() -> dict[str, str]:
    """Which installed face the preview sets for each of the office's fonts (fontconfig's choice, `fc-match`)."""
    if shutil.which("fc-match") is None:
        return {}
    env = dict(os.environ, FONTCONFIG_FILE=str(_fontconfig_file()))
    used = {}
    for family in (gbt9704.FANGSONG, gbt9704.KAITI, gbt9704.HEITI, gbt9704.XIAOBIAOSONG, gbt9704.SONGTI):
        proc = subprocess.run(["fc-match", "-f", "%{family[0]}", family], capture_output=True, text=True,
                              env=env, timeout=30, check=False)
        used[family] = proc.stdout.strip() or "（未找到）"
    return used


def substitutes_note() -> str:
    """One line for the preview's reader: 字体替代：仿宋_GB2312→FandolFang，…; a missing Fandol face is said."""
    used = font_substitutes()
    note = "预览字体替代：" + "，".join(f"{k}→{v}" for k, v in used.items())
    if used and used.get(gbt9704.FANGSONG) != "FandolFang":
        note += "（未安装 FandolFang 仿宋字体，预览中的仿宋为替代字体；运行 make preview-fonts 安装）"
    return note


def office_command() -> str | None:
    return shutil.which("libreoffice") or shutil.which("soffice")


def to_pdf(docx_path: Path, out_dir: Path, timeout: float = 180) -> Path:
    """Convert with `libreoffice --headless --convert-to pdf`; Windows fonts are substituted for the preview."""
    return to_pdfs([docx_path], out_dir, timeout)[0]


def to_pdfs(docx_paths: list[Path], out_dir: Path, timeout: float = 300) -> list[Path]:
    """Convert several documents in one LibreOffice start (its start-up is most of a single conversion)."""
    exe = office_command()
    if exe is None:
        raise PreviewError("未找到 LibreOffice（libreoffice 或 soffice 命令），无法生成 PDF 预览。"
                           f"请安装 Debian 软件包：{PREVIEW_PACKAGES}")
    sources = [Path(p).resolve() for p in docx_paths]
    for src in sources:
        if not src.is_file():
            raise PreviewError(f"文件不存在：{src}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pdfs = [out_dir / f"{src.stem}.pdf" for src in sources]
    for pdf in pdfs:
        pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="flows-lo-") as profile:
        env = dict(os.environ, FONTCONFIG_FILE=str(_fontconfig_file()), HOME=profile)
        cmd = [exe, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
               "--nolockcheck", "--nodefault", "--convert-to", "pdf", "--outdir", str(out_dir), *map(str, sources)]
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise PreviewError(f"LibreOffice 转换超时（{timeout:.0f} 秒）：{'、'.join(s.name for s in sources)}") from None
    missing = [pdf.name for pdf in pdfs if not pdf.exists()]
    if proc.returncode != 0 or missing:
        raise PreviewError(f"LibreOffice 转换失败（退出码 {proc.returncode}，未生成 {'、'.join(missing) or '无'}）："
                           f"{(proc.stderr or proc.stdout).strip()}")
    return pdfs


def to_png(docx_path: Path, out_dir: Path, dpi: int = 110) -> list[Path]:
    """One PNG per page (via the PDF and `pdftoppm`)."""
    pdf = to_pdf(docx_path, out_dir)
    if shutil.which("pdftoppm") is None:
        raise PreviewError(f"未找到 pdftoppm，无法生成图片预览（PDF 已生成：{pdf}）。"
                           f"请安装 Debian 软件包：{PREVIEW_PACKAGES}")
    prefix = Path(out_dir) / pdf.stem
    for old in Path(out_dir).glob(f"{pdf.stem}-*.png"):
        old.unlink()
    proc = subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(prefix)],
                          check=False, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise PreviewError(f"pdftoppm 转换失败：{proc.stderr.strip()}")
    pages = list(Path(out_dir).glob(f"{pdf.stem}-*.png"))
    return sorted(pages, key=lambda p: int(p.stem.rsplit("-", 1)[1]))

# ------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.documents", description="公文模板渲染与预览")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="把 .docx 转成 PDF 和逐页 PNG，打印其路径")
    p.add_argument("file", type=Path)
    p.add_argument("--out", type=Path, default=None, help="输出目录（默认与文件同目录下的 preview/）")
    p.add_argument("--dpi", type=int, default=110)
    r = sub.add_parser("render", help="用 JSON 数据渲染模板")
    r.add_argument("template", type=Path)
    r.add_argument("--data", type=Path, required=True, help="JSON 文件：{case, doc, rows, extra}")
    r.add_argument("--out", type=Path, default=None)
    v = sub.add_parser("vars", help="列出模板引用的字段")
    v.add_argument("template", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "preview":
            out = args.out or args.file.parent / "preview"
            pngs = to_png(args.file, out, dpi=args.dpi)
            print(out / f"{args.file.stem}.pdf")
            for png in pngs:
                print(png)
            print(substitutes_note(), file=sys.stderr)
            problems = layout_problems(read_pdf(out / f"{args.file.stem}.pdf"))
            print("版式检查：" + ("未发现问题" if not problems else "；".join(problems)), file=sys.stderr)
        elif args.command == "render":
            context = json.loads(args.data.read_text(encoding="utf-8"))
            out = args.out or Path.cwd() / f"{args.template.stem}-渲染结果.docx"
            print(render_to(args.template, context, out))
        else:
            for name in sorted(template_variables(args.template)):
                print(name)
    except (TemplateError, PreviewError, OSError, json.JSONDecodeError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    return 0

