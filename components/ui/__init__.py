"""The Streamlit pages. The only modules (with viz_app.py) that call ``st.*``."""
