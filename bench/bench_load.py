"""Load test: a class of N students opens the app and submits at once.

N headless Chromium pages (default 20, each its own session) open the
explorer; when all are up, each types a different sentence and presses Enter
at the same moment. The script reports errors, the time until every page
shows its own sentence's analysis, and the server's memory. It prints a
table and never fails on time. Target on the 2-core reference machine (which
also runs the browsers): 0 errors and every page answered within 60 s for 20.

With ``--through-proxy --processes N`` it runs the same burst twice in one
run, against one ``streamlit run`` and then through HAProxy in front of N
processes (``python -m components serve``), and prints them side by side with
each process's CPU and the proxy's own.

    python bench/bench_load.py [--pages 20] [--timeout 180]
    python bench/bench_load.py --through-proxy --processes 2 --pages 20
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SUBJECTS = ["鳥", "猫", "犬", "子ども", "先生", "母", "友だち", "赤ちゃん", "風", "雨"]
PLACES = ["公園で", "駅の前で", "家の中で", "学校で", "川のそばで", "森の奥で"]
VERBS = ["ナク", "走る", "笑う", "歌う", "眠る", "待っている", "遊ぶ"]

STATE_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
    xticks: (gd.layout && gd.layout.xaxis && gd.layout.xaxis.ticktext) || [],
}))"""


def sentences(n: int) -> list[str]:
    """n different natural sentences, none of them an example the app precomputes."""
    out = []
    for i in range(n):
        out.append(f"{SUBJECTS[i % len(SUBJECTS)]}が{PLACES[(i // len(SUBJECTS)) % len(PLACES)]}{VERBS[i % len(VERBS)]}")
    assert len(set(out)) == n, "sentences must differ"
    return out


@dataclass
class LoadResult:
    pages: int
    errors: list[str] = field(default_factory=list)
    open_seconds: float = 0.0
    first_answer: float = 0.0
    all_answered: float = 0.0
    rss_before_gb: float = 0.0
    rss_peak_gb: float = 0.0
    server_cpu_open: float = 0.0
    server_cpu_burst: float = 0.0
    # per app process (one entry for a single `streamlit run`)
    process_cpu_open: list[float] = field(default_factory=list)
    process_cpu_burst: list[float] = field(default_factory=list)
    process_rss_peak_gb: list[float] = field(default_factory=list)
    pages_per_process: list[int] = field(default_factory=list)
    threads: int = 0
    # the proxy's own CPU (through HAProxy only)
    proxy_cpu_open: float | None = None
    proxy_cpu_burst: float | None = None


def _rss_gb(pid: int) -> float:
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**30
    except psutil.Error:
        return 0.0


