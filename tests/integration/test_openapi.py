"""The generated OpenAPI description, and property-based checks that every documented operation
answers bad input with a 4xx in the documented shape, never a 5xx."""

from __future__ import annotations

import asyncio
import http.client
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.app import create_app
from backend.openapi import Error, build
from backend.settings import load_settings
from tests.conftest import TEST_CONFIG, _with_db
from tests.support.processes import BackendProcess

EXAMPLES = 1500


class Api:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.auth: dict[str, dict[str, str]] = {
            "none": {},
            "admin": {"Authorization": "Bearer admin-secret"},
            "platform": {"Authorization": "Bearer platform-secret"},
        }

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, bytes]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return resp.status, resp.getheader("Content-Type", ""), data
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def api(mongo_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    (tmp / "test.toml").write_text(TEST_CONFIG)
    name = "t_" + uuid.uuid4().hex[:12]
    proc = BackendProcess(
        {
            "SWITCHBOARD_CONFIG": str(tmp / "test.toml"),
            "MONGODB_URL": _with_db(mongo_server_url, name),
            "PLATFORM_TOKEN": "platform-secret",
            "ADMIN_TOKEN": "admin-secret",
            "SECRET_KEY": "test-secret-key",
        },
        tmp / "backend.log",
    )
    asyncio.run(proc.start())
    try:
        client = Api(proc.port)
        body = {
            "name": "Fuzz",
            "password": "password-1",
            "address": {"type": "user", "address": "fuzz"},
            "groups": [{"name": "default", "level": 1}],
        }
        status, _, _ = client.request(
            "PUT", "/api/v1/operators/fuzz", json.dumps(body).encode(), client.auth["admin"]
        )
        assert status == 201
        status, _, data = client.request(
            "POST", "/api/v1/auth/login", b'{"login": "fuzz", "password": "password-1"}'
        )
        assert status == 200
        client.auth["operator"] = {"Authorization": f"Bearer {json.loads(data)['token']}"}
        yield client
        client.conn.close()
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def spec(api: Api) -> dict[str, Any]:
    status, kind, data = api.request("GET", "/api/v1/openapi.json")
    assert status == 200 and kind.startswith("application/json")
    doc: dict[str, Any] = json.loads(data)
    return doc


def test_the_description_is_generated_from_the_routes_and_the_models(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    app = create_app(load_settings({"MONGODB_URL": "mongodb://127.0.0.1:1/x"}))
    assert spec == json.loads(json.dumps(build(app)))
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/v1/")
        and r.method != "HEAD"
        and r.resource.canonical != "/api/v1/ws"
    }
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert routes <= documented
    put_operator = spec["paths"]["/api/v1/operators/{login}"]["put"]
    assert put_operator["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OperatorIn"
    }
    assert set(spec["components"]["schemas"]["OperatorIn"]["required"]) == {"address", "groups"}
    assert [p["name"] for p in put_operator["parameters"]] == ["login"]
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]


# -- bad input --------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_segment = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=24).map(
    lambda s: quote(s, safe="")
)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in sorted(spec["paths"].items()) for m, op in ops.items()]


def _properties(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    body = op.get("requestBody")
    if not body:
        return {}
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props: dict[str, Any] = spec["components"]["schemas"][name].get("properties", {})
    return props


@st.composite
def _bad_request(draw: st.DrawFn, spec: dict[str, Any]) -> tuple[str, str, bytes | None, str]:
    method, path, op = draw(st.sampled_from(_operations(spec)))
    for param in op["parameters"]:
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", draw(_segment))
    query = [p["name"] for p in op["parameters"] if p["in"] == "query"]
    with_query = draw(st.booleans())
    if query and with_query:
        path += f"?{query[0]}={draw(_segment)}"
    body: bytes | None = None
    if "requestBody" in op or draw(st.booleans()):
        props = _properties(spec, op)
        value = draw(
            st.one_of(
                _json,
                # the documented fields, each with any JSON value at all
                st.fixed_dictionaries({}, optional=dict.fromkeys(props, _json)),
            )
        )
        body = draw(st.one_of(st.just(json.dumps(value).encode()), st.binary(max_size=64)))
    who = draw(st.sampled_from(["none", "admin", "platform", "operator"]))
    return method, path, body, who


def test_bad_input_gets_a_documented_4xx_never_a_5xx(api: Api, spec: dict[str, Any]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(_bad_request(spec))
    def check(case: tuple[str, str, bytes | None, str]) -> None:
        method, path, body, who = case
        status, kind, data = api.request(method, path, body, api.auth[who])
        assert status < 500, (case, status, data[:500])
        if status >= 400:
            assert kind.startswith("application/json"), (case, status, data[:200])
            Error.model_validate_json(data)

    check()
