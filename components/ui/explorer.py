"""Explorer page: morpheme strip, one head in detail, all heads at a glance,
next-token prediction, exports."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components import figures
from components.analysis import Analysis
from components.export import analysis_to_json, head_to_csv
from components.pages import FIGURE_CHOICES
from components.sampling import top_tokens
from components.ui import charts, data, shell
from components.views import VIEWS
from components.ui.shell import tr


#: up to this many morphemes the strip reads across the page, like the sentence
STRIP_ACROSS = 8


def morpheme_table(analysis: Analysis) -> pd.DataFrame:
    """One column per morpheme (the strip reads left to right like the sentence)."""
    columns, seen = [], {}
    for m in analysis.morphemes:
        seen[m.surface] = seen.get(m.surface, 0) + 1
        columns.append(m.surface if seen[m.surface] == 1 else f"{m.surface} ({seen[m.surface]})")
    labels = analysis.token_labels
    rows = {
        tr("row_reading"): [m.reading or "—" for m in analysis.morphemes],
        tr("row_pos"): [m.pos_detail or m.pos for m in analysis.morphemes],
        # UniDic appends a gloss to loanword lemmas (ナク-Nak, テレビ-television)
        tr("row_lemma"): [m.lemma.split("-")[0] or m.lemma for m in analysis.morphemes],
        tr("row_tokens"): [" | ".join(labels[i] for i in m.tokens) for m in analysis.morphemes],
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


#: past this many morphemes the strip scrolls inside a box instead of pushing the charts down
STRIP_SCROLL_AFTER = 12


def render_morphemes(analysis: Analysis) -> None:
    if not shell.projector():  # in projector view the figure picker names it
        st.subheader(tr("morphemes"))
    if analysis.morphemes:
        table = morpheme_table(analysis)
        if shell.projector():  # a figure, so the type can be large
            rows = [[name, *table.loc[name].tolist()] for name in table.index]
            fig = figures.table_figure(["", *table.columns], rows, font_size=shell.font_size())
            charts.show(fig, "morpheme_strip_large")
        else:  # a real HTML table: text a student can read, select and copy
            # a long sentence reads down the page, one morpheme per row, instead of squeezing
            across = table.shape[1] <= STRIP_ACROSS
            box = st.container(height="content" if table.shape[1] <= STRIP_SCROLL_AFTER else 320)
            box.table(shell.md_frame(table if across else table.T))
    st.text(tr("tokens_line", tokens=" | ".join(analysis.token_labels)))


def head_in_detail(analysis: Analysis, key: str = "head_heatmap"):
    """The chosen head's heatmap, drawn; returns its HeadView."""
    view = st.session_state.get("view") or "token"
    hv, fig = charts.head_figure(
        analysis, st.session_state["layer"], st.session_state["head"], view, st.session_state["hide_sink"],
    )
    charts.show(fig, key)
    return hv


def render_view_controls(analysis: Analysis) -> None:
    """What changes the view, above the figures: the layer, then the head,
    units, the <bos> column, and the next-token chart's position and
    temperature (its number of candidates and pinned words sit under it)."""
    shell.clamp_state("layer", analysis.n_layers)
    shell.clamp_state("head", analysis.n_heads)
    st.segmented_control(tr("layer"), list(range(analysis.n_layers)), key="layer", required=True)
    row = st.columns([3, 3, 3, 5, 3], vertical_alignment="bottom")
    row[0].segmented_control(tr("head"), list(range(analysis.n_heads)), key="head", required=True)
    row[1].segmented_control(
        tr("view"), list(VIEWS), key="view", help=tr("view_help"), required=True,
        format_func=lambda v: tr(f"view_{v}"),
    )
    row[2].toggle(tr("hide_sink"), key="hide_sink", help=tr("hide_sink_help"))
    position_picker(analysis, row[3])
    row[4].slider(tr("temperature"), 0.1, 2.0, step=0.05, key="temperature", help=tr("temperature_help"))


def render_detail(analysis: Analysis) -> None:
    """One head in detail: its heatmap, what it shows, its CSV."""
    st.subheader(tr("detail_header"))
    hv = head_in_detail(analysis)
    shell.say(tr("heatmap_caption"))
    loaded = data.get_model(analysis.model_id)
    if loaded.n_kv_heads < loaded.n_heads:  # Gemma: 4 query heads, 1 key/value head
        shell.say(tr("gqa_note", heads=loaded.n_heads, kv=loaded.n_kv_heads))
    st.download_button(
        tr("export_csv"), data=head_to_csv(hv), file_name=f"attention-L{hv.layer}-H{hv.head}-{hv.view}.csv",
        mime="text/csv", key="download_csv", on_click="ignore",
    )


def render_next(analysis: Analysis) -> None:
    st.subheader(tr("next_header"))
    candidates = next_chart(analysis)
    c1, c2 = st.columns([1, 2])
    c1.number_input(tr("top_k"), min_value=1, max_value=50, step=1, key="top_k")
    c2.text_input(tr("pins"), key="pins", help=tr("pins_help"), max_chars=200)
    charts.html_note(c.text for c in candidates)


@st.fragment
def render_reading(analysis: Analysis) -> None:
    """The view settings, one head in detail beside the next-token chart, and
    every head at a glance. Changing any of them reruns only this fragment,
    from the cached analysis: the model never runs again."""
    render_view_controls(analysis)
    # a long sentence needs the full width to label every token: one above the other
    wide = analysis.n_tokens > WIDE_AFTER
    left, right = (st.container(), st.container()) if wide else st.columns([3, 2])
    with left:
        render_detail(analysis)
    with right:
        render_next(analysis)
    render_overview(analysis)
    shell.sync_url()


