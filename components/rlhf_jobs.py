"""Running RLHF jobs on a class server: one at a time, cancellable, cached.

* :data:`QUEUE` (a :class:`JobQueue`) runs one training job at a time in this
  process, on a worker thread that exists only while there is work. Others
  wait and can see their place. A job with the same inputs as one already
  queued or running joins it instead of training twice.
* A training job gives way to the class: it pauses at its next token or step
  while an analysis runs or waits for the shared model (:class:`YieldingToken`).
* :meth:`JobQueue.cancel` stops a job at its next token or step. A
  cancelled job leaves nothing behind: results are written only when a job
  finishes, its model copy is freed, and the thread ends with the queue.
* Finished results are JSON files in ``<cache>/rlhf/<task>/<kind>-<key>.json``
  (``kind`` is ``sft`` or ``run``, ``key`` a hash of every input:
  :func:`components.rlhf_results.run_key`). A teacher trains once (in the app
  or with ``python -m components rlhf``) and the class opens the result at
  once; a link carrying the key opens it too. One result of each kind is
  kept per task: saving a new one evicts the older.
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
import re
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from components import models
from components.rlhf_data import LETTERS, RlhfInputError, RlhfTask, format_ranking, load_task, parse_ranking, task_ids
from components.rlhf_results import (
    DEFAULT_TASK,
    CancelToken,
    PolicyStep,
    ProgressEvent,
    RlhfCancelled,
    RlhfRun,
    RlhfSettings,
    SftStage,
    from_json,
    run_key,
    to_json,
)

RESULTS_FOLDER = "rlhf"
KINDS = ("sft", "run")
_KEY = re.compile(r"^[0-9a-f]{20}$")
WORKER_NAME = "rlhf-worker"


# --------------------------------------------------------------- the cache


def results_dir() -> Path:
    """``<cache>/rlhf``: where finished RLHF results live."""
    return models.cache_dir() / RESULTS_FOLDER


def is_key(text: str) -> bool:
    """A result key as links carry it (20 lowercase hex digits)."""
    return bool(_KEY.match(text or ""))


def _model_slug(model_id: str) -> str:
    """A model id as part of a file name (no dash: the key follows the last one)."""
    return re.sub(r"[^a-z0-9]+", "_", model_id.lower()).strip("_") or "model"


def save_result(result: SftStage | RlhfRun) -> Path:
    """Write a finished result atomically, then evict the task's older result
    of the same kind on the same model (a run on the tiny model never evicts
    the teacher's run on Gemma). Returns the file."""
    folder = results_dir() / result.task.id
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{result.kind}-{_model_slug(result.settings.model_id)}-"
    target = folder / f"{prefix}{result.key}.json"
    handle, tmp = tempfile.mkstemp(prefix=".partial-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(to_json(result))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in folder.glob(f"{prefix}*.json"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


@functools.lru_cache(maxsize=16)
def _parsed(path: str, mtime_ns: int, size: int) -> SftStage | RlhfRun:
    """A result file, parsed once per version of it (results are frozen)."""
    return from_json(Path(path).read_text(encoding="utf-8"))


def _read(path: Path) -> SftStage | RlhfRun | None:
    """The result in ``path``, or ``None`` if it is gone, unreadable or from an older format."""
    try:
        stat = path.stat()
        return _parsed(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_result(key: str) -> SftStage | RlhfRun | None:
    """The finished result with this key, or ``None`` (unknown, evicted,
    unreadable or from an older format). ``key`` comes from a link: it is
    checked, never used as a path."""
    if not is_key(key) or not results_dir().is_dir():
        return None
    return next((_read(path) for path in results_dir().glob(f"*/*-{key}.json")), None)


def latest_result(task_id: str, kind: str = "run", model_id: str | None = None) -> SftStage | RlhfRun | None:
    """The task's kept result of this kind on ``model_id`` (there is at most
    one per model), or on any model the newest; ``None`` if there is none."""
    folder = results_dir() / task_id
    if kind not in KINDS or not re.fullmatch(r"[a-z0-9-]+", task_id or "") or not folder.is_dir():
        return None
    pattern = f"{kind}-{_model_slug(model_id)}-*.json" if model_id else f"{kind}-*.json"
    for path in sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True):
        found = _read(path)
        if found is not None:
            return found
    return None


def default_run(model_id: str, task_id: str) -> RlhfRun | None:
    """The task's run with the default settings on ``model_id`` (the bundled
    or the tiny model): opened from the cache, else trained (about two minutes
    on Gemma) and kept there unless a run of the task on that model is kept
    already (a teacher's run is never evicted for it). ``None`` for another model."""
    from components import rlhf

    if model_id not in (models.BUNDLED_ID, models.TINY_ID):
        return None  # RLHF trains one of those two
    task = load_task(task_id)
    settings = RlhfSettings(model_id=model_id)
    run = load_result(run_key("run", task, settings))
    if run is None:
        run = rlhf.run_all(task, settings)
        if latest_result(task.id, "run", model_id) is None:
            save_result(run)
    return run


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True)
class JobStatus:
    """What a page shows about a job."""

    id: str
    key: str  # the result's key (the link to it once done)
    kind: str  # "sft" | "run"
    task_id: str
    state: str  # "queued" | "running" | "done" | "cancelled" | "failed"
    place: int  # 0 running, 1 next in line, ...; -1 once finished
    stage: str  # the latest ProgressEvent's stage
    fraction: float  # of the job, in [0, 1]
    steps: tuple[PolicyStep, ...] = ()  # policy steps so far, for a live chart
    error: str = ""
    cached: bool = False  # done at once: the result was in the cache


class YieldingToken(CancelToken):
    """A job's cancel token that also gives way to the class: while a
    student's analysis runs or waits for the model (``inference.MODEL_LOCK``),
    training pauses at its next token or step. Two cores shared by a training
    step and an analysis serve both badly; the class comes first."""

    def check(self) -> None:
        from components.inference import MODEL_LOCK

        super().check()
        while MODEL_LOCK.pending:
            time.sleep(0.02)
            super().check()


@dataclass
class _Job:
    id: str
    key: str
    kind: str
    task: RlhfTask
    settings: RlhfSettings
    ranking: str | None
    candidates: tuple[str, ...] | None
    token: CancelToken = field(default_factory=YieldingToken)
    state: str = "queued"
    stage: str = "queued"
    fraction: float = 0.0
    steps: list = field(default_factory=list)
    error: str = ""
    cached: bool = False
    result: Any = None


class JobQueue:
    """One RLHF training job at a time in this process; see the module docstring."""

    def __init__(self, keep: int = 64) -> None:
        self._lock = threading.Lock()
        self._waiting: deque[_Job] = deque()
        self._jobs: OrderedDict[str, _Job] = OrderedDict()  # every job still remembered, oldest first
        self._running: _Job | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._keep = keep

    def submit(
        self, task: RlhfTask, settings: RlhfSettings = RlhfSettings(), kind: str = "run",
        ranking: str | None = None, candidates: Sequence[str] | None = None, force: bool = False,
    ) -> JobStatus:
        """Queue a job (``kind`` ``"sft"``: step 1 and A-D; ``"run"``: all
        three steps) and return its status at once. A cached result makes it
        done immediately; the same inputs already queued or running are
        joined. Bad input raises :class:`RlhfInputError` before anything runs."""
        if kind not in KINDS:
            raise RlhfInputError("bad_kind", f"kind must be one of {KINDS}")
        settings.check()
        if ranking is not None:
            n = len(candidates) if candidates is not None else len(LETTERS)
            ranking = format_ranking(parse_ranking(ranking, LETTERS[:n]))
        cands = tuple(candidates) if candidates is not None else None
        key = run_key(kind, task, settings, ranking, cands) if kind == "run" else run_key("sft", task, settings)
        with self._lock:
            for job in self._jobs.values():
                if job.key == key and job.state in ("queued", "running"):
                    return self._status(job)
            job = _Job(f"job-{next(self._ids)}", key, kind, task, settings, ranking, cands)
            self._remember(job)
            found = None if force else load_result(key)
            if found is not None:
                job.state, job.stage, job.fraction, job.cached, job.result = "done", "done", 1.0, True, found
                return self._status(job)
            self._waiting.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=WORKER_NAME, daemon=True)
                self._thread.start()
            return self._status(job)

    def status(self, job_id: str) -> JobStatus | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return self._status(job) if job else None

    def result(self, job_id: str) -> SftStage | RlhfRun | None:
        """The finished job's result (from memory, else from the cache)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.state != "done":
            return None
        return job.result if job.result is not None else load_result(job.key)

    def cancel(self, job_id: str) -> bool:
        """Stop a queued or running job. True if there was one to stop."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state not in ("queued", "running"):
                return False
            job.token.cancel()
            if job.state == "queued":
                self._waiting.remove(job)
                job.state, job.stage = "cancelled", "cancelled"
            return True

    def waiting(self) -> int:
        """Jobs waiting for their turn (the running one not counted)."""
        return len(self._waiting)

    def busy(self) -> bool:
        """True while a worker thread exists (a job runs or waits)."""
        return self._thread is not None

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and its thread has ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._thread is None

    # ------------------------------------------------------------ internals

    def _remember(self, job: _Job) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > self._keep:
            oldest = next(iter(self._jobs.values()))
            if oldest.state in ("queued", "running"):
                break
            self._jobs.popitem(last=False)
        # the results of forgotten jobs stay in the cache, not in memory
        for old in list(self._jobs.values())[:-1]:
            if old.state == "done":
                old.result = None

    def _status(self, job: _Job) -> JobStatus:
        if job.state == "running":
            place = 0
        elif job.state == "queued":
            place = list(self._waiting).index(job) + 1 + (self._running is not None)
        else:
            place = -1
        return JobStatus(job.id, job.key, job.kind, job.task.id, job.state, place, job.stage, job.fraction,
                         tuple(job.steps), job.error, job.cached)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._thread = None
                    return
                job = self._waiting.popleft()
                job.state, self._running = "running", job
            try:
                result = _run_job(job)
                save_result(result)
                with self._lock:
                    job.result, job.state, job.stage, job.fraction = result, "done", "done", 1.0
            except RlhfCancelled:
                job.state, job.stage = "cancelled", "cancelled"
            except Exception as exc:  # the page shows the message; the queue goes on
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            finally:
                with self._lock:
                    self._running = None
                result = None
                gc.collect()  # the model copy of a cancelled or failed job goes now, not later


