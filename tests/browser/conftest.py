"""A live backend on a real port (restartable on the same port and database) and Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from backend.app import create_app
from backend.settings import Settings
from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG
from tests.support.fake_platform import FakePlatform

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


class LiveDesk:
    """The app served on 127.0.0.1:<port>, with the API helpers of the integration tests."""

    def __init__(self, settings: Settings, platform: FakePlatform) -> None:
        self.settings = settings
        self.platform = platform
        self.port = 0
        self.backend: Backend | None = None

    @property
    def api(self) -> Backend:
        assert self.backend is not None, "the server is stopped"
        return self.backend

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        server = TestServer(create_app(self.settings), host="127.0.0.1", port=self.port)
        # Open WebSockets must not hold a restart for the default minute.
        await server.start_server(shutdown_timeout=1.0)
        client: TestClient[Any, Any] = TestClient(server)
        await client.start_server()
        self.port = server.port or 0
        self.platform.backend_urls[:] = [self.url]
        self.backend = Backend(client, self.platform)

    async def stop(self) -> None:
        if self.backend is not None:
            await self.backend.client.close()
            self.backend = None


@pytest.fixture
async def live(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Any]]:
    made: list[LiveDesk] = []

    async def make(extra_config: str = "") -> LiveDesk:
        platform = FakePlatform([], "platform-secret")
        await platform.start()
        desk = LiveDesk(make_settings(DESK_CONFIG + extra_config), platform)
        made.append(desk)
        await desk.start()
        return desk

    yield make
    for desk in made:
        await desk.stop()
        await desk.platform.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def shot(page: Page, name: str) -> Path:
    """Save a screenshot under tests/artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
