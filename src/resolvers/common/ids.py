"""Opaque global IDs (``Node.id``): base64url of "Type:key". Keys are database ids, never a CPR."""

from __future__ import annotations

import base64
import binascii

NODE_TYPES = frozenset(
    {
        "Citizen",
        "Claim",
        "Department",
        "InstallmentPlan",
        "Installment",
        "PaymentMethod",
        "Payment",
        "MobilePayAccount",
        "AccessLogEntry",
        "Draw",
        "CaseworkerItem",
    }
)


class InvalidGlobalId(ValueError):
    pass


def encode(type_name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int]:
    if not global_id or len(global_id) > 100:
        raise InvalidGlobalId()
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidGlobalId() from None
    type_name, sep, key = raw.partition(":")
    if not sep or type_name not in NODE_TYPES or not _is_ascii_number(key, 18):
        raise InvalidGlobalId()
    return type_name, int(key)


def decode_as(global_id: str, type_name: str) -> int:
    found, key = decode(global_id)
    if found != type_name:
        raise InvalidGlobalId()
    return key


def decode_or_none(global_id: str, type_name: str) -> int | None:
    """The key of a global ID of ``type_name``, or None when it is not one (mutations report that per field)."""
    try:
        return decode_as(global_id, type_name)
    except InvalidGlobalId:
        return None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidGlobalId() from None
    prefix, _, value = raw.partition(":")
    if prefix != "o" or not _is_ascii_number(value, 9):
        raise InvalidGlobalId()
    return int(value)


def _is_ascii_number(text: str, max_length: int) -> bool:
    return 0 < len(text) <= max_length and text.isascii() and text.isdigit()
