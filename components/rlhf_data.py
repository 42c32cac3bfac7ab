"""Data of the RLHF lesson: built-in tasks from ``examples/rlhf/*.toml``,
rankings with ties (``D > C > A = B``) and the preference pairs they make.

Pure Python, no torch: a page can parse and check a ranking as it is typed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from components.examples import EXAMPLES_DIR

TASKS_DIR = EXAMPLES_DIR / "rlhf"
LETTERS = "ABCD"
_TASK_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class RlhfInputError(ValueError):
    """A task, ranking or setting the lesson cannot use. ``code`` lets a UI say
    it in its own language; the message says how to fix it."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Demo:
    """A demonstration: the prompt and the answer the policy should give."""

    prompt: str
    answer: str


@dataclass(frozen=True)
class PreferencePair:
    """Two answers to one prompt, ``chosen`` ranked above ``rejected``."""

    prompt: str
    chosen: str
    rejected: str


@dataclass(frozen=True)
class RlhfTask:
    """One lesson task. Every field is data (a page may edit it with
    ``dataclasses.replace``); the run's cache key covers all of it."""

    id: str
    title_ja: str
    title_en: str
    note_ja: str
    note_en: str
    rank_prompt: str  # the prompt whose four samples A-D the class ranks
    sample_prompts: tuple[str, ...]  # step 3 samples (and evaluates) on these
    demos: tuple[Demo, ...]  # step 1 trains on these
    heldout: tuple[Demo, ...]  # step 1 scores these, never trains on them
    preferences: tuple[PreferencePair, ...]  # step 2 trains on these (with the class's pairs)
    heldout_preferences: tuple[PreferencePair, ...]  # step 2's accuracy is measured on these

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_ja

    def note(self, lang: str) -> str:
        return self.note_en if lang == "en" else self.note_ja

    def to_dict(self) -> dict:
        """Plain JSON-ready data (lists, strings)."""
        return asdict(self)


def task_ids(folder: Path = TASKS_DIR) -> tuple[str, ...]:
    """Built-in task names, from the file names, sorted."""
    return tuple(sorted(p.stem for p in folder.glob("*.toml") if _TASK_ID.match(p.stem)))


def check_task_id(task_id: str, folder: Path = TASKS_DIR) -> str:
    """``task_id`` if it names a built-in task; a typed name is compared with
    the list of files, never joined into a path unchecked."""
    if task_id not in task_ids(folder):
        raise RlhfInputError(
            "unknown_task", f"No RLHF task named '{task_id}': choose one of {', '.join(task_ids(folder))}.",
            task=task_id,
        )
    return task_id


@lru_cache(maxsize=8)
def load_task(task_id: str, folder: Path = TASKS_DIR) -> RlhfTask:
    """A built-in task from ``examples/rlhf/<task_id>.toml``."""
    check_task_id(task_id, folder)
    data = tomllib.loads((folder / f"{task_id}.toml").read_text(encoding="utf-8"))
    task = RlhfTask(
        id=task_id,
        title_ja=data["title_ja"],
        title_en=data["title_en"],
        note_ja=data["note_ja"].strip(),
        note_en=data["note_en"].strip(),
        rank_prompt=data["rank_prompt"],
        sample_prompts=tuple(data["sample_prompts"]),
        demos=tuple(Demo(p, a) for p, a in data["demos"]),
        heldout=tuple(Demo(p, a) for p, a in data["heldout"]),
        preferences=tuple(PreferencePair(*t) for t in data["preferences"]),
        heldout_preferences=tuple(PreferencePair(*t) for t in data["heldout_preferences"]),
    )
    return check_task(task)


