"""Guided lessons, stored one per TOML file in ``examples/lessons/``, and the
claims that lessons and example sentences make about the model.

A lesson names a sentence (or a prompt, or a few-shot task), the view to
open on its page, what to look at, a question and its answer, in Japanese
and English. Its ``claims`` are machine-checkable statements about what the
model does; the tests check every claim on the bundled model, and the lesson
page shows each one with the numbers measured on the current model.

A claim is checked through a :class:`Probe`: the few model queries any page
needs (an analysis, a generation, sentence scores, a few-shot curve,
induction scores), so the same check runs on cached results in the app and
on the pure functions in the tests.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

import numpy as np

from components.analysis import Analysis, label_ids, run_analysis, run_forward, score_sentences
from components.examples import EXAMPLES_DIR
from components.generation import Generation, Settings, distribution, generate
from components.homophones import load_homophones, relative_probabilities, variants
from components.i18n import t
from components.icl import CurvePoint, few_shot_curve, induction_scores, load_tasks, repeated_random_tokens, shuffle_answers
from components.inference import AnalysisError
from components.knockout import Knockouts, run_knockouts
from components.lens import LogitLens, resolve_token, run_lens
from components.morphemes import to_katakana
from components.pages import FIGURE_CHOICES, PAGES
from components.sampling import NextTokenLogits, sample, top_probs, top_tokens
from components.views import head_view, prefix_text

if TYPE_CHECKING:  # training code loads only when a claim needs a run
    from components.rlhf_results import RlhfRun

LESSONS_DIR = EXAMPLES_DIR / "lessons"
TEXT_FIELDS = ("title", "look", "question", "answer")


# ----------------------------------------------------------------- lessons


@dataclass(frozen=True)
class Lesson:
    id: str  # the file name without .toml, e.g. 01-self-attention
    text: str  # the sentence; on the generation page the prompt
    page: str
    figure: str  # explorer / mask: the figure to show; other pages: the page name
    layer: int
    head: int
    pos: int
    view: str
    temperature: float
    texts: Mapping[str, str]  # "title_ja", "look_en", ...
    compare_text: str = ""
    claims: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    hide_sink: bool = False
    gen_steps: int = 0  # generation page: tokens to generate
    greedy: bool = False
    seed: int = 0  # generation page: the draws; few-shot page: the shuffled control and the induction sequence
    icl_task: str = ""  # few-shot page: the task id in examples/icl_tasks.toml
    ko_target: str = ""  # layer-by-layer page: the word whose heads are knocked out ...
    ko_versus: str = ""  # ... and its rival
    track: str = ""  # layer-by-layer page: the words followed after every layer (comma separated)
    rlhf_task: str = ""  # RLHF page: the task id in examples/rlhf/

    def get(self, name: str, lang: str) -> str:
        return self.texts.get(f"{name}_{lang}") or self.texts[f"{name}_ja"]

    @property
    def sentences(self) -> tuple[str, ...]:
        return (self.text, self.compare_text) if self.compare_text else (self.text,)


def parse_lesson(lesson_id: str, data: Mapping[str, Any]) -> Lesson:
    """A lesson from parsed TOML; raises ValueError naming what is missing or wrong."""
    missing = [f"{name}_{lang}" for name in TEXT_FIELDS for lang in ("ja", "en") if not data.get(f"{name}_{lang}")]
    needs_view = data.get("page") not in ("icl", "rlhf")  # those pages show no head or position
    missing += [k for k in ("text", "page") + (("layer", "head", "pos") if needs_view else ()) if k not in data]
    for page, name in (("icl", "icl_task"), ("rlhf", "rlhf_task")):
        if data.get("page") == page and not data.get(name):
            missing.append(name)
    if missing:
        raise ValueError(f"lesson {lesson_id} lacks {', '.join(missing)}")
    page = data["page"]
    if page not in PAGES:
        raise ValueError(f"lesson {lesson_id}: unknown page {page!r}; known: {sorted(PAGES)}")
    if page == "icl" and data["icl_task"] not in {task.id for task in load_tasks()}:
        raise ValueError(f"lesson {lesson_id}: unknown icl_task {data['icl_task']!r}")
    if page == "rlhf" and data["rlhf_task"] not in _rlhf_task_ids():
        raise ValueError(f"lesson {lesson_id}: unknown rlhf_task {data['rlhf_task']!r}")
    figure = data.get("figure", "detail" if page in ("explorer", "mask") else page)
    if page in ("explorer", "mask", "layers") and figure not in sum(FIGURE_CHOICES.values(), ()):
        raise ValueError(f"lesson {lesson_id}: unknown figure {figure!r}")
    for claim in data.get("claims", []):
        try:
            validate_claim(claim)
        except ValueError as exc:
            raise ValueError(f"lesson {lesson_id}: {exc}") from None
    return Lesson(
        id=lesson_id,
        text=data["text"],
        page=page,
        figure=figure,
        layer=int(data.get("layer", 0)),
        head=int(data.get("head", 0)),
        pos=int(data.get("pos", 0)),
        view=data.get("view", "token"),
        temperature=float(data.get("temperature", 1.0)),
        texts={f"{n}_{lang}": data[f"{n}_{lang}"] for n in TEXT_FIELDS for lang in ("ja", "en")},
        compare_text=data.get("compare_text", ""),
        claims=tuple(data.get("claims", [])),
        hide_sink=bool(data.get("hide_sink", False)),
        gen_steps=int(data.get("gen_steps", 0)),
        greedy=bool(data.get("greedy", False)),
        seed=int(data.get("seed", 0)),
        icl_task=data.get("icl_task", ""),
        ko_target=data.get("ko_target", ""),
        ko_versus=data.get("ko_versus", ""),
        track=data.get("track", ""),
        rlhf_task=data.get("rlhf_task", ""),
    )


@lru_cache(maxsize=4)
def load_lessons(folder: Path = LESSONS_DIR) -> tuple[Lesson, ...]:
    """Every lesson, ordered by file name."""
    return tuple(
        parse_lesson(path.stem, tomllib.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.toml"))
    )


# ------------------------------------------------------------------ probes


@dataclass(frozen=True)
class Probe:
    """The model queries a claim may make. In the app each one is a cached
    getter; in the tests and scripts, :func:`direct_probe` runs the model."""

    analyze: Callable[[str, bool], Analysis]  # (text, unmasked) -> the analysis, with the unmasked run if asked
    token_id: Callable[[str], "int | None"]  # a vocabulary piece (鳴) -> its id, None if the model lacks it
    generate: Callable[[str, int, Settings], Generation]  # (prompt, steps, settings) -> a generation
    scores: Callable[[tuple[str, ...]], tuple[float, ...]]  # sentences -> log-probabilities (natural log)
    curve: Callable[[tuple, str, str], tuple[CurvePoint, ...]]  # (pairs, query, answer) -> few-shot curve
    induction: Callable[[int, int], np.ndarray]  # (length, seed) -> induction scores [layer, head]
    pieces: Callable[[str], tuple[str, ...]]  # a word -> the labels of its model tokens (書いた -> 書, いた)
    lens: Callable[[str, tuple[str, ...]], LogitLens]  # (text, words to track) -> the logit lens of every position
    knockouts: Callable[[str, str, "str | None", int], Knockouts]  # (text, target, versus, position)
    # an RLHF task id -> its finished run of all three steps on this model, None if there is none yet
    rlhf: "Callable[[str], RlhfRun | None] | None" = None


def vocab_id(loaded, piece: str) -> int | None:
    """The id of a vocabulary piece, or None if the model's vocabulary lacks it."""
    tid = loaded.tokenizer.convert_tokens_to_ids(piece)
    return None if tid is None or tid == loaded.tokenizer.unk_token_id else int(tid)


