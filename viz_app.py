"""Attention Classroom: the Streamlit router.

    streamlit run viz_app.py

Streamlit reads this file in two ways. At start-up it imports it as a module
and serves ``app``, whose start-up hook prepares the bundled model and
analyses the example sentences in the background, before the first student
arrives. Then, for every visit and every rerun, it runs the file as
``__main__``: the router below.
"""

import contextlib
import threading

import streamlit as st


def route() -> None:
    """Every page of the app; a shared link may name the page to open."""
    from components.pages import DEFAULT_PAGE, PAGES
    from components.ui import shell
    from components.ui.shell import tr

    st.set_page_config(page_title="Attention Classroom", page_icon="🐦", layout="wide")
    shell.init_state()
    st.set_page_config(initial_sidebar_state="collapsed" if shell.projector() else "expanded")
    shell.render_sidebar()

    pages = {
        name: st.Page(path, title=tr(f"page_{name}"), url_path=name, default=name == DEFAULT_PAGE)
        for name, path in PAGES.items()
    }
    current = st.navigation(list(pages.values()))
    linked = st.session_state.pop("_link_page", None)
    if linked in pages and pages[linked].url_path != current.url_path:
        st.switch_page(pages[linked])  # a shared link names its page
    st.session_state["_page"] = next((name for name, p in pages.items() if p.url_path == current.url_path), DEFAULT_PAGE)
    current.run()
    shell.sync_url()
    _rerun_on_reconnect()


@st.fragment(run_every=600)
def _rerun_on_reconnect() -> None:
    """Nothing on screen. A page with a timed fragment asks for a full
    run when its WebSocket reconnects, so a page whose process died behind
    the proxy is redrawn at once by its new process, from its link."""


def _warm_start() -> None:
    from components.ui import data  # imported here, once Streamlit's runtime is up

    data.warm_start()


@contextlib.asynccontextmanager
async def start_up(_app):
    """Streamlit's start-up hook: begin warming up, and serve at once."""
    # not a daemon: at exit the interpreter waits for it instead of killing it
    # inside a torch call, which aborts the process
    threading.Thread(target=_warm_start, name="warm-start", daemon=False).start()
    yield


if __name__ == "__main__":
    route()
else:
    app = st.App(__file__, lifespan=start_up)
