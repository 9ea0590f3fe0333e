"""Voice to video (seed 000): the SMS invitation, the link's page, the video call routed back to
the inviting operator, and the invitation's figures.

The operator's side is in the core (backend/domain/operators.py: the invitation on the operator,
Video Reserved after the voice call). Here: what the invitation writes (one invitation document,
one guarded operator write, one call-log entry, and only after the SMS has gone), what the page
may do with a link, and how a video call that carries the link's token is routed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backend.adapters.documents import Doc, iso
from backend.adapters.invite_store import InviteStore
from backend.adapters.voximplant_api import (
    MAX_SMS_BODY,
    ManagementApi,
    ManagementApiError,
    ManagementApiUnavailable,
)
from backend.auth import InviteClaims, InviteSigner
from backend.clock import new_id
from backend.domain import operators as op_rules
from backend.domain.actions import Refused
from backend.domain.manager import ManagerState, manager_state
from backend.domain.model import Activity, Operator
from backend.services.desk import DeskError
from backend.services.desk_media import full_username, one_time_hash, password_digest
from backend.services.engine import Engine

log = logging.getLogger(__name__)

# A number an SMS can reach: digits with the country code (SIP URIs and Web SDK users cannot).
PHONE = re.compile(r"^\+?[0-9]{6,16}$")
ORIGIN = "sms"
CUSTOM_DATA_MAX = 200  # bytes of customData a Web SDK call carries

# The page's words, by language. [video] languages picks one by the caller's country code.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Video call",
        "waiting": "{operator} is waiting for you on video.",
        "steps": "1. End your phone call now. 2. Then tap the button (or refresh this page).",
        "start": "Start video call",
        "calling": "Calling…",
        "connected": "Connected: you are on video with {operator}.",
        "ended": "The video call has ended. Thank you!",
        "hang_up": "End the video call",
        "failed": "The video call could not start: {reason}. Tap the button to try again.",
        "invalid": "This link is not valid. Please ask us for a new one.",
        "expired": "This link has expired. Please call us again and ask for a new one.",
        "superseded": "A newer invitation was sent to you: please open the link in the latest SMS.",
        "started": "Your video call has already started. You can close this page.",
        "unavailable": "Video calls are not available right now. Please call us instead.",
    },
    "it": {
        "title": "Videochiamata",
        "waiting": "{operator} ti aspetta in video.",
        "steps": "1. Chiudi ora la telefonata. 2. Poi tocca il pulsante (o ricarica la pagina).",
        "start": "Avvia la videochiamata",
        "calling": "Chiamata in corso…",
        "connected": "Connesso: sei in video con {operator}.",
        "ended": "La videochiamata è terminata. Grazie!",
        "hang_up": "Chiudi la videochiamata",
        "failed": "La videochiamata non è partita: {reason}. Tocca il pulsante per riprovare.",
        "invalid": "Questo link non è valido. Chiedici un nuovo link.",
        "expired": "Questo link è scaduto. Richiamaci e chiedi un nuovo link.",
        "superseded": "Ti abbiamo inviato un invito più recente: apri il link dell'ultimo SMS.",
        "started": "La tua videochiamata è già iniziata. Puoi chiudere questa pagina.",
        "unavailable": "Le videochiamate non sono disponibili ora. Chiamaci al telefono.",
    },
}
# The page's answer for each state of a link.
PAGE_STATUS = {"invalid": 400, "expired": 410, "superseded": 410, "started": 409, "valid": 200}


def sms_body(template: str, link: str, operator: str) -> str:
    return template.format(link=link, operator=operator)


# -- the invitation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    invite_id: str
    link: str
    expires_at: datetime
    sms: str  # "sent" through the API, or "logged" (development mode without credentials)


async def send_invite(
    engine: Engine,
    invites: InviteStore,
    signer: InviteSigner,
    api: ManagementApi | None,
    call_id: str,
    requester: str | None,
) -> Sent:
    """Text the caller a link to continue by video. `requester` None: a supervisor or an
    administrator, who may invite on any call (for its operator). Nothing is written unless
    the SMS has gone (or, in development without credentials, been logged)."""
    settings = engine.settings
    cfg = settings.config.video
    call = await engine.store.call_doc(call_id)
    if call is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    login = call.get("operator")
    # The operator ringing for the call owns it until one is written; after a takeover or a
    # transfer only the new owner may text the caller (the first one's offer stays on record).
    owner = login or (call.get("offer") or {}).get("operator")
    if requester is not None and requester != owner:
        raise DeskError(403, "forbidden", "this call is not yours", "call_id")
    if call["state"] != "connected" or not login:
        raise DeskError(409, "not_connected", f"call {call_id} is not connected to an operator")
    if call.get("media") == "video":
        raise DeskError(409, "already_video", "this call is already a video call")
    phone = str(call.get("caller") or "")
    if not PHONE.match(phone):
        raise DeskError(
            409,
            "no_phone_number",
            "the caller has no phone number (a SIP or Web SDK caller): an SMS cannot reach them",
        )
    op = await engine.operator(login, fresh=True)
    on_call = (Activity.IN_CALL, Activity.OFFERED)  # offered: the answer is being written
    if op is None or op.activity not in on_call or op.call_id != call_id:
        raise DeskError(409, "not_on_call", f"{login} is not on call {call_id} now")
    profile = await engine.store.operator_doc(login) or {}
    now = engine.clock()
    invite_id = new_id()[:16]
    token = signer.issue(invite_id, str(profile.get("email") or ""), phone)
    link = f"{settings.public_url.rstrip('/')}/video/{token}"
    if len(_custom_data(token).encode()) > CUSTOM_DATA_MAX:
        # The Web SDK carries at most 200 bytes of customData: a very long email makes the
        # token too long for the page's call to carry it whole.
        log.warning("invite for call %s: the token is too long for customData", call_id)
    text = sms_body(cfg.sms_text, link, str(profile.get("name") or login))
    if len(text) > MAX_SMS_BODY:
        raise DeskError(
            409, "sms_too_long", f"the SMS would be {len(text)} characters ({MAX_SMS_BODY} at most)"
        )
    mode = await _deliver(engine, api, cfg.sms_source, phone, text, call_id)
    try:
        await engine.apply_operator(
            login, lambda o, at: op_rules.video_invited(o, call_id, invite_id, at)
        )
    except Refused as e:
        # The call ended while the SMS went out: the link will reach the group as any video call.
        raise DeskError(409, e.code, f"{e.message}; the SMS was sent but reserves nobody") from None
    expires_at = now + timedelta(seconds=cfg.invite_ttl_s)
    await invites.insert(
        {
            "_id": invite_id,
            "voice_call_id": call_id,
            "operator": login,
            "email": profile.get("email") or "",
            "phone": phone,
            "origin": ORIGIN,
            "group": call["group"],
            "sent_at": now,
            "expires_at": expires_at,
            "sms": mode,
            "superseded": False,
            "opened_at": None,
            "video_call_id": None,
            "connected_at": None,
        }
    )
    entry: Doc = {
        "at": now,
        "kind": "video_invite",
        "invite_id": invite_id,
        "operator": login,
        "to": phone,
        "link": link,
        "expires_at": expires_at,
        "sms": mode,
    }
    if mode == "logged":
        entry["text"] = text
    await engine.store.append_call_log(call_id, [entry])
    return Sent(invite_id, link, expires_at, mode)


async def _deliver(
    engine: Engine, api: ManagementApi | None, source: str, phone: str, text: str, call_id: str
) -> str:
    if api is None:
        if engine.settings.mode != "development":
            raise DeskError(
                503,
                "sms_not_configured",
                "SMS cannot be sent: VOXIMPLANT_CREDENTIALS is not set",
            )
        # Development: the message goes to the call's log (written with the invitation) and
        # to the console, where whoever runs the backend can open the link.
        print(f"switchboard: SMS to {phone} (development, not sent): {text}", flush=True)
        log.warning(
            "call %s: SMS to %s not sent (no VOXIMPLANT_CREDENTIALS): %s", call_id, phone, text
        )
        return "logged"
    if not source:
        raise DeskError(
            409, "sms_not_configured", "SMS cannot be sent: [video] sms_source is not set"
        )
    try:
        await api.send_sms(source, phone, text)
    except ManagementApiError as e:
        raise DeskError(
            502, "sms_refused", f"the SMS was not sent: {e.message} (Voximplant code {e.code})"
        ) from None
    except ManagementApiUnavailable as e:
        raise DeskError(
            503, "sms_unavailable", f"the SMS was not sent: Voximplant did not answer ({e.last})"
        ) from None
    return "sent"


async def release(engine: Engine, login: str) -> Operator | None:
    """The operator stops waiting for the video call."""
    try:
        return await engine.apply_operator(login, op_rules.release_video)
    except Refused as e:
        raise DeskError(409, e.code, e.message) from None


# -- a link: the page, and the video call it starts --------------------------------------


@dataclass(frozen=True, slots=True)
class LinkState:
    status: str  # valid, invalid, expired, superseded, started
    claims: InviteClaims | None = None
    invite: Doc | None = None


async def link_state(invites: InviteStore, signer: InviteSigner, token: str) -> LinkState:
    claims = signer.read(token)
    if isinstance(claims, str):
        return LinkState(claims)
    invite = await invites.get(claims.invite_id)
    if invite is None or invite.get("phone") != claims.phone:
        return LinkState("invalid", claims)
    if invite.get("video_call_id"):
        return LinkState("started", claims, invite)
    if invite.get("superseded"):
        return LinkState("superseded", claims, invite)
    return LinkState("valid", claims, invite)


def language_for(engine: Engine, phone: str) -> str:
    cfg = engine.settings.config.video
    digits = phone.lstrip("+")
    best = ""
    for prefix, lang in cfg.languages.items():
        if digits.startswith(prefix) and len(prefix) > len(best) and lang in TEXTS:
            best = prefix
    return cfg.languages[best] if best else cfg.default_language


async def page(
    engine: Engine, invites: InviteStore, signer: InviteSigner, token: str
) -> dict[str, Any]:
    """What the end-user's page shows for this link (the first view is stamped `opened_at`)."""
    state = await link_state(invites, signer, token)
    phone = state.claims.phone if state.claims else ""
    lang = language_for(engine, phone)
    out: dict[str, Any] = {"status": state.status, "http_status": PAGE_STATUS[state.status]}
    out["lang"] = lang if lang in TEXTS else "en"
    texts = TEXTS[out["lang"]]
    out["texts"] = texts
    if state.status != "valid" or state.invite is None:
        out["message"] = texts[state.status]
        return out
    invite = state.invite
    await invites.stamp(invite["_id"], "opened_at", engine.clock())
    profile = await engine.store.operator_doc(invite["operator"]) or {}
    name = str(profile.get("name") or invite["operator"])
    vox = engine.settings.config.voximplant
    ready = bool(vox.account and vox.application and engine.settings.voximplant_guest_password)
    out.update(
        operator=name,
        message=texts["waiting"].format(operator=name),
        media={
            "enabled": ready,
            "username": full_username(vox, guest_user(engine, invite["_id"])) if ready else None,
            "node": vox.node or None,
            "number": engine.settings.config.video.destination,
            "custom_data": _custom_data(token),
        },
    )
    if not ready:
        out["message"] = texts["unavailable"]
    return out


