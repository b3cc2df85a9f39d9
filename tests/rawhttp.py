"""HTTP/1.1 over a bare socket, for clients that misbehave on purpose: half a request, a reset (RST) instead of
a close, a reader that leaves mid-stream. ``httpx`` would not let a test do any of these."""

from __future__ import annotations

import json
import re
import socket
import struct


def connect(url: str, source: str | None = None, timeout: float = 10) -> socket.socket:
    """A connection to ``http://host:port``, from the loopback address ``source`` when given (127.0.0.2…: another
    client, as far as the server can tell)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout, source_address=(source, 0) if source else None)


def reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN, as a client killed mid-transfer (or a proxy giving up) does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def request(method: str, path: str, body: bytes = b"", length: int | None = None) -> bytes:
    """The bytes of a request; ``length`` declares another Content-Length than the body's (half a body)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: planqa-tests\r\n"
    if method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body) if length is None else length}\r\n"
    return (head + "\r\n").encode() + body


def post_json(path: str, data: object) -> bytes:
    return request("POST", path, json.dumps(data, ensure_ascii=False).encode())


def read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    """What arrives until ``marker`` has (or the connection ends, or ``limit`` bytes)."""
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def open_stream(url: str, path: str, data: object, source: str | None = None) -> tuple[socket.socket, int, bytes]:
    """Start a server-sent-events request and read its status and headers (and, when it is a stream, its first
    event): (the socket, held open; the status; what was read)."""
    sock = connect(url, source)
    sock.sendall(post_json(path, data))
    data = read_until(sock, b"\r\n\r\n")
    status = int(data.split(b" ", 2)[1])
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    # A stream: its first event. A refusal: its whole body.
    while not (b"\n\n" in body if status == 200 else length and len(body) >= int(length.group(1))):
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return sock, status, head + b"\r\n\r\n" + body
