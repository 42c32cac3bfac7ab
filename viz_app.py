"""Attention Classroom: the Streamlit router.

    streamlit run viz_app.py
"""

import streamlit as st

from components.ui import shell
from components.ui.shell import tr

st.set_page_config(page_title="Attention Classroom", page_icon="🐦", layout="wide")
shell.init_state()
shell.render_sidebar()
pages = [
    st.Page("components/ui/explorer.py", title=tr("page_explorer"), url_path="explorer", default=True),
    st.Page("components/ui/mask.py", title=tr("page_mask"), url_path="mask"),
]
st.navigation(pages).run()
