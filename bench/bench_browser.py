"""Browser benchmark of the explorer page, in headless Debian Chromium.

Prints a table; never passes or fails. Targets on the 2-core reference
machine with the bundled model prepared:

  first heatmap after `streamlit run`            <= 20 s
  new 5-15 character sentence, all charts redrawn  median <= 1.0 s
  switching layer or head                          median <= 0.4 s
  all-heads overview drawn (longest sentence)      <= 1.5 s

    python bench/bench_browser.py [--repeats 8] [--compare PATH]

``--compare PATH`` also measures another checkout of the app (say, the last
release in a git worktree) in the same run, alternating with this one, and
prints the two side by side. If a wait does not finish, the benchmark stops
and says which one.
"""

from __future__ import annotations

import argparse
import html
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SENTENCES = [
    "猫が魚を食べる", "犬が公園で走る", "空が青く晴れた", "花がきれいに咲く", "子どもが本を読む",
    "風が強く吹いている", "母が料理を作った", "電車が駅に着いた", "星が夜空に光る", "私は水を飲みたい",
    "先生が黒板に字を書く", "川の水がとても冷たい",
]

STATE_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
    title: (gd.layout && gd.layout.title && gd.layout.title.text) || '',
    xticks: (gd.layout && gd.layout.xaxis && gd.layout.xaxis.ticktext) || [],
    rows: (gd.data && gd.data[0] && gd.data[0].z)
        ? (gd.data[0].z.shape ? parseInt(String(gd.data[0].z.shape).split(',')[0]) : gd.data[0].z.length) : 0,
    heat: gd.querySelectorAll('.heatmaplayer image').length,
}))"""


class WaitFailed(RuntimeError):
    """A wait of the benchmark did not finish: the message says which."""


def wait_for(page, what: str, predicate_js: str, arg=None, timeout_ms: int = 60_000) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(predicate_js, arg=arg, timeout=timeout_ms, polling=20)
    except PlaywrightTimeout:
        raise WaitFailed(f"waited {timeout_ms / 1000:.0f} s for {what}, and it did not happen") from None


def measure(root: Path, repeats: int, labels, overview_rows, name: str) -> dict:
    """Every row of the table for the app checked out at ``root``."""
    from browser import chromium, streamlit_server, submit_sentence, wait_for_app
    from components.analysis import MAX_TOKENS
    from components.views import shorten_left

    results: dict = {}
    t_start = time.perf_counter()
    with streamlit_server(root=root) as (url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        # token units with the first column shown: the view every checkout can open, whose
        # labels the waits compare (the default example opens in morpheme units, <bos> hidden)
        page.goto(url + "/?view=token&hide_sink=0")
        wait_for(page, "the first heatmap", f"() => ({STATE_JS})().some(p => p.heat > 0)", timeout_ms=180_000)
        results["first"] = time.perf_counter() - t_start
        wait_for_app(page)

        def submit_and_wait(text: str) -> float:
            want = labels(text)
            # the next-token chart's title ends with the sentence, shortened from the left
            title = html.escape(shorten_left(text), quote=False)
            t0 = time.perf_counter()
            submit_sentence(page, text)
            wait_for(
                page, f"every chart of 「{text}」 ({len(want)} tokens)",
                """([want, rows, title]) => { const s = (%s)();
                    return s.length >= 3 && JSON.stringify(s[0].xticks) === JSON.stringify(want)
                        && s.some(p => p.rows === rows && p.heat > 0)
                        && s.some(p => p.title.includes(title)); }""" % STATE_JS,
                arg=[[x.replace("<", "&lt;").replace(">", "&gt;") for x in want], overview_rows(len(want)), title],
            )
            return time.perf_counter() - t0

        results["sentence_times"] = [submit_and_wait(s) for s in SENTENCES[: max(repeats, 3)]]

        switch_times = []
        for i in range(repeats):
            group, value = ("層", str(3 + i)) if i % 2 == 0 else ("ヘッド", str(1 + i % 3))  # layer, then head
            before = page.evaluate(f"() => ({STATE_JS})()[0].title")
            t0 = time.perf_counter()
            page.get_by_role("radiogroup", name=group).get_by_role("radio", name=value, exact=True).click()
            wait_for(page, f"the head in detail to show {group} {value}",
                     f"(before) => ({STATE_JS})()[0].title !== before", arg=before)
            switch_times.append(time.perf_counter() - t0)
        results["switch_times"] = switch_times

        # the all-heads overview grows with the square of the sentence: time it
        # for several lengths up to the limit
        base = "昔々、ある山奥の小さな村に、鳥の声を聞き分けることができる不思議な少年が住んでいました。" * 3
        overview = []
        for n_target in (16, 32, 48, MAX_TOKENS):
            times = []
            for variant in range(3):  # three different sentences of that length
                text = base[variant * 7:]
                while len(labels(text)) > n_target:
                    text = text[:-1]
                times.append(submit_and_wait(text))
            overview.append((len(labels(text)), statistics.median(times)))
        results["overview"] = overview
        page.screenshot(path=str(ROOT / "artifacts" / f"bench-browser-{name}.png"), full_page=True)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--compare", type=Path, help="another checkout of the app, measured in the same run")
    args = ap.parse_args()

    from transformers import AutoTokenizer

    from components import models
    from components.alignment import build_tokens, token_label
    from components.figures import overview_gap

    (ROOT / "artifacts").mkdir(exist_ok=True)
    models.prepare_bundled()
    tok = AutoTokenizer.from_pretrained(str(models.bundled_dir()))
    special = set(tok.all_special_ids)

    def labels(text: str) -> list[str]:
        enc = tok(text, return_offsets_mapping=True)
        pieces = tok.convert_ids_to_tokens(enc["input_ids"])
        return [token_label(t) for t in build_tokens(text, enc["input_ids"], enc["offset_mapping"], pieces, special)]

    def overview_rows(n_tokens: int) -> int:
        return 4 * (n_tokens + overview_gap(n_tokens)) - overview_gap(n_tokens)

    roots = {"this": ROOT} | ({"compared": args.compare.resolve()} if args.compare else {})
    try:
        runs = {name: measure(root, args.repeats, labels, overview_rows, name) for name, root in roots.items()}
    except WaitFailed as exc:
        sys.exit(f"bench_browser: {exc}. See the server log in artifacts/.")

    def row_values(r: dict) -> list[float]:
        return [r["first"], statistics.median(r["sentence_times"]), statistics.median(r["switch_times"]),
                *[t for _, t in r["overview"]]]

    first = next(iter(runs.values()))
    names = ["first heatmap after `streamlit run`",
             f"new sentence, all charts redrawn (median of {len(first['sentence_times'])})",
             f"switch layer or head (median of {len(first['switch_times'])})",
             *[f"{n}-token sentence, all charts incl. overview (median of 3)" for n, _ in first["overview"]]]
    targets = ["<= 20 s", "<= 1.0 s", "<= 0.4 s"] + ["<= 1.5 s"] * len(first["overview"])
    columns = {name: row_values(r) for name, r in runs.items()}
    print(f"{'measure':<58} " + " ".join(f"{name:>9}" for name in columns) + "   target")
    print("-" * (70 + 10 * len(columns)))
    for i, (name, target) in enumerate(zip(names, targets)):
        print(f"{name:<58} " + " ".join(f"{values[i]:9.2f}" for values in columns.values()) + f"   {target}")
    for name, r in runs.items():
        print(f"\n[{name}: {roots[name]}]")
        print("all sentence times:", " ".join(f"{x:.2f}" for x in r["sentence_times"]))
        print("all switch times:  ", " ".join(f"{x:.2f}" for x in r["switch_times"]))


if __name__ == "__main__":
    main()