def _cpu_seconds(pid: int) -> float:
    """CPU time the server has used so far (user + system): what of the wall
    time is the server's, and what is the browsers' on the same two cores."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except psutil.Error:
        return 0.0


def _shows(state: list[dict], text: str) -> bool:
    """Whether the first chart's x axis reads ``text``: its tokens or its
    morphemes (whichever view the page opens with), without ``<bos>``."""
    if not state:
        return False
    joined = "".join(state[0]["xticks"]).replace("&lt;bos&gt;", "").replace("<bos>", "")
    return joined == text


def _burst(url: str, app_pids: list[int], proxy_pid: int | None, texts: list[str], timeout: float,
           screenshot: str) -> LoadResult:
    """Open one page per sentence at ``url``, then submit every sentence at once."""
    from browser import chromium

    (ROOT / "artifacts").mkdir(exist_ok=True)
    pages = len(texts)
    result = LoadResult(pages)
    with chromium() as browser:
        peak = [_rss_gb(pid) for pid in app_pids]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                for k, pid in enumerate(app_pids):
                    peak[k] = max(peak[k], _rss_gb(pid))
                time.sleep(0.25)

        def cpu() -> list[float]:
            return [_cpu_seconds(pid) for pid in app_pids]

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        cpu0, proxy0 = cpu(), _cpu_seconds(proxy_pid) if proxy_pid else 0.0
        contexts, tabs = [], []
        for _ in range(pages):
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            page = context.new_page()
            page.goto(url, wait_until="commit")
            contexts.append(context)
            tabs.append(page)
        for page in tabs:  # every student sees the first view before anyone types
            page.wait_for_selector(".js-plotly-plot", timeout=timeout * 1000)
        result.open_seconds = time.perf_counter() - t0
        cpu1, proxy1 = cpu(), _cpu_seconds(proxy_pid) if proxy_pid else 0.0
        result.process_cpu_open = [b - a for a, b in zip(cpu0, cpu1)]
        result.rss_before_gb = sum(_rss_gb(pid) for pid in app_pids)

        for page, text in zip(tabs, texts):
            page.get_by_label("文", exact=True).fill(text)
        start = time.perf_counter()
        cpu1 = cpu()
        for page in tabs:  # Enter on every page within a few milliseconds
            page.get_by_label("文", exact=True).press("Enter")
        pending = dict(enumerate(texts))
        answered: dict[int, float] = {}
        while pending and time.perf_counter() - start < timeout:
            for i in list(pending):
                page = tabs[i]
                if page.locator("[data-testid=stException]").count():
                    result.errors.append(f"page {i}: exception on screen")
                    pending.pop(i)
                    continue
                state = page.evaluate(STATE_JS)
                if _shows(state, pending[i]):
                    answered[i] = time.perf_counter() - start
                    pending.pop(i)
            time.sleep(0.05)
        for i in pending:
            result.errors.append(f"page {i}: no answer for 「{texts[i]}」 within {timeout:.0f} s")
        for i, page in enumerate(tabs):
            if page.locator("[data-testid=stAlertContentError]").count():
                result.errors.append(f"page {i}: error message on screen")
        result.process_cpu_burst = [b - a for a, b in zip(cpu1, cpu())]
        if proxy_pid:
            result.proxy_cpu_open = proxy1 - proxy0
            result.proxy_cpu_burst = _cpu_seconds(proxy_pid) - proxy1
        result.server_cpu_open = sum(result.process_cpu_open)
        result.server_cpu_burst = sum(result.process_cpu_burst)
        if answered:
            result.first_answer = min(answered.values())
            result.all_answered = max(answered.values())
        if proxy_pid:  # which process each page stayed on: the proxy's sticky cookie
            from components.serve import STICKY_COOKIE

            names = [next((c["value"] for c in ctx.cookies() if c["name"] == STICKY_COOKIE), "?") for ctx in contexts]
            result.pages_per_process = [names.count(f"app{k + 1}") for k in range(len(app_pids))]
        else:
            result.pages_per_process = [pages]
        tabs[-1].screenshot(path=str(ROOT / "artifacts" / screenshot), full_page=True)
        stop.set()
        sampler.join(2)
        result.process_rss_peak_gb = [max(p, _rss_gb(pid)) for p, pid in zip(peak, app_pids)]
        result.rss_peak_gb = sum(result.process_rss_peak_gb)
    return result


def run_load_test(pages: int = 20, timeout: float = 180.0) -> LoadResult:
    """The burst against one `streamlit run`."""
    from browser import streamlit_server

    from components import models

    models.prepare_bundled()
    with streamlit_server() as (url, proc):
        result = _burst(url, [proc.pid], None, sentences(pages), timeout, f"load-{pages}.png")
    result.threads = _default_threads()
    return result


def run_through_proxy(pages: int = 20, processes: int = 2, timeout: float = 180.0) -> LoadResult:
    """The same burst through `python -m components serve --processes N` (HAProxy)."""
    from browser import hall_server
    from components.serve import available_cores, thread_split

    from components import models

    models.prepare_bundled()
    with hall_server(processes, log_requests=False) as hall:
        pids = [hall.apps[f"app{k + 1}"] for k in range(processes)]
        result = _burst(hall.url, pids, hall.proxy_pid, sentences(pages), timeout,
                        f"load-{pages}-hall-{processes}.png")
    result.threads = thread_split(available_cores(), processes)
    return result


def _default_threads() -> int:
    import torch

    return torch.get_num_threads()


def print_table(r: LoadResult) -> None:
    rows = [
        ("pages (sessions)", f"{r.pages}", ""),
        ("errors", f"{len(r.errors)}", "0"),
        ("all pages open (s)", f"{r.open_seconds:.1f}", ""),
        ("first page answered (s)", f"{r.first_answer:.1f}", ""),
        ("every page answered (s)", f"{r.all_answered:.1f}", "<= 60 s for 20 pages"),
        ("server CPU while pages opened (s)", f"{r.server_cpu_open:.1f}", ""),
        ("server CPU during the burst (s)", f"{r.server_cpu_burst:.1f}", ""),
        ("server RSS before the burst (GB)", f"{r.rss_before_gb:.2f}", ""),
        ("server RSS peak (GB)", f"{r.rss_peak_gb:.2f}", ""),
    ]
    print(f"{'measure':<36} {'value':>8}   target")
    print("-" * 64)
    for name, value, target in rows:
        print(f"{name:<36} {value:>8}   {target}")
    for error in r.errors:
        print("error:", error)


def print_comparison(single: LoadResult, hall: LoadResult) -> None:
    """One process and the hall, side by side; per-process values joined by " / "."""

    def each(values, fmt: str = "{:.1f}") -> str:
        return " / ".join(fmt.format(v) for v in values)

    def proxy(value) -> str:
        return "-" if value is None else f"{value:.2f}"

    n = len(hall.process_cpu_burst)
    rows = [
        ("pages (sessions)", f"{single.pages}", f"{hall.pages}"),
        ("pages per process", each(single.pages_per_process, "{}"), each(hall.pages_per_process, "{}")),
        ("torch threads per process", f"{single.threads}", f"{hall.threads}"),
        ("errors", f"{len(single.errors)}", f"{len(hall.errors)}"),
        ("all pages open (s)", f"{single.open_seconds:.1f}", f"{hall.open_seconds:.1f}"),
        ("first page answered (s)", f"{single.first_answer:.1f}", f"{hall.first_answer:.1f}"),
        ("every page answered (s)", f"{single.all_answered:.1f}", f"{hall.all_answered:.1f}"),
        ("app CPU while pages opened (s)", each(single.process_cpu_open), each(hall.process_cpu_open)),
        ("app CPU during the burst (s)", each(single.process_cpu_burst), each(hall.process_cpu_burst)),
        ("  all apps, during the burst (s)", f"{single.server_cpu_burst:.1f}", f"{hall.server_cpu_burst:.1f}"),
        ("proxy CPU while pages opened (s)", proxy(single.proxy_cpu_open), proxy(hall.proxy_cpu_open)),
        ("proxy CPU during the burst (s)", proxy(single.proxy_cpu_burst), proxy(hall.proxy_cpu_burst)),
        ("app RSS peak (GB)", each(single.process_rss_peak_gb, "{:.2f}"), each(hall.process_rss_peak_gb, "{:.2f}")),
    ]
    right = f"{n} processes + HAProxy"
    print(f"{'measure':<34} {'1 process':>14}   {right}")
    print("-" * 78)
    for name, a, b in rows:
        print(f"{name:<34} {a:>14}   {b}")
    for label, r in (("1 process", single), ("hall", hall)):
        for error in r.errors:
            print(f"error ({label}):", error)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--through-proxy", action="store_true",
                    help="also run the burst through HAProxy (python -m components serve) and compare")
    ap.add_argument("--processes", type=int, default=2, help="app processes behind the proxy (with --through-proxy)")
    args = ap.parse_args()
    if not args.through_proxy:
        print_table(run_load_test(args.pages, args.timeout))
        return
    single = run_load_test(args.pages, args.timeout)  # the same run, one after the other on the same machine
    hall = run_through_proxy(args.pages, args.processes, args.timeout)
    print_comparison(single, hall)


if __name__ == "__main__":
    main()
