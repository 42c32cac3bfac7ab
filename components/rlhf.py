"""RLHF in the classroom: InstructGPT's three steps on the bundled model.

1. **SFT** (:func:`run_sft`): a LoRA fine-tune on the task's demonstrations,
   measured against the same demonstrations put in the prompt instead
   (in-context learning, no training).
2. **Reward model** (:func:`run_reward_model`): four samples A-D from the SFT
   policy, ranked with ties (``D > C > A = B``); the ranking's pairs plus the
   task's preference set fit a linear Bradley-Terry head over the frozen base
   model's mean-pooled last-layer states.
3. **Policy optimisation** (:func:`run_policy`): RLOO with a KL penalty to
   the SFT policy, in visible steps, beside best-of-n with the same reward
   model.

:func:`run_sft_stage` runs step 1 alone (what a page shows before the class
ranks); :func:`run_all` runs the three steps. Both take a progress callback
and a :class:`CancelToken`, and return JSON-ready frozen dataclasses
(:mod:`components.rlhf_results`). The job queue and the result cache live in
:mod:`components.rlhf_jobs`.

**Why a plain torch loop for the reward model, not TRL's RewardTrainer.**
``RewardTrainer`` fine-tunes a whole sequence-classification model, with its
tokenisation, collation, batching and checkpointing. Here the base model stays
frozen: its features are computed once, and the only trainable part is a
640 -> 1 linear head on a few dozen pairs, which full-batch Adam fits in a
few hundredths of a second; a trainer around it would add machinery, not
accuracy.

The model the class is using is never touched: training runs on a private
copy (:func:`components.rlhf_train.training_copy`).
"""

from __future__ import annotations

import math
import resource
import time
from typing import Sequence

import numpy as np

from components import rlhf_train as T
from components.models import BUNDLED_ID, TINY_ID  # noqa: F401  (re-exported for the page)
from components.rlhf_data import (  # noqa: F401  (re-exported: the page needs one import)
    LETTERS,
    Demo,
    PreferencePair,
    RlhfInputError,
    RlhfTask,
    check_task,
    class_pairs,
    format_ranking,
    load_task,
    parse_demos,
    parse_ranking,
    ranking_pairs,
    task_ids,
)
from components.rlhf_results import (  # noqa: F401
    ALGORITHM,
    ALGORITHM_VS_PPO,
    DEFAULT_TASK,
    CancelToken,
    Evaluation,
    PairResult,
    PolicyReport,
    PolicyStep,
    Progress,
    ProgressEvent,
    RewardReport,
    RlhfCancelled,
    RlhfRun,
    RlhfSettings,
    Sample,
    SftReport,
    SftStage,
    _Reporter,
    from_json,
    run_key,
    to_json,
)

_QUIET = _Reporter(None)
#: rewards closer than this (nats of Bradley-Terry log-odds) are tied when the RM ranks A-D itself
TIE_MARGIN = 1.0


def peak_rss_gb() -> float:
    """The process's peak resident memory so far, GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ------------------------------------------------------------------ helpers


def _answer_ids(tc: T.TrainingCopy, text: str) -> list[int]:
    return list(tc.tokenizer(text, add_special_tokens=False).input_ids)


def _strip_end(tc: T.TrainingCopy, ids: Sequence[int]) -> tuple[list[int], bool]:
    """A sample's answer tokens without its end-of-text token, and whether it had one."""
    ids = list(ids)
    if ids and ids[-1] == tc.eos_id:
        return ids[:-1], True
    return ids, False


def _samples(tc: T.TrainingCopy, prompts: str | Sequence[str], raw: Sequence[Sequence[int]], rewards=None) -> tuple[Sample, ...]:
    """Samples as texts; ``prompts`` is one prompt for all, or one per sample."""
    out = []
    for i, ids in enumerate(raw):
        answer, ended = _strip_end(tc, ids)
        reward = None if rewards is None else float(rewards[i])
        prompt = prompts if isinstance(prompts, str) else prompts[i]
        out.append(Sample(prompt, T.decode(tc, answer), reward, ended))
    return tuple(out)


