"""What every page shares: state defaults, the sidebar, the sentence box,
and the cached model/analysis getters. Only ``components.ui`` calls ``st.*``."""

from __future__ import annotations

import gc
import html
import re
import sys
import threading
import time

import streamlit as st

from components import figures, links, models
from components.analysis import Analysis, AnalysisError, run_analysis
from components.examples import load_sentences
from components.i18n import DEFAULT_LANG, LANGS, normalize_lang, t
from components.models import BUNDLED_ID, TINY_ID, ModelLoadError

DEFAULT_TEXT = "鳥がナク"
MODEL_CHOICES = (BUNDLED_ID, TINY_ID, "custom")

#: widget values that every page shares; they survive page switches
DEFAULTS = {
    "lang": DEFAULT_LANG,
    "text": DEFAULT_TEXT,
    "model": BUNDLED_ID,
    "model_path": "",
    "layer": 0,
    "head": 0,
    "view": "token",
    "hide_sink": False,
    "temperature": 1.0,
    "top_k": 10,
    "compare_untrained": False,
    "projector": False,
    "pos": 0,
    "figure": "detail",
    "mask_figure": "stages",
    "gen_top_k": 0,
    "top_p": 1.0,
    "seed": 0,
    "greedy": False,
    "gen_steps": 0,
    "pairs": "鳥が鳴く\n鳥が泣く\n鳥が無く",
    "hp_extra": "",
    "hp_mean": False,
    "icl_shuffled": False,
}

#: widgets of one page whose values must survive a visit to another page
KEPT = ("lesson", "icl_task", "icl_demos", "icl_query", "icl_answer", "hp_word", "mask_pos")

# ------------------------------------------------------------------ helpers

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~^=:&])")


def md_escape(text: str) -> str:
    """User text made literal inside a Markdown-rendering element."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def md_frame(frame):
    """A table for ``st.table`` (which reads Markdown in every cell) with
    every cell, column and row name made literal."""
    out = frame.map(md_escape)
    out.columns = [md_escape(c) for c in frame.columns]
    out.index = [md_escape(i) for i in frame.index]
    return out


def lang() -> str:
    return normalize_lang(st.session_state.get("lang", DEFAULT_LANG))


def tr(key: str, **params) -> str:
    return t(key, lang(), **params)


def apply_link(state: dict) -> None:
    """Put a shared link's view into the widget state (before any widget exists)."""
    for key, value in state.items():
        if key == "model":
            if value in (BUNDLED_ID, TINY_ID):
                st.session_state["model"] = value
            else:
                st.session_state["model"], st.session_state["model_path"] = "custom", value
        elif key == "page":
            st.session_state["_link_page"] = value
        elif key == "pos":  # the explorer's position, and the mask page's
            st.session_state["pos"] = st.session_state["mask_pos"] = value
            st.session_state["_link_pos"] = st.session_state["_link_mask_pos"] = True
        elif key == "gen_steps":
            st.session_state["gen_steps"], st.session_state["_link_steps"] = value, True
        else:
            st.session_state[key] = value


def init_state() -> None:
    """On a session's first run, read the link it was opened with; then set
    defaults, and keep shared widget values across page switches (Streamlit
    forgets a widget's value when a page without it runs)."""
    if "_session_started" not in st.session_state:
        st.session_state["_session_started"] = True
        linked = links.params_to_state(st.query_params.to_dict())
        apply_link(linked)
        if "lesson" in linked:  # the lesson opens its view; the link's own settings then win
            st.session_state["_lesson_link"] = linked
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
        else:
            st.session_state[key] = st.session_state[key]
    for key in KEPT:  # page-specific widgets with no default: keep them once set
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def current_link_state() -> dict:
    """The view as URL parameters would carry it."""
    state = {key: st.session_state.get(key) for key in links.FIELDS if key in st.session_state}
    state["model"] = requested_model_id()
    page = state["page"] = st.session_state.get("_page")
    if page == "mask" and "mask_pos" in st.session_state:
        state["pos"] = st.session_state["mask_pos"]
    for key, only in links.PAGE_ONLY.items():
        if page != only or (key in ("figure", "mask_figure") and not projector()):
            state.pop(key, None)
    return state


def sync_url() -> None:
    """Write the current view into the address bar, so it can be shared."""
    params = links.state_to_params(current_link_state())
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def projector() -> bool:
    return bool(st.session_state.get("projector"))


def font_size() -> int:
    """Chart type size: large enough for the back of a room in projector view."""
    return 22 if projector() else 13


# -------------------------------------------------------------- cached data


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


@st.cache_data(ttl=30, show_spinner=False)
def available_model_names() -> list[str]:
    """What the "other" field accepts: models this machine already has."""
    return sorted(models.available_models())


