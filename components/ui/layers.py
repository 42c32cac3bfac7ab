"""Layer by layer: what each layer would predict (the logit lens), where
chosen words stand after every layer, and which heads carry a prediction
(knocking them out one at a time)."""

from __future__ import annotations

import streamlit as st

from components.analysis import Analysis
from components.homophones import parse_extra
from components.inference import AnalysisError
from components.pages import FIGURE_CHOICES, PAGES
from components.sampling import top_tokens
from components.ui import charts, data, shell
from components.ui.shell import tr
from components.views import prefix_text, shorten_left

#: words followed on the rank chart, at most
MAX_TRACKED = 6


def tracked_words(analysis: Analysis) -> tuple[str, ...]:
    """The words whose rank is followed: the ones typed, else the homophone
    table's spellings of the sentence's kana words and the model's final top
    guess at the chosen position."""
    typed = parse_extra(st.session_state.get("track", ""))
    if typed:
        return tuple(dict.fromkeys(typed))[:MAX_TRACKED]
    (top,) = top_tokens(analysis.next_logits, st.session_state["pos"], analysis.labels, 1.0, 1)
    return tuple(dict.fromkeys((top.text, *charts.pinned_words(analysis))))[:MAX_TRACKED]


def _open_clicked_head() -> None:
    """A head clicked in the knockout map opens in the explorer."""
    picked = charts.clicked_head("knockout_map")
    if picked is not None:
        st.session_state["layer"], st.session_state["head"] = picked
        st.session_state["_open_page"] = "explorer"  # switched to once this run starts


def render_knockouts(analysis: Analysis, pos: int) -> None:
    """Zero one head (or block) at a time at ``pos`` and see the prediction move."""
    if not shell.projector():
        st.subheader(tr("ko_header"))
        st.caption(tr("ko_intro"))
    (top,) = top_tokens(analysis.next_logits, pos, analysis.labels, 1.0, 1)
    c1, c2, c3 = st.columns([2, 2, 3], vertical_alignment="bottom")
    c1.text_input(tr("ko_target"), key="ko_target", placeholder=top.text, max_chars=20, help=tr("ko_target_help"))
    c2.text_input(tr("ko_versus"), key="ko_versus", max_chars=20, help=tr("ko_versus_help"))
    target = st.session_state.get("ko_target", "").strip() or top.text
    versus = st.session_state.get("ko_versus", "").strip() or None
    wanted = (analysis.model_id, analysis.text, target, versus, pos)
    if c3.button(tr("ko_run"), key="ko_run", type="primary"):
        st.session_state["_knockout_for"] = wanted
    if st.session_state.get("_knockout_for") != wanted:
        shell.say(tr("ko_press", prefix=shorten_left(prefix_text(analysis, pos))))
        return
    try:
        with st.spinner(shell.busy_message()):
            ko = data.get_knockouts(*wanted)
    except AnalysisError as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        return
    charts.show(charts.knockout_map(analysis, ko), "knockout_map", on_select=_open_clicked_head,
                selection_mode="points")
    (layer, head, delta), *_ = ko.strongest(1)
    blocks = [(float(ko.attention[l]), tr("ko_block_attention", layer=l)) for l in range(ko.n_layers)]
    blocks += [(float(ko.mlp[l]), tr("ko_block_mlp", layer=l)) for l in range(ko.n_layers)]
    block_delta, block = min(blocks, key=lambda b: b[0])
    notes = [tr("ko_reading", metric=ko.metric, baseline=f"{ko.baseline:.2f}", layer=layer, head=head,
                delta=f"{delta:+.2f}", block=block, block_delta=f"{block_delta:+.2f}")]
    for word in (ko.target, ko.versus):
        if word is not None and word.is_partial:
            notes.append(tr("ko_first_token", word=word.text, token=word.label))
    for note in notes:
        shell.say(note)


def track_note(loaded) -> str:
    return tr("track_note", vocab=f"{loaded.vocab_size:,}")


def render() -> None:
    loaded = shell.page_start("layers_title", "layers_intro")
    if loaded is None:
        return
    target = st.session_state.pop("_open_page", None)
    if target:  # a head clicked in the knockout map opens in the explorer
        st.switch_page(PAGES[target])
    analysis = shell.analyse_current(loaded)
    if analysis is None:
        shell.render_licence(loaded)
        return
    labels = analysis.token_labels
    shell.follow_input("pos", (analysis.model_id, analysis.text), lambda: analysis.n_tokens - 1)
    shell.clamp_state("pos", analysis.n_tokens)
    row = st.columns([4, 3, 3] if shell.projector() else [4, 3], vertical_alignment="bottom")
    choice = None
    if shell.projector():
        choice = row[0].segmented_control(
            tr("show_figure"), FIGURE_CHOICES["layers_figure"], key="layers_figure", required=True,
            format_func=lambda s: tr(f"figure_{s}"),
        ) or "lens"
        row = row[1:]
    row[0].select_slider(tr("position"), options=list(range(analysis.n_tokens)), key="pos",
                         format_func=lambda i: f"{i}: {labels[i]}")
    row[1].text_input(tr("track"), key="track", help=tr("track_help"), max_chars=100)
    pos = st.session_state["pos"]
    figs = []
    if choice != "knockout":
        try:
            with st.spinner(shell.busy_message()):
                lens = data.get_lens(analysis.model_id, analysis.text, tracked_words(analysis))
            figs = charts.lens_figures(analysis, lens, pos)
        except AnalysisError as exc:
            st.warning(shell.md_escape(shell.error_text(exc)))
    if shell.projector():
        if choice == "knockout":
            render_knockouts(analysis, pos)
        elif figs:
            charts.show(figs[0 if choice == "lens" else 1], f"layers_{choice}")
            shell.say(tr("lens_note") if choice == "lens" else track_note(loaded))
    else:
        if figs:
            charts.show(figs[0], "lens_grid")
            st.caption(tr("lens_note"))
            charts.html_note(lens.top_labels()[-1])
            charts.show(figs[1], "lens_track")
            st.caption(track_note(loaded))
        render_knockouts(analysis, pos)
    shell.sync_url()
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