def _run_job(job: _Job) -> SftStage | RlhfRun:
    from components import rlhf

    def progress(event: ProgressEvent) -> None:
        job.stage, job.fraction = event.stage, event.fraction
        if event.record is not None:
            job.steps.append(event.record)

    if job.kind == "sft":
        return rlhf.run_sft_stage(job.task, job.settings, progress, job.token)
    return rlhf.run_all(job.task, job.settings, job.ranking, job.candidates, progress, job.token)


#: the process's queue: every session of the app shares it
QUEUE = JobQueue()


# ------------------------------------------------------------------ the CLI


def _print_progress(event: ProgressEvent) -> None:
    line = f"[{event.fraction * 100:3.0f}%] {event.stage} {event.done}/{event.total}"
    if event.record is not None:
        r = event.record
        line += f": reward {r.mean_reward:.2f} ± {r.std_reward:.2f}, KL {r.kl:.3f} nats, {r.seconds:.1f} s"
    print(line, file=sys.stderr, flush=True)


def summary(run: RlhfRun) -> str:
    """A few lines a teacher can read in the terminal."""
    s, r, p = run.sft, run.reward, run.policy
    return "\n".join([
        f"task {run.task.id}, key {run.key}",
        f"SFT: demonstrations {s.demo_logprob_before:.2f} -> {s.demo_logprob_after:.2f} nats/token, "
        f"held-out {s.heldout_logprob_before:.2f} -> {s.heldout_logprob_after:.2f} (ICL, no training: "
        f"{s.icl_heldout_logprob:.2f}); {s.seconds:.1f} s",
        f"RM: ranking {r.ranking} ({r.ranking_source}); training pairs {r.train_accuracy:.0%}, "
        f"held-out pairs {r.heldout_accuracy:.0%}; {r.seconds:.1f} s",
        f"{p.algorithm} (beta {p.beta:g}): reward {p.reference.mean:.2f} ± {p.reference.se:.2f} -> "
        f"{p.policy.mean:.2f} ± {p.policy.se:.2f} (gain {p.gain:.2f} ± {p.gain_se:.2f}), KL {p.policy.kl:.2f} nats; "
        f"best-of-{run.settings.best_of} {p.best_of_n.mean:.2f} ± {p.best_of_n.se:.2f}; {p.seconds:.1f} s",
        f"total {run.seconds:.1f} s, peak memory {run.peak_rss_gb:.2f} GB",
    ])


