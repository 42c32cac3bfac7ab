"""Settings, results, progress and cancellation of the RLHF lesson.

Every result is a frozen dataclass of texts and numbers: :func:`to_json` /
:func:`from_json` turn the two cached kinds (:class:`SftStage`,
:class:`RlhfRun`) into JSON and back. No torch here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import types
import typing
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from components.models import BUNDLED_ID
from components.rlhf_data import RlhfInputError, RlhfTask, task_from_dict

#: bump when a result's meaning changes: old cache files are then ignored
FORMAT = 1
DEFAULT_TASK = "film-review"
ALGORITHM = "RLOO"
ALGORITHM_VS_PPO = (
    "RLOO (REINFORCE leave-one-out) drops PPO's learned value network and clipped multi-epoch updates: "
    "each sample's baseline is the mean reward of the other samples for the same prompt, and each batch "
    "is used for one plain policy-gradient step."
)


# ------------------------------------------------------------------ settings


@dataclass(frozen=True)
class RlhfSettings:
    """Everything that decides a run (with the task and the ranking)."""

    model_id: str = BUNDLED_ID
    seed: int = 0
    lora_r: int = 8  # LoRA rank on the attention projections (q, k, v, o)
    max_new_tokens: int = 20  # length limit of every sample, tokens
    # step 1: SFT
    sft_steps: int = 6
    sft_lr: float = 5e-4
    sft_batch: int = 8
    # step 2: the reward model
    rm_l2: float = 1e-2
    rm_iters: int = 300
    n_fresh: int = 4  # fresh SFT samples the RM scores after its fit
    # step 3: policy optimisation
    policy_steps: int = 12
    prompts_per_step: int = 2
    samples_per_prompt: int = 4  # RLOO's k: the baseline is the mean of the other k - 1
    policy_lr: float = 5e-4
    beta: float = 1.0  # KL coefficient: reward units (Bradley-Terry log-odds) per nat of KL(policy || SFT) per answer
    n_eval: int = 16  # fresh samples compared before and after
    best_of: int = 4  # n of the best-of-n baseline

    def check(self) -> "RlhfSettings":
        ok = (
            self.lora_r >= 1 and self.max_new_tokens >= 1 and self.sft_steps >= 0 and self.sft_batch >= 1
            and self.sft_lr > 0 and self.rm_iters >= 1 and self.rm_l2 >= 0 and self.policy_steps >= 0
            and self.prompts_per_step >= 1 and self.samples_per_prompt >= 2 and self.policy_lr > 0
            and self.beta >= 0 and self.n_eval >= 2 and self.best_of >= 1 and self.n_fresh >= 1
        )
        if not ok:
            raise RlhfInputError("bad_settings", f"Settings out of range: {self}. RLOO needs samples_per_prompt >= 2.")
        return self


# ------------------------------------------------------------------- results


@dataclass(frozen=True)
class Sample:
    """One sampled answer and its reward (``None`` before a reward model exists)."""

    prompt: str
    text: str
    reward: float | None = None
    ended: bool = True  # the model ended it (False: cut at max_new_tokens)


@dataclass(frozen=True)
class SftReport:
    """Step 1. Log-probabilities are the mean log-probability per answer
    token (nats; the end-of-text token left out), over the task's answers."""

    demo_logprob_before: float
    demo_logprob_after: float
    heldout_logprob_before: float
    heldout_logprob_after: float
    icl_heldout_logprob: float  # base model, every demonstration in the prompt, no training
    icl_prompt: str  # the context the ICL baseline puts before each held-out prompt
    losses: tuple[float, ...]  # per step, nats per token
    sample_prompt: str
    sample_before: Sample  # base model
    sample_after: Sample  # SFT policy, same seed
    candidates: tuple[Sample, ...]  # A-D for the class to rank, from the SFT policy
    fresh: tuple[Sample, ...]  # more SFT samples (another prompt) that step 2 scores but never trains on
    trainable_params: int
    seconds: float


@dataclass(frozen=True)
class PairResult:
    prompt: str
    chosen: str
    rejected: str
    reward_chosen: float
    reward_rejected: float
    source: str  # "class" | "built-in" | "held-out"

    @property
    def correct(self) -> bool:
        return self.reward_chosen > self.reward_rejected


@dataclass(frozen=True)
class RewardReport:
    """Step 2. Rewards are the head's output (arbitrary units, only differences count)."""

    ranking: str  # canonical, e.g. "D > C > A = B"
    ranking_source: str  # "class", or "reward-model": no class, a head fit on the preference set alone ranked A-D
    candidates: tuple[Sample, ...]  # A-D with their rewards
    train_pairs: tuple[PairResult, ...]  # the class's pairs, then the built-in ones
    heldout_pairs: tuple[PairResult, ...]
    train_accuracy: float
    heldout_accuracy: float
    fresh: tuple[Sample, ...]  # samples the RM never saw, scored
    loss_first: float
    loss_last: float  # Bradley-Terry loss, nats per pair
    fit_seconds: float  # the head's fit alone
    seconds: float  # the whole step: features, fit, scoring, fresh samples


