"""Web chat over the index (placeholder until the UI lands): `python app.py`."""

from __future__ import annotations

if __name__ == "__main__":
    raise SystemExit('the web UI is not built yet; use `qa ask "QUESTION"`')
