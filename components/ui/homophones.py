"""The homophone lens, and a minimal-pair scorer for any sentences."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import figures
from components.analysis import AnalysisError
from components.homophones import find_candidates, load_homophones, parse_extra, parse_sentences, relative_probabilities, variants
from components.ui import charts, data, shell
from components.ui.shell import tr
from components.views import drop_first_key

MAX_SENTENCES = 12


def lens_names() -> list[str]:
    """The lens's figures, named for the projector's picker."""
    return [tr("hp_fig_scores"), tr("hp_fig_row")]


def scores_figure(model_id: str, texts: tuple[str, ...], title: str):
    logprobs = data.get_scores(model_id, texts)
    return figures.sentence_scores_figure(
        texts, relative_probabilities(logprobs).tolist(), list(logprobs), title=title,
        value_name=tr("relative_prob"), score_name=tr("logprob_short"), font_size=shell.font_size(),
    )


def lens_word(analysis, where) -> tuple:
    """The kana word to look at and its spellings (table + typed), or None with a message."""
    candidates = find_candidates(analysis.morphemes, load_homophones())
    if not candidates:
        st.info(tr("hp_none"))
        return None
    names = {c.morpheme: f"{c.surface}（{c.reading}）" for c in candidates}
    if st.session_state.get("hp_word") not in names:
        st.session_state["hp_word"] = candidates[0].morpheme
    where[0].selectbox(tr("hp_word"), list(names), key="hp_word", format_func=names.get)
    where[1].text_input(tr("hp_extra"), key="hp_extra", help=tr("hp_extra_help"), max_chars=200)
    cand = next(c for c in candidates if c.morpheme == st.session_state["hp_word"])
    spellings = cand.spellings + parse_extra(st.session_state.get("hp_extra", ""))
    if not spellings:
        st.info(shell.md_escape(tr("hp_type_spellings", word=cand.surface)))
        return None
    return cand, spellings


def row_figure(analysis, cand, mean: bool, hide: bool):
    """The word's row of attention over the words before it (one head, or all heads' mean)."""
    layer, head = st.session_state["layer"], st.session_state["head"]
    unit = next(i for i, u in enumerate(analysis.units) if u.morpheme == cand.morpheme)
    weights = analysis.unit_attentions[:, :, unit, : unit + 1]  # [layer, head, key_unit]: itself and before
    seen = np.zeros(unit + 1, dtype=bool)  # [key_unit]: the word and every word before it are visible
    row = weights.mean(axis=(0, 1)) if mean else weights[layer, head]
    where = tr("hp_all_heads") if mean else tr("heatmap_title", layer=layer, head=head)
    labels = analysis.unit_labels[: unit + 1]
    if hide and unit > 0:  # drop the first column and renormalise, as on the explorer
        row, _ = drop_first_key(row, seen)
        labels = labels[1:]
    return figures.column_bars_figure(
        labels, row.tolist(), title=tr("hp_row_title", word=cand.surface, where=where),
        value_name=tr("weight"), highlight=len(labels) - 1, font_size=shell.font_size(),
    )


def render_lens(loaded, analysis) -> None:
    st.subheader(tr("hp_header"))
    picked = lens_word(analysis, st.columns(2))
    if picked is None:
        return
    cand, spellings = picked
    texts = variants(analysis.text, analysis.morphemes[cand.morpheme], spellings)[:MAX_SENTENCES]
    st.caption(shell.md_escape(tr("hp_spellings", word=cand.surface, spellings="、".join(spellings))))
    score_fig = scores_figure(loaded.model_id, texts, tr("hp_scores_title", word=cand.surface))
    # why: the word's row of attention over the words before it
    shell.render_head_pickers(analysis.n_layers, analysis.n_heads)
    c3, c4 = st.columns(2)
    mean = c3.toggle(tr("hp_mean"), key="hp_mean", help=tr("hp_mean_help"))
    hide = c4.toggle(tr("hide_sink"), key="hide_sink", help=tr("hide_sink_help"))
    charts.render_figures([score_fig, row_figure(analysis, cand, mean, hide)], "hp_figs", names=lens_names())
    st.caption(tr("logprob_note"))


def pairs_figure(loaded):
    """The sentences typed one per line, scored; None below two."""
    texts = parse_sentences(st.session_state.get("pairs", ""))[:MAX_SENTENCES]
    if len(texts) < 2:
        st.caption(tr("pairs_need_two"))
        return None
    try:
        return scores_figure(loaded.model_id, texts, tr("pairs_title"))
    except AnalysisError as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        return None


def render_pairs(loaded) -> None:
    st.subheader(tr("pairs_header"))
    st.text_area(tr("pairs"), key="pairs", help=tr("pairs_help"), height=120, max_chars=2000)
    fig = pairs_figure(loaded)
    if fig is not None:
        charts.show(fig, "pairs_scores")


def render_projector(loaded, analysis) -> None:
    """Projector view: the word and its spellings on one line, then one figure."""
    row = st.columns([3, 3, 4], vertical_alignment="bottom")
    figs, names = [], []
    picked = lens_word(analysis, row) if analysis is not None else None
    if picked is not None:
        cand, spellings = picked
        texts = variants(analysis.text, analysis.morphemes[cand.morpheme], spellings)[:MAX_SENTENCES]
        figs += [scores_figure(loaded.model_id, texts, tr("hp_scores_title", word=cand.surface)),
                 row_figure(analysis, cand, bool(st.session_state.get("hp_mean")),
                            bool(st.session_state.get("hide_sink")))]
        names += lens_names()
    pairs = pairs_figure(loaded)
    if pairs is not None:
        figs.append(pairs)
        names.append(tr("pairs_title"))
    if figs:
        charts.render_figures(figs, "hp_projector", names=names)
        shell.say(tr("logprob_note"))
    st.text_area(tr("pairs"), key="pairs", help=tr("pairs_help"), height=120, max_chars=2000)


def render() -> None:
    loaded = shell.page_start("hp_title", "hp_intro")
    if loaded is None:
        return
    analysis = shell.analyse_current(loaded)
    try:
        if shell.projector():
            render_projector(loaded, analysis)
        else:
            if analysis is not None:
                render_lens(loaded, analysis)
            render_pairs(loaded)
    except AnalysisError as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