def token_pieces(loaded, word: str) -> tuple[str, ...]:
    """Labels of the tokens ``word`` is made of, as the model's predictions are labelled."""
    ids = [int(i) for i in loaded.tokenizer(word, add_special_tokens=False)["input_ids"]]
    labels = label_ids(loaded, ids)
    return tuple(labels[i] for i in ids)


def direct_probe(loaded) -> Probe:
    """A probe that runs ``loaded`` itself (the tests, scripts). Analyses and
    generations are remembered for the probe's lifetime, as the app's caches do."""
    memo: dict = {}

    def remember(key, compute):
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def analyze(text: str, unmasked: bool) -> Analysis:
        lifted = bool(unmasked and loaded.capture_ok)  # as the app: no unmasked run where it cannot be made
        return remember(("analysis", text, lifted), lambda: run_analysis(loaded, text, scores=lifted, unmasked=lifted))

    def induction(length: int, seed: int) -> np.ndarray:
        def compute():
            ids = repeated_random_tokens(loaded, length, seed)
            return induction_scores(run_forward(loaded, ids).attentions, length, len(ids) - 2 * length)

        return remember(("induction", length, seed), compute)

    return Probe(
        analyze=analyze,
        token_id=lambda piece: vocab_id(loaded, piece),
        generate=lambda prompt, steps, settings: remember(
            ("generate", prompt, steps, settings), lambda: generate(loaded, prompt, steps, settings)),
        scores=lambda texts: remember(
            ("scores", tuple(texts)), lambda: tuple(s.logprob for s in score_sentences(loaded, tuple(texts)))),
        curve=lambda pairs, query, answer: remember(
            ("curve", tuple(pairs), query, answer), lambda: few_shot_curve(loaded, tuple(pairs), query, answer)),
        induction=induction,
        pieces=lambda word: token_pieces(loaded, word),
        lens=lambda text, track: remember(("lens", text, tuple(track)), lambda: run_lens(
            loaded, text, track=[resolve_token(loaded, word).id for word in track])),
        knockouts=lambda text, target, versus, position: remember(
            ("knockouts", text, target, versus, position),
            lambda: run_knockouts(loaded, text, target, versus, position)),
        rlhf=lambda task_id: remember(("rlhf", task_id), lambda: _default_rlhf_run(loaded.model_id, task_id)),
    )


def _default_rlhf_run(model_id: str, task_id: str) -> "RlhfRun | None":
    from components.rlhf_jobs import default_run  # training code loads only when a claim needs a run

    return default_run(model_id, task_id)


def _rlhf_task_ids() -> tuple[str, ...]:
    from components.rlhf_data import task_ids

    return task_ids()


# ------------------------------------------------------------- claim results


