"""envs/example-prod.yaml, the template people copy: every value its comments call a default
is the model's default, its commented sections load once uncommented (tests/unit/
test_config.py), and its waiver names a case id of the form its check really has.
Copying it and changing the URLs gives a working env: tests/e2e/test_example_env.py."""

from __future__ import annotations

import re
from typing import Any

import yaml

from smokegate.config import (
    AuthEntry,
    Defaults,
    Forbidden,
    IamConfig,
    PasswordPolicyRule,
    TlsTarget,
)
from tests.support.paths import ROOT

TEMPLATE = ROOT / "envs" / "example-prod.yaml"


def uncommented() -> dict[str, Any]:
    """The template with its commented-out sections (`# auth:` ...) uncommented."""
    out, block = [], False
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        if re.match(r"# (auth|tls|iam|waivers):", line):
            block = True
        elif not line.startswith("#   "):
            block = False
        out.append(line[2:] if block else line)
    return yaml.safe_load("\n".join(out))


def default_of(model: type, field: str) -> Any:
    info = model.model_fields[field]
    value = info.get_default(call_default_factory=True)
    return value.model_dump() if hasattr(value, "model_dump") else value


def test_every_value_shown_under_defaults_is_the_default() -> None:
    raw = uncommented()
    for key, value in raw["defaults"].items():
        assert value == default_of(Defaults, key), f"defaults.{key}"
    for key, value in raw["iam"].items():
        assert value == default_of(IamConfig, key), f"iam.{key}"
    policy = raw["iam"]["password_policy"]
    assert policy == PasswordPolicyRule().model_dump()


def test_statuses_and_ports_shown_are_the_defaults() -> None:
    raw = uncommented()
    auth = raw["auth"][0]
    for key in ("anonymous_status", "authenticated_status"):
        assert auth[key] == default_of(AuthEntry, key), key
    assert auth["forbidden"][0]["status"] == default_of(Forbidden, "status")
    tls = raw["tls"][0]
    for key in ("port", "min_days_left"):
        assert tls[key] == default_of(TlsTarget, key), key


def test_the_waiver_names_a_real_case_id_form() -> None:
    (waiver,) = uncommented()["waivers"]
    assert waiver["check"] == "access_key_age"
    # test_access_key_age[<user>:key1|key2] (checks/test_iam.py, smokegate/targets.py)
    assert re.fullmatch(r"[\w.@+=,-]+:key[12]", waiver["target"])
