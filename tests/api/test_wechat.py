"""The WeChat channel, checked against wechatpy playing the platform's side.

wechatpy (an implementation we did not write) signs and encrypts what "WeChat" sends and decrypts and parses
what we reply. Answers come from the real engine over the real index; the only stand-in is WeChat's
customer-service API, as a real HTTP server on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import xmltodict
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from wechatpy.crypto import PrpCrypto as PeerPrpCrypto
from wechatpy.enterprise.crypto import PrpCrypto as PeerWorkPrpCrypto
from wechatpy.exceptions import InvalidSignatureException

from api.deps import ServiceDep
from api.main import create_app
from api.security import TokenBuckets
from api.wechat import replies as T
from api.wechat.crypto import DecryptError, MessageCrypto, ReceiverError, SignatureError, pad, unpad
from api.wechat.custom import CustomService
from api.wechat.routes import get_answerer
from api.wechat.xml import Inbound, parse_fields
from config.wiring import build_service
from index.model import Plan
from index.store import PlanIndex, build_index
from rag.caches import BoundedCache
from rag.service import Channel
from rag.state import StateStoreConfig, open_state_store
from tests.api.wechat_peer import (
    ACCOUNT,
    AES_KEY,
    APPID,
    CORPID,
    TOKEN,
    Platform,
    inbound,
    sign,
    wechat_settings,
)
from tests.conftest import start_server, stop_server


@pytest.fixture()
def make_client(index_dir: Path, plan_index: PlanIndex) -> Iterator[Callable[..., TestClient]]:
    """A fresh app (fresh caches) sharing the session's index; keyword arguments override settings."""
    opened: list[TestClient] = []

    def make(index: PlanIndex = plan_index, answerer: Callable[..., object] | None = None, **overrides: object):  # type: ignore[no-untyped-def]
        settings = wechat_settings(index_dir, **overrides)
        app = create_app(settings, service=build_service(settings, index))
        if answerer is not None:
            app.dependency_overrides[get_answerer] = answerer
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture()
def platform(make_client: Callable[..., TestClient]) -> Platform:
    return Platform(make_client())


def wrap(
    calls: list[str], delay: float = 0.0, answered: threading.Event | None = None
) -> Callable[..., Callable[[str], object]]:
    """An override for the ``get_answerer`` dependency: the real answerer, counted and optionally slow;
    ``answered`` is set once it has returned."""

    def override(service: ServiceDep) -> Callable[[str, str, Channel], object]:
        real = get_answerer(service)

        def answerer(question: str, user: str, channel: Channel) -> object:
            calls.append(question)
            time.sleep(delay)
            try:
                return real(question, user, channel)
            finally:
                if answered is not None:
                    answered.set()

        return answerer

    return override


# --- the protocol, against wechatpy's published known-answer vectors and wechatpy itself -----------------

KAT_TOKEN, KAT_KEY, KAT_ID = "123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a"


def test_known_answer_vectors_from_wechatpy_tests() -> None:
    ours = MessageCrypto(KAT_TOKEN, KAT_KEY, KAT_ID)
    # test_encrypt_message: fixed random prefix "1234567890123456" → a fixed Encrypt and MsgSignature.
    reply = (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n"
        "<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>"
    )
    encrypted = ours.encrypt(reply, random=b"1234567890123456")
    assert encrypted == (
        "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtOb"
        "vesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8"
        "NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O"
        "5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
    )
    assert ours.sign("1411525903", "461056294", encrypted) == "407518b7649e86ef23978113f92d27afa9296533"
    # test_decrypt_message: a signed ciphertext → a message from "messense" saying "test".
    cipher = (
        "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymz"
        "xh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIi"
        "OAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvc"
        "cTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
    )
    plain = xmltodict.parse(ours.open("74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294", cipher))
    assert plain["xml"]["Content"] == "test" and plain["xml"]["FromUserName"] == "messense"
    # test_check_signature_should_ok / _should_fail: the WeCom echostr.
    echo = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
    assert ours.open("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374425", echo).isdigit()
    with pytest.raises(SignatureError):
        ours.open("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374424", echo)


