"""Figure builders: pure functions from arrays to go.Figure."""

import numpy as np

from components import figures
from components.i18n import LANGS, STRINGS, t
from components.sampling import TokenProb


def _causal(n):
    rng = np.random.default_rng(1)
    w = np.tril(rng.random((n, n)))
    return w / w.sum(-1, keepdims=True), np.triu(np.ones((n, n), dtype=bool), 1)


def test_heatmap_separates_masked_cells_from_zero_weight():
    w, m = _causal(4)
    w[3, 1] = 0.0  # a real zero must stay a coloured cell
    fig = figures.attention_heatmap(w, m, list("abcd"), list("abcd"))
    weights, mask, marks = fig.data
    z = np.asarray(weights.z, dtype=float)
    assert z[3, 1] == 0.0 and np.isnan(z[0, 1])
    assert np.array_equal(~np.isnan(np.asarray(mask.z, dtype=float)), m)
    assert marks.showlegend and len(marks.x) == m.sum()


def test_hover_gives_the_exact_weight():
    w, m = _causal(4)
    w = w.astype(np.float32)
    fig = figures.attention_heatmap(w, m, list("abcd"), list("abcd"))
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.array_equal(z[~m], w[~m].astype(float)), "the figure carries the weights unrounded"
    assert "%{z:.7g}" in fig.data[0].hovertemplate, "and hover prints all of float32's digits"


def test_every_token_is_labelled_even_on_the_longest_sentence():
    w, m = _causal(64)
    labels = [f"t{i}" for i in range(64)]
    fig = figures.attention_heatmap(w, m, labels, labels)
    assert list(fig.layout.xaxis.ticktext) == labels and list(fig.layout.yaxis.ticktext) == labels
    assert fig.layout.yaxis.tickfont.size < 13, "smaller type, so that 64 labels fit their rows"
    short = figures.attention_heatmap(*_causal(5), list("abcde"), list("abcde"))
    assert short.layout.yaxis.tickfont.size == 13


def test_a_narrow_figure_keeps_every_kth_label():
    w, m = _causal(40)
    labels = [f"t{i}" for i in range(40)]
    fig = figures.thin_labels(figures.attention_heatmap(w, m, labels, labels), 16)
    assert list(fig.layout.xaxis.ticktext) == labels[::3] and list(fig.layout.xaxis.tickvals) == list(range(0, 40, 3))
    assert list(fig.layout.yaxis.ticktext) == labels[::3]
    untouched = figures.thin_labels(figures.attention_heatmap(*_causal(5), list("abcde"), list("abcde")), 16)
    assert list(untouched.layout.xaxis.ticktext) == list("abcde")


def test_marks_shrink_to_fit_narrow_cells_but_the_legend_keeps_its_size():
    w, m = _causal(12)
    fig = figures.fit_marks(figures.attention_heatmap(w, m, list("abcdefghijkl"), list("abcdefghijkl")), 12)
    marks = fig.data[-1]
    assert marks.marker.symbol == "x" and marks.marker.size <= 6
    assert fig.layout.legend.itemsizing == "constant"


def test_a_figure_fits_its_column():
    w, m = _causal(40)
    labels = [f"t{i}" for i in range(40)]
    fig = figures.fit_to_columns(figures.attention_heatmap(w, m, labels, labels), 3)
    assert fig.layout.height == 470, "height capped for a third of the page"
    assert len(fig.layout.xaxis.ticktext) <= 12
    cell = (1000 / 3 - 170) / 40  # all 40 keys share the column, labelled or not
    assert fig.data[-1].marker.size == max(3, int(cell * 0.55))


def test_english_key_labels_are_slanted():
    w, m = _causal(4)
    words = ["<bos>", "The", "▁quick", "▁brown"]
    assert figures.attention_heatmap(w, m, words, words).layout.xaxis.tickangle == -60
    japanese = ["<bos>", "鳥", "が", "ナ"]
    assert figures.attention_heatmap(w, m, japanese, japanese).layout.xaxis.tickangle == 0


def test_heatmap_without_mask_has_no_mask_layer():
    w = np.full((3, 3), 1 / 3)
    fig = figures.attention_heatmap(w, np.zeros((3, 3), bool), list("abc"), list("abc"))
    assert len(fig.data) == 1


def test_duplicate_labels_keep_separate_rows():
    w, m = _causal(3)
    fig = figures.attention_heatmap(w, m, ["が", "が", "が"], ["が", "が", "が"])
    assert list(fig.layout.yaxis.tickvals) == [0, 1, 2]
    assert list(fig.layout.yaxis.ticktext) == ["が", "が", "が"]


