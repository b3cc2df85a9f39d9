"""Fixtures of the API tests: a real browser for the page's."""

from __future__ import annotations

import os

import pytest

from tests.api.browser import ARGS, CHROMIUM


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = "chromium is missing: run `bash scripts/system-deps.sh` (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()
