"""Settings: config/default.toml, then the files in SWITCHBOARD_CONFIG, then the environment."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from datetime import date, time
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.domain.context import Rule
from backend.domain.fallback import FallbackAction, GroupRules, find_loop, parse_action
from backend.domain.model import Media, Strategy
from backend.domain.overflow import Hours, Spare
from backend.domain.policy import RoutingPolicy

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "default.toml"
ENV_KEYS = ("MONGODB_URL", "PORT", "PUBLIC_URL", "SECRET_KEY", "PLATFORM_TOKEN", "ADMIN_TOKEN")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    port: int = Field(8080, ge=0, le=65535)
    # Where operators and the scenario reach this backend; empty: http://localhost:<port>.
    public_url: str = ""
    embedded_db_path: str = "var/db"
    # 0: each data folder picks a free port once and remembers it in the folder.
    embedded_db_port: int = Field(0, ge=0, le=65535)
    # Client connections one process holds at most (also bounded by its descriptor limit).
    max_connections: int = Field(4096, ge=1)


class RoutingConfig(_Strict):
    default_group: str = "default"
    strategy: Strategy = Strategy.LONGEST_IDLE
    # The platform takes VI-CallTimeout between 10 and 400 s.
    ring_timeout_s: int = Field(25, ge=10, le=400)
    offer_grace_s: int = Field(5, ge=1, le=60)
    no_answer_delay_s: int = Field(30, ge=0)
    max_no_answer: int = Field(3, ge=1)
    ban_minutes: float = Field(5, gt=0)
    ban_cap_minutes: float = Field(120, gt=0)
    wrap_up_s: int = Field(15, ge=0)
    presence_grace_s: float = Field(30, gt=0)
    heartbeat_interval_s: float = Field(10, gt=0)
    sweep_interval_s: float = Field(2, gt=0)
    queued_check_s: int = Field(60, ge=1)
    in_call_check_s: int = Field(600, ge=10)
    # After an overflow round in which no spare number took the call, wait this long.
    overflow_retry_s: int = Field(30, ge=1)
    default_handle_time_s: int = Field(180, ge=1)


class OperatorsConfig(_Strict):
    not_ready_reasons: tuple[str, ...] = ("break", "lunch", "meeting", "training")


class PlatformConfig(_Strict):
    request_timeout_s: float = Field(5.0, gt=0, le=60)
    attempts: int = Field(3, ge=1, le=10)
    backoff_s: float = Field(0.25, ge=0, le=10)
    callerid: str = ""


class MessagesConfig(_Strict):
    queued: str = ""
    # No caller left waiting for nobody: why the call cannot wait here ...
    closed: str = "We are closed right now."
    no_agents: str = "No operator is available to take your call right now."
    max_wait: str = "We are sorry to keep you waiting so long."
    # ... and what happens next (after the reason, in one announcement).
    goodbye: str = "Please call again later. Thank you for calling. Goodbye."
    to_group: str = "We are putting you through to another team. Please stay on the line."
    to_number: str = "We are putting you through. Please stay on the line."
    voicemail: str = "Please leave a message after the tone. Hang up when you are done."
    callback: str = "We will call you back as soon as an operator is free."
    # A fallback number that did not answer.
    number_failed: str = "We could not put you through. Please call again later. Goodbye."


class VoicemailConfig(_Strict):
    # The longest message a caller may leave (the scenario stops recording then).
    max_length_s: int = Field(120, ge=5, le=3600)


class CallbackConfig(_Strict):
    """Queued callback: needs VOXIMPLANT_CREDENTIALS and a rule that runs the scenario."""

    enabled: bool = False
    # The rule StartScenarios runs (its scenarios: config, then inbound.voxengine.js).
    rule_id: int = Field(0, ge=0)
    rule_name: str = ""
    # The key a waiting caller presses to be called back instead of holding.
    key: str = Field("*", pattern=r"^[0-9*#]$")
    offer_text: str = "To be called back instead of waiting, press star."
    # An unanswered callback is tried again after retry_s, max_attempts times in all; then it
    # becomes a task for an operator of the group, like a voicemail.
    retry_s: int = Field(300, ge=1)
    max_attempts: int = Field(3, ge=1, le=20)

    @model_validator(mode="after")
    def _rule(self) -> Self:
        if self.enabled and not (self.rule_id or self.rule_name):
            raise ValueError("callback.rule_id or callback.rule_name: needed when enabled")
        return self


class CenterConfig(_Strict):
    # The center's time zone: groups' hours and holidays are in it unless a group says
    # otherwise; "today", report intervals and CSV times are in it.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_tz(v)


class DeskConfig(_Strict):
    """The operator desk: disposition codes and the contact's editable personal fields."""

    dispositions: tuple[str, ...] = ()
    # Recorded when the wrap-up timer ends a call whose group requires a code and none was
    # chosen: routing goes on, and reports can count the calls nobody classified.
    timeout_disposition: str = Field("wrap_up_expired", min_length=1, max_length=64)
    personal_fields: tuple[str, ...] = ()
    history_limit: int = Field(default=10, ge=0, le=100)


