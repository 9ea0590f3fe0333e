"""Request bodies, validated with pydantic: a bad field is named in the 422 answer."""

from __future__ import annotations

import json
import re
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from backend.views.json_depth import MAX_DEPTH, too_deep

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PSTN = re.compile(r"^\+?[0-9]{3,16}$")
_LOGIN = r"^[A-Za-z0-9_.@+-]{1,64}$"


class _Platform(BaseModel):
    # The scenario may grow fields before the backend knows them: ignore, do not refuse.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CallIn(_Platform):
    session_id: StrictStr = Field(min_length=1, max_length=128)
    access_url: StrictStr = Field(max_length=2048)
    access_secure_url: StrictStr | None = Field(None, max_length=2048)
    caller: StrictStr = Field(max_length=256)
    destination: StrictStr = Field("", max_length=256)
    display_name: StrictStr = Field("", max_length=256)
    media: Literal["voice", "video"] = "voice"
    custom_data: StrictStr = Field("", max_length=8192)
    headers: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @field_validator("access_url", "access_secure_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and v != "" and not _URL.match(v):
            raise ValueError("must be an http(s) URL")
        return v or None

    @field_validator("custom_data")
    @classmethod
    def _shallow(cls, v: str) -> str:
        # Free text, read as context when it is a JSON object: refuse what nests too deep to read.
        if v.lstrip().startswith(("{", "[")):
            try:
                parsed = json.loads(v)
            except RecursionError:
                raise ValueError(f"JSON nests deeper than {MAX_DEPTH} levels") from None
            except ValueError:
                return v  # not JSON: kept as raw text, as before
            if too_deep(parsed):
                raise ValueError(f"JSON nests deeper than {MAX_DEPTH} levels")
        return v

    @field_validator("headers")
    @classmethod
    def _x_headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not name.lower().startswith("x-"):
                raise ValueError(f"header {name!r} is not an X- header")
        return v


EventType = Literal[
    "operator_connected",
    "operator_failed",
    "caller_hung_up",
    "operator_hung_up",
    "recording_started",
    "manager_pin_answer",
    "session_ended",
    "party_connected",
    "party_failed",
    "party_hung_up",
    "voicemail_recorded",
    "callback_requested",
]


class EventIn(_Platform):
    type: EventType
    offer_id: StrictStr | None = Field(None, max_length=64)
    party_id: StrictStr | None = Field(None, max_length=64)
    code: StrictInt | None = None
    reason: StrictStr | None = Field(None, max_length=512)
    url: StrictStr | None = Field(None, max_length=2048)
    answer: Literal["yes", "no", "none"] | None = None
    duration_s: float | None = Field(None, ge=0, le=86400)
    # callback_requested: the number to call back (E.164, or digits typed on the keypad).
    number: StrictStr | None = Field(None, pattern=r"^\+?[0-9]{3,16}$")
    # operator_failed from a callback session: "caller" when the caller's leg failed.
    party: Literal["caller", "operator"] | None = None
    # caller_hung_up: the scenario kept the other legs talking (seed 002).
    parties_stay: StrictBool | None = None

    @model_validator(mode="after")
    def _required_per_type(self) -> Self:
        # Raised with the field's location, so the error names it (`field`: "url").
        for name, types in _REQUIRED_PER_TYPE.items():
            if self.type in types and not getattr(self, name):
                raise ValidationError.from_exception_data(
                    type(self).__name__,
                    [
                        InitErrorDetails(
                            type=PydanticCustomError(
                                "missing",
                                "{name} is required for {type}",
                                {"name": name, "type": self.type},
                            ),
                            loc=(name,),
                            input=None,
                        )
                    ],
                )
        return self


_REQUIRED_PER_TYPE = {
    "offer_id": ("operator_connected", "operator_failed"),
    "party_id": ("party_connected", "party_failed", "party_hung_up"),
    "url": ("recording_started", "voicemail_recorded"),
    "answer": ("manager_pin_answer",),
    "number": ("callback_requested",),
}


class LoginIn(_Strict):
    login: StrictStr = Field(min_length=1, max_length=64)
    password: StrictStr = Field(min_length=1, max_length=256)


class StatusIn(_Strict):
    status: Literal["ready", "not_ready", "offline"]
    reason: StrictStr | None = Field(None, max_length=64)


class AddressIn(_Strict):
    type: Literal["user", "sip", "pstn"]
    address: StrictStr = Field(min_length=1, max_length=256)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.type == "pstn" and not _PSTN.match(self.address):
            raise ValueError("a pstn address is a phone number such as +15551234567")
        if self.type == "sip" and not (
            self.address.startswith(("sip:", "sips:")) or "@" in self.address
        ):
            raise ValueError("a sip address is a SIP URI such as sip:alice@example.org")
        return self


class SkillIn(_Strict):
    name: StrictStr = Field(min_length=1, max_length=64)
    level: StrictInt = Field(1, ge=1, le=5)


class OperatorIn(_Strict):
    name: StrictStr = Field("", max_length=128)
    email: StrictStr = Field("", max_length=254)
    password: StrictStr | None = Field(None, min_length=8, max_length=256)
    role: Literal["operator", "supervisor", "admin"] = "operator"
    address: AddressIn
    groups: list[SkillIn] = Field(min_length=1, max_length=32)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if v and not _EMAIL.match(v):
            raise ValueError("not an e-mail address")
        return v

    @field_validator("groups")
    @classmethod
    def _unique(cls, v: list[SkillIn]) -> list[SkillIn]:
        names = [g.name for g in v]
        if len(set(names)) != len(names):
            raise ValueError("a group is listed twice")
        return v


LOGIN_PATTERN = re.compile(_LOGIN)
