"""``mlplab serve``: the web playground under uvicorn (127.0.0.1 unless told otherwise).

Bound to anything but loopback, the server requires an access token: ``--token``, or a fresh
one printed in the URL (as Jupyter does). Every request without it gets 403.
"""

from __future__ import annotations

from typing import Annotated

import typer

Opt = typer.Option


def serve(
    host: Annotated[str, Opt(help="interface to bind; 0.0.0.0 exposes it to the network "
                             "(then a token is required)")] = "127.0.0.1",
    port: Annotated[int, Opt(help="TCP port")] = 8000,
    token: Annotated[str | None, Opt(help="access token to require (default: none on "
                                     "loopback, a fresh random one on other interfaces)")] = None,
    open_browser: Annotated[bool, Opt("--open", help="open the page in a browser")] = False,
    max_sessions: Annotated[int, Opt(help="concurrent training sessions")] = 32,
    max_per_client: Annotated[int, Opt(help="concurrent sessions from one address")] = 8,
    max_epochs: Annotated[int, Opt(help="epochs after which every run stops")] = 100_000,
) -> None:
    """Start the web playground: train real PyTorch MLPs live in the browser."""
    import threading
    import webbrowser

    import uvicorn

    from mlplab.errors import ConfigError
    from mlplab.web import Limits, create_app
    from mlplab.web.access import needs_token, new_token, page_url

    if not 0 < port < 65536:
        raise ConfigError("bad --port", expected="1..65535", found=str(port))
    for name, v in (("--max-sessions", max_sessions), ("--max-per-client", max_per_client),
                    ("--max-epochs", max_epochs)):
        if v < 1:
            raise ConfigError(f"bad {name}", expected=">= 1", found=str(v))
    if token is not None and len(token) < 8:
        raise ConfigError("bad --token", expected="at least 8 characters",
                          hint="or leave it out to get a random one")
    if token is None and needs_token(host):
        token = new_token()
    limits = Limits(max_sessions=max_sessions, max_per_client=max_per_client,
                    max_epochs=max_epochs)
    url = page_url(host, port, token)
    print(f"mlplab playground on {url}  (Ctrl-C to stop)", flush=True)
    if token is not None:
        print("anyone with this URL can use the playground: share it only with your class",
              flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(create_app(limits, token=token), host=host, port=port, log_level="warning",
                ws_max_size=limits.max_message_bytes * 2)


def register(app: typer.Typer) -> None:
    app.command()(serve)