@pytest.mark.parametrize("size", [0, 1, 11, 12, 43, 44, 1000])
def test_crypto_round_trips_with_wechatpy_across_block_boundaries(size: int) -> None:
    # 16 + 4 + size + 18 (the AppID) bytes: sizes 12 and 44 land exactly on a 32-byte boundary (a full pad block).
    message = ("学" * size)[: size // 3] + "x" * (size - 3 * (size // 3))
    assert len(message.encode()) == size
    ours = MessageCrypto(TOKEN, AES_KEY, APPID)
    peer = PeerPrpCrypto(base64.b64decode(AES_KEY + "="))
    assert peer.decrypt(ours.encrypt(message), APPID) == message
    assert ours.decrypt(peer.encrypt(message, APPID).decode()) == message


def test_padding_goes_up_to_32_and_is_checked() -> None:
    assert pad(b"a" * 32) == b"a" * 32 + bytes([32]) * 32
    assert pad(b"a" * 31) == b"a" * 31 + b"\x01"
    assert unpad(pad(b"abc")) == b"abc"
    for bad in (b"abc\x00", b"abc\x21", b"x" * 30 + b"\x01\x02"):
        with pytest.raises(DecryptError):
            unpad(bad)


def test_wrong_receiver_and_wrong_key_are_refused() -> None:
    ours = MessageCrypto(TOKEN, AES_KEY, APPID)
    peer = PeerPrpCrypto(base64.b64decode(AES_KEY + "="))
    with pytest.raises(ReceiverError):
        ours.decrypt(peer.encrypt("<xml/>", "wxanotherapp0000").decode())
    other = MessageCrypto(TOKEN, base64.b64encode(os.urandom(32)).decode()[:-1], APPID)
    with pytest.raises((DecryptError, ReceiverError)):
        other.decrypt(ours.encrypt("<xml/>"))


# --- routes -------------------------------------------------------------------------------------------


def test_routes_are_404_without_a_token(client: TestClient) -> None:
    for path in ("/wechat", "/wecom"):
        assert client.get(path, params={"echostr": "x"}).status_code == 404
        assert client.post(path, content=inbound("u", Content="谁负责近视防控")).status_code == 404


def test_handshake_good_and_bad(platform: Platform) -> None:
    params = platform.params()
    r = platform.client.get("/wechat", params={**params, "echostr": "4815162342"})
    assert r.status_code == 200 and r.text == "4815162342"
    forged = {
        **params,
        "signature": sign("wrong-token", params["timestamp"], params["nonce"]),
        "echostr": "1",
    }
    assert platform.client.get("/wechat", params=forged).status_code == 403
    assert platform.client.get("/wechat", params={"echostr": "1"}).status_code == 403


def test_replayed_request_is_refused(platform: Platform) -> None:
    old = int(time.time()) - 6 * 60  # correctly signed, but captured more than 5 minutes ago
    r = platform.client.get("/wechat", params={**platform.params(old), "echostr": "1"})
    assert r.status_code == 403
    assert platform.post_aes(inbound("replayer", Content="谁负责近视防控"), timestamp=old).status_code == 403


def _deliveries(path: str) -> float:
    return REGISTRY.get_sample_value("planqa_wechat_deliveries_total", {"channel": "wechat", "path": path}) or 0.0


def test_plaintext_round_trip(platform: Platform) -> None:
    passive = _deliveries("passive")
    r = platform.post_plain(inbound("teacher-plain", Content="谁负责近视防控?"))
    assert _deliveries("passive") == passive + 1
    reply = platform.open_reply(r)
    assert reply.type == "text" and reply.source == ACCOUNT and reply.target == "teacher-plain"
    # lead unit and task first, then the excerpt
    assert reply.content.index("第8项") < reply.content.index("体卫艺科（牵头）") < reply.content.index("原文")
    assert "近视防控" in reply.content.split("原文")[1]


def test_follow_up_resolves_against_the_senders_previous_question(platform: Platform) -> None:
    first = platform.ask("teacher-follow", "课后服务归哪个科室管?")
    assert "第12项" in first
    follow = platform.ask("teacher-follow", "那它的牵头单位是谁?")
    assert "第12项" in follow and "基教科" in follow
    # Another teacher's follow-up has nothing to resolve against: it is not answered from teacher-follow's turn.
    assert "第12项" not in platform.ask("teacher-other", "那它的牵头单位是谁?")


def test_an_api_caller_cannot_read_or_steer_a_wechat_users_conversation(platform: Platform) -> None:
    """/ask takes any conversation id; one that names a WeChat user's OpenID (however written) is another
    conversation: it reveals nothing of the teacher's last question and does not change it."""
    teacher = "oTeacherPrivate01"
    assert "第12项" in platform.ask(teacher, "课后服务归哪个科室管?")
    for conversation in (teacher, f"wechat:{teacher}", f"wx:{teacher}"):
        probe = {"question": "这项任务的原文", "conversation_id": conversation}
        body = platform.client.post("/ask", json=probe).json()
        assert body["follow_up"] == "none" and "第12项" not in body["answer"], body
        steer = {"question": "第1项任务是什么", "conversation_id": conversation}
        assert platform.client.post("/ask", json=steer).json()["citations"][0]["task"] == 1
    follow = platform.ask(teacher, "那它的牵头单位是谁?")
    assert "第12项" in follow and "基教科" in follow


def test_fact_answer_leads_with_units_and_task(platform: Platform) -> None:
    text = platform.ask("teacher-fact", "大班额比例控制在多少")
    head, _, excerpt = text.partition("\n原文：")
    assert head.startswith("第") and "（牵头）" in head and "大班额" in excerpt


def test_bad_signature_and_bad_bodies_get_4xx(platform: Platform) -> None:
    c = platform.client
    params = platform.params()
    forged = {**params, "signature": "0" * 40}
    # a bad signature is refused before the body is looked at: garbage gets 403, not a parse error
    assert c.post("/wechat", params=forged, content=b"<not xml").status_code == 403
    assert c.post("/wechat", params=platform.params(), content=b"<not xml").status_code == 400
    assert c.post("/wechat", params=platform.params(), content=b"<html><body/></html>").status_code == 400
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<xml><Content>&b;</Content></xml>"
    )
    assert c.post("/wechat", params=platform.params(), content=bomb).status_code == 400
    assert c.post("/wechat", params=platform.params(), content=b"<xml><Content>x</Content></xml>").status_code == 400
    huge = inbound("u", Content="谁" * 30_000).encode()  # 90 kB
    assert len(huge) > 64 * 1024
    assert c.post("/wechat", params=platform.params(), content=huge).status_code == 413