def get_model(model_id: str) -> models.LoadedModel:
    """One copy of each model for every session. The bundled model and the
    untrained baseline always stay; every other model shares one slot, so
    choosing another frees the previous one once no session still uses it,
    and no one's choice can push the class's model out of memory."""
    if model_id in (BUNDLED_ID, TINY_ID):
        return _get_builtin_model(model_id)
    return _get_other_model(model_id)


@st.cache_data(max_entries=64, show_spinner=False)
def get_analysis(model_id: str, text: str, scores: bool = False, unmasked: bool = False) -> Analysis:
    """Analyses are cached per (model, sentence, options) across sessions."""
    return run_analysis(get_model(model_id), text, scores=scores, unmasked=unmasked)


# ------------------------------------------------------------------ widgets


@st.cache_resource(show_spinner=False)
def start_warm_up(model_id: str) -> threading.Thread:
    """Once per process and model: analyse the example sentences in the
    background, so the whole class finds them ready."""

    def work() -> None:
        from components.lessons import load_lessons

        jobs = [(e.text, False) for e in load_sentences()]  # the explorer's examples first
        for lesson in load_lessons():  # then what the lessons open, the mask page's runs included
            heavy = lesson.page == "mask" or lesson.figure in ("stages", "shift")
            jobs += [(text, heavy) for text in lesson.sentences]
        jobs.append((DEFAULT_TEXT, True))
        for text, heavy in dict.fromkeys(jobs):
            try:
                get_analysis(model_id, text, heavy, heavy)
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


def render_sidebar() -> None:
    """Language, projector view and model pickers."""
    with st.sidebar:
        st.selectbox(
            t("language", lang()), LANGS, key="lang",
            format_func=lambda code: {"ja": "日本語", "en": "English"}[code],
        )
        st.toggle(tr("projector"), key="projector", help=tr("projector_help"))
        st.selectbox(
            tr("model"), MODEL_CHOICES, key="model", help=tr("model_help"),
            format_func=lambda m: {BUNDLED_ID: tr("model_bundled"), TINY_ID: tr("model_tiny")}.get(m, tr("model_custom")),
        )
        if st.session_state.get("model") == "custom":
            st.text_input(tr("model_custom_field"), key="model_path", help=tr("model_custom_help"))
            names = available_model_names()
            if names:
                st.caption(md_escape(tr("model_available", names=", ".join(names))))
            else:
                st.caption(md_escape(tr("model_available_none", folder=str(models.models_dir()))))


def _pick_example() -> None:
    choice = st.session_state.get("example")
    if choice:
        st.session_state["text"] = choice
    st.session_state["example"] = None


def render_sentence_box() -> None:
    """The sentence box (applies on Enter) and the examples, one click away."""
    st.text_input(tr("sentence"), key="text", help=tr("sentence_help"), max_chars=2000)
    examples = load_sentences()
    st.pills(
        tr("examples"), [e.text for e in examples], key="example", on_change=_pick_example,
        selection_mode="single",
    )
    note = {e.text: e.note(lang()) for e in examples}.get(st.session_state.get("text", ""))
    if note:
        st.caption(md_escape(note))


def requested_model_id() -> str:
    choice = st.session_state.get("model", BUNDLED_ID)
    if choice == "custom":
        return (st.session_state.get("model_path") or "").strip() or BUNDLED_ID
    return choice


def _prepare_with_progress() -> None:
    bar = st.progress(0.0, text=tr("preparing", stage=tr("stage_assemble")))

    def report(fraction: float, stage: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=tr("preparing", stage=tr(f"stage_{stage}")))

    try:
        while STARTUP["running"] and not models.verified_in_process():
            report(STARTUP["fraction"], STARTUP["stage"])  # the start-up hook is preparing it
            time.sleep(0.5)
        models.prepare_bundled(progress=report)
    finally:
        bar.empty()


def load_current_model() -> models.LoadedModel | None:
    """The chosen model, or the last one that loaded if it fails (with a message)."""
    wanted = requested_model_id()
    fallback = st.session_state.get("_good_model", BUNDLED_ID)
    for model_id in dict.fromkeys([wanted, fallback, BUNDLED_ID]):
        try:
            if model_id == BUNDLED_ID and not models.verified_in_process():
                # first use in this process: hash-check the cache (about 2 s), and
                # prepare or rebuild it with a progress bar if it is missing or damaged
                _prepare_with_progress()
            with st.spinner(tr("loading_model")):
                loaded = get_model(model_id)
        except ModelLoadError as exc:
            st.error(md_escape(tr("err_model", model=model_id, detail=error_text(exc))))
            continue
        except Exception as exc:  # never a traceback: say what failed and try the next model
            st.error(md_escape(tr("err_model", model=model_id, detail=f"{type(exc).__name__}: {exc}")))
            continue
        st.session_state["_good_model"] = model_id
        if model_id == BUNDLED_ID:
            start_warm_up(model_id)
        return loaded
    return None


