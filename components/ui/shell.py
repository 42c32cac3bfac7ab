"""The page shell: session state and the link protocol, the sidebar, the
sentence box, loading the chosen model, and the messages every page shows.
Only ``components.ui`` calls ``st.*``."""

from __future__ import annotations

import re
import time
from typing import Any, Callable

import streamlit as st

from components import links, models
from components.analysis import Analysis, first_tokens_text
from components.examples import Example, example_for, load_sentences
from components.i18n import DEFAULT_LANG, LANGS, STRINGS, normalize_lang, t
from components.inference import MODEL_LOCK, AnalysisError
from components.models import BUNDLED_ID, TINY_ID, ModelLoadError
from components.pages import FIGURE_CHOICES
from components.ui import data

DEFAULT_TEXT = data.DEFAULT_TEXT
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
    "pins": "",
    "compare_untrained": False,
    "projector": False,
    "pos": 0,  # set per sentence by follow_input
    "figure": "detail",
    "mask_figure": "stages",
    "layers_figure": "lens",
    "track": "",
    "ko_target": "",
    "ko_versus": "",
    "rlhf_beta": 1.0,
    "rlhf_run": "",
    "rlhf_step": None,  # projector view: the step shown; None = the furthest one with a result
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
KEPT = ("lesson", "icl_task", "icl_demos", "icl_query", "icl_answer", "hp_word", "mask_pos", "rlhf_task", "rlhf_demos",
        "rank_A", "rank_B", "rank_C", "rank_D")

#: What a session keeps besides widget values, and why each must live per session
#: (tests check that the pages use no other underscored keys).
SESSION_NOTES = {
    "_started": "the link a session was opened with is read once, on its first run",
    "_page": "the page on screen, so that the address bar names it",
    "_link_page": "the page a link named, opened once the router runs",
    "_lesson_link": "a lesson link's own settings, applied over the lesson's defaults when it opens",
    "_lesson_applied": "the lesson whose view was opened, so a visit elsewhere does not re-open it over the teacher's",
    "_open_page": "the page the lesson's 'open this view' button asked for, switched to after the click",
    "_pinned": "widgets a link or a lesson set for its sentence, which the new sentence must not reset",
    "_input_of": "the (model, sentence) that each sentence-bound widget was last set for",
    "_good_text": "the last sentence that analysed, shown again while a new one cannot be",
    "_good_model": "the last model that loaded, used while a chosen one cannot be",
    "_icl_applied": "the few-shot task whose demonstrations fill the boxes, so typed edits are kept",
    "_knockout_for": "the inputs the knockouts were asked for (they run on a click: seconds, not a view change)",
    "_rlhf_job": "the RLHF training job this session started and follows (the queue is the process's)",
    "_rlhf_demos_for": "the RLHF task whose demonstrations fill the box, so the teacher's edits are kept",
    "_rlhf_error": "why the last RLHF job could not be submitted, shown once",
    "_rlhf_ranks_for": "the finished RLHF run whose ranking the A-D controls show (a link opens it ranked)",
    "_open_head": "a head was just clicked in the overview: open it in a dialog on this run",
    "_induction_for": "the model whose induction heads were asked for (the search runs on a click)",
}

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


# ------------------------------------------------------- state and links


def pin(key: str, value: Any) -> None:
    """Set a sentence-bound widget (a position, a number of steps) for the
    sentence about to be shown, so :func:`follow_input` keeps it once."""
    st.session_state[key] = value
    st.session_state.setdefault("_pinned", set()).add(key)


def follow_input(key: str, source: tuple, reset: Callable[[], Any]) -> None:
    """The link protocol for a widget that belongs to one input (a position
    belongs to its sentence): when ``source`` (model, sentence) changes, the
    widget goes back to ``reset()`` (a new sentence starts at its end), unless
    a link or a lesson pinned it for this input; then its value is kept once."""
    seen = st.session_state.setdefault("_input_of", {})
    if seen.get(key) == source:
        return
    pinned = st.session_state.setdefault("_pinned", set())
    if key in pinned:
        pinned.discard(key)
    else:
        st.session_state[key] = reset()
    seen[key] = source


#: link fields that pin a sentence-bound widget (a position belongs to its sentence)
_PINNED_BY_LINK = {"pos": ("pos", "mask_pos"), "gen_steps": ("gen_steps",)}


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
        elif key in _PINNED_BY_LINK:  # the explorer's position is also the mask page's
            for widget in _PINNED_BY_LINK[key]:
                pin(widget, value)
        else:
            st.session_state[key] = value


