"""Small servers of our own on 127.0.0.1 for the tests: a listener that hands each
connection to a function, and on it a CONNECT proxy that records each request's head and
tunnels every CONNECT to one fixed port (whatever it names), or answers with `answer`."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class ConnectProxy:
    port: int
    heads: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _pipe(a: socket.socket, b: socket.socket, stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while not stop.is_set():
            ready, _, _ = select.select([a, b], [], [], 0.1)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)


@contextlib.contextmanager
def loopback_listener(
    handle: Callable[[socket.socket, threading.Event], None], *, threaded: bool = False
) -> Iterator[int]:
    """A listener on 127.0.0.1 that hands each connection to `handle(conn, stop)` (on a
    thread of its own when `threaded`) until the block ends; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if threaded:
                threading.Thread(target=handle, args=(conn, stop), daemon=True).start()
            else:
                handle(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(6)
        listener.close()


@contextlib.contextmanager
def connect_proxy(
    tunnel_to: int,
    answer: bytes | None = None,
    *,
    drip_s: float = 0.0,
    established: bytes = b"HTTP/1.1 200 Connection established\r\n\r\n",
) -> Iterator[ConnectProxy]:
    """`answer` instead of a tunnel, sent a byte every `drip_s` seconds when that is set;
    otherwise `established`, then the tunnel."""
    heads: list[bytes] = []

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                heads.append(head)
                if answer is not None and drip_s:
                    for byte in answer:
                        if stop.wait(drip_s):
                            return
                        conn.sendall(bytes([byte]))
                    return
                if answer is not None:
                    conn.sendall(answer)
                    return
                with socket.create_connection(("127.0.0.1", tunnel_to), timeout=5) as up:
                    conn.sendall(established)
                    _pipe(conn, up, stop)

    with loopback_listener(handle, threaded=True) as port:
        yield ConnectProxy(port, heads)