def test_safe_mode_round_trip_and_checks(platform: Platform) -> None:
    r = platform.post_aes(inbound("teacher-aes", Content="课后服务归哪个科室管?"))
    reply = platform.open_reply(r, platform.oa)
    assert reply.target == "teacher-aes" and "基教科（牵头）" in reply.content
    # the msg_signature over Encrypt is checked too
    params = platform.params()
    envelope = platform.oa.encrypt_message(inbound("u", Content="x"), params["nonce"], params["timestamp"])
    bad = {**params, "encrypt_type": "aes", "msg_signature": "f" * 40}
    assert platform.client.post("/wechat", params=bad, content=envelope.encode()).status_code == 403
    # a message encrypted for another AppID is refused
    other = Platform(platform.client, appid="wxanotherapp0000")
    assert other.post_aes(inbound("u", Content="谁负责近视防控")).status_code in (400, 403)


def test_safe_mode_takes_encrypted_messages_only(make_client: Callable[..., TestClient]) -> None:
    """With an EncodingAESKey the mode is safe unless set otherwise: a correctly signed query string (seen in a
    proxy's log, say) cannot carry a plaintext body, and an encrypted one needs its msg_signature."""
    for mode in ("", "safe"):
        platform = Platform(make_client(wechat_mode=mode))
        forged = platform.post_plain(inbound("teacher-safe", Content="这项任务的原文"))
        assert forged.status_code == 403, forged.text
        message = forged.json()["error"]["message"]
        assert "安全模式只接受加密消息" in message and "PLANQA_WECHAT_MODE" in message
        for downgrade in ("", "raw"):
            assert platform.post_plain(inbound("t", Content="x"), encrypt_type=downgrade).status_code == 403
        params = platform.params()
        envelope = platform.oa.encrypt_message(inbound("t", Content="x"), params["nonce"], params["timestamp"])
        unsigned = {**params, "encrypt_type": "aes"}  # no msg_signature
        assert platform.client.post("/wechat", params=unsigned, content=envelope.encode()).status_code == 403
        reply = platform.open_reply(platform.post_aes(inbound("teacher-safe", Content="谁负责近视防控?")), platform.oa)
        assert "体卫艺科（牵头）" in reply.content


