"""Plotly figure builders. Each takes arrays and labels and returns a
``go.Figure``; none has side effects.

Plotly reads a subset of HTML in every label (``<b>``, ``<br>``, links), so
every piece of user text passes through :func:`safe` first.
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from components.sampling import TokenProb

FONT_FAMILY = "Noto Sans CJK JP, Noto Sans JP, Hiragino Sans, Yu Gothic, Meiryo, sans-serif"
WEIGHT_SCALE = "Blues"
DIFF_SCALE = "RdBu_r"
MASK_COLOUR = "#8a8a8a"
MASK_MARK = "rgba(255,255,255,0.9)"
HIGHLIGHT = "#d62728"
PINNED = "#f58518"
#: up to this many rows and columns, each cell shows its weight as text
CELL_TEXT_MAX = 12
#: beyond this many tokens the masked cells are grey without an × each
#: (thousands of SVG marks would slow the page for no legibility)
MARKED_MAX = 24
BAR = "#4c78a8"


def safe(text: str) -> str:
    """User text made inert for Plotly's HTML-like labels."""
    return html.escape(str(text), quote=False)


def _text_width(text: str) -> float:
    """A label's width in ems: CJK characters are square, Latin ones narrow."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.6 for ch in str(text))


def style(fig: go.Figure, font_size: int, height: int, title: str = "") -> go.Figure:
    """The house style: fonts that read Japanese, a left-aligned escaped title, white paper."""
    fig.update_layout(
        # anchored to the top of the figure, the title pushes the plot (and axis labels on top) down
        title={"text": safe(title), "x": 0, "xanchor": "left", "font": {"size": font_size + 2},
               "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 8}, "automargin": True},
        font={"family": FONT_FAMILY, "size": font_size},
        height=height,
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
    )
    return fig


def _room_above(fig: go.Figure, font_size: int, title: str, axis_title: bool) -> None:
    """Room at the top for the title, then an axis drawn on top (its labels
    and, if any, its title), so that the title never sits on the labels."""
    if title:
        labels = font_size + 8 + (2 * font_size + 16 if axis_title else 0)
        fig.update_layout(margin={"t": int((font_size + 2) * 1.6 + 16 + labels)})


def attention_heatmap(
    weights: np.ndarray,  # [query, key]
    masked: np.ndarray,  # [query, key] bool
    query_labels: Sequence[str],
    key_labels: Sequence[str],
    *,
    title: str = "",
    value_name: str = "weight",
    masked_name: str = "masked (future)",
    masked_hover: str = "masked",
    axis_query: str = "query",
    axis_key: str = "key",
    zmin: float = 0.0,
    zmax: float | None = 1.0,
    colorscale: str = WEIGHT_SCALE,
    font_size: int = 13,
    height: int | None = None,
    value_format: str = ".7g",
    cell_format: str = ".2f",
) -> go.Figure:
    """One attention matrix. Queries run top to bottom, keys left to right.

    Masked cells are drawn as their own grey layer with a white ×, so a
    future cell never looks like a cell of weight 0. Hover gives the exact
    value: the float32 weight to its seven significant digits; a masked cell
    says it is masked. Up to :data:`CELL_TEXT_MAX` rows and columns, every
    visible cell also shows its value (``cell_format``), large enough to be
    read off a projector.
    """
    weights = np.asarray(weights, dtype=np.float64)
    masked = np.asarray(masked, dtype=bool)
    n_q, n_k = weights.shape
    q_text = [safe(label) for label in query_labels]
    k_text = [safe(label) for label in key_labels]
    shown = np.where(masked, np.nan, weights)
    hover = np.array([[f"{q_text[q]} → {k_text[k]}" for k in range(n_k)] for q in range(n_q)], dtype=object)
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=shown,
            x=list(range(n_k)),
            y=list(range(n_q)),
            text=hover,
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax if zmax is not None else float(np.nanmax(np.abs(shown))) if np.isfinite(shown).any() else 1.0,
            hovertemplate=f"%{{text}}<br>{safe(value_name)} = %{{z:{value_format}}}<extra></extra>",
            # the masked cells are gaps here: hovering them falls through to the mask layer
            hoverongaps=False,
            # a long name runs along the bar instead of squeezing the matrix
            colorbar={"title": {"text": safe(value_name), "side": "right" if _text_width(value_name) > 4 else "top"},
                      "thickness": 14},
            xgap=1,
            ygap=1,
            name=safe(value_name),
        )
    )
    if masked.any():
        fig.add_trace(
            go.Heatmap(
                z=np.where(masked, 1.0, np.nan),
                x=list(range(n_k)),
                y=list(range(n_q)),
                colorscale=[[0, MASK_COLOUR], [1, MASK_COLOUR]],
                showscale=False,
                hovertemplate=f"{safe(masked_hover)}<extra></extra>",
                # only masked cells answer a hover; the others fall through to the weights below
                hoverongaps=False,
                xgap=1,
                ygap=1,
                name=safe(masked_name),
            )
        )
        qs, ks = np.nonzero(masked)
        if max(n_q, n_k) > MARKED_MAX:
            # cells too small to carry a mark; one off-screen point keeps the legend entry
            qs, ks = np.array([-10]), np.array([-10])
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=qs,
                mode="markers",
                marker={
                    "symbol": "x", "size": max(6, min(14, 300 // max(n_k, 1))),
                    "color": MASK_MARK, "line": {"width": 1, "color": MASK_COLOUR},
                },
                name=safe(masked_name),
                hoverinfo="skip",
                showlegend=True,
            )
        )
    if max(n_q, n_k) > MARKED_MAX:
        fig.update_traces(xgap=0, ygap=0, selector={"type": "heatmap"})
    side = max(n_q, n_k)
    cell = max(15, min(56, 560 // max(side, 1)))
    style(fig, font_size, height or int(190 + side * cell), title)
    # the weights written in the cells, where they fit at the figure's own type size (20 px at most)
    cell_text = min(font_size, int(cell * 0.42))
    if side <= CELL_TEXT_MAX and cell_text >= min(font_size, 20):
        fig.update_traces(texttemplate=f"%{{z:{cell_format}}}", textfont={"size": cell_text},
                          selector={"type": "heatmap", "name": safe(value_name)})
    # every token is labelled; on long sentences the labels shrink to fit their cells
    tick_font = {"size": min(font_size, cell - 4)}
    # English words, say (a lone <bos> does not count)
    wide = sum(_text_width(label) > 2 for label in key_labels) > max(1, n_k // 4)
    angle = 0 if n_k <= 12 and not wide else -60 if n_k <= 24 else -90
    if title:  # the title sits above the key axis (drawn at the top) and its labels, however tall
        longest = max((_text_width(label) for label in key_labels), default=1.0) * tick_font["size"]
        labels_px = tick_font["size"] + 4 if angle == 0 else longest * (0.87 if angle == -60 else 1.0) + 6
        fig.update_layout(margin={"t": int(font_size * 2.6 + 44 + labels_px)},
                          title={"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 10}})
    fig.update_xaxes(
        tickvals=list(range(n_k)), ticktext=k_text, title={"text": safe(axis_key), "standoff": 6}, side="top",
        tickfont=tick_font,
        showgrid=False, zeroline=False, automargin=True, tickangle=angle,
        range=[-0.5, n_k - 0.5],
    )
    fig.update_yaxes(
        tickvals=list(range(n_q)), ticktext=q_text, title={"text": safe(axis_query)}, tickfont=tick_font,
        range=[n_q - 0.5, -0.5],  # reading order top to bottom; the legend's off-screen point stays off
        showgrid=False, zeroline=False, automargin=True, scaleanchor="x", scaleratio=1,
    )
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.02, "xanchor": "left", "x": 0})
    return fig


def fit_marks(fig: go.Figure, cell_px: float) -> go.Figure:
    """Shrink the × marks of masked cells to fit cells of about ``cell_px``
    pixels (a heatmap drawn narrow), keeping the legend's mark readable.
    Returns the same figure."""
    for trace in fig.data:
        if trace.type == "scatter" and trace.marker.symbol == "x" and trace.marker.size:
            trace.marker.size = max(3, min(trace.marker.size, int(cell_px * 0.55)))
    fig.update_layout(legend={"itemsizing": "constant"})
    return fig


def thin_labels(fig: go.Figure, max_labels: int) -> go.Figure:
    """Keep at most ``max_labels`` tick labels per axis (every k-th), for a
    figure drawn narrow, e.g. one of three side by side. Hover still names
    every cell. Returns the same figure."""
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        text, values = axis.ticktext, axis.tickvals
        if text is not None and values is not None and len(text) > max_labels:
            step = -(-len(text) // max(max_labels, 1))
            axis.update(ticktext=list(text)[::step], tickvals=list(values)[::step])
    return fig


#: a figure among n side by side: its height cap and how many tick labels fit
_COLUMN_FIT = {1: (None, 64), 2: (600, 24), 3: (470, 12)}
_PAGE_PX = 1000  # the wide layout's content width on a laptop, roughly


def fit_to_columns(fig: go.Figure, n_columns: int, min_text: int = 9) -> go.Figure:
    """Fit a figure to one of ``n_columns`` side by side: cap its height so a
    square heatmap does not float in empty space, keep the tick labels that
    fit, shrink a heatmap's mask marks to its cells, and shrink the weights
    written in its cells to fit them (dropping them below ``min_text`` px).
    Returns the same figure."""
    cap, max_labels = _COLUMN_FIT.get(n_columns, (420, 10))
    if cap and fig.layout.height and fig.layout.height > cap:
        fig.update_layout(height=cap)
    if fig.data and fig.data[0].type == "heatmap" and fig.data[0].x is not None:
        n_keys = max(len(fig.data[0].x), 1)  # counted before the labels are thinned
        cell_px = (_PAGE_PX / n_columns - 170) / n_keys
        fit_marks(fig, cell_px)
        for trace in fig.data:
            if trace.type == "heatmap" and trace.texttemplate:
                size = min(trace.textfont.size or min_text, int(cell_px / 2.4))  # "0.55" is about 2.2 ems
                trace.update(texttemplate=trace.texttemplate if size >= min_text else None, textfont={"size": size})
    return thin_labels(fig, max_labels)


def side_by_side(figs: Sequence[go.Figure]) -> list[go.Figure]:
    """Figures shown in one row read as one comparison: the query axis is
    named once, a colour bar shared by neighbours appears once and lies under
    its matrix, and the mask legend goes (the grey × cells are named by the
    titles and the hover), which leaves the room to the matrices. Returns the
    same figures."""
    def scale(fig):
        trace = fig.data[0] if fig.data else None
        if trace is None or trace.type != "heatmap":
            return None
        return (str(trace.colorscale), trace.zmin, trace.zmax)

    for i, fig in enumerate(figs):
        if i > 0 and fig.layout.yaxis.title.text:
            fig.update_yaxes(title={"text": ""})
        # the mask's legend would sit on a colour bar; the second stage's title names the mask
        fig.update_layout(showlegend=False)
        if i < len(figs) - 1:
            if scale(fig) is not None and scale(fig) == scale(figs[i + 1]):
                fig.update_traces(showscale=False, selector={"type": "heatmap"})
        if scale(fig) is not None and len(figs) >= 3:  # in a third of the width, a bar under the matrix leaves it room
            fig.update_traces(colorbar={"orientation": "h", "y": -0.04, "yanchor": "top", "thickness": 12,
                                        "len": 0.9, "title": {"side": "top"}},
                              selector={"type": "heatmap"})
        axis = fig.layout.xaxis
        if fig.data and fig.data[0].type == "heatmap" and not axis.tickangle and axis.ticktext:
            size = axis.tickfont.size or 13
            longest = max(_text_width(html.unescape(t)) for t in axis.ticktext) * size
            cell = (_PAGE_PX / len(figs) - 170) / len(axis.ticktext)
            if longest + size / 2 <= cell:  # the labels fit their cells: upright, and the matrices keep one size
                continue
            # narrow cells: slanted labels do not run together, and need that much more room on top
            fig.update_xaxes(tickangle=-45)
            fig.update_layout(margin={"t": int((fig.layout.margin.t or 0) + max(0.0, 0.71 * (longest + size) - size - 4))})
    return list(figs)


def overview_grid(values: np.ndarray, gap: int = 1) -> np.ndarray:
    """``values  # [layer, head, query, key]`` -> one 2-D array of blocks with
    NaN gaps: heads down, layers across,
    ``[head * (query + gap) - gap, layer * (key + gap) - gap]``."""
    n_layers, n_heads, n_q, n_k = values.shape
    grid = np.full((n_heads * (n_q + gap) - gap, n_layers * (n_k + gap) - gap), np.nan, dtype=np.float32)
    for layer in range(n_layers):
        for head in range(n_heads):
            r, c = head * (n_q + gap), layer * (n_k + gap)
            grid[r:r + n_q, c:c + n_k] = values[layer, head]
    return grid


def overview_gap(n_tokens: int) -> int:
    return max(1, n_tokens // 8)


#: the overview sends weights as bytes: 0..250 is the weight x 250, then two codes
_Q_MAX, _Q_MASKED, _Q_GAP = 250, 252, 254


def quantized_overview(attentions: np.ndarray, masked: np.ndarray) -> np.ndarray:
    """``[layer, head, query, key]`` weights -> the uint8 overview grid: weight
    x 250 (0.004 steps, plenty for a thumbnail), 252 masked, 254 gap. One byte
    a cell keeps a 64-token Gemma overview (360k cells) under half a megabyte."""
    n_layers, n_heads, n_q, n_k = attentions.shape
    codes = np.rint(np.clip(attentions, 0.0, 1.0) * _Q_MAX).astype(np.uint8)
    codes = np.where(np.broadcast_to(masked[:, None], codes.shape), np.uint8(_Q_MASKED), codes)
    grid = overview_grid(codes.astype(np.float32), overview_gap(max(n_q, n_k)))
    return np.where(np.isnan(grid), _Q_GAP, grid).astype(np.uint8)


def _quantized_scale(colorscale: str, masked_colour: str, gap_colour: str = "white") -> list:
    import plotly.colors as pc

    base = pc.get_colorscale(colorscale)
    top = _Q_MAX / 255
    stops = [[pos * top, colour] for pos, colour in base]
    stops += [[(_Q_MAX + 0.5) / 255, masked_colour], [(_Q_MASKED + 1) / 255, masked_colour]]
    stops += [[(_Q_MASKED + 1.01) / 255, gap_colour], [1.0, gap_colour]]
    return stops


def all_heads_figure(
    attentions: np.ndarray,  # [layer, head, query, key]
    masked: np.ndarray,  # [layer, query, key] bool
    *,
    axis_layer: str = "layer",
    axis_head: str = "head",
    value_name: str = "weight",
    hover_name: str = "layer %{customdata[0]}, head %{customdata[1]}",
    font_size: int = 12,
    colorscale: str = WEIGHT_SCALE,
    max_width: int = 1100,
    selected: tuple[int, int] | None = None,
) -> go.Figure:
    """Every head as a small multiple on one colour scale: layers across,
    heads down. One heatmap trace of bytes holds every weight, mask and gap,
    so 72 heads cost one trace, not 72. A marker over each block can be
    clicked to open that head; the ``selected`` (layer, head) is framed in red."""
    n_layers, n_heads, n_q, n_k = attentions.shape
    gap = overview_gap(max(n_q, n_k))
    grid = quantized_overview(attentions, masked)
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=grid, colorscale=_quantized_scale(colorscale, "#c8c8c8"), zmin=0, zmax=255, hoverinfo="skip",
            colorbar={
                "title": {"text": safe(value_name)}, "thickness": 12,
                "tickvals": [0, 62.5, 125, 187.5, 250], "ticktext": ["0", "0.25", "0.5", "0.75", "1"],
            },
        )
    )
    block_x = [layer * (n_k + gap) + (n_k - 1) / 2 for layer in range(n_layers)]
    block_y = [head * (n_q + gap) + (n_q - 1) / 2 for head in range(n_heads)]
    block_px = max(24, min(130, (max_width - 140) // n_layers))
    fig.add_trace(
        go.Scatter(
            x=[block_x[layer] for layer in range(n_layers) for _ in range(n_heads)],
            y=[block_y[head] for _ in range(n_layers) for head in range(n_heads)],
            mode="markers",
            marker={"size": int(block_px * 0.8), "color": "rgba(0,0,0,0.02)", "symbol": "square"},
            customdata=[[layer, head] for layer in range(n_layers) for head in range(n_heads)],
            hovertemplate=f"{hover_name}<extra></extra>",
            showlegend=False,
            name="heads",
        )
    )
    if selected is not None and 0 <= selected[0] < n_layers and 0 <= selected[1] < n_heads:
        x0, y0 = selected[0] * (n_k + gap) - 0.5, selected[1] * (n_q + gap) - 0.5
        pad = gap / 2
        fig.add_shape(type="rect", x0=x0 - pad, x1=x0 + n_k + pad, y0=y0 - pad, y1=y0 + n_q + pad,
                      line={"color": HIGHLIGHT, "width": 3}, name="selected")
    # square cells: the plot's height follows from its width and the grid's shape
    plot_w = n_layers * (block_px + 6)
    grid_h, grid_w = grid.shape
    plot_h = int(plot_w * grid_h / grid_w)
    style(fig, font_size, plot_h + 100)
    fig.update_layout(
        width=plot_w + 150, clickmode="event+select", dragmode=False,
        margin={"l": 60, "r": 10, "t": 80, "b": 20},
    )
    fig.update_xaxes(
        tickvals=block_x, ticktext=[str(layer) for layer in range(n_layers)], title={"text": safe(axis_layer)},
        side="top", showgrid=False, zeroline=False, automargin=True,
    )
    fig.update_yaxes(
        tickvals=block_y, ticktext=[str(head) for head in range(n_heads)], title={"text": safe(axis_head)},
        autorange="reversed", showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1, automargin=True,
    )
    return fig


def next_token_figure(
    candidates: Sequence[TokenProb],
    *,
    title: str = "",
    value_name: str = "probability",
    highlight: int | None = None,
    font_size: int = 13,
    colour: str = BAR,
    pinned: Sequence[tuple[TokenProb, int]] = (),
    rank_format: str = "#{rank}",
) -> go.Figure:
    """Horizontal bars of next-token probabilities, most likely on top.
    ``highlight`` is a token id drawn in red (the sampled token). ``pinned``
    words (a token and its rank in the whole vocabulary) are drawn in orange
    with their rank, inside the list if they are in it, else below it."""
    rank_of = {tp.id: rank for tp, rank in pinned}
    rows = list(candidates) + [tp for tp, _ in pinned if tp.id not in {c.id for c in candidates}]
    labels = [safe(c.text) + (f" ({rank_format.format(rank=rank_of[c.id])})" if c.id in rank_of else "")
              for c in rows]
    probs = [c.prob for c in rows]
    colours = [HIGHLIGHT if highlight is not None and c.id == highlight else PINNED if c.id in rank_of else colour
               for c in rows]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=list(range(len(rows))),
            orientation="h",
            marker_color=colours,
            text=[_percent(p) for p in probs],
            textposition="outside",
            constraintext="none",  # the numbers keep the figure's type size, however thin the bar
            cliponaxis=False,
            customdata=labels,
            hovertemplate=f"%{{customdata}}<br>{safe(value_name)} = %{{x:.4g}}<extra></extra>",
        )
    )
    # large type needs less air between bars to fit a projector's screen
    style(fig, font_size, int(90 + len(rows) * (font_size + (14 if font_size < 20 else 6))), title)
    fig.update_yaxes(tickvals=list(range(len(rows))), ticktext=labels, autorange="reversed", automargin=True)
    fig.update_xaxes(
        title={"text": safe(value_name), "standoff": 8}, range=[0, max(probs + [0.01]) * 1.25],
        tickformat=".1~%", automargin=True, zeroline=False,
    )
    if len(rows) > len(candidates):  # a line between the top-k and the pinned words below it
        fig.add_hline(y=len(candidates) - 0.5, line={"color": "#999999", "dash": "dot", "width": 1})
    return fig


def _percent(p: float) -> str:
    """A probability as a percentage a class can read: 4.7%, 0.13%, <0.01%."""
    if p >= 0.001:
        return f"{p:.1%}"
    return f"{p:.2%}" if p >= 0.0001 else "<0.01%"


def column_bars_figure(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    value_name: str = "value",
    highlight: int | None = None,
    font_size: int = 13,
    y_max: float | None = None,
) -> go.Figure:
    """One bar per token in reading order (labels are user text), e.g. how much
    probability moved at each position, or one query's attention over its keys."""
    text = [safe(label) for label in labels]
    colours = [HIGHLIGHT if i == highlight else BAR for i in range(len(labels))]
    fig = go.Figure(
        go.Bar(
            x=list(range(len(labels))), y=list(values), marker_color=colours,
            text=[f"{v:.2f}" for v in values], textposition="outside", cliponaxis=False, constraintext="none",
            customdata=text, hovertemplate=f"%{{customdata}}<br>{safe(value_name)} = %{{y:.4g}}<extra></extra>",
        )
    )
    style(fig, font_size, 320 + 2 * font_size, title)
    fig.update_xaxes(tickvals=list(range(len(labels))), ticktext=text, automargin=True,
                     tickangle=0 if len(labels) <= 14 else -60)
    top = y_max if y_max is not None else max(list(values) + [0.01]) * 1.2
    fig.update_yaxes(title={"text": safe(value_name)}, range=[0, top], automargin=True)
    return fig