def main_cli(args: Any) -> int:
    """``python -m components rlhf --task NAME``: all three steps, progress on
    stderr, the result stored where the app finds it. Without ``--ranking``
    a reward model fit on the task's preference set alone ranks the samples
    A-D (ties within 1 nat). Prints the result's
    file to stdout; 2 for bad input, 1 if training failed, 130 on Ctrl+C
    (nothing is stored)."""
    from components import rlhf

    try:
        task = load_task(args.task)
        settings = RlhfSettings(model_id=args.model, seed=args.seed, beta=args.beta, policy_steps=args.steps).check()
        ranking = format_ranking(parse_ranking(args.ranking)) if args.ranking else None
    except RlhfInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    key = run_key("run", task, settings, ranking, None)
    run = None if args.force else load_result(key)
    try:
        if run is not None:
            print(f"already trained (key {key}): using the cached result", file=sys.stderr)
        else:
            start = time.perf_counter()
            run = rlhf.run_all(task, settings, ranking, None, _print_progress)
            print(f"finished in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        path = save_result(run)
    except KeyboardInterrupt:
        print("cancelled: nothing was stored", file=sys.stderr)
        return 130
    except models.ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(run), file=sys.stderr)
    if args.json:
        if args.json == "-":
            sys.stdout.write(to_json(run) + "\n")
        else:
            Path(args.json).write_text(to_json(run), encoding="utf-8")
            print(f"wrote {args.json}", file=sys.stderr)
    if args.json != "-":
        print(path)
    return 0


def add_cli_arguments(parser) -> None:
    """The ``rlhf`` subcommand's options (``cli.py`` stays a router)."""
    parser.add_argument("--task", default=DEFAULT_TASK, help=f"one of: {', '.join(task_ids())}")
    parser.add_argument("--json", metavar="PATH", help="also write the finished run here ('-' for stdout)")
    parser.add_argument("--ranking", help="rank the samples A-D yourself, e.g. 'D > C > A = B' "
                        "(default: a reward model fit on the task's preference set ranks them)")
    parser.add_argument("--beta", type=float, default=RlhfSettings.beta, help="KL coefficient of step 3")
    parser.add_argument("--steps", type=int, default=RlhfSettings.policy_steps, help="policy steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=models.BUNDLED_ID, help=f"{models.BUNDLED_ID} or {models.TINY_ID}")
    parser.add_argument("--force", action="store_true", help="train again even if the result is cached")
