"""The configured WeChat accounts, built once at start-up: each with its token, its crypto and its dialogue.

A malformed EncodingAESKey stops start-up here with the variable to fix, rather than failing on the first
message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from api.wechat.crypto import MAX_AGE, MessageCrypto, SignedQueries, decode_aes_key
from api.wechat.custom import CustomService
from api.wechat.dialogue import Dialogue
from config.settings import Settings
from rag.library import LibraryService
from rag.service import Channel
from rag.state import StateStore, open_state_store


class Mode(StrEnum):
    """How messages arrive, as set in the console (消息加解密方式); WeCom is always SAFE."""

    PLAINTEXT = "plaintext"  # 明文模式: plaintext only, signed by ``signature`` (token, timestamp, nonce)
    COMPATIBLE = "compatible"  # 兼容模式: encrypted (with a plaintext copy), or plaintext while switching over
    SAFE = "safe"  # 安全模式: encrypted only; ``msg_signature`` covers the body


@dataclass(frozen=True)
class Account:
    channel: Channel  # Channel.WECHAT (公众号) or Channel.WECOM (企业微信)
    token: str
    crypto: MessageCrypto | None  # None: a 公众号 in plaintext mode
    dialogue: Dialogue
    mode: Mode = Mode.SAFE
    signed: SignedQueries = field(default_factory=lambda: SignedQueries(ttl=2 * MAX_AGE))


def build_accounts(
    settings: Settings, library: LibraryService, store: StateStore | None = None
) -> dict[Channel, Account]:
    """The accounts whose token is set, their state in ``store`` (the shared state store; default: this
    process's memory); ValueError naming the setting when a key is malformed."""
    store = store or open_state_store("memory")
    signed = SignedQueries(2 * MAX_AGE, store)
    accounts: dict[Channel, Account] = {}
    if settings.wechat_token:
        mode = Mode(settings.wechat_message_mode)
        crypto = None
        if mode is not Mode.PLAINTEXT:
            _check_key("PLANQA_WECHAT_AES_KEY", settings.wechat_aes_key)
            crypto = MessageCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
        sender = None
        if settings.wechat_appsecret:
            service = CustomService(
                settings.wechat_api_base, settings.wechat_appid, settings.wechat_appsecret, store=store
            )
            sender = service.send_text
        dialogue = Dialogue(library, Channel.WECHAT, sender=sender, store=store)
        accounts[Channel.WECHAT] = Account(Channel.WECHAT, settings.wechat_token, crypto, dialogue, mode, signed)
    if settings.wecom_token:
        _check_key("PLANQA_WECOM_AES_KEY", settings.wecom_aes_key)
        crypto = MessageCrypto(settings.wecom_token, settings.wecom_aes_key, settings.wecom_corpid)
        dialogue = Dialogue(library, Channel.WECOM, store=store)
        accounts[Channel.WECOM] = Account(Channel.WECOM, settings.wecom_token, crypto, dialogue, signed=signed)
    return accounts


def _check_key(variable: str, value: str) -> None:
    try:
        decode_aes_key(value)
    except ValueError as e:
        raise ValueError(f"{variable}: {e}; copy the EncodingAESKey from the console") from e