def _custom_data(token: str) -> str:
    return '{"invite":"' + token + '"}'


def guest_user(engine: Engine, invite_id: str) -> str:
    """The application user this link logs in as: one of [video] guest_users, the same for the
    same link (a one-time key asked for one user on another device voids the first one's)."""
    users = engine.settings.config.video.guest_users
    return users[int(hashlib.sha256(invite_id.encode()).hexdigest(), 16) % len(users)]


async def page_login(
    engine: Engine, invites: InviteStore, signer: InviteSigner, token: str, key: str
) -> dict[str, str]:
    """The one-time-key hash for the page's guest login, while the link is valid."""
    state = await link_state(invites, signer, token)
    if state.status != "valid" or state.invite is None:
        raise DeskError(
            PAGE_STATUS[state.status], f"link_{state.status}", TEXTS["en"][state.status]
        )
    vox = engine.settings.config.voximplant
    password = engine.settings.voximplant_guest_password
    if not (vox.account and vox.application and password):
        raise DeskError(409, "media_not_configured", TEXTS["en"]["unavailable"])
    user = guest_user(engine, state.invite["_id"])
    return {
        "username": full_username(vox, user),
        "hash": one_time_hash(key, password_digest(user, password)),
    }


@dataclass(frozen=True, slots=True)
class InviteRouting:
    """How a call carrying an invitation token is routed."""

    invite_id: str | None = None
    preferred: str | None = None
    group: str | None = None
    extra: Doc = field(default_factory=dict)


