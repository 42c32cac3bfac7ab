"""A lecture hall: N app processes behind HAProxy (components/serve.py).

Unit tests read the rendered HAProxy configuration; one Chromium test starts
``python -m components serve --processes 2`` on loopback, opens six pages
through the proxy, kills one process and watches its pages come back."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest

from components import serve
from conftest import ROOT

BACKENDS = serve.loopback_backends([8511, 8512, 8513])


def sections(config: str) -> dict[str, list[str]]:
    """``{"frontend classroom": [its lines], ...}``: a section starts at an unindented line."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in config.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = line.strip()
            out[current] = []
        elif current is not None:
            out[current].append(line.strip())
    return out


def seconds(value: str) -> float:
    """HAProxy's time format: 500ms, 10s, 1m, 8h, 1d (plain numbers are ms)."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value).groups()
    return int(number) * {"ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1e-3}[unit]


@pytest.fixture
def config() -> dict[str, list[str]]:
    return sections(serve.render_config(BACKENDS, port=8501, address="0.0.0.0", stats_port=8404))


# ------------------------------------------------------------ configuration


def test_the_proxy_inserts_a_sticky_cookie_naming_each_process(config):
    backend = config["backend apps"]
    cookie = next(line.split() for line in backend if line.startswith("cookie "))
    assert cookie[1] == serve.STICKY_COOKIE and cookie[2] == "insert", "the proxy inserts the cookie itself"
    assert "indirect" in cookie and "nocache" in cookie, "the app never sees it; shared caches never store it"
    servers = [line.split() for line in backend if line.startswith("server ")]
    assert [(s[1], s[2], s[s.index("cookie") + 1]) for s in servers] == [
        ("app1", "127.0.0.1:8511", "app1"), ("app2", "127.0.0.1:8512", "app2"), ("app3", "127.0.0.1:8513", "app3"),
    ]


def test_an_open_page_may_idle_for_a_lesson_but_a_request_may_not(config):
    timeouts = {line.split()[1]: seconds(line.split()[2]) for line in config["defaults"] if line.startswith("timeout ")}
    assert timeouts["tunnel"] >= 4 * 3600, "a page's WebSocket is a tunnel: it must outlast a lesson"
    assert timeouts["http-request"] <= 30 and timeouts["connect"] <= 10, "a slow or dead client is cut off"
    assert "mode http" in config["defaults"], "HTTP mode: cookies are read, WebSocket upgrades pass"


def test_health_checks_on_streamlit_take_a_dead_process_out_and_redispatch(config):
    backend = config["backend apps"]
    assert "option httpchk" in backend
    assert f"http-check send meth GET uri {serve.HEALTH_PATH}" in backend
    assert "http-check expect status 200" in backend
    defaults = next(line.split() for line in backend if line.startswith("default-server"))
    assert "check" in defaults and "on-marked-down" in defaults and "shutdown-sessions" in defaults
    assert "option redispatch" in config["defaults"], "a browser whose process is gone goes to another"
    assert int(next(line.split()[1] for line in config["defaults"] if line.startswith("retries "))) >= 1


def test_only_the_app_port_is_public_and_the_stats_page_is_loopback_only(config):
    binds = {name: [line.split()[1] for line in lines if line.startswith("bind ")] for name, lines in config.items()}
    assert binds["frontend classroom"] == ["0.0.0.0:8501"]
    assert binds["listen stats"] == ["127.0.0.1:8404"]
    assert sum(len(b) for b in binds.values()) == 2, "nothing else listens"
    assert not any("stats socket" in line or "admin" in line for lines in config.values() for line in lines)
    assert all(line.split()[2].startswith("127.0.0.1:") for line in config["backend apps"] if line.startswith("server "))
    no_stats = sections(serve.render_config(BACKENDS, stats_port=None))
    assert "listen stats" not in no_stats


def test_request_logs_are_off_unless_asked_for():
    quiet = serve.render_config(BACKENDS)
    assert "httplog" not in quiet and "User-Agent" not in quiet, "a class's requests are not logged by default"
    loud = serve.render_config(BACKENDS, log_requests=True)
    assert "option httplog" in loud and "capture request header User-Agent" in loud


def test_the_apps_listen_on_loopback_and_get_their_share_of_the_cores():
    cmd = serve.app_command(8511)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8511" and cmd[cmd.index("run") + 1].endswith("viz_app.py")
    assert [serve.thread_split(c, n) for c, n in [(2, 1), (2, 2), (16, 4), (7, 2), (2, 3)]] == [2, 1, 4, 3, 1]
    env = serve.app_env(3, {"PATH": "/bin"})
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3" and env["PATH"] == "/bin"


def test_torch_reads_its_thread_count_from_the_environment_serve_sets():
    """The thread split works only if torch honours OMP_NUM_THREADS: check it in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        env=serve.app_env(1, os.environ), capture_output=True, text=True, timeout=120,
    )
    assert out.stdout.strip() == "1", out.stderr[-500:]


