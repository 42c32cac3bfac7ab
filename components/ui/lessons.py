"""Lessons page: step through the guided lessons in examples/lessons/."""

from __future__ import annotations

import streamlit as st

from components import figures
from components.analysis import AnalysisError
from components.lessons import Lesson, check_claim, load_lessons
from components.sampling import top_tokens
from components.ui import shell
from components.ui.explorer import PLOTLY_CONFIG, build_head_figure
from components.ui.mask import stage_figures
from components.ui.shell import tr
from components.views import prefix_text, shorten_left

PAGE_FILES = {
    "explorer": "components/ui/explorer.py",
    "mask": "components/ui/mask.py",
    "lessons": "components/ui/lessons.py",
    "generate": "components/ui/generate.py",
    "homophones": "components/ui/homophones.py",
    "icl": "components/ui/icl.py",
}


#: what opening a lesson sets and a shared link may set otherwise
LESSON_KEYS = ("text", "layer", "head", "view", "temperature", "pos")


def apply_lesson(lesson: Lesson) -> None:
    """Open the lesson's view: its sentence, layer, head, position, units, temperature."""
    state = st.session_state
    state["text"] = lesson.text
    state["layer"], state["head"], state["view"] = lesson.layer, lesson.head, lesson.view
    state["temperature"] = lesson.temperature
    state["pos"], state["_link_pos"] = lesson.pos, True
    state["mask_pos"], state["_link_mask_pos"] = lesson.pos, True
    if lesson.figure in ("detail", "next", "strip", "overview"):
        state["figure"] = lesson.figure
    else:
        state["mask_figure"] = lesson.figure
    state["reveal"] = False
    state["_lesson_applied"] = lesson.id


def _step(delta: int) -> None:
    ids = [lesson.id for lesson in load_lessons()]
    i = ids.index(st.session_state["lesson"]) if st.session_state.get("lesson") in ids else 0
    st.session_state["lesson"] = ids[(i + delta) % len(ids)]


def _open_view(page: str) -> None:
    st.session_state["_open_page"] = page


def render_claims(lesson: Lesson, loaded) -> None:
    """Each claim of the lesson, checked on the current model with its numbers."""

    def analyze(text: str, unmasked: bool):
        return shell.get_analysis(loaded.model_id, text, unmasked and loaded.capture_ok, unmasked and loaded.capture_ok)

    def token_id(piece: str):
        tid = loaded.tokenizer.convert_tokens_to_ids(piece)
        return None if tid is None or tid == loaded.tokenizer.unk_token_id else int(tid)

    with st.expander(shell.md_escape(tr("lesson_check", model=loaded.model_id))):
        for claim in lesson.claims:
            try:
                result = check_claim(claim, lesson, analyze, token_id)
                mark, summary = ("✓" if result.ok else "✗"), result.summary(shell.lang())
            except Exception as exc:  # a broken claim says so; it never takes the page down
                mark, summary = "✗", shell.error_text(exc)
            st.text(f"{mark} {summary}")


def lesson_figures(lesson: Lesson, loaded) -> list:
    """The lesson's view, drawn inline."""
    fs = shell.font_size()
    out = []
    for text in lesson.sentences:
        unmasked = lesson.figure in ("stages", "shift") and loaded.capture_ok
        a = shell.get_analysis(loaded.model_id, text, unmasked, unmasked)
        layer, head = min(lesson.layer, a.n_layers - 1), min(lesson.head, a.n_heads - 1)
        if lesson.figure == "detail":
            _, fig = build_head_figure(a, layer, head, lesson.view, False, font_size=fs)
            fig.update_layout(title={"text": figures.safe(f"「{text}」 " + tr("heatmap_title", layer=layer, head=head))})
            out.append(fig)
        elif lesson.figure == "stages" and unmasked:
            out.extend(stage_figures(a, layer, head))
        elif lesson.figure in ("next", "shift"):
            pos = min(lesson.pos, a.n_tokens - 1)
            prefix = prefix_text(a, pos)
            temperature = float(st.session_state.get("temperature", 1.0)) if lesson.figure == "next" else 1.0
            sources = [("with_mask", a.next_logits)]
            if lesson.figure == "shift" and unmasked:
                sources.append(("without_mask", a.unmasked_next_logits))
            for name, logits in sources:
                title = tr("next_title", prefix=shorten_left(prefix), temperature=f"{temperature:g}")
                if lesson.figure == "shift":
                    title = f"{tr(name)}: {title}"
                out.append(figures.next_token_figure(
                    top_tokens(logits, pos, a.labels, temperature, int(st.session_state.get("top_k", 10))),
                    title=title, value_name=tr("prob"), font_size=fs,
                ))
    return out


def render() -> None:
    lessons = load_lessons()
    ids = [lesson.id for lesson in lessons]
    if st.session_state.get("lesson") not in ids:
        st.session_state["lesson"] = ids[0]
    lesson = lessons[ids.index(st.session_state["lesson"])]
    if st.session_state.get("_lesson_applied") != lesson.id:
        apply_lesson(lesson)
        linked = st.session_state.pop("_lesson_link", None)
        if linked and st.session_state.get("lesson") == lesson.id:  # a shared link restores exactly its view
            shell.apply_link({k: v for k, v in linked.items() if k in LESSON_KEYS})
    lang = shell.lang()

    st.title(tr("lessons_title"))
    c1, c2, c3 = st.columns([1, 6, 1], vertical_alignment="bottom")
    c1.button(tr("previous"), key="lesson_prev", on_click=_step, args=(-1,), width="stretch")
    c2.selectbox(tr("lesson"), ids, key="lesson", format_func=lambda i: lessons[ids.index(i)].get("title", lang))
    c3.button(tr("next"), key="lesson_next", on_click=_step, args=(1,), width="stretch")

    st.header(shell.md_escape(lesson.get("title", lang)))
    st.text(" / ".join(f"「{s}」" for s in lesson.sentences))
    st.markdown(f"**{tr('lesson_look')}** " + shell.md_escape(lesson.get("look", lang)))
    st.info(tr("lesson_question") + " " + shell.md_escape(lesson.get("question", lang)))

    loaded = shell.load_current_model()
    if loaded is None:
        return
    if lesson.figure == "next":
        st.slider(tr("temperature"), 0.1, 2.0, step=0.05, key="temperature", help=tr("temperature_help"))
    try:
        figs = lesson_figures(lesson, loaded)
    except AnalysisError as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        figs = []
    if figs:
        shell.render_figures(figs, "lesson_fig")
    if st.toggle(tr("lesson_reveal"), key="reveal"):
        st.success(shell.md_escape(lesson.get("answer", lang)))
    render_claims(lesson, loaded)
    st.button(tr("lesson_open"), key="lesson_open", on_click=_open_view, args=(lesson.page,))
    target = st.session_state.pop("_open_page", None)
    if target:
        st.switch_page(PAGE_FILES[target])
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