def init_state() -> None:
    """On a session's first run, read the link it was opened with; then set
    defaults, and keep shared widget values across page switches (Streamlit
    forgets a widget's value when a page without it runs)."""
    if "_started" not in st.session_state:
        st.session_state["_started"] = True
        linked = links.params_to_state(st.query_params.to_dict())
        example = example_for(linked.get("text", DEFAULT_TEXT))
        if example is not None:  # the sentence opens with the view that shows its point
            apply_example(example)
        apply_link(linked)  # and the link's own settings win
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
    position = "mask_pos" if page == "mask" else "pos"
    # a position belongs to its sentence: only one set for this sentence goes into a link
    current = (state["model"], st.session_state.get("text"))
    if st.session_state.get("_input_of", {}).get(position) == current or position in st.session_state.get("_pinned", ()):
        state["pos"] = st.session_state.get(position)
    else:
        state.pop("pos", None)
    for key, only in links.PAGE_ONLY.items():
        if page != only or (key in FIGURE_CHOICES and not projector()):
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


# ------------------------------------------------------------------ widgets


GUIDES = {"ja": "docs/teachers.md", "en": "docs/teachers.en.md"}


def _guide() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / GUIDES[lang()]).read_text(encoding="utf-8")
    # our own Markdown; the first line's link to the other language means nothing inside the app
    st.markdown("\n".join(line for line in text.splitlines() if "](teachers" not in line))


def render_sidebar() -> None:
    """Language, projector view, model pickers and the teacher's guide."""
    with st.sidebar:
        if st.button(tr("guide"), key="guide", icon=":material/school:"):
            st.dialog(tr("guide"), width="large")(_guide)()
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
            names = data.available_model_names()
            if names:
                st.caption(md_escape(tr("model_available", names=", ".join(names))))
            else:
                st.caption(md_escape(tr("model_available_none", folder=str(models.models_dir()))))


def apply_example(example: Example) -> None:
    """Open an example with the view that shows its point: its sentence,
    head, units, sink toggle and the next-token chart's position."""
    state = st.session_state
    state["text"] = example.text
    state["layer"], state["head"] = example.layer, example.head
    state["view"], state["hide_sink"] = example.view, example.hide_sink
    if example.pos is not None:
        pin("pos", example.pos)


def _pick_example() -> None:
    example = example_for(st.session_state.get("example") or "")
    if example is not None:
        apply_example(example)
    st.session_state["example"] = None


def render_sentence_box(header=None) -> None:
    """The sentence box (applies on Enter) and the examples, one click away.
    In projector view both sit in the one-line ``header``."""
    examples = load_sentences()
    if projector():
        left, right = header[0], header[1]
        left.text_input(tr("sentence"), key="text", help=tr("sentence_help"), max_chars=2000)
        right.selectbox(tr("examples"), [e.text for e in examples], key="example", on_change=_pick_example,
                        index=None, placeholder=tr("examples_pick"))
        return
    st.text_input(tr("sentence"), key="text", help=tr("sentence_help"), max_chars=2000)
    st.pills(
        tr("examples"), [e.text for e in examples], key="example", on_change=_pick_example,
        selection_mode="single",
    )


def example_note(loaded: models.LoadedModel | None) -> None:
    """What to look at in the example on screen, if the sentence is one. The
    notes state numbers measured on the bundled model, so only it shows them."""
    example = example_for(st.session_state.get("text", ""))
    if example is not None and loaded is not None and loaded.kind == "bundled":
        say(example.note(lang()))


def say(text: str) -> None:
    """A line for the class to read: a caption, or in projector view text of
    at least 20 px (a level-5 heading is the largest plain text Markdown has)."""
    if projector():
        st.markdown("##### " + md_escape(text))
    else:
        st.caption(md_escape(text))


def line(text: str) -> None:
    """A line of plain text (a generated sentence, a checked claim): as
    written, or in projector view at least 20 px (see :func:`say`)."""
    if projector():
        say(text)
    else:
        st.text(text)


def label(text: str) -> None:
    """A bold line that names what follows (a list of texts): at least 20 px in projector view."""
    st.markdown(("##### " if projector() else "") + "**" + md_escape(text) + "**")


def callout(kind: str, text: str) -> None:
    """A coloured box (``success``, ``info``, ``warning``) of literal text,
    at least 20 px in projector view."""
    getattr(st, kind)(("##### " if projector() else "") + md_escape(text))


def explain(text: str) -> None:
    """An explanation tied to the numbers on screen: a box, or in projector
    view large text (see :func:`say`)."""
    if projector():
        say(text)
    else:
        st.info(md_escape(text))