@dataclass(frozen=True)
class Phrase:
    """A part of a claim's summary said in the reader's language: an i18n key and its parameters."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _say(value: Any, lang: str) -> Any:
    if isinstance(value, Phrase):
        return t(value.key, lang, **{k: _say(v, lang) for k, v in value.params.items()})
    if isinstance(value, Mapping):  # a name in both languages, e.g. a task's title
        return value.get(lang) or value.get("ja", "")
    if isinstance(value, str) and "\n" in value:  # generated text: a line break must not break the list
        return value.replace("\n", t("claim_newline", lang))
    return value


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    key: str  # an i18n key (claim_*) for the measured numbers
    params: Mapping[str, Any] = field(default_factory=dict)

    def summary(self, lang: str = "ja") -> str:
        return t(self.key, lang, **{k: _say(v, lang) for k, v in self.params.items()})


class _ClaimFailed(Exception):
    def __init__(self, key: str, **params):
        self.result = ClaimResult(False, key, params)


def percent(p: float) -> str:
    """A probability as a class reads it, to three significant digits: 52.4%, 4.71%, 0.135%."""
    if p <= 0:
        return "0%"
    if p < 1e-5:
        return "<0.001%"
    return f"{p * 100:#.3g}".rstrip(".") + "%"


def _weight(w: float) -> str:
    return f"{w:.3f}"


# ----------------------------------------------------------- claim helpers


class Defaults(Protocol):
    """What a claim may leave out: a lesson or an example sentence supplies it."""

    text: str
    layer: int
    head: int


def position_after(analysis: Analysis, prefix: str) -> int:
    """The position whose text so far is ``prefix`` (its prediction is what comes next)."""
    for position in range(analysis.n_tokens):
        if prefix_text(analysis, position) == prefix:
            return position
    raise ValueError(f"「{prefix}」 is not a prefix of 「{analysis.text}」 on token boundaries")


def _next_prob(logits: NextTokenLogits, position: int, token_id: int, temperature: float = 1.0) -> tuple[float, bool]:
    """p(token) after ``position`` and whether it is exact. A token outside the
    kept top-m gets the smallest kept probability: an upper bound."""
    row = logits.top_ids[position].tolist()
    probs = top_probs(logits, temperature)[position]
    if token_id in row:
        return float(probs[row.index(token_id)]), True
    return float(probs[-1]), False


def _rank(logits: NextTokenLogits, position: int, token_id: int) -> int | None:
    """1 + the number of tokens with a larger logit; None beyond the kept top-m (sorted, exact)."""
    row = logits.top_ids[position].tolist()
    return row.index(token_id) + 1 if token_id in row else None


def _text(claim, d: Defaults) -> str:
    return claim.get("text", d.text)


def _analysis(claim, d: Defaults, probe: Probe, unmasked: bool = False) -> Analysis:
    a = probe.analyze(_text(claim, d), unmasked)
    if unmasked and a.unmasked_next_logits is None:
        raise _ClaimFailed("claim_no_unmasked", model=a.model_id)
    return a


def _head(claim, d: Defaults, a: Analysis) -> tuple[int, int]:
    layer, head = int(claim.get("layer", d.layer)), int(claim.get("head", d.head))
    if not (0 <= layer < a.n_layers and 0 <= head < a.n_heads):
        raise _ClaimFailed("claim_no_head", layer=layer, head=head)
    return layer, head


def _position(a: Analysis, prefix: str) -> int:
    try:
        return position_after(a, prefix)
    except ValueError:
        raise _ClaimFailed("claim_no_prefix", prefix=prefix) from None


def _token(probe: Probe, piece: str) -> int:
    tid = probe.token_id(piece)
    if tid is None:
        raise _ClaimFailed("claim_no_token", token=piece)
    return tid


def _head_row(claim, d: Defaults, a: Analysis, query: str):
    """The shown head's row of ``query``: (layer, head, weights, masked, key labels).
    With repeated labels the first row of that label is used."""
    layer, head = _head(claim, d, a)
    hv = head_view(a, layer, head, claim.get("view", "morpheme"), bool(claim.get("hide_sink", False)))
    if query not in hv.query_labels:
        raise _ClaimFailed("claim_no_unit", unit=query)
    q = hv.query_labels.index(query)
    return layer, head, hv.weights[q], hv.masked[q], list(hv.key_labels)


def _key(labels: list[str], label: str) -> int:
    if label not in labels:
        raise _ClaimFailed("claim_no_unit", unit=label)
    return labels.index(label)


def _sink(claim) -> Phrase | str:
    return Phrase("claim_sink_hidden") if claim.get("hide_sink") else ""


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}" if b > 0 else "∞"


# ------------------------------------------------------- attention claims


def _attends_more(c, d, probe) -> ClaimResult:
    """The query's row weighs ``key`` more than ``other`` (by ``ratio_at_least`` if given)."""
    a = _analysis(c, d, probe)
    layer, head, row, _, labels = _head_row(c, d, a, c["query"])
    w, v = float(row[_key(labels, c["key"])]), float(row[_key(labels, c["other"])])
    ok = w > v and w >= float(c.get("ratio_at_least", 0)) * v
    return ClaimResult(ok, "claim_attends", {
        "layer": layer, "head": head, "sink": _sink(c), "query": c["query"], "to": c["key"], "other": c["other"],
        "a": _weight(w), "b": _weight(v), "ratio": _ratio(w, v),
    })


