"""Department text bounded before it is quoted or stored: file names and cell values (pure)."""

from __future__ import annotations

import hashlib

QUOTE_CHARS = 50  # a value or name quoted in a reason: enough to recognise it, never a page
NAME_BYTES = 100  # the part of a file name kept in a stored file name (rejected/<sha12>-<name>)
_SUFFIX_BYTES = 16  # an extension longer than this is not kept apart from the name


def display_name(name: str) -> str:
    """A file name as a person reads it: bytes that are not UTF-8 shown as U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def clip(text: object, limit: int = QUOTE_CHARS) -> str:
    """Text as quoted in a reason: one line, no control or format characters, `limit` at most."""
    s = "" if text is None else str(text)
    s = s[: limit * 4]  # what follows the limit is never looked at
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` of at most `max_bytes` bytes in UTF-8 (whole characters)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def stored_name(name: str, max_bytes: int = NAME_BYTES) -> str:
    """A file name safe to write under any prefix: printable, at most `max_bytes` of UTF-8.

    The extension is kept (the file still opens in its program); the stem is cut on a character
    boundary. Anything else about the name is kept as far as it fits.
    """
    s = "".join(ch if ch.isprintable() and ch not in "/\\" else "_" for ch in display_name(name))
    s = s.strip() or "_"
    if len(s.encode("utf-8")) <= max_bytes:
        return s
    dot = s.rfind(".")
    suffix = s[dot:] if dot > 0 and len(s[dot:].encode("utf-8")) <= _SUFFIX_BYTES else ""
    stem = s[: len(s) - len(suffix)]
    return cut_utf8(stem, max_bytes - len(suffix.encode("utf-8"))) + suffix


def name_key(name: str) -> str:
    """A short hash of a name, for things that have no content to hash (a name alone)."""
    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
