"""A real headless Chromium for the console's tests: Debian's package, driven by
Playwright (never Playwright's own browser downloads), and axe-core in the same page.

``make test`` on a fresh machine installs the package itself (apt-get, as root or with
sudo); only where that is impossible are the browser tests skipped, with the reason."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# What axe reports that the console must never have.
BLOCKING_IMPACTS = {"serious", "critical"}


def ensure_chromium() -> str | None:
    """Install Debian's chromium when it is missing; the reason when that cannot be done.

    One install at a time on the machine: make test's workers may reach their browser
    tests together, and apt-get refuses a second run while the first holds its lock."""
    if CHROMIUM.exists():
        return None
    with open(Path(tempfile.gettempdir()) / "invoicesync-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install_chromium()


def _install_chromium() -> str | None:
    if CHROMIUM.exists():  # another worker installed it while this one waited
        return None
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine to install Debian's chromium"
    sudo: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "not root and no sudo: cannot apt-get install chromium"
        sudo = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run([*sudo, *command], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}"
    return (
        None if CHROMIUM.exists() else "apt-get installed chromium but /usr/bin/chromium is missing"
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    """One headless browser (the sandbox flag off: tests run as root in CI)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


_AXE = Axe()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = _AXE.run(page)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n.get("target")) for n in v.get("nodes", [])[:5])
        for v in violations
    )