@dataclass(frozen=True)
class PolicyStep:
    """One sample -> reward -> update round."""

    step: int
    mean_reward: float
    std_reward: float
    kl: float  # mean over the step's samples of log π - log π_SFT, nats per answer
    loss: float
    examples: tuple[Sample, ...]
    seconds: float


@dataclass(frozen=True)
class Evaluation:
    """Rewards of fresh samples from one policy."""

    name: str  # "reference" | "policy" | "best-of-n"
    mean: float
    std: float
    se: float  # standard error of the mean
    kl: float | None  # nats per answer from the reference (None where it is not measured)
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class PolicyReport:
    """Step 3."""

    algorithm: str
    algorithm_vs_ppo: str
    beta: float
    steps: tuple[PolicyStep, ...]
    reference: Evaluation  # the SFT policy
    policy: Evaluation  # after the last step
    best_of_n: Evaluation  # best of ``best_of`` reference samples, by the same RM
    best_of_n_kl_bound: float  # log n - (n - 1) / n: best-of-n's KL from the reference, at most
    gain: float  # policy.mean - reference.mean
    gain_se: float  # standard error of that difference
    seconds: float


@dataclass(frozen=True)
class SftStage:
    """What the page needs before the class ranks: step 1 and the samples A-D."""

    key: str
    task: RlhfTask
    settings: RlhfSettings
    sft: SftReport
    created: str
    kind: str = "sft"


@dataclass(frozen=True)
class RlhfRun:
    """A finished run of all three steps."""

    key: str
    task: RlhfTask
    settings: RlhfSettings
    sft: SftReport
    reward: RewardReport
    policy: PolicyReport
    created: str
    seconds: float
    peak_rss_gb: float
    kind: str = "run"


# ------------------------------------------------------ progress and cancel


@dataclass(frozen=True)
class ProgressEvent:
    """What a page shows while a job runs."""

    stage: str  # "load" | "sft" | "sample" | "reward" | "policy" | "evaluate" | "done"
    done: int  # steps done in this stage
    total: int
    fraction: float  # of the whole job, in [0, 1]
    record: PolicyStep | None = None  # the step just finished (stage "policy")


Progress = Callable[[ProgressEvent], None]

#: share of a full run's time each stage takes (measured on Gemma)
_SPAN = {"load": (0.0, 0.05), "sft": (0.05, 0.25), "sample": (0.25, 0.3), "reward": (0.3, 0.35),
         "policy": (0.35, 0.9), "evaluate": (0.9, 1.0), "done": (1.0, 1.0)}


class RlhfCancelled(Exception):
    """Raised inside a job that was cancelled; nothing of it is kept."""


class CancelToken:
    """Set from any thread; the job checks it between tokens and steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise RlhfCancelled()


class _Reporter:
    def __init__(self, progress: Progress | None, only: tuple[str, ...] | None = None):
        self.progress = progress
        self.spans = _SPAN if only is None else _rescale(only)

    def __call__(self, stage: str, done: int, total: int, record: PolicyStep | None = None) -> None:
        if self.progress is None:
            return
        lo, hi = self.spans.get(stage, (1.0, 1.0))
        self.progress(ProgressEvent(stage, done, total, lo + (hi - lo) * done / max(total, 1), record))


def _rescale(stages: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    width = sum(_SPAN[s][1] - _SPAN[s][0] for s in stages)
    spans, at = {}, 0.0
    for s in stages:
        w = (_SPAN[s][1] - _SPAN[s][0]) / width
        spans[s] = (at, at + w)
        at += w
    spans["done"] = (1.0, 1.0)
    return spans


# ----------------------------------------------------------------- the key


_SOURCES = ("rlhf.py", "rlhf_train.py", "rlhf_data.py", "rlhf_results.py")


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the training code: a result cached by other code is never
    taken for this code's (12 hex digits)."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:12]


def run_key(
    kind: str, task: RlhfTask, settings: RlhfSettings, ranking: str | None = None,
    candidates: Sequence[str] | None = None,
) -> str:
    """A stable hash of everything that decides a result: 20 hex digits.

    The task's data (not just its name: a teacher may edit it), every
    setting, the ranking, the texts it ranks and the training code's version."""
    payload = {
        "format": FORMAT, "code": code_version(), "kind": kind, "task": task.to_dict(), "settings": asdict(settings),
        "ranking": ranking, "candidates": list(candidates) if candidates is not None else None,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


# ---------------------------------------------------------------- JSON


def to_json(result: Any) -> str:
    """A result dataclass as JSON text (texts and numbers only)."""
    return json.dumps(asdict(result), ensure_ascii=False, indent=1, allow_nan=True)


def from_json(text: str) -> SftStage | RlhfRun:
    """The inverse of :func:`to_json` for the two cached kinds."""
    data = json.loads(text)
    cls = {"sft": SftStage, "run": RlhfRun}.get(data.get("kind"))
    if cls is None:
        raise ValueError("not an RLHF result")
    return _build(cls, data)


def _build(tp: Any, value: Any) -> Any:
    """Rebuild a value of type ``tp`` from its ``asdict`` form."""
    if value is None:
        return None
    if tp is RlhfTask:
        return task_from_dict(value)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: _build(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value})
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple:
        return tuple(_build(args[0], v) for v in value)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _build(inner[0], value)
    return value