def _attends_most(c, d, probe) -> ClaimResult:
    """``key`` is the darkest visible cell of the query's row (``<bos>`` left out unless ``include_bos``)."""
    a = _analysis(c, d, probe)
    layer, head, row, masked, labels = _head_row(c, d, a, c["query"])
    _key(labels, c["key"])
    # the first column is <bos> unless hide_sink took it away; it competes only if asked
    skip_first = a.tokens[0].special and not c.get("hide_sink") and not c.get("include_bos")
    keep = [j for j in range(len(labels)) if not masked[j] and np.isfinite(row[j]) and not (skip_first and j == 0)]
    if not keep:
        raise _ClaimFailed("claim_no_unit", unit=c["key"])
    order = sorted(keep, key=lambda j: -row[j])
    top = order[0]
    runner = order[1] if len(order) > 1 else None
    return ClaimResult(labels[top] == c["key"], "claim_attends_most", {
        "layer": layer, "head": head, "sink": _sink(c), "query": c["query"], "top": labels[top],
        "a": _weight(float(row[top])),
        "runner": labels[runner] if runner is not None else "—",
        "b": _weight(float(row[runner])) if runner is not None else "—",
    })


def _heads_agree(c, d, probe) -> ClaimResult:
    """In at least ``at_least`` heads, the query's row weighs ``key`` more than ``other``."""
    a = _analysis(c, d, probe)
    count = 0
    for layer in range(a.n_layers):
        for head in range(a.n_heads):
            _, _, row, _, labels = _head_row({**c, "layer": layer, "head": head}, d, a, c["query"])
            count += bool(row[_key(labels, c["key"])] > row[_key(labels, c["other"])])
    return ClaimResult(count >= int(c["at_least"]), "claim_heads_agree", {
        "query": c["query"], "to": c["key"], "other": c["other"], "count": count, "total": a.n_layers * a.n_heads,
    })


def _future_is_zero(c, d, probe) -> ClaimResult:
    a = _analysis(c, d, probe)
    n = a.n_tokens
    future = np.triu(np.ones((n, n), dtype=bool), 1)
    peak = float(np.abs(a.attentions[:, :, future]).max()) if future.any() else 0.0
    return ClaimResult(peak == 0.0, "claim_future", {"peak": f"{peak:g}"})


def _prefix_unchanged(c, d, probe) -> ClaimResult:
    """Up to ``after``, ``text`` and ``other`` get the same attention and the same predictions."""
    a, b = _analysis(c, d, probe), probe.analyze(c["other"], False)
    pa, pb = _position(a, c["after"]), _position(b, c["after"])
    params = {"after": c["after"], "text": a.text, "other": b.text}
    same_ids = pa == pb and [t.id for t in a.tokens[:pa + 1]] == [t.id for t in b.tokens[:pb + 1]]
    if not same_ids:
        return ClaimResult(False, "claim_prefix_differs", params)
    span = slice(0, pa + 1)
    diff = float(np.abs(a.attentions[:, :, span, span] - b.attentions[:, :, span, span]).max())
    same_top = np.array_equal(a.next_logits.top_ids[span], b.next_logits.top_ids[span])
    diff = max(diff, float(np.abs(a.next_logits.top_logits[span] - b.next_logits.top_logits[span]).max()))
    return ClaimResult(same_top and diff <= float(c.get("tol", 1e-5)), "claim_prefix_unchanged",
                       {**params, "diff": f"{diff:.3g}"})


# -------------------------------------------------------- prediction claims


def _next_more_likely(c, d, probe) -> ClaimResult:
    """After ``after``, ``token`` is more likely than ``than`` (by ``ratio_at_least`` if given)."""
    a = _analysis(c, d, probe)
    pos = _position(a, c["after"])
    temperature = float(c.get("temperature", 1.0))
    (p, p_exact), (q, q_exact) = (_next_prob(a.next_logits, pos, _token(probe, piece), temperature)
                                  for piece in (c["token"], c["than"]))
    need = float(c.get("ratio_at_least", 0))
    # outside the kept top-m a probability is only bounded from above: decide only what the bound settles
    ok = p_exact and p > q and p >= need * q
    return ClaimResult(bool(ok), "claim_more_likely", {
        "after": c["after"], "token": c["token"], "than": c["than"],
        "p": percent(p) if p_exact else "<" + percent(p), "q": percent(q) if q_exact else "<" + percent(q),
        "ratio": (_ratio(p, q) if q_exact else ">" + _ratio(p, q)) if p_exact else "?",
    })


def _top_next(c, d, probe) -> ClaimResult:
    unmasked = bool(c.get("unmasked"))
    a = _analysis(c, d, probe, unmasked)
    pos = _position(a, c["after"])
    (top,) = top_tokens(a.unmasked_next_logits if unmasked else a.next_logits, pos, a.labels, 1.0, 1)
    return ClaimResult(top.text == c["token"], "claim_top_unmasked" if unmasked else "claim_top", {
        "after": c["after"], "top": top.text, "prob": percent(top.prob),
    })


