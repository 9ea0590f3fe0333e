"""The Management API adapter against a local fake of the API that verifies the JWT with the
public key and checks the form: SMS and StartScenarios, the API's own errors (not retried),
5xx/timeouts/refused connections (retried, with the back-off recorded, not slept)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import jwt
import pytest

from backend.adapters.embedded_db import free_port
from backend.adapters.voximplant_api import (
    Credentials,
    CredentialsError,
    ManagementApi,
    ManagementApiError,
    ManagementApiUnavailable,
)
from backend.app import management_api
from backend.settings import load_settings
from tests.support.fake_management_api import (
    ACCOUNT_ID,
    KEY_ID,
    FakeManagementApi,
    KeyPair,
    make_credentials,
)


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return make_credentials(tmp_path_factory.mktemp("vox"))


@pytest.fixture
async def fake(keys: KeyPair) -> AsyncIterator[FakeManagementApi]:
    api = FakeManagementApi(keys.public_key_pem)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(
    http: aiohttp.ClientSession,
    credentials: Credentials,
    url: str,
    sleeps: Sleeps | None = None,
    **kw: object,
) -> ManagementApi:
    return ManagementApi(
        http,
        credentials,
        api_url=url,
        timeout_s=kw.pop("timeout_s", 2.0),  # type: ignore[arg-type]
        attempts=kw.pop("attempts", 3),  # type: ignore[arg-type]
        backoff_s=0.5,
        sleep=sleeps or Sleeps(),
        **kw,  # type: ignore[arg-type]
    )


async def test_sms_is_a_signed_form_post(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    api = client(http, keys.credentials, fake.url)
    before = time.time()
    await api.send_sms("+15550001111", "+15551234567", "Join the video call: https://x/video/t")
    [sent] = await fake.wait_for("SendSmsMessage")
    assert sent.form == {
        "source": "15550001111",
        "destination": "15551234567",
        "sms_body": "Join the video call: https://x/video/t",
    }
    assert sent.headers == {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    assert sent.claims["iss"] == str(ACCOUNT_ID)
    # A short life: no more than about a minute ahead, dated from now.
    assert before - 10 <= sent.claims["iat"] <= time.time()
    assert 0 < sent.claims["exp"] - time.time() <= 61
    assert fake.attempts == 1


async def test_a_token_from_another_key_is_refused_as_the_api_does(
    fake: FakeManagementApi, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    stranger = make_credentials(tmp_path)  # same account and kid, another private key
    api = client(http, stranger.credentials, fake.url)
    with pytest.raises(ManagementApiError) as e:
        await api.send_sms("15550001111", "15551234567", "hello")
    assert e.value.code == 100
    assert "Signature verification failed" in e.value.message
    assert fake.requests == [] and fake.attempts == 1  # an API error is never retried


async def test_api_error_names_code_and_message(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api = client(http, keys.credentials, fake.url, sleeps)
    fake.error_next(127, "Insufficient funds")
    with pytest.raises(ManagementApiError) as e:
        await api.send_sms("15550001111", "15551234567", "hello")
    assert (e.value.method, e.value.code, e.value.message) == (
        "SendSmsMessage",
        127,
        "Insufficient funds",
    )
    assert str(e.value) == "Voximplant SendSmsMessage refused: Insufficient funds (code 127)"
    assert fake.attempts == 1 and sleeps.delays == []


async def test_a_4xx_without_an_error_body_is_not_retried(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    api = client(http, keys.credentials, fake.url)
    fake.fail_next(1, status=403)
    with pytest.raises(ManagementApiError) as e:
        await api.send_sms("15550001111", "15551234567", "hello")
    assert e.value.code == 403 and fake.attempts == 1


async def test_5xx_is_retried_with_a_doubling_back_off(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api = client(http, keys.credentials, fake.url, sleeps, attempts=4)
    fake.fail_next(2, status=503)
    await api.send_sms("15550001111", "15551234567", "hello")
    assert fake.attempts == 3 and len(fake.sms()) == 1
    assert len(sleeps.delays) == 2
    for delay, base in zip(sleeps.delays, (0.5, 1.0), strict=True):
        assert base * 0.75 <= delay <= base * 1.25


async def test_5xx_on_every_attempt_is_unavailable(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api = client(http, keys.credentials, fake.url, sleeps, attempts=3)
    fake.fail_next(3, status=502)
    with pytest.raises(ManagementApiUnavailable) as e:
        await api.send_sms("15550001111", "15551234567", "hello")
    assert e.value.attempts == 3 and e.value.last == "HTTP 502"
    assert fake.attempts == 3 and len(sleeps.delays) == 2 and fake.sms() == []


async def test_a_silent_api_times_out_and_is_retried(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    api = client(http, keys.credentials, fake.url, attempts=2, timeout_s=0.3)
    fake.hang_next(1)
    started = time.monotonic()
    await api.send_sms("15550001111", "15551234567", "hello")
    assert time.monotonic() - started < 2.0
    assert fake.attempts == 2 and len(fake.sms()) == 1


async def test_nobody_listening_is_unavailable(keys: KeyPair, http: aiohttp.ClientSession) -> None:
    sleeps = Sleeps()
    api = client(http, keys.credentials, f"http://127.0.0.1:{free_port()}/platform_api", sleeps)
    with pytest.raises(ManagementApiUnavailable) as e:
        await api.send_sms("15550001111", "15551234567", "hello")
    assert e.value.attempts == 3 and "Connect" in e.value.last
    assert len(sleeps.delays) == 2


async def test_sms_body_limits_are_checked_before_sending(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    api = client(http, keys.credentials, fake.url)
    with pytest.raises(ValueError, match="765"):
        await api.send_sms("15550001111", "15551234567", "x" * 766)
    with pytest.raises(ValueError, match="empty"):
        await api.send_sms("15550001111", "15551234567", "")
    assert fake.attempts == 0


async def test_start_scenarios_by_rule_id_with_the_application(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    api = client(http, keys.credentials, fake.url, application_id=77)
    reply = await api.start_scenarios(rule_id=12, script_custom_data='{"callback": "c1"}')
    [sent] = await fake.wait_for("StartScenarios")
    assert sent.form == {
        "rule_id": "12",
        "application_id": "77",
        "script_custom_data": '{"callback": "c1"}',
    }
    assert reply["result"] == 1
    assert str(reply["media_session_access_secure_url"]).startswith("https://")


async def test_start_scenarios_by_rule_name_names_the_application(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    api = client(http, keys.credentials, fake.url, application_name="switchboard")
    await api.start_scenarios(rule_name="callback", script_custom_data="x")
    [sent] = await fake.wait_for("StartScenarios")
    assert sent.form == {
        "rule_name": "callback",
        "application_name": "switchboard",
        "script_custom_data": "x",
    }


async def test_start_scenarios_refuses_an_ambiguous_rule(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession
) -> None:
    api = client(http, keys.credentials, fake.url)
    with pytest.raises(ValueError, match="exactly one"):
        await api.start_scenarios(script_custom_data="x")
    with pytest.raises(ValueError, match="exactly one"):
        await api.start_scenarios(rule_id=1, rule_name="r", script_custom_data="x")
    with pytest.raises(ValueError, match="application"):
        await api.start_scenarios(rule_name="r", script_custom_data="x")
    assert fake.attempts == 0


def test_credentials_file_errors_name_the_field(tmp_path: Path, keys: KeyPair) -> None:
    assert Credentials.load(keys.path) == keys.credentials
    good = json.loads(keys.path.read_text())
    for missing in ("account_id", "key_id", "private_key"):
        path = tmp_path / f"no-{missing}.json"
        path.write_text(json.dumps({k: v for k, v in good.items() if k != missing}))
        with pytest.raises(CredentialsError, match=f"{missing} is missing"):
            Credentials.load(path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CredentialsError, match="not JSON"):
        Credentials.load(bad)
    with pytest.raises(CredentialsError, match="cannot read"):
        Credentials.load(tmp_path / "absent.json")
    weird = tmp_path / "weird.json"
    weird.write_text(json.dumps({**good, "private_key": "hunter2"}))
    with pytest.raises(CredentialsError, match="not a PEM"):
        Credentials.load(weird)


async def test_settings_build_the_client_from_the_credentials_file(
    fake: FakeManagementApi, keys: KeyPair, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    config = tmp_path / "vox.toml"
    config.write_text(
        f'[voximplant]\napi_url = "{fake.url}"\napplication = "switchboard"\n'
        "request_timeout_s = 1.5\nattempts = 2\n"
    )
    assert management_api(load_settings({"SWITCHBOARD_CONFIG": str(config)}), http) is None
    settings = load_settings(
        {"SWITCHBOARD_CONFIG": str(config), "VOXIMPLANT_CREDENTIALS": str(keys.path)}
    )
    api = management_api(settings, http)
    assert api is not None
    assert (api.api_url, api.attempts, api.timeout.total) == (fake.url, 2, 1.5)
    await api.start_scenarios(rule_name="callback", script_custom_data="x")
    [sent] = await fake.wait_for("StartScenarios")
    assert sent.form["application_name"] == "switchboard"
    token = api.token()
    assert jwt.decode(token, keys.public_key_pem, algorithms=["RS256"])["iss"] == str(ACCOUNT_ID)
