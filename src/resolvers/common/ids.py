"""Opaque global IDs (``Node.id``): base64url of "Type:key". Keys are database ids, never a CPR."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

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


def encode_compound(type_name: str, *parts: str | int) -> str:
    """An opaque ID of something that is not a node and is keyed by more than one value (a work queue's item:
    its queue and keys): base64url of "Type:part:part:...". Never a CPR: the parts are enum names and ledger keys."""
    return base64.urlsafe_b64encode(":".join([type_name, *(str(p) for p in parts)]).encode()).decode().rstrip("=")


def decode_compound(global_id: str, type_name: str, size: int) -> list[str] | None:
    """The parts of an ``encode_compound`` ID of ``type_name`` with ``size`` parts, or None when it is not one."""
    if not global_id or len(global_id) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    found, *parts = raw.split(":")
    return parts if found == type_name and len(parts) == size else None


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


class CursorFromAnotherQuery(ValueError):
    """A well-formed cursor that another query (another field, or other arguments) handed out."""


_KEYSET = "k"


def query_scope(key: bytes, *parts: object) -> str:
    """A short keyed fingerprint of a query (its field and the arguments that decide its order and filter): a
    keyset cursor carries it, so that a cursor is only accepted by the query that handed it out. Keyed, so that it
    cannot be reversed to the arguments (a CPR searched for)."""
    return hmac.new(key, repr(parts).encode(), hashlib.sha256).hexdigest()[:20]


def encode_keyset_cursor(scope: str, position: Sequence[str | int]) -> str:
    """An opaque cursor: the query's scope and the last item's position in its order (keyset paging)."""
    raw = "|".join([_KEYSET, scope, *(str(p) for p in position)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_keyset_cursor(cursor: str, scope: str, size: int) -> list[str]:
    """The position a keyset cursor of this query holds. Raises InvalidGlobalId for what is no cursor of ours,
    CursorFromAnotherQuery for one of another query (also an offset cursor of another connection)."""
    if not cursor or len(cursor) > 300:
        raise InvalidGlobalId()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidGlobalId() from None
    parts = raw.split("|")
    if parts[0] != _KEYSET:
        decode_cursor(cursor)  # an offset cursor is another connection's; anything else is no cursor at all
        raise CursorFromAnotherQuery()
    if len(parts) < 2:
        raise InvalidGlobalId()
    if parts[1] != scope:
        raise CursorFromAnotherQuery()
    if len(parts) != size + 2:
        raise InvalidGlobalId()
    return parts[2:]


def key_or_none(text: str) -> int | None:
    """A ledger key (0 to 18 digits, as in a global ID), or None."""
    return int(text) if text == "0" or _is_ascii_number(text, 18) else None


def _is_ascii_number(text: str, max_length: int) -> bool:
    return 0 < len(text) <= max_length and text.isascii() and text.isdigit()
