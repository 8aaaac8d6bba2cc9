"""``mlplab serve``: the web playground under uvicorn (127.0.0.1 unless told otherwise)."""

from __future__ import annotations

from typing import Annotated

import typer

Opt = typer.Option


def serve(
    host: Annotated[str, Opt(help="interface to bind; 0.0.0.0 exposes it to the network")] = "127.0.0.1",  # noqa: E501
    port: Annotated[int, Opt(help="TCP port")] = 8000,
    open_browser: Annotated[bool, Opt("--open", help="open the page in a browser")] = False,
    max_sessions: Annotated[int, Opt(help="concurrent training sessions")] = 32,
) -> None:
    """Start the web playground: train real PyTorch MLPs live in the browser."""
    import threading
    import webbrowser

    import uvicorn

    from mlplab.errors import ConfigError
    from mlplab.web import Limits, create_app

    if not 0 < port < 65536:
        raise ConfigError("bad --port", expected="1..65535", found=str(port))
    if max_sessions < 1:
        raise ConfigError("bad --max-sessions", expected=">= 1", found=str(max_sessions))
    limits = Limits(max_sessions=max_sessions)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"mlplab playground on {url}  (Ctrl-C to stop)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(create_app(limits), host=host, port=port, log_level="warning",
                ws_max_size=limits.max_message_bytes * 2)


def register(app: typer.Typer) -> None:
    app.command()(serve)
