"""`fixtures/<world>/iam.yaml` loaded into moto: an AWS account the IAM audit can run against.

Ages are relative to now ("400d"), so a world means the same thing whenever it runs.
moto creates everything "now"; the loader backdates creation and last-use times through
moto's backend (`get_backend("iam")[account]["global"]`), which is the same object in the
in-process mock (`mock_aws`) and in a `ThreadedMotoServer` running in this process. moto's
credential report has no `<root_account>` row, so root facts go into its account summary,
which is where the gatherer reads them in that case.

The same `seed()` fills a moto server for the end-to-end tests and the benchmark.

moto is imported inside the functions that use it, for start-up cost: importing moto takes
about a second, and validating a world file (`load_iam_world`) needs none of it.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from smokegate.config import ConfigError, DuplicateKeyError, load_yaml, read_world_file

DEFAULT_ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
_AGE = re.compile(r"^\s*(\d+)\s*d\s*$")


def _days(value: Any) -> timedelta:
    """'400d' or 400 -> 400 days."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(days=value)
    match = _AGE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not an age such as '400d'")
    return timedelta(days=int(match.group(1)))


Age = Annotated[timedelta, BeforeValidator(_days)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MockKey(_Strict):
    age: Age  # since creation (the report's last_rotated)
    last_used: Age | None = None  # None: never used
    active: bool = True


class MockUser(_Strict):
    name: str
    age: Age
    console: bool = False  # has a console password
    password_last_used: Age | None = None  # None: never used
    mfa: bool = False
    access_keys: list[MockKey] = Field(default_factory=list, max_length=2)


class MockRoot(_Strict):
    access_keys: bool = False
    mfa: bool = True


class MockPasswordPolicy(_Strict):
    min_length: int = Field(default=8, ge=6, le=128)
    reuse_prevention: int | None = Field(default=None, ge=1, le=24)


class IamWorld(_Strict):
    root: MockRoot = Field(default_factory=MockRoot)
    password_policy: MockPasswordPolicy | None = None  # None: the account has no policy
    users: list[MockUser] = Field(default_factory=list)


def load_iam_world(world_dir: Path) -> IamWorld | None:
    """The world's IAM account, or None when the folder has no iam.yaml."""
    path = world_dir / "iam.yaml"
    if not path.is_file():
        return None
    try:
        raw = load_yaml(read_world_file(path)) or {}
        return IamWorld.model_validate(raw)
    except DuplicateKeyError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


def iam_backend(account_id: str = DEFAULT_ACCOUNT) -> Any:
    from moto.backends import get_backend

    return get_backend("iam")[account_id]["global"]


def date_reports_when_asked() -> None:
    """moto dates every credential report 2015-02-02, before the users it lists: the audit
    reads such a report as "of unknown age", and the demo's report showed that note under
    every IAM failure (round 21c). A mocked world's report is dated when it is asked for, as
    AWS dates a report it has just generated. Patched once per process, in moto's response
    class: the in-process mock and a `ThreadedMotoServer` in this process both answer
    through it."""
    from moto.iam.responses import IamResponse

    original = IamResponse.get_credential_report
    if getattr(original, "smokegate_dated", False):
        return

    def get_credential_report(self: Any) -> Any:
        answer = original(self)
        result = getattr(answer, "result", None)
        if isinstance(result, dict) and "GeneratedTime" in result:
            result["GeneratedTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return answer

    get_credential_report.smokegate_dated = True  # type: ignore[attr-defined]
    IamResponse.get_credential_report = get_credential_report  # type: ignore[method-assign]


def seed(world: IamWorld, backend: Any, now: datetime | None = None) -> None:
    """Create the world's users, keys, MFA, root facts and password policy in `backend`."""
    from moto.iam.models import AccessKeyLastUsed

    date_reports_when_asked()
    now = now or datetime.now(UTC)
    for spec in world.users:
        user = backend.create_user(region_name=REGION, user_name=spec.name)
        user.create_date = now - spec.age
        if spec.console:
            backend.create_login_profile(spec.name, secrets.token_urlsafe(16))
            if spec.password_last_used is not None:
                user.password_last_used = now - spec.password_last_used
        if spec.mfa:
            serial = f"arn:aws:iam::{DEFAULT_ACCOUNT}:mfa/{spec.name}"
            backend.enable_mfa_device(spec.name, serial, "123456", "654321")
        for key_spec in spec.access_keys:
            key = backend.create_access_key(
                spec.name, status="Active" if key_spec.active else "Inactive"
            )
            key.create_date = now - key_spec.age
            if key_spec.last_used is not None:
                key.last_used = AccessKeyLastUsed(
                    timestamp=now - key_spec.last_used, service="iam", region=REGION
                )
    summary = backend.account_summary
    summary._account_access_keys_present = int(world.root.access_keys)
    summary._account_mfa_enabled = int(world.root.mfa)
    policy = world.password_policy
    if policy is not None:
        backend.update_account_password_policy(
            allow_change_password=True,
            hard_expiry=False,
            max_password_age=0,
            minimum_password_length=policy.min_length,
            password_reuse_prevention=policy.reuse_prevention,
            require_lowercase_characters=False,
            require_numbers=False,
            require_symbols=False,
            require_uppercase_characters=False,
        )


def _isolate_environment() -> Callable[[], None]:
    """A mocked world sends no real traffic: drop the settings that would send boto3
    elsewhere (endpoint overrides, a named profile); moto sets fake keys itself."""
    names = [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL") or k == "AWS_PROFILE"]
    saved = {k: os.environ[k] for k in names}
    for name in saved:
        del os.environ[name]

    def restore() -> None:
        os.environ.update(saved)

    return restore


def start_iam_world(world_dir: Path, *, required: bool) -> Callable[[], None] | None:
    """Start moto in-process with the world's account; None when there is no iam.yaml and
    the env audits no IAM. An env with `iam:` over a world without iam.yaml is an error:
    a mocked env sends no real traffic, so it must not fall through to a real account.

    Start it before the HTTP world: moto also patches `requests` (for its own needs), and
    the HTTP world's mock has to sit on top to keep answering every plain HTTP call."""
    world = load_iam_world(world_dir)
    if world is None:
        if required:
            raise ConfigError(
                f"the env has an iam: section and mock: {world_dir}, which has no iam.yaml; "
                "a mocked env sends no real traffic: add the mocked account there"
            )
        return None
    from moto import mock_aws

    restore = _isolate_environment()
    mock = mock_aws()
    mock.start()
    seed(world, iam_backend())

    def stop() -> None:
        mock.stop()
        restore()

    return stop