def _rewards(tc: T.TrainingCopy, head: T.LinearHead, prompts: Sequence[Sequence[int]], raw: Sequence[Sequence[int]]) -> np.ndarray:
    """The reward model's score of sampled answers (one per prompt)  # [answer]."""
    return head(T.features(tc, [(p, _strip_end(tc, ids)[0]) for p, ids in zip(prompts, raw)]))


def _text_features(tc: T.TrainingCopy, items: Sequence[tuple[str, str]]) -> np.ndarray:
    """Features of ``(prompt, answer text)`` items, in order  # [item, hidden]."""
    return T.features(tc, [(T.encode(tc, p)[0], _answer_ids(tc, a)) for p, a in items])


def _pair_results(head: T.LinearHead, tc: T.TrainingCopy, pairs: Sequence[PreferencePair], source: str,
                  feats: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[PairResult, ...]:
    if not pairs:
        return ()
    chosen, rejected = feats if feats is not None else (
        _text_features(tc, [(p.prompt, p.chosen) for p in pairs]),
        _text_features(tc, [(p.prompt, p.rejected) for p in pairs]),
    )
    rc, rr = head(chosen), head(rejected)
    return tuple(
        PairResult(p.prompt, p.chosen, p.rejected, float(a), float(b), source) for p, a, b in zip(pairs, rc, rr)
    )


def _accuracy(results: Sequence[PairResult]) -> float:
    return sum(r.correct for r in results) / len(results) if results else math.nan


def _cycle(prompts: Sequence[str], start: int, n: int) -> list[str]:
    """``n`` prompts taken in turn from ``start`` on, wrapping around."""
    return [prompts[(start + i) % len(prompts)] for i in range(n)]


# ------------------------------------------------------------------ step 1


def run_sft(
    tc: T.TrainingCopy, task: RlhfTask, settings: RlhfSettings, candidates: Sequence[str] | None = None,
    report: _Reporter = _QUIET, check=T.no_check,
) -> SftReport:
    """Step 1 on ``tc``'s ``sft`` adapter: measure, fine-tune, measure again,
    and draw the samples A-D the class ranks (or take ``candidates``, the
    texts a class already ranked).

    Log-probabilities are nats per answer token, the end-of-text token left
    out: in the ICL prompt an answer ends with a line break instead, and the
    comparison must be fair. Training does include the end-of-text token, so
    that the policy learns to stop."""
    start = time.perf_counter()
    s = settings
    train = [T.encode(tc, d.prompt, d.answer, eos=True) for d in task.demos]
    demos = [T.encode(tc, d.prompt, d.answer, eos=False) for d in task.demos]
    held = [T.encode(tc, d.prompt, d.answer, eos=False) for d in task.heldout]
    context = "".join(f"{d.prompt}{d.answer}\n" for d in task.demos)
    icl = [T.encode(tc, context + d.prompt, d.answer, eos=False) for d in task.heldout]
    # one batch layout for both samplings (a decoding step costs about the same
    # for 1 row or 10): row 0 is the before/after sample, rows 1-4 the
    # candidates A-D, then fresh samples for step 2. The same seed and layout
    # give the base model and the SFT policy the same random draws.
    prompt_ids = T.encode(tc, task.rank_prompt)[0]
    fresh_prompt = task.sample_prompts[1 % len(task.sample_prompts)]
    layout = [prompt_ids] * (1 + len(LETTERS)) + [T.encode(tc, fresh_prompt)[0]] * s.n_fresh
    report("sft", 0, s.sft_steps)
    with tc.base():
        demo_before, held_before = T.mean_logprob(tc, demos), T.mean_logprob(tc, held)
        icl_lp = T.mean_logprob(tc, icl)
        before = T.sample(tc, layout, s.max_new_tokens, [s.seed, 1], check=check)[:1]
    with tc.adapter("sft"):
        losses = T.sft_train(
            tc, train, s.sft_steps, s.sft_lr, s.sft_batch, s.seed,
            on_step=lambda i, _: report("sft", i + 1, s.sft_steps), check=check,
        )
        demo_after, held_after = T.mean_logprob(tc, demos), T.mean_logprob(tc, held)
        report("sample", 0, 1)
        raw = T.sample(tc, layout, s.max_new_tokens, [s.seed, 1], check=check)
    after, drawn, fresh = raw[:1], raw[1 : 1 + len(LETTERS)], raw[1 + len(LETTERS) :]
    drawn = _samples(tc, task.rank_prompt, drawn) if candidates is None else tuple(
        Sample(task.rank_prompt, t) for t in candidates
    )
    report("sample", 1, 1)
    return SftReport(
        demo_logprob_before=demo_before, demo_logprob_after=demo_after,
        heldout_logprob_before=held_before, heldout_logprob_after=held_after,
        icl_heldout_logprob=icl_lp, icl_prompt=context, losses=tuple(losses),
        sample_prompt=task.rank_prompt,
        sample_before=_samples(tc, task.rank_prompt, before)[0], sample_after=_samples(tc, task.rank_prompt, after)[0],
        candidates=drawn, fresh=_samples(tc, fresh_prompt, fresh),
        trainable_params=tc.trainable_count(), seconds=time.perf_counter() - start,
    )


# ------------------------------------------------------------------ step 2


def rank_by_reward(rewards: Sequence[float], tie: float = TIE_MARGIN) -> tuple[tuple[str, ...], ...]:
    """Ranking groups (best first) of answers A, B, ... by reward; answers
    within ``tie`` of the next one up are tied. Rewards are Bradley-Terry
    log-odds, so a gap under 1 means a preference weaker than 73 %."""
    order = sorted(range(len(rewards)), key=lambda i: -rewards[i])
    groups: list[list[str]] = []
    for rank, i in enumerate(order):
        if rank and rewards[order[rank - 1]] - rewards[i] < tie:
            groups[-1].append(LETTERS[i])
        else:
            groups.append([LETTERS[i]])
    return tuple(tuple(sorted(g)) for g in groups)


def run_reward_model(
    tc: T.TrainingCopy, task: RlhfTask, settings: RlhfSettings, candidates: Sequence[Sample],
    groups: Sequence[Sequence[str]] | None, fresh: Sequence[Sample] = (), report: _Reporter = _QUIET,
    check=T.no_check,
) -> tuple[RewardReport, T.LinearHead]:
    """Step 2: fit the Bradley-Terry head on the ranking's pairs of the
    candidates A-D (a tie makes none) plus the task's preference set, and
    score everything, including ``fresh`` SFT samples it never saw. Returns
    the report and the head (kept in memory for step 3, never cached).

    ``groups=None`` (no class, as in the CLI): a head fit on the preference
    set alone ranks A-D (:func:`rank_by_reward`), and the report says so."""
    start = time.perf_counter()
    s = settings
    report("reward", 0, 3)
    texts = [c.text for c in candidates]
    cand = _text_features(tc, [(task.rank_prompt, t) for t in texts])  # [candidate, hidden]
    built_c = _text_features(tc, [(p.prompt, p.chosen) for p in task.preferences])  # [pair, hidden]
    built_r = _text_features(tc, [(p.prompt, p.rejected) for p in task.preferences])
    check()
    report("reward", 1, 3)
    source = "class"
    if groups is None:
        pre = T.fit_bradley_terry(built_c, built_r, l2=s.rm_l2, iters=s.rm_iters)
        groups, source = rank_by_reward(pre(cand)), "reward-model"
    mine = class_pairs(task.rank_prompt, texts, groups)
    pairs = [(LETTERS.index(b), LETTERS.index(w)) for b, w in ranking_pairs(groups)]
    chosen = np.concatenate([cand[[b for b, _ in pairs]], built_c])
    rejected = np.concatenate([cand[[w for _, w in pairs]], built_r])
    fit_start = time.perf_counter()
    head = T.fit_bradley_terry(chosen, rejected, l2=s.rm_l2, iters=s.rm_iters)
    fit_seconds = time.perf_counter() - fit_start
    train_results = (
        _pair_results(head, tc, mine, "class", (chosen[: len(mine)], rejected[: len(mine)]))
        + _pair_results(head, tc, task.preferences, "built-in", (built_c, built_r))
    )
    heldout = _pair_results(head, tc, task.heldout_preferences, "held-out")
    scored = head(cand)
    report("reward", 2, 3)
    fresh_rewards = head(_text_features(tc, [(x.prompt, x.text) for x in fresh])) if fresh else []
    report("reward", 3, 3)
    return RewardReport(
        ranking=format_ranking(groups), ranking_source=source,
        candidates=tuple(Sample(c.prompt, c.text, float(r), c.ended) for c, r in zip(candidates, scored)),
        train_pairs=train_results, heldout_pairs=heldout,
        train_accuracy=_accuracy(train_results), heldout_accuracy=_accuracy(heldout),
        fresh=tuple(Sample(x.prompt, x.text, float(r), x.ended) for x, r in zip(fresh, fresh_rewards)),
        loss_first=head.losses[0], loss_last=head.losses[-1], fit_seconds=fit_seconds,
        seconds=time.perf_counter() - start,
    ), head


# ------------------------------------------------------------------ step 3


def run_policy(
    tc: T.TrainingCopy, task: RlhfTask, settings: RlhfSettings, head: T.LinearHead,
    report: _Reporter = _QUIET, check=T.no_check,
) -> PolicyReport:
    """Step 3: RLOO on a ``policy`` adapter that starts as a copy of ``sft``,
    against ``head``, with a KL penalty ``beta`` to the SFT policy. Then 16
    fresh samples (``n_eval``) from the reference and from the policy, and
    best-of-n from the reference, all scored by the same head."""
    import torch

    start = time.perf_counter()
    s = settings
    prompts = task.sample_prompts
    ids = {p: T.encode(tc, p)[0] for p in prompts}
    tc.start_policy()
    optimiser = torch.optim.AdamW(tc.trainable(), lr=s.policy_lr, weight_decay=0.0)
    k = s.samples_per_prompt
    steps: list[PolicyStep] = []
    report("policy", 0, s.policy_steps)
    for step in range(s.policy_steps):
        t0 = time.perf_counter()
        chosen = _cycle(prompts, step * s.prompts_per_step, s.prompts_per_step)
        flat = [p for p in chosen for _ in range(k)]  # [sample]: group g is flat[g*k : (g+1)*k]
        flat_ids = [ids[p] for p in flat]
        raw = T.sample(tc, flat_ids, s.max_new_tokens, [s.seed, 3, step], check=check)
        rewards = _rewards(tc, head, flat_ids, raw)  # [sample]
        check()
        batch = T.Batch(tuple(tuple(x) for x in flat_ids), tuple(tuple(a) for a in raw))
        info = T.rloo_update(tc, optimiser, batch, rewards.reshape(len(chosen), k), s.beta)
        mean, std, _ = T.mean_and_se(rewards)
        examples = _samples(tc, flat[::k], raw[::k], rewards[::k])  # the first sample of each prompt
        record = PolicyStep(step, mean, std, info["kl"], info["loss"], examples, time.perf_counter() - t0)
        steps.append(record)
        report("policy", step + 1, s.policy_steps, record)
    optimiser.zero_grad(set_to_none=True)
    del optimiser

    # 16 fresh samples from the reference and from the policy, on the same prompts
    report("evaluate", 0, 3)
    slots = _cycle(prompts, 0, s.n_eval)
    slot_ids = [ids[p] for p in slots]
    n = s.best_of
    # the reference's samples and best-of-n's other n - 1 per slot, in one batch
    with tc.adapter("sft"):
        both = T.sample(tc, slot_ids * n, s.max_new_tokens, [s.seed, 4], check=check)
    ref_all = _samples(tc, slots * n, both, _rewards(tc, head, slot_ids * n, both))
    ref = ref_all[: len(slots)]
    report("evaluate", 1, 3)
    with tc.adapter("policy"):
        pol_raw = T.sample(tc, slot_ids, s.max_new_tokens, [s.seed, 4], check=check)
    pol = _samples(tc, slots, pol_raw, _rewards(tc, head, slot_ids, pol_raw))
    kls = T.kl_per_answer(tc, list(zip(slot_ids, pol_raw)))
    report("evaluate", 2, 3)
    # best-of-n: for each slot, the reference sample and n - 1 more; the RM picks
    best = [max(ref_all[i :: len(slots)], key=lambda x: x.reward) for i in range(len(slots))]
    report("evaluate", 3, 3)
    reference = _evaluation("reference", ref, 0.0)
    policy = _evaluation("policy", pol, float(np.mean(kls)))
    best_of_n = _evaluation("best-of-n", best, None)
    return PolicyReport(
        algorithm=ALGORITHM, algorithm_vs_ppo=ALGORITHM_VS_PPO, beta=s.beta, steps=tuple(steps),
        reference=reference, policy=policy, best_of_n=best_of_n,
        best_of_n_kl_bound=math.log(n) - (n - 1) / n,
        gain=policy.mean - reference.mean, gain_se=math.hypot(policy.se, reference.se),
        seconds=time.perf_counter() - start,
    )


def _evaluation(name: str, samples: Sequence[Sample], kl: float | None) -> Evaluation:
    mean, std, se = T.mean_and_se([x.reward for x in samples])
    return Evaluation(name, mean, std, se, kl, tuple(samples))


# ------------------------------------------------------------ whole jobs


def run_sft_stage(
    task: RlhfTask, settings: RlhfSettings = RlhfSettings(), progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> SftStage:
    """Step 1 and the samples A-D, on a private copy of the model (freed after)."""
    check_task(task)
    settings.check()
    report = _Reporter(progress, only=("load", "sft", "sample"))
    check = cancel.check if cancel else T.no_check
    report("load", 0, 1)
    with T.training_copy(settings.model_id, settings.lora_r, settings.seed) as tc:
        check()
        report("load", 1, 1)
        sft = run_sft(tc, task, settings, None, report, check)
    report("done", 1, 1)
    return SftStage(run_key("sft", task, settings), task, settings, sft, _now())


def run_all(
    task: RlhfTask, settings: RlhfSettings = RlhfSettings(), ranking: str | None = None,
    candidates: Sequence[str] | None = None, progress: Progress | None = None, cancel: CancelToken | None = None,
) -> RlhfRun:
    """All three steps on a private copy of the model (freed after).

    ``ranking`` ranks the samples A-D (``"D > C > A = B"``); with
    ``candidates``, the texts of A-D the class saw (from :func:`run_sft_stage`).
    Without a ranking (what the CLI does), a reward model fit on the task's
    preference set alone ranks the samples: see :func:`run_reward_model`."""
    check_task(task)
    settings.check()
    groups = parse_ranking(ranking, LETTERS[: len(candidates) if candidates else len(LETTERS)]) if ranking else None
    if candidates is not None and len(candidates) != len(LETTERS):
        raise RlhfInputError("bad_candidates", f"Give the {len(LETTERS)} texts A-D that were ranked.")
    key = run_key("run", task, settings, format_ranking(groups) if groups else None, candidates)
    report = _Reporter(progress)
    check = cancel.check if cancel else T.no_check
    start = time.perf_counter()
    report("load", 0, 1)
    with T.training_copy(settings.model_id, settings.lora_r, settings.seed) as tc:
        check()
        report("load", 1, 1)
        sft = run_sft(tc, task, settings, candidates, report, check)
        reward, head = run_reward_model(tc, task, settings, sft.candidates, groups, sft.fresh, report, check)
        policy = run_policy(tc, task, settings, head, report, check)
    report("done", 1, 1)
    return RlhfRun(key, task, settings, sft, reward, policy, _now(), time.perf_counter() - start, peak_rss_gb())
