"""The services' small pure helpers (video, parties, supervise), whole, with no app: the first
tests mutmut runs against their mutants."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from backend.domain.actions import Refused
from backend.domain.model import Activity, Address, Operator, Presence, Skill, TargetType
from backend.services import parties, supervise, video
from backend.services.desk import DeskError
from backend.services.engine import Engine
from backend.services.parties import Actor, Target
from backend.settings import load_settings

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _error(e: DeskError) -> tuple[int, str, str, str | None]:
    return e.status, e.code, e.message, e.field


def _engine(tmp_path: Path, text: str) -> Engine:
    """Only the settings of an engine: what these helpers read."""
    config = tmp_path / "c.toml"
    config.write_text('rules = []\n[[groups]]\nname = "default"\n' + text)
    return cast(
        Engine, SimpleNamespace(settings=load_settings({"SWITCHBOARD_CONFIG": str(config)}))
    )


def test_the_video_helpers(tmp_path: Path) -> None:
    assert (
        video.sms_body("{operator}: {link}", "https://x/video/t", "Ann") == "Ann: https://x/video/t"
    )
    assert video._custom_data("tok") == '{"invite":"tok"}'
    engine = _engine(
        tmp_path,
        '[video]\nguest_users = ["g0", "g1", "g2"]\ndefault_language = "it"\n'
        'languages = {"39" = "it", "3" = "en", "393" = "xx", "44" = "en"}\n',
    )
    phones = ("+393331234567", "3312345678", "+447700900123", "+15551230001", "")
    assert [video.language_for(engine, p) for p in phones] == ["it", "en", "en", "it", "it"]
    for invite_id in ("a", "b", "g", "inv-1"):
        n = int(hashlib.sha256(invite_id.encode()).hexdigest(), 16) % 3
        assert video.guest_user(engine, invite_id) == f"g{n}"
    assert [video.guest_user(engine, i) for i in ("a", "b", "g")] == ["g1", "g2", "g0"]


def _op(presence: Presence, activity: Activity) -> Operator:
    return Operator(
        login="ann",
        address=Address(TargetType.USER, "ann"),
        groups=(Skill("default", 1),),
        presence=presence,
        presence_since=T0,
        activity=activity,
        activity_since=T0,
        idle_since=T0,
    )


def test_the_party_and_supervise_helpers() -> None:
    assert Target("group", "sales").label() == "group sales"
    assert Target("operator", "bob").label() == "bob"
    assert Target("number", "+15551230001").label() == "+15551230001"
    assert _error(parties._refused(Refused("code", "words"))) == (409, "code", "words", None)
    assert _error(supervise._refused(Refused("code", "words"))) == (409, "code", "words", None)
    for presence, activity, state in (
        (Presence.OFFLINE, Activity.IDLE, "offline"),
        (Presence.NOT_READY, Activity.IDLE, "not_ready"),
        (Presence.READY, Activity.WRAP_UP, "wrap_up"),
    ):
        assert _error(parties._not_routable(_op(presence, activity))) == (
            409,
            "not_routable",
            f"operator ann is not routable now: {state}",
            "to.address",
        )
    assert supervise._require_supervisor(Actor("sue", True)) == "sue"
    for actor, refusal in (
        (Actor("ann", False), ("forbidden", "only supervisors and administrators may supervise")),
        (Actor(None, False), ("forbidden", "only supervisors and administrators may supervise")),
        (
            Actor(None, True),
            ("login_required", "supervising dials your own media user: log in as yourself"),
        ),
    ):
        with pytest.raises(DeskError) as refused:
            supervise._require_supervisor(actor)
        assert _error(refused.value) == (403, *refusal, None)
