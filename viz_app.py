"""Attention Classroom: the Streamlit router.

    streamlit run viz_app.py
"""

import streamlit as st

from components.ui import shell
from components.ui.shell import tr

st.set_page_config(page_title="Attention Classroom", page_icon="🐦", layout="wide")
shell.init_state()
st.set_page_config(initial_sidebar_state="collapsed" if shell.projector() else "expanded")
shell.render_sidebar()

PAGES = {
    "explorer": st.Page("components/ui/explorer.py", title=tr("page_explorer"), url_path="explorer", default=True),
    "mask": st.Page("components/ui/mask.py", title=tr("page_mask"), url_path="mask"),
    "lessons": st.Page("components/ui/lessons.py", title=tr("page_lessons"), url_path="lessons"),
    "generate": st.Page("components/ui/generate.py", title=tr("page_generate"), url_path="generate"),
    "homophones": st.Page("components/ui/homophones.py", title=tr("page_homophones"), url_path="homophones"),
    "icl": st.Page("components/ui/icl.py", title=tr("page_icl"), url_path="icl"),
}
current = st.navigation(list(PAGES.values()))
linked = st.session_state.pop("_link_page", None)
if linked in PAGES and PAGES[linked].url_path != current.url_path:
    st.switch_page(PAGES[linked])  # a shared link names its page
st.session_state["_page"] = next((name for name, p in PAGES.items() if p.url_path == current.url_path), "explorer")
current.run()
shell.sync_url()
