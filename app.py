"""Web chat over the index: `python app.py [--host 127.0.0.1] [--port 7860] [--index index]`.

``demo`` is built at import time (index folder from $QA_INDEX, else ``index``; model and other
settings from the QA_* environment variables), so tools that look for a module-level Gradio app
find it. The server starts only when this file is run, and only on this machine unless --host
says otherwise; it never builds the index (run `qa build` for that).
"""

from __future__ import annotations

import argparse
import os

from qa.ui import make_app, serve

DEFAULT_INDEX = os.environ.get("QA_INDEX") or "index"

demo = make_app(DEFAULT_INDEX)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat with the indexed articles in a browser.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument(
        "--index", default=DEFAULT_INDEX, help="index folder (default: $QA_INDEX or 'index')"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    app = demo if args.index == DEFAULT_INDEX else make_app(args.index)
    serve(args.index, args.host, args.port, app=app)


if __name__ == "__main__":
    main()