async def route_invite(
    engine: Engine, invites: InviteStore, signer: InviteSigner, token: str, call_id: str
) -> InviteRouting:
    """A call whose custom_data names an invitation: to the inviting operator first when they
    are in Video Reserved for it, routable, or still busy with the voice call (waiting for them
    a while); otherwise to the group of the voice call. An invalid, expired, superseded or
    already used token is routed as an ordinary call."""
    state = await link_state(invites, signer, token)
    if state.status != "valid" or state.invite is None:
        return InviteRouting(extra={"invite": {"status": state.status}})
    invite = state.invite
    now = engine.clock()
    if not await invites.claim_video_call(invite["_id"], call_id, now):
        return InviteRouting(extra={"invite": {"status": "started"}})
    login = invite["operator"]
    op = engine.view.operator(login) or await engine.operator(login)
    preferred: str | None = None
    if op is not None and manager_state(op, now) is not ManagerState.AWAY:
        mine = op.video_invite == invite["_id"]
        if op.routable or mine or (op.call_id == invite["voice_call_id"]):
            preferred = login
    group = invite["group"] if engine.settings.group(invite["group"]) else None
    return InviteRouting(
        invite_id=invite["_id"],
        preferred=preferred,
        group=group,
        extra={
            "invite": {
                "status": "valid",
                "invite_id": invite["_id"],
                "operator": login,
                "voice_call_id": invite["voice_call_id"],
                "phone": invite["phone"],
            },
            "previous_call_id": invite["voice_call_id"],
        },
    )


