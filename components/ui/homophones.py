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
        value_name=tr("relative_prob"), font_size=shell.font_size(),
    )


def render_lens(loaded, analysis) -> list:
    """The lens; in projector view its figures are returned for one shared picker."""
    st.subheader(tr("hp_header"))
    candidates = find_candidates(analysis.morphemes, load_homophones())
    if not candidates:
        st.info(tr("hp_none"))
        return []
    names = {c.morpheme: f"{c.surface}（{c.reading}）" for c in candidates}
    if st.session_state.get("hp_word") not in names:
        st.session_state["hp_word"] = candidates[0].morpheme
    c1, c2 = st.columns(2)
    c1.selectbox(tr("hp_word"), list(names), key="hp_word", format_func=names.get)
    c2.text_input(tr("hp_extra"), key="hp_extra", help=tr("hp_extra_help"), max_chars=200)
    cand = next(c for c in candidates if c.morpheme == st.session_state["hp_word"])
    morpheme = analysis.morphemes[cand.morpheme]
    spellings = cand.spellings + parse_extra(st.session_state.get("hp_extra", ""))
    texts = variants(analysis.text, morpheme, spellings)[:MAX_SENTENCES]
    if not spellings:
        st.info(shell.md_escape(tr("hp_type_spellings", word=cand.surface)))
        return []
    st.caption(shell.md_escape(tr("hp_spellings", word=cand.surface, spellings="、".join(spellings))))
    score_fig = scores_figure(loaded.model_id, texts, tr("hp_scores_title", word=cand.surface))

    # why: the word's row of attention over the words before it
    shell.render_head_pickers(analysis.n_layers, analysis.n_heads)
    layer, head = st.session_state["layer"], st.session_state["head"]
    unit = next(i for i, u in enumerate(analysis.units) if u.morpheme == cand.morpheme)
    weights = analysis.unit_attentions[:, :, unit, : unit + 1]  # [layer, head, key_unit]: itself and before
    seen = np.zeros(unit + 1, dtype=bool)  # [key_unit]: the word and every word before it are visible
    c3, c4 = st.columns(2)
    mean = c3.toggle(tr("hp_mean"), key="hp_mean", help=tr("hp_mean_help"))
    hide = c4.toggle(tr("hide_sink"), key="hide_sink", help=tr("hide_sink_help"))
    row = weights.mean(axis=(0, 1)) if mean else weights[layer, head]
    where = tr("hp_all_heads") if mean else tr("heatmap_title", layer=layer, head=head)
    labels = analysis.unit_labels[: unit + 1]
    if hide and unit > 0:  # drop the first column and renormalise, as on the explorer
        row, _ = drop_first_key(row, seen)
        labels = labels[1:]
    row_fig = figures.column_bars_figure(
        labels, row.tolist(), title=tr("hp_row_title", word=cand.surface, where=where),
        value_name=tr("weight"), highlight=len(labels) - 1, font_size=shell.font_size(),
    )
    if shell.projector():  # with the sentence comparison, one figure at a time
        return [score_fig, row_fig]
    charts.render_figures([score_fig, row_fig], "hp_figs", names=lens_names())
    return []


def render_pairs(loaded, lens_figs: list) -> None:
    st.subheader(tr("pairs_header"))
    st.text_area(tr("pairs"), key="pairs", help=tr("pairs_help"), height=120, max_chars=2000)
    texts = parse_sentences(st.session_state.get("pairs", ""))[:MAX_SENTENCES]
    figs = list(lens_figs)
    if len(texts) < 2:
        st.caption(tr("pairs_need_two"))
    else:
        try:
            figs.append(scores_figure(loaded.model_id, texts, tr("pairs_title")))
        except AnalysisError as exc:
            st.warning(shell.md_escape(shell.error_text(exc)))
    if shell.projector() and figs:
        names = lens_names()[: len(lens_figs)] + [tr("pairs_title")] * (len(figs) - len(lens_figs))
        charts.render_figures(figs, "hp_projector", names=names)
    elif len(figs) > len(lens_figs):
        charts.show(figs[-1], "pairs_scores")


def render() -> None:
    loaded = shell.page_start("hp_title", "hp_intro")
    if loaded is None:
        return
    analysis = shell.analyse_current(loaded)
    lens_figs = []
    if analysis is not None:
        try:
            lens_figs = render_lens(loaded, analysis)
        except AnalysisError as exc:
            st.warning(shell.md_escape(shell.error_text(exc)))
    render_pairs(loaded, lens_figs)
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