def _rank_at_most(c, d, probe) -> ClaimResult:
    """After ``after``, ``token`` ranks between ``min_rank`` and ``rank`` over the whole vocabulary."""
    unmasked = bool(c.get("unmasked"))
    a = _analysis(c, d, probe, unmasked)
    logits = a.unmasked_next_logits if unmasked else a.next_logits
    pos = _position(a, c["after"])
    tid = _token(probe, c["token"])
    r = _rank(logits, pos, tid)
    p, exact = _next_prob(logits, pos, tid)
    lo, hi = int(c.get("min_rank", 1)), int(c["rank"])
    kept = logits.top_ids.shape[1]
    return ClaimResult(r is not None and lo <= r <= hi, "claim_rank", {
        "after": c["after"], "token": c["token"], "rank": r if r is not None else f">{kept}",
        "p": percent(p) if exact else "<" + percent(p), "lo": lo, "hi": hi,
    })


def _moved_more_than(c, d, probe) -> ClaimResult:
    a = _analysis(c, d, probe, unmasked=True)
    pos = _position(a, c["after"])
    moved = float(a.unmasked_shift[pos])
    return ClaimResult(moved > c["threshold"], "claim_moved", {
        "after": c["after"], "moved": f"{moved:.3f}", "threshold": c["threshold"],
    })


def _sharper_when_colder(c, d, probe) -> ClaimResult:
    a = _analysis(c, d, probe)
    pos = _position(a, c["after"])
    low, high = c["low"], c["high"]
    p = [top_tokens(a.next_logits, pos, a.labels, temp, 1)[0].prob for temp in (low, 1.0, high)]
    return ClaimResult(p[0] > p[1] > p[2], "claim_sharper", {
        "after": c["after"], "low": low, "high": high, "a": percent(p[0]), "b": percent(p[1]), "c": percent(p[2]),
    })


def _top_prob_between(c, d, probe) -> ClaimResult:
    """A number an answer states, e.g. "about 70% at 0.3"."""
    a = _analysis(c, d, probe)
    pos = _position(a, c["after"])
    temperature = float(c.get("temperature", 1.0))
    (top,) = top_tokens(a.next_logits, pos, a.labels, temperature, 1)
    ok = top.text == c["token"] and c["at_least"] <= top.prob <= c["at_most"]
    return ClaimResult(ok, "claim_top_prob", {
        "after": c["after"], "temperature": temperature, "top": top.text, "prob": percent(top.prob),
        "lo": percent(c["at_least"]), "hi": percent(c["at_most"]),
    })


# -------------------------------------------------------- generation claims


