"""The app in a real browser: headless Debian Chromium against
`streamlit run viz_app.py` with the bundled Gemma."""

import io
import time
import urllib.parse

import pytest

from browser import chromium, heatmap_titles, require_chromium, streamlit_server, submit_sentence, wait_for_app, x_ticks

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: the projectors a teacher meets, as (width, height)
PROJECTORS = [(1024, 768), (1280, 720), (1920, 1080)]


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


def no_exception(page) -> bool:
    return page.locator("[data-testid=stException]").count() == 0


def wait_for_title(page, text: str, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent.includes(t))",
        arg=text, timeout=timeout,
    )


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
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        wait_for_app(page)
        # the first screen tells the story: ナク's row looks at 鳥, and what comes after 鳥が
        wait_for_title(page, "層 4・ヘッド 0")
        assert x_ticks(page, 0) == ["鳥", "が", "ナク"]
        assert any("「鳥が」の次" in t for t in heatmap_titles(page))
        for nth in (0, 1):  # the head and the next-token chart start inside the first screen
            assert page.locator(".js-plotly-plot").nth(nth).bounding_box()["y"] < 1000
        page.screenshot(path=str(artifacts / "explorer-first-screen.png"))
        submit_sentence(page, "雨が激しく降る")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(e => e.textContent === '激しく')",
            timeout=60_000,
        )
        submit_sentence(page, "鳥がナク")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(e => e.textContent === 'ナク')"
            " && ![...document.querySelectorAll('.js-plotly-plot .xtick text')].some(e => e.textContent === '激しく')",
            timeout=60_000,
        )
        wait_for_app(page)
        time.sleep(1)
        assert no_exception(page)
        plots = page.locator(".js-plotly-plot")
        heatmap_plots = [i for i in range(plots.count()) if plots.nth(i).locator(".heatmaplayer image").count()]
        assert len(heatmap_plots) == 2, "the head in detail and the all-heads overview"
        strip = page.locator("[data-testid=stTable]").first
        words = strip.inner_text()  # the strip is text on the page: readings, parts of speech, tokens
        assert all(w in words for w in ("鳥", "ナク", "トリ", "助詞", "ナ | ク")), words
        page.screenshot(path=str(artifacts / "explorer.png"), full_page=True)


def _hover_text(page, plot: int, query: int, key: int) -> str:
    """Move the mouse over one cell of a heatmap and read its tooltip."""
    x, y = page.evaluate(
        """([n, q, k]) => { const gd = document.querySelectorAll('.js-plotly-plot')[n];
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
            return [r.left + xa._offset + xa.l2p(k), r.top + ya._offset + ya.l2p(q)]; }""",
        [plot, query, key],
    )
    page.mouse.move(x, y)
    page.wait_for_function(
        "(n) => (document.querySelectorAll('.js-plotly-plot')[n].querySelector('.hoverlayer').textContent || '').length > 0",
        arg=plot, timeout=10_000,
    )
    return page.locator(".js-plotly-plot").nth(plot).locator(".hoverlayer").text_content()


def test_hover_tells_the_weight_or_the_mask(server, artifacts):
    query = "?text=鳥がナク&layer=4&head=0&pos=2&view=token&hide_sink=0"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(server + "/" + query)
        wait_for_app(page)
        wait_for_title(page, "層 4・ヘッド 0")
        time.sleep(1)
        weight = _hover_text(page, 0, 2, 1)  # が looks at 鳥
        assert "が → 鳥" in weight and "0.54" in weight, weight
        page.mouse.move(5, 5)
        time.sleep(0.5)
        masked = _hover_text(page, 0, 1, 3)  # 鳥 cannot see ナ
        assert "マスク" in masked and "→" not in masked, masked
        page.screenshot(path=str(artifacts / "hover-masked.png"))
        page.goto(server + "/mask" + query)  # the three stages answer the same way
        wait_for_app(page)
        wait_for_title(page, "softmax")
        time.sleep(1)
        assert "が → 鳥" in _hover_text(page, 2, 2, 1)
        page.mouse.move(5, 5)
        time.sleep(0.5)
        assert "−∞" in _hover_text(page, 1, 1, 3)


