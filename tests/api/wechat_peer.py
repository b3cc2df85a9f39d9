"""WeChat's side of a conversation, played by wechatpy (an implementation we did not write): it signs and
encrypts what "WeChat" sends, and decrypts and parses what PlanQA replies. Shared by the WeChat tests and the
every-channel tests."""

from __future__ import annotations

import base64
import os
import time
import uuid
from pathlib import Path

import httpx
import xmltodict
from fastapi.testclient import TestClient
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto as PeerCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as PeerWorkCrypto
from wechatpy.utils import WeChatSigner

from config.settings import Settings

TOKEN = "planqa-test-token"
AES_KEY = base64.b64encode(os.urandom(32)).decode()[:-1]  # 43 characters, like the console's
APPID = "wx1234567890abcdef"
CORPID = "ww0123456789abcdef"
ACCOUNT = "gh_0123456789ab"


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def inbound(user: str, msg_type: str = "text", msg_id: str | None = None, **fields: str) -> str:
    """A message as WeChat would push it."""
    body = {
        "ToUserName": ACCOUNT,
        "FromUserName": user,
        "CreateTime": str(int(time.time())),
        "MsgType": msg_type,
        **fields,
    }
    if msg_type != "event":
        body["MsgId"] = msg_id or str(uuid.uuid4().int % 10**18)
    return "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in body.items()) + "</xml>"


class Platform:
    """WeChat's side of the conversation, done with wechatpy."""

    def __init__(self, client: TestClient | httpx.Client, appid: str = APPID) -> None:
        self.client = client
        self.oa = PeerCrypto(TOKEN, AES_KEY, appid)
        self.work = PeerWorkCrypto(TOKEN, AES_KEY, CORPID)

    def params(self, timestamp: int | None = None) -> dict[str, str]:
        ts, nonce = str(timestamp or int(time.time())), str(uuid.uuid4().int % 10**9)
        return {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}

    def post_plain(self, xml: str, **override: str) -> httpx.Response:
        return self.client.post("/wechat", params={**self.params(), "openid": "x", **override}, content=xml.encode())

    def post_aes(self, xml: str, timestamp: int | None = None) -> httpx.Response:
        params = self.params(timestamp)
        envelope = self.oa.encrypt_message(xml, params["nonce"], params["timestamp"])
        msg_signature = xmltodict.parse(envelope)["xml"]["MsgSignature"]
        params.update(encrypt_type="aes", msg_signature=msg_signature)
        return self.client.post("/wechat", params=params, content=envelope.encode())

    def post_wecom(self, xml: str) -> httpx.Response:
        ts, nonce = str(int(time.time())), "1372623149"
        envelope = self.work.encrypt_message(xml, nonce, ts)
        msg_signature = xmltodict.parse(envelope)["xml"]["MsgSignature"]
        params = {"msg_signature": msg_signature, "timestamp": ts, "nonce": nonce}
        return self.client.post("/wecom", params=params, content=envelope.encode())

    def open_reply(self, r: httpx.Response, crypto: PeerCrypto | PeerWorkCrypto | None = None):  # type: ignore[no-untyped-def]
        """The reply as wechatpy parses it (decrypting and checking its signature first when encrypted)."""
        assert r.status_code == 200, r.text
        xml = r.text
        if crypto is not None:
            env = xmltodict.parse(xml)["xml"]
            assert set(env) >= {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
            xml = crypto.decrypt_message(xml, env["MsgSignature"], env["TimeStamp"], env["Nonce"])
        return parse_message(xml)

    def ask(self, user: str, question: str, msg_id: str | None = None) -> str:
        return self.open_reply(self.post_plain(inbound(user, Content=question, msg_id=msg_id))).content


def wechat_settings(index_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "index_dir": index_dir,
        "rebuild_index": False,
        "wechat_token": TOKEN,
        "wechat_aes_key": AES_KEY,
        "wechat_appid": APPID,
        # Compatible mode takes plaintext and encrypted messages, so tests can post either (and read replies
        # without decrypting); the modes themselves are tested in test_wechat.py.
        "wechat_mode": "compatible",
        "wecom_token": TOKEN,
        "wecom_aes_key": AES_KEY,
        "wecom_corpid": CORPID,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]
