"""The /docs portal in a real headless Chromium, with nothing but loopback reachable: it
loads its own assets, lists every service's operations, signs in with the OAuth2 password
flow and runs one "Try it out"; the events page lists each topic's publisher and consumers."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest_asyncio
from innopark_shared.testing import PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD
from playwright.async_api import Route, async_playwright

SERVICES = ["gateway", "registry", "orders", "accreditation", "events"]
TIMEOUT_MS = 30_000


@pytest_asyncio.fixture(loop_scope="session")
async def browser_page(chromium):
    outside: list[str] = []

    async def loopback_only(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in {"127.0.0.1", "localhost", "::1"} or route.request.url.startswith("data:"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            await page.route("**/*", loopback_only)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, outside, errors
        finally:
            await browser.close()


async def test_the_portal_works_offline_and_tries_an_operation_with_a_token(platform, browser_page):
    page, outside, errors = browser_page
    await page.goto(f"{platform.gateway}/docs")
    await page.wait_for_selector(".opblock", timeout=TIMEOUT_MS)
    assert not outside, f"the portal reached beyond loopback: {outside}"
    assert not errors, errors

    for service in SERVICES:
        section = page.locator(f'.opblock-tag-section:has(h3[data-tag="{service}"])')
        assert await section.locator(".opblock").count() > 0, f"no {service} operations shown"
    assert await page.locator("#operations-registry-list_parks").count() == 1
    assert await page.locator("#operations-orders-create_order").count() == 1

    # Sign in with the OAuth2 password flow, through the Authorize dialog.
    await page.click("button.authorize")
    dialog = page.locator(".dialog-ux")
    password_flow = dialog.locator(".auth-container:has(#oauth_username)").first
    await password_flow.locator("#oauth_username").fill(PLATFORM_ADMIN_EMAIL)
    await password_flow.locator("#oauth_password").fill(PLATFORM_ADMIN_PASSWORD)
    await password_flow.locator("button.authorize").click()
    # Signed in: the flow's form gives way to "Authorized" and a Logout button.
    await dialog.locator("button:has-text('Logout')").first.wait_for()
    assert await dialog.locator("#oauth_username").count() == 0
    await dialog.locator("button.close-modal").click()

    # Try it out: who am I, with the token the dialog got.
    operation = page.locator("#operations-gateway-get_me")
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    await status.wait_for()
    assert (await status.inner_text()).strip().startswith("200")
    body = await operation.locator(".live-responses-table .microlight").first.inner_text()
    assert PLATFORM_ADMIN_EMAIL in body
    assert not outside, f"the portal reached beyond loopback: {outside}"
    assert not errors, errors


async def test_the_events_page_shows_every_topic_with_publisher_and_consumers(
    platform, browser_page
):
    page, outside, _ = browser_page
    await page.goto(f"{platform.gateway}/docs/events")
    parks = page.locator('section[id="innopark.registry.parks"]')
    assert await parks.locator(".publisher").inner_text() == "registry"
    consumers = await parks.locator(".consumers").inner_text()
    assert {"accreditation", "events", "orders"} <= set(consumers.split(", "))
    assert await page.locator("section.channel").count() >= 10
    assert await parks.locator(".message").count() >= 2
    assert not outside
