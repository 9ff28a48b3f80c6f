"""Running the app with uvicorn: ``serve(config)`` in the foreground (``bark-omni serve``), or
``ServerThread(app)`` on a free loopback port in a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

from .config import ServeConfig


def serve(config: ServeConfig) -> None:
    """Serve until SIGINT/SIGTERM; on shutdown uvicorn stops accepting connections, the queue drains for
    ``config.drain_timeout_s`` and whatever is still waiting is answered with a 503."""
    import uvicorn

    from .app import create_app

    app = create_app(config, warm_up=True)
    print(f"bark-omni serve: model {config.model} on http://{config.host}:{config.port} "
          f"({'API keys required' if config.api_keys else 'no API keys: loopback only'})", file=sys.stderr)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning",
                timeout_graceful_shutdown=int(config.drain_timeout_s) + 1)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerThread:
    """``with ServerThread(app) as url: ...``: uvicorn on a free loopback port in a thread, stopped on exit."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None, timeout_s: float = 60.0) -> None:
        import uvicorn

        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=30))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="bark-omni-serve")
        self.timeout_s = timeout_s

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(self.timeout_s)