def test_each_example_opens_its_view(server, artifacts):
    from components.examples import load_sentences

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(server + "/?text=猫が走る")  # not an example: nothing pinned
        wait_for_app(page)
        for example in load_sentences():
            page.get_by_role("radiogroup", name="例文").get_by_role("radio", name=example.text, exact=True).click()
            page.wait_for_function(
                "(t) => new URLSearchParams(location.search).get('text') === t", arg=example.text, timeout=60_000,
            )
            wait_for_title(page, f"層 {example.layer}・ヘッド {example.head}")
            wait_for_app(page)
            state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
            assert state["text"] == example.text
            assert (int(state["layer"]), int(state["head"])) == (example.layer, example.head)
            assert state["view"] == example.view and state["hide_sink"] == ("1" if example.hide_sink else "0")
            if example.pos is not None:
                assert int(state["pos"]) == example.pos, example.text
            assert no_exception(page)


def test_a_click_in_the_overview_opens_the_head(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server + "/?text=鳥がナク")
        wait_for_app(page)
        overview = page.locator(".js-plotly-plot").nth(2)
        overview.scroll_into_view_if_needed()
        overview.locator(".scatterlayer .point").nth(5 * 4 + 2).click(force=True)
        dialog = page.get_by_role("dialog")
        dialog.locator(".js-plotly-plot").wait_for(timeout=30_000)
        assert "層 5・ヘッド 2" in dialog.inner_text()
        box = dialog.locator(".js-plotly-plot").bounding_box()
        assert 0 <= box["y"] < 900 and box["y"] + box["height"] / 2 < 900, "the head is in view"
        page.screenshot(path=str(artifacts / "overview-click.png"))
        page.keyboard.press("Escape")
        wait_for_title(page, "層 5・ヘッド 2")  # and the detail view shows it too
        assert no_exception(page)

        page.goto(server + "/?text=鳥がナク&projector=1&figure=overview")  # in projector view
        wait_for_app(page)
        page.locator(".js-plotly-plot .scatterlayer .point").nth(7 * 4 + 1).click(force=True)
        wait_for_title(page, "層 7・ヘッド 1")
        box = page.locator(".js-plotly-plot").first.bounding_box()
        assert box["y"] < 900, "the head opens in place of the overview"
        assert no_exception(page)


