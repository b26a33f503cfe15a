"""A CONNECT proxy on 127.0.0.1 for the tests: it records each request's head and tunnels
every CONNECT to one fixed port (whatever it names), or answers with `answer` instead."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator
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
def connect_proxy(
    tunnel_to: int,
    answer: bytes | None = None,
    *,
    drip_s: float = 0.0,
    established: bytes = b"HTTP/1.1 200 Connection established\r\n\r\n",
) -> Iterator[ConnectProxy]:
    """`answer` instead of a tunnel, sent a byte every `drip_s` seconds when that is set;
    otherwise `established`, then the tunnel."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    proxy = ConnectProxy(listener.getsockname()[1])
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                proxy.heads.append(head)
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

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        stop.set()
        thread.join(5)
        listener.close()
