"""Reusable pieces the pages render: downloads, a case's detail, job buttons' outcomes."""
