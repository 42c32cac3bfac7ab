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
    st.subheader(tr("stages_header"))
    charts.render_figures(stage_figures(analysis, layer, head), f"{key}_stages",
                ("stage_scores_note", "stage_masked_note", "stage_weights_note"))


def render_compare(analysis: Analysis, key: str, layer: int, head: int) -> None:
    st.subheader(tr("unmasked_header"))
    st.caption(tr("unmasked_intro"))
    charts.render_figures(comparison_figures(analysis, layer, head), f"{key}_compare")


def render_heads(analysis: Analysis, key: str, layer: int, head: int) -> None:
    render_stages(analysis, key, layer, head)
    render_compare(analysis, key, layer, head)


@st.fragment
def render_head_section(analysis: Analysis, part: str = "both") -> None:
    """Layer/head changes rerun only this part, from the cached analysis; the
    untrained comparison lives here too, so it follows the chosen head."""
    shell.render_head_pickers(analysis.n_layers, analysis.n_heads)
    layer, head = st.session_state["layer"], st.session_state["head"]
    if part in ("both", "stages"):
        render_stages(analysis, "mask", layer, head)
    if part in ("both", "compare"):
        render_compare(analysis, "mask", layer, head)
    if part == "both" and analysis.model_id != TINY_ID:
        if st.toggle(tr("compare_untrained"), key="compare_untrained"):
            render_untrained()
    shell.sync_url()


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


def shift_names() -> list[str]:
    return [tr("shift_title"), tr("with_mask"), tr("without_mask")]


@st.fragment
def render_shift(analysis: Analysis) -> None:
    st.subheader(tr("shift_header"))
    labels = analysis.token_labels
    # start where the model predicts the last word (鳥が in 鳥がナク), unless a link named the position
    shell.follow_input("mask_pos", (analysis.model_id, analysis.text), lambda: last_word_position(analysis))
    shell.clamp_state("mask_pos", analysis.n_tokens)
    pos = st.session_state["mask_pos"]
    shift = shift_figure(analysis, pos)
    bars = masked_unmasked_bars(analysis, pos)

    def position_picker() -> None:
        st.select_slider(
            tr("pick_position"), options=list(range(analysis.n_tokens)), key="mask_pos",
            format_func=lambda i: f"{i}: {labels[i]}",
        )

    if shell.projector():  # one figure at a time; the table is small type, so it stays off the screen
        position_picker()
        charts.render_figures([shift, *bars], "shift_figs", names=shift_names())
    else:
        charts.show(shift, "shift")
        render_shift_table(analysis, "shift_table")
        position_picker()
        for column, fig, key in zip(st.columns(2), bars, ("next_masked", "next_unmasked")):
            charts.show(fig, key, container=column)
    st.info(shell.md_escape(peek_explanation(analysis, pos)))
    shell.sync_url()


def peek_explanation(analysis: Analysis, pos: int) -> str:
    """Why the prediction at ``pos`` means little once the future is visible,
    told with this sentence's own words and numbers."""
    key, params = peek_message(analysis.text, prediction_shifts(analysis)[pos])
    return tr(key, **params)


def render_untrained() -> None:
    st.subheader(tr("untrained_header"))
    st.caption(tr("untrained_note"))
    try:
        analysis = data.get_analysis(TINY_ID, st.session_state.get("_good_text") or shell.DEFAULT_TEXT, mask_views=True)
    except (ModelLoadError, ValueError) as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        return
    layer = min(int(st.session_state.get("layer", 0)), analysis.n_layers - 1)
    head = min(int(st.session_state.get("head", 0)), analysis.n_heads - 1)
    st.caption(tr("heatmap_title", layer=layer, head=head))
    render_heads(analysis, "tiny", layer, head)
    # what lifting the mask does to its predictions, as for the trained model
    pos = last_word_position(analysis)
    st.subheader(tr("shift_header"))
    charts.render_figures([shift_figure(analysis, pos), *masked_unmasked_bars(analysis, pos)], "tiny_shift",
                          names=shift_names())
    render_shift_table(analysis, "tiny_shift_table")
    st.info(shell.md_escape(peek_explanation(analysis, pos)))


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
        choice = st.segmented_control(
            tr("show_figure"), FIGURE_CHOICES["mask_figure"], key="mask_figure", required=True,
            format_func=lambda s: tr(f"figure_{s}"),
        )
        if choice == "shift":
            render_shift(analysis)
        else:
            render_head_section(analysis, choice or "stages")
    elif analysis is not None:
        render_head_section(analysis)
        render_shift(analysis)
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
