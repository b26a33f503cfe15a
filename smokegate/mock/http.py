"""`fixtures/<world>/http.yaml` loaded into `responses`.

Every HTTP call made while the world is active is answered in-process; a URL the
world does not list fails like a refused connection, with a message naming the
file to add it to, so a mocked run can never reach a real host by accident.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import responses
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from responses import matchers
from responses.registries import FirstMatchRegistry

from smokegate.config import (
    HTTP_METHODS,
    ConfigError,
    DuplicateKeyError,
    load_yaml,
    read_world_file,
)
from smokegate.facts.http import RequestNotSent
from smokegate.redact import excerpt
from smokegate.rules.health import json_subset_problems


class RequestMatch(BaseModel):
    """What a request must carry for a route to answer it, beside its method and URL: a
    route per outcome (`201` for the right JSON, `415` for anything else, ...)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    headers: dict[str, str] = Field(default_factory=dict)  # names case-insensitive, exact value
    json_body: Any = Field(default=None, alias="json")  # subset of the request's JSON body
    form: dict[str, str] | None = None  # subset of the request's form fields
    body: str | None = None  # the request body, exactly

    def mismatch(self, request: Any) -> str | None:
        """Why `request` does not match, or None."""
        for name, value in self.headers.items():
            sent = request.headers.get(name)
            if sent != value:
                shown = "missing" if sent is None else f"'{sent}'"
                return f"header {name} is {shown}, the route wants '{value}'"
        raw = request.body or b""
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        if self.json_body is not None:
            try:
                document = json.loads(data)
            except ValueError:
                return "the body is not JSON, the route wants JSON"
            problems = json_subset_problems(self.json_body, document)
            if problems:
                return f"the JSON body differs: {problems[0]}"
        if self.form is not None:
            fields = dict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))
            for name, value in self.form.items():
                if fields.get(name) != value:
                    return f"form field {name} is {fields.get(name)!r}, the route wants {value!r}"
        if self.body is not None and data.decode("utf-8", "replace") != self.body:
            return "the body differs from the route's body"
        return None


class MockRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str
    method: str = "GET"
    match: RequestMatch | None = None
    status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    latency_ms: float = Field(default=0, ge=0, le=60_000)
    # Bearer auth, with the tokens named by variable (never written here): the token in
    # `require_bearer_env` gets the route's answer, one in `forbidden_bearer_env` a 403,
    # anything else (none, unknown, or that variable unset) a 401.
    require_bearer_env: str | None = None
    forbidden_bearer_env: list[str] = Field(default_factory=list)


class HttpWorld(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[MockRoute] = Field(default_factory=list)


class _StableRegistry(FirstMatchRegistry):
    """First match wins and stays registered: a health probe may hit one URL many times."""

    def find(self, request: Any) -> tuple[Any, list[str]]:
        reasons: list[str] = []
        for response in self.registered:
            matched, reason = response.matches(request)
            if matched:
                return response, reasons
            reasons.append(reason)
        return None, reasons


def load_http_world(world_dir: Path) -> HttpWorld:
    path = world_dir / "http.yaml"
    if not path.is_file():
        return HttpWorld()
    try:
        raw = load_yaml(read_world_file(path)) or {}
    except DuplicateKeyError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = excerpt(getattr(exc, "problem", None) or str(exc), 300, first_line=True)
        raise ConfigError(f"{path}:{where} invalid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with a routes: list")
    try:
        return HttpWorld.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            known = [f.alias or n for n, f in MockRoute.model_fields.items()]
            message = f"unknown field (known: {', '.join(known)})"
        raise ConfigError(f"{path}: {where.lstrip('.')}: {message}") from None


def _payload(route: MockRoute) -> tuple[dict[str, str], bytes]:
    if route.json_body is not None:
        payload = json.dumps(route.json_body).encode()
        content_type = "application/json"
    else:
        payload = (route.body or "").encode()
        content_type = "text/plain; charset=utf-8"
    return {"Content-Type": content_type, **route.headers}, payload


def _callback(routes: list[MockRoute], world_file: Path) -> Any:
    """One callback per method and URL: the first of its routes whose `match:` the request
    meets answers; none, and the request fails as not sent, saying what did not match."""
    answers = [(route, *_payload(route)) for route in routes]

    def answer(request: Any) -> tuple[int, dict[str, str], bytes] | Exception:
        reasons = []
        for route, headers, payload in answers:
            reason = route.match.mismatch(request) if route.match is not None else None
            if reason is not None:
                reasons.append(reason)
                continue
            if route.latency_ms:
                time.sleep(route.latency_ms / 1000)
            if route.require_bearer_env is not None:
                denied = _bearer_denial(route, request.headers.get("Authorization", ""))
                if denied is not None:
                    return denied
            return route.status, headers, payload
        return RequestNotSent(
            f"not mocked: {request.method} {request.url} is listed in {world_file}, but no "
            f"route for it matches this request ({'; '.join(reasons)})"
        )

    return answer


Answer = tuple[int, dict[str, str], bytes]


def _bearer_denial(route: MockRoute, authorization: str) -> Answer | None:
    """401 or 403 as a bearer-protected API answers, or None to serve the route."""
    sent = authorization.removeprefix("Bearer ").strip() if authorization else ""

    def token(var: str | None) -> str:
        return os.environ.get(var, "") if var else ""

    if sent and sent == token(route.require_bearer_env):
        return None
    if sent and any(sent == token(var) for var in route.forbidden_bearer_env):
        return 403, {"Content-Type": "application/json"}, b'{"error": "insufficient_scope"}'
    challenge = 'Bearer realm="demo", error="invalid_token"' if sent else 'Bearer realm="demo"'
    body = b'{"error": "unauthorized"}'
    return 401, {"Content-Type": "application/json", "WWW-Authenticate": challenge}, body


def _unmocked(world_file: Path) -> Any:
    def refuse(request: Any) -> Exception:
        return RequestNotSent(
            f"not mocked: {request.method} {request.url} is not listed in {world_file} "
            "(a mocked env sends no real traffic)"
        )

    return refuse


def start_http_world(world_dir: Path) -> responses.RequestsMock:
    """Activate the world for this process; the caller stops it with `.stop()`."""
    world = load_http_world(world_dir)
    mock = responses.RequestsMock(assert_all_requests_are_fired=False, registry=_StableRegistry)
    groups: dict[tuple[str, str], list[MockRoute]] = {}
    for route in world.routes:
        groups.setdefault((route.method.upper(), route.url), []).append(route)
    for (method, url), routes in groups.items():
        # The query string is part of the URL: `/health?full=1` answers only that query.
        query = matchers.query_string_matcher(urlsplit(url).query or None)
        callback = _callback(routes, world_dir / "http.yaml")
        mock.add_callback(method, url, callback=callback, match=(query,))
    catch_all = re.compile(r".*")
    for method in HTTP_METHODS:
        mock.add_callback(method, catch_all, callback=_unmocked(world_dir / "http.yaml"))
    mock.start()
    return mock
