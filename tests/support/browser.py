"""Open a report in Debian's headless Chromium through Playwright (no browser download).

The HTML report is rendered in the browser by pytest-html's JavaScript, so reading
the file's bytes proves little: these helpers read what a person would see.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """$SMOKEGATE_CHROMIUM, else Debian's chromium on PATH."""
    configured = os.environ.get("SMOKEGATE_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def file_url(path: Path) -> str:
    """The file: URL a browser itself makes of a path. `Path.as_uri()` also escapes `'`, `(`,
    `=`, which pytest-html's script then unescapes into a URL that no longer matches the
    page's own (history.pushState refuses it and the table is never drawn)."""
    return "file://" + quote(str(path.resolve()), safe="/:=()'!*,;@&+$~")


@contextmanager
def chromium_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium found: apt-get install chromium, or set SMOKEGATE_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()