@pytest.mark.parametrize("mode", ["compatible", "plaintext"])
def test_a_signed_query_string_carries_one_body(make_client: Callable[..., TestClient], mode: str) -> None:
    """A plaintext message's signature does not cover its body: the query string it came with is bound to that
    body, so it cannot be reused for a forged message; WeChat's retry (the same body) is still answered."""
    platform = Platform(make_client(wechat_mode=mode))
    params = {**platform.params(), "openid": "teacher-bound"}
    genuine = inbound("teacher-bound", Content="课后服务归哪个科室管?", msg_id="6954000000000000101")
    first = platform.open_reply(platform.client.post("/wechat", params=params, content=genuine.encode()))
    retry = platform.open_reply(platform.client.post("/wechat", params=params, content=genuine.encode()))
    assert "第12项" in first.content and retry.content == first.content
    forged = inbound("teacher-bound", Content="这项任务的原文", msg_id="6954000000000000102")
    r = platform.client.post("/wechat", params=params, content=forged.encode())
    assert r.status_code == 403 and "另一条消息" in r.json()["error"]["message"]
    # The teacher's own next message, with its own signed query, is answered from their conversation.
    assert "第12项" in platform.ask("teacher-bound", "那它的牵头单位是谁?")


def test_plaintext_mode_refuses_encrypted_messages(make_client: Callable[..., TestClient]) -> None:
    platform = Platform(make_client(wechat_mode="plaintext"))
    r = platform.post_aes(inbound("teacher-p", Content="谁负责近视防控?"))
    assert r.status_code == 400 and "PLANQA_WECHAT_MODE" in r.json()["error"]["message"]
    assert "体卫艺科" in platform.ask("teacher-p", "谁负责近视防控?")


def test_a_mode_needing_a_key_is_refused_without_one(index_dir: Path) -> None:
    for mode in ("compatible", "safe"):
        with pytest.raises(ValueError, match="PLANQA_WECHAT_AES_KEY"):
            wechat_settings(index_dir, wechat_mode=mode, wechat_aes_key="")
    with pytest.raises(ValueError, match="PLANQA_WECHAT_MODE must be one of plaintext, compatible, safe"):
        wechat_settings(index_dir, wechat_mode="secure")


MALFORMED_TIMESTAMPS = ["²", "1" * 5000, "１７００００００００", "-1700000000", " 1700000000", "1e9", ""]


@pytest.mark.parametrize("timestamp", MALFORMED_TIMESTAMPS)
def test_a_malformed_timestamp_is_refused_not_a_server_error(platform: Platform, timestamp: str) -> None:
    """ASCII decimal digits of bounded length only: "²" passes str.isdigit() and then fails int(); 5,000 digits
    are more than int() converts."""
    c = platform.client
    params = {"timestamp": timestamp, "nonce": "1", "signature": "0" * 40, "msg_signature": "0" * 40}
    for r in (
        c.get("/wechat", params={**params, "echostr": "x"}),
        c.post("/wechat", params=params, content=inbound("u", Content="x").encode()),
        c.get("/wecom", params={**params, "echostr": "x"}),
        c.post("/wecom", params=params, content=b"<xml/>"),
    ):
        assert r.status_code == 403 and r.json()["error"]["code"] == "stale_request", r.text


def test_compatible_mode_body_with_plaintext_and_encrypt(platform: Platform) -> None:
    xml = inbound("teacher-compat", Content="谁负责近视防控")
    params = platform.params()
    envelope = platform.oa.encrypt_message(xml, params["nonce"], params["timestamp"])
    env = xmltodict.parse(envelope)["xml"]
    body = xml.replace("</xml>", f"<Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>")
    params.update(encrypt_type="aes", msg_signature=env["MsgSignature"])
    reply = platform.open_reply(platform.client.post("/wechat", params=params, content=body.encode()), platform.oa)
    assert "体卫艺科" in reply.content


