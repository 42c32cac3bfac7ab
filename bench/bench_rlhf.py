"""Benchmark the RLHF lesson on the bundled Gemma 3 270M, as a class server runs it.

Loads the class's shared model first (as the app has it in memory), then runs
the three steps once with the default settings (or the ones given) and prints
a table of times, peak memory and what the run achieved. Never passes or
fails; nothing is written to the cache. Targets on the 2-core reference
machine: SFT <= 30 s, RM <= 5 s, the whole policy run <= 120 s, peak < 5 GB.

    python bench/bench_rlhf.py [--task film-review] [--beta 0.05] [--steps 12] [--seed 0] [--no-shared] [--texts]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default=None, help="default: the lesson's default task")
    ap.add_argument("--beta", type=float, default=None)
    ap.add_argument("--steps", type=int, default=None, help="policy steps")
    ap.add_argument("--lr", type=float, default=None, help="policy learning rate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-shared", action="store_true", help="do not load the class's shared model first")
    ap.add_argument("--texts", action="store_true", help="also print the samples before and after")
    args = ap.parse_args()

    import torch

    from components import models, rlhf
    from components.cli import _quiet_transformers

    _quiet_transformers()
    task = rlhf.load_task(args.task or rlhf.DEFAULT_TASK)
    settings = rlhf.RlhfSettings(seed=args.seed)
    for name, value in (("beta", args.beta), ("policy_steps", args.steps), ("policy_lr", args.lr)):
        if value is not None:
            settings = replace(settings, **{name: value})

    t0 = time.perf_counter()
    shared = None if args.no_shared else models.load_model(models.BUNDLED_ID)
    load_s = time.perf_counter() - t0
    rss_shared = rlhf.peak_rss_gb()

    stages: dict[str, float] = {}
    last = [time.perf_counter(), "load"]

    def progress(event: rlhf.ProgressEvent) -> None:
        now = time.perf_counter()
        if event.stage != last[1]:
            stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
            last[:] = [now, event.stage]
        if event.record is not None:
            r = event.record
            print(f"  step {r.step:2d}: reward {r.mean_reward:6.2f} ± {r.std_reward:5.2f}, KL {r.kl:6.2f} nats, "
                  f"{r.seconds:5.1f} s", file=sys.stderr, flush=True)

    run = rlhf.run_all(task, settings, progress=progress)
    s, r, p = run.sft, run.reward, run.policy
    step_s = [x.seconds for x in p.steps]
    eval_s = p.seconds - sum(step_s)

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, task {task.id}, "
          f"shared model {'loaded' if shared else 'not loaded'} ({load_s:.1f} s, RSS {rss_shared:.2f} GB)")
    print(f"settings: SFT {settings.sft_steps} steps lr {settings.sft_lr:g}; RLOO {settings.policy_steps} steps x "
          f"{settings.prompts_per_step} prompts x {settings.samples_per_prompt} samples, lr {settings.policy_lr:g}, "
          f"beta {settings.beta:g}, <= {settings.max_new_tokens} tokens; seed {settings.seed}")
    print()
    rows = [
        ("load the private training copy (s)", stages.get("load", 0.0), ""),
        ("SFT: measure, train, measure (s)", s.seconds, "<= 30 s"),
        ("samples A-D for the class (s)", stages.get("sample", 0.0), ""),
        ("RM: features, fit, scores, fresh samples (s)", r.seconds, "<= 5 s"),
        ("  of which the Bradley-Terry fit (s)", r.fit_seconds, ""),
        ("policy: time per step, median (s)", statistics.median(step_s) if step_s else 0.0, ""),
        ("policy: all steps (s)", sum(step_s), ""),
        ("policy: evaluation, best-of-n (s)", eval_s, ""),
        ("policy: whole run (s)", p.seconds, "<= 120 s"),
        ("everything (s)", run.seconds, ""),
        ("peak memory, process (GB)", run.peak_rss_gb, "< 5 GB"),
    ]
    print(f"{'measure':48s} {'value':>8s}   target")
    print("-" * 72)
    for name, value, target in rows:
        print(f"{name:48s} {value:8.2f}   {target}")
    print()
    print("what it achieved")
    print("-" * 72)
    print(f"SFT demonstrations (nats/token)     {s.demo_logprob_before:7.3f} -> {s.demo_logprob_after:7.3f}")
    print(f"SFT held-out answers (nats/token)   {s.heldout_logprob_before:7.3f} -> {s.heldout_logprob_after:7.3f}"
          f"   ICL, no training: {s.icl_heldout_logprob:7.3f}")
    print(f"RM ranking of A-D                   {r.ranking} ({r.ranking_source})")
    print(f"RM accuracy: training / held-out    {r.train_accuracy:.3f} / {r.heldout_accuracy:.3f}")
    for e in (p.reference, p.policy, p.best_of_n):
        kl = "" if e.kl is None else f", KL {e.kl:.2f} nats"
        print(f"reward of 16 fresh samples, {e.name:10s} {e.mean:6.2f} ± {e.se:.2f} (SE), sd {e.std:.2f}{kl}")
    print(f"gain of the policy                  {p.gain:6.2f} ± {p.gain_se:.2f}  ({p.gain / p.gain_se:.1f} SE)")
    print(f"best-of-{settings.best_of} KL bound (nats)          {p.best_of_n_kl_bound:.2f}")
    if args.texts:
        print()
        for name, e in (("reference", p.reference), ("policy", p.policy), ("best-of-n", p.best_of_n)):
            print(f"{name}:")
            for x in e.samples:
                print(f"  {x.reward:6.2f}  {x.prompt}{x.text}")
        print("policy steps (first sample of each prompt):")
        for st in p.steps:
            print(f"  {st.step:2d} " + " | ".join(x.text for x in st.examples))


if __name__ == "__main__":
    main()