def table_figure(header: Sequence[str], rows: Sequence[Sequence[str]], *, font_size: int = 13) -> go.Figure:
    """A plain table as a figure, for type that must be read from afar.
    ``rows`` are the table's rows; every cell is user text and is escaped."""
    columns = list(zip(*rows)) if rows else [[] for _ in header]
    fig = go.Figure(
        go.Table(
            header={"values": [safe(h) for h in header], "font": {"size": font_size + 2}, "height": font_size * 2,
                    "fill_color": "#eef2f7", "align": "center"},
            cells={"values": [[safe(c) for c in col] for col in columns], "font": {"size": font_size},
                   "height": int(font_size * 1.9), "align": "center"},
        )
    )
    style(fig, font_size, int(60 + (len(rows) + 1) * font_size * 2.1))
    return fig


def sentence_scores_figure(
    texts: Sequence[str],
    relative: Sequence[float],
    logprobs: Sequence[float],
    *,
    title: str = "",
    value_name: str = "relative probability",
    score_name: str = "log p",
    font_size: int = 13,
) -> go.Figure:
    """Whole sentences scored by the model: relative probability bars, best on
    top, each with its log-probability (called ``score_name``)."""
    order = sorted(range(len(texts)), key=lambda i: -relative[i])
    labels = [safe(texts[i]) for i in order]
    fig = go.Figure(
        go.Bar(
            x=[relative[i] for i in order], y=list(range(len(order))), orientation="h",
            marker_color=[HIGHLIGHT if rank == 0 else BAR for rank in range(len(order))],
            text=[f"{_percent(relative[i])}  ({safe(score_name)} {logprobs[i]:.2f})" for i in order],
            # a long bar carries its numbers inside, so they never run off the chart
            textposition=["inside" if relative[i] > 0.6 else "outside" for i in order], insidetextanchor="end",
            constraintext="none",
            cliponaxis=False, customdata=labels,
            hovertemplate="%{customdata}<br>%{text}<extra></extra>",
        )
    )
    style(fig, font_size, int(90 + len(order) * (font_size + 22)), title)
    fig.update_yaxes(tickvals=list(range(len(order))), ticktext=labels, autorange="reversed", automargin=True)
    fig.update_xaxes(title={"text": safe(value_name)}, range=[0, 1.45], tickformat=".0%", automargin=True,
                     tickvals=[0, 0.25, 0.5, 0.75, 1])
    return fig


