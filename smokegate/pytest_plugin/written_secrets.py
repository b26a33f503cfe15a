"""An env file that writes part of a secret into its own text is refused before any request.

A URL, a host, a name or a request header of the env file is sent on the wire and quoted in
every report, and libraries rewrite it on the way: urllib3 and ssl lower-case a host,
proxies and servers echo the request line. The scrubber masks a secret in every form it is
sent in, but a piece of one (the first 11 characters of a token as a tenant's host, the
token spread over a host's dashes, letters-only pieces of a long token) came back
lower-cased or spread in ssl's "not valid for", an echoed `Host:`, a TLS check's "wrong
host name" (attack rounds 50a and 51a: one form after another). The class ends here: a
credential goes in a `credentials:` block, never in the env file's own text, like the
`user:password@` and `?token=` a URL is refused for.

Compared as a reader would find it: letters and digits only, case ignored, any eight in a
row of the secret's. The value is never quoted, only the variable and the place.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel

from smokegate.config import EnvConfig
from smokegate.http_spec import written_host
from smokegate.redact import AWS_SECRET_VARS, MIN_SECRET_CHARS, secret_problem
from smokegate.targets import secret_env_names


def written_secret_problems(config: EnvConfig, environ: Mapping[str, str]) -> list[str]:
    """Each place of the env file holding MIN_SECRET_CHARS or more letters and digits in a
    row of a secret's value, with the secret's variable; [] when none does. The secrets:
    the env file's credential variables, AWS's secret variables and a proxy variable's
    password (round 52a F2: their pieces were not refused, and shown)."""
    pieces: dict[str, tuple[str, frozenset[str]]] = {}
    for name, value in _secrets(config, environ):
        letters = _letters(value)
        # a value that is smokegate's own words (`critical`, `endpoint`) is refused where it
        # would be sent (`secret_problem`), and is no secret an env file's words could hold
        if len(letters) >= MIN_SECRET_CHARS and secret_problem(value) is None:
            pieces[name] = (value.strip(), _windows(letters))
    if not pieces:
        return []
    problems: list[str] = []
    for place, text in _written(config):
        names = [
            name
            for name, (value, windows) in pieces.items()
            if _holds_piece(place, text, value, windows)
        ]
        if not names:
            continue
        if any(not _windows(_letters(place)).isdisjoint(w) for _, w in pieces.values()):
            place = place.split(".")[0].split("[")[0]  # cut-ok: a key of it holds the piece
        problems.append(f"{place} holds part of the value of {', '.join(names)}")
    return sorted(dict.fromkeys(problems))


def _holds_piece(place: str, text: str, value: str, windows: frozenset[str]) -> bool:
    """Whether `text` holds part of `value` other than the whole value as it is sent: that
    one is masked wherever it shows (httpbin's `/basic-auth/<user>/<password>` holds it in
    its path, round 52c). In a host, the whole value too: a host goes out lower-cased."""
    if place.lower().endswith((".host", ".server_name")):  # a `Host:` request header too
        return not _windows(_letters(text)).isdisjoint(windows)
    if place.endswith(("url", ".token_url")):
        try:
            host = written_host(urlsplit(text))
        except ValueError:
            host = text
        if not _windows(_letters(host)).isdisjoint(windows):
            return True
    rest = text.replace(value, " ").replace(quote(value, safe=""), " ")
    return not _windows(_letters(rest)).isdisjoint(windows)


def _secrets(config: EnvConfig, environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    for name in (*secret_env_names(config), *AWS_SECRET_VARS):
        yield name, environ.get(name, "")
    for scheme, proxy in urllib.request.getproxies().items():
        try:
            password = urlsplit(proxy if "://" in proxy else f"http://{proxy}").password
            password = unquote(password) if password else password  # as it is sent (53a F1)
        except ValueError:
            continue
        if password:
            yield f"the {scheme} proxy's password", password


def _letters(text: str) -> str:
    return "".join(c for c in text.strip().lower() if c.isascii() and c.isalnum())


def _windows(letters: str) -> frozenset[str]:
    size, last = MIN_SECRET_CHARS, len(letters) - MIN_SECRET_CHARS + 1
    return frozenset(letters[i : i + size] for i in range(last))  # cut-ok: compared only


def _written(model: BaseModel, place: str = "") -> Iterator[tuple[str, str]]:
    """(place, text) for what the env file wrote: the fields it set, not their defaults nor
    smokegate's own field names (round 52c F1: a password `Redirects#2026` was refused for
    `follow_redirects`), nor the names of variables (`CANARY_PASSWORD` is no piece of its
    value's `canary-password-…`); the keys and values of its own maps, `x-trace_env:` too
    (52a F1); numbers as written (52c F2: 12 digits of a numeric key in `json:`)."""
    stack: list[tuple[str, Any]] = [(place, model)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, BaseModel):
            for field in item.model_fields_set:
                if field.endswith("_env"):  # a variable's name: the author's, no text sent
                    continue
                written = type(item).model_fields[field].alias or field  # as the YAML says it
                stack.append((f"{where}.{written}" if where else written, getattr(item, field)))
        elif isinstance(item, Mapping):
            for key, value in item.items():
                inner = f"{where}.{key}"
                stack.append((inner, key))
                stack.append((inner, value))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}[{index}]", value) for index, value in enumerate(item))
        elif isinstance(item, str):
            yield where, item
        elif item is not None and not isinstance(item, bool):  # numbers, paths, as written
            yield where, str(item)
