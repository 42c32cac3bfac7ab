"""Cached data shared by every session: models, analyses and each page's
model results, the start-up warm-up and its progress. No widgets here.

Models are ``cache_resource`` (one copy per process, torch objects);
everything else is ``cache_data`` holding numpy arrays and dataclasses, keyed
by (model id, inputs), so a sentence the whole class types runs once.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

import numpy as np
import streamlit as st

from components import models
from components.analysis import Analysis, PinnedTokens, first_token_ids, run_analysis, run_forward, run_pinned, tokenize
from components.alignment import token_label
from components.examples import load_sentences
from components.generation import Generation, Settings, extend, start
from components.i18n import t
from components.knockout import Knockouts, run_knockouts
from components.lens import LogitLens, resolve_token, run_lens
from components.icl import build_prompt, few_shot_curve, induction_scores, line_attention, repeated_random_tokens
from components.models import BUNDLED_ID, TINY_ID
from components.pages import needs_mask_views

#: the sentence every session opens with
DEFAULT_TEXT = "鳥がナク"


# ------------------------------------------------------------------ models


def _load(model_id: str) -> models.LoadedModel:
    gc.unfreeze()  # let a model evicted from its cache be collected
    loaded = models.load_model(model_id, allow_paths=False)
    # A loaded model and its tokenizer leave ~400k tracked objects behind; a
    # full garbage collection then takes ~0.25 s and lands at random moments
    # (a layer switch, say). Freezing moves them out of the collector's scans.
    gc.collect()
    gc.freeze()
    return loaded


@st.cache_resource(max_entries=2, show_spinner=False)
def _get_builtin_model(model_id: str) -> models.LoadedModel:
    return _load(model_id)


@st.cache_resource(max_entries=1, show_spinner=False)
def _get_other_model(model_id: str) -> models.LoadedModel:
    return _load(model_id)


def get_model(model_id: str) -> models.LoadedModel:
    """One copy of each model for every session. The bundled model and the
    untrained baseline always stay; every other model shares one slot, so
    choosing another frees the previous one once no session still uses it,
    and no one's choice can push the class's model out of memory."""
    if model_id in (BUNDLED_ID, TINY_ID):
        return _get_builtin_model(model_id)
    return _get_other_model(model_id)


@st.cache_data(ttl=30, show_spinner=False)
def available_model_names() -> list[str]:
    """What the "other" field accepts: models this machine already has."""
    return sorted(models.available_models())


# --------------------------------------------------------------- analyses


@st.cache_data(max_entries=64, show_spinner=False)
def _analysis(model_id: str, text: str, mask_views: bool) -> Analysis:
    return run_analysis(get_model(model_id), text, scores=mask_views, unmasked=mask_views)


def get_analysis(model_id: str, text: str, mask_views: bool = False) -> Analysis:
    """The analysis of ``text``, cached per (model, sentence) across sessions.

    ``mask_views`` adds what the causal-mask views need: the raw scores and
    the run with the mask lifted, always the two together, so that one cached
    entry serves every such view. A model whose attention cannot be captured
    gets neither."""
    return _analysis(model_id, text, bool(mask_views and get_model(model_id).capture_ok))


@st.cache_data(max_entries=64, show_spinner=False)
def get_pinned(model_id: str, text: str, words: tuple[str, ...]) -> PinnedTokens:
    """Where each of ``words`` (by its first token) stands after every position of ``text``."""
    loaded = get_model(model_id)
    return run_pinned(loaded, text, first_token_ids(loaded, words))


# ------------------------------------------------------- page-level results


@st.cache_data(max_entries=64, show_spinner=False)
def get_generation(model_id: str, prompt: str, n_steps: int, settings: Settings) -> Generation:
    """Step n is step n-1 plus one token, so each click costs one forward pass."""
    loaded = get_model(model_id)
    if n_steps == 0:
        return start(loaded, prompt)
    previous = get_generation(model_id, prompt, n_steps - 1, settings)
    return previous if previous.finished else extend(loaded, previous, settings)


@st.cache_data(max_entries=128, show_spinner=False)
def get_scores(model_id: str, texts: tuple[str, ...]) -> tuple[float, ...]:
    """Log-probabilities of whole sentences."""
    from components.analysis import score_sentences

    return tuple(s.logprob for s in score_sentences(get_model(model_id), texts))


@st.cache_data(max_entries=64, show_spinner=False)
def get_curve(model_id: str, pairs: tuple, query: str, answer: str) -> tuple:
    """The few-shot curve: the answer's probability with 0, 1, ... demonstrations."""
    return few_shot_curve(get_model(model_id), pairs, query, answer)