def _figure_fonts(page) -> list[float]:
    """Every text size drawn in the page's figures, in CSS pixels."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot text')].filter(e => e.textContent.trim())"
        ".map(e => parseFloat(getComputedStyle(e).fontSize))"
    )


PROJECTOR_PAGES = [("", "&figure=detail"), ("mask", ""), ("generate", "&gen_steps=2&greedy=1"), ("homophones", ""),
                   ("icl", ""), ("lessons", "")]


@pytest.mark.parametrize("size", PROJECTORS, ids=[f"{w}x{h}" for w, h in PROJECTORS])
def test_projector_view_puts_the_figure_on_the_first_screen(server, artifacts, size):
    width, height = size
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height})
        for name, query in PROJECTOR_PAGES:
            page.goto(f"{server}/{name}?projector=1{query}")
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 1", timeout=60_000)
            wait_for_app(page)
            time.sleep(1.5)
            assert no_exception(page)
            page.screenshot(path=str(artifacts / f"projector-{name or 'explorer'}-{width}x{height}.png"))
            sidebar = page.evaluate("() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right")
            assert sidebar <= 0, "the sidebar is closed"
            boxes = [page.locator(".js-plotly-plot").nth(i).bounding_box()
                     for i in range(page.locator(".js-plotly-plot").count())]
            first = boxes[0]
            assert first["y"] >= 0 and first["y"] + first["height"] <= height + 1, (name, first)
            fonts = _figure_fonts(page)
            assert fonts and min(fonts) >= 20, (name, sorted(set(fonts))[:5])
            if name == "mask":
                assert len(boxes) == 3 and len({round(b["y"]) for b in boxes}) == 1, "the three stages side by side"


def test_the_qr_code_opens_the_view_on_screen(server, artifacts):
    import zxingcpp
    from PIL import Image

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server + "/?text=雨が激しく降る&layer=6&head=1&pos=2")
        wait_for_app(page)
        wait_for_title(page, "層 6・ヘッド 1")
        page.get_by_role("button", name="QR").click()
        image = page.get_by_role("dialog").locator("img").first
        image.wait_for(timeout=30_000)
        (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.screenshot())))
        page.screenshot(path=str(artifacts / "qr.png"))
        # the server listens on loopback in the tests, so the link keeps the browser's own address
        assert urllib.parse.unquote(found.text) == urllib.parse.unquote(page.url)


def test_mask_page_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 3200})
        page.goto(server + "/mask")
        wait_for_app(page)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 9", timeout=60_000)
        time.sleep(1)
        assert no_exception(page)
        titles = heatmap_titles(page)
        assert any("生スコア" in t for t in titles) and any("softmax" in t for t in titles)
        assert any("マスクなし" in t for t in titles)
        table = page.locator("[data-testid=stDataFrame]").first
        assert table.is_visible()
        page.screenshot(path=str(artifacts / "mask.png"), full_page=True)


def test_a_shared_link_opens_its_view_in_chromium(server, artifacts):
    query = urllib.parse.urlencode(
        {"text": "雨が激しく降る", "layer": 5, "head": 2, "view": "morpheme", "pos": 2, "lang": "en", "hide_sink": 0}
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
        assert no_exception(page)
        assert "layer=5" in page.url and "view=morpheme" in page.url
        page.screenshot(path=str(artifacts / "shared-link.png"), full_page=True)


def test_layer_by_layer_page_in_chromium(server, artifacts):
    """The logit lens and its tracked words are drawn; the knockout map of
    鳴 vs 泣 after 鳥が names the head that matters most, and a click on a
    head opens its attention on the explorer."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        query = urllib.parse.urlencode({"page": "layers", "text": "鳥がナク", "pos": "2", "ko_target": "鳴",
                                        "ko_versus": "泣"})
        page.goto(f"{server}/?{query}")
        wait_for_app(page)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=120_000)
        assert no_exception(page)
        page.locator(".st-key-ko_run button").click()
        ko_map = page.locator(".st-key-knockout_map .js-plotly-plot")
        ko_map.wait_for(timeout=120_000)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=120_000)
        reading = page.get_by_text("いちばん下がるのは層 15・ヘッド 0").first
        reading.wait_for(timeout=30_000)
        ko_map.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "layers-knockout.png"))
        ko_map.locator(".scatterlayer .point").nth(15 * 4 + 0).click(force=True)
        page.wait_for_url("**page=explorer**", timeout=60_000)
        wait_for_title(page, "層 15・ヘッド 0")
        state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
        assert (state["layer"], state["head"], state["text"]) == ("15", "0", "鳥がナク")
        assert no_exception(page)


def test_a_projector_link_names_only_positions_the_teacher_chose(server):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        page.goto(server + "/?text=猫が走る&projector=1")  # the head on screen; no position chosen yet
        wait_for_app(page)
        time.sleep(1)
        assert "pos=" not in page.url, page.url


def test_classroom_pages_in_chromium(server, artifacts):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2200})
        page.goto(server + "/lessons")
        wait_for_app(page)
        page.get_by_role("button", name="次へ →").click()
        wait_for_title(page, "生スコア")
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
        assert no_exception(page)
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
        assert no_exception(page)
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
        strip = page.locator("[data-testid=stTable]").first.text_content()
        assert all(piece in strip for piece in ("<", "*", "強調", "script", "$")), "the strip shows it as typed"
        assert no_exception(page)
        page.screenshot(path=str(artifacts / "markup-literal.png"), full_page=True)


def _rlhf_run_in_url(page) -> str:
    """The ``rlhf_run`` key the address bar carries ('' when none)."""
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query)).get("rlhf_run", "")


def _wait_for_rlhf_run(page, other_than: str, timeout: int) -> str:
    """Until the address bar names a finished run other than ``other_than``."""
    page.wait_for_function(
        "(old) => { const k = new URLSearchParams(location.search).get('rlhf_run') || '';"
        " return /^[0-9a-f]{20}$/.test(k) && k !== old; }",
        arg=other_than, timeout=timeout,
    )
    return _rlhf_run_in_url(page)


