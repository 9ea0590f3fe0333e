"""Context rules: custom_data fields, destination, X- headers and media pick the group."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from backend.domain.context import CallContext, Rule, choose_group, parse_custom_data
from backend.domain.model import Media

PRIORITIES = {"default": 50, "sales": 60, "support": 40, "vip": 90}
RULES = (
    Rule("sales", fields={"category": re.compile("sales|pricing")}),
    Rule("support", fields={"page": re.compile(r".*/help(/.*)?")}),
    Rule("vip", priority=95, destination=re.compile(r"\+1800\d{7}")),
    Rule("support", headers={"X-Kiosk": re.compile("lobby-\\d+")}),
    Rule("vip", media=Media.VIDEO),
)


def route(
    custom_data: str = "",
    destination: str = "+15550000000",
    headers: Mapping[str, str] | None = None,
    media: Media = Media.VOICE,
    rules: tuple[Rule, ...] = RULES,
) -> tuple[str, int]:
    ctx = CallContext(
        "+15551112222", destination, media, headers or {}, parse_custom_data(custom_data)
    )
    return choose_group(ctx, rules, "default", PRIORITIES)


def test_no_matching_rule_goes_to_the_default_group() -> None:
    assert route() == ("default", 50)


def test_custom_data_field_picks_the_group_and_its_priority() -> None:
    assert route('{"category": "pricing", "customer_id": "42"}') == ("sales", 60)


def test_fields_are_full_matches() -> None:
    assert route('{"category": "presales"}') == ("default", 50)
    assert route('{"page": "https://example.com/help/faq"}') == ("support", 40)
    assert route('{"page": "https://example.com/helpless"}') == ("default", 50)


def test_destination_regex_with_the_rules_own_priority() -> None:
    assert route(destination="+18005551234") == ("vip", 95)
    assert route(destination="+180055512345") == ("default", 50)


def test_x_headers_match_case_insensitively() -> None:
    assert route(headers={"x-kiosk": "lobby-3"}) == ("support", 40)
    assert route(headers={"X-KIOSK": "lobby-3"}) == ("support", 40)
    assert route(headers={"X-Kiosk": "roof"}) == ("default", 50)


def test_media_rule() -> None:
    assert route(media=Media.VIDEO) == ("vip", 90)


def test_first_matching_rule_wins() -> None:
    # Matches the sales rule (first), the support header rule and the video rule.
    both = route('{"category": "sales"}', headers={"X-Kiosk": "lobby-1"}, media=Media.VIDEO)
    assert both == ("sales", 60)


def test_every_condition_of_a_rule_must_match() -> None:
    rule = Rule("vip", fields={"category": re.compile("sales")}, media=Media.VIDEO)
    assert route('{"category": "sales"}', rules=(rule,)) == ("default", 50)
    assert route('{"category": "sales"}', media=Media.VIDEO, rules=(rule,)) == ("vip", 90)


@pytest.mark.parametrize(
    "raw", ["{not json", '{"category": "sales"', "category=sales", '["sales"]', "42", "", "   "]
)
def test_custom_data_that_is_not_a_json_object_falls_back_to_the_default_group(raw: str) -> None:
    assert parse_custom_data(raw) == {}
    assert route(raw) == ("default", 50)


def test_json_object_with_surrounding_whitespace_is_read() -> None:
    assert parse_custom_data('  {"kiosk": "lobby-1"}\n') == {"kiosk": "lobby-1"}


def test_unknown_group_gets_the_fallback_priority() -> None:
    rules = (Rule("night", fields={"category": re.compile("late")}),)
    assert route('{"category": "late"}', rules=rules) == ("night", 50)
    ctx = CallContext("+1", "+2", Media.VOICE, {}, {"category": "late"})
    assert choose_group(ctx, rules, "default", {}, fallback_priority=7) == ("night", 7)


def test_numeric_field_values_are_matched_as_text() -> None:
    rules = (Rule("vip", fields={"customer_id": re.compile(r"4\d+")}),)
    assert route('{"customer_id": 4711}', rules=rules) == ("vip", 90)


def test_json_booleans_are_matched_in_their_json_spelling() -> None:
    # A kiosk sends {"kiosk": true}; the config author writes the JSON word `true`.
    rules = (Rule("support", fields={"kiosk": re.compile("true")}),)
    assert route('{"kiosk": true}', rules=rules) == ("support", 40)