class CrmConfig(_Strict):
    """An optional CRM lookup: GET url?phone=…&customer_id=… answering a JSON object."""

    url: str = ""
    timeout_s: float = Field(default=2.0, gt=0, le=30)


class VoximplantConfig(_Strict):
    """Web SDK login for the desk (empty account or application: media is not connected), and
    the Management API (SMS, StartScenarios) with the key named by VOXIMPLANT_CREDENTIALS."""

    account: str = ""
    application: str = ""
    node: str = ""
    api_url: str = Field("https://api.voximplant.com/platform_api", pattern=r"^https?://\S+$")
    # The application's id for StartScenarios; 0: the application is named by `application`.
    application_id: int = Field(0, ge=0)
    # Per attempt; attempts are retried (doubling back-off) on 5xx, timeouts, connection errors.
    request_timeout_s: float = Field(5.0, gt=0, le=60)
    attempts: int = Field(3, ge=1, le=10)
    backoff_s: float = Field(0.5, ge=0, le=10)


def _check_tz(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}") from None
    return v


def _check_action(v: str | None) -> str | None:
    if v is not None and v != "":
        parse_action(v)
    return v


class VideoConfig(_Strict):
    """Voice to video through an SMS link (seed 000)."""

    # How long the link in the SMS works.
    invite_ttl_s: int = Field(900, ge=60, le=7 * 86400)
    # After the voice call (and its wrap-up) the operator waits this long for the video call.
    reserve_s: int = Field(300, ge=0, le=3600)
    # A video call whose operator is still busy with the voice call waits this long for them.
    wait_s: int = Field(60, ge=0, le=3600)
    # The SMS's sender: a number rented in the account with SMS enabled (ControlSms).
    sms_source: str = Field("", pattern=r"^(\+?[0-9]{3,16})?$")
    # The SMS text; {link} and {operator} are filled in (at most 765 characters in all).
    sms_text: str = Field(
        "{operator} invites you to continue your call by video: {link}",
        min_length=1,
        max_length=600,
    )
    # What the end-user's page dials with the Web SDK (a routing rule pattern that runs the
    # scenario), and the application's users it logs in as, with a one-time key the backend
    # signs (their password is VOXIMPLANT_GUEST_PASSWORD, never in this file).
    destination: str = Field("video", min_length=1, max_length=64)
    guest_users: tuple[str, ...] = ("video-guest",)
    # The page's language by the caller's number: country code prefix (digits) → language.
    languages: dict[str, str] = Field(default_factory=dict)
    default_language: str = "en"

    @field_validator("sms_text")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        if "{link}" not in v:
            raise ValueError("must contain {link}")
        try:
            v.format(link="", operator="")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"only {{link}} and {{operator}} may be filled in ({e})") from None
        return v


