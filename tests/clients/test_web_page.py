"""The browser page, served by the daemon, in headless Chromium (the system's, driven by playwright)."""
from __future__ import annotations

import asyncio
import os
import shutil
import urllib.request

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_page_files_are_served_and_nothing_else(serve):
    async def scenario(server):
        base = f"http://127.0.0.1:{server.ws_port}"

        def get(path):
            with urllib.request.urlopen(base + path, timeout=10) as r:
                return r.status, r.headers["Content-Type"], r.read()

        status, kind, body = await asyncio.to_thread(get, "/")
        assert status == 200 and kind.startswith("text/html") and b"app.js" in body
        for f in ("app.js", "msgpack.js", "worklet.js", "style.css"):
            status, kind, _ = await asyncio.to_thread(get, "/" + f)
            assert status == 200
        for bad in ("/../pyproject.toml", "/nope.js", "/%2e%2e/app.py"):
            with pytest.raises(urllib.error.HTTPError):
                await asyncio.to_thread(get, bad)
        assert b"http://" not in body and b"https://" not in body  # no CDN
        # saved takes, by bare name only
        from loopgen.clients import connect

        async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
            path = [ev async for ev in c.generate("x", seconds=0.2, seed=1)][-1]["path"]
        name = path.rsplit("/", 1)[1]
        status, kind, wav = await asyncio.to_thread(get, "/takes/" + name)
        assert status == 200 and kind == "audio/wav" and wav == open(path, "rb").read()
        async def raw(request: bytes) -> bytes:
            r, w = await asyncio.open_connection("127.0.0.1", server.ws_port)
            w.write(request)
            await w.drain()
            head = await r.read(40)
            w.close()
            return head

        for method in (b"POST", b"PUT", b"DELETE"):  # only GET serves anything
            assert b" 405 " in await raw(method + b" / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        assert b" 404 " in await raw(b"GET /" + b"a" * 300 + b".js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # not a 500
        for bad in ("/takes/" + name[:-4] + ".json", "/takes/..%2F..%2Fpyproject.toml", "/takes/../pyproject.toml",
                    "/takes/nope.wav", "/takes/"):
            with pytest.raises(urllib.error.HTTPError):
                await asyncio.to_thread(get, bad)

    serve(scenario)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_page_streams_into_its_audio_worklet(serve, tmp_path):
    pw = pytest.importorskip("playwright.async_api")

    async def scenario(server):
        async with pw.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = await browser.new_page(viewport={"width": 960, "height": 640})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"http://127.0.0.1:{server.ws_port}/")
            await page.wait_for_function("document.getElementById('status').textContent.includes('random:tiny')")
            await page.fill("#bars", "1")
            await page.click("#generate")
            await page.wait_for_function("window.loopgenStats.chunks > 5", timeout=60000)
            await page.fill("#morph", "0.5")  # crossfade while it plays: a weighted-prompt `set`
            await page.dispatch_event("#morph", "input")
            await page.wait_for_function("window.loopgenStats.done !== null", timeout=60000)
            await page.wait_for_function(
                "window.loopgenStats.workletReceived >= window.loopgenStats.samplesReceived", timeout=20000)
            stats = await page.evaluate("window.loopgenStats")
            assert stats["samplesReceived"] >= 64000  # 1 bar at 120 bpm, plus the loop's overrun
            assert stats["workletReceived"] == stats["samplesReceived"]  # every streamed sample reached the worklet
            assert stats["done"].endswith(".wav")
            await page.wait_for_function("window.loopgenStats.workletPlayed > 8000", timeout=20000)
            # the finished loop: offered for download, and looped once the stream has played its length
            href = await page.get_attribute("#download", "href")
            assert href and href.startswith("/takes/") and href.endswith(".wav")
            await page.wait_for_function("window.loopgenStats.loopPlayed > 1000", timeout=30000)
            shot = os.environ.get("LOOPGEN_SCREENSHOT") or str(tmp_path / "page.png")
            await page.screenshot(path=shot)
            assert not errors, errors
            await browser.close()

    serve(scenario)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_page_passes_the_token_from_its_address(serve):
    pw = pytest.importorskip("playwright.async_api")

    async def scenario(server):
        async with pw.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{server.ws_port}/?token=s3cret")
            await page.wait_for_function("document.getElementById('status').textContent.includes('random:tiny')")
            page2 = await browser.new_page()
            await page2.goto(f"http://127.0.0.1:{server.ws_port}/")
            await page2.wait_for_function("document.getElementById('status').textContent.includes('disconnected')")
            # two models served: the page's menu lists them, and a take of the stereo one plays on both sides
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            assert await page.eval_on_selector_all("#model option", "os => os.map(o => o.value)") == [
                "random:tiny", "random:stereo-tiny"]
            assert await page.is_visible("#model")
            await page.select_option("#model", "random:stereo-tiny")
            await page.fill("#bars", "1")
            await page.click("#generate")
            await page.wait_for_function("window.loopgenStats.done !== null", timeout=60000)
            await page.wait_for_function(
                "window.loopgenStats.workletReceived >= window.loopgenStats.samplesReceived", timeout=20000)
            stereo = server.pool.workers["random:stereo-tiny"]
            assert len(stereo.finished) == 1 and not server.worker.finished  # made by the model chosen
            assert next(iter(stereo.finished.values())).audio.shape[0] == 2
            assert await page.evaluate("window.loopgenStats.samplesReceived") >= 64000 and not errors, errors
            await browser.close()

    serve(scenario, token="s3cret", extra_models=("random:stereo-tiny",))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_double_click_on_generate_makes_one_take(serve):
    pw = pytest.importorskip("playwright.async_api")

    async def scenario(server):
        async with pw.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = await browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"http://127.0.0.1:{server.ws_port}/")
            await page.wait_for_function("document.getElementById('status').textContent.includes('random:tiny')")
            await page.fill("#bars", "1")
            await page.dblclick("#generate")
            await page.wait_for_function("window.loopgenStats.done !== null", timeout=60000)
            await asyncio.sleep(0.5)
            assert await page.evaluate("window.loopgenStats.started") == 1 and not errors, errors
            assert not server.worker.active and len(server.worker.finished) == 1  # no orphan generation
            # Generate again while a take plays: the playing one is stopped and saved, not left running unheard
            await page.fill("#bars", "8")
            await page.click("#generate")
            await page.wait_for_function("window.loopgenStats.chunks > 3", timeout=60000)
            await page.fill("#bars", "1")
            await page.click("#generate")
            await page.wait_for_function("window.loopgenStats.started === 3", timeout=60000)
            for _ in range(300):
                if not server.worker.active:
                    break
                await asyncio.sleep(0.1)
            takes = list(server.worker.finished.values())
            assert len(takes) == 3 and takes[1].stopped and not takes[2].stopped and not errors, errors
            await browser.close()

    serve(scenario)
