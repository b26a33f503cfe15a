"""The env file (`envs/<env>.yaml`) as a validated model.

Everything a pipeline writes lands here first, so every mistake is caught in one
place and reported as one message naming the file, the entry and the field. The
model is strict on purpose: an unknown field is far more often a typo than an
intent, and a typo'd expectation that is silently ignored is a gate that passes
for the wrong reason.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from smokegate import linear_re
from smokegate.config_help import (
    date_advice,
    env_suggestion,
    suggest_field,
    type_advice,
    yaml_advice,
)
from smokegate.http_spec import (
    DEFAULT_MAX_REDIRECTS,
    BasicCredential,
    Credentials,
    EnvVar,
    HeaderCredential,
    JmesCheck,
    OAuth2Credential,
    QueryCredential,
    RequestSpec,
    StatusSpec,
    Strict,
    check_env_var,
    check_url,
    compile_jmespath,
    credentials_of,
    expected_header_problem,
    ipv4_spelling_problem,
    non_finite_problem,
    one_credential_form,
    regex_problem,
    status_matches,
    status_text,
    vacuous_regex_problem,
    vacuous_substring_problem,
    written_host,
)
from smokegate.redact import (
    MASK,
    MIN_SECRET_CHARS,
    Scrubber,
    encodable,
    escape_control,
    excerpt,
    has_lone_surrogates,
    reads_as_credential_field,
    unsafe_characters,
)
from smokegate.secrets_shape import looks_like_credential
from smokegate.severity import Severity
from smokegate.yaml_places import YamlPlaces

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
# libyaml's loader when PyYAML has it: 10x faster, which a 500-endpoint env file notices.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
# How far ahead a waiver may expire (days); the suite sets its own in pytest.ini.
WAIVER_HORIZON_DAYS = 365


MESSAGE_CHARS = 4000  # a whole usage error about an env file or a mocked world, at most


class ConfigError(Exception):
    """A problem with an env file, phrased for the person who wrote it.

    Every such message quotes env-file or mocked-world text (names, paths, values): it is
    made safe here, once, whatever built it: secrets masked, control characters escaped (an
    ESC in a name must not drive the terminal), and at most MESSAGE_CHARS long."""

    def __init__(self, message: str = "") -> None:
        # Not scrubbed here: the message's own words ("headers.Authorization: looks like a
        # bearer token") read like credential shapes; the values it quotes went through
        # `excerpt` where they were quoted, and the env file holds no secret (refused).
        text = escape_control(str(message))
        if len(text) > MESSAGE_CHARS:
            text = text[: MESSAGE_CHARS - 1] + "…"  # cut-ok: smokegate's message, values excerpted
        super().__init__(text)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names one key twice. PyYAML would keep the last value and drop the first
    silently: a second `endpoints:` would hide the first list and the gate would pass."""

    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(f"line {line}: duplicate key {key!r} (first at line {first_line})")
        self.key = key
        self.line = line
        self.first_line = first_line


# Tags of short plain scalars, shared by every load (see UniqueKeyLoader.resolve).
_RESOLVED_TAGS: dict[tuple[str, tuple[bool, ...]], str] = {}


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

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """The tag of each node as it is composed, counted: a file of millions of small
        values (16 MiB of `- 0`) took minutes and gigabytes composing before the budget,
        which ran on the composed graph, could refuse it (round 15). A plain scalar's tag
        depends on its text only: short ones are remembered (most repeat)."""
        self._composed = getattr(self, "_composed", 0) + 1
        if self._composed > MAX_YAML_VALUES:
            raise YamlBudgetError(
                f"holds more than {MAX_YAML_VALUES} values: no env file is that large", None
            )
        if kind is not yaml.ScalarNode or len(value) > 40:
            return super().resolve(kind, value, implicit)
        key = (value, tuple(implicit))
        tag = _RESOLVED_TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_RESOLVED_TAGS) >= 4096:
                _RESOLVED_TAGS.clear()
            _RESOLVED_TAGS[key] = tag
        return tag

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


def _refuse_tag(loader: yaml.BaseLoader, node: yaml.Node) -> Any:
    """YAML 1.1's collection and binary types are nothing an env file holds: a `!!set` read
    as a mapping of nulls got a message about the wrong shape."""
    shown = node.tag.rsplit(":", 1)[-1]  # cut-ok: one of our four tags
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"the YAML tag !!{shown} is not used in env files: write a list (- item) or a "
        "mapping (name: value)",
        node.start_mark,
    )


for _tag in ("set", "omap", "pairs", "binary"):
    UniqueKeyLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


