"""Charts on the page: the Plotly config, :func:`show`, the projector's
one-figure-at-a-time picker, and the figures several pages draw (a head, the
three mask stages, masked vs unmasked, next-token bars, what moved, the
RLHF run's steps and rewards)."""

from __future__ import annotations

import html
import re

import numpy as np
import streamlit as st

from components import figures
from components.analysis import Analysis
from components.sampling import top_tokens
from components.homophones import load_homophones, parse_extra, sentence_spellings
from components.ui import data, shell
from components.ui.shell import tr
from components.views import HeadView, head_view, mask_stages, pinned_at, prefix_text, shorten_left

#: at most this many words are followed on a next-token chart
MAX_PINNED = 8
#: a predicted token that is an HTML tag (<h1>, </strong>): the model read web pages
HTML_TAG = re.compile(r"^</?[A-Za-z][A-Za-z0-9_-]*[^<>]*>$")


def html_note(predicted) -> None:
    """Say once why HTML tags are predicted, when some of ``predicted`` (token texts) are."""
    if any(HTML_TAG.match(text) for text in predicted):
        shell.say(tr("html_note"))

PLOTLY_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "attention-classroom"},
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}


def show(fig, key: str, container=None, **kwargs):
    """Draw a figure with the house config (PNG export, no Streamlit theme).
    ``kwargs`` go to ``st.plotly_chart`` (``on_select``, ``width`` ...)."""
    return (container or st).plotly_chart(fig, key=key, config=PLOTLY_CONFIG, theme=None, **kwargs)


def clicked_head(key: str) -> tuple[int, int] | None:
    """The (layer, head) of the marker clicked in the chart ``key`` (its
    customdata), or None: the overview and the knockout map open heads so."""
    state = st.session_state.get(key)
    points = (state or {}).get("selection", {}).get("points", [])
    for point in points:
        picked = point.get("customdata")
        if picked and len(picked) == 2:
            return int(picked[0]), int(picked[1])
    return None


def render_figures(figs, key: str, notes: tuple[str, ...] = (), names: list[str] | None = None,
                   together: bool = False) -> None:
    """Figures side by side; in projector view one at a time, picked by a
    control, unless they are a comparison that must stay ``together``.

    ``names`` label the picker; give them where titles change with the view
    (a position, a temperature, a new token), or the pick would be lost."""
    if shell.projector() and not together:
        i = 0
        if len(figs) > 1:  # a lone figure needs no picker
            titles = names or [html.unescape(f.layout.title.text or str(k + 1)) for k, f in enumerate(figs)]
            # titles carry the student's words: radio labels read Markdown, so make them literal
            labels = [shell.md_escape(title) for title in titles]
            i = st.radio(tr("pick_figure"), range(len(figs)), key=f"{key}_pick", horizontal=True,
                         format_func=lambda j: labels[j], label_visibility="collapsed")
        show(fit_projector(figs[i]), f"{key}_{i}")
        if notes:
            shell.say(tr(notes[i]))
        return
    if len(figs) > 1:
        figs = figures.side_by_side(figs)
    for i, (column, fig) in enumerate(zip(st.columns(len(figs)), figs)):
        fig = figures.fit_to_columns(fig, len(figs), min_text=shell.font_size() if shell.projector() else 9)
        show(fit_projector(fig) if shell.projector() else fig, f"{key}_{i}", container=column)
    if notes and not shell.projector():  # the notes of a comparison would push it off a projector's screen
        for column, note in zip(st.columns(len(notes)), notes):
            column.caption(tr(note))


#: in projector view no figure is taller than this, so that under a one-line
#: header it fits the first screen of a 1280x720 projector
PROJECTOR_HEIGHT = 420


def fit_projector(fig):
    """Cap a figure's height for a projector's first screen. Returns the same figure."""
    if fig.layout.height and fig.layout.height > PROJECTOR_HEIGHT:
        fig.update_layout(height=PROJECTOR_HEIGHT)
    return fig


# ----------------------------------------------------------------- heatmaps


def heatmap(weights, masked, query_labels, key_labels, title: str, **kw):
    """An attention-like heatmap in the interface's words and type size."""
    kw.setdefault("value_name", tr("weight"))
    return figures.attention_heatmap(
        weights, masked, query_labels, key_labels, title=title, masked_name=tr("masked_legend"),
        masked_hover=kw.pop("masked_hover", tr("masked_hover")), axis_query=tr("axis_query"),
        axis_key=tr("axis_key"), font_size=kw.pop("font_size", shell.font_size()), **kw,
    )


