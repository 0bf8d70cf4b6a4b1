"""What counts as a secret, and masking it in everything dashenv prints."""

from __future__ import annotations

import re

MASK = "****"
_SECRET_WORDS = {
    "PASSWORD",
    "PASSWD",
    "PWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "PRIVATE",
}
# scheme://user:password@host  -> the password part
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")
PLACEHOLDER = re.compile(r"change[_-]?(?:me|this)[A-Za-z0-9_]*", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    words = re.split(r"[_.\-]", key.upper())
    return any(w in _SECRET_WORDS for w in words)


def mask_url(value: str) -> str:
    """Hide the password inside any URL in ``value``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, value)


def url_password(value: str) -> str | None:
    m = _URL_PASSWORD.search(value)
    return m.group("pw") if m else None


def mask_value(key: str, value: str) -> str:
    if value and is_secret_key(key):
        return MASK
    return mask_url(value)


def _whole(secret: str) -> str:
    """A pattern for ``secret`` as a whole value: not where it is part of a longer word (the
    password ``postgres`` inside ``postgresql://``)."""
    head = r"(?<![A-Za-z0-9_])" if re.match(r"\w", secret[0]) else ""
    tail = r"(?![A-Za-z0-9_])" if re.match(r"\w", secret[-1]) else ""
    return head + re.escape(secret) + tail


def scrub(text: str, secrets: list[str]) -> str:
    """Remove known secret values (and URL passwords) from free text such as logs: each
    value where it stands whole, never a part of a word."""
    found = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
    if found:
        text = re.sub("|".join(_whole(s) for s in found), MASK, text)
    return mask_url(text)
