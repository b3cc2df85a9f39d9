"""The server never loads LangChain: its embeddings are plain classes, and the optional LLM's client (openai,
LangChain prompts) loads only when an LLM is configured. LangChain costs a server process ≈ 0.1 s of start-up
and 7–8 MiB; the LangChain interface is ``PlanQAEmbeddings.as_langchain()``, for LangChain users."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import ROOT
from index.store import PlanIndex
from tests.conftest import with_own_state

pytestmark = pytest.mark.slow

# In a fresh interpreter: import the wiring and the app factory, start the app as uvicorn does (lifespan: the
# index loads), answer a question, then list the LangChain and openai modules loaded on the way.
SERVE = """
import json, sys
import config.wiring
from api.main import app_factory
from fastapi.testclient import TestClient

with TestClient(app_factory()) as client:
    ready = client.get("/ready").status_code
    reply = client.post("/ask", json={"question": "谁负责近视防控?"}).json()
print(json.dumps({"ready": ready, "task": reply["citations"][0]["task"],
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("langchain_core", "openai"))}))
"""


def serve_once(index_dir: Path) -> dict[str, object]:
    llm_off = {k: v for k, v in os.environ.items() if not k.startswith("PLANQA_LLM")}
    env = {**llm_off, **with_own_state({"PLANQA_INDEX_DIR": str(index_dir), "PLANQA_REBUILD_INDEX": "false"})}
    run = subprocess.run([sys.executable, "-c", SERVE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_serving_a_question_loads_no_langchain(index_dir: Path, plan_index: PlanIndex) -> None:
    seen = serve_once(index_dir)
    assert seen["ready"] == 200 and seen["task"] == 8  # the app really started and answered
    assert seen["loaded"] == []
