"""Passwords (scrypt), signed operator tokens (itsdangerous) and constant-time token checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer

Doc = dict[str, Any]
SESSION_COOKIE = "sb_session"
SESSION_MAX_AGE_S = 12 * 3600
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    params = f"{_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}"
    return f"scrypt${params}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    salt = base64.b64decode(salt_b64)
    expected = base64.b64decode(digest_b64)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(digest, expected)


def password_stamp(stored: str | None) -> str:
    """A short fingerprint of the password hash: changing the password voids old tokens."""
    return hashlib.sha256((stored or "").encode()).hexdigest()[:12]


def session_epoch(doc: Doc) -> int:
    """Bumped by log-out, password and role changes and dismissal: older tokens stop working."""
    return int(doc.get("session_epoch") or 0)


def dismissed(doc: Doc) -> bool:
    """A dismissed operator may not log in or use a session, whatever the mark's end date."""
    absence = doc.get("absence") or {}
    return bool(absence.get("reason") == "dismissed")


@dataclass(frozen=True, slots=True)
class Claims:
    login: str
    stamp: str
    epoch: int


class TokenSigner:
    def __init__(self, secret_key: str) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="switchboard.operator-session")

    def issue(self, login: str, stamp: str, epoch: int = 0) -> str:
        """A token for the operator's current password (stamp) and session epoch."""
        return self._s.dumps({"login": login, "stamp": stamp, "epoch": epoch})

    def read(self, token: str, max_age_s: int = SESSION_MAX_AGE_S) -> Claims | None:
        try:
            data = self._s.loads(token, max_age=max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or "login" not in data:
            return None
        epoch = data.get("epoch", 0)
        return Claims(
            str(data["login"]), str(data.get("stamp", "")), epoch if isinstance(epoch, int) else -1
        )


def same_secret(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class InviteClaims:
    invite_id: str
    email: str
    origin: str
    phone: str


class InviteSigner:
    """The token of a video invitation link: the invitation's id, the operator's email, the
    origin `sms` and the caller's number, signed and dated (it expires after `ttl_s`).

    Kept short (a list, not an object): the end-user's page hands it to the scenario inside
    the Web SDK call's customData, which carries at most 200 bytes.
    """

    def __init__(self, secret_key: str, ttl_s: int) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="switchboard.video-invite")
        self.ttl_s = ttl_s

    def issue(self, invite_id: str, email: str, phone: str) -> str:
        return self._s.dumps([invite_id, email, "sms", phone])

    def read(self, token: str) -> InviteClaims | str:
        """The claims, or why not: "invalid" (tampered, not ours) or "expired"."""
        try:
            data = self._s.loads(token, max_age=self.ttl_s)
        except SignatureExpired:
            return "expired"
        except BadData:  # a bad signature, or a payload that does not decode
            return "invalid"
        if not (
            isinstance(data, list) and len(data) == 4 and all(isinstance(x, str) for x in data)
        ):
            return "invalid"
        return InviteClaims(*data)
