"""Property tests of the plan library's routes (api/routes/library.py, and the ``plan`` parameter elsewhere) on the
real app over a real plans folder (青山 2022 and 2023, indexed at start-up with the real model).

Whatever a client sends — unknown ids, ids with path tricks (``..``, ``%2e%2e``, slashes, upper case, Chinese,
over 64 characters), unknown units, wrong formats, and uploads that are random bytes, text in a wrong encoding
(UTF-16, UTF-32, Latin-1), no plan at all, oversized, with hostile file names, bad ids or metadata, without or with a
wrong admin key — the answer is never a 5xx: a 2xx for a request that names what exists, otherwise a 4xx whose
message is in Chinese and in English. A refused upload changes nothing: not a file of the plans folder (names,
sizes, times), not a file of the index folder, not the plans served.

Bounded and derandomised (``PROPS``), like tests/api/test_wechat_properties.py, so CI runs the same cases.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.edge import UPLOAD_BODY_BYTES
from api.main import create_app
from config.settings import ROOT, Settings
from index.readers import MAX_FILE_BYTES
from tests.plans import copy_plan

pytestmark = pytest.mark.slow
PROPS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PLANS = ROOT / "eval" / "data" / "plans"
QS22, QS23 = "qingshan-edu-2022", "qingshan-edu-2023"
ADMIN = "fuzz-admin-key"
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3}")

TRICKY_IDS = [
    "..",
    "../..",
    "../etc/passwd",
    "%2e%2e",
    "%2e%2e%2fetc",
    "qingshan-edu-2022/../qingshan-edu-2023",
    "QINGSHAN-EDU-2022",
    "qingshan-edu-2022 ",
    ".removed",
    ".library.lock",
    "-leading-dash",
    "a" * 65,
    "青山2022",
    "plans",
    "matrix.xlsx",
    "nope",
    "\x00",
    "qingshan-edu-2022%00",
]
PLAN_IDS = st.one_of(st.sampled_from(TRICKY_IDS + [QS22, QS23]), st.text(min_size=1, max_size=80))
UNITS = st.one_of(
    st.sampled_from(["基础教育科", "基教科", "督导室", "..", "../..", "不存在的科", "x" * 60]), st.text(max_size=60)
)
FILE_NAMES = st.one_of(
    st.sampled_from(
        [
            "../../escape.txt",
            "/etc/passwd",
            "..\\..\\plan.txt",
            "plan.exe",
            "plan",
            ".meta.json",
            f"{QS22}.meta.json",
            ".hidden.txt",
            "计划.txt",
            "plan.docx",
            "plan.pdf",
            "plan.html",
            "a\x00b.txt",
            "x" * 300 + ".txt",
        ]
    ),
    st.text(max_size=40).map(lambda s: s + ".txt"),
)
TEXT = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs", "Cc")), min_size=1, max_size=400)
NOT_A_PLAN = st.one_of(
    st.binary(max_size=2000),
    TEXT.map(lambda s: s.encode("utf-8")),
    st.tuples(TEXT, st.sampled_from(["utf-16", "utf-32", "utf-16-be"])).map(lambda p: p[0].encode(p[1])),
    st.just(b""),
    st.just(b"PK\x03\x04" + b"\x00" * 200),  # the head of a .zip (.docx) and nothing else
    st.just(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
    st.just("<html><body><p>通知</p></body></html>".encode()),
)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path, Path]]:
    root = tmp_path_factory.mktemp("fuzz-library")
    folder, index_dir = root / "plans", root / "index"
    folder.mkdir()
    for plan_id in (QS22, QS23):
        copy_plan(PLANS / f"{plan_id}.txt", folder)
    lib_settings = Settings(
        plans=folder,
        index_dir=index_dir,
        admin_api_keys=ADMIN,
        current_year=2023,
        rate_limit_per_ip=0,
        rate_limit_per_key=0,
    )
    with TestClient(create_app(lib_settings)) as client:
        yield client, folder, index_dir


def _state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            st_ = path.stat()
            out[str(path.relative_to(root))] = (st_.st_size, st_.st_mtime_ns)
    return out


def _check_refusal(r, what: str) -> None:  # type: ignore[no-untyped-def]
    """A 4xx, with a JSON error whose message says it in Chinese and in English."""
    assert 400 <= r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    message = r.json()["error"]["message"]
    assert CJK.search(message) and LATIN.search(message), f"{what}: {message}"


def _check(r, what: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        _check_refusal(r, what)


def _seg(text: str, raw: bool) -> str:
    """A path segment as a careless client (raw: the text as is, ``..`` and ``/`` included) or a careful one
    (percent-encoded) sends it. Text no client can put in a URL (control characters, ``?``, ``#``) is encoded."""
    sendable = all(c.isprintable() and c not in "?#" for c in text)
    return text if raw and sendable else quote(text, safe="")


@PROPS
@given(a=PLAN_IDS, b=PLAN_IDS, unit=UNITS, fmt=st.sampled_from(["xlsx", "csv", "pdf", "XLSX", ""]), raw=st.booleans())
def test_reading_routes_never_fail_and_refuse_in_both_languages(
    library, a: str, b: str, unit: str, fmt: str, raw: bool
) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = library
    paths = [
        f"/plans/{_seg(a, raw)}",
        f"/plans/{_seg(a, raw)}/diff/{_seg(b, raw)}",
        f"/plans/{_seg(a, raw)}/matrix.{fmt}",
        f"/plans/{_seg(a, raw)}/units/{_seg(unit, raw)}/duties",
    ]
    for path in paths:
        _check(client.get(path), path)
    for route in ("/tasks", "/units"):
        _check(client.get(route, params={"plan": a}), f"{route}?plan={a!r}")
    _check(client.post("/ask", json={"question": "谁负责近视防控？", "plan": a}), f"/ask plan={a!r}")
    _check(client.get("/search", params={"q": "近视防控", "plan": a}), f"/search plan={a!r}")


def test_known_ids_and_path_tricks(library) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = library
    one = client.get(f"/plans/{QS22}")
    assert one.status_code == 200 and one.json()["id"] == QS22 and one.json()["tasks"] == 30
    assert client.get(f"/plans/{QS23}").json()["default"] is True
    assert client.get("/plans/matrix.xlsx").status_code == 200  # the whole library's workbook, not a plan id
    assert client.get(f"/plans/{QS22}/matrix.csv").status_code == 200
    for trick in ("..%2f..%2fetc%2fpasswd", "%2e%2e", f"{QS22}%2f..%2f{QS23}", "QINGSHAN-EDU-2022"):
        for path in (f"/plans/{trick}", f"/plans/{trick}/matrix.xlsx", f"/plans/{QS22}/diff/{trick}"):
            r = client.get(path)
            assert r.status_code in (404, 422), (path, r.status_code)
            _check_refusal(r, path)
    r = client.get("/plans/nope")
    assert r.status_code == 404 and QS22 in r.json()["error"]["message"]  # says which plans there are


@PROPS
@given(
    data=NOT_A_PLAN,
    name=FILE_NAMES,
    plan_id=st.one_of(st.none(), PLAN_IDS),
    year=st.one_of(st.none(), st.integers(min_value=-(10**12), max_value=10**12)),
    title=st.one_of(st.none(), st.text(max_size=300)),
    key=st.sampled_from([ADMIN, None, "wrong-key", ADMIN + " "]),
    replace=st.booleans(),
)
def test_a_refused_upload_changes_nothing(library, data, name, plan_id, year, title, key, replace) -> None:  # type: ignore[no-untyped-def]
    client, folder, index_dir = library
    before = (_state(folder), _state(index_dir), client.get("/plans").json())
    form = {
        k: str(v) for k, v in {"id": plan_id, "year": year, "title": title, "replace": replace}.items() if v is not None
    }
    headers = {"authorization": f"Bearer {key}"} if key is not None else {}
    try:
        r = client.post("/plans", files={"file": (name, data)}, data=form, headers=headers)
    except Exception as e:  # noqa: BLE001  the client refused to encode the form (a NUL in a header value)
        assert "\x00" in name or any("\x00" in v for v in form.values()), e
        return
    _check_refusal(r, f"upload {name!r} ({len(data)} bytes) id={plan_id!r}")
    assert (_state(folder), _state(index_dir), client.get("/plans").json()) == before


def test_oversized_uploads_are_refused_before_anything_is_written(library) -> None:  # type: ignore[no-untyped-def]
    client, folder, index_dir = library
    before = (_state(folder), _state(index_dir))
    admin = {"authorization": f"Bearer {ADMIN}"}
    plan = (PLANS / f"{QS23}.txt").read_bytes()
    # Over the usual body limit without an admin key: refused at the edge, unread.
    r = client.post("/plans", files={"file": ("big.txt", plan + b"\n" * 70_000)})
    assert r.status_code == 413
    _check_refusal(r, "big upload without a key")
    # A plan file one byte over the file limit (the request is within the upload limit): refused by the route.
    r = client.post("/plans", files={"file": ("huge.txt", b"1" * (MAX_FILE_BYTES + 1))}, headers=admin)
    assert r.status_code == 413 and r.json()["error"]["code"] == "plan_too_large"
    _check_refusal(r, "file over the limit")
    # A request over the upload limit, even with the key: refused at the edge.
    r = client.post("/plans", files={"file": ("huger.txt", b"1" * UPLOAD_BODY_BYTES)}, headers=admin)
    assert r.status_code == 413
    _check_refusal(r, "request over the upload limit")
    assert (_state(folder), _state(index_dir)) == before


def test_a_real_plan_over_64_kib_uploads_and_a_hostile_name_stays_in_the_folder(library) -> None:  # type: ignore[no-untyped-def]
    """A plan as large as a .docx or .pdf usually is (here: text padded past the 64 KiB request limit) uploads
    with an admin key; a file name with ``../`` lands in the plans folder under its id, nowhere else."""
    client, folder, _ = library
    admin = {"authorization": f"Bearer {ADMIN}"}
    outside = folder.parent / "escaped.txt"
    plan = (PLANS / f"{QS23}.txt").read_bytes() + b"\n" * 70_000
    r = client.post("/plans", files={"file": ("../escaped.txt", plan)}, headers=admin)
    assert r.status_code == 201, r.text
    added = r.json()["plan"]["id"]
    assert not outside.exists() and (folder / f"{added}.txt").exists()
    assert client.post("/ask", json={"question": "谁负责近视防控？", "plan": added}).status_code == 200
    assert client.delete(f"/plans/{added}", headers=admin).status_code == 204
    assert client.get(f"/plans/{added}").status_code == 404
    assert not (folder / f"{added}.txt").exists() and list((folder / ".removed").glob(f"{added}-*/{added}.txt"))
