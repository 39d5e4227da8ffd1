"""The dashboard in a real browser: Debian's chromium driven by Playwright, against ``kurir serve``.

A person signs in with a key, adds a sandbox device, sends a button message
from the Send form, answers it on the sandbox phone, and sees the message
read, its reply, and the webhook delivery it caused; pairs a WhatsApp Web
device with the fake session; signs out. A second account sees nothing of
the first's; a form without its CSRF token is refused.

With ``KURIR_SCREENSHOTS=1`` the tests also photograph each page at desktop
and phone width into docs/screenshots (the README shows them).
"""

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.support.databases import sqlite_url
from tests.support.provision import Tenant, provision_account, provision_tenant
from tests.support.receiver import Receiver
from tests.support.server import KurirProcess
from tests.support.whatsapp_world import FakeWhatsApp, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, 860), "phone": (390, 844)}
RECIPIENT = "628111111111"
#: Generous: six helpers share two cores, and a page waits for a worker's send.
WAIT_MS = 30_000

T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it with apt)"
)


def off_the_loop(make: Callable[[], T]) -> T:
    """``make()`` in a thread of its own: Playwright's sync API holds this thread's event loop,
    and the provisioning helpers run one of their own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(make).result()


class Site:
    """A running Kurir with one account, a webhook receiver and the fake WhatsApp."""

    def __init__(
        self, server: KurirProcess, tenant: Tenant, receiver: Receiver, world: FakeWhatsApp
    ):
        self.server = server
        self.tenant = tenant
        self.receiver = receiver
        self.world = world

    def url(self, path: str) -> str:
        return self.server.base_url + path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    url = sqlite_url(tmp_path)
    tenant = off_the_loop(lambda: provision_tenant(url))
    world = FakeWhatsApp(tmp_path / "whatsapp", qr_seconds=1.5, qr_count=40)
    with Receiver() as receiver:
        server = KurirProcess(
            url,
            tmp_path,
            api_key=tenant.api_key,
            env={**world.env(), "KURIR_ALLOW_PRIVATE_URLS": "true"},
        )
        server.start()
        try:
            yield Site(server, tenant, receiver, world)
        finally:
            server.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1280, "height": 860})
    opened.set_default_timeout(WAIT_MS)
    yield opened
    opened.close()


def sign_in(page: Page, site: Site, key: str) -> None:
    page.goto(site.url("/"))
    page.fill("input[name=key]", key)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(re.compile(r"/dashboard/devices$"))


def shoot(page: Page, name: str) -> None:
    """The page at each width, when screenshots are asked for."""
    if not os.environ.get("KURIR_SCREENSHOTS"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width_name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width_name}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})


def test_a_button_message_from_the_send_form_answered_on_the_sandbox_phone(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(site.url("/"))
    shoot(page, "signin")
    sign_in(page, site, site.tenant.api_key)
    # No key in the browser: only the session cookie, HttpOnly and SameSite=Strict.
    cookies = context.cookies()
    assert [c["name"] for c in cookies] == ["kurir_session"]
    assert cookies[0]["httpOnly"]
    assert cookies[0]["sameSite"] == "Strict"
    assert site.tenant.api_key not in cookies[0]["value"]

    page.select_option("select[name=transport]", "sandbox")
    page.fill("#add-device input[name=phone]", "628155555555")
    page.fill("#add-device input[name=device]", "sbx-ui")
    page.click("#add-device button")
    expect(page.locator(".notice")).to_contain_text("device sbx-ui added")
    expect(page.locator("[data-device=sbx-ui]")).to_contain_text("sandbox")
    shoot(page, "devices")

    page.goto(site.url("/dashboard/webhooks"))
    page.fill("#add-webhook input[name=url]", site.receiver.url)
    page.click("#add-webhook button")
    secret = page.locator("#new-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    site.receiver.secret = secret
    shoot(page, "webhooks")

    page.goto(site.url("/dashboard/send?device=sbx-ui"))
    page.check("input[name=kind][value=button]")
    page.fill("input[name=phone]", RECIPIENT)
    page.fill("input[name=message_header]", "Pesanan #42")
    page.fill("textarea[name=message]", "Kirim sekarang?")
    page.fill("input[name=message_footer]", "Toko Kurir")
    page.fill("textarea[name=buttons]", "Ya\nTidak\nNanti")
    expect(page.locator("#as-curl")).to_contain_text("/send/button")
    expect(page.locator("#as-curl")).to_contain_text('"buttons": [')
    expect(page.locator("#as-python")).to_contain_text("client.send_button(")
    expect(page.locator("#as-python")).to_contain_text('header="Pesanan #42"')
    shoot(page, "send")
    page.click("#send-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard/messages/[0-9A-Za-z]+$"))
    message_id = page.url.rsplit("/", 1)[1]

    page.goto(site.url("/dashboard/sandbox/sbx-ui"))
    second = page.locator(f"[data-message='{message_id}'] button.choice").nth(1)
    expect(second).to_have_text("Tidak")  # pressable once the sandbox has delivered it
    shoot(page, "sandbox")
    second.click()
    expect(page.locator(".row.out .bubble").last).to_contain_text("Tidak")
    expect(page.locator(f"[data-message='{message_id}']")).to_have_attribute("data-status", "read")

    page.goto(site.url(f"/dashboard/messages/{message_id}"))
    expect(page.locator("#message-status")).to_have_text("read")
    expect(page.locator("#message-reply")).to_contain_text("Tidak")
    reply_row = page.locator("#message-deliveries tr", has_text="message.reply")
    expect(reply_row).to_contain_text("200", timeout=WAIT_MS)
    shoot(page, "message")

    wait_for(
        lambda: any(r.event == "message.reply" for r in site.receiver.received),
        within=30,
        what="the reply's webhook",
    )
    page.goto(site.url("/dashboard/webhooks"))
    page.click(".endpoint h2 a")
    expect(page.locator("#delivery-log")).to_contain_text("message.reply")
    expect(page.locator("#delivery-log tr", has_text="message.reply")).to_contain_text("200")
    shoot(page, "webhook-log")

    page.goto(site.url("/dashboard/messages?kind=button"))
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator("table.list")).to_contain_text(message_id)
    shoot(page, "messages")

    page.goto(site.url("/dashboard/keys"))
    page.fill("#create-key input[name=label]", "billing")
    page.click("#create-key button")
    new_key = page.locator("#new-key").inner_text().strip()
    shoot(page, "keys")
    with httpx.Client(base_url=site.server.base_url, timeout=10) as http:
        headers = {"Authorization": new_key}
        assert http.get("/device/list", headers=headers).status_code == 200
        page.locator("#keys tr", has_text="billing").locator("button").click()
        expect(page.locator(".notice")).to_contain_text("revoked")
        assert wait_for(
            lambda: http.get("/device/list", headers=headers).status_code == 401,
            within=30,
            what="the revoked key refused",
        )

    page.click("button:has-text('Sign out')")
    expect(page.locator("input[name=key]")).to_be_visible()
    page.goto(site.url("/dashboard/devices"))
    expect(page.locator("input[name=key]")).to_be_visible()  # the session is over


def _add_whatsapp_web_device(page: Page, device: str, phone: str) -> Locator:
    """Add a WhatsApp Web device on the devices page; its card, once a worker holds it."""
    page.select_option("select[name=transport]", "whatsapp-web")
    page.fill("#add-device input[name=phone]", phone)
    page.fill("#add-device input[name=device]", device)
    page.click("#add-device button")
    card = page.locator(f"[data-device={device}]")
    # The form's answer has loaded: a reload now cannot cut its navigation off.
    expect(card).to_contain_text("whatsapp-web")

    def unpaired() -> bool:
        page.reload()
        return "unpaired" in card.inner_text()

    wait_for(unpaired, within=30, what=f"a worker to take {device}")
    return card


def test_pairing_a_whatsapp_web_device_by_qr_code(site: Site, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, site, site.tenant.api_key)
    card = _add_whatsapp_web_device(page, "wa-ui", "628122222222")
    phone = site.world.phone("wa-ui")
    card.locator("button:has-text('Pair by QR code')").click()
    expect(page).to_have_url(re.compile(r"/dashboard/devices/wa-ui/pair$"))
    qr = page.locator("#pair-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    first = qr.get_attribute("src")
    shoot(page, "pair")
    # WhatsApp rotates the code; the page follows without a reload.
    expect(qr).not_to_have_attribute("src", first or "")
    code = wait_for(phone.qr, within=30, what="the current QR code")
    phone.scan(code)
    expect(page.locator("#pair-done")).to_be_visible()
    expect(page.locator("#pair-state")).to_have_text("connected")

    # By pairing code: the page shows the code to type on the phone.
    page.goto(site.url("/dashboard/devices"))
    by_code = _add_whatsapp_web_device(page, "wa-code", "628122222223")
    other_phone = site.world.phone("wa-code")
    by_code.locator("button:has-text('Pair by code')").click()
    expect(page).to_have_url(re.compile(r"/dashboard/devices/wa-code/pair$"))
    shown = page.locator("#pair-code")
    expect(shown).to_have_text(re.compile(r"\S+"))
    typed = shown.inner_text().strip()
    assert typed == other_phone.pair_code()
    other_phone.scan(typed, phone="628122222223")
    expect(page.locator("#pair-done")).to_be_visible()

    # Disconnecting unlinks the first.
    page.goto(site.url("/dashboard/devices"))
    card.locator("button:has-text('Disconnect')").click()
    expect(page.locator(".notice")).to_contain_text("device wa-ui unlinked")


def test_a_second_account_sees_none_of_the_first(site: Site, browser: Browser) -> None:
    first = browser.new_context()
    first.set_default_timeout(WAIT_MS)
    page = first.new_page()
    sign_in(page, site, site.tenant.api_key)
    with site.server.client(site.tenant.api_key) as http:
        sent = http.post(
            "/send/text",
            json={"device": site.tenant.device_id, "phone": RECIPIENT, "message": "rahasia"},
        ).json()
    page.goto(site.url("/dashboard/messages"))
    expect(page.locator("table.list")).to_contain_text(sent["message_id"])
    first.close()

    _, other_key = off_the_loop(lambda: provision_account(site.server.database_url))
    second = browser.new_context()
    second.set_default_timeout(WAIT_MS)
    page = second.new_page()
    sign_in(page, site, other_key)
    expect(page.locator("main")).not_to_contain_text(site.tenant.device_id)
    page.goto(site.url("/dashboard/messages"))
    expect(page.locator("table.list")).to_contain_text("No messages")
    page.goto(site.url(f"/dashboard/messages/{sent['message_id']}"))
    expect(page.locator(".notice.error")).to_contain_text("not found")
    page.goto(site.url(f"/dashboard/sandbox/{site.tenant.device_id}"))
    expect(page.locator(".notice.error")).to_contain_text("not found")
    page.goto(site.url(f"/dashboard/messages?device={site.tenant.device_id}"))
    expect(page.locator(".notice.error")).to_contain_text("not found")
    # Filters are checked as the API checks them, and named when wrong.
    for query, complaint in [
        ("status=lost", "status must be one of"),
        ("kind=sticker", "kind must be one of"),
        ("since=yesterday", "since must be Unix seconds or an ISO 8601 time"),
        ("before=x", "before must be a cursor"),
    ]:
        page.goto(site.url(f"/dashboard/messages?{query}"))
        expect(page.locator(".notice.error")).to_contain_text(complaint)
    second.close()


def test_a_form_without_its_csrf_token_is_refused(site: Site, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, site, site.tenant.api_key)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    form: dict[str, str | float | bool] = {
        "transport": "sandbox",
        "phone": "628155555555",
        "device": "sbx-forged",
    }
    for token in (None, "not-the-token"):
        fields = form if token is None else {**form, "csrf": token}
        answer = page.request.post(site.url("/dashboard/devices"), form=fields, max_redirects=0)
        assert answer.status == 403
        assert "security token" in answer.text()
    page.goto(site.url("/dashboard/devices"))
    expect(page.locator("main")).not_to_contain_text("sbx-forged")
    # Nor is the sign-in form taken without the token of its own cookie.
    with httpx.Client(base_url=site.server.base_url, timeout=10) as http:
        answer_in = http.post("/dashboard/signin", data={"key": site.tenant.api_key})
        assert answer_in.status_code == 403
        assert "kurir_session" not in answer_in.cookies
    # A form larger than the API takes is refused before it is read.
    huge = page.request.post(
        site.url("/dashboard/devices"),
        form={**form, "csrf": csrf or "", "phone": "6" * 100_000},
        max_redirects=0,
    )
    assert huge.status == 413
    # With its token the same form is taken.
    answer = page.request.post(
        site.url("/dashboard/devices"), form={**form, "csrf": csrf or ""}, max_redirects=0
    )
    assert answer.status == 303
    page.goto(site.url("/dashboard/devices"))
    expect(page.locator("[data-device=sbx-forged]")).to_be_visible()
