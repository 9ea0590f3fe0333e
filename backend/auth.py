"""Passwords (scrypt), signed operator tokens (itsdangerous) and constant-time token checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

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


class TokenSigner:
    def __init__(self, secret_key: str) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="switchboard.operator-session")

    def issue(self, login: str, stamp: str) -> str:
        return self._s.dumps({"login": login, "stamp": stamp})

    def read(self, token: str, max_age_s: int = SESSION_MAX_AGE_S) -> tuple[str, str] | None:
        try:
            data = self._s.loads(token, max_age=max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or "login" not in data:
            return None
        return str(data["login"]), str(data.get("stamp", ""))


def same_secret(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
