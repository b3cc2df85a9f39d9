"""A real browser for the page's tests: Debian's Chromium driven by Playwright (never ``playwright install``).

The ``browser`` fixture (``tests/api/conftest.py``) launches it; without ``/usr/bin/chromium`` the tests that use
it skip locally and fail in CI (``CI=true``): ``scripts/system-deps.sh`` installs it. Screenshots go to
``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT = 20_000  # ms; answers take well under a second, but CI machines are shared


def shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)


def answers(pg):
    return pg.locator(".answer")


def wait_answered(pg, n: int) -> None:
    """Wait until the n-th answer (1-based) has finished, whatever its state."""
    pg.wait_for_function(
        "n => { const a = document.querySelectorAll('.answer'); return a.length >= n && "
        "a[n - 1].getAttribute('aria-busy') === 'false'; }",
        arg=n,
    )
