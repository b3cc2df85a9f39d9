"""Plain text: UTF-8 (with or without a byte-order mark), UTF-16 with a mark, or GB18030 (GBK, GB2312)."""

from __future__ import annotations

import codecs

from index.errors import DocumentError
from index.readers import PlanText

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class TextReader:
    format = "txt"

    def read(self, data: bytes, name: str) -> PlanText:
        return PlanText(name, self.format, *decode_text(data, name))


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding). UTF-8 first: a GB18030 file of Chinese text is practically never valid UTF-8, while
    GB18030 would decode UTF-8 bytes into nonsense without complaint."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as e:
                raise _undecodable(data, name, e, encoding) from e
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DocumentError(
            f"{name} 第{line}行含有二进制内容，不是文本文件。{name} line {line}: a NUL byte, so this is no text "
            "file; expected UTF-8 or GB18030 text (or give a .docx, .pdf or .html file)."
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise _undecodable(data, name, utf8, "UTF-8 or GB18030") from utf8


def _undecodable(data: bytes, name: str, error: UnicodeDecodeError, expected: str) -> DocumentError:
    line = data[: error.start].count(b"\n") + 1
    bad = data[error.start : error.start + 4].hex(" ")
    return DocumentError(
        f"{name} 第{line}行无法解码（字节 {bad}）：应为 {expected} 编码的文本。{name} line {line} (byte {error.start}: "
        f"{bad}): expected {expected} text; save the file as UTF-8."
    )
