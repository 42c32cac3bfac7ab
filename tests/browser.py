"""Start `streamlit run viz_app.py` and drive it with Debian's Chromium
through Playwright (never `playwright install`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = os.environ.get("CLASSROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    """Skip when Chromium is absent, unless CI says it must be there."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    message = f"Chromium not found at {CHROMIUM}: apt-get install chromium fonts-noto-cjk"
    if os.environ.get("CLASSROOM_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(timeout: float = 180, env: dict | None = None, root: Path = ROOT):
    """``streamlit run viz_app.py`` of the checkout at ``root`` (this one by
    default; a benchmark may start another to compare) on a free port."""
    port = free_port()
    from conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(Path(root) / "viz_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=root, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    proc.log_path = Path(log.name)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def chromium(**context):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_for_app(page, timeout_ms: int = 180_000) -> None:
    """Until the script has finished running and at least one chart is drawn."""
    page.wait_for_selector(".js-plotly-plot", timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout_ms
    )


def submit_sentence(page, text: str, label: str = "文") -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")


def heatmap_titles(page) -> list[str]:
    return page.eval_on_selector_all(".js-plotly-plot .gtitle", "els => els.map(e => e.textContent)")


def x_ticks(page, nth: int = 0) -> list[str]:
    return page.eval_on_selector_all(
        ".js-plotly-plot",
        f"(plots) => [...plots[{nth}].querySelectorAll('.xtick text')].map(e => e.textContent)",
    )


def require_haproxy() -> str:
    """The haproxy binary; skip when it is absent, unless CI says it must be there."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found:
        return found
    message = "haproxy not found: apt-get install haproxy"
    if os.environ.get("CLASSROOM_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


class Hall:
    """A running ``python -m components serve``: its address, its processes, its log."""

    def __init__(self, url: str, stats_url: str, proc: subprocess.Popen, log_path: Path):
        self.url, self.stats_url, self.proc, self.log_path = url, stats_url, proc, log_path
        self.apps: dict[str, int] = {}  # process name (= sticky cookie value) -> pid
        self.proxy_pid = 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def server_states(self) -> dict[str, str]:
        """Each app process's state as the proxy sees it (``UP``, ``DOWN``, ...), from its stats page."""
        import csv
        import io

        with urllib.request.urlopen(self.stats_url + ";csv", timeout=5) as r:
            rows = csv.DictReader(io.StringIO(r.read().decode().lstrip("# ")))
            return {row["svname"]: row["status"] for row in rows if row["pxname"] == "apps"
                    and row["svname"] not in ("FRONTEND", "BACKEND")}


@contextlib.contextmanager
def hall_server(processes: int = 2, timeout: float = 300, log_requests: bool = True):
    """``python -m components serve --processes N`` on loopback, on free ports,
    until the proxy sees every app process up. On exit, Ctrl+C (SIGINT) to the
    hall, as a teacher would stop it; ``hall.proc.returncode`` tells how it ended."""
    import re
    import signal

    from conftest import ARTIFACTS

    port, stats_port = free_port(), free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / f"hall-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "components", "serve", "--processes", str(processes), "--port", str(port),
         "--address", "127.0.0.1", "--stats-port", str(stats_port), *(["--log-requests"] if log_requests else [])],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    hall = Hall(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stats_port}/", proc, Path(log.name))
    try:
        deadline = time.time() + timeout
        while True:
            text = hall.log()
            hall.apps = {name: int(pid) for name, pid in re.findall(r"^  (app\d+) +\S+ +pid (\d+)$", text, re.M)}
            proxy = re.search(r"^  proxy \S+ +pid (\d+)", text, re.M)
            if proxy and len(hall.apps) == processes:
                hall.proxy_pid = int(proxy.group(1))
                with contextlib.suppress(OSError):
                    states = hall.server_states()
                    if len(states) == processes and set(states.values()) == {"UP"}:
                        break
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the hall did not start; see {log.name}")
            time.sleep(0.5)
        yield hall
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
