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

from collections.abc import Iterator, Mapping
from typing import Any

from smokegate.config import EnvConfig
from smokegate.redact import MIN_SECRET_CHARS
from smokegate.targets import secret_env_names

# model fields that name a variable (its value is the secret, its name is not) or a file
_NAMING_FIELDS = frozenset({"mock", "ca_bundle"})


def written_secret_problems(config: EnvConfig, environ: Mapping[str, str]) -> list[str]:
    """Each place of the env file holding MIN_SECRET_CHARS or more letters and digits in a
    row of a secret variable's value, with the variable; [] when none does."""
    pieces: dict[str, frozenset[str]] = {}
    for name in secret_env_names(config):
        letters = _letters(environ.get(name, ""))
        if len(letters) >= MIN_SECRET_CHARS:
            pieces[name] = _windows(letters)
    if not pieces:
        return []
    every = frozenset().union(*pieces.values())
    problems: list[str] = []
    for place, text in _texts(config.model_dump(mode="json", by_alias=True, exclude_none=True)):
        held = _windows(_letters(text))
        if held.isdisjoint(every):
            continue
        if not _windows(_letters(place)).isdisjoint(every):
            place = place.split(".")[0].split("[")[0]  # cut-ok: a key of it holds the piece
        names = [name for name, windows in pieces.items() if not held.isdisjoint(windows)]
        problems.append(f"{place} holds part of the value of {', '.join(names)}")
    return sorted(dict.fromkeys(problems))


def _letters(text: str) -> str:
    return "".join(c for c in text.strip().lower() if c.isascii() and c.isalnum())


def _windows(letters: str) -> frozenset[str]:
    size, last = MIN_SECRET_CHARS, len(letters) - MIN_SECRET_CHARS + 1
    return frozenset(letters[i : i + size] for i in range(last))  # cut-ok: compared only


def _texts(document: Any, place: str = "") -> Iterator[tuple[str, str]]:
    """(place, text) for every string of the model's dump, keys too, but the names of
    variables (`*_env` fields) and of files."""
    stack: list[tuple[str, Any]] = [(place, document)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, value in item.items():
                if str(key).endswith("_env") or key in _NAMING_FIELDS:
                    continue
                inner = f"{where}.{key}" if where else str(key)
                stack.append((inner, key))
                stack.append((inner, value))
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", value) for index, value in enumerate(item))