def _open_clicked_head() -> None:
    """A click in the overview opens that head: in projector view as the
    figure on screen, otherwise in a dialog (and in the detail view)."""
    picked = charts.clicked_head("overview")
    if picked is not None:
        st.session_state["layer"], st.session_state["head"] = picked
        if shell.projector():
            st.session_state["figure"] = "detail"
        else:
            st.session_state["_open_head"] = True


def render_overview(analysis: Analysis) -> None:
    total = analysis.n_layers * analysis.n_heads
    caption = tr("overview_caption", layers=analysis.n_layers, heads=analysis.n_heads, total=total)
    if not shell.projector():  # in projector view the figure comes first, its caption after it
        st.subheader(tr("overview_header"))
        shell.say(caption)
    layer, head = st.session_state["layer"], st.session_state["head"]
    fig = figures.all_heads_figure(
        analysis.attentions, analysis.masked, axis_layer=tr("layer"), axis_head=tr("head"),
        value_name=tr("weight"), hover_name=tr("overview_hover"), font_size=shell.font_size() - 1,
        selected=(layer, head), max_width=OVERVIEW_WIDTH,
    )
    charts.show(fig, "overview", on_select=_open_clicked_head, selection_mode="points", width="content")
    if shell.projector():
        shell.say(caption)
    if st.session_state.pop("_open_head", False):
        st.dialog(tr("heatmap_title", layer=layer, head=head), width="large")(head_dialog)(analysis)


def head_dialog(analysis: Analysis) -> None:
    """The head just clicked in the overview, in front of everything."""
    head_in_detail(analysis, key="head_dialog")
    shell.say(tr("dialog_note"))


def position_picker(analysis: Analysis, where=st) -> None:
    """The next-token chart's position: a new sentence starts at its end,
    unless a link, a lesson or an example named the position."""
    labels = analysis.token_labels
    shell.follow_input("pos", (analysis.model_id, analysis.text), lambda: analysis.n_tokens - 1)
    shell.clamp_state("pos", analysis.n_tokens)
    where.select_slider(
        tr("position"), options=list(range(analysis.n_tokens)), key="pos",
        format_func=lambda i: f"{i}: {labels[i]}",
    )


def next_chart(analysis: Analysis) -> tuple:
    """Position, temperature and top-k re-score cached logits; no model run.
    Returns the candidates drawn."""
    pos, temperature = st.session_state["pos"], float(st.session_state["temperature"])
    fig = charts.next_figure(analysis, pos, temperature, pins=charts.pinned_words(analysis))
    charts.show(fig, "next_tokens")
    return top_tokens(analysis.next_logits, pos, analysis.labels, temperature, int(st.session_state["top_k"]))


def render_exports(analysis: Analysis) -> None:
    st.subheader(tr("exports"))
    st.download_button(
        tr("export_json"), data=lambda: analysis_to_json(analysis), file_name="attention-analysis.json",
        mime="application/json", key="download_json", on_click="ignore",
    )
    st.caption(tr("export_png"))


#: past this many tokens the head in detail takes the page's whole width
WIDE_AFTER = 24
#: the overview's width in pixels, at most
OVERVIEW_WIDTH = 1100



def render_projector(analysis: Analysis) -> None:
    """Projector view: one line of controls (which figure, and that figure's
    own pickers), then the figure, large; what to look at comes after it."""
    # two short rows: at 1024 px one row cannot hold the figure picker and three controls uncut
    top = st.columns([3, 2], vertical_alignment="bottom")
    choice = top[0].segmented_control(
        tr("show_figure"), FIGURE_CHOICES["figure"], key="figure", required=True,
        format_func=lambda s: tr(f"figure_{s}"),
    ) or "detail"
    if choice == "detail":
        shell.clamp_state("layer", analysis.n_layers)
        shell.clamp_state("head", analysis.n_heads)
        top[1].segmented_control(tr("view"), list(VIEWS), key="view", required=True,
                                 format_func=lambda v: tr(f"view_{v}"))
        row = st.columns([3, 2], vertical_alignment="bottom")
        row[0].select_slider(tr("layer"), list(range(analysis.n_layers)), key="layer")
        row[1].segmented_control(tr("head"), list(range(analysis.n_heads)), key="head", required=True)
        head_in_detail(analysis)
        shell.example_note(data.get_model(analysis.model_id))
    elif choice == "next":
        row = st.columns([4, 3, 3], vertical_alignment="bottom")
        position_picker(analysis, row[0])
        row[1].slider(tr("temperature"), 0.1, 2.0, step=0.05, key="temperature")
        row[2].number_input(tr("top_k"), min_value=1, max_value=50, step=1, key="top_k")
        next_chart(analysis)
    elif choice == "strip":
        render_morphemes(analysis)
    else:
        render_overview(analysis)


def render() -> None:
    loaded = shell.page_start("app_title", "app_tagline", note=True)
    if loaded is None:
        return
    analysis = shell.analyse_current(loaded)
    if analysis is not None and shell.projector():
        render_projector(analysis)  # one figure at a time, large enough for the back of the room
    elif analysis is not None:
        render_reading(analysis)
        render_morphemes(analysis)
        render_exports(analysis)
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