def test_wecom_echostr_and_message(platform: Platform) -> None:
    c = platform.client
    ts, nonce = str(int(time.time())), "1385"
    echostr = PeerWorkPrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt("8523570012", CORPID).decode()
    good = {
        "msg_signature": sign(TOKEN, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }
    r = c.get("/wecom", params=good)
    assert r.status_code == 200 and r.text == "8523570012"
    # and wechatpy agrees on what the signature must be
    with pytest.raises(InvalidSignatureException):
        platform.work.check_signature("0" * 40, ts, nonce, echostr)
    assert c.get("/wecom", params={**good, "msg_signature": "0" * 40}).status_code == 403
    reply = platform.open_reply(
        platform.post_wecom(inbound("zhangsan", Content="谁负责近视防控", AgentID="1")), platform.work
    )
    assert reply.target == "zhangsan" and "体卫艺科（牵头）" in reply.content


def test_retries_are_answered_once(make_client: Callable[..., TestClient]) -> None:
    calls: list[str] = []
    platform = Platform(make_client(answerer=wrap(calls, delay=1.0)))
    xml = inbound("teacher-retry", Content="谁负责近视防控", msg_id="6954000000000000001")
    # three deliveries of one message while the first is still being answered, and one after
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: platform.open_reply(platform.post_plain(xml)).content, range(3)))
    replies.append(platform.open_reply(platform.post_plain(xml)).content)
    assert calls == ["谁负责近视防控"]
    assert len(set(replies)) == 1 and "体卫艺科" in replies[0]


def test_a_claim_whose_worker_died_lapses_and_a_retry_answers(make_client: Callable[..., TestClient]) -> None:
    """A worker that claimed a message and died (killed mid-answer) leaves its claim in the shared store; the
    claim lapses after ``claim_ttl`` (longer than any live attempt's ``budget``), and a retry then answers."""
    calls: list[str] = []
    client = make_client(answerer=wrap(calls))
    dialogue = client.app.state.wechat[Channel.WECHAT].dialogue  # type: ignore[attr-defined]
    assert dialogue.config.claim_ttl > dialogue.config.budget + 2  # a live first attempt keeps its claim
    dialogue.config = replace(dialogue.config, claim_ttl=1.0)
    msg_id = "6954000000000000009"
    assert dialogue.store.add(f"wx-seen:wechat:id:{msg_id}", "answering", dialogue.config.claim_ttl)  # the dead one
    started = time.monotonic()
    reply = Platform(client).ask("teacher-orphan", "谁负责近视防控", msg_id=msg_id)
    assert "体卫艺科" in reply and calls == ["谁负责近视防控"]
    assert 0.9 < time.monotonic() - started < dialogue.config.budget


def test_event_dedupe_key_is_user_and_time() -> None:
    a = Inbound.of(parse_fields(inbound("u1", "event", Event="subscribe", CreateTime="1700000000")))
    b = Inbound.of(parse_fields(inbound("u2", "event", Event="subscribe", CreateTime="1700000000")))
    assert (
        a.dedupe_key != b.dedupe_key
        and a.dedupe_key
        == Inbound.of(parse_fields(inbound("u1", "event", Event="subscribe", CreateTime="1700000000"))).dedupe_key
    )


def test_bounded_cache_is_bounded_and_expires() -> None:
    now = [0.0]
    cache: BoundedCache[str, int] = BoundedCache(maxsize=3, ttl=10, clock=lambda: now[0])
    for i in range(5):
        cache.put(f"k{i}", i)
    assert len(cache) == 3 and cache.get("k0") is None and cache.get("k4") == 4
    now[0] = 10.5
    assert cache.get("k4") is None and len(cache) == 0


def test_rate_limit_per_user_is_a_bucket() -> None:
    """Each user's limit is a bucket of ``limit`` questions, refilled over the window (the same buckets, in the
    shared store, as the API's limits): a burst of two, then one every 30 s."""
    now = [0.0]
    limiter = TokenBuckets(2, name="wx-wechat", window=60, clock=lambda: now[0])
    assert limiter.take("u") == 0 and limiter.take("u") == 0
    assert limiter.take("u") == pytest.approx(30) and limiter.take("v") == 0
    now[0] = 30.5
    assert limiter.take("u") == 0 and limiter.take("u") == pytest.approx(29.5)


