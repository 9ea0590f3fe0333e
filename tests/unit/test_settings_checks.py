"""Configuration and secrets are checked before anything starts, with one line naming the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from backend.settings import ROOT, ConfigError, load_settings

GOOD = {
    "SECRET_KEY": "k" * 40,
    "PLATFORM_TOKEN": "p" * 40,
    "ADMIN_TOKEN": "a" * 40,
    "SWITCHBOARD_MODE": "production",
}


def _config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "extra.toml"
    path.write_text(text)
    return {"SWITCHBOARD_CONFIG": str(path)}


def test_production_accepts_long_distinct_secrets() -> None:
    assert load_settings(dict(GOOD)).mode == "production"


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"SECRET_KEY": "a"}, "SECRET_KEY: at least 32 characters"),
        ({"ADMIN_TOKEN": "short"}, "ADMIN_TOKEN: at least 32 characters"),
        ({"ADMIN_TOKEN": "p" * 40}, "PLATFORM_TOKEN and ADMIN_TOKEN: must differ"),
        ({"SECRET_KEY": "a" * 40}, "SECRET_KEY and ADMIN_TOKEN: must differ"),
        ({"PLATFORM_TOKEN": ""}, "PLATFORM_TOKEN: production mode needs it"),
    ],
)
def test_production_refuses_weak_or_shared_secrets(patch: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**GOOD, **patch})
    message = str(caught.value)
    assert message.startswith(named) and "\n" not in message
    secrets = [v for k, v in {**GOOD, **patch}.items() if k != "SWITCHBOARD_MODE" and len(v) > 5]
    assert not any(v in message for v in secrets)  # named, never shown


def test_development_keeps_any_secret() -> None:
    assert load_settings({**GOOD, "SWITCHBOARD_MODE": "development", "SECRET_KEY": "a"})


def test_a_bad_regular_expression_names_its_rule(tmp_path: Path) -> None:
    rules = '[[rules]]\ngroup = "default"\ncategory = "a"\n' * 2
    rules += '[[rules]]\ngroup = "default"\ncategory = "(unclosed"\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, rules))
    assert str(caught.value).startswith("rules[2].category: not a valid regular expression")
    headers = '[[rules]]\ngroup = "default"\nheaders = {X-Kind = "["}\n'
    with pytest.raises(ConfigError, match=r"^rules\[0\]\.headers: X-Kind: not a valid"):
        load_settings(_config(tmp_path, headers))


def test_the_readme_example_is_the_real_message(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(
        r"`(switchboard: invalid configuration: routing\.ring_timeout_s: [^`]+)`", readme
    )
    assert found is not None
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, "[routing]\nring_timeout_s = 5\n"))
    assert found.group(1) == f"switchboard: invalid configuration: {caught.value}"


def test_the_licence_is_an_spdx_string() -> None:
    # A table `license = {text = …}` makes setuptools print a deprecation warning on every install.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
