"""Identifiers c360 makes: keys, profile ids, message ids for messages that came without one."""

import hashlib
import secrets
import uuid

_PROFILE_NAMESPACE = uuid.UUID("5f2c8a52-3a9f-4d1e-9c55-0c3600000001")


def new_secret_key(prefix: str) -> str:
    """A new API key: a readable prefix and 32 random bytes, URL-safe."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    """The stored form of an API key (keys are long random strings, so one SHA-256 suffices)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def profile_id_for(first_seq: int) -> str:
    """The id of the profile created by the log entry ``first_seq``: stable across rebuilds."""
    return str(uuid.uuid5(_PROFILE_NAMESPACE, str(first_seq)))


def content_message_id(payload: bytes) -> str:
    """A message id derived from a message's content, for messages sent without one.

    A client that retries an identical message then gets it stored once.
    """
    return "c360-" + hashlib.sha256(payload).hexdigest()[:32]