def test_voice_subscribe_and_image(platform: Platform) -> None:
    voice = platform.open_reply(
        platform.post_plain(inbound("teacher-v", "voice", Recognition="谁负责近视防控", MediaId="m"))
    )
    assert voice.content == platform.ask("teacher-t", "谁负责近视防控")
    empty = platform.open_reply(platform.post_plain(inbound("teacher-v", "voice", Recognition="", MediaId="m")))
    assert empty.content == T.NO_VOICE_TEXT
    welcome = platform.open_reply(platform.post_plain(inbound("teacher-s", "event", Event="subscribe"))).content
    examples = [line.split(". ", 1)[1] for line in welcome.splitlines() if line[:2] in {"1.", "2.", "3."}]
    assert len(examples) == 3
    for question in examples:  # the examples must be questions the plan answers
        assert "抱歉" not in platform.ask("teacher-s", question)
    image = platform.open_reply(
        platform.post_plain(inbound("teacher-i", "image", PicUrl="http://x/y.jpg", MediaId="m"))
    )
    assert "文字" in image.content and "语音" in image.content


def test_rate_limit_says_so(platform: Platform) -> None:
    answers = [platform.ask("teacher-busy", f"第{n}项任务是什么") for n in range(1, 12)]
    assert all("责任单位" in a for a in answers[:10])
    assert "太频繁" in answers[10]
    assert "责任单位" in platform.ask("teacher-calm", "第1项任务是什么")  # other users are not affected


# --- long answers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_index(plan: Plan, embeddings, tmp_path_factory: pytest.TempPathFactory) -> PlanIndex:  # type: ignore[no-untyped-def]
    """A plan whose first task joins four real task bodies (about 5 kB), so its answer needs three messages."""
    body = "".join(plan.task(n).body for n in (6, 8, 12, 5))  # type: ignore[union-attr]
    text = "一、测试部分\n" + f"1.{body}(责任单位:基教科、计财科,各县区教育行政部门)\n" + f"2.{plan.task(7).text}\n"  # type: ignore[union-attr]
    return build_index(text, "测试计划", tmp_path_factory.mktemp("long-index"), embeddings)


def test_split_cuts_at_sentence_end_within_2048_bytes(plan: Plan) -> None:
    text = "".join(t.body for t in plan.tasks[:6])
    head, rest = T.split(text)
    assert len(head.encode()) <= T.MAX_BYTES and head.endswith(T.MORE_HINT)
    assert head.removesuffix(T.MORE_HINT)[-1] in "。；！？" and head.removesuffix(T.MORE_HINT) + rest == text
    assert T.split("短答案。") == ("短答案。", "")


def test_long_answer_is_split_and_continued(make_client: Callable[..., TestClient], long_index: PlanIndex) -> None:
    platform = Platform(make_client(index=long_index))
    parts = [platform.ask("teacher-long", "第1项任务是什么")]
    while parts[-1].endswith(T.MORE_HINT):
        assert len(parts) < 10
        parts.append(platform.ask("teacher-long", "更多"))
    assert len(parts) == 3
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert all(p.removesuffix(T.MORE_HINT)[-1] in "。；！？" for p in parts[:-1])
    whole = "".join(p.removesuffix(T.MORE_HINT) for p in parts).replace("\n", "")
    assert "责任单位：基教科（牵头）" in parts[0]
    assert long_index.plan.tasks[0].body.replace("\n", "") in whole
    assert platform.ask("teacher-long", "更多") == T.NO_MORE


# --- the 5-second window --------------------------------------------------------------------------------


def test_slow_answer_comes_with_the_next_message(make_client: Callable[..., TestClient]) -> None:
    calls: list[str] = []
    answered = threading.Event()
    platform = Platform(make_client(answerer=wrap(calls, delay=5.5, answered=answered)))
    xml = inbound("teacher-slow", Content="谁负责近视防控", msg_id="6954000000000000002")
    started = time.monotonic()
    first = platform.open_reply(platform.post_plain(xml)).content
    assert time.monotonic() - started < 5.0  # inside WeChat's window
    assert first == T.PENDING
    assert platform.open_reply(platform.post_plain(xml)).content == T.PENDING  # WeChat's retry: same reply
    assert answered.wait(60)  # the answer is composed after the window (later still on a busy machine)
    next_message = _deliveries("next_message")
    later = platform.ask("teacher-slow", "好的")
    for _ in range(50):  # the teacher writes again while it is still being laid out
        if later != T.STILL_PENDING:
            break
        time.sleep(0.1)
        later = platform.ask("teacher-slow", "好的")
    assert "体卫艺科（牵头）" in later
    assert _deliveries("next_message") == next_message + 1
    assert calls == ["谁负责近视防控"]


