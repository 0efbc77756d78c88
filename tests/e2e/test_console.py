"""The operator console in headless Chromium (Debian's package) against the running center; screenshots of
every page go to `.run/screenshots/`."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError

from tests.e2e.conftest import DEV_PASSWORD, case_where, filed
from tests.helpers import complaint

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / ".run" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"  # Deque axe-core (MPL-2.0), pinned


async def accessible(page, name: str) -> None:
    """axe-core's WCAG 2 A/AA rules on the page as it is: no serious or critical violation."""
    await page.add_script_tag(path=str(AXE))
    for attempt in range(3):  # a pushed update may re-render the page under axe: then look again
        try:
            result = await page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})")
            break
        except PlaywrightError:
            if attempt == 2:
                raise
            await page.wait_for_timeout(500)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is needed for the console tests ({CHROMIUM}); .ci/run installs it")
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        await b.close()


async def sign_in(browser, center, username: str):
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")).new_page()
    await page.goto(center.url("operator_api") + "/")
    await page.fill("#u", username)
    await page.fill("#p", DEV_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#count >> text=共")
    return page


async def test_an_operator_takes_a_complaint_from_intake_to_closed_in_the_console(browser, center, web, ops):
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await page.goto(center.url("operator_api") + "/")
    await page.fill("#u", "admin")
    await page.fill("#p", "wrong-password")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#err:not([hidden])")
    assert "wrong" in await page.inner_text("#err")
    await page.screenshot(path=str(SHOTS / "01-sign-in-refused.png"))
    await accessible(page, "sign-in")
    await page.close()

    page = await sign_in(browser, center, "admin")
    await page.screenshot(path=str(SHOTS / "02-queue.png"))
    await accessible(page, "queue")
    before = await page.inner_text("#count")

    # the queue updates live, pushed by the server (the page's own poll is once a minute): a web complaint
    # appears without reloading
    await page.wait_for_selector("#live >> text=实时")
    marker = uuid.uuid4().hex[:6]
    r = await web.post("/api/v1/complaints", json=complaint(text=f"楼道灯坏了{marker}，一周没人修"))
    tracking = r.json()["tracking_no"]
    await page.wait_for_selector(f"text={tracking}", timeout=30_000)
    assert await page.inner_text("#count") != before

    # dashboard before
    await page.click("text=看板 Dashboard")
    await page.wait_for_selector("#k-received")
    received_before = int(await page.inner_text("#k-received"))
    await page.screenshot(path=str(SHOTS / "03-dashboard.png"))
    await accessible(page, "dashboard")

    # intake while on the phone
    await page.click("text=受理 Intake")
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    await page.fill("#i-phone", phone)
    await page.fill("#i-name", "郑女士")
    await page.fill("#i-unit", "6栋2单元803")
    await page.dispatch_event("#i-unit", "change")
    await page.fill("#i-text", f"6栋电梯按钮失灵，老人上下楼很困难{marker}")
    await page.fill("#i-demand", "尽快修好")
    await page.wait_for_selector("#household >> text=新住户")
    await page.screenshot(path=str(SHOTS / "04-intake.png"))
    await accessible(page, "intake")
    await page.click("#intake button[type=submit]")
    await page.wait_for_url("**/console/#/case/*")
    cid = page.url.rsplit("/", 1)[1]
    await case_where(ops, cid, filed, timeout=30)

    # case page: take it, resolve it, call back → closed
    await page.reload()
    await page.wait_for_selector("text=派单 Assigned")
    await page.screenshot(path=str(SHOTS / "05-case.png"))
    await accessible(page, "case")

    # correct the triage from the case page: 电梯 → treat it as a major equipment fault
    await page.click("#fix-box summary")
    await page.select_option("#fx-sub", "lift")
    await page.select_option("#fx-sev", "major")
    await page.fill("#fx-note", "老人被困风险，按重大处理")
    await page.screenshot(path=str(SHOTS / "05b-correct-triage.png"))
    await page.click("#fix button[type=submit]")
    fixed = await case_where(ops, cid, lambda c: c.get("corrected_by") == "admin", timeout=20)
    assert fixed["severity"] == "major" and fixed["subcategory"] == "lift"
    await page.wait_for_selector("#changed, h1 >> text=重大", timeout=20_000)  # pushed to the open case page
    await page.reload()
    await page.wait_for_selector("button[data-cmd=acknowledge]")
    await page.click("button[data-cmd=acknowledge]")
    await case_where(ops, cid, lambda c: "acknowledge" in c.get("met", []), timeout=20)
    await page.fill("#a-note", "已更换按钮面板")
    await page.click("button[data-cmd=resolve]")
    await case_where(ops, cid, lambda c: c["status"] == "resolved" and c.get("callback"), timeout=20)
    await page.click("text=回访 Callbacks")
    await page.wait_for_selector(f"tr[data-id='{cid}']")
    await page.screenshot(path=str(SHOTS / "06-callbacks.png"))
    await accessible(page, "callbacks")
    await page.click(f"tr[data-id='{cid}']")
    await page.wait_for_selector("button[data-cmd=callbacks]")
    await page.select_option("#cb-sat", "satisfied")
    await page.click("button[data-cmd=callbacks]")
    case = await case_where(ops, cid, lambda c: c["status"] == "closed", timeout=30)
    assert case["channel"] == "phone" and case["receiver"] == "admin"

    await page.click("text=看板 Dashboard")
    await page.wait_for_selector("#k-received")
    assert int(await page.inner_text("#k-received")) >= received_before + 1
    await page.screenshot(path=str(SHOTS / "07-dashboard-after.png"))


async def test_another_estates_case_is_refused_by_url(browser, center, web, ops):
    cid = (await web.post("/api/v1/complaints", json=complaint())).json()["complaint_id"]  # 湖畔花园
    await case_where(ops, cid, filed)
    page = await sign_in(browser, center, "op-sr")  # 朝阳苑's operator
    await page.goto(center.url("operator_api") + f"/console/#/case/{cid}")
    await page.wait_for_selector("text=无法打开")
    assert "not found" in await page.inner_text("main")
    await page.screenshot(path=str(SHOTS / "08-other-estate-refused.png"))
    status = await page.evaluate(f"fetch('/api/v1/complaints/{cid}').then(r => r.status)")
    assert status == 404  # the same session through the API