def share_link() -> str:
    """The address of the view on screen, reachable from students' devices."""
    base = st.context.url or "http://localhost:8501/"
    bound = st.get_option("server.address")
    # a server that listens on every interface can be reached on the LAN address
    host = links.lan_address() if not bound or bound in ("0.0.0.0", "::") else None
    return links.share_link(base, links.state_to_params(current_link_state()), host)


def render_share() -> None:
    """A button that shows the current view's link and its QR code, made when
    pressed, so that it is the view on screen now (figures change in fragments)."""
    if st.button(tr("share"), key="share", help=tr("share_help")):
        st.dialog(tr("share_title"))(_share_dialog)()


def _share_dialog() -> None:
    link = share_link()
    st.image(links.qr_png(link), caption=tr("share_caption"), width=320)
    st.caption(md_escape(link))


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
        while data.STARTUP["running"] and not models.verified_in_process():
            report(data.STARTUP["fraction"], data.STARTUP["stage"])  # the start-up hook is preparing it
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
                loaded = data.get_model(model_id)
        except ModelLoadError as exc:
            st.error(md_escape(tr("err_model", model=model_id, detail=error_text(exc))))
            continue
        except Exception as exc:  # never a traceback: say what failed and try the next model
            st.error(md_escape(tr("err_model", model=model_id, detail=f"{type(exc).__name__}: {exc}")))
            continue
        st.session_state["_good_model"] = model_id
        # an example or a link may name a layer this model does not have
        clamp_state("layer", loaded.n_layers)
        clamp_state("head", loaded.n_heads)
        if model_id == BUNDLED_ID:
            data.start_warm_up(model_id)
        return loaded
    return None


def busy_message() -> str:
    """"Analysing", or, when other students' sentences are ahead, "waiting"."""
    ahead = MODEL_LOCK.pending
    return tr("waiting", n=ahead) if ahead else tr("analysing")


def error_text(exc: Exception) -> str:
    """A short message in the interface's language for anything that went wrong."""
    if isinstance(exc, AnalysisError) and f"err_{exc.code}" in STRINGS:
        return tr(f"err_{exc.code}", **exc.params)
    if isinstance(exc, ModelLoadError) and f"load_{exc.code}" in STRINGS:
        return tr(f"load_{exc.code}", **exc.params)
    return tr("err_other", detail=str(exc))


def analyse_current(loaded: models.LoadedModel, mask_views: bool = False) -> Analysis | None:
    """The analysis of the sentence box, or, if it cannot be analysed, a short
    message and the last sentence that worked."""
    text = st.session_state.get("text", "")
    try:
        with st.spinner(busy_message()):
            analysis = data.get_analysis(loaded.model_id, text, mask_views)
    except Exception as exc:  # AnalysisError, or anything a custom model raises
        st.warning(md_escape(error_text(exc)))
        if isinstance(exc, AnalysisError) and exc.code == "too_long":  # a pasted paragraph: offer its start
            st.button(tr("truncate", limit=exc.params["limit"]), key="truncate", on_click=_truncate,
                      args=(loaded, exc.params["limit"]))
        good = st.session_state.get("_good_text")
        if not good or good == text:
            return None
        st.info(md_escape(tr("showing_last_good", text=good)))
        try:
            return data.get_analysis(loaded.model_id, good, mask_views)
        except Exception:
            return None
    st.session_state["_good_text"] = text
    return analysis


def _truncate(loaded: models.LoadedModel, limit: int) -> None:
    st.session_state["text"] = first_tokens_text(loaded, st.session_state.get("text", ""), limit)


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


def page_start(title_key: str, intro_key: str, sentence_box: bool = True, note: bool = False) -> models.LoadedModel | None:
    """Title, intro, the sentence box and the current model: how every page
    starts. In projector view the header is one line (the sentence, the
    examples, the QR code) so that the page's main figure fits the first
    screen of a 1280×720 or 1024×768 projector."""
    if projector():
        header = st.columns([5, 3, 1], vertical_alignment="bottom")
        if sentence_box:
            render_sentence_box(header=header)
        else:
            header[0].markdown("#### " + md_escape(tr(title_key)))
        with header[2]:
            render_share()
    else:
        title, share = st.columns([6, 1], vertical_alignment="center")
        title.title(tr(title_key))
        with share:
            render_share()
        st.caption(tr(intro_key))
        if sentence_box:
            render_sentence_box()
    loaded = load_current_model()
    if note and not projector():  # in projector view it waits under the figure
        example_note(loaded)
    return loaded