def few_shot_figure(
    n_demos: Sequence[int],
    answer_probs: Sequence[float],
    top_texts: Sequence[str],
    top_probs: Sequence[float],
    shuffled_probs: Sequence[float] | None = None,
    *,
    title: str = "",
    names: tuple[str, str, str] = ("expected answer", "top prediction", "shuffled answers"),
    axis_x: str = "demonstrations",
    value_name: str = "probability",
    font_size: int = 13,
) -> go.Figure:
    """The answer's probability against the number of demonstrations, with
    the model's top prediction (labelled) and an optional shuffled control."""
    xs = list(n_demos)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=list(answer_probs), mode="lines+markers", name=safe(names[0]),
                             line={"color": BAR, "width": 3}, marker={"size": 10}))
    fig.add_trace(go.Scatter(x=xs, y=list(top_probs), mode="lines+markers+text", name=safe(names[1]),
                             text=[safe(t) for t in top_texts], textposition="top center",
                             line={"color": "#999999", "dash": "dot"}))
    if shuffled_probs is not None:
        fig.add_trace(go.Scatter(x=xs, y=list(shuffled_probs), mode="lines+markers", name=safe(names[2]),
                                 line={"color": HIGHLIGHT, "dash": "dash"}))
    style(fig, font_size, 420, title)
    fig.update_xaxes(title={"text": safe(axis_x)}, tickvals=xs, automargin=True)
    fig.update_yaxes(title={"text": safe(value_name)}, range=[0, 1.05], tickformat=".0%", automargin=True)
    # the legend sits at the very bottom of the figure, below the axis title,
    # whatever the type size (paper coordinates would collide in projector view)
    fig.update_layout(
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        margin={"b": 2 * font_size + 20},
    )
    return fig


