"""Backend processes started the way the Procfile starts them, for multi-process tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp

from backend.adapters.embedded_db import free_port
from backend.settings import ROOT


class BackendProcess:
    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        unset: tuple[str, ...] = (),
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        for name in unset:
            self.env.pop(name, None)
        self.log_path = log_path
        self.preexec_fn = preexec_fn
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout_s: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backend"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=self.preexec_fn,
            )
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"backend exited: {self.log_path.read_text()[-2000:]}")
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(
                        f"backend did not start: {self.log_path.read_text()[-2000:]}"
                    )
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye — what a crashed machine looks like."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