def head_figure(analysis: Analysis, layer: int, head: int, view: str = "token", hide_sink: bool = False,
                title: str | None = None) -> tuple[HeadView, object]:
    """One head's heatmap as the explorer and the lessons show it."""
    hv = head_view(analysis, layer, head, view, hide_sink)
    fig = heatmap(hv.weights, hv.masked, hv.query_labels, hv.key_labels,
                  title if title is not None else tr("heatmap_title", layer=layer, head=head))
    return hv, fig


def _symmetric(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 1.0


def stage_figures(analysis: Analysis, layer: int, head: int) -> list:
    """Raw scores, masked scores, softmax weights: three figures, one colour range for the first two."""
    stages = mask_stages(analysis, layer, head)
    none = np.zeros_like(stages.masked)
    span = _symmetric(stages.scores)
    fs = shell.font_size() - 1
    score_kw = dict(value_name=tr("score"), zmin=-span, zmax=span, colorscale=figures.DIFF_SCALE,
                    value_format=".3f", font_size=fs)
    labels = stages.labels
    return [
        heatmap(stages.scores, none, labels, labels, tr("stage_scores"), **score_kw),
        heatmap(stages.scores, stages.masked, labels, labels, tr("stage_masked"), masked_hover=tr("minus_inf"),
                **score_kw),
        heatmap(stages.weights, stages.masked, labels, labels, tr("stage_weights"), font_size=fs),
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
    fs = shell.font_size() - 1
    return [
        heatmap(masked.weights, masked.masked, labels, labels, tr("with_mask"), font_size=fs),
        heatmap(unmasked.weights, unmasked.masked, labels, labels, tr("without_mask"), font_size=fs),
        heatmap(diff, unmasked.masked, labels, labels, tr("difference"), value_name=tr("difference_name"),
                zmin=-span, zmax=span, colorscale=figures.DIFF_SCALE, font_size=fs),
    ]


# ------------------------------------------------------------- predictions


def pinned_words(analysis: Analysis) -> tuple[str, ...]:
    """The words the next-token chart follows: the homophone table's spellings
    of the sentence's kana words, then any the user typed."""
    typed = parse_extra(st.session_state.get("pins", ""))
    auto = sentence_spellings(analysis.morphemes, load_homophones())
    return tuple(dict.fromkeys(auto + typed))[:MAX_PINNED]


def next_figure(analysis: Analysis, pos: int, temperature: float = 1.0, k: int | None = None,
                unmasked: bool = False, label: str = "", pins: tuple[str, ...] = ()):
    """The top-k next tokens after ``pos`` (from the unmasked run if asked),
    titled with the text read so far; ``label`` goes before the title.
    ``pins`` are words shown with their probability and rank wherever they stand."""
    k = int(k if k is not None else st.session_state.get("top_k", 10))
    logits = analysis.unmasked_next_logits if unmasked else analysis.next_logits
    title = tr("next_title", prefix=shorten_left(prefix_text(analysis, pos)), temperature=f"{temperature:g}")
    pinned = ()
    if pins and not unmasked:
        found = data.get_pinned(analysis.model_id, analysis.text, pins)
        pinned = [(p.token, p.rank) for p in pinned_at(analysis, found, pos, temperature)]
    return figures.next_token_figure(
        top_tokens(logits, pos, analysis.labels, temperature, k), title=f"{label}: {title}" if label else title,
        value_name=tr("prob"), font_size=shell.font_size(), pinned=pinned, rank_format=tr("rank_format"),
    )


def masked_unmasked_bars(analysis: Analysis, pos: int) -> list:
    """The next-token distribution at ``pos``, with and without the mask."""
    return [next_figure(analysis, pos, label=tr("with_mask")),
            next_figure(analysis, pos, unmasked=True, label=tr("without_mask"))]


def shift_figure(analysis: Analysis, pos: int):
    """How much probability lifting the mask moved at each position, ``pos`` highlighted."""
    return figures.column_bars_figure(
        analysis.token_labels, analysis.unmasked_shift, title=tr("shift_title"), value_name=tr("moved"),
        highlight=pos, y_max=1.1, font_size=shell.font_size(),
    )


# ------------------------------------------------------------ layer by layer


def lens_row_labels(n_rows: int) -> list[str]:
    """Row 0 is the input; row l is the output of layer l - 1 (layers count from 0, as on the explorer)."""
    return [tr("lens_input")] + [tr("lens_row", layer=l) for l in range(n_rows - 2)] + [tr("lens_output", layer=n_rows - 2)]


def lens_figures(analysis: Analysis, lens, pos: int) -> list:
    """The lens grid, and the tracked words' ranks after every layer at ``pos``."""
    top = lens.top_labels()  # [row, column]
    hover = [[
        "<br>".join(f"{k + 1}. {figures.safe(lens.labels[int(i)])} {p:.1%}"
                    for k, (i, p) in enumerate(zip(lens.top_ids[r, c], lens.top_probs[r, c])))
        for c in range(len(lens.positions))] for r in range(lens.n_rows)]
    labels = lens_row_labels(lens.n_rows)
    tokens = analysis.token_labels
    grid = figures.lens_figure(
        top, lens.top_probs[:, :, 0], hover, labels, [f"{p}: {tokens[p]}" for p in lens.positions],
        title=tr("lens_title"), value_name=tr("prob"), axis_rows=tr("lens_axis_rows"),
        axis_columns=tr("lens_axis_columns"), highlight_column=lens.column(pos), font_size=shell.font_size(),
    )
    column = lens.column(pos)
    series = [(lens.labels[i], lens.tracked_ranks[:, column, j], lens.tracked_probs[:, column, j])
              for j, i in enumerate(lens.tracked_ids)]
    track = figures.rank_lines_figure(
        labels, series, title=tr("track_title", prefix=shorten_left(prefix_text(analysis, pos))),
        axis_rows=tr("lens_axis_rows"), value_name=tr("rank"), prob_name=tr("prob"), font_size=shell.font_size(),
    )
    return [grid, track]


def knockout_map(analysis: Analysis, ko):
    """Every head, attention block and MLP knocked out in turn (a Knockouts of ``analysis``' sentence)."""
    prefix = shorten_left(prefix_text(analysis, ko.position))
    return figures.knockout_figure(
        ko.heads, ko.attention, ko.mlp, title=tr("ko_title", metric=ko.metric, prefix=prefix),
        value_name=tr("ko_change"), head_name=tr("head"), attention_name=tr("ko_attention"), mlp_name=tr("ko_mlp"),
        axis_layer=tr("layer"), hover_head=tr("ko_hover"), font_size=shell.font_size() - 2,
    )


# --------------------------------------------------------------- RLHF


def rlhf_reward_figure(steps):
    return figures.steps_figure(
        [s.step for s in steps], [s.mean_reward for s in steps], [s.std_reward for s in steps],
        title=tr("rlhf_reward_title"), axis_x=tr("rlhf_step"), value_name=tr("rlhf_reward"),
        font_size=shell.font_size(),
    )


def rlhf_kl_figure(steps):
    return figures.steps_figure(
        [s.step for s in steps], [s.kl for s in steps], title=tr("rlhf_kl_title"), axis_x=tr("rlhf_step"),
        value_name=tr("rlhf_kl"), colour=figures.PINNED, font_size=shell.font_size(),
    )


def rlhf_sft_figure(sft):
    return figures.grouped_bars_figure(
        [tr("rlhf_demos_set"), tr("rlhf_heldout_set")],
        [(tr("rlhf_before"), [sft.demo_logprob_before, sft.heldout_logprob_before]),
         (tr("rlhf_after_sft"), [sft.demo_logprob_after, sft.heldout_logprob_after]),
         (tr("rlhf_icl"), [float("nan"), sft.icl_heldout_logprob])],
        title=tr("rlhf_sft_title"), value_name=tr("rlhf_logprob"), font_size=shell.font_size(),
    )


def rlhf_evaluation_figure(policy, best_of: int):
    runs = (policy.reference, policy.policy, policy.best_of_n)
    return figures.grouped_bars_figure(
        [tr(f"rlhf_eval_{e.name.replace('-', '_')}", n=best_of) for e in runs], [(tr("rlhf_reward"), [e.mean for e in runs])],
        errors=[[e.se for e in runs]], title=tr("rlhf_eval_title", n=len(policy.policy.samples)),
        value_name=tr("rlhf_reward"), font_size=shell.font_size(),
    )