async def video_connected(engine: Engine, invites: InviteStore, call: Doc) -> None:
    """A call from an invitation reached an operator: the conversion the reports count."""
    invite = call.get("invite") or {}
    if invite.get("status") != "valid" or not call.get("operator"):
        return
    await invites.stamp(
        invite["invite_id"],
        "connected_at",
        call.get("connected_at") or engine.clock(),
        connected_operator=call["operator"],
    )


# -- reports -----------------------------------------------------------------------------


async def report(
    engine: Engine, invites: InviteStore, since: datetime, until: datetime
) -> dict[str, Any]:
    """Invitations sent, opened, started as a video call and connected (to the inviting
    operator or another), and every operator's time in Video Reserved, in [since, until)."""
    sent = await invites.sent_between(since, until)
    per_op: dict[str, dict[str, Any]] = {}

    def row(login: str) -> dict[str, Any]:
        return per_op.setdefault(
            login,
            {
                "operator": login,
                "invites": 0,
                "connected_same_operator": 0,
                "video_reserved_s": 0.0,
                "video_reserved_times": 0,
            },
        )

    for inv in sent:
        r = row(inv["operator"])
        r["invites"] += 1
        if inv.get("connected_operator") == inv["operator"]:
            r["connected_same_operator"] += 1
    await engine.history.flush()
    cursor = engine.store.status_log.find(
        {"value": Activity.VIDEO_RESERVED.value, "end": {"$gt": since}}
    )
    async for interval in cursor:
        start, end = max(interval["start"], since), min(interval["end"], until)
        if end <= start:
            continue
        r = row(interval["operator"])
        r["video_reserved_s"] = round(r["video_reserved_s"] + (end - start).total_seconds(), 3)
        r["video_reserved_times"] += 1
    count = len(sent)
    opened = sum(1 for i in sent if i.get("opened_at"))
    arrived = sum(1 for i in sent if i.get("video_call_id"))
    connected = sum(1 for i in sent if i.get("connected_at"))
    same = sum(1 for i in sent if i.get("connected_operator") == i["operator"])
    return {
        "from": iso(since),
        "to": iso(until),
        "invites": {
            "sent": count,
            "opened": opened,
            "video_calls": arrived,
            "connected": connected,
            "connected_same_operator": same,
            "conversion": round(same / count, 3) if count else None,
        },
        "operators": sorted(per_op.values(), key=lambda r: r["operator"]),
    }
