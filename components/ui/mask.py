"""Masked vs unmasked page: the three stages of causal attention, and what
the model does when the mask is lifted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from components import figures
from components.analysis import Analysis
from components.models import TINY_ID, ModelLoadError
from components.sampling import top_tokens
from components.ui import shell
from components.ui.explorer import PLOTLY_CONFIG
from components.ui.shell import tr
from components.views import head_view, last_word_position, mask_stages, prediction_shifts, prefix_text, shorten_left

def _symmetric(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 1.0


def _heatmap(weights, masked, labels, title, **kw):
    return figures.attention_heatmap(
        weights, masked, labels, labels, title=title, masked_name=tr("masked_legend"),
        masked_hover=kw.pop("masked_hover", tr("masked_hover")), axis_query=tr("axis_query"),
        axis_key=tr("axis_key"), font_size=shell.font_size() - 1, **kw,
    )


def stage_figures(analysis: Analysis, layer: int, head: int) -> list:
    """Raw scores, masked scores, softmax weights: three figures, one colour range for the first two."""
    stages = mask_stages(analysis, layer, head)
    none = np.zeros_like(stages.masked)
    span = _symmetric(stages.scores)
    score_kw = dict(value_name=tr("score"), zmin=-span, zmax=span, colorscale=figures.DIFF_SCALE, value_format=".3f")
    return [
        _heatmap(stages.scores, none, stages.labels, tr("stage_scores"), **score_kw),
        _heatmap(stages.scores, stages.masked, stages.labels, tr("stage_masked"), masked_hover=tr("minus_inf"), **score_kw),
        _heatmap(stages.weights, stages.masked, stages.labels, tr("stage_weights"), value_name=tr("weight")),
    ]


def comparison_figures(analysis: Analysis, layer: int, head: int) -> list:
    """Masked weights, unmasked weights and their difference for one head."""
    masked = head_view(analysis, layer, head)
    unmasked = head_view(
        analysis, layer, head, attentions=analysis.unmasked_attentions, masked=np.zeros_like(analysis.masked[layer])
    )
    diff = unmasked.weights - masked.weights
    span = max(_symmetric(diff), 1e-6)
    labels = masked.query_labels
    return [
        _heatmap(masked.weights, masked.masked, labels, tr("with_mask"), value_name=tr("weight")),
        _heatmap(unmasked.weights, unmasked.masked, labels, tr("without_mask"), value_name=tr("weight")),
        _heatmap(diff, unmasked.masked, labels, tr("difference"), value_name=tr("difference_name"),
                 zmin=-span, zmax=span, colorscale=figures.DIFF_SCALE),
    ]


def render_stages(analysis: Analysis, key: str, layer: int, head: int) -> None:
    st.subheader(tr("stages_header"))
    shell.render_figures(stage_figures(analysis, layer, head), f"{key}_stages",
                ("stage_scores_note", "stage_masked_note", "stage_weights_note"))


def render_compare(analysis: Analysis, key: str, layer: int, head: int) -> None:
    st.subheader(tr("unmasked_header"))
    st.caption(tr("unmasked_intro"))
    shell.render_figures(comparison_figures(analysis, layer, head), f"{key}_compare")


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


def next_token_bars(analysis: Analysis, pos: int, font_size: int) -> list:
    """The next-token distribution at ``pos``, with and without the mask."""
    k = int(st.session_state.get("top_k", 10))
    prefix = prefix_text(analysis, pos)
    return [
        figures.next_token_figure(
            top_tokens(logits, pos, analysis.labels, 1.0, k),
            title=f"{tr(name)}: " + tr("next_title", prefix=shorten_left(prefix), temperature="1"), value_name=tr("prob"),
            font_size=font_size,
        )
        for logits, name in ((analysis.next_logits, "with_mask"), (analysis.unmasked_next_logits, "without_mask"))
    ]


def shift_figure(analysis: Analysis, pos: int, font_size: int):
    """How much probability lifting the mask moved at each position, ``pos`` highlighted."""
    return figures.column_bars_figure(
        analysis.token_labels, analysis.unmasked_shift, title=tr("shift_title"), value_name=tr("moved"),
        highlight=pos, y_max=1.1, font_size=font_size,
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
    if st.session_state.get("_mask_pos_for") != (analysis.model_id, analysis.text):
        if not st.session_state.pop("_link_mask_pos", False):  # a shared link names its position
            # start where the model predicts the last word (鳥が in 鳥がナク)
            st.session_state["mask_pos"] = last_word_position(analysis)
        st.session_state["_mask_pos_for"] = (analysis.model_id, analysis.text)
    shell.clamp_state("mask_pos", analysis.n_tokens)
    pos = st.session_state["mask_pos"]
    fs = shell.font_size()
    shift = shift_figure(analysis, pos, fs)
    bars = next_token_bars(analysis, pos, fs)
    if shell.projector():  # one figure at a time; the table is small type, so it stays off the screen
        st.select_slider(
            tr("pick_position"), options=list(range(analysis.n_tokens)), key="mask_pos",
            format_func=lambda i: f"{i}: {labels[i]}",
        )
        shell.render_figures([shift, *bars], "shift_figs", names=shift_names())
    else:
        st.plotly_chart(shift, key="shift", config=PLOTLY_CONFIG, theme=None)
        render_shift_table(analysis, "shift_table")
        st.select_slider(
            tr("pick_position"), options=list(range(analysis.n_tokens)), key="mask_pos",
            format_func=lambda i: f"{i}: {labels[i]}",
        )
        for column, fig, key in zip(st.columns(2), bars, ("next_masked", "next_unmasked")):
            column.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, theme=None)
    st.info(shell.md_escape(peek_explanation(analysis, pos)))
    shell.sync_url()


def peek_explanation(analysis: Analysis, pos: int) -> str:
    """Why the prediction at ``pos`` means little once the future is visible,
    told with this sentence's own words and numbers."""
    shift = prediction_shifts(analysis)[pos]
    future = analysis.text[len(shift.prefix):] if analysis.text.startswith(shift.prefix) else ""
    if not future:
        return tr("peek_last", prefix=shift.prefix or "<bos>")
    same = shift.masked_top.text == shift.unmasked_top.text
    return tr(
        "peek_explanation_same" if same else "peek_explanation", prefix=shift.prefix or "<bos>", future=future,
        masked=shift.masked_top.text, unmasked=shift.unmasked_top.text, moved=f"{shift.moved:.2f}",
    )


def render_untrained() -> None:
    st.subheader(tr("untrained_header"))
    st.caption(tr("untrained_note"))
    try:
        tiny = shell.get_model(TINY_ID)
        analysis = shell.get_analysis(tiny.model_id, st.session_state.get("_good_text") or shell.DEFAULT_TEXT, True, True)
    except (ModelLoadError, ValueError) as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        return
    layer = min(int(st.session_state.get("layer", 0)), analysis.n_layers - 1)
    head = min(int(st.session_state.get("head", 0)), analysis.n_heads - 1)
    st.caption(tr("heatmap_title", layer=layer, head=head))
    render_heads(analysis, "tiny", layer, head)
    # what lifting the mask does to its predictions, as for the trained model
    pos = last_word_position(analysis)
    fs = shell.font_size()
    st.subheader(tr("shift_header"))
    shell.render_figures([shift_figure(analysis, pos, fs), *next_token_bars(analysis, pos, fs)], "tiny_shift",
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
    analysis = shell.analyse_current(loaded, scores=True, unmasked=True)
    if analysis is not None and shell.projector():
        choice = st.segmented_control(
            tr("show_figure"), ("stages", "compare", "shift"), key="mask_figure", required=True,
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
