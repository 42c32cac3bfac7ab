"""Benchmark the logit lens and the head knockouts on the bundled Gemma 3 270M.

Prints a table; never passes or fails. Targets on the 2-core reference
machine: lens for one position <= 0.3 s, full lens grid for a 20-token
sentence <= 3 s, all 72 head knockouts (plus 18 attention blocks and 18 MLPs)
for one position <= 5 s. Each row is timed alternately with a bare forward
pass over the same tokens, so the ratio column stays readable when other
work shares the cores; "cpu s" is the process's CPU time over all its
threads (about twice the wall time on two idle cores). The load average is
printed before and after.

    python bench/bench_lens.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHORT = "鳥が"
LONG = "昨日の夜、東京では激しい雨が降り続いたので、電車が止まった。"  # about 20 tokens


def _paired_medians(fn_a, fn_b, repeats: int) -> tuple[float, float, float]:
    """Median wall times of two functions, run alternately so that a noisy
    machine slows both alike, and the median CPU time of the first (all threads)."""
    fn_a(), fn_b()  # warm-up
    ta, tb, cpu = [], [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, ta), (fn_b, tb)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - t0)
            if fn is fn_a:
                cpu.append(time.process_time() - c0)
    return statistics.median(ta), statistics.median(tb), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice, 2 on the reference machine)")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from components import models
    from components.analysis import tokenize
    from components.cli import _quiet_transformers
    from components.inference import forward, model_turn
    from components.knockout import run_knockouts
    from components.lens import resolve_token, run_lens

    _quiet_transformers()
    load_before = os.getloadavg()
    loaded = models.load_model(models.BUNDLED_ID)
    track = [resolve_token(loaded, w).id for w in ("鳴", "泣")]
    n_short, n_long = (len(tokenize(loaded, t)) for t in (SHORT, LONG))

    def bare(text):
        ids = [t.id for t in tokenize(loaded, text)]

        def run():
            with model_turn():
                forward(loaded, ids)

        return run

    cases = [
        (f"lens, one position ({n_short} tokens, 2 tracked)", lambda: run_lens(loaded, SHORT, positions=[n_short - 1], track=track), bare(SHORT), "<= 0.3 s"),
        (f"lens, one position ({n_long} tokens, 2 tracked)", lambda: run_lens(loaded, LONG, positions=[n_long - 1], track=track), bare(LONG), "<= 0.3 s"),
        (f"lens, full grid ({n_long} tokens, 19 x {n_long} cells)", lambda: run_lens(loaded, LONG, track=track), bare(LONG), "<= 3 s"),
        (f"knockouts, last position ({n_short} tokens, 108 rows)", lambda: run_knockouts(loaded, SHORT, "鳴", "泣"), bare(SHORT), "<= 5 s"),
        (f"knockouts, last position ({n_long} tokens, 108 rows)", lambda: run_knockouts(loaded, LONG, "電", "駅"), bare(LONG), "<= 5 s"),
        (f"knockouts, position 5 of the {n_long}-token sentence", lambda: run_knockouts(loaded, LONG, "東", position=5), bare(LONG), "<= 5 s"),
    ]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {args.repeats} (median)")
    print(f"{'measure':<52} {'seconds':>8} {'cpu s':>7} {'bare fwd':>9} {'ratio':>6}   target")
    print("-" * 98)
    for name, fn, ref, target in cases:
        t, t_ref, cpu = _paired_medians(fn, ref, args.repeats)
        print(f"{name:<52} {t:8.3f} {cpu:7.2f} {t_ref:9.3f} {t / t_ref:6.1f}   {target}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak memory (max RSS, GB): {peak:.2f}")
    print(f"load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