def matrix_figure(
    values: np.ndarray,  # [row, column]
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    *,
    title: str = "",
    value_name: str = "weight",
    axis_rows: str = "",
    axis_columns: str = "",
    font_size: int = 13,
) -> go.Figure:
    """A small labelled matrix on the 0..1 weight scale (layer x head scores,
    layer x prompt part attention)."""
    n_rows, n_cols = values.shape
    fig = go.Figure(go.Heatmap(
        z=values, x=list(range(n_cols)), y=list(range(n_rows)), colorscale=WEIGHT_SCALE, zmin=0, zmax=1,
        hovertemplate=f"%{{y}}, %{{x}}: %{{z:.3f}}<extra></extra>", colorbar={"title": {"text": safe(value_name)}},
    ))
    style(fig, font_size, 160 + (font_size + 10) * n_rows, title)
    slanted = max((len(c) for c in column_labels), default=0) * n_cols > 24
    fig.update_xaxes(tickvals=list(range(n_cols)), ticktext=[safe(c) for c in column_labels], side="top",
                     title={"text": safe(axis_columns)}, automargin=True, tickangle=-40 if slanted else 0)
    if slanted and title:  # slanted labels on top need room under the title
        fig.update_layout(margin={"t": 60 + 9 * max(len(c) for c in column_labels)},
                          title={"y": 0.995, "yanchor": "top"})
    fig.update_yaxes(tickvals=list(range(n_rows)), ticktext=[safe(r) for r in row_labels], autorange="reversed",
                     title={"text": safe(axis_rows)}, automargin=True)
    return fig