def _settings(values: Mapping[str, Any] | None = None, **more) -> Settings:
    values = {**(values or {}), **more}
    known = {f.name: f.type for f in fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown generation settings {sorted(unknown)}; known: {sorted(known)}")
    casts = {"temperature": float, "top_k": int, "top_p": float, "seed": int, "greedy": bool}
    return Settings(**{k: casts[k](v) for k, v in values.items()})


def _describe(settings: Settings) -> Phrase:
    cut = Phrase("claim_settings_cut", {"top_k": settings.top_k, "top_p": settings.top_p}) \
        if settings.top_k or settings.top_p < 1 else ""
    if settings.greedy:
        return Phrase("claim_settings_greedy", {"seed": settings.seed})
    return Phrase("claim_settings_sampled", {"temperature": settings.temperature, "seed": settings.seed, "cut": cut})


def _greedy_text_starts_with(c, d, probe) -> ClaimResult:
    """Always taking the top token, ``steps`` tokens after ``prompt`` start with ``prefix``."""
    gen = probe.generate(c["prompt"], int(c["steps"]), _settings(greedy=True))
    return ClaimResult(gen.generated_text.startswith(c["prefix"]), "claim_greedy_text", {
        "prompt": c["prompt"], "text": gen.generated_text, "prefix": c["prefix"],
    })


def _same_text(c, d, probe) -> ClaimResult:
    """Two settings give the same tokens (``equal = true``) or different ones."""
    sa, sb = _settings(c["a"]), _settings(c["b"])
    ga, gb = (probe.generate(c["prompt"], int(c["steps"]), s) for s in (sa, sb))
    same = ga.ids == gb.ids
    return ClaimResult(same == bool(c["equal"]), "claim_same_text", {
        "prompt": c["prompt"], "steps": int(c["steps"]), "a": _describe(sa), "b": _describe(sb),
        "text_a": ga.generated_text, "text_b": gb.generated_text,
        "same": Phrase("claim_same_yes" if same else "claim_same_no"),
    })


def _first_token_share(c, d, probe) -> ClaimResult:
    """Over seeds 0..N-1, the share of first draws that are ``token``: exactly
    the generation page's first step, one forward pass and N draws."""
    settings = _settings({k: c[k] for k in ("temperature", "top_k", "top_p") if k in c})
    tid = _token(probe, c["token"])
    probs = distribution(probe.generate(c["prompt"], 0, settings).next_logits, settings)  # [vocab]
    n = int(c["seeds"])
    hits = sum(sample(probs, np.random.default_rng([seed, 0])) == tid for seed in range(n))
    share = hits / n
    return ClaimResult(c["at_least"] <= share <= c["at_most"], "claim_first_share", {
        "prompt": c["prompt"], "token": c["token"], "temperature": settings.temperature, "p": percent(float(probs[tid])),
        "hits": hits, "n": n,
    })


# ---------------------------------------------------------- homophone claims


def _best_spelling(c, d, probe) -> ClaimResult:
    """Of the spellings of ``word`` (the homophone table's, or ``spellings``),
    put into the sentence and scored as the homophone lens does, ``best``
    is the most likely, with a relative probability in [at_least, at_most]."""
    text = _text(c, d)
    morpheme = next((m for m in probe.analyze(text, False).morphemes if m.surface == c["word"]), None)
    if morpheme is None:
        raise _ClaimFailed("claim_no_unit", unit=c["word"])
    table = load_homophones()
    spellings = tuple(c.get("spellings") or table.get(to_katakana(morpheme.surface)) or table.get(morpheme.reading, ()))
    if not spellings:
        raise _ClaimFailed("claim_no_spellings", word=c["word"])
    texts = variants(text, morpheme, spellings)
    name = {text: c["word"]}
    for spelling in spellings:
        name.setdefault(text[: morpheme.start] + spelling + text[morpheme.end:], spelling)
    rel = relative_probabilities(probe.scores(tuple(texts)))
    order = np.argsort(-rel, kind="stable")
    top, runner = order[0], (order[1] if len(order) > 1 else None)
    ok = name[texts[top]] == c["best"] and c.get("at_least", 0.0) <= rel[top] <= c.get("at_most", 1.0)
    return ClaimResult(bool(ok), "claim_spelling", {
        "text": text, "top": name[texts[top]], "p": percent(float(rel[top])),
        "runner": name[texts[runner]] if runner is not None else "—",
        "q": percent(float(rel[runner])) if runner is not None else "—",
    })


# --------------------------------------------------------- few-shot claims


def _task(c, d):
    task_id = c.get("task") or getattr(d, "icl_task", "")
    task = next((task for task in load_tasks() if task.id == task_id), None)
    if task is None:
        raise _ClaimFailed("claim_no_task", task=task_id)
    return task


def _task_curve(c, d, probe, shuffled: bool):
    task = _task(c, d)
    pairs = shuffle_answers(task.pairs, int(c.get("shuffle_seed", 0))) if shuffled else task.pairs
    return task, probe.curve(tuple(pairs), task.query, task.answer)


def _point(curve, n: int) -> CurvePoint:
    if not 0 <= n < len(curve):
        raise _ClaimFailed("claim_no_demos", n=n, most=len(curve) - 1)
    return curve[n]


def _few_shot_rises(c, d, probe) -> ClaimResult:
    """The answer's probability is at most ``at_most`` with ``n_low``
    demonstrations and at least ``at_least`` with ``n_high``."""
    shuffled = bool(c.get("shuffled"))
    task, curve = _task_curve(c, d, probe, shuffled)
    low, high = _point(curve, int(c.get("n_low", 0))), _point(curve, int(c["n_high"]))
    ok = low.answer_prob <= c["at_most"] and high.answer_prob >= c["at_least"]
    return ClaimResult(ok, "claim_few_shot", {
        "task": dict(task.titles), "shuffled": Phrase("claim_shuffled") if shuffled else "", "answer": task.answer,
        "n_low": low.n_demos, "p": percent(low.answer_prob), "n_high": high.n_demos, "q": percent(high.answer_prob),
    })


def _few_shot_stays_below(c, d, probe) -> ClaimResult:
    """With shuffled answers, the answer's probability never exceeds ``at_most``."""
    task, curve = _task_curve(c, d, probe, shuffled=True)
    peak = max(curve, key=lambda p: p.answer_prob)
    return ClaimResult(peak.answer_prob <= c["at_most"], "claim_few_shot_below", {
        "task": dict(task.titles), "answer": task.answer, "p": percent(peak.answer_prob), "n": peak.n_demos,
        "limit": percent(c["at_most"]),
    })


def _top_is_answer_start(c, d, probe) -> ClaimResult:
    """With ``n`` demonstrations the top prediction is (``expect``) or is not the answer's first token."""
    shuffled = bool(c.get("shuffled"))
    task, curve = _task_curve(c, d, probe, shuffled)
    point = _point(curve, int(c["n"]))
    pieces = probe.pieces(task.answer)
    first = pieces[0] if pieces else ""
    return ClaimResult((point.top_text == first) == bool(c.get("expect", True)), "claim_answer_start", {
        "task": dict(task.titles), "n": point.n_demos, "top": point.top_text, "p": percent(point.top_prob),
        "answer": task.answer, "first": first,
    })


def _best_induction_head(c, d, probe) -> ClaimResult:
    """On a repeated random sequence, for every seed, (layer, head) has the
    highest induction score, at least ``at_least``."""
    layer, head = int(c.get("layer", d.layer)), int(c.get("head", d.head))
    length, seeds = int(c.get("length", 30)), [int(s) for s in c.get("seeds", [0])]
    runs = [probe.induction(length, seed) for seed in seeds]  # each [layer, head]
    if not (0 <= layer < runs[0].shape[0] and 0 <= head < runs[0].shape[1]):
        raise _ClaimFailed("claim_no_head", layer=layer, head=head)
    for seed, scores in zip(seeds, runs):
        top = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if (int(top[0]), int(top[1])) != (layer, head):
            return ClaimResult(False, "claim_induction_other", {
                "seed": seed, "top_layer": int(top[0]), "top_head": int(top[1]),
                "top": f"{float(scores[top]):.3f}", "layer": layer, "head": head,
                "score": f"{float(scores[layer, head]):.3f}",
            })
    others = np.stack(runs).copy()  # [seed, layer, head]
    others[:, layer, head] = -np.inf
    s, rl, rh = np.unravel_index(int(np.argmax(others)), others.shape)
    mine = [float(scores[layer, head]) for scores in runs]
    return ClaimResult(min(mine) >= c.get("at_least", 0.0), "claim_induction", {
        "layer": layer, "head": head, "n": len(seeds), "scores": " / ".join(f"{x:.3f}" for x in mine),
        "runner": Phrase("claim_head_score", {"layer": int(rl), "head": int(rh), "score": f"{float(others[s, rl, rh]):.3f}"}),
    })


# ------------------------------------------------- layer-by-layer claims


def _lens_top(c, d, probe) -> ClaimResult:
    """After ``after``, the logit lens's top token at the output of each of
    ``layers`` (0-based, as the explorer counts) is ``token``."""
    text = _text(c, d)
    a = probe.analyze(text, False)
    pos = _position(a, c["after"])
    lens = probe.lens(text, ())
    column = lens.column(pos)
    layers = [int(layer) for layer in c["layers"]]
    if any(not 0 <= layer < lens.n_layers for layer in layers):
        raise _ClaimFailed("claim_no_head", layer=max(layers), head=0)
    tops = [(lens.labels[int(lens.top_ids[layer + 1, column, 0])], float(lens.top_probs[layer + 1, column, 0]))
            for layer in layers]  # lens row l + 1 is the output of layer l
    return ClaimResult(all(top == c["token"] for top, _ in tops), "claim_lens_top", {
        "after": c["after"], "layers": {"ja": "・".join(map(str, layers)), "en": ", ".join(map(str, layers))},
        "tops": {"ja": "、".join(f"「{top}」（{percent(p)}）" for top, p in tops),
                 "en": "; ".join(f"「{top}」 ({percent(p)})" for top, p in tops)},
        "token": c["token"],
    })


def _knockout_heads(c, d, probe) -> ClaimResult:
    """Knocking out heads one at a time after ``after``, the ``heads`` listed
    are exactly the ones that lower the target (or its margin over
    ``versus``) most; each lowers it by at least ``at_least`` nats."""
    text = _text(c, d)
    a = probe.analyze(text, False)
    ko = probe.knockouts(text, c["target"], c.get("versus"), _position(a, c["after"]))
    expected = {(int(layer), int(head)) for layer, head in c["heads"]}
    strongest = ko.strongest(len(expected))
    found = {(layer, head) for layer, head, _ in strongest}
    ok = found == expected and all(-delta >= c.get("at_least", 0.0) for _, _, delta in strongest)
    rest = sorted(float(ko.heads[l, h]) for l in range(ko.n_layers) for h in range(ko.n_heads) if (l, h) not in found)
    return ClaimResult(ok, "claim_knockout", {
        "after": c["after"], "metric": ko.metric, "baseline": f"{ko.baseline:.2f}",
        "heads": {  # said in each language
            "ja": "、".join(f"層 {l}・ヘッド {h}（{delta:+.2f}）" for l, h, delta in strongest),
            "en": "; ".join(f"layer {l}, head {h} ({delta:+.2f})" for l, h, delta in strongest),
        },
        "next": f"{rest[0]:+.2f}" if rest else "—",
    })


#: what an rlhf claim measures on the finished run -> (the value, how it is said)
_RLHF_MEASURES = ("sft_demos", "sft_heldout", "rm_heldout", "policy_gain")


def _rlhf_trained(c, d, probe) -> ClaimResult:
    """On the task's finished RLHF run, ``measure`` is at least ``at_least``:
    the rise of the demonstrations' (sft_demos) or held-out answers'
    (sft_heldout) log-probability per token after SFT, in nats; the share of
    held-out preference pairs the reward model orders right (rm_heldout); or
    the policy's reward gain over the reference in standard errors
    (policy_gain)."""
    measure, task = c["measure"], c.get("task") or d.rlhf_task
    if measure not in _RLHF_MEASURES:
        raise ValueError(f"unknown rlhf measure {measure!r}; known: {', '.join(_RLHF_MEASURES)}")
    run = probe.rlhf(task) if probe.rlhf is not None else None
    if run is None:
        return ClaimResult(False, "claim_rlhf_untrained", {"task": task})
    s, r, p = run.sft, run.reward, run.policy
    value = {
        "sft_demos": s.demo_logprob_after - s.demo_logprob_before,
        "sft_heldout": s.heldout_logprob_after - s.heldout_logprob_before,
        "rm_heldout": r.heldout_accuracy,
        "policy_gain": p.gain / p.gain_se if p.gain_se > 0 else float("inf") * np.sign(p.gain),
    }[measure]
    params = {
        "sft_demos": {"before": f"{s.demo_logprob_before:.2f}", "after": f"{s.demo_logprob_after:.2f}"},
        "sft_heldout": {"before": f"{s.heldout_logprob_before:.2f}", "after": f"{s.heldout_logprob_after:.2f}",
                        "icl": f"{s.icl_heldout_logprob:.2f}"},
        "rm_heldout": {"right": sum(x.correct for x in r.heldout_pairs), "n": len(r.heldout_pairs),
                       "train": sum(x.correct for x in r.train_pairs), "n_train": len(r.train_pairs)},
        "policy_gain": {"before": f"{p.reference.mean:.2f}", "after": f"{p.policy.mean:.2f}", "se": f"{p.gain_se:.2f}",
                        "ratio": f"{value:.1f}", "n": len(p.policy.samples), "kl": f"{p.policy.kl:.2f}",
                        "best": f"{p.best_of_n.mean:.2f}", "best_of": run.settings.best_of},
    }[measure]
    return ClaimResult(bool(value >= float(c["at_least"])), f"claim_rlhf_{measure}", params)


# ----------------------------------------------------------- stated numbers

_NUMBER_PATTERNS = (
    (r"(\d+(?:\.\d+)?)\s*%", "{}%"),  # a probability: 4.71%
    (r"(?<![\d.])(0\.\d{3})(?![\d%])", "w{}"),  # an attention weight or a score: 0.538
    (r"(\d+)\s*位", "#{}"),  # a rank: 134位
    (r"\branks?\s+(\d+)", "#{}"),  # a rank: ranks 134
    (r"(\d+)\s*個", "n{}"),  # a count: 50 個のうち 38 個
    (r"(\d+) of (?:the )?(\d+)", "n{}"),  # a count: 38 of 50
)


def stated_numbers(text: str) -> set[str]:
    """The measured numbers a text states (probabilities, weights, ranks,
    counts), normalised so that a note and a claim's summary in the same
    language can be compared: every number a note or an answer states must
    be one that its claims measured."""
    found = set()
    for pattern, form in _NUMBER_PATTERNS:
        for match in re.finditer(pattern, text):
            found.update(form.format(group) for group in match.groups())
    return found


# ------------------------------------------------------------------ checking

#: kind -> (check, the fields it needs)
_KINDS: dict[str, tuple[Callable[[Mapping[str, Any], Defaults, Probe], ClaimResult], tuple[str, ...]]] = {
    "attends_more": (_attends_more, ("query", "key", "other")),
    "attends_most": (_attends_most, ("query", "key")),
    "heads_agree": (_heads_agree, ("query", "key", "other", "at_least")),
    "future_is_zero": (_future_is_zero, ()),
    "prefix_unchanged": (_prefix_unchanged, ("other", "after")),
    "next_more_likely": (_next_more_likely, ("after", "token", "than")),
    "top_next": (_top_next, ("after", "token")),
    "rank_at_most": (_rank_at_most, ("after", "token", "rank")),
    "moved_more_than": (_moved_more_than, ("after", "threshold")),
    "sharper_when_colder": (_sharper_when_colder, ("after", "low", "high")),
    "top_prob_between": (_top_prob_between, ("after", "token", "at_least", "at_most")),
    "greedy_text_starts_with": (_greedy_text_starts_with, ("prompt", "steps", "prefix")),
    "same_text": (_same_text, ("prompt", "steps", "a", "b", "equal")),
    "first_token_share": (_first_token_share, ("prompt", "token", "temperature", "seeds", "at_least", "at_most")),
    "best_spelling": (_best_spelling, ("word", "best")),
    "few_shot_rises": (_few_shot_rises, ("n_high", "at_most", "at_least")),
    "few_shot_stays_below": (_few_shot_stays_below, ("at_most",)),
    "top_is_answer_start": (_top_is_answer_start, ("n",)),
    "best_induction_head": (_best_induction_head, ("seeds",)),
    "lens_top": (_lens_top, ("after", "token", "layers")),
    "knockout_heads": (_knockout_heads, ("after", "target", "heads")),
    "rlhf_trained": (_rlhf_trained, ("measure", "at_least")),
}
CLAIM_KINDS = tuple(_KINDS)


def validate_claim(claim: Mapping[str, Any]) -> None:
    """Raise ValueError if a claim's kind is unknown or it lacks a field its kind needs."""
    kind = claim.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown claim kind {kind!r}; known: {', '.join(CLAIM_KINDS)}")
    missing = [name for name in _KINDS[kind][1] if name not in claim]
    if missing:
        raise ValueError(f"a {kind} claim needs {', '.join(missing)}")
    for side in ("a", "b") if kind == "same_text" else ():
        _settings(claim[side])


def check_claim(claim: Mapping[str, Any], defaults: Defaults, probe: Probe) -> ClaimResult:
    """Evaluate one claim on the model behind ``probe``. ``defaults`` (a
    lesson or an example sentence) supplies the text, layer and head a claim
    leaves out. Never raises: a claim that cannot be checked says why."""
    try:
        validate_claim(claim)
        return _KINDS[claim["kind"]][0](claim, defaults, probe)
    except _ClaimFailed as failed:
        return failed.result
    except AnalysisError as exc:
        return ClaimResult(False, "claim_error", {"detail": str(exc)})
    except Exception as exc:  # a broken claim must not take the page down
        return ClaimResult(False, "claim_error", {"detail": f"{type(exc).__name__}: {exc}"})
