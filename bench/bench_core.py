"""Benchmark the analysis core on the bundled Gemma 3 270M.

Prints a table; never passes or fails. Targets on the 2-core reference
machine: analysis <= 1.3x the bare forward pass, load from the prepared cache
<= 15 s, first-ever prepare <= 150 s (with --prepare), peak memory <= 3 GB.

    python bench/bench_core.py [--repeats 9] [--prepare]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENTENCES = {
    5: "鳥がナク",
    20: "昨日の夜、東京では激しい雨が降り続いたので、電車が止まった。",
    80: (
        "昔々、ある山奥の小さな村に、鳥の声を聞き分けることができる不思議な少年が住んでいました。"
        "少年は毎朝早く起きて森へ行き、鳥たちと話をしました。ある日、森の奥で見たこともない"
        "美しい鳥が悲しそうに鳴いているのを見つけました。少年はそっと近づいて理由を尋ねました。"
    ),
}


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _paired_medians(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Median times of two functions, run alternately so that a noisy 2-core
    machine slows both alike."""
    fn_a(), fn_b()  # warm-up
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--prepare", action="store_true", help="also time a first-ever prepare in a fresh cache")
    args = ap.parse_args()

    import torch

    from components import models
    from components.analysis import run_analysis, tokenize
    from components.cli import _quiet_transformers

    _quiet_transformers()
    rows = []
    if args.prepare:
        # in a child process, so that its time and peak memory are its own
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, models.CACHE_ENV: tmp}
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "components", "prepare"], env=env, check=True,
                           cwd=Path(__file__).resolve().parents[1], capture_output=True)
            elapsed = time.perf_counter() - t0
            child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
            rows.append(("first-ever prepare (assemble, verify, convert)", elapsed, "<= 150 s"))
            rows.append(("  peak memory of that prepare (GB)", child_peak, "<= 3 GB"))
    models.prepare_bundled()
    t0 = time.perf_counter()
    loaded = models.load_model(models.BUNDLED_ID)
    rows.append(("load from prepared cache (incl. sha256 check)", time.perf_counter() - t0, "<= 15 s"))

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {args.repeats} (median)\n")
    for name, value, target in rows:
        unit = "" if "GB" in name else " s"
        print(f"{name:<52} {value:8.2f}{unit:2}   target {target}")
    print()
    print(f"{'tokens':>6} | {'bare forward (s)':>16} | {'full analysis (s)':>17} | {'ratio':>5} | target")
    print(f"{'-' * 6}-+-{'-' * 16}-+-{'-' * 17}-+-{'-' * 5}-+-------")
    for _, text in SENTENCES.items():
        n = len(tokenize(loaded, text, max_tokens=1000))
        ids = torch.tensor([[t.id for t in tokenize(loaded, text, max_tokens=1000)]])

        def bare():
            with torch.inference_mode():
                loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)

        def full():
            run_analysis(loaded, text, max_tokens=1000)

        tb, ta = _paired_medians(bare, full, args.repeats)
        print(f"{n:>6} | {tb:16.3f} | {ta:17.3f} | {ta / tb:5.2f} | <= 1.3")
    print(f"\npeak memory of load + analyses (max RSS): {_peak_rss_gb():.2f} GB   target <= 3 GB")


if __name__ == "__main__":
    main()
