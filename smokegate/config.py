"""The env file (`envs/<env>.yaml`) as a validated model.

Everything a pipeline writes lands here first, so every mistake is caught in one
place and reported as one message naming the file, the entry and the field. The
model is strict on purpose: an unknown field is far more often a typo than an
intent, and a typo'd expectation that is silently ignored is a gate that passes
for the wrong reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from smokegate.config_help import (
    date_advice,
    env_suggestion,
    secret_shaped,
    suggest_field,
    url_advice,
    yaml_advice,
)
from smokegate.secrets_shape import looks_like_credential
from smokegate.severity import Severity

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SECURITY_HEADERS = (
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "content-security-policy",
    "referrer-policy",
    "server",
    "x-powered-by",
)
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# libyaml's loader when PyYAML has it: 10x faster, which a 500-endpoint env file notices.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
# How far ahead a waiver may expire (days); the suite sets its own in pytest.ini.
WAIVER_HORIZON_DAYS = 365


class ConfigError(Exception):
    """A problem with an env file, phrased for the person who wrote it."""


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names one key twice. PyYAML would keep the last value and drop the first
    silently: a second `endpoints:` would hide the first list and the gate would pass."""

    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(f"line {line}: duplicate key {key!r} (first at line {first_line})")
        self.key = key
        self.line = line
        self.first_line = first_line


