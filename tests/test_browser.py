"""The explorer in a real browser: headless Debian Chromium against
`streamlit run viz_app.py` with the bundled Gemma."""

import time

import pytest

from browser import chromium, heatmap_titles, require_chromium, streamlit_server, submit_sentence, wait_for_app, x_ticks

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def served(artifacts):
    require_chromium()
    from components.models import prepare_bundled

    prepare_bundled()
    with streamlit_server() as (url, proc):
        yield url, proc


@pytest.fixture
def server(served):
    return served[0]


def test_the_server_warms_up_before_anyone_visits(served):
    """The first test of the module: no page has been opened yet."""
    _, proc = served
    deadline = time.time() + 180
    while "ready for the class" not in proc.log_path.read_text() and time.time() < deadline:
        time.sleep(0.5)
    log = proc.log_path.read_text()
    assert "ready for the class" in log, log[-2000:]
    assert "Traceback" not in log


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
        strip = page.locator("[data-testid=stTable]").first
        assert strip.is_visible()
        words = strip.inner_text()  # the strip is text on the page: readings, parts of speech, tokens
        assert all(w in words for w in ("鳥", "ナク", "トリ", "助詞", "ナ | ク")), words
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


def test_a_shared_link_opens_its_view_in_chromium(server, artifacts):
    import urllib.parse

    query = urllib.parse.urlencode(
        {"text": "雨が激しく降る", "layer": 5, "head": 2, "view": "morpheme", "pos": 2, "lang": "en"}
    )
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(f"{server}/?{query}")
        wait_for_app(page)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent === 'Layer 5, head 2')",
            timeout=60_000,
        )
        assert x_ticks(page, 0) == ["<bos>", "雨", "が", "激しく", "降る"]
        assert any("After 「雨が」" in t for t in heatmap_titles(page))
        assert page.locator("[data-testid=stException]").count() == 0
        assert "layer=5" in page.url and "view=morpheme" in page.url
        page.screenshot(path=str(artifacts / "shared-link.png"), full_page=True)


def _largest_tick_font(page) -> float:
    return page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('.js-plotly-plot .xtick text, .js-plotly-plot .ytick text')]"
        ".map(e => parseFloat(getComputedStyle(e).fontSize) || 0))"
    )


def test_projector_view_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(server + "/?text=鳥がナク")
        wait_for_app(page)
        normal = _largest_tick_font(page)
        sidebar = "() => document.querySelector('[data-testid=stSidebar]').getAttribute('data-collapsed')"
        assert page.evaluate(sidebar) == "false"
        page.goto(server + "/?text=鳥がナク&projector=1")
        wait_for_app(page)
        time.sleep(1)
        assert page.evaluate(sidebar) == "true", "sidebar collapsed"
        assert page.evaluate("() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right") <= 0
        for name, label in (("detail", "ヘッドの詳細"), ("next", "次のトークン"), ("strip", "形態素"), ("overview", "全ヘッド")):
            page.get_by_role("radiogroup", name="表示する図").get_by_role("radio", name=label, exact=True).click()
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 1", timeout=30_000)
            wait_for_app(page)
            time.sleep(0.8)
            assert page.locator(".js-plotly-plot").count() == 1, "one figure at a time"
            page.screenshot(path=str(artifacts / f"projector-{name}.png"), full_page=True)
            if name in ("detail", "next"):
                assert _largest_tick_font(page) >= normal + 6, "large type"
        for name, query in (("mask", ""), ("lessons", ""), ("generate", "&gen_steps=2&greedy=1"),
                            ("homophones", ""), ("icl", "")):
            page.goto(f"{server}/{name}?projector=1{query}")
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 1", timeout=60_000)
            wait_for_app(page)
            time.sleep(1)
            assert page.locator("[data-testid=stException]").count() == 0
            assert page.locator(".js-plotly-plot").count() == 1, f"{name}: one figure at a time"
            page.screenshot(path=str(artifacts / f"projector-{name}.png"), full_page=True)


def test_classroom_pages_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2200})
        page.goto(server + "/lessons")
        wait_for_app(page)
        page.get_by_role("button", name="次へ →").click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent.includes('生スコア'))",
            timeout=60_000,
        )
        page.screenshot(path=str(artifacts / "lessons.png"), full_page=True)
        page.goto(server + "/generate")
        add = page.get_by_role("button", name="＋1トークン")
        add.wait_for(timeout=60_000)
        for _ in range(3):
            add.click()
            time.sleep(1.5)
        wait_for_app(page)
        assert page.locator(".js-plotly-plot").count() == 2
        page.screenshot(path=str(artifacts / "generate.png"), full_page=True)
        page.goto(server + "/homophones")
        wait_for_app(page)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=60_000)
        ticks = page.eval_on_selector_all(
            ".js-plotly-plot", "(plots) => [...plots[0].querySelectorAll('.ytick text')].map(e => e.textContent)"
        )
        assert ticks[0] == "鳥が鳴く", "the lens ranks the singing bird first"
        assert page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(artifacts / "homophones.png"), full_page=True)


def test_in_context_learning_page_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2800})
        page.goto(server + "/icl")
        wait_for_app(page)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
        page.get_by_role("button", name="帰納ヘッドを探す").click()
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=60_000)
        wait_for_app(page)
        time.sleep(1)
        assert page.locator("[data-testid=stException]").count() == 0
        assert any("層 5・ヘッド 1" in t for t in heatmap_titles(page)), "the induction head is found"
        page.screenshot(path=str(artifacts / "icl.png"), full_page=True)


def test_markup_typed_by_a_student_stays_text_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(server)
        wait_for_app(page)
        text = "<b>太字</b>**強調**<script>window.__pwned=1</script>$x^2$"
        submit_sentence(page, text)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(e => e.textContent.includes('<'))",
            timeout=60_000,
        )
        wait_for_app(page)
        time.sleep(1)
        assert page.evaluate("() => window.__pwned === undefined"), "no script ran"
        assert page.locator("b:has-text('太字'), strong:has-text('強調'), .katex").count() == 0, "nothing was interpreted"
        strip = page.locator("[data-testid=stTable]").first.inner_text()
        assert all(piece in strip for piece in ("<", "*", "強調", "script", "$")), "the strip shows it as typed"
        assert page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(artifacts / "markup-literal.png"), full_page=True)