def busy_message() -> str:
    """"Analysing", or, when other students' sentences are ahead, "waiting"."""
    from components.analysis import MODEL_LOCK

    ahead = MODEL_LOCK.pending
    return tr("waiting", n=ahead) if ahead else tr("analysing")


def error_text(exc: Exception) -> str:
    """A short message in the interface's language for anything that went wrong."""
    from components.i18n import STRINGS

    if isinstance(exc, AnalysisError) and exc.code in ("empty", "too_long", "no_tokens", "no_capture"):
        return tr(f"err_{exc.code}", **exc.params)
    if isinstance(exc, ModelLoadError) and f"load_{exc.code}" in STRINGS:
        return tr(f"load_{exc.code}", **exc.params)
    return tr("err_other", detail=str(exc))


def analyse_current(loaded: models.LoadedModel, scores: bool = False, unmasked: bool = False) -> Analysis | None:
    """The analysis of the sentence box, or, if it cannot be analysed, a short
    message and the last sentence that worked."""
    text = st.session_state.get("text", "")
    if scores or unmasked:
        scores = unmasked = loaded.capture_ok  # one cached entry serves both views
    try:
        with st.spinner(busy_message()):
            analysis = get_analysis(loaded.model_id, text, scores, unmasked)
    except Exception as exc:  # AnalysisError, or anything a custom model raises
        st.warning(md_escape(error_text(exc)))
        good = st.session_state.get("_good_text")
        if not good or good == text:
            return None
        st.info(md_escape(tr("showing_last_good", text=good)))
        try:
            return get_analysis(loaded.model_id, good, scores, unmasked)
        except Exception:
            return None
    st.session_state["_good_text"] = text
    return analysis


def render_licence(loaded: models.LoadedModel | None) -> None:
    if loaded is not None and loaded.kind == "bundled":
        st.caption(md_escape(tr("licence_gemma")))


def clamp_state(key: str, upper: int) -> None:
    """Keep an int widget value inside 0..upper-1 (a new model may have fewer layers)."""
    value = st.session_state.get(key, 0)
    if not isinstance(value, int) or not 0 <= value < upper:
        st.session_state[key] = max(0, min(int(value) if isinstance(value, (int, float)) else 0, upper - 1))


def render_head_pickers(n_layers: int, n_heads: int) -> None:
    """Layer and head pickers, shared by every page (keys ``layer``, ``head``).
    Segmented controls answer at once, where a slider waits out its drag debounce."""
    clamp_state("layer", n_layers)
    clamp_state("head", n_heads)
    st.segmented_control(tr("layer"), list(range(n_layers)), key="layer", required=True)
    st.segmented_control(tr("head"), list(range(n_heads)), key="head", required=True)


def render_figures(figs, key: str, notes: tuple[str, ...] = (), names: list[str] | None = None) -> None:
    """Figures side by side; in projector view one at a time, picked by a control.

    ``names`` label the picker; give them where titles change with the view
    (a position, a temperature, a new token), or the pick would be lost."""
    from components.ui.explorer import PLOTLY_CONFIG

    if projector():
        i = 0
        if len(figs) > 1:  # a lone figure needs no picker
            titles = names or [html.unescape(f.layout.title.text or str(k + 1)) for k, f in enumerate(figs)]
            # titles carry the student's words: radio labels read Markdown, so make them literal
            labels = [md_escape(title) for title in titles]
            i = st.radio(tr("pick_figure"), range(len(figs)), key=f"{key}_pick", horizontal=True,
                         format_func=lambda j: labels[j])
        st.plotly_chart(figs[i], key=f"{key}_{i}", config=PLOTLY_CONFIG, theme=None)
        if notes:
            st.caption(tr(notes[i]))
        return
    for i, (column, fig) in enumerate(zip(st.columns(len(figs)), figs)):
        column.plotly_chart(figures.fit_to_columns(fig, len(figs)), key=f"{key}_{i}", config=PLOTLY_CONFIG, theme=None)
    for column, note in zip(st.columns(len(notes)) if notes else [], notes):
        column.caption(tr(note))


def page_start(title_key: str, intro_key: str, sentence_box: bool = True) -> models.LoadedModel | None:
    """Title, intro, the sentence box and the current model: how every page starts."""
    st.title(tr(title_key))
    st.caption(tr(intro_key))
    if sentence_box:
        render_sentence_box()
    return load_current_model()