class UniqueKeyLoader(_YAML_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml's when available), refusing a key given twice in one mapping.

    Keys brought in by a merge (`<<: *base`) may be overridden, as YAML intends; only keys
    written twice in the same mapping are an error.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first_at: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = first_at.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise DuplicateKeyError(key, line, first)
                first_at[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """`expires: 2027-02-30` looks like a date but is none: say so, with its line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"'{node.value}' is not a valid date ({exc})", node.start_mark
            ) from None


UniqueKeyLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", UniqueKeyLoader.construct_yaml_timestamp
)


def load_yaml(text: str) -> Any:
    """YAML text to Python data, with duplicate keys refused (DuplicateKeyError)."""
    return yaml.load(text, Loader=UniqueKeyLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


PositiveSeconds = Annotated[float, Field(gt=0, le=600)]
Status = Annotated[int, Field(ge=100, le=599)]


class Defaults(_Strict):
    timeout_s: PositiveSeconds = 5.0
    retries: Annotated[int, Field(ge=0, le=10)] = 0
    severity: Severity | None = None
    max_workers: Annotated[int, Field(ge=1, le=1024)] = 64
    max_body_kb: Annotated[int, Field(ge=1, le=1024 * 1024)] = 1024


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(url_advice(url))
    return url


def _check_method(method: str) -> str:
    upper = method.upper()
    if upper not in HTTP_METHODS:
        raise ValueError(f"'{method}' is not one of {', '.join(HTTP_METHODS)}")
    return upper


def _derive_name(url: str) -> str:
    """`https://api.example.com/health` -> `api.example.com/health`: readable in a test id."""
    parts = urlsplit(url)
    host = parts.hostname or "target"
    if parts.port:
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    return f"{host}{path}" if path else host


def _statuses(value: int | list[int]) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)


class Endpoint(_Strict):
    name: str = ""
    url: str
    method: str = "GET"
    expect_status: Status | list[Status] = 200
    max_latency_ms: Annotated[float, Field(gt=0)] | None = None
    json_subset: Any = Field(default=None, alias="json")
    body_contains: str | None = None
    body_regex: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    follow_redirects: bool = True
    security_headers: bool | list[str] = False
    timeout_s: PositiveSeconds | None = None
    severity: Severity | None = None

    _url = field_validator("url")(_check_url)

    _method = field_validator("method")(_check_method)

    @field_validator("expect_status")
    @classmethod
    def _non_empty(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, list) and not value:
            raise ValueError("lists no status; give an int or a non-empty list")
        return value

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from None
        return value

    @field_validator("security_headers")
    @classmethod
    def _known_headers(cls, value: bool | list[str]) -> bool | list[str]:
        if isinstance(value, list):
            unknown = [h for h in value if h.lower() not in SECURITY_HEADERS]
            if unknown:
                raise ValueError(
                    f"unknown header(s) {', '.join(unknown)}; known: {', '.join(SECURITY_HEADERS)}"
                )
        return value

    @model_validator(mode="after")
    def _default_name(self) -> Endpoint:
        if not self.name:
            object.__setattr__(self, "name", _derive_name(self.url))
        return self

    @property
    def expected_statuses(self) -> tuple[int, ...]:
        return _statuses(self.expect_status)


def _check_env_var(value: str) -> str:
    shape = secret_shaped(value)
    if shape:
        # Never echoed: it is, by the look of it, the token itself.
        raise ValueError(
            f"looks like a secret value ({shape}), not the name of a variable: put the "
            "secret in an environment variable (the CI's secret store) and write that "
            "variable's name here, e.g. API_TOKEN"
        )
    if not _ENV_VAR.match(value):
        # The value is not echoed: what does not look like a variable name may be the token.
        raise ValueError(
            "is not an environment variable name (letters, digits, _): token_env names the "
            "variable that holds the token, never the token itself"
        )
    return value


class Forbidden(_Strict):
    token_env: str
    status: Status = 403

    _var = field_validator("token_env")(_check_env_var)


class AuthEntry(_Strict):
    name: str = ""
    url: str
    method: str = "GET"
    token_env: str
    anonymous_status: Status = 401
    authenticated_status: Status = 200
    forbidden: list[Forbidden] = Field(default_factory=list)
    severity: Severity | None = None

    _url = field_validator("url")(_check_url)
    _var = field_validator("token_env")(_check_env_var)
    _method = field_validator("method")(_check_method)

    @model_validator(mode="after")
    def _default_name(self) -> AuthEntry:
        if not self.name:
            object.__setattr__(self, "name", _derive_name(self.url))
        return self


class TlsTarget(_Strict):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 443
    min_days_left: Annotated[int, Field(ge=0)] = 21
    server_name: str | None = None
    severity: Severity | None = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


class PasswordPolicyRule(_Strict):
    min_length: Annotated[int, Field(ge=1)] | None = 14
    reuse_prevention: Annotated[int, Field(ge=1)] | None = 24


class IamConfig(_Strict):
    profile: str | None = None
    role_arn: str | None = None
    region: str | None = None
    max_user_age_days: Annotated[int, Field(ge=0)] | None = 365
    max_access_key_age_days: Annotated[int, Field(ge=0)] | None = 90
    max_unused_days: Annotated[int, Field(ge=0)] | None = 45
    require_console_mfa: bool | None = True
    forbid_root_access_keys: bool | None = True
    require_root_mfa: bool | None = True
    max_active_keys_per_user: Annotated[int, Field(ge=0)] | None = 1
    password_policy: PasswordPolicyRule | None = Field(default_factory=PasswordPolicyRule)
    severity: Severity | None = None


class Waiver(_Strict):
    check: str
    target: str
    reason: Annotated[str, Field(min_length=1)]
    expires: date


class EnvConfig(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    mock: str | None = None
    ca_bundle: str | None = None
    endpoints: list[Endpoint] = Field(default_factory=list)
    auth: list[AuthEntry] = Field(default_factory=list)
    tls: list[TlsTarget] = Field(default_factory=list)
    iam: IamConfig | None = None
    waivers: list[Waiver] = Field(default_factory=list)


class LoadedEnv(BaseModel):
    """An env file after validation, with the facts a run needs besides the model."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    path: Path
    root: Path
    config: EnvConfig

    def resolve(self, relative: str) -> Path:
        """Paths in an env file are relative to the project root, like the CLI's."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.root / path)

    @property
    def shown(self) -> str:
        """The env file's path as messages name it: relative to the project root if inside."""
        return _display(self.path, self.root)

    @property
    def mock_dir(self) -> Path | None:
        return self.resolve(self.config.mock) if self.config.mock else None

    @property
    def ca_bundle(self) -> Path | None:
        return self.resolve(self.config.ca_bundle) if self.config.ca_bundle else None


def available_envs(envs_dir: Path) -> list[str]:
    if not envs_dir.is_dir():
        return []
    return sorted(p.stem for p in envs_dir.glob("*.yaml") if not p.name.startswith("."))


def env_path(name_or_path: str, envs_dir: Path) -> Path:
    """`prod` means `envs/prod.yaml`; anything that looks like a path is taken as one, and a
    bare file name that is not in the current folder (`--env local.yaml`) is looked for in
    the envs folder."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = Path(name_or_path).expanduser().resolve()
        in_envs = envs_dir / name_or_path
        if not path.is_file() and "/" not in name_or_path and in_envs.is_file():
            return in_envs
        return path
    return envs_dir / f"{name_or_path}.yaml"


def load_env(
    name_or_path: str,
    envs_dir: Path,
    root: Path,
    *,
    named_by: str = "",
    waiver_horizon_days: int = WAIVER_HORIZON_DAYS,
) -> LoadedEnv:
    """Read and validate one env file, or raise ConfigError with one readable message.
    `named_by` says where the name came from when that is not `--env` (`SMOKEGATE_ENV`):
    a pipeline that exported a stale variable must be told which one."""
    path = env_path(name_or_path, envs_dir)
    shown = _display(path, root)
    if not path.is_file():
        known = available_envs(envs_dir)
        listing = ", ".join(known) if known else f"none: {_display(envs_dir, root)}/ has no *.yaml"
        source = f" (named by {named_by})" if named_by else ""
        meant = env_suggestion(Path(name_or_path).stem, known)
        raise ConfigError(
            f"unknown env '{name_or_path}'{source}: {shown} does not exist.{meant} "
            f"Known envs: {listing}"
        )
    try:
        text = path.read_text(encoding="utf-8")
        raw = load_yaml(text)
    except DuplicateKeyError as exc:
        raise ConfigError(f"{shown}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        advice = yaml_advice(text, mark.line, problem) if mark else problem
        raise ConfigError(f"{shown}:{where}: invalid YAML: {advice}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot be read: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: the top level must be a mapping (defaults:, endpoints:, ...)")
    if "iam" in raw and raw["iam"] is None:
        # `iam:` with every setting commented out: the user asked for the audit, with defaults.
        raw["iam"] = {}
    _reject_inline_secrets(raw, shown)
    try:
        config = EnvConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, raw, shown)) from None
    _reject_duplicates(config, shown)
    _reject_far_waivers(config, raw, shown, waiver_horizon_days)
    if config.mock is not None and config.tls:
        raise ConfigError(
            f"{shown}: tls: cannot be used with mock: a mocked env sends no real traffic; TLS "
            "checks need real handshakes: run tls: from an env without mock:"
        )
    loaded = LoadedEnv(name=path.stem, path=path, root=root, config=config)
    _check_paths(loaded, shown)
    return loaded


def _reject_far_waivers(config: EnvConfig, raw: Any, shown: str, horizon_days: int) -> None:
    """A waiver is an exception granted for a while: one that expires years ahead is a
    permanent one in disguise. The horizon is the suite's (pytest.ini), not the env's."""
    today = datetime.now(UTC).date()
    latest = today + timedelta(days=horizon_days)
    for index, waiver in enumerate(config.waivers):
        if waiver.expires > latest:
            where = _loc_text(("waivers", index, "expires"), raw)
            raise ConfigError(
                f"{shown}: {where}: {waiver.expires} is {(waiver.expires - today).days} days "
                f"ahead; a waiver lasts at most {horizon_days} days (smokegate_max_waiver_days "
                f"in pytest.ini): set {latest} or earlier, and renew it then if still needed"
            )


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _loc_text(loc: Iterable[int | str], raw: Any) -> str:
    """("endpoints", 2, "url") -> "endpoints[2] (api-health).url", naming the entry."""
    text = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict):
                label = node.get("name") or node.get("host") or node.get("check")
                if isinstance(label, str):
                    text += f" ({label})"
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


_MODELS_BY_SECTION: dict[str, type[BaseModel]] = {
    "defaults": Defaults,
    "endpoints": Endpoint,
    "auth": AuthEntry,
    "tls": TlsTarget,
    "iam": IamConfig,
    "waivers": Waiver,
    "forbidden": Forbidden,
    "password_policy": PasswordPolicyRule,
}


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    parents = [p for p in loc[:-1] if isinstance(p, str)]
    model: type[BaseModel] = EnvConfig
    if parents:
        model = _MODELS_BY_SECTION.get(parents[-1], EnvConfig)
    return [f.alias or name for name, f in model.model_fields.items()]


def _explain(exc: ValidationError, raw: Any, shown: str) -> str:
    lines = []
    by_place: dict[str, list[str]] = {}  # a union field yields one error per member: merge them
    got_at: dict[str, str] = {}
    for error in exc.errors():
        loc = _field_loc(error["loc"], raw)
        where = _loc_text(loc, raw)
        if error["type"] == "extra_forbidden":
            field = str(loc[-1])
            known = _known_fields(loc)
            meant = suggest_field(field, known)
            hint = f" (did you mean '{meant}'?)" if meant else f" (known: {', '.join(known)})"
            if field == "token":
                hint = ": secrets never live in the env file; name the variable with token_env"
            lines.append(f"{shown}: {where}: unknown field '{field}'{hint}")
        elif error["type"] == "missing":
            lines.append(f"{shown}: {where}: required field is missing")
        else:
            message = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            if error["type"].startswith("date"):
                message = date_advice(got)
            if where not in by_place:
                lines.append(where)  # placeholder, filled in below
                by_place[where] = []
                got_at[where] = "" if isinstance(got, dict | list) else f" (got {got!r})"
                if repr(got) in message:
                    got_at[where] = ""  # the message quotes the value already
                if (loc and str(loc[-1]).endswith("_env")) or error["type"].startswith("date"):
                    # a bad *_env value may well be the secret itself; a date is quoted
                    got_at[where] = ""
            by_place[where].append(message)
    text = []
    for line in lines:
        if line in by_place:
            messages = _dedupe_list(by_place[line])
            if len(messages) > 1:
                wanted = [m.removeprefix("Input should be ") for m in messages]
                message = "should be " + ", or ".join(wanted)
            else:
                message = messages[0]
            line = f"{shown}: {line}: {message}{got_at[line]}"
        text.append(line)
    return _dedupe("\n".join(text))


def _field_loc(loc: Iterable[int | str], raw: Any) -> tuple[int | str, ...]:
    """The error's location in the file, without pydantic's union-member tags
    (`expect_status.constrained-int` -> `expect_status`): a tag is a name that the
    YAML at that point cannot hold, because the node there is not a mapping."""
    kept: list[int | str] = []
    node = raw
    for part in loc:
        if isinstance(node, dict):
            kept.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            kept.append(part)
            node = node[part] if part < len(node) else None
    return tuple(kept)


def _dedupe_list(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _dedupe(text: str) -> str:
    seen: list[str] = []
    for line in text.splitlines():
        if line not in seen:
            seen.append(line)
    return "\n".join(seen)


def _reject_inline_secrets(
    raw: Any, shown: str, loc: tuple[int | str, ...] = (), root: Any = None
) -> None:
    """Refuse a credential-shaped value anywhere in the file; the message names where (with the
    entry's name) and what it resembles, never the value itself."""
    root = raw if root is None else root
    if isinstance(raw, dict):
        for key, value in raw.items():
            _reject_inline_secrets(value, shown, (*loc, str(key)), root)
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            _reject_inline_secrets(value, shown, (*loc, index), root)
    elif isinstance(raw, str):
        kind = looks_like_credential(raw)
        if kind:
            raise ConfigError(
                f"{shown}: {_loc_text(loc, root) or 'value'}: looks like a {kind}. Secrets never "
                "live in the env file: put it in an environment variable and name that variable "
                "with token_env"
            )


def _reject_duplicates(config: EnvConfig, shown: str) -> None:
    sections: list[tuple[str, list[str]]] = [
        ("endpoints", [e.name for e in config.endpoints]),
        ("auth", [a.name for a in config.auth]),
        ("tls", [t.name for t in config.tls]),
    ]
    for section, names in sections:
        first_seen: dict[str, int] = {}
        for index, name in enumerate(names):
            first = first_seen.setdefault(name, index)
            if first != index:
                raise ConfigError(
                    f"{shown}: {section}[{index}] ({name}): duplicate name '{name}', already used "
                    f"by {section}[{first}]; names must be unique because they are the test ids"
                )


def _check_paths(loaded: LoadedEnv, shown: str) -> None:
    mock = loaded.mock_dir
    if mock is not None and not mock.is_dir():
        raise ConfigError(f"{shown}: mock: folder '{loaded.config.mock}' does not exist")
    bundle = loaded.ca_bundle
    if bundle is not None and not bundle.is_file():
        raise ConfigError(f"{shown}: ca_bundle: file '{loaded.config.ca_bundle}' does not exist")
