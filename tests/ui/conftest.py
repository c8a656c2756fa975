"""The browser tests' page: a headless Debian Chromium tab, 1400 × 900 (tests/ui/browser_helpers.py).
When a test fails, the page as it then stood is saved to build/screenshots/failures/<test>.png."""
from __future__ import annotations

import pytest

from tests.orchestration.orch_helpers import SHOTS, chromium_page

FAILURES = SHOTS / "failures"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


@pytest.fixture
def page(request):
    with chromium_page() as browser_page:
        browser_page.set_viewport_size({"width": 1400, "height": 900})
        yield browser_page
        if getattr(request.node, "failed_call", False):
            FAILURES.mkdir(parents=True, exist_ok=True)
            try:
                browser_page.screenshot(path=str(FAILURES / f"{request.node.name}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - a page that cannot be drawn any more leaves no picture
                pass
