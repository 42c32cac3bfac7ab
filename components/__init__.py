"""Attention Classroom: pure functions behind the Streamlit app.

Nothing in this package (outside ``components.ui``) imports streamlit.
The package keeps Hugging Face libraries offline unless downloads are
explicitly allowed, so no code path reaches for the network by accident.
"""

import os

ALLOW_DOWNLOAD_ENV = "ATTENTION_CLASSROOM_ALLOW_DOWNLOAD"

if os.environ.get(ALLOW_DOWNLOAD_ENV, "") not in ("1", "true", "yes"):
    # Must be set before huggingface_hub is imported anywhere: it reads these once.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

__version__ = "0.1.0"
