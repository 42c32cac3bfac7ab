"""Guided lessons, stored one per TOML file in ``examples/lessons/``.

A lesson names a sentence, the view to open (page, layer, head, position,
units, temperature), what to look at, a question and its answer, in
Japanese and English. Its ``claims`` are machine-checkable statements about
what the model does; the tests check every claim on the bundled model, and
the lesson page shows each one with the numbers measured on the current model.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from components.analysis import Analysis
from components.examples import EXAMPLES_DIR
from components.sampling import top_probs, top_tokens
from components.i18n import t
from components.views import prefix_text

LESSONS_DIR = EXAMPLES_DIR / "lessons"
TEXT_FIELDS = ("title", "look", "question", "answer")
CLAIM_KINDS = ("attends_more", "next_more_likely", "top_next", "moved_more_than", "future_is_zero", "sharper_when_colder",
               "top_prob_between")


@dataclass(frozen=True)
class Lesson:
    id: str  # the file name without .toml, e.g. 01-self-attention
    text: str
    page: str
    figure: str
    layer: int
    head: int
    pos: int
    view: str
    temperature: float
    texts: Mapping[str, str]  # "title_ja", "look_en", ...
    compare_text: str = ""
    claims: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    def get(self, name: str, lang: str) -> str:
        return self.texts.get(f"{name}_{lang}") or self.texts[f"{name}_ja"]

    @property
    def sentences(self) -> tuple[str, ...]:
        return (self.text, self.compare_text) if self.compare_text else (self.text,)


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    key: str  # an i18n key (claim_*) for the measured numbers
    params: Mapping[str, Any] = field(default_factory=dict)

    def summary(self, lang: str = "ja") -> str:
        params = dict(self.params)
        if "unmasked" in params:  # "masked" / "unmasked", in the reader's language
            params["where"] = t("where_unmasked" if params["unmasked"] else "where_masked", lang)
        return t(self.key, lang, **params)


class _ClaimFailed(Exception):
    def __init__(self, key: str, **params):
        self.result = ClaimResult(False, key, params)


def parse_lesson(lesson_id: str, data: Mapping[str, Any]) -> Lesson:
    """A lesson from parsed TOML; raises ValueError naming what is missing."""
    missing = [f"{name}_{lang}" for name in TEXT_FIELDS for lang in ("ja", "en") if not data.get(f"{name}_{lang}")]
    missing += [k for k in ("text", "page", "layer", "head", "pos") if k not in data]
    if missing:
        raise ValueError(f"lesson {lesson_id} lacks {', '.join(missing)}")
    for claim in data.get("claims", []):
        if claim.get("kind") not in CLAIM_KINDS:
            raise ValueError(f"lesson {lesson_id}: unknown claim kind {claim.get('kind')!r}")
    return Lesson(
        id=lesson_id,
        text=data["text"],
        page=data["page"],
        figure=data.get("figure", "detail"),
        layer=int(data["layer"]),
        head=int(data["head"]),
        pos=int(data["pos"]),
        view=data.get("view", "token"),
        temperature=float(data.get("temperature", 1.0)),
        texts={f"{n}_{lang}": data[f"{n}_{lang}"] for n in TEXT_FIELDS for lang in ("ja", "en")},
        compare_text=data.get("compare_text", ""),
        claims=tuple(data.get("claims", [])),
    )


@lru_cache(maxsize=4)
def load_lessons(folder: Path = LESSONS_DIR) -> tuple[Lesson, ...]:
    """Every lesson, ordered by file name."""
    return tuple(
        parse_lesson(path.stem, tomllib.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.toml"))
    )


# ------------------------------------------------------------------ claims


def position_after(analysis: Analysis, prefix: str) -> int:
    """The position whose text so far is ``prefix`` (its prediction is what comes next)."""
    for position in range(analysis.n_tokens):
        if prefix_text(analysis, position) == prefix:
            return position
    raise ValueError(f"「{prefix}」 is not a prefix of 「{analysis.text}」 on token boundaries")


def token_probability(analysis: Analysis, position: int, token_id: int, temperature: float = 1.0, unmasked: bool = False) -> float:
    """Probability of ``token_id`` after ``position``; 0.0 if it is outside the
    kept top candidates (then it is below every one of them)."""
    logits = analysis.unmasked_next_logits if unmasked else analysis.next_logits
    row = logits.top_ids[position].tolist()
    if token_id not in row:
        return 0.0
    return float(top_probs(logits, temperature)[position, row.index(token_id)])


def _unit(analysis: Analysis, label: str) -> int:
    labels = analysis.unit_labels
    if label not in labels:
        raise _ClaimFailed("claim_no_unit", unit=label)
    return labels.index(label)


def _position(analysis: Analysis, prefix: str) -> int:
    try:
        return position_after(analysis, prefix)
    except ValueError:
        raise _ClaimFailed("claim_no_prefix", prefix=prefix) from None


def check_claim(
    claim: Mapping[str, Any],
    lesson: Lesson,
    analyze: Callable[[str, bool], Analysis],
    token_id: Callable[[str], int | None],
) -> ClaimResult:
    """Evaluate one claim. ``analyze(text, unmasked)`` returns an analysis (from
    a cache); ``token_id(piece)`` looks a vocabulary piece up in the model's tokenizer."""
    try:
        return _check(claim, lesson, analyze, token_id)
    except _ClaimFailed as failed:
        return failed.result


