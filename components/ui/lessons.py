"""Lessons page: step through the guided lessons in examples/lessons/."""

from __future__ import annotations

import streamlit as st

from components.inference import AnalysisError
from components.lessons import Lesson, check_claim, load_lessons
from components.pages import PAGES, figure_key, needs_mask_views
from components.ui import charts, data, shell
from components.ui.charts import head_figure, stage_figures
from components.ui.shell import tr


#: what opening a lesson sets and a shared link may set otherwise
LESSON_KEYS = ("text", "layer", "head", "view", "temperature", "pos")


def apply_lesson(lesson: Lesson) -> None:
    """Open the lesson's view: its sentence, layer, head, position, units, temperature."""
    state = st.session_state
    state["text"] = lesson.text
    state["layer"], state["head"], state["view"] = lesson.layer, lesson.head, lesson.view
    state["temperature"] = lesson.temperature
    shell.pin("pos", lesson.pos)
    shell.pin("mask_pos", lesson.pos)
    state[figure_key(lesson.figure)] = lesson.figure
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
        return data.get_analysis(loaded.model_id, text, mask_views=unmasked)

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
    out = []
    mask_views = needs_mask_views(lesson.page, lesson.figure) and loaded.capture_ok
    for text in lesson.sentences:
        a = data.get_analysis(loaded.model_id, text, mask_views)
        layer, head = min(lesson.layer, a.n_layers - 1), min(lesson.head, a.n_heads - 1)
        pos = min(lesson.pos, a.n_tokens - 1)
        if lesson.figure == "detail":
            title = f"「{text}」 " + tr("heatmap_title", layer=layer, head=head)
            out.append(head_figure(a, layer, head, lesson.view, title=title)[1])
        elif lesson.figure == "stages" and mask_views:
            out.extend(stage_figures(a, layer, head))
        elif lesson.figure == "shift" and mask_views:
            out.extend(charts.masked_unmasked_bars(a, pos))
        elif lesson.figure == "next":
            out.append(charts.next_figure(a, pos, float(st.session_state.get("temperature", 1.0))))
        elif lesson.figure == "shift":  # a model without the unmasked run: its masked prediction only
            out.append(charts.next_figure(a, pos, label=tr("with_mask")))
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
        charts.render_figures(figs, "lesson_fig")
    if st.toggle(tr("lesson_reveal"), key="reveal"):
        st.success(shell.md_escape(lesson.get("answer", lang)))
    render_claims(lesson, loaded)
    st.button(tr("lesson_open"), key="lesson_open", on_click=_open_view, args=(lesson.page,))
    target = st.session_state.pop("_open_page", None)
    if target:
        st.switch_page(PAGES[target])
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
