"""WeChat's message signature and encryption, written from the protocol description.

Both the Official Account (公众号) and WeCom (企业微信) use the same scheme:

- ``signature`` = sha1 of the sorted, concatenated strings (token, timestamp, nonce[, Encrypt]);
- AES-256-CBC with the 43-character EncodingAESKey: key = base64decode(EncodingAESKey + "="), IV = key[:16];
- plaintext = 16 random bytes + 4-byte big-endian length of the message + message + receive id
  (the AppID, or the CorpID for WeCom), padded PKCS#7-style to a multiple of **32** bytes (so pad values go up
  to 32, which the 16-byte PKCS#7 unpadder of ``cryptography`` rejects: we pad and unpad by hand).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from rag.state import StateStore, open_state_store

BLOCK = 32  # WeChat pads to 32 bytes, not to AES's 16
MAX_AGE = 300  # seconds: a signed request older (or further in the future) than this is refused as a replay
# A timestamp is Unix seconds in ASCII digits: 10 today. Not str.isdigit(), which takes "²" and "٣" (int() then
# fails), and not unbounded (int() of 5,000 digits is refused by Python).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class WeChatError(Exception):
    """A message that fails WeChat's protocol; the message says what to check."""


class SignatureError(WeChatError):
    pass


class DecryptError(WeChatError):
    pass


class ReceiverError(WeChatError):
    """The decrypted message names another AppID / CorpID."""


def fresh(timestamp: str, now: float | None = None) -> bool:
    """Whether ``timestamp`` is Unix seconds within MAX_AGE of ``now``."""
    if not _TIMESTAMP.fullmatch(timestamp):
        return False
    return abs((time.time() if now is None else now) - int(timestamp)) <= MAX_AGE


def signature(*parts: str) -> str:
    """sha1 over the sorted parts, as WeChat signs (``token``, ``timestamp``, ``nonce`` [, ``Encrypt``])."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check_signature(given: str, *parts: str) -> None:
    """Raise SignatureError unless ``given`` is the signature of ``parts`` (compared in constant time)."""
    if not hmac.compare_digest(signature(*parts).encode(), (given or "").lower().encode("ascii", "replace")):
        raise SignatureError("签名不正确。Bad signature: check that the token matches the one in the console.")


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the console's 43-character EncodingAESKey; ValueError when malformed."""
    if len(encoding_aes_key) != 43:
        raise ValueError(f"EncodingAESKey must have 43 characters, got {len(encoding_aes_key)}")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as e:
        raise ValueError(f"EncodingAESKey is not base64: {e}") from e
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK  # 1..32: a full block of 32 when already aligned
    return data + bytes([n]) * n


def unpad(data: bytes) -> bytes:
    if not data:
        raise DecryptError("解密失败：内容为空。Decryption failed: empty plaintext.")
    n = data[-1]
    if not 1 <= n <= BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise DecryptError("解密失败：填充不正确。Decryption failed: bad padding; check the EncodingAESKey.")
    return data[:-n]


class SignedQueries:
    """One body per signed query string, for plaintext messages.

    A plaintext message's ``signature`` covers the token, timestamp and nonce, not the body: whoever has seen
    one signed query string (a proxy's log, plain HTTP) could post any body with it while its timestamp is
    fresh. So each signed query is bound to the first body it came with, for ``ttl`` seconds (the freshness
    window on both sides); the same query with another body is refused. WeChat's retries resend the same body.
    Encrypted messages need none of this: ``msg_signature`` covers their body.
    """

    def __init__(self, ttl: float, store: StateStore | None = None) -> None:
        self.ttl = ttl
        self.store = store or open_state_store("memory")  # shared: a forged body sent to another worker is refused too

    def bind(self, signature: str, body: bytes) -> None:
        """SignatureError when ``signature`` was seen with another body."""
        digest = hashlib.sha256(body).hexdigest()
        key = f"wx-signed:{signature.lower()}"
        if self.store.add(key, digest, self.ttl):
            return
        first = self.store.get(key)
        if first is not None and not hmac.compare_digest(first, digest):
            raise SignatureError(
                "签名已用于另一条消息。This signed query string came before with another body: a forged message "
                "is refused. Use safe mode (PLANQA_WECHAT_MODE=safe) to sign message bodies."
            )


class MessageCrypto:
    """Encrypts and decrypts message bodies for one account: its token, key and receive id."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self.key = decode_aes_key(encoding_aes_key)
        self.receive_id = receive_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random: bytes | None = None) -> str:
        """The base64 ``Encrypt`` value for ``message``; ``random`` (16 bytes) only for known-answer tests."""
        body = message.encode("utf-8")
        prefix = random if random is not None else os.urandom(16)
        plain = prefix + struct.pack(">I", len(body)) + body + self.receive_id.encode("utf-8")
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(pad(plain)) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """The message inside an ``Encrypt`` value; DecryptError or ReceiverError when it is not ours."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as e:
            raise DecryptError("解密失败：不是base64。Decryption failed: Encrypt is not base64.") from e
        if not data or len(data) % 16:
            raise DecryptError("解密失败：长度不正确。Decryption failed: ciphertext length is not a block multiple.")
        decryptor = self._cipher().decryptor()
        plain = unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < 20:
            raise DecryptError("解密失败：内容过短。Decryption failed: plaintext too short.")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise DecryptError("解密失败：长度字段不正确。Decryption failed: bad length; check the EncodingAESKey.")
        body, receiver = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(receiver, self.receive_id.encode("utf-8")):
            raise ReceiverError(
                "消息不属于本账号。The message names another AppID/CorpID: "
                "check PLANQA_WECHAT_APPID / PLANQA_WECOM_CORPID."
            )
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecryptError("解密失败：不是UTF-8。Decryption failed: the message is not UTF-8.") from e

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """``msg_signature`` for an encrypted value."""
        return signature(self.token, timestamp, nonce, encrypted)

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """Check ``msg_signature`` first, then decrypt (nothing is decrypted for a bad signature)."""
        check_signature(msg_signature, self.token, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)
