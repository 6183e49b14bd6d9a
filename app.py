"""Web chat over the index: `python app.py [--host 127.0.0.1] [--port 7860] [--index DIR]
[--corpus DIR]`.

On a fresh checkout it builds the index from ``seeds/`` first (progress in the terminal), then
serves on this machine only. The logic lives in ``qa.web.ui.main``; ``demo`` is built at import
time (index folder from $QA_INDEX, else ``index``) for tools that look for a module-level
Gradio app.
"""

from __future__ import annotations

from qa.web.ui import default_index, main, make_app, parse_args, uploads_allowed

DEFAULT_INDEX = default_index()
demo = make_app(DEFAULT_INDEX, uploads=uploads_allowed("127.0.0.1"))

__all__ = ["DEFAULT_INDEX", "demo", "main", "parse_args"]

if __name__ == "__main__":
    main(app=demo)
