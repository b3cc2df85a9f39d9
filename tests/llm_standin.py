"""A slow OpenAI-compatible chat endpoint on loopback, for tests about how PlanQA holds up while an LLM takes its
time (stream limits, clients that leave mid-stream). The real model (``tests/llm_server.py``) answers in
seconds to minutes depending on the machine's load; these tests need a stream of a known, steady pace.

It streams one short sentence that cites the first task of the context it is given (``…【第N项】``), a few
characters per chunk with ``delay`` seconds between chunks, the way ``/v1/chat/completions`` streams.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_CITED = re.compile(r"计划原文：\s*【第(\d+)项】")


class SlowLLM:
    """``url`` is the base URL to give PlanQA (``…/v1``); ``active`` counts streams being answered right now,
    ``served`` the streams answered to the end and ``abandoned`` those whose reader went away."""

    def __init__(self, delay: float = 0.2, chunks: int = 10) -> None:
        self.delay, self.chunks = delay, chunks
        self.active = self.served = self.abandoned = 0
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = json.dumps({"object": "list", "data": [{"id": "slow", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["content-length"])))
                prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
                cited = _CITED.findall(prompt)
                task = cited[-1] if cited else "1"
                text = f"这项工作的主要内容见计划原文。【第{task}项】"
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                standin._count("active", 1)
                try:
                    size = max(1, len(text) // standin.chunks)
                    for start in range(0, len(text), size):
                        time.sleep(standin.delay)
                        self._event({"content": text[start : start + size]}, None)
                    self._event({}, "stop")
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    standin._count("served", 1)
                except OSError:  # PlanQA closed the stream: its reader went away
                    standin._count("abandoned", 1)
                finally:
                    standin._count("active", -1)
                self.close_connection = True

            def _event(self, delta: dict[str, object], finish: str | None) -> None:
                chunk = {
                    "id": "chatcmpl-slow",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": "slow",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _count(self, name: str, step: int) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + step)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