def _wait_for_script(page, timeout: int = 120_000) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout)


def _screenshot_all(page, path) -> None:
    """The whole page: Streamlit scrolls inside stMain, so ``full_page`` alone
    shows only the viewport. Grow the viewport to the content, then restore it."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


RLHF_CHARTS = ("rlhf_steps_0", "rlhf_steps_1", "rlhf_eval")


def _wait_for_rlhf_charts(page, timeout: int) -> None:
    page.wait_for_function(
        "(keys) => keys.every(k => document.querySelector(`.st-key-${k} .js-plotly-plot .main-svg`))",
        arg=list(RLHF_CHARTS), timeout=timeout,
    )


def test_rlhf_page_by_clicks_in_chromium(server, artifacts):
    """The whole RLHF lesson on the tiny model, by clicks: SFT, a ranking with
    a tie, the reward model and the policy; then the finished run's link opens
    its charts in another browser, without training again."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(server + "/?page=rlhf&model=tiny-random")
        sft = page.locator(".st-key-rlhf_run_sft button")
        sft.wait_for(timeout=180_000)
        _wait_for_script(page)
        assert no_exception(page)
        assert not _rlhf_run_in_url(page), "no run is named before the teacher asks"
        sft.click()
        # SFT trains in the job queue (or is done at once when cached); then the link names it
        sft_key = _wait_for_rlhf_run(page, "", timeout=300_000)
        page.locator(".st-key-rank_D").wait_for(timeout=60_000)
        _wait_for_script(page)
        page.locator(".st-key-rlhf_sft .js-plotly-plot").wait_for(timeout=60_000)  # the SFT chart

        for letter, place in (("B", 1), ("A", 2), ("C", 3), ("D", 3)):  # B > A > C = D: a tie
            control = page.locator(f".st-key-rank_{letter}")
            option = control.get_by_role("radio", name=f"{place}位", exact=True)  # a segmented control's option
            if option.get_attribute("aria-checked") != "true":  # a prepared run may have ranked it so already
                option.click()  # (a click on the chosen option would clear it)
            control.locator("[role=radio][aria-checked=true]").filter(has_text=f"{place}位").wait_for(timeout=60_000)
            _wait_for_script(page)
        caption = page.locator("[data-testid=stCaptionContainer]").filter(has_text="組のペア")
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
            ".some(e => e.innerText.startsWith('順位 B > A > C = D から'))",
            timeout=60_000,
        )
        pairs = caption.inner_text()
        assert pairs.startswith("順位 B > A > C = D から 5 組のペア"), pairs
        for pair in ("B > A", "B > C", "B > D", "A > C", "A > D"):
            assert pair in pairs.split("ペア", 1)[1], (pair, pairs)
        assert "C > D" not in pairs and "D > C" not in pairs, "a tie makes no pair"
        assert no_exception(page)
        _screenshot_all(page, artifacts / "rlhf-ranked.png")

        run_all = page.locator(".st-key-rlhf_run_all button")
        assert run_all.is_enabled()
        run_all.click()
        run_key = _wait_for_rlhf_run(page, sft_key, timeout=600_000)
        _wait_for_rlhf_charts(page, timeout=120_000)
        _wait_for_script(page)
        assert no_exception(page)
        assert run_key in page.locator("[data-testid=stCaptionContainer]").filter(has_text="表示中の結果").inner_text()
        assert "B > A > C = D" in page.get_by_text("報酬モデルの点数").inner_text()
        _screenshot_all(page, artifacts / "rlhf-finished.png")
        link = page.url

        other = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()  # another student's browser
        other.goto(link)
        _wait_for_rlhf_charts(other, timeout=180_000)
        _wait_for_script(other)
        assert other.locator("[data-testid=stException]").count() == 0
        assert _rlhf_run_in_url(other) == run_key
        assert other.locator("[data-testid=stProgress]").count() == 0, "the link opens the run, it trains nothing"
        assert run_key in other.locator("[data-testid=stCaptionContainer]").filter(has_text="表示中の結果").inner_text()
        assert "B > A > C = D" in other.get_by_text("報酬モデルの点数").inner_text()
        _screenshot_all(other, artifacts / "rlhf-link.png")
