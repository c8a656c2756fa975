"""User text shown as text: titles, comments and messages never go through Markdown or HTML.

Streamlit renders Markdown (and its `:red[...]` directives) in st.markdown, st.write, st.subheader and
in widget labels; what a user typed is escaped first, so `**粗**` keeps its asterisks and an image link
or a colour directive is shown as typed.
"""
from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>:~$=])")


def plain(text: object) -> str:
    """Escape Markdown so that `text` shows exactly as typed."""
    return _SPECIAL.sub(r"\\\1", "" if text is None else str(text)).replace("\n", "  \n")


_INLINE = re.compile(r"([\\`*_~{}\[\]()#!<>:$|])")


def plain_label(text: object) -> str:
    """For a widget's label, which takes inline Markdown only (bold, italics, code, links, images,
    colour directives): escape what could start one, so that a file name shows as typed."""
    return _INLINE.sub(r"\\\1", "" if text is None else str(text)).replace("\n", " ")
