"""The explorer in a real browser: headless Debian Chromium against
`streamlit run viz_app.py` with the bundled Gemma."""

import time

import pytest

from browser import chromium, heatmap_titles, require_chromium, streamlit_server, submit_sentence, wait_for_app, x_ticks

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def server(artifacts):
    require_chromium()
    from components.models import prepare_bundled

    prepare_bundled()
    with streamlit_server() as (url, _):
        yield url


def test_explorer_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        page.goto(server)
        wait_for_app(page)
        submit_sentence(page, "雨が激しく降る")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(e => e.textContent === '激')",
            timeout=60_000,
        )
        submit_sentence(page, "鳥がナク")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(e => e.textContent === 'ナ')"
            " && ![...document.querySelectorAll('.js-plotly-plot .xtick text')].some(e => e.textContent === '激')",
            timeout=60_000,
        )
        wait_for_app(page)
        time.sleep(1)
        assert page.locator("[data-testid=stException]").count() == 0
        plots = page.locator(".js-plotly-plot")
        heatmap_plots = [i for i in range(plots.count()) if plots.nth(i).locator(".heatmaplayer image").count()]
        assert len(heatmap_plots) == 2, "the head in detail and the all-heads overview"
        assert x_ticks(page, 0) == ["<bos>", "鳥", "が", "ナ", "ク"]
        strip = page.locator("[data-testid=stDataFrame]").first
        assert strip.is_visible()
        page.screenshot(path=str(artifacts / "explorer.png"), full_page=True)

        # clicking a head in the overview opens it in the detail view
        overview = plots.nth(heatmap_plots[1])
        overview.locator(".scatterlayer .point").nth(5 * 4 + 2).click(force=True)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent.includes('層 5・ヘッド 2'))",
            timeout=30_000,
        )
        assert page.locator("[data-testid=stException]").count() == 0
        assert any("層 5・ヘッド 2" in t for t in heatmap_titles(page))
        page.screenshot(path=str(artifacts / "explorer-layer5-head2.png"), full_page=True)


def test_mask_page_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 3200})
        page.goto(server + "/mask")
        wait_for_app(page)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 9", timeout=60_000)
        time.sleep(1)
        assert page.locator("[data-testid=stException]").count() == 0
        titles = heatmap_titles(page)
        assert any("生スコア" in t for t in titles) and any("softmax" in t for t in titles)
        assert any("マスクなし" in t for t in titles)
        table = page.locator("[data-testid=stDataFrame]").first
        assert table.is_visible()
        page.screenshot(path=str(artifacts / "mask.png"), full_page=True)
