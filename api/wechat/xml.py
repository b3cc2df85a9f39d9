"""WeChat's XML: parse inbound messages safely (defusedxml), render replies.

WeChat sends flat documents: ``<xml><ToUserName><![CDATA[gh_…]]></ToUserName>…<MsgType>…</xml>``.
Anything else (another root, a DTD or entities) is refused, not interpreted; nested elements are skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from api.wechat.crypto import WeChatError

MAX_FIELDS = 64


class BadMessageError(WeChatError):
    """The body is not a WeChat message."""


def parse_fields(body: bytes | str) -> dict[str, str]:
    """The child elements of ``<xml>`` as a dict of strings; BadMessageError otherwise."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise BadMessageError(f"不是有效的XML。Not well-formed XML: {type(e).__name__}.") from e
    if root.tag != "xml" or len(root) > MAX_FIELDS:
        raise BadMessageError("不是微信消息。Not a WeChat message: the root element must be <xml>.")
    fields: dict[str, str] = {}
    for child in root:
        # Some menu events nest elements (SendPicsInfo, ScanCodeInfo); PlanQA needs none of them.
        if isinstance(child.tag, str) and not len(child):
            fields[child.tag] = (child.text or "").strip()
    return fields


@dataclass(frozen=True)
class Inbound:
    """One message or event, as far as PlanQA needs it."""

    to_user: str  # the account (gh_… or the CorpID)
    from_user: str  # the user's OpenID / UserID
    create_time: str
    msg_type: str  # text, voice, image, event, …
    content: str = ""  # text, or the voice's Recognition
    msg_id: str = ""
    event: str = ""
    agent_id: str = ""

    @property
    def dedupe_key(self) -> str:
        """WeChat retries carry the same MsgId; events have none, so FromUserName + CreateTime."""
        return f"id:{self.msg_id}" if self.msg_id else f"ev:{self.from_user}:{self.create_time}:{self.event}"

    @classmethod
    def of(cls, fields: dict[str, str]) -> Inbound:
        missing = [k for k in ("ToUserName", "FromUserName", "MsgType") if not fields.get(k)]
        if missing:
            raise BadMessageError(f"消息缺少字段。Not a WeChat message: missing {', '.join(missing)}.")
        msg_type = fields["MsgType"].lower()
        content = fields.get("Content", "") if msg_type == "text" else fields.get("Recognition", "")
        return cls(
            to_user=fields["ToUserName"],
            from_user=fields["FromUserName"],
            create_time=fields.get("CreateTime", ""),
            msg_type=msg_type,
            content=content,
            msg_id=fields.get("MsgId", ""),
            event=fields.get("Event", "").lower(),
            agent_id=fields.get("AgentID", ""),
        )


def cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA: end the section and start another between "]]" and ">".
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, now: int | None = None) -> str:
    """A passive text reply: to the user, from the account."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{now if now is not None else int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def encrypted_reply(encrypted: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    """The envelope of an encrypted reply."""
    return (
        "<xml>"
        f"<Encrypt>{cdata(encrypted)}</Encrypt>"
        f"<MsgSignature>{cdata(msg_signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp>"
        f"<Nonce>{cdata(nonce)}</Nonce>"
        "</xml>"
    )