#: longer words are cut in a lens cell (the hover gives them whole)
LENS_CELL_CHARS = 8


def _cell_label(text: str) -> str:
    return text if len(text) <= LENS_CELL_CHARS else text[: LENS_CELL_CHARS - 1] + "…"


def lens_figure(
    top_labels: Sequence[Sequence[str]],  # [row, column] the most probable token's text
    top_probs: np.ndarray,  # [row, column] its probability
    hover: Sequence[Sequence[str]],  # [row, column] the top few, one per line (already escaped)
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    *,
    title: str = "",
    value_name: str = "probability",
    axis_rows: str = "",
    axis_columns: str = "",
    highlight_column: int | None = None,
    font_size: int = 13,
) -> go.Figure:
    """The logit lens: what each layer (rows, the input at the bottom, the
    output at the top) would predict at each position (columns), written in
    the cell (cut to 8 characters) and coloured by its probability."""
    probs = np.asarray(top_probs, dtype=np.float64)
    n_rows, n_cols = probs.shape
    fig = go.Figure(go.Heatmap(
        z=probs, x=list(range(n_cols)), y=list(range(n_rows)), colorscale=WEIGHT_SCALE, zmin=0, zmax=1,
        text=[[safe(_cell_label(t)) for t in row] for row in top_labels], texttemplate="%{text}",
        textfont={"size": max(9, font_size - 2)}, customdata=np.asarray(hover, dtype=object),
        hovertemplate="%{customdata}<extra></extra>", xgap=1, ygap=1,
        colorbar={"title": {"text": safe(value_name)}, "thickness": 12},
    ))
    row_px = font_size + 12
    style(fig, font_size, int(120 + n_rows * row_px), title)
    fig.update_xaxes(tickvals=list(range(n_cols)), ticktext=[safe(c) for c in column_labels], side="top",
                     title={"text": safe(axis_columns)}, automargin=True, showgrid=False)
    fig.update_yaxes(tickvals=list(range(n_rows)), ticktext=[safe(r) for r in row_labels],
                     title={"text": safe(axis_rows), "standoff": 12}, automargin=True, showgrid=False)
    _room_above(fig, font_size, title, axis_title=bool(axis_columns))
    if highlight_column is not None:
        fig.add_shape(type="rect", x0=highlight_column - 0.5, x1=highlight_column + 0.5, y0=-0.5, y1=n_rows - 0.5,
                      line={"color": HIGHLIGHT, "width": 3})
    return fig