def test_app_ports_skip_the_proxy_the_stats_page_and_busy_ports():
    busy = {8513}
    ports = serve.choose_app_ports(4, 8511, avoid=(8512, 8404), is_free=lambda p: p not in busy)
    assert ports == [8511, 8514, 8515, 8516]
    with pytest.raises(serve.ServeError):
        serve.choose_app_ports(2, 65535)


def test_the_memory_check_counts_one_model_per_process():
    assert serve.memory_warning(4, 20 * 2**30) is None
    message = serve.memory_warning(8, 10 * 2**30)
    assert message and "--processes 4" in message


def test_the_deploy_folder_holds_the_generated_configuration():
    """deploy/haproxy.cfg is exactly what --print-config --system prints: the two cannot drift apart."""
    out = subprocess.run(
        [sys.executable, "-m", "components", "serve", "--processes", "4", "--print-config", "--system"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (ROOT / "deploy" / "haproxy.cfg").read_text() == out.stdout
    unit = (ROOT / "deploy" / "attention-classroom@.service").read_text()
    assert "--server.address 127.0.0.1" in unit and "--server.port %i" in unit
    assert re.search(r"^Restart=always", unit, re.M) and "OMP_NUM_THREADS" in unit


def test_haproxy_accepts_the_configuration(tmp_path):
    from browser import require_haproxy

    haproxy = require_haproxy()
    for flavour in ({}, {"log_requests": True}):
        path = tmp_path / "haproxy.cfg"
        path.write_text(serve.render_config(BACKENDS, port=18501, stats_port=18404, **flavour))
        check = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_without_haproxy_serve_says_how_to_install_it_and_starts_nothing(monkeypatch, capsys):
    from components import cli

    monkeypatch.setattr(serve.shutil, "which", lambda name: None)
    monkeypatch.setattr(serve.os, "access", lambda *a: False)
    monkeypatch.setattr(serve.subprocess, "Popen", lambda *a, **k: pytest.fail("nothing may start"))
    assert cli.main(["serve", "--processes", "2", "--port", "18501"]) == 1
    assert "apt-get install haproxy" in capsys.readouterr().err


# ---------------------------------------------------------------- Chromium

#: (sentence, layer, head) of each page: none is the default view, so a page
#: that lost its link would show something else
VIEWS = [
    ("猫が魚を食べる", 9, 3), ("雨が激しく降る", 1, 1), ("鳥がナク", 12, 2),
    ("赤ちゃんがナク", 5, 3), ("私は昨日図書館で本を借りた", 15, 1), ("鳥が鳴く", 3, 2),
]
#: what the pages of the killed process type next, one each (none analysed before)
NEW_SENTENCES = ["犬が公園で走る", "馬が草原を走る", "牛が小屋で眠る", "象が水を浴びる", "猿が木に登る", "鹿が森で鳴く"]
#: one line of HAProxy's request log: the process that answered, the page (its User-Agent), the request
LOG_LINE = re.compile(r"classroom apps/(app\d+) \S+ (\d{3}) .*\{[^}]*hall-page-(\d+)\} \"(\w+) (\S+)")


def requests_by_page(log: str) -> dict[int, list[tuple[str, str, str]]]:
    """page -> [(process, status, path)] in log order."""
    out: dict[int, list] = {}
    for process, status, page, _method, path in LOG_LINE.findall(log):
        out.setdefault(int(page), []).append((process, status, path))
    return out


def view_on_screen(page) -> tuple[str, str, str]:
    """(sentence box, heatmap titles, URL query) as the student sees them."""
    box = page.get_by_label("文", exact=True).input_value()
    titles = " | ".join(page.eval_on_selector_all(".js-plotly-plot .gtitle", "els => els.map(e => e.textContent)"))
    return box, titles, urllib.parse.urlparse(page.url).query


def shows(page, view) -> bool:
    text, layer, head = view
    box, titles, query = view_on_screen(page)
    params = urllib.parse.parse_qs(query)
    return (
        box == text and f"層 {layer}・ヘッド {head}" in titles
        and params.get("text") == [text] and params.get("layer") == [str(layer)] and params.get("head") == [str(head)]
        and page.locator("[data-testid=stStatusWidget]").count() == 0  # the script run has finished
    )


def sticky_cookie(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == serve.STICKY_COOKIE)


@pytest.mark.browser
@pytest.mark.integration
def test_a_hall_of_two_processes_keeps_every_view_when_one_dies(artifacts):
    from browser import chromium, hall_server, require_chromium, require_haproxy, submit_sentence

    require_chromium()
    require_haproxy()
    from components.models import prepare_bundled

    prepare_bundled()
    with hall_server(processes=2) as hall:
        with chromium() as browser:
            probe = browser.new_page()
            agent = probe.evaluate("navigator.userAgent")
            probe.close()
            contexts, pages = [], []
            for i, (text, layer, head) in enumerate(VIEWS):
                context = browser.new_context(viewport={"width": 1100, "height": 900}, user_agent=f"{agent} hall-page-{i}")
                page = context.new_page()
                page.goto(f"{hall.url}/?" + urllib.parse.urlencode({"text": text, "layer": layer, "head": head}),
                          wait_until="commit")
                contexts.append(context)
                pages.append(page)
            for page, view in zip(pages, VIEWS):  # every page answered, through the proxy
                page.wait_for_function(
                    "(t) => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent.includes(t))",
                    arg=f"層 {view[1]}・ヘッド {view[2]}", timeout=300_000,
                )
                page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=120_000)
                assert page.locator(".js-plotly-plot .heatmaplayer image").count() >= 1, "the explorer shows its heatmap"
                assert shows(page, view), view_on_screen(page)

            served_by = [sticky_cookie(c) for c in contexts]
            assert set(served_by) == set(hall.apps) == {"app1", "app2"}, f"both processes serve pages: {served_by}"
            before = requests_by_page(hall.log())
            for i, process in enumerate(served_by):  # every request of a page, WebSocket included, went to one process
                seen = before.get(i, [])
                assert any(path == "/_stcore/stream" and status == "101" for _, status, path in seen), seen
                assert len(seen) >= 3 and {p for p, _, _ in seen} == {process}, (i, process, seen)

            victim = served_by[0]
            survivor = next(name for name in hall.apps if name != victim)
            moved = [i for i, process in enumerate(served_by) if process == victim]
            log_offset = len(hall.log())
            os.kill(hall.apps[victim], signal.SIGKILL)  # a crash, not a polite stop
            deadline = time.time() + 30
            pending = set(moved)
            while pending and time.time() < deadline:
                after = requests_by_page(hall.log()[log_offset:])
                for i in list(pending):  # a new WebSocket through the survivor, then the same view again
                    reconnected = any(
                        process == survivor and path == "/_stcore/stream" and status == "101"
                        for process, status, path in after.get(i, [])
                    )
                    if reconnected and shows(pages[i], VIEWS[i]):
                        pending.discard(i)
                time.sleep(0.5)
            assert not pending, {i: view_on_screen(pages[i]) for i in pending}

            time.sleep(2)  # let any late rerun land before the last look
            for i, (page, view) in enumerate(zip(pages, VIEWS)):
                assert shows(page, view), (i, view_on_screen(page))
                assert page.locator("[data-testid=stException]").count() == 0, f"page {i} shows an error"
                assert sticky_cookie(contexts[i]) == survivor, "the proxy re-pinned the page to the survivor"
            after = requests_by_page(hall.log()[log_offset:])
            assert not any(process == victim for i in after for process, _, _ in after[i])

            # a moved page is live, not a picture of the old one: the first sentence typed
            # after the failover is answered by the survivor (if the page was not redrawn
            # on reconnect, the new process's first run applies the link and swallows it)
            for i, sentence in zip(moved, NEW_SENTENCES):
                submit_sentence(pages[i], sentence)
            for i, sentence in zip(moved, NEW_SENTENCES):
                pages[i].wait_for_function(
                    """([old, typed]) => {
                        const box = document.querySelector('input[aria-label="文"]');
                        const ticks = [...document.querySelectorAll('.js-plotly-plot')].slice(0, 1)
                            .map(p => [...p.querySelectorAll('.xtick text')].map(e => e.textContent).join('')).join('');
                        const idle = !document.querySelector('[data-testid=stStatusWidget]');
                        return idle && box && (box.value === old || (box.value === typed && ticks.includes(typed)));
                    }""",
                    arg=[VIEWS[i][0], sentence], timeout=120_000,
                )
                box, titles, query = view_on_screen(pages[i])
                assert box == sentence, (
                    f"page {i}: the first sentence after the failover was swallowed (the box went back to 「{box}」): "
                    "the page was not redrawn by its new process when it reconnected"
                )
                assert urllib.parse.parse_qs(query).get("text") == [sentence]
                assert pages[i].locator("[data-testid=stException]").count() == 0
            pages[moved[0]].screenshot(path=str(artifacts / "hall-after-failover.png"))
            pids = [*hall.apps.values(), hall.proxy_pid]
    # leaving hall_server pressed Ctrl+C (SIGINT): the hall stops everything it started
    assert hall.proc.returncode == 0, hall.log()[-2000:]
    import psutil

    assert [pid for pid in pids if psutil.pid_exists(pid)] == []
    assert "Traceback" not in hall.log()
