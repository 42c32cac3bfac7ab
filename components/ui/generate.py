"""Step-by-step generation page: one button adds one token."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components import figures
from components.alignment import visible
from components.generation import Generation, Settings
from components.inference import AnalysisError
from components.ui import charts, data, shell
from components.ui.shell import tr


#: candidates drawn in projector view (the token drawn is added if it is not among them)
PROJECTOR_BARS = 6


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


def render_controls(n_layers: int, n_heads: int, finished: bool = False) -> None:
    """The sampling settings and the step buttons; in projector view on one
    line, with top-k, top-p, layer and head behind a button."""
    if shell.projector():
        c1, c2, c3, b1, b2, b3, more = st.columns([3, 2, 2, 2, 2, 2, 1], vertical_alignment="bottom")
        extra = more.popover("…", help=tr("gen_more"))
        with extra:
            shell.render_head_pickers(n_layers, n_heads)
        c2.number_input(tr("seed"), min_value=0, max_value=2**31 - 1, step=1, key="seed", help=tr("seed_help"))
        c3.toggle(tr("greedy"), key="greedy", help=tr("greedy_help"))
        top_k_at, top_p_at = extra, extra
    else:
        c1, c2, c3, c4, c5 = st.columns([3, 2, 3, 2, 2])
        c4.number_input(tr("seed"), min_value=0, max_value=2**31 - 1, step=1, key="seed", help=tr("seed_help"))
        c5.toggle(tr("greedy"), key="greedy", help=tr("greedy_help"))
        top_k_at, top_p_at = c2, c3
        b1, b2, b3, _ = st.columns([2, 2, 2, 6])
    c1.slider(tr("temperature"), 0.1, 2.0, step=0.05, key="temperature", help=tr("temperature_help"))
    top_k_at.number_input(tr("gen_top_k"), min_value=0, max_value=200, step=1, key="gen_top_k", help=tr("gen_top_k_help"))
    top_p_at.slider(tr("top_p"), 0.05, 1.0, step=0.05, key="top_p", help=tr("top_p_help"))
    b1.button(tr("gen_add"), key="gen_add", on_click=_change_steps, args=(1,), type="primary", width="stretch",
              disabled=finished)
    b2.button(tr("gen_undo"), key="gen_undo", on_click=_change_steps, args=(-1,), width="stretch")
    b3.button(tr("gen_reset"), key="gen_reset", on_click=_change_steps, args=(0,), width="stretch")


def render_text(gen: Generation) -> None:
    """The prompt as typed, then what the model wrote, marked apart."""
    made = visible(gen.generated_text)
    line = shell.md_escape(gen.prompt) + (f" :orange-background[{shell.md_escape(made)}]" if made else "")
    st.markdown(("### " if shell.projector() else "") + line)
    if made and not shell.projector():  # in projector view it comes after the figure
        shell.say(legend(made))


def legend(made: str) -> str:
    return tr("gen_legend") + (" " + tr("newline_legend") if "↵" in made else "")


def render_generation(gen: Generation, n_layers: int, n_heads: int) -> None:
    if not shell.projector():
        st.subheader(tr("gen_text"))
    render_text(gen)
    if not gen.steps:
        shell.say(tr("gen_hint"))
        return
    step = gen.steps[-1]
    fs = shell.font_size()
    candidates = step.candidates
    if shell.projector():  # fewer, larger bars fit a projector's first screen; the drawn token stays
        candidates = candidates[:PROJECTOR_BARS] + tuple(c for c in candidates[PROJECTOR_BARS:] if c.id == step.id)
    dist = figures.next_token_figure(
        candidates, title=tr("gen_drawn_from", token=step.text, prob=f"{step.prob:.1%}"),
        value_name=tr("prob"), highlight=step.id, font_size=fs,
    )
    if not shell.projector():  # in projector view the pickers wait behind the "…" button
        shell.render_head_pickers(n_layers, n_heads)
    layer, head = st.session_state["layer"], st.session_state["head"]
    labels = gen.labels
    row = figures.column_bars_figure(
        labels, step.attention[layer, head].tolist(), title=tr("gen_row", token=step.text, layer=layer, head=head),
        value_name=tr("weight"), highlight=len(labels) - 1, font_size=fs,
    )
    charts.render_figures([dist, row], "gen_figs", names=[tr("gen_fig_dist"), tr("gen_fig_row")])
    if shell.projector():
        shell.say(legend(visible(gen.generated_text)))
        return
    st.caption(tr("gen_row_note", token=step.text))
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
        render_controls(loaded.n_layers, loaded.n_heads, finished=True)
        st.warning(shell.md_escape(shell.error_text(exc)))
        return
    # a finished text takes no more steps, so undo always removes a visible token
    st.session_state["gen_steps"] = len(gen.steps)
    render_controls(loaded.n_layers, loaded.n_heads, finished=gen.finished)
    render_generation(gen, loaded.n_layers, loaded.n_heads)
    shell.sync_url()
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
