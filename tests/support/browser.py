"""The browser the end-to-end stories drive: Debian's Chromium through Playwright, headless, and
the staff console's sign-in as the stories use it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, sync_playwright

PASSWORD = "correct-horse-9"  # every story's staff user
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def signed_in(browser: Browser, url: str, user: str, locale: str = "en-US") -> Page:
    """A desktop page of the console signed in as ``user``, its browser speaking ``locale``
    (the console's language when no cookie chose one)."""
    page = browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page