def check_task(task: RlhfTask) -> RlhfTask:
    """The task, or :class:`RlhfInputError` saying what is missing."""
    needs = {"demos": 2, "heldout": 1, "sample_prompts": 1, "preferences": 2, "heldout_preferences": 1}
    for name, least in needs.items():
        if len(getattr(task, name)) < least:
            raise RlhfInputError("task_too_small", f"The task needs at least {least} {name}.", field=name, least=least)
    texts = [task.rank_prompt, *task.sample_prompts]
    texts += [t for d in task.demos + task.heldout for t in (d.prompt, d.answer)]
    texts += [t for p in task.preferences + task.heldout_preferences for t in (p.prompt, p.chosen, p.rejected)]
    if any(not isinstance(t, str) or not t.strip() for t in texts):
        raise RlhfInputError("task_empty_text", "Every prompt and answer of the task needs some text.")
    return task


def parse_demos(text: str) -> tuple[Demo, ...]:
    """Demonstrations typed one per line as ``prompt→answer`` (also ``->`` or a tab)."""
    demos = []
    for line in (text or "").splitlines():
        for sep in ("→", "->", "\t"):
            if sep in line:
                prompt, answer = line.split(sep, 1)
                if prompt.strip() and answer.strip():
                    demos.append(Demo(prompt.strip(), answer.strip()))
                break
    return tuple(demos)


# ------------------------------------------------------------------ rankings


def parse_ranking(text: str, letters: str = LETTERS) -> tuple[tuple[str, ...], ...]:
    """``"D > C > A = B"`` -> ``(("D",), ("C",), ("A", "B"))``: groups from best
    to worst, ties inside a group. Every letter appears exactly once;
    ``>`` and ``=`` (also full-width ＞ ＝ and spaces) separate them."""
    norm = (text or "").upper().replace("＞", ">").replace("＝", "=").replace(" ", "").replace("\u3000", "")
    norm = norm.translate(str.maketrans("ＡＢＣＤ", "ABCD"))
    if not norm or not re.fullmatch(r"[A-Z](?:[>=][A-Z])*", norm):
        raise RlhfInputError(
            "bad_ranking", f"Write a ranking like 'D > C > A = B' using each of {', '.join(letters)} once.",
            ranking=text,
        )
    groups = tuple(tuple(g.split("=")) for g in norm.split(">"))
    seen = [x for g in groups for x in g]
    if sorted(seen) != sorted(letters):
        raise RlhfInputError(
            "bad_ranking",
            f"The ranking must name each of {', '.join(letters)} exactly once, like 'D > C > A = B' (got {text!r}).",
            ranking=text,
        )
    return groups


def format_ranking(groups: Sequence[Sequence[str]]) -> str:
    """``(("D",), ("C",), ("A", "B"))`` -> ``"D > C > A = B"`` (the canonical form)."""
    return " > ".join(" = ".join(sorted(g)) for g in groups)


def ranking_pairs(groups: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """Every (better, worse) pair a ranking states, best first. Letters in the
    same group are tied and make no pair: ``D > C > A = B`` gives
    DC, DA, DB, CA, CB (five pairs, not six)."""
    pairs = []
    for i, better in enumerate(groups):
        for worse in groups[i + 1 :]:
            pairs += [(b, w) for b in sorted(better) for w in sorted(worse)]
    return tuple(pairs)


def class_pairs(
    prompt: str, answers: Sequence[str], groups: Sequence[Sequence[str]]
) -> tuple[PreferencePair, ...]:
    """The ranking's pairs as preference pairs over the answers' texts."""
    index = {LETTERS[i]: a for i, a in enumerate(answers)}
    return tuple(PreferencePair(prompt, index[b], index[w]) for b, w in ranking_pairs(groups))


def task_from_dict(data: Mapping) -> RlhfTask:
    """The inverse of :meth:`RlhfTask.to_dict` (a cached run names its task's data)."""
    return check_task(
        RlhfTask(
            **{
                **data,
                "sample_prompts": tuple(data["sample_prompts"]),
                "demos": tuple(Demo(**d) for d in data["demos"]),
                "heldout": tuple(Demo(**d) for d in data["heldout"]),
                "preferences": tuple(PreferencePair(**p) for p in data["preferences"]),
                "heldout_preferences": tuple(PreferencePair(**p) for p in data["heldout_preferences"]),
            }
        )
    )
