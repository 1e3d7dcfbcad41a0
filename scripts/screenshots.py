"""Serve the console on a free loopback port and photograph each main page (see
scripts/screenshots)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

PASSWORD = os.environ.get("ARREARS_NEW_PASSWORD", "demo-password")
OUT = Path("var/screenshots")
PAGES = {
    "collector": ["/queue", "{account}"],
    "supervisor": ["/supervise", "/approvals", "/dashboard"],
    "strategy": ["/strategy"],
    "compliance": ["/compliance/complaints", "/compliance/audit?verify=1", "/compliance/gate"],
    "agency": ["/agency"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen([".venv/bin/arrears", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for user, paths in PAGES.items():
                for size, viewport in (("desktop", (1280, 900)), ("phone", (390, 844))):
                    page = browser.new_page(viewport={"width": viewport[0],
                                                      "height": viewport[1]})  # fmt: skip
                    page.goto(f"{base}/login")
                    page.fill("#username", user)
                    page.fill("#password", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_load_state()
                    for path in paths:
                        if path == "{account}":
                            first = page.locator("#queue tbody a").first
                            path = first.get_attribute("href") if first.count() else "/queue"
                        page.goto(base + str(path))
                        name = f"{user}-{str(path).strip('/').split('?')[0].replace('/', '-')}"
                        shot = OUT / f"{name}-{size}.png"
                        page.screenshot(path=str(shot), full_page=True)
                        sys.stdout.write(f"{shot}\n")
                    page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
