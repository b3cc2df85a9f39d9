"""Property tests of the WeChat XML and crypto layer (api/wechat/crypto.py, api/wechat/xml.py).

Whatever arrives — random bytes, truncated or tampered ciphertexts, wrong padding, huge documents, entity
expansion, external entities — the layer answers with its own errors (``WeChatError`` and its subclasses
``BadMessageError``, ``DecryptError``, ``ReceiverError``, ``SignatureError``), quickly, and never with another
exception type; and encrypting then decrypting gives back any text.
"""

from __future__ import annotations

import base64
import struct
import time

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.wechat.crypto import (
    DecryptError,
    MessageCrypto,
    ReceiverError,
    SignatureError,
    WeChatError,
    check_signature,
    decode_aes_key,
    pad,
    unpad,
)
from api.wechat.xml import BadMessageError, Inbound, cdata, parse_fields, text_reply

PROPS = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
TOKEN = "planqa-test-token"
APPID = "wx1234567890abcdef"
AES_KEYS = st.binary(min_size=32, max_size=32).map(lambda k: base64.b64encode(k).decode()[:-1])
CRYPTO = MessageCrypto(TOKEN, base64.b64encode(bytes(range(32))).decode()[:-1], APPID)


def _raw_encrypt(crypto: MessageCrypto, plain: bytes) -> str:
    """AES-CBC of ``plain`` as is (already block-aligned, padding chosen by the caller)."""
    encryptor = Cipher(algorithms.AES(crypto.key), modes.CBC(crypto.key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def _decrypt_or_refuse(crypto: MessageCrypto, value: str) -> str | None:
    try:
        return crypto.decrypt(value)
    except (DecryptError, ReceiverError):
        return None


# Crypto -------------------------------------------------------------------------------------------------


@PROPS
@given(st.text(), AES_KEYS, st.text(max_size=40))
def test_encrypt_decrypt_round_trips_any_text(message: str, key: str, receive_id: str) -> None:
    crypto = MessageCrypto(TOKEN, key, receive_id)
    sealed = crypto.encrypt(message)
    assert crypto.decrypt(sealed) == message
    ts, nonce = "1700000000", "42"
    assert crypto.open(crypto.sign(ts, nonce, sealed), ts, nonce, sealed) == message


@PROPS
@given(st.binary(max_size=200))
def test_pad_unpad_round_trip_to_32_byte_blocks(data: bytes) -> None:
    padded = pad(data)
    assert len(padded) % 32 == 0 and 1 <= len(padded) - len(data) <= 32
    assert unpad(padded) == data


@PROPS
@given(st.text(max_size=300))
def test_random_encrypt_values_are_refused_with_decrypt_errors(value: str) -> None:
    with pytest.raises((DecryptError, ReceiverError)):
        CRYPTO.decrypt(value)


@PROPS
@given(st.binary(max_size=300))
def test_random_ciphertexts_are_refused_with_decrypt_errors(data: bytes) -> None:
    with pytest.raises((DecryptError, ReceiverError)):
        CRYPTO.decrypt(base64.b64encode(data).decode())


@PROPS
@given(st.text(min_size=1, max_size=200), st.data())
def test_truncated_ciphertexts_are_refused(message: str, data: st.DataObject) -> None:
    raw = base64.b64decode(CRYPTO.encrypt(message))
    cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
    # Truncated anywhere (block-aligned or not, re-encoded or with the base64 cut too): never the message.
    assert _decrypt_or_refuse(CRYPTO, base64.b64encode(raw[:cut]).decode()) != message
    with pytest.raises(DecryptError):
        CRYPTO.decrypt(base64.b64encode(raw).decode()[: data.draw(st.integers(1, 4 * cut // 3 or 1))][:-1] + "*")


@PROPS
@given(st.text(max_size=100), st.integers(0, 255), st.integers(1, 32))
def test_wrong_padding_is_a_decrypt_error(message: str, pad_byte: int, pad_len: int) -> None:
    body = message.encode()
    plain = bytes(16) + struct.pack(">I", len(body)) + body + APPID.encode()
    padding = bytes([pad_byte]) * pad_len
    assume(padding != bytes([pad_len]) * pad_len)
    plain += bytes((-len(plain) - pad_len) % 16) + padding  # block-aligned (zero filler), but wrongly padded
    if plain[-1] == len(padding) or (1 <= plain[-1] <= 32 and plain[-plain[-1] :] == bytes([plain[-1]]) * plain[-1]):
        return  # the last bytes still form a valid (shorter) padding: "\x01\x01\x01" ends in one byte of 1
    with pytest.raises(DecryptError):
        CRYPTO.decrypt(_raw_encrypt(CRYPTO, plain))


@PROPS
@given(st.text(min_size=1, max_size=100), st.integers(0, 2**32 - 1))
def test_lying_length_field_is_a_decrypt_or_receiver_error(message: str, length: int) -> None:
    body = message.encode()
    assume(length != len(body))
    plain = bytes(16) + struct.pack(">I", length) + body + APPID.encode()
    with pytest.raises((DecryptError, ReceiverError)):
        CRYPTO.decrypt(_raw_encrypt(CRYPTO, pad(plain)))


@PROPS
@given(st.binary(max_size=200))
def test_non_utf8_messages_are_decrypt_errors(body: bytes) -> None:
    try:
        body.decode("utf-8")
        return
    except UnicodeDecodeError:
        pass
    plain = bytes(16) + struct.pack(">I", len(body)) + body + APPID.encode()
    with pytest.raises(DecryptError):
        CRYPTO.decrypt(_raw_encrypt(CRYPTO, pad(plain)))


@PROPS
@given(st.text(min_size=1, max_size=100), st.data())
def test_tampered_messages_fail_the_signature_before_decryption(message: str, data: st.DataObject) -> None:
    sealed = CRYPTO.encrypt(message)
    ts, nonce = "1700000000", "7"
    raw = bytearray(base64.b64decode(sealed))
    i = data.draw(st.integers(0, len(raw) - 1), label="byte")
    raw[i] ^= data.draw(st.integers(1, 255), label="flip")
    tampered = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureError):
        CRYPTO.open(CRYPTO.sign(ts, nonce, sealed), ts, nonce, tampered)
    # Without the signature, a flipped byte still yields an error of the layer or some text, nothing else.
    _decrypt_or_refuse(CRYPTO, tampered)


@PROPS
@given(st.text(max_size=80), st.text(max_size=20), st.text(max_size=20))
def test_any_signature_is_checked_without_other_errors(given_sig: str, timestamp: str, nonce: str) -> None:
    with pytest.raises(SignatureError):
        check_signature(given_sig + "x", TOKEN, timestamp, nonce)


@PROPS
@given(st.text(max_size=60))
def test_malformed_aes_keys_are_value_errors(key: str) -> None:
    try:
        assert len(decode_aes_key(key)) == 32
    except ValueError:
        pass


# XML ----------------------------------------------------------------------------------------------------


@PROPS
@given(st.binary(max_size=2000))
def test_random_bytes_are_bad_messages(body: bytes) -> None:
    try:
        fields = parse_fields(body)
    except BadMessageError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


def xml_text(value: str) -> str:
    """A field as parsed: XML turns every line end into "\\n" (CDATA included); parse_fields strips."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


TAGS = st.text("ToUserNameFromMsgTypeContentIdEvt_", min_size=1, max_size=12).filter(lambda t: not t[0].isdigit())


@PROPS
@given(st.dictionaries(TAGS, st.text(max_size=200), max_size=10))
def test_wechat_documents_parse_back_to_their_fields(fields: dict[str, str]) -> None:
    # XML 1.0 cannot carry most control characters, whatever the quoting; WeChat never sends them.
    clean = {
        k: "".join(c for c in v if c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff")) for k, v in fields.items()
    }
    body = "<xml>" + "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in clean.items()) + "</xml>"
    assert parse_fields(body.encode()) == {k: xml_text(v) for k, v in clean.items()}
    try:
        msg = Inbound.of(parse_fields(body))
    except BadMessageError:
        assert not all(clean.get(k, "").strip() for k in ("ToUserName", "FromUserName", "MsgType"))
        return
    assert msg.to_user == xml_text(clean["ToUserName"])


@PROPS
@given(st.text(max_size=300), st.text(max_size=30), st.text(max_size=30))
def test_text_replies_are_well_formed_for_any_content(content: str, to_user: str, from_user: str) -> None:
    def xml_safe(s: str) -> str:
        return "".join(c for c in s if c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff"))

    content, to_user, from_user = xml_safe(content), xml_safe(to_user), xml_safe(from_user)
    fields = parse_fields(text_reply(to_user, from_user, content, now=1))
    assert fields["Content"] == xml_text(content)
    assert (fields["ToUserName"], fields["FromUserName"]) == (xml_text(to_user), xml_text(from_user))


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]><xml><Content>&lol9;</Content></xml>"
)
QUADRATIC = '<!DOCTYPE xml [<!ENTITY a "' + "a" * 50_000 + '">]><xml><Content>' + "&a;" * 20_000 + "</Content></xml>"
EXTERNAL = [
    '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
    '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]><xml><Content>&xxe;</Content></xml>',
    '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]><xml/>',
    '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml><Content>x</Content></xml>',
    '<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?><!DOCTYPE xml><xml/>',
    '<xml xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd"/></xml>',
]


@pytest.mark.parametrize("body", [BILLION_LAUGHS, QUADRATIC, *EXTERNAL], ids=lambda b: b[:40])
def test_entities_and_external_references_are_refused_quickly(body: str) -> None:
    started = time.perf_counter()
    for data in (body, body.encode()):
        try:
            fields = parse_fields(data)
        except BadMessageError:
            continue
        # Only documents without a DTD get this far (XInclude): nothing is fetched, the element is skipped.
        assert "root:" not in "".join(fields.values())
    assert time.perf_counter() - started < 5


def test_undefined_entities_are_bad_messages() -> None:
    with pytest.raises(BadMessageError):
        parse_fields("<xml><Content>&lol;</Content></xml>")


def test_huge_documents_are_refused_or_parsed_in_bounded_time() -> None:
    started = time.perf_counter()
    many = "<xml>" + "<F>x</F>" * 200_000 + "</xml>"
    with pytest.raises(BadMessageError):  # more fields than any WeChat message has
        parse_fields(many)
    deep = "<xml>" + "<a>" * 50_000 + "</a>" * 50_000 + "</xml>"
    assert parse_fields(deep) == {}  # nested elements are skipped
    unclosed = "<xml>" + "<a>" * 200_000
    with pytest.raises(BadMessageError):
        parse_fields(unclosed)
    big = "<xml><ToUserName>gh</ToUserName><Content>" + "问" * 2_000_000 + "</Content></xml>"
    assert len(parse_fields(big.encode())["Content"]) == 2_000_000
    assert time.perf_counter() - started < 30


@PROPS
@given(st.binary(max_size=400), st.text(max_size=200))
def test_any_decrypted_payload_is_a_message_or_a_layer_error(noise: bytes, text: str) -> None:
    """What routes do after decryption (parse, then read the fields) only fails with the layer's errors."""
    for payload in (CRYPTO.encrypt(text), CRYPTO.encrypt(noise.decode("latin-1"))):
        try:
            Inbound.of(parse_fields(CRYPTO.decrypt(payload)))
        except WeChatError:
            pass