def _check(claim, lesson, analyze, token_id) -> ClaimResult:
    kind = claim["kind"]
    text = claim.get("text", lesson.text)
    a = analyze(text, kind == "moved_more_than" or bool(claim.get("unmasked")))
    if kind == "attends_more":
        layer, head = claim.get("layer", lesson.layer), claim.get("head", lesson.head)
        if not (layer < a.n_layers and head < a.n_heads):
            return ClaimResult(False, "claim_no_head", {"layer": layer, "head": head})
        q, k, o = _unit(a, claim["query"]), _unit(a, claim["key"]), _unit(a, claim["other"])
        row = a.unit_attentions[layer, head, q]
        return ClaimResult(bool(row[k] > row[o]), "claim_attends", {
            "layer": layer, "head": head, "query": claim["query"], "to": claim["key"], "other": claim["other"],
            "a": f"{row[k]:.3f}", "b": f"{row[o]:.3f}",
        })
    pos = _position(a, claim["after"]) if "after" in claim else None
    if kind == "next_more_likely":
        ids = token_id(claim["token"]), token_id(claim["than"])
        if None in ids:
            missing = claim["token"] if ids[0] is None else claim["than"]
            return ClaimResult(False, "claim_no_token", {"token": missing})
        p, q = (token_probability(a, pos, i, claim.get("temperature", 1.0)) for i in ids)
        return ClaimResult(p > q, "claim_more_likely", {
            "after": claim["after"], "token": claim["token"], "than": claim["than"], "p": f"{p:.4f}", "q": f"{q:.4f}",
        })
    if kind == "top_next":
        unmasked = bool(claim.get("unmasked"))
        (top,) = top_tokens(a.unmasked_next_logits if unmasked else a.next_logits, pos, a.labels, 1.0, 1)
        return ClaimResult(top.text == claim["token"], "claim_top", {
            "after": claim["after"],
            "top": top.text, "prob": f"{top.prob:.1%}", "unmasked": unmasked,
        })
    if kind == "moved_more_than":
        moved = float(a.unmasked_shift[pos])
        return ClaimResult(moved > claim["threshold"], "claim_moved", {
            "after": claim["after"], "moved": f"{moved:.3f}", "threshold": claim["threshold"],
        })
    if kind == "future_is_zero":
        n = a.n_tokens
        future = np.triu(np.ones((n, n), dtype=bool), 1)
        peak = float(np.abs(a.attentions[:, :, future]).max()) if future.any() else 0.0
        return ClaimResult(peak == 0.0, "claim_future", {"peak": f"{peak:g}"})
    if kind == "sharper_when_colder":
        low, high = claim["low"], claim["high"]
        p = [top_tokens(a.next_logits, pos, a.labels, temp, 1)[0].prob for temp in (low, 1.0, high)]
        return ClaimResult(p[0] > p[1] > p[2], "claim_sharper", {
            "low": low, "high": high, "a": f"{p[0]:.3f}", "b": f"{p[1]:.3f}", "c": f"{p[2]:.3f}",
        })
    if kind == "top_prob_between":  # a number a lesson's answer states, e.g. "about 70% at 0.3"
        temperature = float(claim.get("temperature", 1.0))
        (top,) = top_tokens(a.next_logits, pos, a.labels, temperature, 1)
        ok = top.text == claim["token"] and claim["at_least"] <= top.prob <= claim["at_most"]
        return ClaimResult(ok, "claim_top_prob", {
            "after": claim["after"], "temperature": temperature, "top": top.text, "prob": f"{top.prob:.3f}",
            "lo": claim["at_least"], "hi": claim["at_most"],
        })
    raise ValueError(f"unknown claim kind {kind!r}")
