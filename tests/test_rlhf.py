"""RLHF lesson: rankings and pairs, the Bradley-Terry head, training steps,
the job queue and cache on the tiny model; the lesson's claims on Gemma."""

from __future__ import annotations

import gc
import hashlib
import json
import math
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from components import rlhf, rlhf_jobs
from components import rlhf_train as T
from components.models import TINY_ID
from components.rlhf import (
    RlhfInputError,
    RlhfSettings,
    class_pairs,
    format_ranking,
    load_task,
    parse_ranking,
    ranking_pairs,
    task_ids,
)

TASK = load_task(rlhf.DEFAULT_TASK)
#: a few seconds on the tiny model, every stage exercised
TINY = RlhfSettings(model_id=TINY_ID, sft_steps=2, policy_steps=2, n_eval=4, best_of=2, max_new_tokens=4,
                    n_fresh=2, rm_iters=50)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder, so results never mix with the teacher's."""
    monkeypatch.setenv("ATTENTION_CLASSROOM_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def tiny_run():
    return rlhf.run_all(TASK, TINY)


def _wait(queue, job_id, states=("done", "cancelled", "failed"), timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = queue.status(job_id)
        if status.state in states:
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {queue.status(job_id)}")


# ------------------------------------------------------------------ data


def test_built_in_tasks_are_japanese_data_with_both_languages():
    assert rlhf.DEFAULT_TASK in task_ids()
    for task_id in task_ids():
        task = load_task(task_id)
        assert task.title("ja") != task.title("en") and task.note("ja") and task.note("en")
        assert len(task.demos) >= 8 and len(task.heldout) >= 4 and len(task.sample_prompts) >= 4
        assert len(task.preferences) >= 16 and len(task.heldout_preferences) >= 8
        texts = [d.answer for d in task.demos] + [p.chosen for p in task.preferences]
        assert all(any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in t) for t in texts)
        held = {(p.prompt, p.chosen, p.rejected) for p in task.heldout_preferences}
        assert not held & {(p.prompt, p.chosen, p.rejected) for p in task.preferences}
        assert not {d.answer for d in task.heldout} & {d.answer for d in task.demos}


def test_unknown_task_is_refused_not_opened():
    with pytest.raises(RlhfInputError) as err:
        load_task("../../etc/passwd")
    assert err.value.code == "unknown_task"


def test_ties_make_no_pairs():
    groups = parse_ranking("D > C > A = B")
    assert groups == (("D",), ("C",), ("A", "B"))
    pairs = ranking_pairs(groups)
    assert pairs == (("D", "C"), ("D", "A"), ("D", "B"), ("C", "A"), ("C", "B"))
    assert ("A", "B") not in pairs and ("B", "A") not in pairs
    assert ranking_pairs(parse_ranking("A = B = C = D")) == ()
    assert len(ranking_pairs(parse_ranking("B > A > D > C"))) == 6
    assert format_ranking(parse_ranking(" ｄ＞ｃ ＞ b＝a ")) == "D > C > A = B"


@pytest.mark.parametrize("bad", ["", "A > B > C", "A > B > C > D > A", "A >> B > C > D", "A > B > C > E", "A, B, C, D"])
def test_bad_rankings_say_how_to_write_one(bad):
    with pytest.raises(RlhfInputError) as err:
        parse_ranking(bad)
    assert err.value.code == "bad_ranking" and "D > C > A = B" in str(err.value)


def test_class_pairs_are_texts_better_first():
    answers = ["a", "b", "c", "d"]
    pairs = class_pairs("p", answers, parse_ranking("D > C > A = B"))
    assert [(x.chosen, x.rejected) for x in pairs] == [("d", "c"), ("d", "a"), ("d", "b"), ("c", "a"), ("c", "b")]


def test_without_a_class_rewards_rank_and_close_rewards_tie():
    assert rlhf.rank_by_reward([0.1, 3.0, 2.5, -2.0]) == (("B", "C"), ("A",), ("D",))
    assert rlhf.rank_by_reward([0.0, 5.0, 10.0, 15.0]) == (("D",), ("C",), ("B",), ("A",))
    assert rlhf.rank_by_reward([0.0, 0.5, 1.0, 1.4]) == (("A", "B", "C", "D"),)  # a chain of near-ties


# ------------------------------------------------------------ Bradley-Terry


def test_bradley_terry_recovers_a_known_ranking():
    rng = np.random.default_rng(0)
    true_w = rng.normal(size=8)
    items = rng.normal(size=(60, 8))  # [item, feature]
    truth = items @ true_w
    order = np.argsort(-truth)
    train, held = order[::2], order[1::2]  # every other item is held out
    chosen, rejected = [], []
    for i, a in enumerate(train):
        for b in train[i + 1 :]:
            chosen.append(items[a])
            rejected.append(items[b])
    head = T.fit_bradley_terry(np.array(chosen), np.array(rejected), l2=1e-4, iters=400)
    assert head.losses[-1] < head.losses[0] / 4
    assert list(np.argsort(-head(items[train]))) == list(range(len(train))), "training items out of order"
    fitted = head(items)
    held_pairs = [(a, b) for i, a in enumerate(held) for b in held[i + 1 :]]
    accuracy = np.mean([fitted[a] > fitted[b] for a, b in held_pairs])
    assert accuracy >= 0.9, f"held-out pairs ordered {accuracy:.2f}"
    direction = head.weight / head.scale  # the head in the features' own units
    assert direction @ true_w / np.linalg.norm(direction) / np.linalg.norm(true_w) > 0.95


def test_bradley_terry_without_signal_stays_near_chance():
    rng = np.random.default_rng(1)
    head = T.fit_bradley_terry(rng.normal(size=(40, 8)), rng.normal(size=(40, 8)), l2=1e-1, iters=200)
    fresh_a, fresh_b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    assert 0.35 < np.mean(head(fresh_a) > head(fresh_b)) < 0.65


# ------------------------------------------------------------ training steps


def test_an_sft_step_lowers_its_loss():
    with T.training_copy(TINY_ID, 8, 0) as tc:
        assert tc.trainable_count() > 0
        items = [T.encode(tc, d.prompt, d.answer) for d in TASK.demos[:4]]
        before = -T.mean_logprob(tc, items)
        losses = T.sft_train(tc, items, steps=1, lr=1e-2, batch=4, seed=0)
        after = -T.mean_logprob(tc, items)
        assert losses[0] == pytest.approx(before, rel=1e-4)
        assert after < before - 1e-3, f"loss {before:.4f} -> {after:.4f}"
        with tc.base():  # the base model, adapters off, is where it started
            assert -T.mean_logprob(tc, items) == pytest.approx(before, rel=1e-6)


def test_an_rloo_step_favours_the_rewarded_sample():
    with T.training_copy(TINY_ID, 8, 0) as tc:
        tc.start_policy()
        prompt = T.encode(tc, "この映画は")[0]
        answers = [tuple(a) for a in T.sample(tc, [prompt] * 4, 5, [0, 1])]
        assert len(set(answers)) == 4
        optimiser = torch.optim.AdamW(tc.trainable(), lr=1e-2)
        batch = T.Batch((tuple(prompt),) * 4, tuple(answers))

        def logps():
            logp, _ = T.token_logprobs(tc, [list(prompt) + list(a) for a in answers], [len(prompt)] * 4)
            return logp.sum(1).detach().numpy()

        before = logps()
        info = T.rloo_update(tc, optimiser, batch, np.array([[1.0, 0.0, 0.0, 0.0]]), beta=0.0)
        change = logps() - before
        assert change[0] > 0 and change[0] > change[1:].max(), change
        assert info["kl"] == pytest.approx(0.0, abs=1e-5)  # policy == SFT before the step
        with tc.adapter("sft"):  # the reference does not move
            ref_after = logps()
        np.testing.assert_allclose(ref_after, before, rtol=0, atol=1e-5)


def test_sampling_is_seeded():
    with T.training_copy(TINY_ID, 8, 0) as tc:
        prompt = T.encode(tc, "この映画は")[0]
        a = T.sample(tc, [prompt] * 3, 6, [0, 7])
        assert T.sample(tc, [prompt] * 3, 6, [0, 7]) == a
        assert T.sample(tc, [prompt] * 3, 6, [0, 8]) != a
        # left padding: beside a longer prompt, a prompt's (near-greedy) continuation is the same as alone
        longer = T.encode(tc, "この映画の音楽は本当に")[0]
        alone = T.sample(tc, [prompt], 8, 0, temperature=1e-3)[0]
        both = T.sample(tc, [prompt, longer], 8, 0, temperature=1e-3)
        assert both[0] == alone and both[1] == T.sample(tc, [longer], 8, 0, temperature=1e-3)[0]


def test_the_shared_model_is_bit_identical_after_a_training_run(tiny, tiny_run):
    # tiny_run has trained (module fixture); train once more here, with the
    # shared model's state recorded before and compared after
    before = {k: v.detach().clone() for k, v in tiny.model.state_dict().items()}
    grads = [p.requires_grad for p in tiny.model.parameters()]
    probe = tiny.tokenizer("この映画は面白い", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = tiny.model(probe).logits.clone()
    run = rlhf.run_all(TASK, replace(TINY, seed=1))
    assert run.sft.losses and run.policy.steps
    after = tiny.model.state_dict()
    assert before.keys() == after.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert not changed, f"the shared model changed: {changed[:3]}"
    assert [p.requires_grad for p in tiny.model.parameters()] == grads
    assert not any("lora" in name for name, _ in tiny.model.named_modules())
    with torch.no_grad():
        assert torch.equal(tiny.model(probe).logits, logits)


# ------------------------------------------------------------ results


def test_a_run_is_plain_json_and_reads_back(tiny_run):
    text = rlhf.to_json(tiny_run)
    data = json.loads(text)
    assert data["kind"] == "run" and data["key"] == tiny_run.key
    assert rlhf.from_json(text) == tiny_run

    def leaves(x):
        if isinstance(x, dict):
            for v in x.values():
                yield from leaves(v)
        elif isinstance(x, list):
            for v in x:
                yield from leaves(v)
        else:
            yield x

    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in leaves(data))


def test_a_run_reports_every_step(tiny_run):
    run = tiny_run
    assert len(run.sft.candidates) == 4 and len(run.sft.losses) == TINY.sft_steps
    assert run.reward.ranking_source == "reward-model"
    n_pairs = len(ranking_pairs(parse_ranking(run.reward.ranking)))
    assert len(run.reward.train_pairs) == n_pairs + len(TASK.preferences)
    assert len(run.reward.heldout_pairs) == len(TASK.heldout_preferences)
    assert all(c.reward is not None for c in run.reward.candidates + run.reward.fresh)
    assert len(run.reward.fresh) == len(run.sft.fresh) == TINY.n_fresh
    assert [x.text for x in run.reward.fresh] == [x.text for x in run.sft.fresh]
    assert len(run.policy.steps) == TINY.policy_steps
    assert all(len(s.examples) == TINY.prompts_per_step for s in run.policy.steps)
    assert len(run.policy.reference.samples) == len(run.policy.policy.samples) == TINY.n_eval
    assert run.policy.reference.kl == 0.0 and math.isfinite(run.policy.policy.kl)
    # best-of-n picks, per slot, the best of n reference samples: never worse than the reference on average
    assert run.policy.best_of_n.mean >= run.policy.reference.mean - 1e-9
    assert run.policy.algorithm == "RLOO" and "PPO" in run.policy.algorithm_vs_ppo


def test_the_key_covers_task_data_settings_and_ranking():
    base = rlhf.run_key("run", TASK, RlhfSettings(), "D > C > A = B", None)
    assert rlhf_jobs.is_key(base)
    assert base == rlhf.run_key("run", TASK, RlhfSettings(), "D > C > A = B", None)
    edited = replace(TASK, demos=TASK.demos[:-1])
    others = [
        rlhf.run_key("run", edited, RlhfSettings(), "D > C > A = B", None),
        rlhf.run_key("run", TASK, RlhfSettings(beta=0.0), "D > C > A = B", None),
        rlhf.run_key("run", TASK, RlhfSettings(), "C > D > A = B", None),
        rlhf.run_key("sft", TASK, RlhfSettings()),
    ]
    assert len({base, *others}) == 5


def test_links_with_bad_keys_open_nothing(cache):
    for bad in ["", "../../x", "0" * 19, "g" * 20, "0" * 20 + "/..", "*"]:
        assert rlhf_jobs.load_result(bad) is None
    assert rlhf_jobs.latest_result("../x") is None


# ------------------------------------------------------------ the queue


def test_jobs_take_turns_are_cached_and_one_run_per_task_is_kept(cache, tiny_run):
    queue = rlhf_jobs.JobQueue()
    first = queue.submit(TASK, TINY, kind="run")
    second = queue.submit(TASK, replace(TINY, seed=3), kind="run")
    assert second.place >= 1 and second.state == "queued"  # waits behind the first
    assert queue.submit(TASK, TINY, kind="run").id == first.id  # the same inputs join the same job
    done1, done2 = _wait(queue, first.id), _wait(queue, second.id)
    assert done1.state == done2.state == "done", (done1.error, done2.error)
    assert done2.steps and len(done2.steps) == TINY.policy_steps
    assert queue.join(30) and not queue.busy()
    files = sorted(p.name for p in (cache / "rlhf").rglob("*.json"))
    assert files == [f"run-tiny_random-{second.key}.json"], files  # the older run was evicted
    assert rlhf_jobs.load_result(first.key) is None
    opened = rlhf_jobs.load_result(second.key)  # what a link opens
    assert isinstance(opened, rlhf.RlhfRun) and opened.key == second.key
    assert rlhf_jobs.latest_result(TASK.id) == opened == rlhf_jobs.latest_result(TASK.id, "run", TINY.model_id)
    assert rlhf_jobs.latest_result(TASK.id, "run", "gemma-3-270m") is None
    gemma = replace(opened, key="f" * 20, settings=replace(opened.settings, model_id="gemma-3-270m"))
    rlhf_jobs.save_result(gemma)  # a run on another model is kept beside it, not instead of it
    assert rlhf_jobs.latest_result(TASK.id, "run", "gemma-3-270m") == gemma
    assert rlhf_jobs.load_result(second.key) == opened
    (cache / "rlhf" / TASK.id / f"run-gemma_3_270m-{gemma.key}.json").unlink()
    again = queue.submit(TASK, replace(TINY, seed=3), kind="run")
    assert again.state == "done" and again.cached and not queue.busy()
    assert queue.result(again.id) == opened
    # step 1 alone (what the page shows before the class ranks) is kept beside the run
    stage = _wait(queue, queue.submit(TASK, TINY, kind="sft").id)
    assert stage.state == "done", stage.error
    sft = queue.result(stage.id)
    assert isinstance(sft, rlhf.SftStage) and len(sft.sft.candidates) == 4
    assert sorted(p.name for p in (cache / "rlhf").rglob("*.json")) == sorted([f"run-tiny_random-{second.key}.json", f"sft-tiny_random-{stage.key}.json"])
    # the class ranks those four texts: a new run, keyed by the ranking and the texts
    texts = [c.text for c in sft.sft.candidates]
    ranked = queue.submit(TASK, TINY, kind="run", ranking="b > a = c > d", candidates=texts)
    done = _wait(queue, ranked.id)
    assert done.state == "done", done.error
    run = queue.result(ranked.id)
    assert run.reward.ranking == "B > A = C > D" and run.reward.ranking_source == "class"
    assert [c.text for c in run.reward.candidates] == texts
    class_results = [p for p in run.reward.train_pairs if p.source == "class"]
    assert [(p.chosen, p.rejected) for p in class_results] == [(texts[1], texts[0]), (texts[1], texts[2]),
                                                               (texts[1], texts[3]), (texts[0], texts[3]),
                                                               (texts[2], texts[3])]
    assert rlhf_jobs.load_result(second.key) is None  # one run per task: the class's run replaced it


def test_a_cancelled_job_leaves_nothing_behind(cache):
    queue = rlhf_jobs.JobQueue()
    slow = replace(TINY, policy_steps=500)
    job = queue.submit(TASK, slow, kind="run")
    waiting = queue.submit(TASK, replace(slow, seed=9), kind="run")
    assert waiting.place == 2
    deadline = time.monotonic() + 120
    while queue.status(job.id).stage != "policy" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.status(job.id).stage == "policy" and T.live_copies() == 1  # mid-training, one private copy
    assert queue.cancel(waiting.id) and queue.status(waiting.id).state == "cancelled"
    assert queue.cancel(job.id)
    status = _wait(queue, job.id, timeout=60)
    assert status.state == "cancelled"
    assert queue.join(30) and not queue.busy()
    assert not [t for t in threading.enumerate() if t.name == rlhf_jobs.WORKER_NAME]
    assert not [p for p in cache.rglob("*") if p.is_file()], "a cancelled job wrote files"
    gc.collect()
    assert T.live_copies() == 0, "the cancelled job's model copy is still in memory"
    assert queue.result(job.id) is None and not queue.cancel(job.id)


def test_training_gives_way_to_the_class_analyses():
    from components.inference import MODEL_LOCK

    token = rlhf_jobs.YieldingToken()
    passed = threading.Event()
    with MODEL_LOCK:  # a student's analysis holds the model
        worker = threading.Thread(target=lambda: (token.check(), passed.set()), daemon=True)
        worker.start()
        assert not passed.wait(0.3), "training went on while an analysis had the model"
    assert passed.wait(5), "training did not resume after the analysis"
    token.cancel()
    with pytest.raises(rlhf.RlhfCancelled):
        token.check()


def test_cli_trains_stores_and_reuses(cache, capsys):
    from components.cli import main

    argv = ["rlhf", "--task", TASK.id, "--model", TINY_ID, "--steps", "1"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    stored = [p for p in (cache / "rlhf").rglob("run-*.json")]
    assert len(stored) == 1 and out.strip() == str(stored[0])
    assert "sft" in err and "policy" in err and "RLOO" in err
    assert main(argv) == 0
    assert "cached" in capsys.readouterr().err
    assert main(["rlhf", "--task", "nope"]) == 2
    assert main(["rlhf", "--task", TASK.id, "--ranking", "A > B"]) == 2


# ------------------------------------------------------- the bundled model


@pytest.fixture(scope="module")
def gemma_run(gemma):
    """The default run on Gemma, trained once (or opened from the cache, as
    the class would): the integration tests share it."""
    return rlhf_jobs.default_run(gemma.model_id, TASK.id)


@pytest.mark.integration
def test_sft_raises_the_demonstrations_and_held_out_answers(gemma_run):
    sft = gemma_run.sft
    assert sft.demo_logprob_after - sft.demo_logprob_before >= 0.5
    assert sft.heldout_logprob_after > sft.heldout_logprob_before
    assert sft.sample_before.text != sft.sample_after.text


@pytest.mark.integration
def test_the_reward_model_orders_its_pairs(gemma_run):
    reward = gemma_run.reward
    wrong = [p for p in reward.train_pairs if not p.correct]
    assert not wrong, f"training pairs out of order: {wrong[:2]}"
    assert reward.heldout_accuracy > 0.7


@pytest.mark.integration
def test_the_policy_run_beats_the_reference(gemma_run):
    policy = gemma_run.policy
    assert len(policy.reference.samples) == len(policy.policy.samples) == 16
    assert policy.gain > 2 * policy.gain_se, (policy.reference.mean, policy.policy.mean, policy.gain_se)
    assert policy.policy.kl is not None and math.isfinite(policy.policy.kl)
    assert all(math.isfinite(s.kl) for s in policy.steps)


def _fingerprint(model) -> dict[str, str]:
    """sha256 of every tensor: bit-identity without a second 1.1 GB copy."""
    return {k: hashlib.sha256(v.detach().contiguous().numpy().tobytes()).hexdigest() for k, v in model.state_dict().items()}


@pytest.mark.integration
def test_training_never_touches_the_class_model(gemma):
    before = _fingerprint(gemma.model)
    probe = gemma.tokenizer("この映画は面白い", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = gemma.model(probe).logits.clone()
    stage = rlhf.run_sft_stage(TASK, RlhfSettings(sft_steps=2))
    assert stage.sft.demo_logprob_after > stage.sft.demo_logprob_before  # it did train
    assert _fingerprint(gemma.model) == before
    with torch.no_grad():
        assert torch.equal(gemma.model(probe).logits, logits)
    gc.collect()
    assert T.live_copies() == 0
