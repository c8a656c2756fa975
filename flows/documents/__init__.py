"""Word documents from admins' templates, in the official GB/T 9704-2012 layout.

    rendering        docxtpl in a Jinja2 sandbox; the names a template uses (for `validate`)
    filters          Chinese wording: 发文字号, dates, numbers, names, clauses
    settings         what admins configure per kind of document (configs/documents.yaml)
    gbt9704          the layout helpers (page, fonts, 版头, 版记, page numbers, tables)
    templates_build  the shipped templates, built with those helpers
    statistics       accident figures by month, quarter and year, and their Excel workbook
    preview          a generated document as PDF and PNG pages (`python -m flows.documents preview`)
"""
