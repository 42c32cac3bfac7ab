"""Load test: a class of N students opens the app and submits at once.

N headless Chromium pages (default 20, each its own session) open the
explorer; when all are up, each types a different sentence and presses Enter
at the same moment. The script reports errors, the time until every page
shows its own sentence's analysis, and the server's memory. It prints a
table and never fails on time. Target on the 2-core reference machine (which
also runs the browsers): 0 errors and every page answered within 60 s for 20.

    python bench/bench_load.py [--pages 20] [--timeout 180]
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


def run_load_test(pages: int = 20, timeout: float = 180.0) -> LoadResult:
    from transformers import AutoTokenizer

    from browser import chromium, streamlit_server, submit_sentence
    from components import models
    from components.alignment import build_tokens, token_label

    (ROOT / "artifacts").mkdir(exist_ok=True)
    models.prepare_bundled()
    tok = AutoTokenizer.from_pretrained(str(models.bundled_dir()))

    def labels(text: str) -> list[str]:
        enc = tok(text, return_offsets_mapping=True)
        pieces = tok.convert_ids_to_tokens(enc["input_ids"])
        tokens = build_tokens(text, enc["input_ids"], enc["offset_mapping"], pieces, set(tok.all_special_ids))
        return [token_label(t).replace("<", "&lt;").replace(">", "&gt;") for t in tokens]

    texts = sentences(pages)
    result = LoadResult(pages)
    with streamlit_server() as (url, proc), chromium() as browser:
        peak = {"rss": _rss_gb(proc.pid)}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak["rss"] = max(peak["rss"], _rss_gb(proc.pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        cpu0 = _cpu_seconds(proc.pid)
        tabs = []
        for _ in range(pages):
            page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
            page.goto(url, wait_until="commit")
            tabs.append(page)
        for page in tabs:  # every student sees the first view before anyone types
            page.wait_for_selector(".js-plotly-plot", timeout=timeout * 1000)
        result.open_seconds = time.perf_counter() - t0
        result.server_cpu_open = _cpu_seconds(proc.pid) - cpu0
        result.rss_before_gb = _rss_gb(proc.pid)

        for page, text in zip(tabs, texts):
            page.get_by_label("文", exact=True).fill(text)
        start = time.perf_counter()
        cpu1 = _cpu_seconds(proc.pid)
        for page in tabs:  # Enter on every page within a few milliseconds
            page.get_by_label("文", exact=True).press("Enter")
        pending = {i: labels(text) for i, text in enumerate(texts)}
        answered: dict[int, float] = {}
        while pending and time.perf_counter() - start < timeout:
            for i in list(pending):
                page = tabs[i]
                if page.locator("[data-testid=stException]").count():
                    result.errors.append(f"page {i}: exception on screen")
                    pending.pop(i)
                    continue
                state = page.evaluate(STATE_JS)
                if state and state[0]["xticks"] == pending[i]:
                    answered[i] = time.perf_counter() - start
                    pending.pop(i)
            time.sleep(0.05)
        for i in pending:
            result.errors.append(f"page {i}: no answer for 「{texts[i]}」 within {timeout:.0f} s")
        for i, page in enumerate(tabs):
            if page.locator("[data-testid=stAlertContentError]").count():
                result.errors.append(f"page {i}: error message on screen")
        result.server_cpu_burst = _cpu_seconds(proc.pid) - cpu1
        if answered:
            result.first_answer = min(answered.values())
            result.all_answered = max(answered.values())
        tabs[-1].screenshot(path=str(ROOT / "artifacts" / f"load-{pages}.png"), full_page=True)
        stop.set()
        sampler.join(2)
        result.rss_peak_gb = max(peak["rss"], _rss_gb(proc.pid))
    return result


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args()
    print_table(run_load_test(args.pages, args.timeout))


if __name__ == "__main__":
    main()
