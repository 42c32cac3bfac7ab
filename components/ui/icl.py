"""In-context learning page: zero-shot vs few-shot, attention to the
demonstrations, and the induction heads behind it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import figures
from components.icl import Task, answer_pieces, build_prompt, load_tasks, parse_pairs, shuffle_answers
from components.inference import AnalysisError
from components.sampling import TokenProb
from components.ui import charts, data, shell
from components.ui.shell import tr

INDUCTION_LENGTH = 30
CUSTOM = "custom"


def _apply_task() -> None:
    tasks = {t.id: t for t in load_tasks()}
    task: Task | None = tasks.get(st.session_state.get("icl_task"))
    st.session_state["_icl_applied"] = st.session_state.get("icl_task")
    if task is not None:
        st.session_state["icl_demos"] = "\n".join(f"{a}→{b}" for a, b in task.pairs)
        st.session_state["icl_query"], st.session_state["icl_answer"] = task.query, task.answer


def render_task_picker(where=st) -> None:
    tasks = load_tasks()
    names = {t.id: t.title(shell.lang()) for t in tasks} | {CUSTOM: tr("icl_custom")}
    if st.session_state.get("icl_task") not in names:
        st.session_state["icl_task"] = tasks[0].id
    if st.session_state.get("_icl_applied") != st.session_state["icl_task"]:
        _apply_task()  # a new session, or a link naming a task
    where.selectbox(tr("icl_task"), list(names), key="icl_task", format_func=names.get, on_change=_apply_task)


def render_builder(task_picker: bool = True) -> tuple[tuple, str, str]:
    if task_picker:
        render_task_picker()
    c1, c2 = st.columns([3, 2])
    c1.text_area(tr("icl_demos"), key="icl_demos", height=150, help=tr("icl_demos_help"), max_chars=2000)
    c2.text_input(tr("icl_query"), key="icl_query", max_chars=100)
    c2.text_input(tr("icl_answer"), key="icl_answer", max_chars=100, help=tr("icl_answer_help"))
    pairs = parse_pairs(st.session_state.get("icl_demos", ""))[:8]
    return pairs, st.session_state.get("icl_query", "").strip(), st.session_state.get("icl_answer", "").strip()


def render_induction_button(loaded) -> None:
    st.subheader(tr("induction_header"))
    st.caption(tr("induction_explain"))
    if st.button(tr("induction_run"), key="induction_run"):
        st.session_state["_induction_for"] = loaded.model_id
        st.rerun()  # the figures are drawn where the page puts them, above in projector view


def induction_figures(loaded) -> list:
    """The induction scores and the best head's stripe, once asked for (the button)."""
    if st.session_state.get("_induction_for") != loaded.model_id:
        return []
    seed = int(st.session_state.get("seed", 0))
    scores, att, ids = data.get_induction(loaded.model_id, INDUCTION_LENGTH, seed)
    layer, head = (int(i) for i in np.unravel_index(np.argmax(scores), scores.shape))
    fs = shell.font_size()
    heat = figures.matrix_figure(
        scores, [str(i) for i in range(scores.shape[0])], [str(i) for i in range(scores.shape[1])],
        title=tr("induction_scores_title"), value_name=tr("induction_score"),
        axis_rows=tr("layer"), axis_columns=tr("head"), font_size=fs,
    )
    n = len(ids)
    labels = [f"t{i}" for i in range(n)]
    pattern = charts.heatmap(
        att[layer, head], np.triu(np.ones((n, n), dtype=bool), 1), labels, labels,
        tr("induction_best", layer=layer, head=head, score=f"{scores[layer, head]:.2f}"), font_size=fs - 2,
    )
    return [heat, pattern]


def render_induction_ranking(loaded) -> None:
    if st.session_state.get("_induction_for") != loaded.model_id:
        return
    scores, _, _ = data.get_induction(loaded.model_id, INDUCTION_LENGTH, int(st.session_state.get("seed", 0)))
    ranked = np.argsort(-scores, axis=None)[:5]
    st.text("  ".join(
        f"{tr('layer')} {i // scores.shape[1]}・{tr('head')} {i % scores.shape[1]}: {scores.flat[i]:.2f}" for i in ranked
    ))


