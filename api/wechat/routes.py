"""``GET/POST /wechat`` (Official Account, 公众号) and ``GET/POST /wecom`` (WeCom self-built app, 企业微信).

Order of checks on every request: configured (else 404), body size, timestamp fresh, signature, and only
then parse or decrypt. Replies go out as passive XML replies, encrypted when the request was. The two
accounts share every step; they differ only in how the URL is verified and in whether plaintext is allowed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.deps import ServiceDep
from api.errors import ApiError
from api.schemas import OpenAPIResponses, error_responses
from api.wechat.accounts import Account, Mode
from api.wechat.crypto import MessageCrypto, SignatureError, WeChatError, check_signature, fresh
from api.wechat.dialogue import Answerer
from api.wechat.xml import Inbound, encrypted_reply, parse_fields, text_reply
from rag.service import Channel, Reply

router = APIRouter(tags=["wechat"])

MAX_BODY = 64 * 1024


# Refusals (the usual JSON error): 400 not a message of ours (bad XML, key or AppID), 403 bad signature or stale
# timestamp, 404 account not configured, 413 body over MAX_BODY.
_REPLY: OpenAPIResponses = {
    200: {"content": {"application/xml": {}, "text/plain": {}}, "description": "XML reply, or success"}
}
_ECHO: OpenAPIResponses = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The echostr, decrypted"}
}
_MESSAGE_RESPONSES = {**_REPLY, **error_responses(400, 403, 404, 413)}
_SETTING = {
    Channel.WECHAT: ("公众号", "PLANQA_WECHAT_TOKEN"),
    Channel.WECOM: ("企业微信应用", "PLANQA_WECOM_TOKEN"),
}


def get_answerer(service: ServiceDep) -> Answerer:
    """The question answerer the dialogues call (tests override this dependency).

    Each sender is a conversation (its OpenID, or WeCom UserID, is the conversation id within the channel), so
    follow-ups such as "那它的牵头单位是谁?" resolve against that teacher's previous question.
    """

    def answerer(question: str, user: str, channel: Channel) -> Reply:
        return service.ask(question, channel=channel, conversation_id=user)

    return answerer


AnswererDep = Annotated[Answerer, Depends(get_answerer)]


def _account(request: Request, channel: Channel) -> Account:
    account: Account | None = request.app.state.wechat.get(channel)
    if account is None:
        what, variable = _SETTING[channel]
        raise ApiError(404, "not_configured", f"未配置{what}。Not configured: set {variable} to enable this route.")
    return account


def _bad(e: WeChatError) -> ApiError:
    return ApiError(403 if isinstance(e, SignatureError) else 400, "bad_wechat_message", str(e))


def _check_fresh(timestamp: str) -> None:
    if not fresh(timestamp):
        raise ApiError(
            403,
            "stale_request",
            "请求已过期。Stale or missing timestamp (over 5 minutes off): check the server clock.",
        )


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(413, "request_too_large", f"请求内容过大。Body over {MAX_BODY} bytes.")
    return body


def _open(crypto: MessageCrypto, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> Inbound:
    encrypted = parse_fields(body).get("Encrypt", "")
    if not encrypted:
        raise WeChatError("缺少Encrypt字段。Encrypted mode but no <Encrypt> in the body.")
    return Inbound.of(parse_fields(crypto.open(msg_signature, timestamp, nonce, encrypted)))


def _seal(crypto: MessageCrypto, xml: str) -> str:
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    encrypted = crypto.encrypt(xml)
    return encrypted_reply(encrypted, crypto.sign(timestamp, nonce, encrypted), timestamp, nonce)


async def _respond(account: Account, msg: Inbound, answerer: Answerer, request: Request, encrypt: bool) -> Response:
    text = await account.dialogue.reply(msg, answerer, getattr(request.state, "arrived", None))
    request.state.log_fields = {"wechat_type": msg.msg_type, "deferred": text is None}
    if text is None:
        return PlainTextResponse("success")
    xml = text_reply(msg.from_user, msg.to_user, text)
    if encrypt and account.crypto is not None:
        xml = _seal(account.crypto, xml)
    return Response(xml, media_type="application/xml")


@router.get(
    "/wechat",
    response_class=Response,  # the refusals are JSON, the echo plain text
    responses={**_ECHO, **error_responses(403, 404)},
    summary="公众号 server verification",
)
async def wechat_verify(
    request: Request, signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = ""
) -> PlainTextResponse:
    account = _account(request, Channel.WECHAT)
    _check_fresh(timestamp)
    try:
        check_signature(signature, account.token, timestamp, nonce)
    except WeChatError as e:
        raise _bad(e) from e
    return PlainTextResponse(echostr)


@router.get(
    "/wecom",
    response_class=Response,  # the refusals are JSON, the echo plain text
    responses={**_ECHO, **error_responses(400, 403, 404)},
    summary="企业微信 URL verification",
)
async def wecom_verify(
    request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = ""
) -> PlainTextResponse:
    account = _account(request, Channel.WECOM)
    assert account.crypto is not None
    _check_fresh(timestamp)
    try:
        return PlainTextResponse(account.crypto.open(msg_signature, timestamp, nonce, echostr))
    except WeChatError as e:
        raise _bad(e) from e


async def _receive(
    request: Request,
    channel: Channel,
    answerer: Answerer,
    timestamp: str,
    open_message: Callable[[Account, bytes], tuple[Inbound, bool]],
) -> Response:
    """The steps every message takes: account, body size, fresh timestamp, then ``open_message`` (signature
    and decryption: (message, whether it was encrypted)), the dialogue, and the reply."""
    account = _account(request, channel)
    body = await _body(request)
    _check_fresh(timestamp)
    try:
        msg, encrypted = open_message(account, body)
    except WeChatError as e:
        raise _bad(e) from e
    return await _respond(account, msg, answerer, request, encrypted)


@router.post(
    "/wechat",
    response_class=Response,
    responses=_MESSAGE_RESPONSES,
    summary="公众号 messages (plaintext, compatible or safe mode)",
)
async def wechat_message(
    request: Request,
    answerer: AnswererDep,
    signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    encrypt_type: str = "",
    msg_signature: str = "",
) -> Response:
    def open_message(account: Account, body: bytes) -> tuple[Inbound, bool]:
        """By the account's mode: safe takes encrypted messages only (``msg_signature`` covers the body, so a
        captured query string cannot carry a forged one); plaintext takes plaintext only; compatible both. A
        plaintext body is bound to its signed query (``SignedQueries``)."""
        check_signature(signature, account.token, timestamp, nonce)
        kind = encrypt_type.lower()
        if kind == "aes":
            if account.crypto is None:
                raise WeChatError(
                    "明文模式下收到加密消息。Encrypted message, but PLANQA_WECHAT_MODE is plaintext: set the mode "
                    "(and PLANQA_WECHAT_AES_KEY) as in the console's 消息加解密方式."
                )
            # Compatible mode's body also carries a plaintext copy: only the decrypted, signed message is read.
            return _open(account.crypto, body, msg_signature, timestamp, nonce), True
        if kind not in {"", "raw"}:
            raise WeChatError(f"不支持的加密方式。Unsupported encrypt_type {encrypt_type!r}.")
        if account.mode is Mode.SAFE:
            raise SignatureError(
                "安全模式只接受加密消息。Safe mode takes encrypted messages only (encrypt_type=aes with "
                "msg_signature): check the console's 消息加解密方式 against PLANQA_WECHAT_MODE."
            )
        account.signed.bind(signature, body)
        return Inbound.of(parse_fields(body)), False

    return await _receive(request, Channel.WECHAT, answerer, timestamp, open_message)


@router.post(
    "/wecom",
    response_class=Response,
    responses=_MESSAGE_RESPONSES,
    summary="企业微信 messages (always encrypted)",
)
async def wecom_message(
    request: Request, answerer: AnswererDep, msg_signature: str = "", timestamp: str = "", nonce: str = ""
) -> Response:
    def open_message(account: Account, body: bytes) -> tuple[Inbound, bool]:
        assert account.crypto is not None  # WeCom always encrypts: the account is built with its key
        return _open(account.crypto, body, msg_signature, timestamp, nonce), True

    return await _receive(request, Channel.WECOM, answerer, timestamp, open_message)
