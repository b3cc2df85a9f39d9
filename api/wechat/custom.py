"""The customer-service message API (客服消息): deliver an answer that missed the 5-second window.

``GET  {base}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` → ``{"access_token", "expires_in"}``
``POST {base}/cgi-bin/message/custom/send?access_token=…`` with ``{"touser", "msgtype": "text", "text"}``.
The token is cached until shortly before it expires, and fetched again when WeChat says it is invalid. Every
fetch invalidates the token before it, for every process of the account: so the token lives in the shared
state store (``rag/state``), one process fetches at a time (a claim in the store), and the others use the
token it stored.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx

from rag.state import StateStore, open_state_store

log = logging.getLogger("planqa.wechat")

_TOKEN_ERRORS = {40001, 40014, 42001}  # invalid, malformed or expired access_token
_MARGIN = 300  # seconds: refresh this long before WeChat's expiry
_POLL_S = 0.1  # how often a process waiting for another's fetch looks for the new token


class CustomServiceError(Exception):
    pass


class CustomService:
    def __init__(
        self, base_url: str, appid: str, appsecret: str, timeout: float = 10.0, store: StateStore | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid, self._secret, self.timeout = appid, appsecret, timeout
        self.store = store or open_state_store("memory")
        self._token_key, self._fetch_key = f"wx-token:{appid}", f"wx-token-fetch:{appid}"
        # This process's senders queue here rather than each polling the store while one of them fetches.
        self._lock = asyncio.Lock()

    async def _access_token(self, client: httpx.AsyncClient, rejected: str | None = None) -> str:
        """The stored token, or a new one when there is none, it has expired, or it is ``rejected`` (WeChat said
        it is invalid). Only the token that was rejected is replaced: senders — of any process — that waited
        while another replaced it use the new one, rather than each fetching another (every fetch invalidates
        the token before it)."""
        async with self._lock:
            while True:
                stored = self._stored()
                if stored is not None and stored != rejected:
                    return stored
                if self.store.add(self._fetch_key, "fetching", self.timeout * 2):
                    try:
                        stored = self._stored()  # another process may have stored one since the look above
                        if stored is not None and stored != rejected:
                            return stored
                        return await self._fetch(client)
                    finally:
                        self.store.delete(self._fetch_key)
                # Another process is fetching (its claim lapses by itself if that process dies meanwhile).
                await asyncio.sleep(_POLL_S)

    def _stored(self) -> str | None:
        text = self.store.get(self._token_key)
        return str(json.loads(text)["token"]) if text is not None else None

    async def _fetch(self, client: httpx.AsyncClient) -> str:
        r = await client.get(
            f"{self.base_url}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
        )
        data = r.json()
        if "access_token" not in data:
            raise CustomServiceError(
                f"获取access_token失败：{data.get('errcode')} {data.get('errmsg')}。"
                "Could not get an access token: check PLANQA_WECHAT_APPID, PLANQA_WECHAT_APPSECRET and the "
                "server's IP in the console's IP allowlist."
            )
        token = str(data["access_token"])
        lifetime = max(60, int(data.get("expires_in", 7200)) - _MARGIN)
        self.store.set(self._token_key, json.dumps({"token": token}), lifetime)
        return token

    async def send_text(self, openid: str, content: str) -> None:
        payload: dict[str, object] = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        rejected: str | None = None
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for _ in range(2):
                token = await self._access_token(client, rejected)
                r = await client.post(
                    f"{self.base_url}/cgi-bin/message/custom/send",
                    params={"access_token": token},
                    content=_json(payload),
                    headers={"content-type": "application/json; charset=utf-8"},
                )
                data = r.json()
                code = int(data.get("errcode", 0))
                if code == 0:
                    return
                if code not in _TOKEN_ERRORS:
                    break
                log.info("access token rejected, fetching a new one", extra={"errcode": code})
                rejected = token
        raise CustomServiceError(f"客服消息发送失败：{data.get('errcode')} {data.get('errmsg')}")


def _json(payload: dict[str, object]) -> bytes:
    # WeChat shows \uXXXX escapes literally: send the characters themselves.
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
