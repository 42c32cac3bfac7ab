"""Masked vs unmasked page: the three stages of causal attention, and what
the model does when the mask is lifted."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.analysis import Analysis
from components.models import TINY_ID, ModelLoadError
from components.pages import FIGURE_CHOICES
from components.ui import charts, data, shell
from components.ui.charts import comparison_figures, masked_unmasked_bars, shift_figure, stage_figures
from components.ui.shell import tr
from components.views import last_word_position, peek_message, prediction_shifts


def render_stages(analysis: Analysis, key: str, layer: int, head: int) -> None:
    if not shell.projector():
        st.subheader(tr("stages_header"))
    charts.render_figures(stage_figures(analysis, layer, head), f"{key}_stages",
                          ("stage_scores_note", "stage_masked_note", "stage_weights_note"), together=True)


def render_compare(analysis: Analysis, key: str, layer: int, head: int) -> None:
    if not shell.projector():
        st.subheader(tr("unmasked_header"))
        st.caption(tr("unmasked_intro"))
    charts.render_figures(comparison_figures(analysis, layer, head), f"{key}_compare", together=True)


def shift_table(analysis: Analysis) -> pd.DataFrame:
    rows = prediction_shifts(analysis)
    labels = analysis.token_labels
    return pd.DataFrame(
        {
            tr("col_position"): [s.position for s in rows],
            tr("col_prefix"): [s.prefix or labels[s.position] for s in rows],
            tr("col_top_masked"): [f"{s.masked_top.text} ({s.masked_top.prob:.1%})" for s in rows],
            tr("col_top_unmasked"): [f"{s.unmasked_top.text} ({s.unmasked_top.prob:.1%})" for s in rows],
            tr("col_moved"): [round(s.moved, 3) for s in rows],
        }
    )


def render_shift_table(analysis: Analysis, key: str) -> None:
    st.dataframe(
        shift_table(analysis), key=key, hide_index=True, width="stretch",
        # every "moved" figure with three decimals (0.360, not 0.36)
        column_config={tr("col_moved"): st.column_config.NumberColumn(format="%.3f")},
    )


def render_shift(analysis: Analysis, picker_at=None) -> None:
    """What lifting the mask does to the next-token prediction at each position."""
    labels = analysis.token_labels
    # start where the model predicts the last word (鳥が in 鳥がナク), unless a link named the position
    shell.follow_input("mask_pos", (analysis.model_id, analysis.text), lambda: last_word_position(analysis))
    shell.clamp_state("mask_pos", analysis.n_tokens)
    pos = st.session_state["mask_pos"]

    def position_picker(where) -> None:
        where.select_slider(
            tr("pick_position"), options=list(range(analysis.n_tokens)), key="mask_pos",
            format_func=lambda i: f"{i}: {labels[i]}",
        )

    if shell.projector():  # the two predictions side by side; the table is small type, so it stays off
        position_picker(picker_at or st)
        charts.render_figures(masked_unmasked_bars(analysis, pos), "shift_figs", together=True)
    else:
        st.subheader(tr("shift_header"))
        charts.show(shift_figure(analysis, pos), "shift")
        render_shift_table(analysis, "shift_table")
        position_picker(st)
        for column, fig, key in zip(st.columns(2), masked_unmasked_bars(analysis, pos), ("next_masked", "next_unmasked")):
            charts.show(fig, key, container=column)
    shell.explain(peek_explanation(analysis, pos))


def peek_explanation(analysis: Analysis, pos: int) -> str:
    """Why the prediction at ``pos`` means little once the future is visible,
    told with this sentence's own words and numbers."""
    key, params = peek_message(analysis.text, prediction_shifts(analysis)[pos])
    return tr(key, **params)


def render_untrained() -> None:
    """The same views for the untrained model, in a box of its own."""
    try:
        analysis = data.get_analysis(TINY_ID, st.session_state.get("_good_text") or shell.DEFAULT_TEXT, mask_views=True)
    except (ModelLoadError, ValueError) as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        return
    layer = min(int(st.session_state.get("layer", 0)), analysis.n_layers - 1)
    head = min(int(st.session_state.get("head", 0)), analysis.n_heads - 1)
    pos = last_word_position(analysis)
    with st.container(border=True):
        st.subheader(tr("untrained_header"))
        st.caption(tr("untrained_note"))
        st.markdown("**" + tr("untrained_stages", layer=layer, head=head) + "**")
        charts.render_figures(stage_figures(analysis, layer, head), "tiny_stages", together=True)
        st.markdown("**" + tr("untrained_compare") + "**")
        charts.render_figures(comparison_figures(analysis, layer, head), "tiny_compare", together=True)
        st.markdown("**" + tr("untrained_shift") + "**")
        charts.render_figures([shift_figure(analysis, pos), *masked_unmasked_bars(analysis, pos)], "tiny_shift")
        render_shift_table(analysis, "tiny_shift_table")
        shell.explain(peek_explanation(analysis, pos))


def render_projector(analysis: Analysis) -> None:
    """Projector view: which figure and its pickers on one line, then the figures."""
    row = st.columns([5, 5, 3], vertical_alignment="bottom")  # room for the whole figure picker at 1024 px
    choice = row[0].segmented_control(
        tr("show_figure"), FIGURE_CHOICES["mask_figure"], key="mask_figure", required=True,
        format_func=lambda s: tr(f"figure_{s}"),
    ) or "stages"
    if choice == "shift":
        render_shift(analysis, picker_at=row[1])
        return
    shell.clamp_state("layer", analysis.n_layers)
    shell.clamp_state("head", analysis.n_heads)
    row[1].select_slider(tr("layer"), list(range(analysis.n_layers)), key="layer")
    row[2].segmented_control(tr("head"), list(range(analysis.n_heads)), key="head", required=True)
    layer, head = st.session_state["layer"], st.session_state["head"]
    (render_stages if choice == "stages" else render_compare)(analysis, "mask", layer, head)


def render() -> None:
    loaded = shell.page_start("mask_title", "mask_intro")
    if loaded is None:
        return
    if not loaded.capture_ok:
        st.warning(tr("err_no_capture"))
        shell.render_licence(loaded)
        return
    analysis = shell.analyse_current(loaded, mask_views=True)
    if analysis is not None and shell.projector():
        render_projector(analysis)
    elif analysis is not None:
        shell.render_head_pickers(analysis.n_layers, analysis.n_heads)
        layer, head = st.session_state["layer"], st.session_state["head"]
        render_stages(analysis, "mask", layer, head)
        render_compare(analysis, "mask", layer, head)
        render_shift(analysis)
        if analysis.model_id != TINY_ID and st.toggle(tr("compare_untrained"), key="compare_untrained"):
            render_untrained()
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