def test_reply_window_counts_from_the_requests_arrival(make_client: Callable[..., TestClient]) -> None:
    """Time spent before the dialogue (here a slow dependency; on a busy machine routing, the body and the
    signature) comes out of the 5 s window too, so the fallback reply still arrives inside it."""
    calls: list[str] = []
    slow_answerer = wrap(calls, delay=5.5)

    def slow_to_resolve(service: ServiceDep) -> Callable[[str, str, Channel], object]:
        time.sleep(1.0)
        return slow_answerer(service)

    platform = Platform(make_client(answerer=slow_to_resolve))
    started = time.monotonic()
    first = platform.ask("teacher-late", "谁负责近视防控")
    assert time.monotonic() - started < 5.0
    assert first == T.PENDING


class CustomServiceStandIn:
    """WeChat's token and customer-service endpoints, as a real HTTP server on 127.0.0.1.

    The first send is answered with errcode 40001 (token invalid), so the client must fetch a new token; with
    ``invalid``, every send with one of those tokens is."""

    def __init__(self, invalid: frozenset[str] = frozenset()) -> None:
        self.tokens_issued: list[dict[str, list[str]]] = []
        self.sent: list[tuple[str, dict[str, object]]] = []
        self.rejected = 0
        self.invalid = invalid
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, data: dict[str, object]) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                assert url.path == "/cgi-bin/token"
                stand_in.tokens_issued.append(parse_qs(url.query))
                self._json({"access_token": f"TOKEN{len(stand_in.tokens_issued)}", "expires_in": 7200})

            def do_POST(self) -> None:
                url = urlparse(self.path)
                assert url.path == "/cgi-bin/message/custom/send"
                token = parse_qs(url.query)["access_token"][0]
                payload = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if token in stand_in.invalid or (not stand_in.invalid and stand_in.rejected == 0):
                    stand_in.rejected += 1
                    self._json({"errcode": 40001, "errmsg": "invalid credential"})
                    return
                stand_in.sent.append((token, payload))
                self._json({"errcode": 0, "errmsg": "ok"})

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_slow_answer_goes_by_customer_service_message(make_client: Callable[..., TestClient]) -> None:
    stand_in = CustomServiceStandIn()
    try:
        calls: list[str] = []
        client = make_client(answerer=wrap(calls, delay=5.5), wechat_appsecret="s3cret", wechat_api_base=stand_in.url)
        platform = Platform(client)
        started = time.monotonic()
        r = platform.post_aes(inbound("oUser123", Content="谁负责近视防控"))
        assert time.monotonic() - started < 5.0
        assert r.status_code == 200 and r.text == "success"
        deadline = time.monotonic() + 15
        while not stand_in.sent and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(stand_in.sent) == 1
        assert _deliveries("customer_service") >= 1
        token, payload = stand_in.sent[0]
        assert payload["touser"] == "oUser123" and payload["msgtype"] == "text"
        assert "体卫艺科（牵头）" in payload["text"]["content"]  # type: ignore[index]
        # the rejected token was replaced: two tokens fetched, the second one used
        assert token == "TOKEN2" and len(stand_in.tokens_issued) == 2
        assert stand_in.tokens_issued[0]["appid"] == [APPID] and stand_in.tokens_issued[0]["secret"] == ["s3cret"]
        assert calls == ["谁负责近视防控"]
    finally:
        stand_in.close()


def test_access_token_is_cached_and_refreshed_when_rejected() -> None:
    stand_in = CustomServiceStandIn()
    try:
        service = CustomService(stand_in.url, APPID, "s3cret")

        async def send_three() -> None:
            for n in range(3):
                await service.send_text("oUser", f"第{n}条")

        asyncio.run(send_three())
        # one token, rejected once (40001) and replaced; the replacement then serves every later message
        assert len(stand_in.tokens_issued) == 2
        assert [t for t, _ in stand_in.sent] == ["TOKEN2"] * 3
        assert [p["text"] for _, p in stand_in.sent] == [{"content": f"第{n}条"} for n in range(3)]
    finally:
        stand_in.close()