@st.cache_data(max_entries=64, show_spinner=False)
def get_line_attention(model_id: str, pairs: tuple, query: str) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """``[layer, part]`` attention of the final position, the part names, and the token labels."""
    loaded = get_model(model_id)
    prompt = build_prompt(pairs, query)
    tokens = tokenize(loaded, prompt.text)
    parts, names = line_attention(run_forward(loaded, [t.id for t in tokens]).attentions, tokens, prompt)
    return parts, names, tuple(token_label(t) for t in tokens)


@st.cache_data(max_entries=8, show_spinner=False)
def get_induction(model_id: str, length: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Induction scores ``[layer, head]``, and the attentions ``[layer, head, q, k]`` of the repeated sequence."""
    loaded = get_model(model_id)
    ids = repeated_random_tokens(loaded, length, seed)
    att = run_forward(loaded, ids).attentions
    offset = len(ids) - 2 * length
    return induction_scores(att, length, offset), att, ids


@st.cache_data(max_entries=32, show_spinner=False)
def get_lens(model_id: str, text: str, track: tuple[str, ...]) -> LogitLens:
    """The logit lens of every position, following the first token of each word in ``track``."""
    loaded = get_model(model_id)
    # 鳴 and 鳴く count by the same first token: follow it once
    return run_lens(loaded, text, track=list(dict.fromkeys(resolve_token(loaded, word).id for word in track)))


@st.cache_data(max_entries=32, show_spinner=False)
def get_knockouts(model_id: str, text: str, target: str, versus: str | None, position: int) -> Knockouts:
    """Every head, attention block and MLP zeroed in turn at ``position`` (one batched run)."""
    return run_knockouts(get_model(model_id), text, target, versus or None, position)


# ----------------------------------------------------------------- warm-up


@st.cache_resource(show_spinner=False)
def start_warm_up(model_id: str) -> threading.Thread:
    """Once per process and model: analyse the example sentences and what the
    lessons open in the background, so the whole class finds them ready."""

    def work() -> None:
        from components.lessons import load_lessons

        jobs = [(e.text, False) for e in load_sentences()]  # the explorer's examples first
        for lesson in load_lessons():
            jobs += [(text, needs_mask_views(lesson.page, lesson.figure)) for text in lesson.sentences]
        jobs.append((DEFAULT_TEXT, True))
        for text, mask_views in dict.fromkeys(jobs):
            try:
                get_analysis(model_id, text, mask_views)
            except Exception:  # a warm-up must never take the app down
                pass

    # not a daemon: at exit the interpreter waits for it (seconds) instead of
    # killing it inside a torch call, which aborts the process
    thread = threading.Thread(target=work, name=f"warm-up-{model_id}", daemon=False)
    thread.start()
    return thread


#: how the start-up preparation is going, for a visitor who arrives meanwhile
STARTUP = {"running": False, "fraction": 0.0, "stage": "check"}


def warm_start(model_id: str = BUNDLED_ID) -> None:
    """At server start, before anyone visits: prepare the bundled model (once
    per machine, a hash check afterwards), load it, and analyse the examples."""

    told = {"done"}

    def report(fraction: float, stage: str) -> None:
        if stage not in told:  # the teacher's terminal follows along
            told.add(stage)
            print(f"Attention Classroom: preparing the bundled model: {t(f'stage_{stage}', 'en')} "
                  f"({fraction:.0%})", file=sys.stderr, flush=True)
        STARTUP.update(fraction=fraction, stage=stage)

    began = time.perf_counter()
    STARTUP["running"] = True
    try:
        if model_id == BUNDLED_ID:
            models.prepare_bundled(progress=report)
        get_model(model_id)
    except Exception as exc:  # the first visitor is told what failed, in the page
        print(f"Attention Classroom: could not warm up {model_id}: {exc}", file=sys.stderr, flush=True)
        return
    finally:
        STARTUP["running"] = False
    start_warm_up(model_id).join()
    print(
        f"Attention Classroom: {model_id} loaded and the examples analysed "
        f"{time.perf_counter() - began:.1f} s after start-up; ready for the class.",
        file=sys.stderr, flush=True,
    )