def test_user_text_is_escaped_for_plotly():
    w, m = _causal(2)
    fig = figures.attention_heatmap(w, m, ["<b>x</b>", "<script>"], ["<b>x</b>", "<script>"], title="<i>t</i>")
    assert list(fig.layout.xaxis.ticktext) == ["&lt;b&gt;x&lt;/b&gt;", "&lt;script&gt;"]
    assert "<i>" not in fig.layout.title.text
    bars = figures.next_token_figure([TokenProb(1, "<br>", 0.5)])
    assert list(bars.layout.yaxis.ticktext) == ["&lt;br&gt;"]


def test_overview_grid_places_blocks_with_gaps():
    att = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)  # [layer, head, query, key]
    grid = figures.overview_grid(att, gap=1)
    assert grid.shape == (3 * 3 - 1, 2 * 3 - 1)  # heads down, layers across
    np.testing.assert_array_equal(grid[3:5, 3:5], att[1, 1])
    assert np.isnan(grid[2]).all() and np.isnan(grid[:, 2]).all()


def test_overview_is_one_byte_heatmap_for_72_heads():
    n = 6
    weights, causal = _causal(n)
    att = np.broadcast_to(weights, (18, 4, n, n)).copy()
    mask = np.broadcast_to(causal, (18, n, n))
    fig = figures.all_heads_figure(att, mask)
    assert [tr.type for tr in fig.data] == ["heatmap", "scatter"]
    z = np.asarray(fig.data[0].z)
    assert z.dtype == np.uint8
    block = z[0:n, 0:n].astype(int)  # layer 0, head 0
    assert np.all(block[causal] == 252), "masked cells have their own code"
    np.testing.assert_allclose(block[~causal] / 250, weights[~causal], atol=0.5 / 250)
    assert np.all(z[n, :] == 254), "gaps between heads"
    assert len(fig.data[1].customdata) == 72
    assert list(fig.data[1].customdata[5 * 4 + 2]) == [5, 2]


def test_next_token_bars_highlight_the_sampled_token():
    cands = [TokenProb(7, "鳴", 0.4), TokenProb(8, "泣", 0.1)]
    fig = figures.next_token_figure(cands, highlight=8)
    colours = list(fig.data[0].marker.color)
    assert colours[1] == figures.HIGHLIGHT and colours[0] != figures.HIGHLIGHT


def test_every_ui_string_exists_in_both_languages_with_the_same_fields():
    import string

    for key, entry in STRINGS.items():
        assert set(entry) == set(LANGS), key
        fields = [{f for _, f, _, _ in string.Formatter().parse(entry[lang]) if f} for lang in LANGS]
        assert fields[0] == fields[1], key
        assert all(entry[lang].strip() for lang in LANGS), key
    assert t("app_title", "en") == "Attention Classroom"
    assert t("app_title", "fr") == t("app_title", "ja"), "unknown languages fall back to Japanese"


def test_long_prefixes_are_shortened_from_the_left_in_titles():
    from components.views import shorten_left

    assert shorten_left("鳥が") == "鳥が"
    long = "The quick brown fox jumps over the lazy dog."
    assert shorten_left(long) == "…" + long[-16:] and len(shorten_left(long)) == 17


def test_grouped_bars_write_each_value_beyond_its_error_bar():
    fig = figures.grouped_bars_figure(["before", "after"], [("reward", [-2.0, 1.5])], errors=[[0.5, 0.25]])
    bars, labels = fig.data
    assert bars.type == "bar" and bars.text is None and list(bars.error_y.array) == [0.5, 0.25]
    assert labels.mode == "text" and list(labels.text) == ["-2.00", "1.50"]
    assert list(labels.y) == [-2.5, 1.75] and list(labels.textposition) == ["bottom center", "top center"]
    plain = figures.grouped_bars_figure(["a"], [("x", [0.25]), ("y", [0.5])])
    assert [list(t.text) for t in plain.data] == [["0.25"], ["0.50"]], "without error bars, on the bars"


def test_a_long_word_is_cut_in_its_lens_cell_and_whole_in_the_hover():
    fig = figures.lens_figure([["␣preponderance", "鳴"]], np.array([[0.5, 0.25]]), [["␣preponderance 50%", "鳴 25%"]],
                              ["out"], ["0: <bos>", "1: 鳥"])
    assert list(fig.data[0].text[0]) == ["␣prepon…", "鳴"]
    assert fig.data[0].customdata[0][0] == "␣preponderance 50%"