def test_a_rejected_token_is_replaced_once_for_all_senders() -> None:
    """Ten answers go out at once and WeChat rejects the token they all hold (40001): one new token is fetched,
    not ten (each fetch would invalidate the one before, for the other senders)."""
    stand_in = CustomServiceStandIn(invalid=frozenset({"TOKEN1"}))
    try:
        service = CustomService(stand_in.url, APPID, "s3cret")

        async def send_ten() -> None:
            await asyncio.gather(*(service.send_text(f"oUser{n}", f"第{n}条") for n in range(10)))

        asyncio.run(send_ten())
        assert len(stand_in.tokens_issued) == 2 and stand_in.rejected == 10
        assert sorted(p["touser"] for _, p in stand_in.sent) == sorted(f"oUser{n}" for n in range(10))
        assert {t for t, _ in stand_in.sent} == {"TOKEN2"}
    finally:
        stand_in.close()


def _send_from_a_process(url: str, backend: str, config: StateStoreConfig, ready: Any, users: list[str]) -> None:
    """A worker process of its own: the account's CustomService on the shared store, sending to ``users``
    at once, starting with the other processes (``ready``)."""
    service = CustomService(url, APPID, "s3cret", store=open_state_store(backend, config))
    ready.wait(60)

    async def send_all() -> None:
        await asyncio.gather(*(service.send_text(user, "答案") for user in users))

    asyncio.run(send_all())


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_workers_share_one_access_token(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Three processes send at once on one shared store, and WeChat rejects the token they all start with:
    between them they fetch two tokens (the first, then one replacement), not one or two each — every fetch
    would invalidate the others' token."""
    stand_in = CustomServiceStandIn(invalid=frozenset({"TOKEN1"}))
    url = request.getfixturevalue("redis_url") if backend == "redis" else ""
    config = StateStoreConfig(path=tmp_path / "state.sqlite3", url=url, key_prefix=f"t{uuid.uuid4().hex[:8]}:")
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(3)
    users = [[f"oUser{p}-{n}" for n in range(4)] for p in range(3)]
    workers = [ctx.Process(target=_send_from_a_process, args=(stand_in.url, backend, config, ready, u)) for u in users]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
            assert w.exitcode == 0
        assert len(stand_in.tokens_issued) == 2
        assert sorted(p["touser"] for _, p in stand_in.sent) == sorted(u for us in users for u in us)
        assert {t for t, _ in stand_in.sent} == {"TOKEN2"}
    finally:
        stand_in.close()


# --- end to end ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_end_to_end_on_a_real_server(index_dir: Path, plan_index: PlanIndex) -> None:
    env = {
        "PLANQA_INDEX_DIR": str(index_dir),
        "PLANQA_REBUILD_INDEX": "false",
        "PLANQA_WECHAT_TOKEN": TOKEN,
        "PLANQA_WECHAT_AES_KEY": AES_KEY,
        "PLANQA_WECHAT_APPID": APPID,
        "PLANQA_WECHAT_MODE": "compatible",
        "PLANQA_WECOM_TOKEN": TOKEN,
        "PLANQA_WECOM_AES_KEY": AES_KEY,
        "PLANQA_WECOM_CORPID": CORPID,
    }
    proc, url = start_server(env)
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            platform = Platform(http)
            r = http.get("/wechat", params={**platform.params(), "echostr": "e2e-echo"})
            assert r.status_code == 200 and r.text == "e2e-echo"
            aes = platform.open_reply(platform.post_aes(inbound("e2e-teacher", Content="谁负责近视防控?")), platform.oa)
            assert "第8项" in aes.content and "体卫艺科（牵头）" in aes.content
            plain = platform.open_reply(platform.post_plain(inbound("e2e-teacher", Content="基教科负责哪些任务")))
            assert "基教科参与" in plain.content
            work = platform.open_reply(
                platform.post_wecom(inbound("lisi", Content="第12项任务是什么", AgentID="1")), platform.work
            )
            assert "第12项" in work.content and "原文" in work.content
    finally:
        stop_server(proc)
