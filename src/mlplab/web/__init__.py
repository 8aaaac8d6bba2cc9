"""The web playground: TensorFlow Playground's idea on real PyTorch, with your own data.

``mlplab serve`` runs :func:`create_app` under uvicorn. The page (``static/``) is plain
HTML + JS + canvas; training runs in per-browser sessions (:mod:`mlplab.web.sessions`) that
stream frames over a WebSocket.
"""

from __future__ import annotations

from mlplab.web.app import create_app
from mlplab.web.limits import PLAYGROUND_DEFAULTS, LimitError, Limits

__all__ = ["PLAYGROUND_DEFAULTS", "LimitError", "Limits", "create_app"]
