"""The live status page in a real browser (headless Chromium): it shows the caller's streams with status, queue
depth and last outputs as they happen, and its buttons steer them. Its screenshot is docs/status-page.png."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from streamrt.serve.auth import COOKIE
from tests.serve.browser import browser_page
from tests.serve.conftest import TOKENS, client, config, running

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "status-page.png"


async def test_the_status_page_shows_streams_live_and_its_buttons_steer_them() -> None:
    async with running(config(no_auth=True, tokens={})) as server, client(server) as c:
        for processor in ("echo", "pauser"):
            sid = (await c.post("/streams", json={"processor": processor, "id": f"{processor}-demo"})).json()[
                "id"
            ]
            await c.post(f"/streams/{sid}/chunks", json=[{"reading": i, "city": "Oslo"} for i in range(4)])
        await c.post("/streams/pauser-demo/chunks", json=[{"cmd": "pause"}, {"reading": 99}])
        async with browser_page() as page:
            await page.call("Page.navigate", url=server.url + "/")
            await page.wait_for("document.querySelector('#summary').dataset.ready === 'yes'")
            assert (
                await page.evaluate("document.querySelector('#summary').textContent") == "2 streams, 2 live"
            )
            assert await page.wait_for(
                "document.querySelector('#stream-pauser-demo')?.dataset.status === 'paused'"
            )
            assert (
                await page.evaluate(
                    "document.querySelector('#stream-pauser-demo td:nth-child(6)').textContent"
                )
                == "1 / 32"
            )
            # an output that happens now reaches the page through the event stream
            await c.post("/streams/echo-demo/chunks", json=[{"reading": 7, "city": "Bergen"}])
            last = await page.wait_for(
                "(t => t.includes('Bergen') && t)(document.querySelector('#stream-echo-demo .last').textContent)"
            )
            assert '{"reading":7,"city":"Bergen"}' in last
            if os.environ.get("STREAMRT_UPDATE_SCREENSHOT"):
                SCREENSHOT.write_bytes(await page.screenshot())
            await page.evaluate(
                "document.querySelector('#stream-pauser-demo button[data-action=resume]').click()"
            )
            await page.wait_for("document.querySelector('#stream-pauser-demo')?.dataset.status === 'active'")
            await page.evaluate(
                "document.querySelector('#stream-echo-demo button[data-action=cancel]').click()"
            )
            await page.wait_for("document.querySelector('#stream-echo-demo')?.dataset.status === 'cancelled'")
        assert (await c.get("/streams/pauser-demo")).json()["state"] == {"n": 5}
        assert (await c.get("/streams/echo-demo")).json()["status"] == "cancelled"


async def test_the_page_asks_for_a_token_and_a_session_cookie_authorises_its_requests() -> None:
    async with running(config()) as server, httpx.AsyncClient(base_url=server.url) as anon:
        page = await anon.get("/")
        assert page.status_code == 200 and "<title>streamrt status</title>" in page.text
        assert (await anon.post("/session", json={"token": "wrong"})).status_code == 401
        r = await anon.post("/session", json={"token": TOKENS["alice"]})
        assert r.status_code == 204 and "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        async with httpx.AsyncClient(base_url=server.url, cookies={COOKIE: TOKENS["alice"]}) as with_cookie:
            assert (await with_cookie.get("/streams")).status_code == 200
        anon.cookies.clear()
        assert (await anon.get("/streams")).status_code == 401
        async with browser_page() as browser:
            await browser.call("Page.navigate", url=server.url + "/")
            await browser.wait_for("getComputedStyle(document.querySelector('#login')).display === 'block'")
            await browser.evaluate(f"document.querySelector('#token').value = {TOKENS['alice']!r}")
            await browser.evaluate("document.querySelector('#login button').click()")
            await browser.wait_for("document.querySelector('#summary').dataset.ready === 'yes'")
            assert (
                await browser.evaluate("document.querySelector('#summary').textContent")
                == "0 streams, 0 live"
            )
