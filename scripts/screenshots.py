"""Serve the console and the portal on a free loopback port and photograph each main page (see
scripts/screenshots): the console as each demo user sees it at desktop and phone size, the
borrower portal at phone size (signed in with the code the SMS carried, from the outbox)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

PASSWORD = os.environ.get("ARREARS_NEW_PASSWORD", "demo-password")
OUT = Path("var/screenshots")
PAGES = {
    "collector": ["/queue", "{account}"],
    "supervisor": ["/supervise", "/approvals", "/dashboard", "/qa"],
    "strategy": ["/strategy"],
    "compliance": [
        "/compliance/complaints",
        "/compliance/audit?verify=1",
        "/compliance/gate",
        "/compliance/conduct",
        "/qa",
    ],
    "agency": ["/agency"],
    "field": ["/field"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _borrower() -> tuple[str, str]:
    """A demo loan with something due whose borrower has a mobile, and a real code to check."""
    from sqlalchemy import text

    from arrears.bootstrap import bootstrap
    from arrears.service.books.statements import statement_for_loan

    app = bootstrap()
    with app.engine.connect() as conn:
        loans = [r[0] for r in conn.execute(text(
            "SELECT DISTINCT pa.loan_id FROM plan_action pa JOIN contact_point c "
            "ON c.borrower_id = pa.borrower_id AND c.kind = 'phone' AND c.owner_role = 'borrower' "
            "WHERE pa.stage = 'early' ORDER BY pa.loan_id LIMIT 50"))]  # fmt: skip
        body = conn.execute(text(
            "SELECT body FROM outbox_message WHERE channel = 'sms' AND status = 'sent' "
            "ORDER BY action_id LIMIT 1")).scalar()  # fmt: skip
    body = app.cipher.open_text("outbox_message.body", body)  # the words are sealed at rest
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", body or "")
    today = app.today()
    loan = next(x for x in loans if statement_for_loan(app, x, today)["total_due"] > 0)
    return str(loan), code.group() if code else "K7Q2-M9XD"


def _sms_code(outbox: Path, since: float) -> str:
    for _ in range(50):
        fresh = [f for f in outbox.glob("sms/*/pc-*.json") if f.stat().st_mtime >= since]
        if fresh:
            body = json.loads(max(fresh, key=lambda f: f.stat().st_mtime).read_text())["body"]
            found = re.search(r"\b(\d{6})\b", body)
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise SystemExit("screenshots: the portal's SMS code did not reach the outbox")


def _shoot(page: Page, name: str) -> None:
    shot = OUT / f"portal-{name}-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    sys.stdout.write(f"{shot}\n")


def portal(browser: Browser, base: str) -> None:
    """Every portal page at phone size, in zh-CN (and the statement in en too)."""
    loan, code = _borrower()
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True,
                            has_touch=True, locale="zh-CN")  # fmt: skip
    page.goto(f"{base}/verify")
    page.fill("#code", code)
    page.click("#check button")
    _shoot(page, "verify")
    page.goto(f"{base}/portal")
    _shoot(page, "signin")
    since = time.time() - 1
    page.fill("#ref", loan)
    page.click("#ask button")
    page.fill("#code", _sms_code(Path(os.environ.get("ARREARS_OUTBOX_DIR", "var/outbox")), since))
    page.click("#signin button")
    page.wait_for_url(f"{base}/portal/home")
    _shoot(page, "home")
    for name, path in (("loan", f"/portal/loan/{loan}"), ("pay", f"/portal/loan/{loan}/pay"),
                       ("arrange", f"/portal/loan/{loan}/arrange"), ("prefs", "/portal/prefs"),
                       ("complaints", "/portal/complaints")):  # fmt: skip
        page.goto(base + path)
        _shoot(page, name)
    page.goto(f"{base}/portal/loan/{loan}/arrange")
    if page.locator("#plan button").count():
        page.click("#plan button")
        _shoot(page, "arrange-effect")
    page.goto(f"{base}/portal/loan/{loan}?lang=en")
    _shoot(page, "loan-en")
    page.goto(f"{base}/portal/loan/{loan}/pay?lang=zh-CN")
    page.click("#pay button")
    page.wait_for_load_state()
    _shoot(page, "sandbox")  # the sandbox bank; nothing is paid
    page.close()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "ARREARS_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "ARREARS_OUTBOX_FILES": "1"}  # the sign-in code is read from the outbox  # fmt: skip
    server = subprocess.Popen([".venv/bin/arrears", "serve", "--port", str(port)], env=env,
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
            portal(browser, base)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
