"""Step-by-step generation page: one button adds one token."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components import figures
from components.generation import Generation, Settings
from components.inference import AnalysisError
from components.ui import charts, data, shell
from components.ui.shell import tr


def _change_steps(delta: int) -> None:
    st.session_state["gen_steps"] = max(0, int(st.session_state.get("gen_steps", 0)) + delta) if delta else 0


def settings_from_state() -> Settings:
    state = st.session_state
    return Settings(
        temperature=float(state.get("temperature", 1.0)),
        top_k=int(state.get("gen_top_k", 0)),
        top_p=float(state.get("top_p", 1.0)),
        seed=int(state.get("seed", 0)),
        greedy=bool(state.get("greedy", False)),
    )


def render_controls(finished: bool = False) -> None:
    c1, c2, c3, c4, c5 = st.columns([3, 2, 3, 2, 2])
    c1.slider(tr("temperature"), 0.1, 2.0, step=0.05, key="temperature", help=tr("temperature_help"))
    c2.number_input(tr("gen_top_k"), min_value=0, max_value=200, step=1, key="gen_top_k", help=tr("gen_top_k_help"))
    c3.slider(tr("top_p"), 0.05, 1.0, step=0.05, key="top_p", help=tr("top_p_help"))
    c4.number_input(tr("seed"), min_value=0, max_value=2**31 - 1, step=1, key="seed", help=tr("seed_help"))
    c5.toggle(tr("greedy"), key="greedy", help=tr("greedy_help"))
    b1, b2, b3, _ = st.columns([2, 2, 2, 6])
    b1.button(tr("gen_add"), key="gen_add", on_click=_change_steps, args=(1,), type="primary", width="stretch",
              disabled=finished)
    b2.button(tr("gen_undo"), key="gen_undo", on_click=_change_steps, args=(-1,), width="stretch")
    b3.button(tr("gen_reset"), key="gen_reset", on_click=_change_steps, args=(0,), width="stretch")


def render_generation(gen: Generation, n_layers: int, n_heads: int) -> None:
    st.subheader(tr("gen_text"))
    if shell.projector():  # large enough for the back of the room
        st.header(shell.md_escape(gen.prompt + gen.generated_text), anchor=False)
    else:
        st.text(gen.prompt + gen.generated_text)
    if not gen.steps:
        st.caption(tr("gen_hint"))
        return
    step = gen.steps[-1]
    fs = shell.font_size()
    dist = figures.next_token_figure(
        step.candidates, title=tr("gen_drawn_from", token=step.text, prob=f"{step.prob:.1%}"),
        value_name=tr("prob"), highlight=step.id, font_size=fs,
    )

    shell.render_head_pickers(n_layers, n_heads)
    layer, head = st.session_state["layer"], st.session_state["head"]
    labels = gen.labels
    row = figures.column_bars_figure(
        labels, step.attention[layer, head].tolist(), title=tr("gen_row", token=step.text, layer=layer, head=head),
        value_name=tr("weight"), highlight=len(labels) - 1, font_size=fs,
    )
    charts.render_figures([dist, row], "gen_figs", names=[tr("gen_fig_dist"), tr("gen_fig_row")])
    st.dataframe(
        pd.DataFrame({
            tr("gen_step"): list(range(1, len(gen.steps) + 1)),
            tr("gen_token"): [s.text for s in gen.steps],
            tr("prob"): [round(s.prob, 4) for s in gen.steps],
        }),
        key="gen_table", hide_index=True, width="stretch",
    )
    if gen.finished:
        st.info(tr("gen_finished"))


def render() -> None:
    loaded = shell.page_start("gen_title", "gen_intro")
    if loaded is None:
        return
    prompt = st.session_state.get("text", "")
    # a new prompt starts from nothing, unless a link named its steps
    shell.follow_input("gen_steps", (loaded.model_id, prompt), lambda: 0)
    try:
        with st.spinner(shell.busy_message()):
            gen = data.get_generation(loaded.model_id, prompt, int(st.session_state.get("gen_steps", 0)), settings_from_state())
    except AnalysisError as exc:
        render_controls(finished=True)
        st.warning(shell.md_escape(shell.error_text(exc)))
        return
    # a finished text takes no more steps, so undo always removes a visible token
    st.session_state["gen_steps"] = len(gen.steps)
    render_controls(finished=gen.finished)
    render_generation(gen, loaded.n_layers, loaded.n_heads)
    shell.sync_url()
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