def first_token_note(curve, pieces: tuple[str, ...], answer: str) -> str | None:
    """When the model's top prediction is the answer's first token (書 of
    書いた), say so: it is the start of the right answer, not a wrong one."""
    if len(pieces) < 2 or not any(p.top_text == pieces[0] for p in curve):
        return None
    return tr("icl_first_token", first=pieces[0], answer=answer, pieces="｜".join(pieces), n=len(pieces))


def render() -> None:
    loaded = shell.page_start("icl_title", "icl_intro", sentence_box=False)
    if loaded is None:
        return
    if shell.projector():  # one line of controls, the figure, then the prompt and its editor
        row = st.columns([4, 4], vertical_alignment="bottom")
        render_task_picker(row[0])
        row[1].toggle(tr("icl_shuffled"), key="icl_shuffled", help=tr("icl_shuffled_help"))
        figures_at, builder_at = st.container(), st.expander(tr("icl_edit"))
    else:
        render_task_picker()
        figures_at = builder_at = st.container()
    with builder_at:
        pairs, query, answer = render_builder(task_picker=False)
    if not pairs or not query or not answer:
        st.info(tr("icl_need"))
        render_induction_button(loaded)
        figs = induction_figures(loaded)
        if figs:
            charts.render_figures(figs, "induction")
        return
    prompt = build_prompt(pairs, query)
    seed = int(st.session_state.get("seed", 0))
    try:
        parts, names, token_labels = data.get_line_attention(loaded.model_id, pairs, query)
        curve = data.get_curve(loaded.model_id, pairs, query, answer)
        shuffled_pairs = shuffle_answers(pairs, seed)
        shuffled = data.get_curve(loaded.model_id, shuffled_pairs, query, answer) if st.session_state.get("icl_shuffled") else None
    except AnalysisError as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        return
    with builder_at:
        st.subheader(tr("icl_prompt"))
        st.code(prompt.text, language=None)
        st.text(tr("tokens_line", tokens=" | ".join(token_labels)))
        if not shell.projector():
            st.toggle(tr("icl_shuffled"), key="icl_shuffled", help=tr("icl_shuffled_help"))
        if shuffled is not None:  # the control, exactly as the model reads it
            st.markdown("**" + tr("icl_shuffled_prompt") + "**")
            st.code(build_prompt(shuffled_pairs, query).text, language=None)
    fs = shell.font_size()
    few_shot = figures.few_shot_figure(
        [p.n_demos for p in curve], [p.answer_prob for p in curve], [p.top_text for p in curve],
        [p.top_prob for p in curve], None if shuffled is None else [p.answer_prob for p in shuffled],
        title=tr("icl_curve_title"), names=(tr("icl_answer_prob"), tr("icl_top_prob"), tr("icl_shuffled_prob")),
        axis_x=tr("icl_n_demos"), value_name=tr("prob"), font_size=fs,
    )
    looks = figures.matrix_figure(
        parts, [f"{tr('layer')} {i}" for i in range(parts.shape[0])], names,
        title=tr("icl_parts_title"), value_name=tr("weight"), font_size=fs,
    )
    best = int(np.argmax(parts[:, 1:-1].sum(axis=0))) + 1 if len(names) > 2 else None
    # the same attention drawn over the prompt's own lines, averaged over layers
    over_text = figures.next_token_figure(
        [TokenProb(i, name, float(w)) for i, (name, w) in enumerate(zip(names, parts.mean(axis=0)))],
        title=tr("icl_over_text"), value_name=tr("weight"), highlight=best, font_size=fs,
    )
    note = first_token_note(curve, answer_pieces(loaded, answer), answer)
    with figures_at:
        if shell.projector():  # every figure of the page behind one picker
            charts.render_figures([few_shot, over_text, looks, *induction_figures(loaded)], "icl_projector")
        else:
            charts.render_figures([few_shot, over_text], "icl_figs")
        if note:
            shell.say(note)
    if not shell.projector():
        charts.show(looks, "icl_layers")
        if best is not None:
            st.caption(shell.md_escape(tr("icl_most", line=names[best])))
    render_induction_button(loaded)
    render_induction_ranking(loaded)
    if not shell.projector():
        figs = induction_figures(loaded)
        if figs:
            charts.render_figures(figs, "induction")
    shell.sync_url()
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