class GroupSettings(_Strict):
    """A `[[groups]]` entry without its name: what PUT /api/v1/groups/{name} takes."""

    priority: int = Field(50, ge=1, le=100)
    strategy: Strategy | None = None
    wrap_up_s: int | None = Field(None, ge=0)
    # The operator cannot finish wrap-up on a call of this group without a disposition code.
    require_disposition: bool = False
    # Overflow: a call still waiting this long goes to one of these spare numbers.
    overflow_after_s: int = Field(60, ge=0)
    spares: tuple[str, ...] = ()
    # Staffing advice: the service level this group aims at (default: [supervision]).
    target_service_level: float | None = Field(None, gt=0, lt=1)
    # Business hours (the spare numbers' format; empty: always open), in `timezone` (default:
    # [center] timezone), and holidays (local dates, closed all day).
    hours: tuple[str, ...] = ()
    timezone: str | None = None
    holidays: tuple[str, ...] = ()
    # Actions: "goodbye", "voicemail", "callback", "group:<name>", "number:<E.164>".
    # Closed with no action: goodbye. No agents with no action: the call waits (no estimate).
    closed_action: str | None = None
    no_agents_action: str | None = None
    # A call waiting this long gets max_wait_action (both or neither).
    max_wait_s: int | None = Field(None, ge=1)
    max_wait_action: str | None = None

    @field_validator("hours")
    @classmethod
    def _group_hours(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            parse_hours(text)
        return v

    @field_validator("timezone")
    @classmethod
    def _group_tz(cls, v: str | None) -> str | None:
        return None if v is None else _check_tz(v)

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            try:
                date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{text!r}: expected a date like 2026-12-25") from None
        return v

    @field_validator("closed_action", "no_agents_action", "max_wait_action")
    @classmethod
    def _actions(cls, v: str | None) -> str | None:
        return _check_action(v)

    @model_validator(mode="after")
    def _max_wait_pair(self) -> Self:
        if (self.max_wait_s is None) != (not self.max_wait_action):
            raise ValueError("max_wait_s and max_wait_action: set both or neither")
        return self


GROUP_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


class GroupConfig(GroupSettings):
    name: str = Field(min_length=1, max_length=64, pattern=GROUP_NAME_PATTERN)

    def actions(self) -> tuple[FallbackAction | None, ...]:
        return tuple(
            parse_action(a) if a else None
            for a in (self.closed_action, self.no_agents_action, self.max_wait_action)
        )

    def to_rules(self, center_tz: str) -> GroupRules:
        closed, no_agents, max_wait = self.actions()
        return GroupRules(
            name=self.name,
            hours=tuple(parse_hours(h) for h in self.hours),
            tz=ZoneInfo(self.timezone or center_tz),
            holidays=frozenset(date.fromisoformat(d) for d in self.holidays),
            closed_action=closed,
            no_agents_action=no_agents,
            max_wait_s=self.max_wait_s,
            max_wait_action=max_wait,
        )


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(text: str) -> Hours:
    """'mon-fri 09:00-18:00', 'sat,sun 10:00-14:00', 'fri 22:00-06:00' (past midnight)."""
    m = _HOURS.match(text.lower())
    if not m:
        raise ValueError(f"{text!r}: expected like 'mon-fri 09:00-18:00'")
    days: set[int] = set()
    for part in m.group(1).split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"{text!r}: days are mon, tue, wed, thu, fri, sat, sun")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    h1, m1, h2, m2 = (int(x) for x in m.group(2, 3, 4, 5))
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r}: not a time of day")
    end = time(0, 0) if h2 == 24 else time(h2, m2)
    return Hours(frozenset(days), time(h1, m1), end)


class SpareConfig(_Strict):
    number: str = Field(pattern=r"^\+?[0-9]{3,16}$")
    name: str = ""
    max_concurrent: int = Field(1, ge=1)
    daily_cap: int = Field(50, ge=0)
    timezone: str = "UTC"
    # Weekday ranges in the spare's time zone; empty: any time.
    hours: tuple[str, ...] = ()
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            parse_hours(text)
        return v

    def to_spare(self) -> Spare:
        return Spare(
            number=self.number,
            name=self.name or self.number,
            max_concurrent=self.max_concurrent,
            daily_cap=self.daily_cap,
            hours=tuple(parse_hours(h) for h in self.hours),
            tz=ZoneInfo(self.timezone),
            enabled=self.enabled,
        )