# Numbers as YAML 1.2's core schema reads them (yaml.org/spec/1.2.2, 10.3.2), not as YAML
# 1.1 (PyYAML's default): no base 60 (`1:1:1:...` is built with one big-int multiply per
# part, quadratic: a 2.5 MB value took hours), no `_` separators, no `0b`. A decimal with a
# leading zero (`012345678901`, an AWS account id written bare) stays text, as YAML 1.1 kept
# it when it holds an 8 or a 9: read as a number it would lose its zero.
# What env files write is unchanged: 10, -3, 0x1F, 0o17, 1.5, 1e3, .inf, .nan.
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_CORE_INT = linear_re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$")
_CORE_FLOAT = linear_re.compile(
    # a `.` or an exponent: digits alone are an int, or text (a leading zero)
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
# No setting takes a number of more than a few digits; past Python's 4300 digits `int()`
# raises, and every digit is work for whatever quotes the value back.
MAX_NUMBER_CHARS = 100


class NumberTooLongError(yaml.YAMLError):
    """A number literal longer than MAX_NUMBER_CHARS, refused before it is built."""

    def __init__(self, length: int, line: int) -> None:
        super().__init__(
            f"line {line}: a number {length} characters long: no setting takes more than "
            f"{MAX_NUMBER_CHARS} (quote it if it is text)"
        )


def _number_text(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> str:
    """The literal of an int or float node, refused when longer than MAX_NUMBER_CHARS."""
    text = str(loader.construct_scalar(node))
    if len(text) > MAX_NUMBER_CHARS:
        raise NumberTooLongError(len(text), node.start_mark.line + 1)
    return text


def _not_a_number(node: yaml.ScalarNode, what: str) -> yaml.constructor.ConstructorError:
    """`!!int abc`: an explicit tag on a value that is no such number, said with its line."""
    return yaml.constructor.ConstructorError(
        None, None, f"'{excerpt(str(node.value), 40)}' is not {what}", node.start_mark
    )


def _construct_core_int(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> int:
    text = _number_text(loader, node)
    # cut-ok: a number's prefix (0o, 0x), never shown
    base, digits = {"0o": (8, text[2:]), "0x": (16, text[2:])}.get(text[:2], (10, text))
    try:
        return int(digits, base)
    except ValueError:
        raise _not_a_number(node, "an integer") from None


def _construct_core_float(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> float:
    text = _number_text(loader, node).lower()
    special = {".inf": float("inf"), ".nan": float("nan")}.get(text.lstrip("+-"))
    if special is not None:
        return -special if text.startswith("-") else special
    try:
        return float(text)
    except ValueError:
        raise _not_a_number(node, "a number") from None


def _use_core_numbers(loader: type[yaml.BaseLoader]) -> None:
    """Replace YAML 1.1's int and float resolvers and constructors on `loader` (its own
    copy of the resolver table; PyYAML's loaders are left as they are)."""
    loader.yaml_implicit_resolvers = {
        first: [(tag, regex) for tag, regex in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
        for first, resolvers in loader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(_INT_TAG, _CORE_INT, list("-+0123456789"))
    loader.add_implicit_resolver(_FLOAT_TAG, _CORE_FLOAT, list("-+0123456789."))
    loader.add_constructor(_INT_TAG, _construct_core_int)
    loader.add_constructor(_FLOAT_TAG, _construct_core_float)


_use_core_numbers(UniqueKeyLoader)


# What an env file may be: far more than any real one (500 endpoints are ~50 KB and ~8 000
# values), far less than what hangs or exhausts the machine. An attacker-written file (a
# merge request) is refused in bounded time and memory, before anything walks it.
MAX_ENV_BYTES = 16 * 1024 * 1024
# values as written and once aliases are expanded: a "billion laughs" has 10**9; 16 MiB of
# `- 0` has 4 million, each a Python object (about 135 MB a MiB of such a file)
MAX_YAML_VALUES = 200_000
# characters of every scalar once aliases are expanded: a 1 MiB string aliased 15 000 times
# is few values and 15 GiB of text for everything that walks the document
MAX_YAML_CHARS = 32 * 1024 * 1024
MAX_YAML_DEPTH = 64
SHOWN_CHARS = 120  # an env-file value quoted back in a message


class YamlBudgetError(yaml.YAMLError):
    """The document is too deep, too big once its aliases are expanded, or recursive."""

    def __init__(self, problem: str, line: int | None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{problem}")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_yaml_budget(root: yaml.Node) -> None:
    """Refuse a node graph too deep, too large once aliases are expanded, or recursive.

    An alias is the same node object twice in the graph, so the expanded size of every node
    is computed once (memoised, iteratively: no recursion to exhaust) in time linear in the
    file, however many times the aliases multiply it.
    """
    sizes: dict[int, int] = {}
    chars: dict[int, int] = {}
    depths: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        line = node.start_mark.line + 1 if node.start_mark else None
        if finished:
            ancestors.discard(key)
            children = _children(node)
            depth = 1 + max((depths[id(c)] for c in children), default=0)
            size = 1 + sum(sizes[id(c)] for c in children)
            text = sum(chars[id(c)] for c in children) + (
                len(node.value) if isinstance(node, yaml.ScalarNode) else 0
            )
            if text > MAX_YAML_CHARS:
                raise YamlBudgetError(
                    f"expands to more than {MAX_YAML_CHARS // (1024 * 1024)} MiB of text once "
                    "its aliases (*name) are expanded: no env file is that large (a YAML alias "
                    "bomb?)",
                    line,
                )
            if depth > MAX_YAML_DEPTH:
                raise YamlBudgetError(
                    f"nested more than {MAX_YAML_DEPTH} levels deep: no env file is", line
                )
            if size > MAX_YAML_VALUES:
                raise YamlBudgetError(
                    f"expands to more than {MAX_YAML_VALUES} values once its aliases (*name) "
                    "are expanded: no env file is that large (a YAML alias bomb?)",
                    line,
                )
            sizes[key], depths[key], chars[key] = size, depth, text
            continue
        if key in sizes:
            continue
        if key in ancestors:
            raise YamlBudgetError("an alias (*name) refers to a value that contains it", line)
        ancestors.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def load_yaml(text: str) -> Any:
    """YAML text to Python data, with duplicate keys refused (DuplicateKeyError) and the
    document's depth and expanded size checked before anything is built from it."""
    return load_yaml_document(text)[0]


def load_yaml_document(text: str) -> tuple[Any, yaml.Node | None]:
    """`load_yaml`'s data and the composed node it was built from (which has the lines)."""
    loader = UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        check_yaml_budget(node)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def read_env_text(path: Path) -> str:
    """The file's text, read up to MAX_ENV_BYTES (a /proc file or a growing log cannot make
    the read unbounded)."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_ENV_BYTES + 1)
    if len(data) > MAX_ENV_BYTES:
        raise ConfigError(
            f"is larger than {MAX_ENV_BYTES // (1024 * 1024)} MiB: no env file is; is it the "
            "right file?"
        )
    return data.decode("utf-8")


def read_world_file(path: Path) -> str:
    """A mocked world's YAML file, read like an env file: bounded, UTF-8 or a ConfigError."""
    try:
        return read_env_text(path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None


_Strict = Strict


PositiveSeconds = Annotated[StrictFloat, Field(gt=0, le=600)]
Status = Annotated[StrictInt, Field(ge=100, le=599)]


class Defaults(_Strict):
    timeout_s: PositiveSeconds = 5.0
    retries: Annotated[StrictInt, Field(ge=0, le=10)] = 0
    severity: Severity | None = None
    # Probes in flight per process. 128 measured fastest for 500 endpoints x 100 ms
    # (bench/http_bench.py; README "Measured"): fewer take more rounds of round trips, more
    # spend their start-up and GIL turns on threads that a probe of ~1 ms CPU cannot use.
    max_workers: Annotated[StrictInt, Field(ge=1, le=1024)] = 128
    # A body is kept (bytes, text, parsed JSON) until its case is judged; 64 MiB is far
    # past any health or API body, and a run keeps at most RUN_BODY_BUDGET of them in all.
    max_body_kb: Annotated[StrictInt, Field(ge=1, le=64 * 1024)] = 1024


def _check_url(url: str) -> str:
    return check_url(url)


def _check_method(method: str) -> str:
    upper = method.upper()
    if upper not in HTTP_METHODS:
        raise ValueError(f"'{method}' is not one of {', '.join(HTTP_METHODS)}")
    return upper


# An entry's name, at most: it is the case id, echoed in every line of every report about
# the case (a 15 MB name was 100 MB of reports).
MAX_NAME_CHARS = 200
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]


def _derive_name(url: str) -> str:
    """`https://api.example.com/health` -> `api.example.com/health`: readable in a test id.
    A name longer than MAX_NAME_CHARS is refused (a long URL path needs a `name:`)."""
    parts = urlsplit(url)
    host = written_host(parts) or "target"
    if parts.port:
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    name = f"{host}{path}" if path else host
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(
            f"the name derived from its URL ('{excerpt(name, 60)}') is {len(name)} characters "
            f"long, more than {MAX_NAME_CHARS}: give the entry a shorter name:"
        )
    return name


def _quoted_json_problem(expected: Any) -> str | None:
    """`json: '{"status": "ok"}'`, pasted from a curl answer, asks for a body that is that
    one JSON string, which no JSON API answers: it failed only at run time, as `json $ is
    {...}, expected "{...}"`. Said when the file is read, with the YAML way to write it."""
    if not isinstance(expected, str) or not expected.lstrip().startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(expected)
    except (ValueError, RecursionError):  # not JSON, or nested past the stack: compared as text
        return None
    if not isinstance(parsed, dict | list):
        return None
    return (
        "is a quoted string holding JSON, so the body would have to be that one string: "
        'remove the quotes to compare it as data (JSON is YAML: json: {"status": "ok"})'
    )


def _empty_list_problem(expected: Any, path: str = "json") -> str | None:
    """An empty list inside `json:`: a list there means "has these elements", and none is
    held by every array, so `errors: []` passed on `["db down"]` while the same line under
    `jmespath:` (an exact match) failed (round 41c F2). Refused, with what to write."""
    stack: list[tuple[Any, str]] = [(expected, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            if not value and where != path:
                return (
                    f"{where} is [], which every array holds (a list under json: means "
                    "'has these elements'): for an empty array write it under jmespath: "
                    "(an exact match), or ask for length(...): 0"
                )
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))
    return None


class Endpoint(_Strict):
    name: Name = ""
    url: str
    method: str = "GET"
    # what is sent (DESIGN.md §3a)
    credentials: Credentials | None = None
    token_env: EnvVar | None = None  # short form of credentials: {bearer_env: VAR}
    request: RequestSpec | None = None
    # what must come back
    expect_status: StatusSpec = Field(default_factory=lambda: [200])
    # an hour: past any timeout, so a larger bound could never fail (round 18b: 1e300)
    max_latency_ms: Annotated[StrictFloat, Field(gt=0, le=3_600_000)] | None = None
    json_subset: Any = Field(default=None, alias="json")
    jmespath: dict[str, Any] = Field(default_factory=dict)
    body_contains: str | None = None
    body_regex: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    follow_redirects: StrictBool = True
    max_redirects: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    security_headers: StrictBool | list[str] = False
    timeout_s: PositiveSeconds | None = None
    ca_bundle: str | None = None
    severity: Severity | None = None

    _url = field_validator("url")(_check_url)

    _method = field_validator("method")(_check_method)

    @field_validator(
        "json_subset",
        "body_contains",
        "body_regex",
        "jmespath",
        "headers",
        "security_headers",
        mode="before",
    )
    @classmethod
    def _given_with_a_value(cls, value: Any, info: ValidationInfo) -> Any:
        """Written, so asked for: `json:` with its lines commented out (null), `''` or
        `jmespath: {}` checked nothing and the case passed on a maintenance page (round
        17b; `headers: {}` and `security_headers: []`, round 18b). Absent fields are not
        validated; only what the file says reaches here. `json: {}` stays: it asks for a
        JSON object."""
        empty_checks = info.field_name != "json_subset" and value in ({}, [])
        if value is None or value == "" or empty_checks:
            raise ValueError(
                "is written without a value, so it would check nothing: give what the body "
                "must hold, or remove the line"
            )
        return value

    @field_validator("json_subset")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        problem = (
            non_finite_problem(value) or _empty_list_problem(value) or _quoted_json_problem(value)
        )
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("headers")
    @classmethod
    def _answer_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, expected in value.items():
            problem = expected_header_problem(name, expected)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        problem = regex_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        vacuous = vacuous_regex_problem(value) if value is not None else None
        if vacuous:
            raise ValueError(
                f"/{excerpt(value or '', 80)}/ {vacuous}: say what only a healthy body holds"
            )
        return value

    @field_validator("body_contains")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is only blanks, which nearly every body holds: say what it must hold")
        vacuous = vacuous_substring_problem(value) if value is not None else None
        if vacuous:
            raise ValueError(
                f"'{excerpt(value or '', 80)}' {vacuous}: say what only a healthy body holds"
            )
        return value

    @field_validator("jmespath")
    @classmethod
    def _jmespath(cls, value: dict[str, Any]) -> dict[str, Any]:
        compile_jmespath(value)  # refused at load time, with the expression named
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
        one_credential_form(self.credentials, self.token_env)
        if self.max_redirects is not None and not self.follow_redirects:
            raise ValueError("max_redirects has no effect with follow_redirects: false")
        if all(self.status_ok(status) for status in range(100, 600)):
            raise ValueError(
                f"expect_status: {self.expected_status_text} accepts every status, so the case "
                "would pass on any answer: say which statuses mean healthy"
            )
        body_expectations = [
            name
            for name, given in (
                ("json", self.json_subset is not None),
                ("jmespath", bool(self.jmespath)),
                ("body_contains", self.body_contains is not None),
                ("body_regex", self.body_regex is not None),
            )
            if given
        ]
        if self.method.upper() == "HEAD" and body_expectations:
            # round 24c: accepted, then failed as "the service reports itself unhealthy"
            raise ValueError(
                f"method HEAD gets an answer without a body, so {', '.join(body_expectations)} "
                "could never hold: use GET, or expect the status and headers only"
            )
        if not self.name:
            object.__setattr__(self, "name", _derive_name(self.url))
        return self

    @property
    def expected_statuses(self) -> tuple[int | str, ...]:
        """The statuses and classes (`2xx`) that pass."""
        return tuple(self.expect_status)

    def status_ok(self, status: int) -> bool:
        return status_matches(self.expect_status, status)

    @property
    def expected_status_text(self) -> str:
        return status_text(self.expect_status)

    @property
    def auth(self) -> Credentials | None:
        """The credentials to send, `token_env` being the short form of `bearer_env`."""
        return credentials_of(self.credentials, self.token_env)

    @property
    def redirect_limit(self) -> int:
        return DEFAULT_MAX_REDIRECTS if self.max_redirects is None else self.max_redirects

    @cached_property
    def jmespath_checks(self) -> tuple[JmesCheck, ...]:
        return compile_jmespath(self.jmespath)


def _check_env_var(value: str) -> str:
    return check_env_var(value)


class _Identity(_Strict):
    """An entry that must name an identity to send: `token_env`, or any `credentials:`."""

    token_env: EnvVar | None = None
    credentials: Credentials | None = None

    def _require_identity(self, what: str) -> None:
        one_credential_form(self.credentials, self.token_env)
        if self.credentials is None and self.token_env is None:
            raise ValueError(f"give token_env or credentials: {what}")

    @property
    def auth(self) -> Credentials:
        found = credentials_of(self.credentials, self.token_env)
        assert found is not None  # the validator requires one
        return found


class Forbidden(_Identity):
    """A low-privilege identity the entry must refuse."""

    status: Status = 403

    @model_validator(mode="after")
    def _one_form(self) -> Forbidden:
        self._require_identity("the identity that must be refused")
        return self


class AuthEntry(_Identity):
    name: Name = ""
    url: str
    method: str = "GET"
    request: RequestSpec | None = None
    anonymous_status: Status = 401
    authenticated_status: Status = 200
    forbidden: list[Forbidden] = Field(default_factory=list)
    timeout_s: PositiveSeconds | None = None
    ca_bundle: str | None = None
    severity: Severity | None = None

    _url = field_validator("url")(_check_url)
    _method = field_validator("method")(_check_method)

    @field_validator("forbidden", mode="before")
    @classmethod
    def _forbidden_given(cls, value: Any) -> Any:
        if value is None or value == []:
            raise ValueError(
                "is written without an identity, so it would check nothing: give the "
                "low-privilege identities the endpoint must refuse, or remove the line"
            )
        return value

    @model_validator(mode="after")
    def _default_name(self) -> AuthEntry:
        self._require_identity("the identity test_accepts_token sends")
        if self.anonymous_status == self.authenticated_status:
            raise ValueError(
                f"anonymous_status and authenticated_status are both {self.anonymous_status}, "
                "so the cases could not tell an open endpoint from a protected one: give the "
                "status an anonymous request must get (401 or 403)"
            )
        for number, refused in enumerate(self.forbidden):
            if refused.status == self.authenticated_status:
                raise ValueError(
                    f"forbidden[{number}].status is {refused.status}, the status of an "
                    "accepted request, so the case could not tell a refusal from access: give "
                    "the status a refused identity gets (403)"
                )
        if not self.name:
            object.__setattr__(self, "name", _derive_name(self.url))
        return self


# A DNS name is at most 253 characters (RFC 1035); the host is the TLS case's id.
MAX_HOST_CHARS = 253
Host = Annotated[str, Field(max_length=MAX_HOST_CHARS)]


def _tls_host_shape_problem(value: str) -> str | None:
    """Why a `tls:` host is written as something other than a host name or address: a URL,
    `host:port`, a bracketed IPv6 address, a blank."""
    shown = excerpt(value, 80)
    if "://" in value or "/" in value:
        return (
            f"'{shown}' is a URL: write only its host (example.com), and port: when it is not 443"
        )
    name, colon, port = value.rpartition(":")
    if colon and name.count(":") == 0 and port.isdigit():
        return f"'{shown}' holds a port: write host: {excerpt(name, 80)} and port: {port}"
    inside, closed, after = value.removeprefix("[").partition("]:")
    if value.startswith("[") and closed and after.isdigit():  # `[::1]:8443` (round 38c)
        return (
            f"'{shown}' holds a port: write host: {excerpt(inside, 80)} and port: "
            f"{excerpt(after, 10)}"
        )
    if value.startswith("[") or value.endswith("]"):
        return (
            f"'{shown}': write an IPv6 address without brackets ({excerpt(value.strip('[]'), 80)})"
        )
    if any(ch.isspace() for ch in value):
        return f"'{shown}' holds a blank, which no host name does"
    if ":" in value:  # round 37c: `127.0.0.1:`, `host:abc`, `:::` failed as a Python error
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return (
                f"'{shown}' holds a colon but is no IPv6 address: write the host name or "
                "address alone, and port: for the port"
            )
        return None
    return _label_problem(value, shown)


# RFC 1035: a DNS label holds 1 to 63 octets (an internationalised one in its xn-- form)
MAX_LABEL = 63


def _label_problem(value: str, shown: str) -> str | None:
    """Why a host name cannot be sent (the handshake's IDNA encoding refuses it): round 37c,
    `local..host` loaded and failed as "TLS handshake failed: encoding with 'idna' codec
    failed" though nothing reached the network."""
    labels = value.split(".")
    if labels and not labels[-1]:
        labels.pop()  # the root's dot: said on its own (`_plain_ipv4`)
    if any(not label for label in labels):
        return f"'{shown}' has an empty label (two dots together, or a leading dot)"
    for label in labels:
        try:
            size = len(label) if label.isascii() else 4 + len(label.encode("punycode"))
        except UnicodeError:
            size = MAX_LABEL + 1
        if size > MAX_LABEL:
            return (
                f"'{shown}' has a label longer than {MAX_LABEL} characters "
                f"('{excerpt(label, 80)}'), which no DNS name does"
            )
    return None


class TlsTarget(_Strict):
    host: Host
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 443
    min_days_left: Annotated[StrictInt, Field(ge=0)] = 21
    server_name: Host | None = None
    timeout_s: PositiveSeconds | None = None
    ca_bundle: str | None = None
    severity: Severity | None = None

    @field_validator("host", "server_name")
    @classmethod
    def _plain_ipv4(cls, value: str | None) -> str | None:
        problem = ipv4_spelling_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        problem = _tls_host_shape_problem(value) if value else None
        if problem:  # round 36c: these loaded, then failed as a Python error at run time
            raise ValueError(problem)
        if value and value.endswith(".") and value.strip("."):
            # round 28c: `localhost.` failed as "wrong host name" with wildcards and several
            # certificates as the causes; a certificate never names the root's dot
            raise ValueError(
                f"'{excerpt(value, 80)}' ends with a dot: a certificate names hosts without "
                f"it, so no certificate would match; write '{excerpt(value.rstrip('.'), 80)}'"
            )
        return value

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


class PasswordPolicyRule(_Strict):
    min_length: Annotated[StrictInt, Field(ge=1)] | None = 14
    reuse_prevention: Annotated[StrictInt, Field(ge=1)] | None = 24


_ROLE_ARN = linear_re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+$")
_ROLE_NAME = linear_re.compile(r"^[\w+=,.@-]{1,64}$")
# An account's label is part of case ids (`test_root_mfa[payments-prod]`,
# `test_user_age[payments-prod/alice]`): no `/` (it separates the account from the user),
# no brackets or spaces (they would not survive -k and CI UIs).
ACCOUNT_LABEL = linear_re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=,-]{0,63}$")
# The label of what concerns the whole organization (its listing, the caller's
# credentials), not one account. No account takes it, in any case: an account named
# `organization` was read as the listing's own case and dropped by every shard but the
# first, its failure unjudged while the merged gate passed (round 24b).
ORGANIZATION = "organization"


def is_account_label(name: str) -> bool:
    """`name` can stand for one account in case ids: the shape above, and not the
    organization's own label."""
    return bool(ACCOUNT_LABEL.search(name)) and name.lower() != ORGANIZATION


class IamAccount(_Strict):
    """One AWS account audited through a role assumed with STS."""

    role_arn: str
    name: str | None = None  # alias shown in case ids; the account id otherwise

    @field_validator("role_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not _ROLE_ARN.search(value):
            raise ValueError(
                f"'{value}' is not an IAM role ARN such as arn:aws:iam::111111111111:role/Audit"
            )
        return value

    @field_validator("name")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and value.lower() == ORGANIZATION:
            raise ValueError(
                f"'{value}' is the label of the organization's own case (its listing, the "
                "caller's credentials): give the account another name"
            )
        if value is not None and not ACCOUNT_LABEL.search(value):
            raise ValueError(
                f"'{value}' cannot be part of a case id: letters, digits and ._@+=,- only "
                "(no '/', no spaces), at most 64 characters"
            )
        return value

    @property
    def account_id(self) -> str:
        match = _ROLE_ARN.search(self.role_arn)
        return match.group(1) if match else ""

    @property
    def label(self) -> str:
        """What case ids show: the alias, or the account id."""
        return self.name or self.account_id


class IamOrganization(_Strict):
    """Every ACTIVE member account of the AWS Organization, through one role name."""

    role_name: str
    include: list[str] = Field(default_factory=list)  # fnmatch over names or ids; [] = all
    exclude: list[str] = Field(default_factory=list)

    @field_validator("role_name")
    @classmethod
    def _role_name(cls, value: str) -> str:
        if not _ROLE_NAME.search(value):
            raise ValueError(f"'{value}' is not an IAM role name (letters, digits, +=,.@_-)")
        return value


# Up to a hundred years: no IAM principal or key is older (AWS itself is not).
Days = Annotated[StrictInt, Field(ge=0, le=36_500)]


class IamConfig(_Strict):
    profile: str | None = None
    role_arn: str | None = None
    region: str | None = None
    # (round 19b: `forbid_root_access_keys: 0` or `'no'` read as false and switched a root
    # rule off; a threshold no account can reach, such as 2 keys (IAM's own limit) or
    # 100 000 days, could never fail: `null` is how a rule is switched off, and is said)
    max_user_age_days: Days | None = 365
    max_access_key_age_days: Days | None = 90
    max_unused_days: Days | None = 45
    require_console_mfa: StrictBool | None = True
    forbid_root_access_keys: StrictBool | None = True
    require_root_mfa: StrictBool | None = True
    max_active_keys_per_user: Annotated[StrictInt, Field(ge=0)] | None = 1
    password_policy: PasswordPolicyRule | None = Field(default_factory=PasswordPolicyRule)
    severity: Severity | None = None
    accounts: list[IamAccount] = Field(default_factory=list)
    organization: IamOrganization | None = None
    # The whole audit's bound (every account, the report's generation included): botocore's
    # timeouts bound one read, and an endpoint that drips a byte at a time never hits them.
    timeout_s: Annotated[StrictFloat, Field(gt=0, le=3600)] = 300.0

    @field_validator("max_active_keys_per_user")
    @classmethod
    def _reachable_key_limit(cls, value: int | None) -> int | None:
        if value is not None and value >= 2:
            raise ValueError(
                f"is {value}: IAM allows at most 2 access keys per user, so the rule could "
                "never fail; give 0 or 1, or null to switch the rule off"
            )
        return value

    @property
    def multi_account(self) -> bool:
        """True when the audit names its accounts (ids then carry the account)."""
        return bool(self.accounts) or self.organization is not None


# letters and symbols that show as nothing: Hangul fillers (Lo, so `isalnum`)
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


class Waiver(_Strict):
    check: str
    target: str
    reason: Annotated[str, Field(min_length=1)]
    expires: date

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        # blank to a reader: blanks, and characters no report shows (round 19b: a zero-width
        # space, U+3164, U+2800 passed `strip()`, and the waiver waived a failing case)
        if not any(ch.isalnum() and ch not in _BLANK_LETTERS for ch in value):
            raise ValueError("is blank: say why the failure is accepted (who, until when, why)")
        return value


class EnvConfig(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    mock: str | None = None
    ca_bundle: str | None = None
    endpoints: list[Endpoint] = Field(default_factory=list)
    auth: list[AuthEntry] = Field(default_factory=list)
    tls: list[TlsTarget] = Field(default_factory=list)
    iam: IamConfig | None = None
    waivers: list[Waiver] = Field(default_factory=list)

    @model_validator(mode="after")
    def _latency_within_the_timeout(self) -> EnvConfig:
        """A latency bound at or past the request's own timeout can never fail: the request
        times out first (round 20: `max_latency_ms: 600000` with `timeout_s: 2` passed)."""
        for index, endpoint in enumerate(self.endpoints):
            timeout_s = endpoint.timeout_s or self.defaults.timeout_s
            if endpoint.max_latency_ms is not None and endpoint.max_latency_ms >= timeout_s * 1000:
                raise ValueError(
                    f"endpoints[{index}] ({endpoint.name}): max_latency_ms "
                    f"{endpoint.max_latency_ms:g} is not below its timeout of {timeout_s:g} s, so "
                    "the latency could never fail it (the request times out first): give a "
                    "bound below the timeout"
                )
        return self


class LoadedEnv(BaseModel):
    """An env file after validation, with the facts a run needs besides the model."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    path: Path
    root: Path
    config: EnvConfig
    # The file's bytes, hashed: shards of one run read one file (`python -m smokegate.merge`
    # refuses shards whose files differ: a stale shard of another checkout is no part of it)
    digest: str = ""

    def resolve(self, relative: str) -> Path:
        """Paths in an env file are relative to the project root, like the CLI's."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.root / path)

    @property
    def shown(self) -> str:
        """The env file's path as messages name it: relative to the folder the run started
        in (the project root, for a pipeline) if inside it, else whole. Relative to the
        root it would read `envs/prod.yaml` for a root moved elsewhere as well."""
        try:
            here = Path.cwd()
        except OSError:  # the folder was removed under the run
            return encodable(str(self.path))
        # a folder named in bytes that are not UTF-8 (round 14): escaped, as no report's
        # UTF-8 writer takes a lone surrogate (pytest-html's raised, report.html was lost)
        return encodable(_display(self.path, here))

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
        path = Path(name_or_path).expanduser().absolute()
        in_envs = envs_dir / name_or_path
        if not path.is_file() and "/" not in name_or_path and in_envs.is_file():
            return in_envs
        return path
    return envs_dir / f"{name_or_path}.yaml"


def _resolved(path: Path, shown: str) -> Path:
    """The file itself, symlinks followed; a symlink loop or an impossible name is a usage
    error, not a traceback."""
    try:
        return path.resolve(strict=True)
    except FileNotFoundError:
        return path
    except (OSError, RuntimeError, ValueError) as exc:
        reason = "a symlink loop" if "loop" in str(exc).lower() else excerpt(str(exc), 200)
        raise ConfigError(f"{shown}: cannot be read: {reason}") from None


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
    asked = excerpt(name_or_path, 200)
    try:
        path = env_path(name_or_path, envs_dir)
    except (OSError, RuntimeError, ValueError):
        raise ConfigError(f"unknown env '{asked}': not a usable file name") from None
    shown = excerpt(_display(path, root), 500)
    resolved = _resolved(path, shown)
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = resolved  # given as a path: named after the file it resolves to, as always
    try:
        exists = resolved.is_file()
        what = "is not a regular file" if resolved.exists() else "does not exist"
    except (OSError, ValueError):
        exists, what = False, "does not exist"
    if not exists:
        known = available_envs(envs_dir)
        listing = (
            excerpt(", ".join(known), 2000)
            if known
            else f"none: {excerpt(_display(envs_dir, root), 500)}/ has no *.yaml"
        )
        source = f" (named by {named_by})" if named_by else ""
        meant = excerpt(env_suggestion(Path(name_or_path).stem, known), 300)
        raise ConfigError(
            f"unknown env '{asked}'{source}: {shown} {what}. "
            f"{meant + ' ' if meant else ''}Known envs: {listing}"
        )
    _refuse_unsafe_name(path, root)
    read = _Read()
    try:
        return _parsed_env(resolved, path, root, shown, waiver_horizon_days, read)
    except ConfigError as exc:
        # A refusal quotes what the file holds, before the run knows which variables hold
        # its credentials: a token pasted into another field than its variable's
        # (`timeout_s:`, a name, a line YAML cannot read) was shown whole when its variable
        # was named like no secret (rounds 56a, 56b). The values of the variables the file
        # names are masked here, whole and in pieces (an excerpt cuts a long one).
        raise ConfigError(_named_values_masked(str(exc), read.text, read.raw)) from None


@dataclass
class _Read:
    """As much of the env file as was read when a refusal came: what names its variables."""

    text: str = ""
    raw: Any = None  # its parsed data, once YAML could parse it


def _parsed_env(
    resolved: Path, path: Path, root: Path, shown: str, horizon: int, read: _Read
) -> LoadedEnv:
    """The env file read, parsed and validated, each step noted in `read` as it is done."""
    try:
        text = read.text = read_env_text(resolved)
        raw, document = load_yaml_document(text)
        read.raw = raw
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc}") from None
    except DuplicateKeyError as exc:
        raise ConfigError(
            f"{shown}: line {exc.line}: duplicate key {excerpt(repr(exc.key), SHOWN_CHARS)} "
            f"(first at line {exc.first_line})"
        ) from None
    except (YamlBudgetError, NumberTooLongError) as exc:
        raise ConfigError(f"{shown}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = excerpt(getattr(exc, "problem", None) or str(exc), 300, first_line=True)
        advice = yaml_advice(text, mark.line, problem) if mark else problem
        raise ConfigError(f"{shown}:{where}: invalid YAML: {excerpt(advice, 600)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = excerpt(str(exc), 300, first_line=True)
        raise ConfigError(f"{shown}: cannot be read: {reason}") from None
    except RecursionError:  # a construct nested past Python's stack, whatever the budget
        raise ConfigError(f"{shown}: nested too deeply to be an env file") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: the top level must be a mapping (defaults:, endpoints:, ...)")
    if "iam" in raw and raw["iam"] is None:
        # `iam:` with every setting commented out: the user asked for the audit, with defaults.
        raw["iam"] = {}
    config = _validated(raw, YamlPlaces(document), shown, horizon)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]  # cut-ok: a digest
    loaded = LoadedEnv(name=path.stem, path=path, root=root, config=config, digest=digest)
    _check_paths(loaded, shown)
    return loaded


def _validated(raw: dict[str, Any], places: YamlPlaces, shown: str, horizon: int) -> EnvConfig:
    """The file's settings, or ConfigError naming the first thing wrong with them."""
    _reject_inline_secrets(raw, shown, places)
    try:
        config = EnvConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, raw, shown, places)) from None
    _reject_duplicates(config, shown, places)
    _reject_far_waivers(config, raw, shown, horizon)
    if config.mock is not None and config.tls:
        raise ConfigError(
            f"{shown}: tls: cannot be used with mock: a mocked env sends no real traffic; TLS "
            "checks need real handshakes: run tls: from an env without mock:"
        )
    return config


# `bearer_env: DEPLOY_CRED`, `{value_env: "${DEPLOY_CRED}"}`, `token_env: $X`: the names a
# file gives its credentials, read from its text (a file YAML cannot parse names them too)
_NAMED_VARIABLE = linear_re.compile(
    r"([A-Za-z0-9_]*_env)[\"']?[ \t]*:[ \t]*(?:#[^\n]*)?\s*(?:!!str\s+)?"
    r"[\"']?[ \t]*\$?\{?[ \t]*([A-Za-z_][A-Za-z0-9_]*)"
)


def _named_values_masked(message: str, text: str, raw: Any = None) -> str:
    """`message` with the values of the variables the file names masked: read from its
    text (a file YAML cannot parse names them too) and, once parsed, from every `*_env`
    value of it (a name on the line after its key, behind a tag: round 56c). Every form a
    scrub masks, and the pieces an excerpt left of one."""
    names = {match.group(2) for match in _NAMED_VARIABLE.finditer(text)} | _env_names(raw)
    if names:
        scrubber = Scrubber(sorted(names))
        message = scrubber.mask_fragments(scrubber.scrub(message))
    # A file YAML could not parse names its variables in ways its text does not show (an
    # alias, a block scalar, an explicit key: round 56d), and its refusal quotes a line of
    # it: any variable's value is masked there, and so is a credential's shape, which the
    # file's own check never saw (it runs on a parsed file).
    unparsed = raw is None and bool(text)
    return _runs_masked(message, _environment_values() if unparsed else [])


# what an excerpt left of a quoted value: token characters up to its `…`
_CUT_PIECE = linear_re.compile(r"([A-Za-z0-9._~+/-]{8,})…")
_CREDENTIAL_RUN = linear_re.compile(r"[^\s'\"(),;]{8,}")


def _environment_values() -> list[str]:
    """The environment's values long enough to be a secret, longest first; not paths nor
    path lists (the refusal names the file by its path)."""
    values = {value.strip() for value in os.environ.values()}
    return sorted(
        (
            value
            for value in values
            if len(value) >= MIN_SECRET_CHARS
            and not value.startswith(("/", "~"))
            and os.pathsep not in value
        ),
        key=len,
        reverse=True,
    )


def _runs_masked(message: str, values: list[str]) -> str:
    """`message` with each of `values` masked wherever it stands (round 56e: glued to `}`,
    `=` or `]` it was not a word of its own), what an excerpt left of one (its start, cut
    with `…`), and each run that looks like a credential."""
    for value in values:
        message = message.replace(value, MASK)
    pieces: list[str] = []
    end = 0
    for match in _CUT_PIECE.finditer(message):
        piece = match.group(1)
        keep = next(
            (
                len(piece) - size
                for value in values
                for size in range(min(len(piece), len(value)), MIN_SECRET_CHARS - 1, -1)
                if piece.endswith(value[:size])  # cut-ok: a value's start, compared only
            ),
            None,
        )
        if keep is not None:
            pieces += [message[end : match.start(1) + keep], MASK]  # cut-ok: own spans
            end = match.end(1)
    message = "".join(pieces) + message[end:]  # cut-ok: the message's own tail
    pieces, end = [], 0
    for match in _CREDENTIAL_RUN.finditer(message):
        if looks_like_credential(match.group(0)):
            pieces += [message[end : match.start()], MASK]  # cut-ok: the message's own spans
            end = match.end()
    return "".join(pieces) + message[end:]  # cut-ok: the message's own tail


def _env_names(raw: Any, seen: set[int] | None = None) -> set[str]:
    """The variable names of a parsed file's `*_env` fields, wherever they are."""
    seen = set() if seen is None else seen
    if id(raw) in seen:
        return set()
    seen.add(id(raw))
    found: set[str] = set()
    children: Iterable[Any] = ()
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(key, str) and key.endswith("_env") and isinstance(value, str):
                found.add(value.strip().removeprefix("$").strip("{}").strip())
        children = raw.values()
    elif isinstance(raw, list):
        children = raw
    for child in children:
        found |= _env_names(child, seen)
    return found


def env_name_problem(name: str) -> str | None:
    """Why `name` cannot name an env's reports folder, reports/<name>/, or None. The folder
    must be one folder inside the reports root (`...yaml` has the stem `..`), printable raw
    by pytest (`generated xml file: reports/<env>/junit.xml`: ESC, CR, LF, C1 or a bidi
    override would drive the terminal), encodable in UTF-8 (a file name's undecodable byte
    ended a run in a traceback after its checks ran), and visible (" .yaml"). Used for a
    run's env file and for the `env` a shard's JUnit file claims."""
    if name in ("", ".", "..") or any(sep in name for sep in ("/", "\\", "\x00")):
        return "gives no folder name for its reports"
    found = unsafe_characters(name)
    if found:
        shown = ", ".join(escape_control(char, one_line=True) for char in found)
        return (
            f"holds control characters or invisible formatting characters ({shown}): it "
            "names the reports folder, which pytest prints raw to the terminal"
        )
    if has_lone_surrogates(name):
        return "holds bytes that are not UTF-8: reports and their paths are UTF-8 text"
    if name != name.strip():
        return "starts or ends with a space: its reports folder would be hard to tell apart"
    return None


def shown_file_name(name: str) -> str:
    """A file name as a message may quote it: control characters and undecodable bytes
    escaped (`encodable`, then `excerpt`)."""
    return excerpt(encodable(name), 200, spacing=True)


def _refuse_unsafe_name(path: Path, root: Path) -> None:
    """The env's name (the file's stem) is the reports folder: see `env_name_problem`."""
    problem = env_name_problem(path.stem)
    if problem:
        where, name = shown_file_name(_display(path, root)), shown_file_name(path.name)
        raise ConfigError(
            f"{where}: the env file's name '{name}' {problem}. Rename the file (letters, "
            "digits, '-', '_', '.')"
        )


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
    except (ValueError, OSError, RuntimeError):
        return str(path)


def _loc_text(loc: Iterable[int | str], raw: Any) -> str:
    """("endpoints", 2, "url") -> "endpoints[2] (api-health).url", naming the entry."""
    text = ""
    node = raw
    parts = list(loc)
    for number, part in enumerate(parts, 1):
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict):
                label = node.get("name") or node.get("host") or node.get("check")
                # a label that is itself a credential is refused, never repeated (round 56c:
                # `endpoints[0] (ghp_...).name: looks like a GitHub token`)
                if isinstance(label, str) and not looks_like_credential(label):
                    text += f" ({excerpt(label, 80)})"
        else:
            part = excerpt(str(part), 80)
            if number == len(parts) and reads_as_credential_field(part):
                # `headers.Authorization: <problem>` reads as a header line, and the console's
                # scrubber masks the problem with it; `headers["Authorization"]` does not
                text += f'["{part}"]'
            else:
                text += f".{part}" if text else part
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
    "credentials": Credentials,
    "request": RequestSpec,
    "header": HeaderCredential,
    "query": QueryCredential,
    "basic": BasicCredential,
    "oauth2": OAuth2Credential,
    "accounts": IamAccount,
    "organization": IamOrganization,
}


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    parents = [p for p in loc[:-1] if isinstance(p, str)]  # cut-ok: a location, not text
    model: type[BaseModel] = EnvConfig
    if parents:
        model = _MODELS_BY_SECTION.get(parents[-1], EnvConfig)
    return [f.alias or name for name, f in model.model_fields.items()]


# A field that would hold a secret itself, and the field that names its variable instead.
_SECRET_FIELDS = {
    "token": "token_env",
    "bearer": "bearer_env",
    "password": "password_env",
    "value": "value_env",
    "client_secret": "client_secret_env",
    "client_id": "client_id_env",
    "api_key": "credentials: {header: ...} or {query: ...}",
}


_URL_FIELDS = ("url", "token_url")
_MISPLACED = "this entry is under waivers:"


# Request-side words written at an entry's top level, and where they go under request:.
_REQUEST_FIELDS = {
    "body": "body",
    "data": "body",
    "payload": "json",
    "form": "form",
    "params": "params",
    "query": "params",
    "content_type": "content_type",
    "request_headers": "headers",
}


def _placed(loc: tuple[int | str, ...], raw: Any, places: YamlPlaces) -> str:
    """`line 4: endpoints[0] (api).url`: where a message's reader finds what it says."""
    return _at_line(loc, places) + _loc_text(loc, raw)


def _at_line(loc: tuple[int | str, ...], places: YamlPlaces) -> str:
    """`line 4: ` for the place's line in the file, or nothing when it has none there."""
    line = places.line_of(loc)
    return f"line {line}: " if line is not None else ""


def _explain(exc: ValidationError, raw: Any, shown: str, places: YamlPlaces) -> str:
    lines = []
    by_place: dict[str, list[str]] = {}  # a union field yields one error per member: merge them
    got_at: dict[str, str] = {}
    for error in exc.errors():
        loc = _field_loc(error["loc"], raw)
        # (an error of the file as a whole names its own place: `endpoints[0] (api): ...`)
        where = _placed(loc, raw, places) if loc else ""
        if error["type"] == "extra_forbidden":
            field = excerpt(str(loc[-1]), 80)
            known = _known_fields(loc)
            meant = suggest_field(field, known)
            hint = f" (did you mean '{meant}'?)" if meant else f" (known: {', '.join(known)})"
            if field in _REQUEST_FIELDS and len(loc) == 3 and loc[0] in ("endpoints", "auth"):
                hint = (
                    f": what is sent goes under request: (request: {{{_REQUEST_FIELDS[field]}: "
                    "...}); the entry's own json:, body_contains: and jmespath: are what must "
                    "come back"
                )
            if field in _SECRET_FIELDS:
                hint = (
                    ": secrets never live in the env file; name the variable "
                    f"with {_SECRET_FIELDS[field]}"
                )
            if field in ("url", "host") and len(loc) == 3 and loc[0] == "waivers":
                # round 18c: an entry appended at the end of a file lands under its last
                # section, which is often waivers:
                section = "endpoints: (or auth:)" if field == "url" else "tls:"
                hint = (
                    f": {_MISPLACED}; a {field}: entry belongs under {section}: move it above "
                    "the waivers: line"
                )
            lines.append(f"{shown}: {where}: unknown field '{field}'{hint}")
        elif error["type"] == "missing":
            lines.append(f"{shown}: {where}: required field is missing")
        else:
            message = excerpt(type_advice(error["msg"].removeprefix("Value error, ")), 500)
            got = error.get("input")
            if error["type"].startswith("date"):
                message = date_advice(got)
            if where not in by_place:
                lines.append(where)  # placeholder, filled in below
                by_place[where] = []
                got_repr = bounded_repr(got)
                shown_got = excerpt(got_repr, SHOWN_CHARS)
                got_at[where] = "" if isinstance(got, dict | list) else f" (got {shown_got})"
                if got_repr in message:
                    got_at[where] = ""  # the message quotes the value already
                if loc and (str(loc[-1]).endswith("_env") or str(loc[-1]) in _URL_FIELDS):
                    # a bad *_env value may well be the secret itself; a refused URL may
                    # hold one (its message says what is wrong with it)
                    got_at[where] = ""
                if error["type"].startswith("date"):  # the message quotes the date already
                    got_at[where] = ""
            by_place[where].append(message)
    text = []
    for line in lines:
        if line in by_place:
            messages = _dedupe_list(by_place[line])
            if len(messages) > 1:
                wanted = [
                    m.removeprefix("Input should be ").removeprefix("should be ") for m in messages
                ]
                message = "should be " + ", or ".join(wanted)
            else:
                message = messages[0]
            line = f"{shown}: {line}: {message}{got_at[line]}" if line else f"{shown}: {message}"
        text.append(line)
    # an entry under the wrong section explains every other line about it: said first
    text.sort(key=lambda line: _MISPLACED not in line)
    return _dedupe("\n".join(text))


class _BoundedRepr(reprlib.Repr):
    """reprlib's Repr, except that an int too long to print (past Python's 4300-digit limit
    `repr` raises) is described by its size: no huge int reaches an error message whole."""

    def repr_int(self, x: int, level: int) -> str:
        bits = abs(x).bit_length()
        if bits > 1000:  # about 300 digits
            return f"<an integer of about {int(bits * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


_REPR = _BoundedRepr()
_REPR.maxstring = _REPR.maxother = 400
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 8
_REPR.maxlevel = 3


def bounded_repr(value: Any) -> str:
    """A value's repr in bounded time and memory, whatever its size (a 1 MiB string aliased
    thousands of times in a list): `repr` would build all of it. Quoted through `excerpt`
    after this, which masks what is left of a secret that was cut."""
    return _REPR.repr(value)


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


def _reject_inline_secrets(raw: Any, shown: str, places: YamlPlaces) -> None:
    """Refuse a credential-shaped value or key anywhere in the file; the message names where
    (its line, and the entry's name) and what it resembles, never the value itself."""
    found = _inline_secret(raw)
    if found is None:
        return
    loc, kind, is_key = found
    where = _placed(loc, raw, places) if loc else "the file"
    kind = f"{'an' if kind[0].lower() in 'aeiou' else 'a'} {kind}"
    what = f"holds a key that looks like {kind}" if is_key else f"looks like {kind}"
    raise ConfigError(
        f"{shown}: {where}: {what}. Secrets never live in the env file: put it in an "
        "environment variable and name that variable with token_env (or *_env in a "
        "credentials: block)"
    )


def _inline_secret(
    raw: Any, loc: tuple[int | str, ...] = (), seen: set[int] | None = None
) -> tuple[tuple[int | str, ...], str, bool] | None:
    """Where the first credential-shaped value or key is (a key: the place of its mapping,
    so that no message names it), what it resembles, and whether it is a key (round 56b: a
    token written as a `json:` key or a header name loaded, and its failing case quoted
    it). A value an alias repeats is the same object each time: judged once."""
    seen = set() if seen is None else seen
    if id(raw) in seen:
        return None
    seen.add(id(raw))
    children: Iterable[tuple[int | str, Any]] = ()
    if isinstance(raw, dict):
        for key in raw:
            kind = looks_like_credential(str(key))
            if kind:
                return loc, kind, True
        children = ((str(key), value) for key, value in raw.items())
    elif isinstance(raw, list):
        children = enumerate(raw)
    elif isinstance(raw, str):
        kind = looks_like_credential(raw)
        return (loc, kind, False) if kind else None
    for place, value in children:
        found = _inline_secret(value, (*loc, place), seen)
        if found is not None:
            return found
    return None


def _reject_duplicates(config: EnvConfig, shown: str, places: YamlPlaces) -> None:
    sections: list[tuple[str, list[str]]] = [
        ("endpoints", [e.name for e in config.endpoints]),
        ("auth", [a.name for a in config.auth]),
        ("tls", [t.name for t in config.tls]),
    ]
    for index, entry in enumerate(config.auth):
        seen: dict[str, int] = {}
        for number, forbidden in enumerate(entry.forbidden):
            var = forbidden.auth.case_env
            if var == entry.auth.case_env:
                # round 30b: its request was the token case's, one answer for both
                raise ConfigError(
                    f"{shown}: {_at_line(('auth', index, 'forbidden', number), places)}"
                    f"auth[{index}] ({entry.name}).forbidden[{number}]: names {var}, "
                    "the variable of the entry's own identity (its token case): the refused "
                    "identity needs a variable of its own"
                )
            first = seen.setdefault(var, number)
            if first != number:
                raise ConfigError(
                    f"{shown}: {_at_line(('auth', index, 'forbidden', number), places)}"
                    f"auth[{index}] ({entry.name}).forbidden[{number}]: names {var} like "
                    f"forbidden[{first}]; each forbidden case is test_forbids_low_privilege"
                    f"[{entry.name}-{var}], so each needs its own variable"
                )
    if config.iam is not None:
        sections.append(("iam.accounts", [a.label for a in config.iam.accounts]))
    for section, names in sections:
        first_seen: dict[str, int] = {}
        for index, name in enumerate(names):
            first = first_seen.setdefault(name, index)
            if first != index:
                named = excerpt(name, 120)
                at = _at_line((*section.split("."), index), places)
                raise ConfigError(
                    f"{shown}: {at}{section}[{index}] ({named}): duplicate name '{named}', already "
                    f"used by {section}[{first}]; names must be unique because they are the test "
                    "ids"
                )


def _usable(path: Path, want: str, where: str, given: str) -> None:
    """`path` exists as a `want` ("folder" or "file"), or a ConfigError that says so; a
    name no file system takes (too long, a NUL) is said too, never a traceback."""
    try:
        found = path.is_dir() if want == "folder" else path.is_file()
        reason = "does not exist"
        if not found and path.exists():  # there, and of another kind (round 17c: a FIFO)
            reason = (
                "is a folder, not a file"
                if path.is_dir()
                else f"is not a {'folder' if want == 'folder' else 'regular file'}"
            )
    except (OSError, ValueError) as exc:
        found = False
        reason = f"cannot be used ({excerpt(getattr(exc, 'strerror', None) or str(exc), 80)})"
    if not found:
        # round 25c: `ca.pem` beside an env file outside the project read "does not exist"
        relative = (
            f" (a relative path is read from the project root: {excerpt(str(path), 200)})"
            if not Path(given).expanduser().is_absolute()
            else ""
        )
        raise ConfigError(f"{where}: {want} '{excerpt(given, 200)}' {reason}{relative}")


def _check_paths(loaded: LoadedEnv, shown: str) -> None:
    mock = loaded.mock_dir
    if mock is not None:
        _usable(mock, "folder", f"{shown}: mock", str(loaded.config.mock))
    bundle = loaded.ca_bundle
    if bundle is not None:
        _usable(bundle, "file", f"{shown}: ca_bundle", str(loaded.config.ca_bundle))
    config = loaded.config
    entries: list[tuple[str, list[Any]]] = [
        ("endpoints", list(config.endpoints)),
        ("auth", list(config.auth)),
        ("tls", list(config.tls)),
    ]
    for section, items in entries:
        for index, entry in enumerate(items):
            if entry.ca_bundle is not None:
                where = f"{shown}: {section}[{index}] ({excerpt(entry.name, 120)}).ca_bundle"
                _usable(loaded.resolve(entry.ca_bundle), "file", where, entry.ca_bundle)
