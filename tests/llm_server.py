"""The local LLM for tests marked ``llm``: llama-cpp-python's OpenAI-compatible server on loopback.

The model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) is assembled by ``scripts/fetch_llm_model.py`` into
``~/.cache/planqa/models`` (``make test`` does it); the server is ``pip install '.[llm-server]'``. Skip these
tests locally with ``pytest -m "not llm"``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port
from tests.servers import stop_server as stop

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_NAME = "qwen2.5-coder-1.5b-instruct"


def model_path() -> Path:
    base = os.environ.get("PLANQA_MODEL_CACHE") or Path.home() / ".cache" / "planqa" / "models"
    return Path(base) / MODEL_FILE


@pytest.fixture(scope="session")
def llm_server() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:N/v1``) of a llama.cpp server holding the test model, for the session."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(
            "llama-cpp-python is not installed: run `make test` or pip install -e '.[llm-server]' "
            "(or skip these tests: pytest -m 'not llm')"
        )
    path = model_path()
    if not path.is_file() or path.stat().st_size != MODEL_SIZE:
        pytest.fail(
            f"the test model is missing at {path}: run `python scripts/fetch_llm_model.py` "
            "(or skip these tests: pytest -m 'not llm')"
        )
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(path),
        "--model_alias",
        MODEL_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--verbose",
        "false",
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: see {log.name}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 180 s: see {log.name}")
            time.sleep(0.5)
        yield url
    finally:
        stop(proc)
        log.close()
