"""The app's entry point (a Hugging Face Space runs this file): the page from classifier.ui,
the session sweeper and the trainer beside it, and `python app.py` to serve it."""
from __future__ import annotations

import os
import sys

if __name__ == "__main__" and "PYTHONMALLOC" not in os.environ:
    # A server: Python objects on glibc's malloc, so memory freed when idle sessions are
    # forgotten goes back to the system (pymalloc's 1 MiB arenas stay pinned by a few live
    # objects: +221 MB held after 2,000 throwaway sessions, +66 MB with this; README, security).
    os.environ["PYTHONMALLOC"] = "malloc"
    os.execv(sys.executable, [sys.executable, *sys.argv])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from classifier.ui import lifecycle, page  # noqa: E402 (after the environment is set)

lifecycle.prepare_process()
demo = page.build()
lifecycle.start(demo)

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), **page.LAUNCH)