def rank_lines_figure(
    row_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int], Sequence[float]]],  # (name, rank per row, probability per row)
    *,
    title: str = "",
    axis_rows: str = "",
    value_name: str = "rank",
    prob_name: str = "probability",
    font_size: int = 13,
) -> go.Figure:
    """Where each tracked word stands after every layer: its rank in the whole
    vocabulary on a log scale, 1 at the top; hover adds its probability."""
    fig = go.Figure()
    colours = [PINNED, BAR, HIGHLIGHT, "#54a24b", "#b279a2", "#9d755d"]
    for i, (name, ranks, probs) in enumerate(series):
        fig.add_trace(go.Scatter(
            x=list(range(len(row_labels))), y=list(ranks), mode="lines+markers", name=safe(name),
            line={"color": colours[i % len(colours)], "width": 3}, marker={"size": 8},
            customdata=[[float(p)] for p in probs],
            hovertemplate=f"{safe(name)}<br>%{{x}}<br>{safe(value_name)} %{{y}}<br>{safe(prob_name)} %{{customdata[0]:.3g}}<extra></extra>",
        ))
    style(fig, font_size, 420, title)
    fig.update_xaxes(tickvals=list(range(len(row_labels))), ticktext=[safe(r) for r in row_labels],
                     title={"text": safe(axis_rows)}, automargin=True, tickangle=-45 if len(row_labels) > 10 else 0)
    fig.update_yaxes(type="log", autorange="reversed", title={"text": safe(value_name)}, automargin=True,
                     tickvals=[1, 10, 100, 1000, 10_000, 100_000], ticktext=["1", "10", "100", "1,000", "10k", "100k"])
    fig.update_layout(legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
                      margin={"b": 2 * font_size + 60})
    return fig


