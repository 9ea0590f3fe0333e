"""Platform use cases: a call arrives, the scenario reports, the scenario asks how long."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.adapters.documents import Doc, call_from
from backend.clock import new_id
from backend.domain import calls as call_rules
from backend.domain import parties as party_rules
from backend.domain.actions import SendCancel, SendRemoveParty, Step
from backend.domain.context import CallContext, choose_group, parse_custom_data
from backend.domain.estimates import estimated_wait_s
from backend.domain.fallback import ActionType
from backend.domain.model import Call, CallState, Media
from backend.presenters import call_view
from backend.services.affinity import Preference, pin_answered, pin_question, preference_for
from backend.services.engine import Engine
from backend.services.video import InviteRouting, route_invite, video_connected


@dataclass(frozen=True, slots=True)
class Arrival:
    session_id: str
    access_url: str
    access_secure_url: str | None
    caller: str
    destination: str
    display_name: str
    media: Media
    custom_data: str
    headers: dict[str, str] = field(default_factory=dict)


async def call_arrived(engine: Engine, a: Arrival) -> tuple[Doc, bool]:
    """Create (or, for a repeated session_id, find) the call and try to route it at once."""
    if (known := engine.feed.known_session(a.session_id)) is not None:
        return known, False  # the scenario retried
    settings = engine.settings
    data = parse_custom_data(a.custom_data)
    ctx = CallContext(a.caller, a.destination, a.media, a.headers, data)
    rules = tuple(r.to_rule() for r in settings.config.rules)
    priorities = {g.name: g.priority for g in settings.config.groups}
    group, priority = choose_group(ctx, rules, settings.config.routing.default_group, priorities)
    call_id = new_id()
    invite = InviteRouting()
    token = data.get("invite")
    if isinstance(token, str) and token and engine.invite_signer is not None:
        # A video call from an SMS link: the inviting operator first, in the voice call's group.
        invite = await route_invite(engine, engine.invites, engine.invite_signer, token, call_id)
        if invite.group is not None:
            group, priority = invite.group, priorities.get(invite.group, priority)
    now = engine.clock()
    customer_id = ctx.field("customer_id")
    pref = preference_for(engine, a.caller, customer_id, now)
    preferred = invite.preferred if invite.invite_id is not None else pref.preferred
    # Closed, or nobody who could take it: the group's action, followed through other groups.
    fb = engine.fallbacks
    res = fb.resolve(group, now) if fb is not None else None
    action = fb.action_doc(res) if fb is not None and res is not None else None
    if res is not None and res.group != group:
        group, pref = res.group, Preference(pref.manager, pref.contact_key, None, None)
        preferred = None
    if res is not None and res.action is not None and res.action.type is ActionType.GOODBYE:
        call = call_rules.refused_call(
            call_id, group, priority, a.media, now, res.why.value if res.why else "goodbye"
        )
    else:
        step = call_rules.new_call(
            call_id,
            group,
            priority,
            a.media,
            now,
            settings.policy(group),
            preferred,
            invite.invite_id,
            max_wait_s=fb.max_wait_s(group) if fb is not None else None,
        )
        assert step.state is not None
        call = step.state
    extra: Doc = {
        "session_id": a.session_id,
        "access_url": a.access_url,
        "access_secure_url": a.access_secure_url,
        "caller": a.caller,
        "destination": a.destination,
        "display_name": a.display_name,
        "custom_data": a.custom_data,
        "context": data,
        "headers": a.headers,
        "manager": pref.manager,
        "contact_key": pref.contact_key,
        "say": pref.say,
        "log": [
            {
                "at": now,
                "kind": "arrived",
                "group": group,
                "priority": priority,
                "waits_for": preferred,
                **({"invite": invite.extra["invite"]} if invite.extra else {}),
            }
        ],
        "action": action,
        **invite.extra,
    }
    if res is not None and res.why is not None:
        extra["log"].append(
            {
                "at": now,
                "kind": "fallback",
                "why": res.why.value,
                "path": list(res.path),
                "action": str(res.action) if res.action else None,
            }
        )
    engine.commands.remember_access_url(call.call_id, a.access_secure_url or a.access_url)
    if call.ended:
        return await engine.insert_final(call, extra, now)
    if res is not None and res.action is not None and res.action.type is ActionType.VOICEMAIL:
        recording = call_rules.start_voicemail(call, now, settings.policy(group))
        return await engine.insert_final(recording, extra, now)
    if res is not None and res.action is not None and res.action.type is ActionType.NUMBER:
        doc, created = await engine.insert_final(call, extra, now)
        if created and fb is not None and res.action.target:
            await fb.dial_number(call.call_id, res.action.target)
        return engine.call_doc(call.call_id) or doc, created
    return await engine.arrive(call, extra)


def call_status(engine: Engine, doc: Doc) -> dict[str, Any]:
    """What the scenario needs: state, and while queued the position and estimated wait."""
    view = call_view(doc)
    out: dict[str, Any] = {
        "call_id": view["call_id"],
        "state": view["state"],
        "group": view["group"],
        "media": view["media"],
        "outcome": view["outcome"],
    }
    if doc["state"] == CallState.QUEUED.value:
        call: Call = engine.view.call(doc["_id"]) or call_from(doc)
        # From the view: no query whose cost grows with the queue or the staff.
        position = engine.view.position(call)
        staffed = engine.view.ready_count(call.group)
        handle = engine.settings.policy(call.group).default_handle_time_s
        out["position"] = position
        # No promise the queue cannot keep: no estimate while nobody of the group is Ready.
        if staffed > 0:
            out["estimated_wait_s"] = estimated_wait_s(position, staffed, handle)
    if doc.get("action"):
        out["action"] = doc["action"]
    callbacks = engine.callbacks
    if doc["state"] == CallState.QUEUED.value and not doc.get("task") and callbacks is not None:
        offer = callbacks.offer()
        if offer is not None:
            out["callback"] = offer  # the key that asks for a callback, and the words for it
    if doc.get("task"):
        out["task"] = doc["task"]
    if doc.get("callback_number"):
        out["callback_number"] = doc["callback_number"]
    if doc.get("offer") and doc.get("task"):
        # The callback session reads whom to bridge from here.
        out["offer"] = {
            "offer_id": doc["offer"]["offer_id"],
            "operator": doc["offer"]["operator"],
            "target": doc["offer"]["target"],
        }
    return out


@dataclass(frozen=True, slots=True)
class Reaction:
    """Whether a report changed anything, and what the scenario should do next, if anything."""

    applied: bool
    next_command: dict[str, Any] | None = None


async def call_event(engine: Engine, call_id: str, event: dict[str, Any]) -> Reaction:
    """Apply one scenario report; stale or repeated reports change nothing."""
    kind = event["type"]
    now = engine.clock()
    entry: Doc = {"at": now, "kind": "event", **{k: v for k, v in event.items() if v is not None}}
    policy_for = engine.settings.policy
    offer_id = event.get("offer_id") or ""
    party_id = event.get("party_id") or ""
    facts = {"recording_started": "recording_url", "manager_pin_answer": "pin_answer"}
    if kind in facts:
        value = event.get("url") if kind == "recording_started" else event.get("answer")
        if not await engine.store.append_call_log(call_id, [entry], {facts[kind]: value}):
            raise LookupError(call_id)
        if kind == "manager_pin_answer":
            doc = engine.call_doc(call_id) or await engine.store.call_doc(call_id)
            assert doc is not None
            await pin_answered(engine, doc, str(value))
        return Reaction(True)

    def transition(call: Call, at: Any) -> Any:
        policy = policy_for(call.group)
        if kind == "voicemail_recorded":
            url = str(event.get("url") or "")
            return call_rules.voicemail_recorded(
                call, url, float(event.get("duration_s") or 0), at, policy
            )
        if kind == "callback_requested":
            number = str(event.get("number") or "")
            return call_rules.callback_requested(call, number, at, policy)
        if call.task is not None:
            # The caller's own session is over: only the callback session (its events carry
            # the offer under way) still speaks for the call.
            live = call.offer.offer_id if call.offer is not None else None
            if call.task != call_rules.CALLBACK or not offer_id or offer_id != live:
                return Step(None)
            if kind == "operator_failed" and event.get("party") == "caller":
                return call_rules.callback_not_answered(call, offer_id, at, policy)
        on_spare = call.state is CallState.OVERFLOW_OFFERING
        if kind == "operator_connected":
            if on_spare:
                return call_rules.spare_connected(call, offer_id, at, policy)
            return call_rules.offer_connected(call, offer_id, at, policy)
        if kind == "operator_failed":
            if on_spare:
                return call_rules.spare_failed(call, offer_id, at, policy)
            return call_rules.offer_failed(call, offer_id, int(event.get("code") or 0), at, policy)
        if kind == "caller_hung_up":
            stay = event.get("parties_stay") is True
            return party_rules.caller_hung_up(call, at, policy, others_stay=stay)
        if kind == "operator_hung_up":
            return call_rules.operator_hung_up(call, at)
        if kind == "session_ended":
            return call_rules.session_ended(call, at)
        if kind == "party_connected":
            return party_rules.party_connected(call, party_id, at, policy)
        if kind == "party_failed":
            code = int(event.get("code") or 0)
            return party_rules.party_failed(call, party_id, code, at, policy)
        if kind == "party_hung_up":
            return party_rules.party_left(call, party_id, at, policy, requested=False)
        raise ValueError(kind)

    call, applied = await engine.apply_call(call_id, transition, entry)
    if call is None:
        raise LookupError(call_id)
    # An ended call keeps the offer that rang when it ended, as a record: not a live one.
    live = () if call.state is CallState.ENDED else (call.offer, call.spare)
    current = {a.offer_id for a in live if a is not None}
    if kind == "operator_connected" and not applied and offer_id not in current:
        # The scenario bridged an operator the backend had already given up on (the answer
        # came after the offer expired): hang that leg up, or two operators may talk to one
        # caller while the call is offered again. Sent before the reply: a process killed
        # after a 2xx would lose it, the scenario would not report again, and the operator,
        # free in the database, could be put through to another call with this leg still up.
        await engine.run((SendCancel(call_id, offer_id),))
    if kind == "party_connected" and not applied:
        # A leg the backend had already given up on (it rang out, or was taken back).
        await engine.run((SendRemoveParty(call_id, party_id),))
    if kind == "operator_connected" and applied and call.invite_id is not None:
        doc = engine.call_doc(call_id) or await engine.store.call_doc(call_id)
        if doc is not None:
            await video_connected(engine, engine.invites, doc)
    if kind == "operator_hung_up" and applied and call.state is CallState.ENDED:
        # Answered in the reply, not as a command: the scenario is about to say goodbye.
        doc = engine.call_doc(call_id)
        if doc is not None and doc.get("state") == "ended":
            return Reaction(True, pin_question(engine, doc))
    return Reaction(applied)