class SupervisionConfig(_Strict):
    """Service level, staffing targets and the live floor's amber and red thresholds."""

    # Answered within this many seconds of entering the queue counts towards service level.
    service_level_s: int = Field(20, ge=1)
    # Callers who give up within this many seconds are left out of service level.
    short_abandon_s: int = Field(5, ge=0)
    # The service level staffing advice aims at (a group may set its own).
    target_service_level: float = Field(0.8, gt=0, lt=1)
    # A group's longest wait turns amber, then red, at these many seconds.
    longest_wait_amber_s: int = Field(30, ge=1)
    longest_wait_red_s: int = Field(90, ge=1)
    # Today's service level turns amber, then red, below these.
    service_level_amber: float = Field(0.8, ge=0, le=1)
    service_level_red: float = Field(0.6, ge=0, le=1)
    # The live floor goes to supervisors' sockets at most this often (changes in between
    # are sent together).
    floor_push_interval_s: float = Field(0.5, gt=0, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.longest_wait_red_s < self.longest_wait_amber_s:
            raise ValueError("longest_wait_red_s: must not be below longest_wait_amber_s")
        if self.service_level_red > self.service_level_amber:
            raise ValueError("service_level_red: must not be above service_level_amber")
        return self


class ManagerConfig(_Strict):
    # How long a call waits for its busy manager before its group takes it.
    wait_s: int = Field(30, ge=0)
    # Spoken when the manager is marked absent; {name}, {reason}, {until} are filled in.
    absent_text: str = (
        "Your manager {name} is away until {until}. Another specialist will help you."
    )
    # Spoken when the manager is marked absent with no end date; {name}, {reason}.
    absent_open_text: str = "Your manager {name} is away. Another specialist will help you."
    # Spoken when the manager is simply not available now.
    away_text: str = (
        "Your manager {name} is not available right now. Another specialist will help you."
    )
    # After a call of a caller without a manager, ask whether this operator should be theirs.
    pin_enabled: bool = True
    pin_question: str = (
        "Would you like {name} to answer your calls from now on? "
        "Say yes or no, or press 1 for yes and 2 for no."
    )
    pin_timeout_s: int = Field(8, ge=2, le=60)


def _compiles(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as e:
        # re.error is no ValueError: pydantic would let it through as a traceback.
        raise ValueError(f"not a valid regular expression {pattern!r}: {e}") from None


class RuleConfig(_Strict):
    group: str
    priority: int | None = Field(None, ge=1, le=100)
    category: str | None = None
    page: str | None = None
    customer_id: str | None = None
    kiosk: str | None = None
    destination: str | None = None
    media: Media | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("category", "page", "customer_id", "kiosk", "destination")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            _compiles(value)
        return value

    @field_validator("headers")
    @classmethod
    def _header_regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                _compiles(pattern)
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
        return value

    def to_rule(self) -> Rule:
        fields = {
            name: re.compile(pattern)
            for name in ("category", "page", "customer_id", "kiosk")
            if (pattern := getattr(self, name)) is not None
        }
        return Rule(
            group=self.group,
            priority=self.priority,
            fields=fields,
            destination=re.compile(self.destination) if self.destination else None,
            media=self.media,
            headers={k: re.compile(v) for k, v in self.headers.items()},
        )


class CallsConfig(_Strict):
    """Calls with more than two parties (hold, help, conference, transfer)."""

    # The caller included: 3 is a three-party call; the platform allows far more.
    max_parties: int = Field(6, ge=3, le=20)


class AppConfig(_Strict):
    server: ServerConfig = ServerConfig()
    routing: RoutingConfig = RoutingConfig()
    operators: OperatorsConfig = OperatorsConfig()
    platform: PlatformConfig = PlatformConfig()
    messages: MessagesConfig = MessagesConfig()
    center: CenterConfig = CenterConfig()
    voicemail: VoicemailConfig = VoicemailConfig()
    callback: CallbackConfig = CallbackConfig()
    desk: DeskConfig = DeskConfig()
    crm: CrmConfig = CrmConfig()
    voximplant: VoximplantConfig = VoximplantConfig()
    manager: ManagerConfig = ManagerConfig()
    calls: CallsConfig = CallsConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    video: VideoConfig = VideoConfig()
    groups: tuple[GroupConfig, ...] = (GroupConfig(name="default"),)
    rules: tuple[RuleConfig, ...] = ()
    spare_numbers: tuple[SpareConfig, ...] = ()

    @model_validator(mode="after")
    def _groups_known(self) -> Self:
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError("groups: a group name appears twice")
        if self.routing.default_group not in names:
            raise ValueError(
                f"routing.default_group: no group named {self.routing.default_group!r}"
            )
        for i, rule in enumerate(self.rules):
            if rule.group not in names:
                raise ValueError(f"rules[{i}].group: no group named {rule.group!r}")
        numbers = [s.number for s in self.spare_numbers]
        if len(set(numbers)) != len(numbers):
            raise ValueError("spare_numbers: a number appears twice")
        for g in self.groups:
            for n in g.spares:
                if n not in numbers:
                    raise ValueError(f"groups.{g.name}.spares: {n!r} is not in spare_numbers")
            for key, action in zip(
                ("closed_action", "no_agents_action", "max_wait_action"), g.actions(), strict=True
            ):
                if action is not None and action.type == "group" and action.target not in names:
                    raise ValueError(f"groups.{g.name}.{key}: no group named {action.target!r}")
        loop = find_loop({g.name: g.actions() for g in self.groups})
        if loop is not None:
            raise ValueError(
                "groups: the group actions make a loop ("
                + " -> ".join(loop)
                + "); a chain of groups must end in goodbye, voicemail, callback, a number "
                "or a group that takes calls"
            )
        return self


class Settings(_Strict):
    """Everything the app factory needs. Secrets are None until development mode fills them."""

    config: AppConfig
    mongodb_url: str | None = None
    port: int = 8080
    public_url: str = "http://localhost:8080"
    secret_key: str | None = None
    platform_token: str | None = None
    admin_token: str | None = None
    mode: Literal["production", "development"] = "development"
    # The service account's key file (JSON with account_id, key_id, private_key); None: the
    # Management API is not used (development writes SMS to the call's log instead).
    voximplant_credentials: str | None = None
    # The password of the [video] guest_users, for the end-user page's one-time-key login.
    voximplant_guest_password: str | None = None

    def policy(self, group: str | None = None) -> RoutingPolicy:
        r = self.config.routing
        g = self.group(group) if group else None
        return RoutingPolicy(
            strategy=(g.strategy if g and g.strategy else r.strategy),
            ring_timeout_s=r.ring_timeout_s,
            offer_grace_s=r.offer_grace_s,
            no_answer_delay_s=r.no_answer_delay_s,
            max_no_answer=r.max_no_answer,
            ban_minutes=r.ban_minutes,
            ban_cap_minutes=r.ban_cap_minutes,
            wrap_up_s=(g.wrap_up_s if g and g.wrap_up_s is not None else r.wrap_up_s),
            in_call_check_s=r.in_call_check_s,
            queued_check_s=r.queued_check_s,
            default_handle_time_s=r.default_handle_time_s,
            manager_wait_s=self.config.manager.wait_s,
            overflow_after_s=(g.overflow_after_s if g and g.spares else None),
            overflow_retry_s=r.overflow_retry_s,
            voicemail_max_s=self.config.voicemail.max_length_s,
            callback_retry_s=self.config.callback.retry_s,
            callback_max_attempts=self.config.callback.max_attempts,
            video_reserve_s=self.config.video.reserve_s,
            video_wait_s=self.config.video.wait_s,
        )

    def group_rules(self) -> dict[str, GroupRules]:
        tz = self.config.center.timezone
        return {g.name: g.to_rules(tz) for g in self.config.groups}

    def spares_of(self, group: str) -> tuple[Spare, ...]:
        g = self.group(group)
        if g is None:
            return ()
        by_number = {s.number: s for s in self.config.spare_numbers}
        return tuple(by_number[n].to_spare() for n in g.spares)

    def group(self, name: str) -> GroupConfig | None:
        for g in self.config.groups:
            if g.name == name:
                return g
        return None

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.config.groups)

    def with_groups_and_rules(
        self, groups: tuple[GroupConfig, ...], rules: tuple[RuleConfig, ...]
    ) -> Settings:
        """These settings with the groups and rules the database holds (already checked)."""
        config = self.config.model_copy(update={"groups": groups, "rules": rules})
        return self.model_copy(update={"config": config})


class ConfigError(Exception):
    """Invalid configuration: the message names the key."""


SECRET_NAMES = ("SECRET_KEY", "PLATFORM_TOKEN", "ADMIN_TOKEN")
MIN_SECRET_LENGTH = 32


def check_production_secrets(settings: Settings) -> None:
    """Production needs the three secrets, each long enough, no two alike: with one value for
    both tokens, the scenario's token could create an administrator."""
    values = {name: getattr(settings, name.lower()) for name in SECRET_NAMES}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ConfigError(f"{', '.join(missing)}: production mode needs it in the environment")
    for name, value in values.items():
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{name}: at least {MIN_SECRET_LENGTH} characters in production "
                f"(it has {len(value)}; try: python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
    for i, a in enumerate(SECRET_NAMES):
        for b in SECRET_NAMES[i + 1 :]:
            if values[a] == values[b]:
                raise ConfigError(f"{a} and {b}: must differ (they are the same value)")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from e


def _key(loc: tuple[int | str, ...]) -> str:
    """('rules', 2, 'category') → 'rules[2].category'."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _describe(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        key = _key(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if not key:  # a check across keys names its key in the message itself
            lines.append(message)
        else:
            lines.append(f"{key}: {message}")
    return "; ".join(lines)


class InvalidGroupsOrRules(ConfigError):
    """A proposed set of groups and rules that start-up would refuse; `key` names the field
    ('groups.sales.closed_action', 'rules[2].group')."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def check_groups_and_rules(
    config: AppConfig, groups: Sequence[Any], rules: Sequence[Any]
) -> AppConfig:
    """Groups and rules checked exactly as start-up checks them (each entry's fields, names,
    references, loops of group actions) against the rest of `config`."""
    data = {name: getattr(config, name) for name in AppConfig.model_fields}
    data.update(groups=tuple(groups), rules=tuple(rules))
    try:
        return AppConfig.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        key = _key(first["loc"])
        if not key:  # a check across keys names its key at the start of its message
            key = str(first["msg"]).removeprefix("Value error, ").split(":", 1)[0]
        raise InvalidGroupsOrRules(_describe(e), key) from e


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the config files and the environment; ConfigError names the bad key."""
    env = dict(os.environ if env is None else env)
    raw = _read_toml(DEFAULT_CONFIG)
    # SWITCHBOARD_CONFIG names one file, or several joined by os.pathsep, merged in order.
    for extra in filter(None, env.get("SWITCHBOARD_CONFIG", "").split(os.pathsep)):
        raw = _merge(raw, _read_toml(Path(extra)))
    try:
        config = AppConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe(e)) from e
    values: dict[str, Any] = {
        "config": config,
        "port": config.server.port,
        "public_url": config.server.public_url,
    }
    for key in ENV_KEYS:
        if env.get(key):
            values[key.lower()] = env[key]
    if env.get("SWITCHBOARD_MODE"):
        values["mode"] = env["SWITCHBOARD_MODE"]
    if env.get("VOXIMPLANT_CREDENTIALS"):
        values["voximplant_credentials"] = env["VOXIMPLANT_CREDENTIALS"]
    if env.get("VOXIMPLANT_GUEST_PASSWORD"):
        values["voximplant_guest_password"] = env["VOXIMPLANT_GUEST_PASSWORD"]
    values.update(overrides)
    if not values["public_url"]:
        # Unset: this machine on the port in force (PORT may have changed it).
        values["public_url"] = f"http://localhost:{values['port']}"
    try:
        settings = Settings.model_validate(values)
    except ValidationError as e:
        raise ConfigError(_describe(e)) from e
    if settings.mode == "production":
        check_production_secrets(settings)
    return settings