def knockout_figure(
    heads: np.ndarray,  # [layer, head] change in nats
    attention: np.ndarray,  # [layer]
    mlp: np.ndarray,  # [layer]
    *,
    title: str = "",
    value_name: str = "change",
    head_name: str = "head",
    attention_name: str = "attention",
    mlp_name: str = "MLP",
    axis_layer: str = "layer",
    hover_head: str = "layer %{customdata[0]}, head %{customdata[1]}",
    font_size: int = 13,
) -> go.Figure:
    """How much zeroing each part changes a log-probability: one row per
    layer; a column per head, then (after a gap) the whole attention block
    and the whole MLP. Diverging colours: red lowers it, blue raises it.
    A marker over each head cell can be clicked to open that head."""
    n_layers, n_heads = heads.shape
    grid = np.full((n_layers, n_heads + 3), np.nan)
    grid[:, :n_heads], grid[:, n_heads + 1], grid[:, n_heads + 2] = heads, attention, mlp
    span = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    columns = [f"{safe(head_name)} {h}" for h in range(n_heads)] + ["", safe(attention_name), safe(mlp_name)]
    fig = go.Figure(go.Heatmap(
        z=grid, x=list(range(n_heads + 3)), y=list(range(n_layers)), colorscale="RdBu", zmid=0,
        zmin=-span, zmax=span, texttemplate="%{z:+.2f}", textfont={"size": max(9, font_size - 3)},
        hovertemplate=f"%{{y}} · %{{x}}: %{{z:+.3f}} {safe(value_name)}<extra></extra>", hoverongaps=False,
        xgap=1, ygap=1, colorbar={"title": {"text": safe(value_name)}, "thickness": 12},
    ))
    fig.add_trace(go.Scatter(
        x=[h for _ in range(n_layers) for h in range(n_heads)], y=[l for l in range(n_layers) for _ in range(n_heads)],
        mode="markers", marker={"size": 18, "color": "rgba(0,0,0,0.01)", "symbol": "square"},
        customdata=[[l, h] for l in range(n_layers) for h in range(n_heads)],
        hovertemplate=f"{hover_head}<br>%{{text}}<extra></extra>",
        text=[f"{heads[l, h]:+.3f} {safe(value_name)}" for l in range(n_layers) for h in range(n_heads)],
        showlegend=False, name="heads",
    ))
    style(fig, font_size, int(110 + n_layers * (font_size + 12)), title)
    fig.update_xaxes(tickvals=list(range(n_heads + 3)), ticktext=columns, side="top", showgrid=False,
                     zeroline=False, automargin=True)
    _room_above(fig, font_size, title, axis_title=False)
    fig.update_yaxes(tickvals=list(range(n_layers)), ticktext=[str(l) for l in range(n_layers)],
                     title={"text": safe(axis_layer)}, autorange="reversed", showgrid=False, zeroline=False,
                     automargin=True)
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def grouped_bars_figure(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],  # (name, one value per group)
    *,
    title: str = "",
    value_name: str = "value",
    errors: Sequence[Sequence[float] | None] | None = None,  # per series, one error bar per group
    text_format: str = "{:.2f}",
    font_size: int = 13,
) -> go.Figure:
    """Values side by side for a few groups (before and after training, one
    policy against another), each bar labelled with its value."""
    colours = [BAR, PINNED, HIGHLIGHT, "#54a24b"]
    fig = go.Figure()
    xs = [safe(g) for g in groups]
    for i, (name, values) in enumerate(series):
        err = errors[i] if errors else None
        labels = [text_format.format(v) for v in values]
        fig.add_trace(go.Bar(
            x=xs, y=list(values), name=safe(name), marker_color=colours[i % len(colours)], offsetgroup=str(i),
            text=None if err else labels, textposition="outside", constraintext="none", cliponaxis=False,
            error_y={"type": "data", "array": list(err), "visible": True} if err else None,
            hovertemplate=f"{safe(name)}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
        ))
        if err:  # the value beyond the end of its error bar, never across the whisker
            ends = [v + e if v >= 0 else v - e for v, e in zip(values, err)]
            fig.add_trace(go.Scatter(
                x=xs, y=ends, mode="text", text=labels, offsetgroup=str(i), showlegend=False, hoverinfo="skip",
                textposition=["top center" if v >= 0 else "bottom center" for v in values], cliponaxis=False,
                textfont={"size": font_size},
            ))
    style(fig, font_size, 380, title)
    fig.update_layout(barmode="group", scattermode="group",
                      legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},
                      margin={"b": 2 * font_size + 40})
    fig.update_yaxes(title={"text": safe(value_name)}, automargin=True, zeroline=True)
    fig.update_xaxes(automargin=True)
    return fig


def steps_figure(
    steps: Sequence[int],
    mean: Sequence[float],
    spread: Sequence[float] | None = None,  # e.g. the standard deviation, drawn as a band
    *,
    title: str = "",
    axis_x: str = "step",
    value_name: str = "value",
    colour: str = BAR,
    font_size: int = 13,
) -> go.Figure:
    """A quantity per training step, with an optional band around it."""
    xs = list(steps)
    fig = go.Figure()
    if spread is not None:
        upper = [m + s for m, s in zip(mean, spread)]
        lower = [m - s for m, s in zip(mean, spread)]
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=upper + lower[::-1], fill="toself", fillcolor="rgba(76,120,168,0.15)",
                                 line={"width": 0}, hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=xs, y=list(mean), mode="lines+markers", line={"color": colour, "width": 3},
                             marker={"size": 8}, showlegend=False,
                             hovertemplate=f"{safe(axis_x)} %{{x}}<br>{safe(value_name)} %{{y:.3f}}<extra></extra>"))
    style(fig, font_size, 320, title)
    fig.update_xaxes(title={"text": safe(axis_x)}, tickvals=xs if len(xs) <= 20 else None, automargin=True)
    fig.update_yaxes(title={"text": safe(value_name)}, automargin=True)
    return fig
