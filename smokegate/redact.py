"""The secret scrubber: token values never reach any output smokegate produces.

This module is the scrubber itself (what a secret is, its forms, masking it in text, in
nested data and in log records) and `excerpt`, the one way smokegate quotes text it does
not control; no pytest in it. Where the scrubber is applied to a pytest run's outputs is
`smokegate.pytest_plugin.redact`.

What is a secret: the value of every variable the env file names for credentials (set
once per process with `configure_secret_variables`), AWS secret keys, session tokens and
OIDC id tokens from the environment (and the token file `AWS_WEB_IDENTITY_TOKEN_FILE`
names), values registered at run time with `register_secret` (a Basic encoding, a fetched
OAuth2 token, credentials STS issued), and credential-shaped text wherever it comes from:
an `Authorization:` value, `Bearer <token>`, AWS credential fields and signatures, JWTs,
the user:password of a URL and the value of a query parameter named like a credential.

**Forms.** A server or a library echoes a secret as it went on the wire or encoded:
stripped of surrounding whitespace, percent-encoded (`quote`, `quote_plus`, either case of
hex), base64 and base64url (also inside a longer base64 text, such as `user:password`),
JSON-, repr- and HTML-escaped, hex dumps, base64 of UTF-16LE and of base64. Every one of
those forms is masked (`secret_forms`), also where any subset of its characters is escaped
(`\\uXXXX`, `\\xHH`, octal, CSS, entities, `%XX`), spread over gaps or invisible characters,
or in fullwidth (`_View`, the normalised view); a value with a digit that is hex or 16+
characters long in any case (`case_blind`).

**Length.** A value shorter than `MIN_SECRET_CHARS` (8) cannot be masked without garbling
every report (a 4-character token such as `high` is also a severity, a word of every
message); one longer than `MAX_SECRET_CHARS` is no credential. Such values are never
silently left visible: smokegate refuses to send them (`secret_problem`, used where a
credential is read) and says why in the case's failure, naming the variable only.

**Scrub before you cut.** Text is scrubbed whole, then cut: `excerpt` scrubs, escapes
control characters (a server must not drive the terminal) and only then shortens, so a
token at the edge of an excerpt is masked whole rather than cut into a visible prefix.

Every pattern here runs on RE2 (`smokegate.linear_re`): linear in the text whatever a
hostile server sends.
"""

from __future__ import annotations

import ast
import base64
import bisect
import codecs
import contextlib
import dataclasses
import functools
import html
import importlib.util
import itertools
import json
import logging
import math
import os
import stat
import threading
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from html.entities import html5
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote

from smokegate import linear_re

# The codecs the scrubber decodes with, looked up now: a codec is imported on first use,
# and under pytest's tracing (--debug, PYTEST_DEBUG) that import is traced through this
# scrubber, which looked it up again without end (a RecursionError ended the run)
for _codec in ("ascii", "latin-1", "utf-8", "utf-32-be", "utf-16-le"):
    codecs.lookup(_codec)

_T = TypeVar("_T")
_PYTEST_CURRENT_TEST = "PYTEST_CURRENT_TEST"

MASK = "***"
AWS_SECRET_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ID_TOKEN",
)
# Names a file whose contents are a secret (the OIDC token for AssumeRoleWithWebIdentity).
# botocore reads both: the OIDC token for AssumeRoleWithWebIdentity, and the bearer token it
# sends to the container credentials endpoint (ECS, EKS Pod Identity).
AWS_TOKEN_FILE_VARS = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
# Below this, masking would garble text (every "critical", "password", "12345"); such a
# value is refused where it is read (`secret_problem`), never sent and so never echoed.
MIN_SECRET_CHARS = 8
# Above this a value is no credential (JWTs and AWS session tokens are a few KB), and its
# forms would make the scrubber's automaton huge.
MAX_SECRET_CHARS = 64 * 1024
_TOKEN_FILE_MAX_BYTES = 64 * 1024


# The verdict phrases, which smokegate builds from parts no single constant holds whole.
_VERDICT_PHRASES = tuple(
    f"gate {word}{suffix}"
    for word in ("PASSED", "FAILED", "NOT EVALUATED")
    for suffix in (
        "",
        " (partial)",
        *(
            f" ({partial}--fail-on {severity}): "
            for partial in ("", "partial, ")
            for severity in ("critical", "high", "medium", "low")
        ),
    )
)


@functools.cache
def report_texts() -> str:
    """smokegate's own words, lower-cased, one constant a line: every string constant of
    its modules and checks but docstrings (message templates, verdicts, field and check
    names), and the verdict phrases."""
    texts: list[str] = [p.lower() for p in _VERDICT_PHRASES]
    texts += [source.decode("utf-8", "replace").lower() for source in _report_writers_text()]
    package = Path(__file__).parent
    for module in [*package.rglob("*.py"), *package.parent.joinpath("checks").glob("*.py")]:
        try:
            tree = ast.parse(module.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in docstrings:
                    texts.append(node.value.lower())
            elif isinstance(node, ast.FunctionDef):
                texts.append(node.name.lower())
    return "\n".join(texts)


def _is_report_text(value: str) -> bool:
    """True for a value without digits that smokegate's own texts hold (`expected`,
    `endpoint`, `gate FAILED`, `critical`): masked, it would garble every report and hide
    a verdict. A credential has digits, or words of its own; only a value without digits
    is looked up (the texts are read once, on the first such value)."""
    if any(ch.isdigit() for ch in value) or "\n" in value:
        return False
    return value.lower() in report_texts()


@functools.cache
def _own_source() -> tuple[bytes, ...]:
    """smokegate's modules and checks as they are on disk (~0.9 MB, read in ~10 ms where
    parsing the constants out takes ~0.6 s), and the text of what writes its reports
    around them (`_report_writers_text`): every text the reports hold but the run's data
    is in it."""
    package = Path(__file__).parent
    sources: list[bytes] = []
    for module in [*package.rglob("*.py"), *package.parent.joinpath("checks").glob("*.py")]:
        with contextlib.suppress(OSError):
            sources.append(module.read_bytes())
    return (*sources, *_report_writers_text())


# Files of the report writers around smokegate's own text, by (package, file pattern):
# pytest-html's page template, style and script and the modules that write its rows,
# pytest's JUnit writer, and smokegate's own stylesheet. Round 37a: a CI variable
# `data-jsonblob` (a word of the page template) masked the attribute holding every case,
# and the page showed none; `skipped=` made junit.xml no XML. Found by `find_spec`, which
# imports nothing: this module knows no test library.
_REPORT_WRITERS = (
    ("pytest_html", "*.py"),
    ("pytest_html", "resources/*"),
    ("_pytest", "junitxml.py"),
    ("smokegate", "report/*.css"),
)


@functools.cache
def _report_writers_text() -> tuple[bytes, ...]:
    texts: list[bytes] = []
    for package, pattern in _REPORT_WRITERS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(folder).glob(pattern)):
                with contextlib.suppress(OSError):
                    if path.is_file() and path.stat().st_size <= 1 << 20:
                        texts.append(path.read_bytes())
    return tuple(texts)


@functools.cache
def _report_words() -> frozenset[str]:
    """The words of 8 to 20 letters in smokegate's own source (`endpoint`, `expected`, and
    more besides: identifiers and comments too); the longer runs are alphabets and joined
    names no message shows."""
    words: set[str] = set()
    for source in _own_source():
        lowered = source.lower().translate(_NOT_LETTERS)
        words.update(w for w in lowered.split() if 8 <= len(w) <= 20)
    return frozenset(w.decode("ascii") for w in words)


@functools.cache
def _own_text_blob() -> str:
    """smokegate's source and verdict phrases as one text, to look an encoded form up in."""
    texts = [source.decode("utf-8", "replace") for source in _own_source()]
    return "\n".join([*texts, *_VERDICT_PHRASES])


# longer than any one text smokegate writes (its longest message template is ~300 characters)
_LONGEST_OWN_LINE = 512


def _encoded_form_in_own_text(value: str) -> bool:
    """True when a form the scrubber derives from `value` and masks (base64 of its Latin-1
    or UTF-16 bytes, hex, percent escapes, ...) stands in smokegate's own text: a CI
    variable `^²ßÚqÇ©¶Ïí¢G§` is Latin-1 base64 `est_accepts_token`, and masked every case
    name of that check (round 31a F3). The value itself and its reverse are judged by
    `_is_report_text` and `_wholly_own_text`, more leniently: a password holding a word
    of ours stays a secret."""
    known = _encoded_in_own.get(value)
    if known is None:
        # the answer as found, not read back: another thread may empty the memo meanwhile,
        # and a lost answer read as False would be kept by `_cached_content_problem` (review 55)
        known = prime_encoded_forms([value]).get(value, False)
    return known


def _encoded_forms(value: str) -> list[str]:
    """The forms `_encoded_form_in_own_text` looks up for `value` (none past the longest line)."""
    stripped = value.strip()
    if len(stripped) > _LONGEST_OWN_LINE:  # every form is at least as long as the value
        return []
    plain = {value, stripped, value[::-1], stripped[::-1]}
    return [f for f in secret_forms(value) if f not in plain and len(f) <= _LONGEST_OWN_LINE]


# value -> whether one of its encoded forms stands in smokegate's own text; forgotten when full
_encoded_in_own: dict[str, bool] = {}
_ENCODED_IN_OWN_ENTRIES = 1 << 14


def prime_encoded_forms(values: Iterable[str]) -> dict[str, bool]:
    """Look the encoded forms of many values up in smokegate's own text at once: a value at
    a time (an RE2 pattern compiled, and 1.2 MB of source searched, for each) took 2.5 s of
    the pattern built for twenty accounts' STS credentials. A form found decides its
    value; the search runs again without the values decided, as one form found may have
    hidden another that overlaps it."""
    pending: dict[str, list[str]] = {}
    for value in values:
        if value not in _encoded_in_own and value not in pending:
            pending[value] = _encoded_forms(value)
    if not pending:
        return {}
    if len(_encoded_in_own) + len(pending) > _ENCODED_IN_OWN_ENTRIES:
        _encoded_in_own.clear()
    found: set[str] = set()
    owners: dict[str, list[str]] = {}
    for value, forms in pending.items():
        for form in forms:
            owners.setdefault(form, []).append(value)
    blob = _own_text_blob()
    while True:
        forms = sorted(f for f, vs in owners.items() if not found.issuperset(vs))
        hits = {
            match.group(0) for pattern in _alternations(forms) for match in pattern.finditer(blob)
        }
        if not hits:
            break
        found.update(value for form in hits for value in owners.get(form, ()))
    answers = {value: value in found for value in pending}
    _encoded_in_own.update(answers)
    return answers


_MARKUP = frozenset("<>\"'&")  # what structures the XML and HTML reports

_NOT_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))  # a-z kept, else blank


@functools.cache
def _report_word_pattern() -> Any:
    return linear_re.compile("|".join(sorted(_report_words())))


def secret_problem(value: str) -> str | None:
    """Why a secret value read from the environment cannot be used, or None. Phrased to
    follow the variable's name; never quotes the value."""
    size = len(value.strip())
    if size < MIN_SECRET_CHARS:
        return (
            f"holds {size} character{'s' if size != 1 else ''}: a secret shorter than "
            f"{MIN_SECRET_CHARS} cannot be masked in the reports without garbling them, so "
            "smokegate does not send it"
        )
    if size > MAX_SECRET_CHARS:
        return f"holds {size} characters: more than {MAX_SECRET_CHARS}, which is no credential"
    if has_lone_surrogates(value):
        return (
            "holds a byte that is not UTF-8: no request can carry it as it is, so smokegate "
            "does not send it"
        )
    if size <= _CACHED_CHARS:  # asked again for every value whenever a secret comes
        return _cached_content_problem(value)
    return _content_problem(value)


def _content_problem(value: str) -> str | None:
    # and reversed: the scrubber masks a secret written backwards too (round 30a:
    # `lacitirc` masked "critical" in the verdict and every case line)
    stripped = value.strip()
    if any(_is_report_text(form) or _wholly_own_text(form) for form in (stripped, stripped[::-1])):
        return (
            "holds text that smokegate's own reports use (such as 'expected' or 'gate FAILED'): "
            "masking it would garble every report, so smokegate does not send it"
        )
    if _encoded_form_in_own_text(value):
        return (
            "is, encoded (base64, hex, percent escapes), text that smokegate's own reports "
            "use (such as a case name): masking it would garble every report, so smokegate "
            "does not send it"
        )
    return None


_CACHED_CHARS = 4096  # 4 096 values of at most this many: 16 MB at most
_cached_content_problem = functools.lru_cache(maxsize=4096)(_content_problem)


def masks_safely(derived: str) -> bool:
    """Whether a text the scrubber derives from a secret, rather than one it was given (what
    a base64 value stands for, the view of a form holding escapes), may be masked: no
    blank and no markup (the reports' words and structure are made of them), and nothing
    `secret_problem` refuses. A secret as given is judged by where it comes from; what it
    derives is extra reach, dropped where it would garble a report (round 33a)."""
    derived = derived.strip()
    if any(ch.isspace() or ch in _MARKUP for ch in derived):
        return False
    # nor a piece of the run's facts: base64 of `sg:<target name>` from a token endpoint
    # masked two targets' names into one case id, which the merge folded (round 34a F2)
    if _windows_in(_View(derived).view.lower(), _fact_pieces()):
        return False
    return secret_problem(derived) is None


def _wholly_own_text(value: str) -> bool:
    """True for a value every character of which is in a piece of smokegate's own text (a
    verdict or count phrase, a rule's message, digits read as 0s): `1 critical` in a
    credential variable masked the counts (round 27a). Not the run's facts: a password
    that is also in an env file's URL (httpbin's /basic-auth/<user>/<password>) is still
    the env's secret, sent and masked.
    A password that merely holds such a word (`Critical-Infra-2024!`) has pieces of its own
    and stays a secret: masked, not refused."""
    view = _View(value).view.lower()
    size = MIN_SECRET_CHARS
    if len(view) < size:
        return False
    phrases, across = _phrase_pieces(), _filled_pieces()
    covered = [False] * len(view)
    for i in range(len(view) - size + 1):
        window = view[i : i + size].translate(_DIGITS_AS_ZERO)  # cut-ok: compared, never shown
        if window in phrases or window in across:
            covered[i : i + size] = [True] * size
    return all(covered)


# -- the secrets of this process ---------------------------------------------------------------

_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


@functools.lru_cache(maxsize=1024)
def decoded_forms(value: str) -> tuple[str, ...]:
    """What a secret that is base64 of text stands for, and its part after the first `:`:
    a pre-encoded `Authorization: Basic` value is `user:password`, an `ApiKey` is `id:key`,
    and the server that receives one decodes it and may echo the pair or the password.
    Random tokens decode to bytes that are no printable text, and add nothing."""
    body = value.rstrip("=")
    if not 12 <= len(body) <= 4096 or not _BASE64_CHARS.issuperset(body):
        return ()
    urlsafe = "-" in body or "_" in body
    if urlsafe and ("+" in body or "/" in body):
        return ()
    try:
        raw = base64.b64decode(
            body + "=" * (-len(body) % 4), altchars=b"-_" if urlsafe else None, validate=True
        )
    except ValueError:
        return ()
    # `echo 'user:pw' | base64` encodes the newline too; a password may be Latin-1
    raw = raw.strip(b" \t\r\n\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if not text or not text.isprintable():
        return ()
    return (text, text.partition(":")[2]) if ":" in text else (text,)


_registry_lock = threading.Lock()
_registered: set[str] = set()
_secret_variables: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Make a secret obtained at run time (not from the environment) known to every scrubber:
    a Basic encoding, a fetched OAuth2 token, credentials STS issued. A value too short or
    too long to be a secret is ignored here; the code that reads it refuses it first.

    It is the run's own whatever registered it first: the token endpoint's answer is read
    for handed-out credentials before its token is taken, and a token counted as handed
    out was searched in fewer forms (no spread) than one the run sends (round 43a F2)."""
    if value is not None:
        _register(value, own=True)


def _register(value: str, *, own: bool) -> None:
    """`value` made a known secret; `own`: the run's own (never counted as handed out)."""
    value = value.strip()
    if secret_problem(value) is None:
        with _registry_lock:
            _registered.add(value)
            if own:
                _issued.discard(value)


def register_issued_credentials(text: str) -> None:
    """Every string a JSON body holds under a member named like a credential (a login's
    `access_token`, Keystone's `"token": {"id": ...}`), made a known secret of the run: a
    `jmespath:` that drops the names (`values(@)`, `*`) quoted them bare, where masking by
    name could no longer see them (round 14). Values that read like words are left (`"auth":
    "basic"`): masked, they would garble every report."""
    if '"' not in text:
        return
    named = any(is_credential_name(_json_name(m.group(1))) for m in _JSON_NAMED.finditer(text))
    if not named and not (_PAIR_VALUE.search(text) and linear_re.search(_HINT, text)):
        return
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return  # not JSON, or cut: masked by name as quoted, and as fragments
    _register_issued(_issued_values(document))


def register_issued_cookies(set_cookies: Iterable[str]) -> None:
    """The values of the cookies a server sets (`Set-Cookie: sessionid=…`), made known
    secrets of the run like a login's `access_token`: masked by shape inside the header
    only, a debug page, a form's `value=` or a plain-text echo of the same session id
    showed it whole (round 25a)."""
    values = [
        raw.partition(";")[0].partition("=")[2].strip().strip('"')  # cut-ok: parsed, not shown
        for raw in itertools.islice(set_cookies, ISSUED_PER_BODY)
    ]
    secret_like = [v for v in values if _looks_secret(v)]
    if secret_like:  # most answers set none: the run's secrets and facts are not read then
        _register_issued(secret_like)


def surrogates_replaced(text: str) -> str:
    """`text` with each lone surrogate (a JSON string cut inside an emoji, `"\\ud800"`)
    made U+FFFD: kept, it cannot be encoded, and RE2 and every writer raise on it."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _register_issued(values: Iterable[str]) -> None:
    """Values a server handed out, registered within the run's caps, except the run's own
    and those that would mask smokegate's words or the run's facts."""
    # a value the run already holds as a secret (the env's token echoed back under
    # `access_token`, a token smokegate fetched) stays the run's own: counted as handed out,
    # it lost its place before the server's values and a flood of them evicted its pieces
    # (round 21a)
    known = frozenset(process_scrubber().secrets())
    facts = _fact_pieces()
    kept = (
        v
        # one member of a login's answer cut inside an emoji made RE2 raise, and the
        # answer's other values, its `access_token` too, were never registered (54d G3)
        for v in map(surrogates_replaced, values)
        if len(v.strip()) <= MAX_ISSUED_CHARS
        and v.strip() not in known
        and not _would_mask_own_text(v.strip(), facts, issued=True)
    )
    for value in itertools.islice(kept, ISSUED_PER_BODY):
        with _registry_lock:
            if len(_issued) >= MAX_ISSUED:
                return
            _issued.add(value.strip())
        _register(value, own=False)


# A login hands out a few credentials, each a few hundred characters at most; a body of
# 60 000 strings under `access_token` made every later scrub search all their forms (round
# 18b: 102 s and 4.1 GB), and 60 values of 16 000 characters each 0.5 GB (round 20). Past
# these, a server's values are masked by the name that holds them only (docs/auth-tls.md);
# the secrets smokegate itself holds (a fetched token, STS credentials) are never capped,
# and their pieces are indexed before any a server handed out (`_Literals.grams`).
ISSUED_PER_BODY = 16
MAX_ISSUED = 256
MAX_ISSUED_CHARS = 1024
_issued: set[str] = set()  # the values a server handed out, registered (MAX_ISSUED at most)


_PAIR_VALUE = linear_re.compile(r'"(?:value|Value|ParameterValue|SecretString)"\s*:')
_PAIR_NAME_KEYS = ("name", "Name", "key", "Key", "ParameterKey", "ParameterName")
_PAIR_VALUE_KEYS = frozenset({"value", "Value", "ParameterValue", "SecretString"})


def _issued_values(document: Any, budget: int = 200_000) -> Iterator[str]:
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack and budget > 0:
        value, named = stack.pop()
        budget -= 1
        if isinstance(value, dict):
            # a name/value pair object: SSM's {"Name": "/prod/db/password", ..., "Value": v},
            # CloudFormation's ParameterKey/ParameterValue, a Kubernetes env entry in any
            # order (round 16)
            pair_named = any(
                isinstance(value.get(k), str) and is_credential_name(value[k])
                for k in _PAIR_NAME_KEYS
            )
            for key, inner in value.items():
                credential = isinstance(key, str) and (
                    is_credential_name(key) or (pair_named and key in _PAIR_VALUE_KEYS)
                )
                stack.append((inner, named or credential))
        elif isinstance(value, list):
            stack.extend((inner, named) for inner in value)
        elif named and isinstance(value, str) and _looks_secret(value):
            yield value


# the run's own words: env name, targets, paths (never secrets); a dict as an ordered set
_own_facts: dict[str, None] = {}

# A value a server hands out is made a secret of the run only when it is shaped like a token
# (RFC 6750's b64token, and the symbols generated passwords use): the characters that
# structure smokegate's own lines and the escapes the scrubber decodes (blanks, `( ) , ; :`,
# `& # %`, quotes, brackets) were how "credentials" masked the verdict, the counts and the
# case facts (rounds 21a, 22a, 23a). Other values are masked by the name that holds them.
_ISSUED_SHAPE = linear_re.compile(r"[A-Za-z0-9._~+/=!@$*^-]+")
# smokegate's verdict and count words, in the normalised view with digits as 0
# How summary.md's verdict line ends, before its closing bold mark.
_VERDICT_ENDS = (
    "no failures",
    "(gates at any --fail-on)",
    *(f"0 {word}" for word in ("critical", "high", "medium", "low", "below gate", "waived")),
    "0 verified nothing",
    "nothing gates",
)
_OWN_PHRASES = (
    *_VERDICT_PHRASES,
    *(
        f"0 {a}, 0 {b}"
        for a in ("passed", "failed", "skipped", "error", "errors")
        for b in (
            "passed",
            "failed",
            "skipped",
            "deselected",
            "error",
            "errors",
            "warnings",
            "xfailed",
        )
    ),
    *(
        f"0 {word}"
        for word in (
            "verified nothing",
            "gating",
            "waived",
            "below gate",
            "critical",
            "medium",
            "deselected",
            "skipped",
            "passed",
            "failed",
            "high",
            "low",
            "cases",
            "warnings",
        )
    ),
    "not evaluated",
    "gates at any --fail-on",
    # summary.md's verdict line as written, its icon and bold marks around the words: a CI
    # or AWS variable `❌**gateFAILED` was no phrase's piece whole, matched the line's view
    # (blanks dropped) and masked the verdict (round 38a)
    *(
        f"{icon} **gate {word}"
        for icon in ("✅", "⚠", "❌")
        for word in ("PASSED", "FAILED", "NOT EVALUATED")
    ),
    *(f"{end}**" for end in _VERDICT_ENDS),
)
_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")


def _pieces(text: str) -> frozenset[str]:
    """The runs of MIN_SECRET_CHARS characters of `text` as the piece search reads it
    (escapes decoded, gaps dropped, compatibility forms folded), lower-cased: what a
    secret's piece would match."""
    view = _View(text).view.lower()
    size = MIN_SECRET_CHARS
    return frozenset(view[i : i + size] for i in range(len(view) - size + 1))  # cut-ok: compared


@functools.cache
def _phrase_pieces() -> frozenset[str]:
    """The pieces of smokegate's verdict and count words and of the messages its rules and
    gate write, every digit a 0 (a count is any number)."""
    literal = (part for whole in _message_phrases() for part in whole.split(_PLACEHOLDER))
    phrases = (*_OWN_PHRASES, *(part for part in literal if part))
    return frozenset(p.translate(_DIGITS_AS_ZERO) for text in phrases for p in _pieces(text))


# Where the words of a case's message, measured value and hint come from: a value that
# shares a piece with them, made a secret, masked "limit 365", "root MFA off" or "2 active
# keys" in every IAM failure (round 26a).
_MESSAGE_MODULES = ("rules", "gate.py", "verdict.py", "cases.py", "results.py", "report")


@functools.cache
def _message_phrases() -> tuple[str, ...]:
    """The text inside the quotes of the modules that write smokegate's messages, each
    f-string's `{placeholder}` a `_PLACEHOLDER`: the phrases' pieces are what the source
    writes itself ("root MFA off", "active keys", "min length"), never a window across a
    value, which random tokens would match too often (a window of six 0s and two letters,
    in one real AWS session token of 170); `_number_pieces` reads across one. Read once,
    from the source's text, as `_report_words` is."""
    package = Path(__file__).parent
    phrases: list[str] = []
    for name in _MESSAGE_MODULES:
        where = package / name
        for module in sorted(where.rglob("*.py")) if where.is_dir() else [where]:
            try:
                source = module.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for line in source.splitlines():
                for mark in ('"', "'"):
                    for quoted in line.split(mark)[1::2]:
                        phrases.append(_PLACEHOLDER.join(_outside_placeholders(quoted)))
    return tuple(phrases)


@functools.cache
def _number_pieces() -> frozenset[str]:
    """Pieces of the rules' messages across one number they format in: "limit 365" as
    `limit000`, "2 active keys" as `0activek` (a literal side of 5 to 7 characters, 1 to 3
    digits as 0s). Only for values a server hands out, which may simply go unregistered:
    as often as random tokens hold such a run, a real credential would be refused."""
    pieces: set[str] = set()
    size = MIN_SECRET_CHARS
    for phrase in _message_phrases():
        parts = [_View(part).view.lower() for part in phrase.split(_PLACEHOLDER)]
        for left, right in itertools.pairwise(parts):
            for digits in range(1, 4):
                side = size - digits
                if len(left) >= side:
                    pieces.add(left[-side:].translate(_DIGITS_AS_ZERO) + "0" * digits)
                if len(right) >= side:
                    pieces.add("0" * digits + right[:side].translate(_DIGITS_AS_ZERO))
    return frozenset(pieces)


# What smokegate's messages put where their f-strings' placeholders are, that a message
# shows around its own words: a count or a status, a severity, a verdict word.
_FILLS = ("0", "00", "000", "critical", "high", "medium", "low", "passed", "failed")
_FILLS += ("not evaluated",)


@functools.cache
def _filled_pieces() -> frozenset[str]:
    """Pieces of smokegate's messages across what they format in (`_FILLS`), and of the
    verdict followed by its counts: "gate FAILED (--fail-on low): 1" or "status 503,
    expected 200" in a credential variable spans a formatted value, so no piece cut at one
    covered it, and the verdict and every status line were masked (round 28a). Only for a
    value wholly made of them (`_wholly_own_text`): a real credential never is."""
    size = MIN_SECRET_CHARS
    texts: list[str] = []
    for phrase in _message_phrases():
        parts = phrase.split(_PLACEHOLDER)
        for left, right in itertools.pairwise(parts):
            texts.extend(left[-(size - 1) :] + fill + right[: size - 1] for fill in _FILLS)
    counted = ("critical", "high", "medium", "low", "verified nothing", "waived", "below gate")
    texts.extend(
        f"{verdict}0 {word}"
        for verdict in _VERDICT_PHRASES
        if verdict.endswith(": ")
        for word in counted
    )
    # the counts as the verdict joins them ("1 critical, 1 high; 1 verified nothing")
    texts.extend(f"0 {a}{joint}0 {b}" for a in counted for b in counted for joint in (", ", "; "))
    # every verdict line whole, and every case line's head: a window across the verdict, a
    # count and its joint (`):0high,`), or across a severity's bracket and a check
    # (`[high]endpoint`, pytest's `Failed:[high`), joined three of them, and a CI variable of
    # such text masked the verdict or every case's severity (round 40a F1, F2)
    texts.extend(f"{line}**" for line in _verdict_lines())
    texts.extend(_case_heads())
    # the console's env line after the env's name: `: 26 passed, 14 failed` (round 41a F3)
    outcomes = ("passed", "failed", "error", "skipped", "not run")
    texts.extend(
        ": " + ", ".join(f"{'0' * digits} {o}" for o in chosen)
        for chosen in _in_order(outcomes)
        for digits in range(1, 5)  # one 8-character window holds one count's digits
    )
    return frozenset(p.translate(_DIGITS_AS_ZERO) for text in texts for p in _pieces(text))


_SEVERITY_WORDS = ("critical", "high", "medium", "low")  # gate.py's order; no import here


def _in_order(words: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every choice of `words`, in their order (the empty one too)."""
    for size in range(len(words) + 1):
        yield from itertools.combinations(words, size)


def _verdict_lines() -> Iterator[str]:
    """The lines `GateResult.describe()` writes for a completed run, every count 0: each
    threshold, the severities at and below it, verified nothing or not."""
    for verdict, partial in itertools.product(("PASSED", "FAILED"), ("", "partial, ")):
        for at, threshold in enumerate(_SEVERITY_WORDS):
            gating_words, below_words = _SEVERITY_WORDS[: at + 1], _SEVERITY_WORDS[at + 1 :]
            for gating, unverified, below in itertools.product(
                _in_order(gating_words), (False, True), _in_order(below_words)
            ):
                parts = [", ".join(f"0 {word}" for word in gating)] if gating else []
                if unverified:
                    parts.append("0 verified nothing (gates at any --fail-on)")
                if below:
                    parts += [] if parts else ["nothing gates"]
                    parts.append(f"0 below the gate ({', '.join(f'0 {w}' for w in below)})")
                text = "; ".join(parts) or "no failures"
                yield f"gate {verdict} ({partial}--fail-on {threshold}): {text}"


@functools.cache
def _check_names() -> tuple[str, ...]:
    """The checks' names as cases carry them: `test_<check>` in the checks folder."""
    folder = Path(__file__).parent.parent / "checks"
    names: list[str] = []
    for module in sorted(folder.glob("*.py")):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            names += _CHECK_DEF.findall(module.read_text(encoding="utf-8"))
    return tuple(dict.fromkeys(names))


_CHECK_DEF = linear_re.compile(r"(?m)^def test_([a-z0-9_]+)\(")


def _case_heads() -> Iterator[str]:
    """A failing case's first line up to its target, as cases.py, the console and pytest
    write it: `Failed: [high (verified nothing)] endpoint `."""
    for severity in _SEVERITY_WORDS:
        labels = [severity, f"{severity} (verified nothing)", f"{severity} (below gate)"]
        labels += [f"{severity} (below gate: --fail-on {t})" for t in _SEVERITY_WORDS]
        for label, check in itertools.product(labels, _check_names()):
            yield f"Failed: [{label}] {check} "


_PLACEHOLDER = "\x00"  # where an f-string's `{...}` was, in `_message_phrases()`


def _outside_placeholders(text: str) -> list[str]:
    """The stretches of an f-string's text before, between and after its `{...}`
    placeholders (one more than there are placeholders; empty at an edge)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
            if depth == 1:
                parts.append("".join(current))
                current = []
        elif ch == "}" and depth:
            depth -= 1
        elif not depth:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _fact_pieces() -> frozenset[str]:
    with _registry_lock:
        facts = tuple(_own_facts)
    return _pieces_of(facts)


@functools.lru_cache(maxsize=1)
def _pieces_of(facts: tuple[str, ...]) -> frozenset[str]:
    """The pieces of the run's facts, built again only when a fact is added."""
    return frozenset().union(*(_pieces(text[:4096]) for text in facts))  # cut-ok: compared


def token_shaped(value: str) -> bool:
    """Shaped like a token a server or AWS hands out (see `_ISSUED_SHAPE`)."""
    return _ISSUED_SHAPE.fullmatch(value) is not None


def _would_mask_own_text(
    value: str, facts: frozenset[str], *, issued: bool = False, obtained: bool = False
) -> bool:
    """True for a value that, made a secret, would mask smokegate's own words or the run's
    facts: not token-shaped, or any form the scrubber derives from it (its base64-decoded
    text too: round 23a) holds a gap (round 22a: words joined by a zero-width space), a
    word of smokegate's source anywhere (`9xendpointq`, rounds 21a, 22a), or a piece of a
    fact or of a verdict or count line as the piece search reads them (escapes decoded,
    blanks dropped: round 23a's `gateFAILED(--fail-onlow):1high`, `127&#46;0&#46;0&#46;1`)."""
    if not token_shaped(value):
        return True
    gaps, words, phrases = _gap_chars(), _report_word_pattern(), _phrase_pieces()
    # the forms the scrubber derives and masks too: base64's text, and the value written
    # backwards (round 27a: `lacitirc` masked "critical", `1.0.0.721` every address)
    # `obtained`: a credential the run needs (a fetched token, AWS's keys) is held against
    # what smokegate writes (its messages, verdicts, counts, the run's facts), not against
    # every word of its source nor its base64 text: an IdP's token of base64 JSON or
    # `payments-readonly.7Yk2…` was refused, and its check verified nothing (round 27a-4)
    forms = (value, value[::-1]) if obtained else (value, value[::-1], *decoded_forms(value))
    for form in forms:
        if any(ch.isspace() or ch in gaps for ch in form.strip()):
            return True
        view = _View(form).view.lower()
        if (not obtained and words.search(view) is not None) or _windows_in(view, facts):
            return True
        zeroed = view.translate(_DIGITS_AS_ZERO)
        if _windows_in(zeroed, phrases) or (issued and _windows_in(zeroed, _number_pieces())):
            return True
    return False


def own_text_problem(value: str) -> str | None:
    """Why a credential the run obtained (a fetched OAuth2 token, STS's keys) cannot be
    used, or None: made a secret, it would mask smokegate's own words or the run's facts
    in every report (round 25a: a token endpoint's `access_token` of "1 critical, 1 low" or
    "127.0.0.1" masked the verdict and every address). Phrased to follow what it is."""
    if _would_mask_own_text(value.strip(), _fact_pieces(), obtained=True):
        return (
            "holds smokegate's own words or the run's facts (a verdict, a count, a target, "
            "an address, a character that is no token's): masked, it would garble every "
            "report, so it is not used"
        )
    return None


def protect_own_facts(texts: Iterable[str]) -> None:
    """The run's own facts (the env's name and file, its targets' names, URLs and hosts, the
    reports folder): a value a server hands out that shares a piece with one of them is no
    credential of the run. Registered, `http://<target>/down`, `127.0.0.1` or the env's name
    under `access_token` masked the failing target, every address, the env line and the
    report paths (round 22a)."""
    given = [t for t in texts if t]  # read before the lock: a caller's generator may scrub
    with _registry_lock:
        _own_facts.update(dict.fromkeys(given))
        issued = list(_issued)
    # a value registered before a fact was known (an IAM user's name, gathered while the
    # HTTP probes ran) is dropped now: what may be masked does not depend on which came
    # first (round 26a)
    facts = _fact_pieces()
    stale = [value for value in issued if _would_mask_own_text(value, facts, issued=True)]
    if stale:
        with _registry_lock:
            _issued.difference_update(stale)
            _registered.difference_update(stale)


def registered_secrets() -> list[str]:
    with _registry_lock:
        return list(_registered)


def configure_secret_variables(names: Iterable[str], blank_free: Iterable[str] = ()) -> None:
    """The variables of this run whose values are secrets (the env file's credentials):
    told once per process, so every scrubber and every `excerpt` knows them, including the
    rules and gatherers that quote a server's text long before any report is written.
    `blank_free`: those that hold a Bearer token, which a blank makes no secret (it is
    never sent: `gather.credentials`)."""
    global _secret_variables, _process_scrubber
    _secret_variables = tuple(dict.fromkeys(names))
    _process_scrubber = Scrubber(_secret_variables, blank_free=blank_free)


def secret_variables() -> tuple[str, ...]:
    return _secret_variables


_token_files: dict[str, tuple[tuple[int, int, int], str]] = {}


def _token_file_secret(path: str) -> str:
    """The stripped contents of a token file, re-read only when the file changes. Only a
    regular file of token size is read: the path comes from the environment, and a FIFO
    would block the reader forever, /dev/zero never end."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        gone = _token_files.pop(path, None)
        if gone is not None:  # removed: the token it held was sent until now (review 55)
            _keep_replaced_token(gone[1])
        return ""
    if not stat.S_ISREG(info.st_mode) or info.st_size > _TOKEN_FILE_MAX_BYTES:
        return ""
    # the change time too: a token written in place at the same size with its modification
    # time put back was never read again (54b F2)
    key = (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
    cached = _token_files.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            value = handle.read(_TOKEN_FILE_MAX_BYTES).strip()
    except OSError:
        return ""
    _token_files[path] = (key, value)
    if cached is not None and cached[1] != value:
        # the token it replaced was sent until now (botocore read it, not smokegate), and
        # an answer or a request in flight may still quote it: it stays a secret (54b F2)
        _keep_replaced_token(cached[1])
    return value


def _keep_replaced_token(value: str) -> None:
    """A token file's earlier contents stay a secret, judged as a token file's contents
    are (`Scrubber._read_secrets`)."""
    if value and _no_blank_nor_markup(value):
        register_secret(value)


def _no_blank_nor_markup(value: str) -> bool:
    """Whether a value of the runner's (a CI variable, a token file) may be a secret: one
    holding a blank or markup is no token, and masked it took smokegate's words or
    junit.xml's markup (`<failure message=`: rounds 27a-31a, 37a)."""
    return not any(c.isspace() or c in _MARKUP for c in value)


# the path each token file variable named when it was last read
_token_file_paths: dict[str, str] = {}


def _token_file_of(variable: str, path: str) -> str:
    """`_token_file_secret` of the file `variable` names; the token of the file it named
    before stays a secret when it is pointed elsewhere mid-run (a conftest or plugin): that
    token was sent until then, and an answer may still quote it (round 54c F5)."""
    before = _token_file_paths.get(variable)
    if before is not None and before != path:
        old = _token_files.get(before)
        if old is not None:
            _keep_replaced_token(old[1])
    _token_file_paths[variable] = path
    # unset or emptied: the token it named, sent until then, stays a secret (above)
    return _token_file_secret(path) if path else ""


# -- the forms of a secret -----------------------------------------------------------------------


def _base64_forms(data: bytes) -> set[str]:
    """The secret's base64 and base64url, whole and padded, and the part of it that any
    base64 text holding the secret contains, at each of the three byte alignments (so a
    password inside `base64(user:password)`, or a token inside a base64 JSON blob, is
    masked even though the text around it is not a secret)."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        forms.update((whole, whole.rstrip("=")))
        for offset in (0, 1, 2):
            encoded = encode(b"\0" * offset + data).decode("ascii")
            start = (0, 2, 3)[offset]
            end = ((offset + len(data)) * 8) // 6  # sextets made of secret bits only
            forms.add(encoded[start:end])  # cut-ok: an encoding of our own secret
    return forms


def _json_every_char(text: str, upper: bool) -> str:
    """Every character as a JSON `\\uXXXX` escape (a non-BMP one as its surrogate pair)."""
    units = text.encode("utf-16-be")
    pattern = "\\u{:04X}" if upper else "\\u{:04x}"
    return "".join(
        pattern.format(int.from_bytes(units[i : i + 2])) for i in range(0, len(units), 2)
    )  # cut-ok: code units of our own secret


def secret_forms(value: str) -> set[str]:
    """Every form of `value` a server or library plausibly echoes (see the module doc)."""
    # a variable's undecodable byte, as Python keeps it (`\udcff`), is written as its escape
    # by every output (`encodable`), and nothing can encode it as it is: the whole run
    # stopped in an INTERNALERROR (round 54d)
    value = encodable(value)
    stripped = value.strip()
    base = {value, stripped}
    forms: set[str] = set(base)
    for text in base:
        encoded = {
            quote(text, safe=""),
            quote(text),
            quote_plus(text),
            quote_plus(text, safe="/"),
            quote(quote(text, safe=""), safe=""),  # encoded twice: a proxy's log of a URL
            "".join(f"%{byte:02X}" for byte in text.encode()),  # every byte, letters too
        }
        forms.update(encoded)
        for ascii_only in (True, False):
            escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]  # cut-ok: our own quotes
            forms.update((escaped, escaped.replace("/", "\\/")))
        forms.update((_json_every_char(text, False), _json_every_char(text, True)))
        forms.add(repr(text)[1:-1])  # cut-ok: the quotes repr adds
        forms.add(html.escape(text))
        # OWASP-style HTML encoding: every character but letters and digits as &#xHH;
        forms.add("".join(c if c.isalnum() else f"&#x{ord(c):X};" for c in text))
        forms.add("".join(c if c.isalnum() else f"&#x{ord(c):x};" for c in text))
        # every character as an HTML entity, decimal and hex
        forms.add("".join(f"&#{ord(c)};" for c in text))
        forms.add("".join(f"&#x{ord(c):X};" for c in text))
        forms.add("".join(f"&#x{ord(c):x};" for c in text))
        # cheap transforms a server's message may apply: case, order, hex of the bytes
        # (not its upper- or lower-cased form: a case-blind mask of a secret such as
        # `readonly` hits READONLY in a variable's name, and many a word besides)
        forms.add(text[::-1])
        for hexed in (text.encode().hex(), text.encode().hex().upper()):
            pairs = [hexed[i : i + 2] for i in range(0, len(hexed), 2)]  # cut-ok: our bytes
            forms.add(hexed)
            # hex dumps: `5a:6b`, `5a-6b`, `5a,6b`, `0x5a0x6b` (`0x5a 0x6b` without its
            # gaps), `0x5a,0x6b` (a C array)
            forms.update(sep.join(pairs) for sep in (":", "-", ","))
            forms.update(("".join(f"0x{p}" for p in pairs), ",".join(f"0x{p}" for p in pairs)))
        # the bytes as decimal numbers: Go's `[90 113 55]`, Java's and Python's `[90, 113]`,
        # Node's Buffer as JSON (`"data":[90,113]`), `String.fromCharCode(90,113)` (round
        # 18a); JavaScript's `escape()` of every character (`%u005A`); and the hex of the
        # UTF-16LE bytes (SQL Server's varbinary of an N'' string, .NET's Encoding.Unicode)
        data = text.encode()
        forms.update(sep.join(map(str, data)) for sep in (", ", ",", " "))
        forms.update(sep.join(f"{byte:03o}" for byte in data) for sep in (", ", " "))
        if all(ord(c) <= 0xFFFF for c in text):
            forms.update("".join(f"%u{ord(c):{case}}" for c in text) for case in ("04X", "04x"))
        wide = text.encode("utf-16-le").hex()
        forms.update((wide, wide.upper()))
        # a visible separator between every character (`Z-k-9-...`)
        forms.update(sep.join(text) for sep in _CHAR_SEPARATORS)
        # UTF-8 read as Latin-1 (mojibake), which is also what every-byte escapes
        # (`\xc3\xbc`, `\303\274`, `%C3%BC`) read as in the normalised view
        forms.add(text.encode().decode("latin-1"))
        if not text.isascii():
            # the same letters in the other normalisation form, as a server that normalises
            # (RFC 8265: NFC) or a macOS file name (NFD) echoes them (round 15)
            forms.update(unicodedata.normalize(f, text) for f in ("NFC", "NFD"))
            # sent as Latin-1 bytes (how http.client encodes a header), echoed, and read
            # back as UTF-8: each byte no UTF-8 reader takes is U+FFFD (round 14: the
            # pieces between them, 7 characters each, were shown)
            with contextlib.suppress(UnicodeEncodeError):
                forms.add(text.encode("latin-1").decode("utf-8", "replace"))
        forms.update(_base64_forms(text.encode("utf-8")))
        if not text.isascii():
            # base64 of its Latin-1 bytes: how requests encodes Basic credentials, a
            # proxy's among them (round 19c: a 407 quoting them showed the password)
            with contextlib.suppress(UnicodeEncodeError):
                forms.update(_base64_forms(text.encode("latin-1")))
        # base32 (TOTP secrets, some IdPs' ids), upper and lower case, padded or not
        b32 = base64.b32encode(text.encode()).decode("ascii")
        forms.update((b32, b32.rstrip("="), b32.lower(), b32.rstrip("=").lower()))
        # base64 of UTF-16LE (PowerShell's -EncodedCommand, .NET's Encoding.Unicode)
        forms.update(_base64_forms(text.encode("utf-16-le")))
        # base64 of the base64 form (a base64 blob holding a Basic header)
        once = base64.b64encode(text.encode()).decode("ascii")
        forms.update(_base64_forms(once.encode()))
        forms.update(_base64_forms(once.rstrip("=").encode()))
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


# (`, ` and the quotes of a list of characters: Java's `[Z, q, 7]`, Python's `['Z', 'q']`)
_CHAR_SEPARATORS = ("-", ".", ":", "_", "|", ",", ", ", "', '", '", "')


def case_blind(value: str) -> bool:
    """Whether `value` is masked whatever the case of its letters: a value with a digit
    that is hex (an API key, a UUID) or at least 16 characters long. Its upper-, lower- or
    mixed-case echo is the credential itself for a case-insensitive key. A word-like value
    (`readonly`, `first-value`) is not: masked case-blind, it would hit `READONLY` in a
    variable's name and many a word besides."""
    value = value.strip()
    if not any(ch.isdigit() for ch in value) or not value.isascii():
        return False
    return len(value) >= 16 or _HEX_DIGITS.issuperset(value.replace("-", ""))


_target_hosts: frozenset[str] = frozenset()


def register_target_hosts(hosts: Iterable[str]) -> None:
    """The hosts the env file's URLs and TLS targets name, as written. A secret standing in
    one is sent lower-cased (urllib3 and ssl lower-case a host before they connect, send a
    Host header or check a certificate's name), and a server or ssl quotes that form: so
    its lower-cased form is one of its forms too (round 50a F1, F2: ssl's "not valid for
    'zq7x...'" and an echoed `Host:` showed it). Not case-blind: a word-like secret
    (`AcmeProd`) would mask `ACMEPROD` in a variable's name (the review of stop 27)."""
    global _target_hosts
    _target_hosts = frozenset(h.lower() for h in hosts if h)


def add_target_host(host: str) -> None:
    """One more host a secret is sent in (a redirect's), as `register_target_hosts`."""
    global _target_hosts
    with _registry_lock:
        _target_hosts = _target_hosts | {host.lower()}


def sent_lowered(value: str, hosts: frozenset[str]) -> str:
    """`value` lower-cased when it stands in one of `hosts` (lower-cased) and has upper-case
    letters; "" otherwise."""
    lowered = value.strip().lower()
    if lowered == value.strip() or not any(lowered in host for host in hosts):
        return ""
    return lowered


def case_blind_forms(value: str) -> set[str]:
    """The forms of `value` searched case-blind (`case_blind`): the value, stripped, and
    reversed; the hex of its bytes is a form in both cases already."""
    if not case_blind(value):
        return set()
    forms = {value, value.strip(), value[::-1], value.strip()[::-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


# -- credential shapes, whatever their origin ------------------------------------------------


# `Authorization: <value>` in header dumps, dict reprs (`b'...'` values too) and JSON.
# The value: a quoted one to its closing quote (escaped quotes inside), an unquoted one to
# the end of its line: `Authorization: Token token="..."` and `Digest ..., response="..."`
# hold the credential past the first quote (round 15: only `Token token=` was masked).
# A header's value as a dump or a repr quotes it (groups 3 to 7, see `_quoted_value`): in
# double or single quotes to the closing one (escaped quotes inside), or bare to the end of
# its line (`unquoted`: the characters a bare value takes).
def _header_value(unquoted: str, prefix: str = "") -> str:
    """`prefix`: what may stand before an opening quote (`b?`: a bytes repr, `b'...'`)."""
    return (
        rf"(?:({prefix}\")((?:[^\"\\\r\n]|\\.)*)|({prefix}')((?:[^'\\\r\n]|\\.)*)"
        rf"|({unquoted}*))"
    )


_AUTH_HEADER = linear_re.compile(
    r"(?i)\b((?:proxy-)?authorization)([\"']?\s*[:=]\s*)" + _header_value(r"[^\r\n]", "b?")
)
# `Bearer <token68>` on one line; a challenge's parameters (`Bearer realm="api"`) and prose
# (`Bearer authentication is required`, a target named `health-bearer` above a field) are
# left alone: see _mask_bearer.
_BEARER = linear_re.compile(r"(?i)\b(bearer[ \t]+)([A-Za-z0-9._~+/-]+=*)")
# AWS credential fields and signatures, as botocore logs them at DEBUG: STS's XML answer,
# JSON and dict reprs, headers, query parameters, and `Signature:\n<hex>`; with what STS,
# SSO and SSO-OIDC send and answer. One list: the shapes below, their quick pre-check, and
# the fields whose values `smokegate.gather.aws_secrets` registers all come from it.
AWS_SECRET_FIELDS = (
    "AccessKeyId",  # not a secret alone, but the env's own key id is masked: so is a role's
    "aws_access_key_id",
    "SecretAccessKey",
    "SessionToken",
    "X-Amz-Security-Token",
    "WebIdentityToken",
    "Signature",
    "aws_secret_access_key",
    "aws_session_token",
    "accessToken",
    "refreshToken",
    "clientSecret",
    "idToken",
    "codeVerifier",
    "deviceCode",
    "SAMLAssertion",
    "x-amz-sso_bearer_token",
)
_AWS_FIELDS = "|".join(AWS_SECRET_FIELDS)  # letters, `-` and `_`: nothing to escape
# The element's text, comments and CDATA sections in it included: an XML parser joins them
# into the value (round 16: `<SecretAccessKey><!-- -->...` and a token continued in CDATA
# were logged raw by botocore at DEBUG, before the value was known to mask).
_XML_TEXT = r"(?:[^<]|<!--(?:[^-]|-[^-])*-->|<!\[CDATA\[(?:[^\]]|\][^\]])*\]\]>)+"
_AWS_XML = linear_re.compile(rf"(?i)(<(?:[\w.-]+:)?(?:{_AWS_FIELDS})(?:\s[^>]*)?>)({_XML_TEXT})")
_AWS_KEY_VALUE = linear_re.compile(
    rf"(?i)(^|[^A-Za-z0-9])((?:{_AWS_FIELDS})[\"']?\s*[:=]\s*(?:b?[\"'])?)"
    r"([^\"'\s,;&<>(){}\[\]]+)"
)
# Either shape needs a field's name in the text, in some case: what is looked for first.
_AWS_HINTS = tuple(field.lower() for field in AWS_SECRET_FIELDS)
# A JSON Web Token: base64url header and payload (both JSON objects, so both `eyJ`), signature.
_JWT = linear_re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# A PEM (or PGP) private key a server quotes: what lies between its armour lines is masked,
# to the end of a text cut before the END line (round 14).
_PEM_PRIVATE_KEY = linear_re.compile(
    r"(?s)(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)(.*?)"
    r"(-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)"
)
# `scheme://user:password@host`: the whole userinfo is masked, to the last `@` of the
# URL when the user has a `:` (round 18a: a password holding an unencoded `@`, `#`, `?` or
# `/`, as people write DSNs and git URLs, was masked only to its first `@`, or not at all).
# A `host:port` followed by `/`, `?` or `#` is no password (`http://127.0.0.1:8080/users/@me`
# and `http://h:8080?contact=ops@status.test` keep their host: round 19a, a masked one read as
# `http://***@status.test`, naming a host that never answered).
_URL_USERINFO = linear_re.compile(
    r"(?i)\b([a-z][a-z0-9+.-]*://)("
    r"[^/?#@\s\"'<>:]*:(?:[^0-9\s\"'<>][^\s\"'<>]*|[0-9]+[^0-9/?#\s\"'<>][^\s\"'<>]*|[0-9]*)"
    r"|[^/?#@\s\"'<>]+)@"
)
# `user:password@host` without a scheme (redis and proxy settings, `git@`-less SSH forms
# in a log line): the password is masked, to the last `@` before the host.
_BARE_USERINFO = linear_re.compile(
    r"(^|[\s\"'<>(\[{,;=])([A-Za-z0-9._~!$&*+-]{1,80}:)([^\s\"'<>@]+(?:@[^\s\"'<>@]+)*)@([A-Za-z0-9\[])"
)
# ASP.NET's cookieless session and forms-authentication ids, put in every URL's path
# (`/(S(lit3py55t21z5v55vlm25s55))/default.aspx`): smokegate keeps no cookies, so such an
# app shows its session id in each redirect it answers (round 18a).
_ASPNET_COOKIELESS = linear_re.compile(r"\(([SAF])\(([A-Za-z0-9_-]{16,})\)\)")
# `?name=value`, `&name=value`, `;name=value`, `#name=value` (an implicit-flow token in a
# fragment): the value is masked when the name says credential.
_QUERY_PARAM = linear_re.compile(r"([?&;#])([^=&#?;\s\"'<>]{1,80})=([^&#;\s\"'<>]*)")

# What a server hands out, judged by the name it gives it (round 11: a token endpoint's
# `"access_token": "..."`, `"refresh_token"`, a challenge's `token="..."`, a session
# cookie `SESSIONID=...`): a JSON member, and a `name=value` that starts a text or follows
# a space, `,`, `;`, a bracket or a quote. Masked when the name says credential; a
# value cut by a size cap (no closing quote) is masked to the end.
#
# Each pattern only matches a name holding one of these words (`is_credential_name` then
# decides): ordinary JSON or text, a million `"a": "b"` members, costs no callback per
# member.
_HINT = (
    "(?i:token|secret|pass|pwd|key|sig|cred|session|auth|jwt|cookie|assertion|code|hmac|otp"
    "|pin|sid|bearer|ticket|refresh|saml|magic|rsa|kubeconfig)"
)


def _hinted(chars: str) -> str:
    """A name of `chars` with a credential word in it (up to 100 characters either side)."""
    return f"(?:{chars}{{0,100}}{_HINT}{chars}{{0,100}})"


_JSON_NAME = _hinted(r'[^"\\\r\n]')
_WORD_NAME = _hinted(r"[A-Za-z0-9_.-]")  # `name=`, and a quoted `"name":` or `'name':`
_BARE_NAME = _hinted(r"[\w-]")  # `name:` unquoted: no dot (`iam.password_policy:` is ours)
_JSON_MEMBER = linear_re.compile(rf'"({_JSON_NAME})"(\s*:\s*)"((?:[^"\\\r\n]|\\.)*)"?')
# A member name written with a JSON escape in it (`"access\u005ftoken"`, `"api\/key"`: the
# same name to every JSON parser; round 13). Its words cannot be looked for in the raw text,
# so every such name is decoded and judged: names with an escape are rare in any body.
_ESCAPED_JSON_NAME = r'(?:[^"\\\r\n]|\\[^\r\n])*\\[^\r\n](?:[^"\\\r\n]|\\[^\r\n])*'
_JSON_MEMBER_NAME_ESCAPED = linear_re.compile(
    rf'"({_ESCAPED_JSON_NAME})"(\s*:\s*)"((?:[^"\\\r\n]|\\.)*)"?'
)
# The same member inside a JSON string (a body quoted in a JSON log line): `\"name\":\"v\"`.
_JSON_MEMBER_ESCAPED = linear_re.compile(
    rf'\\"({_JSON_NAME})\\"(\s*:\s*)\\"([^"\\\r\n]*)((?:\\")?)'
)
# A value that follows a credential name closely, whatever the syntax between them (round 16:
# PHP's print_r `[access_token] => v` and var_dump `["k"]=> string(20) "v"`, Perl's
# `'password' => 'v'`, Go's `map[access_token:v]`, PostgreSQL's `Key (api_key)=(v)`, a table
# cell or a multipart part once tags and lines are gone, `<input name="code" value="v">`):
# up to 16 characters that are no letter or digit (or the words `value`, `string(20)`), then
# a token that reads like a secret.
_NEAR_VALUE = linear_re.compile(
    rf"(?i)({_WORD_NAME})([^A-Za-z0-9%_.-](?:[^A-Za-z0-9%]|value|string\([0-9]{{1,6}}\)){{0,15}})"
    r"([A-Za-z0-9+/_.~!@#$^*-]{8,}={0,2})"  # symbols too (round 17a: `P@ss!w0rd#Qz8v$K2`)
)
# An element or a form field whose `name`/`key` attribute names a credential: its `value`
# attribute or its text (`<add key="ApiKey" value="v"/>`, `<entry key="db.password">v<`,
# `<input name="code" value="v">`; round 16).
_ATTR_NAMED = linear_re.compile(
    rf"(?i)\b((?:name|key)\s*=\s*[\"']({_WORD_NAME})[\"']"
    r"(?:[^<>]*?\bvalue\s*=\s*[\"']|[^<>]*?>))([^\"'<>\r\n]+)"
)
_BARE_NAME_VALUE = r"[^\s,;&\"'`<>)\]}]"
_BARE_COLON_VALUE = r"[^\s,;&\"'`<>(){}\[\]]"
_NAME_VALUE = linear_re.compile(
    rf"(^|[\s,;(\[{{'\"$:/+])({_WORD_NAME})([ \t]*=>?[ \t]*)"
    rf"([bu]?\"[^\"\r\n]*\"?|[bu]?'[^'\r\n]*'?|`[^`]*`?|{_BARE_NAME_VALUE}*)"
)
# A masked bare value whose field goes on, in words without `=` (`:` for the colon shape),
# to its end: a `;`, `&`, quote, closing bracket or the line's end. Masked to there (round
# 17a: `password: correct horse battery staple`, ODBC's `Password=purple monkey
# dishwasher;`, INI's `password = a,b` were masked to their first blank or comma). A
# field that goes on with another `name=value` keeps it: `AccessKeyId=*** RoleSessionName=`.
_FIELD_END = r"([;&\"'`\r\n)\]}]|$)"
_NAME_VALUE_REST = linear_re.compile(
    rf"({_WORD_NAME})([ \t]*=>?[ \t]*)\*\*\*((?:[ \t,]+[^\s,;&\"'`<>)\]}}=]+)+){_FIELD_END}"
)
# `name: value` as YAML, a .properties dump, a header line or a Python dict's repr writes it
# (`access_token: ...`, `{'password': '...'}`): the name bare or quoted, no dot in it.
# A quoted name as a member of a mapping (after `{` or `,`: a dict's repr), a bare one at
# the start of a line (YAML, a .properties file, a header dump) or after `{` or `,` (a
# JavaScript object: `{apiToken: \`...\`}`, the value in any of JavaScript's quotes).
# Elsewhere it is prose, and smokegate's own: "with SG_TOKEN: token accepted", "unknown
# field 'token': secrets never live in the env file", "without credentials: the endpoint
# is open".
_COLON_VALUE_TEXT = (
    r"(?:(?:!!?[\w.:/-]{0,100}|&[\w-]{1,100})[ \t\xa0]+)?"  # a YAML tag or anchor first
    r"(?:[bu]?\"[^\"\r\n]*\"?|[bu]?'[^'\r\n]*'?|`[^`]*`?"
    rf"|{_BARE_COLON_VALUE}+)"
)
_YAML_FLOW_SEQUENCE = r"\[[^\]\r\n]*\]?"  # `api_tokens: [a, b]` (round 17a: a, and b shown)
_COLON_VALUE = linear_re.compile(
    rf"(?m)((?:^|[{{,])[ \t]*)(\"{_WORD_NAME}\"|'{_WORD_NAME}')"
    rf"([ \t\xa0]*:[ \t\xa0]*)({_COLON_VALUE_TEXT})"
    rf"|(^[ \t]*|[ \t{{,])({_BARE_NAME})([ \t\xa0]*:[ \t\xa0]*)"
    rf"({_YAML_FLOW_SEQUENCE}|{_COLON_VALUE_TEXT})"
)
_COLON_VALUE_REST = linear_re.compile(
    rf"({_BARE_NAME}[\"']?)([ \t\xa0]*:[ \t\xa0]*)\*\*\*"
    rf"((?:[ \t,\xa0]+[^\s,;&\"'`<>(){{}}\[\]:=]+)+){_FIELD_END}"
)
# A YAML block scalar a credential names (`private_key: |` and the indented lines under it).
_YAML_BLOCK = linear_re.compile(
    rf"(?m)^([ \t]*)({_BARE_NAME}|\"{_WORD_NAME}\"|'{_WORD_NAME}')"
    r"([ \t]*:[ \t]*[|>][-+0-9]*[ \t]*\r?\n)((?:[ \t]+[^\r\n]*(?:\r?\n|$))+)"
)
# An XML element named like a credential: `<access_token>...</access_token>`, `<password>`
# (a token answer in XML, a SOAP fault echoing a request), any namespace prefix.
_XML_ELEMENT = linear_re.compile(rf"<((?:[\w.-]{{1,80}}:)?({_WORD_NAME}))(\s[^<>]*)?>({_XML_TEXT})")
# The same element and JSON member HTML-escaped, as an error page quotes XML or JSON it
# was sent (round 17a): `&lt;password&gt;v&lt;/password&gt;`, `&quot;token&quot;:&quot;v`.
_XML_ELEMENT_ESCAPED = linear_re.compile(
    rf"&lt;((?:[\w.-]{{1,80}}:)?({_WORD_NAME}))((?:\s[^<>&]*)?)&gt;([^&<\r\n]*)"
)
_ENTITY_NAME = _hinted(r"[^&\r\n]")
_JSON_MEMBER_ENTITIES = linear_re.compile(
    rf"&quot;({_ENTITY_NAME})&quot;(\s*:\s*)&quot;([^&\r\n]*)"
)
# A YAML block sequence a credential names: `api_tokens:` and the `- item` lines under it.
_YAML_SEQUENCE = linear_re.compile(
    rf"(?m)^([ \t]*)({_BARE_NAME}|\"{_WORD_NAME}\"|'{_WORD_NAME}')([ \t]*:[ \t]*\r?\n)"
    r"((?:[ \t]*-[ \t]+[^\r\n]*(?:\r?\n|$))+)"
)
_SEQUENCE_ITEM = linear_re.compile(r"(?m)^([ \t]*-[ \t]+)[^\r\n]*")
# An SQL statement a database error quotes: `(name, password) VALUES ('svc', 'v')`, the
# value in the credential column's place.
_SQL_VALUES = linear_re.compile(r"(?i)\(([^()\r\n]+)\)(\s*values\s*\()([^()\r\n]+)\)")
_SQL_ITEM = linear_re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|[^,'\"]+|,")
# A name and its value as two members or items (round 15: a Kubernetes env entry, an SSM or
# ECS parameter, a HAR header, a header list printed by Python): `{"name": "DB_PASSWORD",
# "value": "..."}`, `["Authorization", "..."]`, `('Authorization', '...')`.
_NAMED_VALUE_PAIR = linear_re.compile(
    rf'(?i)("(?:name|key)"\s*:\s*"({_JSON_NAME})"\s*,\s*"value"\s*:\s*")'
    r'((?:[^"\\\r\n]|\\.)*)'
    rf"|([\[(]\s*([\"'])({_WORD_NAME})[\"']\s*,\s*b?[\"'])"
    r"([^\"'\r\n]*)"
)
# A credential parameter inside a percent-encoded URL (an SSO `return_to=`, a `RelayState`,
# round 15): `%3Faccess_token%3D...`, its value to the next encoded `&` or a plain one.
_ENCODED_PARAM = linear_re.compile(
    r"(?i)(%3F|%26|%3B|%23)([A-Za-z0-9_.\-]{1,80})(%3D)"
    r"((?:[^%&#;\s\"'<>]|%(?:[013-9A-F][0-9A-F]|2[0-57-9A-F]))*)"
)
# Any JSON member name with a credential word, or an escape, in it (`register_issued_credentials`).
_JSON_NAMED = linear_re.compile(rf'"({_JSON_NAME}|{_ESCAPED_JSON_NAME})"\s*:')
# Where a JSON member named like a credential opens an object or an array (`"token": {"id":
# ...}`, `"refresh_tokens": [...]`): every string inside it is masked (see _mask_json_values).
_JSON_OPENING = linear_re.compile(rf'"({_JSON_NAME}|{_ESCAPED_JSON_NAME})"\s*:\s*[\[{{]')

# A query parameter, form field or header is a credential when its name, lower-cased and
# without `-`, `_` and `.`, contains one of these, or is one of the short ones.
_CREDENTIAL_NAME_PARTS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "apikey",
    "accesskey",
    "signature",
    "credential",
    "sessionid",
    "privatekey",
    "authorization",
    "hmac",
    "passphrase",
    "passcode",
    "privkey",
    "sessid",  # PHPSESSID
    "assertion",  # client_assertion, SAMLAssertion
    "devicecode",  # OAuth2's device flow
    "authcode",
    "samlresponse",  # a signed bearer assertion, in a form post or a redirect's query
    "recoverycode",  # MFA recovery and backup codes
    "backupcode",
    "resetcode",
    "activationcode",
    "verificationcode",
    "invitecode",
    "magiclink",
    "otpauth",  # an `otpauth://` URI holds the TOTP seed
    "idrsa",
    "kubeconfig",
)
# Names that end in one of these hold a session or a token (`laravel_session`,
# `connect.sid`, a JSON `"bearer"`), where `session_timeout` or `sidebar` hold none.
_CREDENTIAL_SUFFIXES = ("session", "sid", "bearer")
# A name that ends in one of these says what a credential is, where it comes from or whether
# it is on, never holds it: `token_type`, `token_url`, `client_secret_env` (a variable's
# name), IAM's `password_enabled`, `password_last_used`, `access_key_1_active`.
_NOT_CREDENTIAL_SUFFIXES = (
    "type",
    "url",
    "uri",
    "endpoint",
    "env",
    "enabled",
    "active",
    "lastused",
    "lastuseddate",
    "lastusedregion",
    "lastusedservice",
    "lastchanged",
    "lastrotated",
    "nextrotation",
    "policy",
    "expiresin",
    "expiresat",
    "expiry",
    "present",
)
# `code` is an Azure Functions key (`?code=`) and an OAuth2 authorization code. Not here:
# `hash`, which is far more often a cache-busting content hash than a signature.
_CREDENTIAL_NAMES = frozenset(
    {
        "key",
        "sig",
        "auth",
        "jwt",
        "session",
        "cookie",
        "pass",
        "assertion",
        "code",
        "otp",
        "pin",
        "ticket",  # a CAS or Kerberos service ticket
        "cookies",  # httpbin's /cookies, a HAR entry
        "appid",  # OpenWeather's API key
        "creds",  # a credential word in a variable's name too (_CREDENTIAL_VARIABLE_WORDS)
        "refresh",  # Django REST SimpleJWT's {"access": ..., "refresh": ...}
    }
)


# smokegate's checks whose names hold a credential's word (flattened, as compared)
_OWN_CHECK_NAMES = (
    "acceptstoken",
    "rejectsinvalidtoken",
    "accesskeyage",
    "unusedcredentials",
    "rootaccesskeys",
)


# Names that hold a credential's word and never its value: a token's type, where a token is
# fetched from. `"token_type": "bearer"` stays readable.
_NOT_CREDENTIAL_NAMES = frozenset(
    {"tokentype", "tokenurl", "tokenuri", "tokenendpoint", "tokenenv", "passwordenabled"}
    # smokegate's own checks, which name a case's target after them (round 19a: `[high]
    # accepts_token orders-v2` lost its target to the nearness rule); their test functions'
    # names too (tests/unit/test_server_issued_credentials.py keeps this list whole)
    | {f"{prefix}{name}" for prefix in ("", "test") for name in _OWN_CHECK_NAMES}
)


@functools.lru_cache(maxsize=8192)
def is_credential_name(name: str) -> bool:
    """Whether a query parameter or header named `name` carries a credential: `token`,
    `access_token`, `api_key`, `apikey`, `key`, `sig`, `signature`, `X-Amz-Signature`,
    `password`, `client_secret`, `AccountKey`, `subscription-key`, ..."""
    flat = _flat_name(name)
    if flat in _NOT_CREDENTIAL_NAMES or flat.endswith(_NOT_CREDENTIAL_SUFFIXES):
        return False
    if flat.endswith(_CREDENTIAL_SUFFIXES):
        return True
    if _last_word(name) == "key" and flat not in _NOT_SECRET_KEYS:
        return True
    return flat in _CREDENTIAL_NAMES or any(part in flat for part in _CREDENTIAL_NAME_PARTS)


# Credential names that are plain words in other APIs (httpbin's `code=200`, `key=DE`,
# `otp=false`, a `page_token` cursor): under one of them a literal value too short for any
# secret smokegate masks is a plain value, and may be written in an env file (round 24c).
_PLAIN_WORD_NAMES = frozenset(
    {"code", "key", "sig", "otp", "pin", "ticket", "pagetoken", "nexttoken", "continuationtoken"}
)


def is_plain_word_value(name: str, value: str) -> bool:
    """`value` under `name` can be no secret: a word that names a credential only in some
    APIs, and a value shorter than MIN_SECRET_CHARS."""
    return _flat_name(name) in _PLAIN_WORD_NAMES and len(value) < MIN_SECRET_CHARS


def _flat_name(name: str) -> str:
    """A parameter's or header's name as the credential names are compared: lower case,
    `-`, `_`, `.` and blanks dropped (`X-Api-Key` and `x_api_key` alike)."""
    return "".join(ch for ch in name.lower() if ch not in "-_. ")


def _last_word(name: str) -> str:
    """The last word of a name in any of its spellings (`signing_key`, `Subscription-Key`,
    `AccountKey`, `masterKey`), lower-cased; `monkey` is one word, not `mon` and `key`."""
    end = len(name.rstrip("-_. "))
    start = end
    while start > 0 and name[start - 1].isalnum():
        start -= 1
        if name[start].isupper() and start > 0 and name[start - 1].islower():
            break  # a camelCase boundary: `Key` of `AccountKey`
    return name[start:end].lower()


# A name whose last word is `key` holds a key (round 14: Azure's `AccountKey=`, API
# Management's `subscription-key`, `signing_key`, `master_key`), except these, which name
# a row, an object or a public half.
_NOT_SECRET_KEYS = frozenset(
    {
        "publickey",
        "sortkey",
        "partitionkey",
        "primarykey",
        "foreignkey",
        "cachekey",
        "idempotencykey",
        "hashkey",
        "rangekey",
        "objectkey",
        "routingkey",
        "rowkey",
        "dedupkey",
        "deduplicationkey",
        "groupkey",
        "messagekey",
        "lookupkey",
        "mapkey",
    }
)


# A variable named like a credential whose value names a place rather than holding a secret.
_PLACE_SUFFIXES = ("_FILE", "_PATH", "_DIR", "_URL", "_URI", "_HOME", "_SOCK")
_NOT_CREDENTIALS = frozenset({"PWD", "OLDPWD"})  # "pwd" is a password in a URL, not here


def credential_variables(environ: Mapping[str, str]) -> list[str]:
    """The environment variables whose names say credential (`CI_JOB_TOKEN`,
    `NPM_TOKEN`, `DB_PASSWORD`, `GITHUB_TOKEN`: the rule of `is_credential_name`), other
    than those naming a place (`*_FILE`, `*_DIR`, ...). Their values are masked like the
    env file's own secrets: a CI variable that no env file names can still be put on
    pytest's command line (`-k $CI_JOB_TOKEN`) and so into a report."""
    return [name for name in environ if _names_credential_variable(name)]


@functools.lru_cache(maxsize=4096)
def _names_credential_variable(name: str) -> bool:
    """Cached: the scrubber asks again whenever a variable comes or goes, and pytest sets
    and unsets PYTEST_CURRENT_TEST around every phase of every test."""
    upper = name.upper()
    words = upper.replace("-", "_").split("_")
    return (
        upper not in _NOT_CREDENTIALS
        and not upper.endswith(_PLACE_SUFFIXES)
        and (is_credential_name(name) or any(word in _CREDENTIAL_VARIABLE_WORDS for word in words))
    )


# A variable's name is words: any of these as a word says credential (`RAILS_MASTER_KEY`,
# `DEPLOY_KEY`, `NPM_AUTH`, GitLab's `DOCKER_AUTH_CONFIG`; round 12), where a query
# parameter's `sort_key` or `Idempotency-Key` header says no such thing.
_CREDENTIAL_VARIABLE_WORDS = frozenset(
    {"KEY", "KEYS", "AUTH", "PASS", "PAT", "CREDS", "COOKIE", "JWT", "SESSION", "PRIVKEY"}
)


def _quoted_value(match: Any) -> tuple[str, str]:
    """The opening quote (or "") and the value of a `_header_value` match."""
    quote = match.group(3) or match.group(5) or ""
    return quote, match.group(4) or match.group(6) or match.group(7) or ""


def _mask_auth_header(match: Any) -> str:
    quote, value = _quoted_value(match)
    if not value.strip():
        return str(match.group(0))
    return f"{match.group(1)}{match.group(2)}{quote}{MASK}"


def _mask_bearer(match: Any) -> str:
    """What follows `Bearer` is masked when it looks like a token: 20 characters or more, or
    8 or more with a digit or a symbol (the shape secrets_shape refuses in an env file).
    A word (`Bearer authentication`, `Bearer realm=api`, `Bearer realm="api"`) is a
    challenge parameter or prose, kept: a token the run knows (every credential variable,
    every fetched token) is masked by its value wherever it stands, whatever its shape."""
    token = str(match.group(2))
    text: str = match.string
    end = match.end()
    rest = text[end : end + 40]  # cut-ok: a look at what follows, never output
    if token.endswith("=") and rest.lstrip(" ").startswith('"'):
        return str(match.group(0))
    stripped = rest.lstrip(" ")
    if not token.endswith("=") and stripped.startswith("=") and '"' in stripped[1:4]:
        return str(match.group(0))
    core = token.rstrip("=")
    if not (len(core) >= 20 or (len(core) >= 8 and not core.isalpha())):
        return str(match.group(0))
    return f"{match.group(1)}{MASK}"


def _mask_query_param(match: Any) -> str:
    """The name judged decoded too: `?%74oken=` is `?token=` to every server."""
    name = str(match.group(2))
    if not match.group(3) or not (is_credential_name(name) or is_credential_name(unquote(name))):
        return str(match.group(0))
    return f"{match.group(1)}{match.group(2)}={MASK}"


_COOKIE_HEADERS = frozenset({"set-cookie", "set-cookie2", "cookie"})
_COOKIE_ATTRIBUTES = frozenset(
    {
        "path",
        "domain",
        "expires",
        "max-age",
        "samesite",
        "secure",
        "httponly",
        "priority",
        "partitioned",
        "version",
        "comment",
        "commenturl",
        "port",
        "discard",
    }
)
_COOKIE_PAIR = linear_re.compile(r"(^|[;,])(\s*)([^=;,\s]{1,200})=([^;,]*)")
# A Cookie or Set-Cookie header quoted in a server's text (a dump of request headers, an
# error): every cookie in it is masked, whatever its name (round 15: `_gh_sess=`, the second
# cookie of a `Cookie:` line were shown).
_COOKIE_LINE = linear_re.compile(
    r"(?i)\b(set-cookie2?|cookie)([\"']?[ \t]*:[ \t]*)" + _header_value(r"[^\r\n\"']")
)


_PATH_WORD = linear_re.compile(r"[A-Za-z][\w-]{0,80}")


def path_names_credential(path: str) -> bool:
    """Whether a JSON path or a JMESPath expression (`$.access.token.id`,
    `refresh_tokens[0]`) goes through a member named like a credential: the value found
    there is one a server handed out, quoted masked (round 12)."""
    return any(is_credential_name(word.group(0)) for word in _PATH_WORD.finditer(path[:2000]))


def _mask_bare_userinfo(match: Any) -> str:
    """`svc:password@host` keeps its user. `mailto:` before an `@` is a scheme, not a
    user, and what follows it no password (`mailto:ops@example.com`); `https://...` is a
    URL, whose userinfo `_URL_USERINFO` has masked if it has one."""
    user = match.group(2)
    if match.group(3).startswith("//") or user.lower()[:-1] in _URL_SCHEMES_WITHOUT_SLASHES:
        return str(match.group(0))
    return f"{match.group(1)}{user}{MASK}@{match.group(4)}"


_URL_SCHEMES_WITHOUT_SLASHES = frozenset({"mailto", "sip", "sips", "tel", "xmpp", "urn", "news"})


def _mask_attr_named(match: Any) -> str:
    if not is_credential_name(str(match.group(2))) or not match.group(3).strip():
        return str(match.group(0))
    return f"{match.group(1)}{MASK}"


_PROTOCOL_VERSION = linear_re.compile(r"(?:HTTP|HTTPS|RTSP|SIP)/[0-9](?:\.[0-9])?")


def _mask_near_value(match: Any) -> str:
    """Stricter than `_looks_secret`: a digit in it, or 20 characters (`expires_in` after
    `bearer` is a word, `2YotnFZFEjr1zCsicMWpAA` a token)."""
    name, between, value = match.group(1), match.group(2), match.group(3)
    core = value.strip(".-_~")
    secret = len(core) >= 20 or (len(core) >= 8 and any(c.isdigit() for c in core))
    # a request line's version after a path ending in a name (`"GET /auth HTTP/1.1" 401`
    # in urllib3's log lost its version; round 21a)
    protocol = _PROTOCOL_VERSION.fullmatch(value) is not None
    if MASK in between or not secret or protocol or not is_credential_name(name):
        return str(match.group(0))
    return f"{name}{between}{MASK}"


def _mask_cookie_line(match: Any) -> str:
    quote, value = _quoted_value(match)
    if "=" not in value:
        return str(match.group(0))
    masked = _COOKIE_PAIR.sub(_mask_cookie_pair, value)
    return f"{match.group(1)}{match.group(2)}{quote}{masked}"


def _mask_cookie_pair(match: Any) -> str:
    if str(match.group(3)).lower() in _COOKIE_ATTRIBUTES or not match.group(4).strip():
        return str(match.group(0))
    return f"{match.group(1)}{match.group(2)}{match.group(3)}={MASK}"


def masked_header_value(name: str, value: str) -> str:
    """A response header's value as a report may quote it: every cookie's value masked
    (`SESSIONID=***; Path=/; HttpOnly`: a session a server handed the smoke identity),
    and the whole value of a header named like a credential (`X-Auth-Token`). Other
    values pass unchanged (the scrubber still runs on every output)."""
    lowered = name.strip().lower()
    if lowered in _COOKIE_HEADERS:
        # Several Set-Cookie headers arrive folded into one value with ", " (round 12: the
        # second cookie, the session, was shown): every `name=value` that is no cookie
        # attribute is masked, wherever it stands. `Expires=Wed, 21 Oct ...` splits at its
        # comma into a pair and a piece without `=`, both kept.
        return _COOKIE_PAIR.sub(_mask_cookie_pair, value)
    words = set(lowered.replace("_", "-").split("-"))
    if is_credential_name(name) or words & _HEADER_WORDS:  # Authorization, Proxy-Authorization
        return MASK
    return value


# A response header with one of these as a word of its name holds a credential
# (`X-Upstream-Auth`, `X-Session`; round 13): a header is shown only when an expectation
# on it fails, so masking one more is cheap.
_HEADER_WORDS = frozenset({"auth", "session", "key", "token", "secret", "jwt", "sig", "sid"})


def _mask_json_member(match: Any) -> str:
    if not match.group(3) or not is_credential_name(_json_name(str(match.group(1)))):
        return str(match.group(0))
    return f'"{match.group(1)}"{match.group(2)}"{MASK}"'


def _json_name(raw: str) -> str:
    """A JSON member's name as a parser reads it (`access\u005ftoken` is `access_token`);
    the raw text when its escapes are not JSON's."""
    if "\\" not in raw:
        return raw
    try:
        decoded = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return decoded if isinstance(decoded, str) else raw


def _mask_colon_value(match: Any) -> str:
    groups = match.groups()
    lead, name, colon, value = groups[:4] if groups[1] is not None else groups[4:]
    value = str(value)
    if not value.strip("\"'") or not is_credential_name(str(name).strip("\"'")):
        return str(match.group(0))
    if groups[1] is None and not _starts_line(match) and not _looks_secret(value.split()[0]):
        return str(match.group(0))  # a bare name mid-line is prose, unless its value is no word
    prefix = value[0] if value[:2] in ("b'", 'b"', "u'", 'u"') else ""  # cut-ok: b'' u''
    quote_char = value[len(prefix)] if value[len(prefix)] in "\"'`" else ""
    return f"{lead}{name}{colon}{prefix}{quote_char}{MASK}{quote_char}"


def _mask_yaml_block(match: Any) -> str:
    """The block's lines, those indented deeper than its key, masked as one; the lines
    after it (the key's siblings) kept."""
    if not is_credential_name(str(match.group(2)).strip("\"'")):
        return str(match.group(0))
    depth = len(match.group(1))
    lines = str(match.group(4)).splitlines(keepends=True)
    inside = 0
    while inside < len(lines) and len(lines[inside]) - len(lines[inside].lstrip(" \t")) > depth:
        inside += 1
    rest = "".join(lines[inside:])  # cut-ok: the key's siblings, kept whole
    ending = "\n" if inside and lines[inside - 1].endswith("\n") else ""
    shown = f"{' ' * (depth + 2)}{MASK}{ending}" if inside else ""
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{shown}{rest}"


def _starts_line(match: Any) -> bool:
    """Whether a bare `name:` stands at the start of its line: RE2 is leftmost-first, so
    a line's leading blanks are always taken by the `^` branch of the lead, and the lead
    starts the line exactly when the character before it ends one."""
    start = match.start(5)
    return start == 0 or match.string[start - 1] == "\n"


def _looks_secret(value: str) -> bool:
    """A value that reads like a credential, not a word: 20 characters or more, or 8 or more
    with a digit or a symbol (the rule `_mask_bearer` uses). In prose, "with SG_TOKEN: token
    accepted" is smokegate's; a server's "bad password: hunter2-9fZq" is not."""
    core = value.strip("\"'.")
    return len(core) >= 20 or (len(core) >= 8 and not core.isalpha())


def _mask_named_value_pair(match: Any) -> str:
    if match.group(1) is not None:
        name, lead, value = match.group(2), match.group(1), match.group(3)
    else:
        name, lead, value = match.group(6), match.group(4), match.group(7)
    if not value or not is_credential_name(name):
        return str(match.group(0))
    return f"{lead}{MASK}"


def _mask_encoded_param(match: Any) -> str:
    if not match.group(4) or not is_credential_name(str(match.group(2))):
        return str(match.group(0))
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{MASK}"


def _element_masker(lt: str, gt: str) -> Callable[[Any], str]:
    """The text of an XML element named like a credential, masked; `lt`/`gt` its brackets
    as written (`<`, or `&lt;` in an error page that quotes it)."""

    def mask(match: Any) -> str:
        if not match.group(4).strip() or not is_credential_name(str(match.group(2))):
            return str(match.group(0))
        return f"{lt}{match.group(1)}{match.group(3) or ''}{gt}{MASK}"

    return mask


_mask_xml_element = _element_masker("<", ">")
_mask_escaped_xml_element = _element_masker("&lt;", "&gt;")


def _member_masker(quote: str) -> Callable[[Any], str]:
    """The value of a JSON member named like a credential, masked, in a JSON text quoted
    inside another (`quote`: `\\"` in a JSON string, `&quot;` in an error page); the
    closing quote kept when the pattern read one (group 4)."""

    def mask(match: Any) -> str:
        if not match.group(3) or not is_credential_name(str(match.group(1))):
            return str(match.group(0))
        closing = match.group(4) or "" if match.re.groups >= 4 else ""
        return f"{quote}{match.group(1)}{quote}{match.group(2)}{quote}{MASK}{closing}"

    return mask


_mask_escaped_json_member = _member_masker('\\"')
_mask_entity_json_member = _member_masker("&quot;")


def _mask_yaml_sequence(match: Any) -> str:
    if not is_credential_name(str(match.group(2)).strip("\"'")):
        return str(match.group(0))
    items = _SEQUENCE_ITEM.sub(lambda m: f"{m.group(1)}{MASK}", str(match.group(4)))
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{items}"


def _mask_sql_values(match: Any) -> str:
    """The values in the places of credential columns; the statement otherwise kept."""
    columns = [c.strip().strip('`"[]').lower() for c in str(match.group(1)).split(",")]
    secret_places = {i for i, column in enumerate(columns) if is_credential_name(column)}
    if not secret_places:
        return str(match.group(0))
    out, place = [], 0
    for token in _SQL_ITEM.findall(str(match.group(3))):
        if token == ",":
            place += 1
        elif place in secret_places and token.strip():
            token = MASK
        out.append(token)
    return f"({match.group(1)}){match.group(2)}{''.join(out)})"


# One JSON token at a time: a string (escapes inside, maybe cut) or a bracket.
_JSON_TOKEN = linear_re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def _opens_credential_structure(text: str, key: str, end: int) -> bool:
    """`key` (a JSON string token ending at `end`) names a credential, and `: [` or `: {`
    follows it."""
    rest = text[end : end + 80].lstrip()  # cut-ok: looked at, never shown
    return (
        rest.startswith(":")
        and rest[1:].lstrip()[:1] in ("[", "{")  # cut-ok: one character looked at
        and len(key) <= 2000
        and is_credential_name(_json_name(key[1:-1] if key.endswith('"') else key[1:]))
    )


def _mask_json_values(text: str) -> str:
    """Every string inside an object or array that a credential-named member opens (`"token":
    {"id": ...}`, `"refresh_tokens": [...]`) masked, keys kept, to its matching bracket or
    the end of a cut text. One pass over the text's tokens (RE2, linear), whatever the
    nesting."""
    first = next(
        (
            m.start()
            for m in _JSON_OPENING.finditer(text)
            if is_credential_name(_json_name(m.group(1)))
        ),
        None,
    )
    if first is None:  # the common case, a JSON bomb of `[{},{},...]` too: one cheap pass
        return text
    out: list[str] = []
    done = depth = 0
    opens = False  # the last string was a credential name before `: [` or `: {`
    for token in _JSON_TOKEN.finditer(text, first):
        at, end = token.span()
        piece = token.group(0)
        if depth:
            if piece[0] != '"':
                depth += 1 if piece in "[{" else -1
            elif not text[end : end + 40].lstrip().startswith(":"):  # cut-ok: looked at
                out += (text[done:at], f'"{MASK}"')  # cut-ok: rebuilding, every part kept
                done = end
            continue
        if piece[0] == '"':
            opens = _opens_credential_structure(text, piece, end)
            continue
        depth = 1 if opens and piece in "[{" else 0
        opens = False
    out.append(text[done:])  # cut-ok: the rest, kept
    return "".join(out)


def _mask_value_rest(match: Any) -> str:
    if not is_credential_name(str(match.group(1)).strip("\"'")):
        return str(match.group(0))
    return f"{match.group(1)}{match.group(2)}{MASK}{match.group(4)}"


def _mask_name_value(match: Any) -> str:
    value = str(match.group(4))
    if not value.strip("\"'") or not is_credential_name(str(match.group(2))):
        return str(match.group(0))
    quoted = value[0] if value[0] in "\"'`" else ""
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{quoted}{MASK}{quoted}"


def reads_as_credential_field(name: str) -> bool:
    """True when `name: value` is a credential shape the scrubber masks the rest of its line
    after (`Authorization: ...`, `signature: ...`): a message that names such a key must
    not write it so, or its own explanation is masked (`headers.Authorization: ***`)."""
    sample = f"line 1: endpoints[0].{name}: should be text"  # where a message names it
    return _scrub_shapes(sample) != sample


def _scrub_shapes(text: str) -> str:
    """Mask the credential shapes; each pattern only runs when its cheap hint is there."""
    lowered = text.lower()
    # JSON members first: a name written with an escape (`pass\\u0077ord`) is read whole
    # before a shape of text takes a piece of it for a name (round 17a)
    if '":' in text or '" :' in text or '"\t:' in text:
        text = _JSON_MEMBER.sub(_mask_json_member, text)
        if "\\" in text:
            text = _JSON_MEMBER_NAME_ESCAPED.sub(_mask_json_member, text)
        text = _mask_json_values(text)
        if '\\"' in text:
            text = _JSON_MEMBER_ESCAPED.sub(_mask_escaped_json_member, text)
    if "authorization" in lowered:
        text = _AUTH_HEADER.sub(_mask_auth_header, text)
    if "bearer" in lowered:
        text = _BEARER.sub(_mask_bearer, text)
    if any(hint in lowered for hint in _AWS_HINTS):
        text = _AWS_XML.sub(lambda m: f"{m.group(1)}{MASK}", text)
        text = _AWS_KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    if "eyJ" in text:
        text = _JWT.sub(MASK, text)
    if "PRIVATE KEY" in text:
        text = _PEM_PRIVATE_KEY.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    if "))" in text:
        text = _ASPNET_COOKIELESS.sub(lambda m: f"({m.group(1)}({MASK}))", text)
    if "=" in text and ("key" in lowered or "name" in lowered):
        text = _ATTR_NAMED.sub(_mask_attr_named, text)
    text = _NEAR_VALUE.sub(_mask_near_value, text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_mask_query_param, text)
        text = _NAME_VALUE.sub(_mask_name_value, text)
        if MASK in text:
            text = _NAME_VALUE_REST.sub(_mask_value_rest, text)
    if ":" in text:
        if "|" in text or ">" in text:
            text = _YAML_BLOCK.sub(_mask_yaml_block, text)
        if "-" in text:
            text = _YAML_SEQUENCE.sub(_mask_yaml_sequence, text)
        text = _COLON_VALUE.sub(_mask_colon_value, text)
        if MASK in text:
            text = _COLON_VALUE_REST.sub(_mask_value_rest, text)
    if "cookie" in lowered:
        text = _COOKIE_LINE.sub(_mask_cookie_line, text)
    if "<" in text and ">" in text:
        text = _XML_ELEMENT.sub(_mask_xml_element, text)
    if "&lt;" in text:
        text = _XML_ELEMENT_ESCAPED.sub(_mask_escaped_xml_element, text)
    if "&quot;" in text:
        text = _JSON_MEMBER_ENTITIES.sub(_mask_entity_json_member, text)
    if "values" in lowered and "(" in text:
        text = _SQL_VALUES.sub(_mask_sql_values, text)
    if "," in text and ('"' in text or "'" in text):
        text = _NAMED_VALUE_PAIR.sub(_mask_named_value_pair, text)
    if "%3d" in lowered:
        text = _ENCODED_PARAM.sub(_mask_encoded_param, text)
    # last: `password:Gm7!xK2@mP9` is a name and its value, masked whole above, before it
    # could read as a user `password` and the start of a password
    if "@" in text and ":" in text:
        text = _BARE_USERINFO.sub(_mask_bare_userinfo, text)
    return text


# -- finding the forms in a text, in linear time ---------------------------------------------

# Servers and libraries percent-encode in either case, even within one value (`%2F`, `%2f`):
# text and forms are both searched with every `%xx` upper-cased, which keeps every position.
_PERCENT = linear_re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT_LOWER = linear_re.compile(r"%(?:[0-9A-Fa-f][a-f]|[a-f][0-9A-Fa-f])")
# What a server may put between the characters of a secret without hiding it from a reader:
# a MIME base64 body wrapped at 76 columns, "Z q 7 K", UTF-16 read as UTF-8 ("Z\0q\07"),
# other controls, Unicode spaces, and the invisible characters a browser or terminal does
# not show (soft hyphen, zero-width characters, fillers, tag characters, variation
# selectors). The forms are searched once more in a normalised view of the text without
# them (see `_normalised`), and a match masks the whole stretch of the text it covers.
_GAP_CODES = [
    *range(0x00, 0x21),
    *range(0x7F, 0xA1),
    0x1680,
    *range(0x2000, 0x200B),
    0x202F,
    0x205F,
    0x3000,
]
# Invisible: default-ignorable format characters and fillers, deleted from the normalised
# view and shown as escapes by `escape_control`.
_INVISIBLE_CODES = [
    0x00AD,
    0x034F,
    0x061C,
    0x115F,
    0x1160,
    0x17B4,
    0x17B5,
    *range(0x180B, 0x1810),  # Mongolian free variation selectors, vowel separator (22a)
    *range(0x200B, 0x2010),
    *range(0x2028, 0x202F),
    *range(0x2060, 0x2070),
    0x3164,
    *range(0xFE00, 0xFE10),
    0xFEFF,
    0xFFA0,
    *range(0xFFF0, 0xFFF9),
    *range(0x1D173, 0x1D17B),
    *range(0xE0000, 0xE1000),  # tags, variation selectors, the unassigned ignorables (22a)
]
# The other format characters (Unicode category Cf: number signs, shorthand and hieroglyph
# format controls): shown as escapes like the invisible ones, so that every Cf character is
# (tests/unit/test_unsafe_text.py holds it to that), and gaps in the scrubber's view (round
# 18a: a token with U+FFF9 between its characters was shown, escapes and all, readable).
_OTHER_FORMAT_CODES = [
    *range(0x0600, 0x0606),
    0x06DD,
    0x070F,
    0x0890,
    0x0891,
    0x08E2,
    *range(0xFFF9, 0xFFFC),
    0x110BD,
    0x110CD,
    *range(0x13430, 0x13439),
    *range(0x1BCA0, 0x1BCA4),
]
# Combining marks (accents, overlays, enclosing keycaps, Hebrew points, Arabic harakat,
# kana voicing marks: Unicode's Mn and Me) after each character of a secret leave it
# readable: `Z\u0301q\u03017\u0301...` showed the token under accents (round 20's note),
# and marks outside the first five blocks looked for did too (round 22a). Every one is a
# gap, found once, when first needed (`_gap_chars`): the planes that hold marks, ~20 ms.
_MARK_PLANES = ((0x0000, 0x20000), (0xE0000, 0xE1000))
_GAP_CHARS = frozenset(map(chr, [*_GAP_CODES, *_INVISIBLE_CODES, *_OTHER_FORMAT_CODES]))


@functools.cache
def _gap_chars() -> frozenset[str]:
    """What the normalised view deletes: the gaps, the invisible and format characters,
    and every combining mark."""
    marks = (
        chr(code)
        for low, high in _MARK_PLANES
        for code in range(low, high)
        if unicodedata.category(chr(code)) in ("Mn", "Me")
    )
    return _GAP_CHARS | frozenset(marks)


# Characters that NFKC maps to one ASCII character (fullwidth `Ｚｋ９`, mathematical
# alphanumerics, circled and superscript digits): the normalised view reads them as that
# character, position for position. Looked for in these blocks only (NFKC of a few
# thousand characters, computed once, when first needed).
_NFKC_BLOCKS = (
    (0x00A0, 0x0250),
    (0x1D00, 0x2500),
    (0x3000, 0x3400),
    (0xFB00, 0xFFF0),
    (0x1D400, 0x1D800),
    (0x1F100, 0x1F200),
)


@functools.cache
def _fold_table() -> dict[int, int | None]:
    """The normalised view's translate table: gaps, invisible characters and combining marks
    deleted, NFKC's one-ASCII-character compatibility forms and accented letters folded to
    that character."""
    table: dict[int, int | None] = {}
    for low, high in _NFKC_BLOCKS:
        for code in range(low, high):
            folded = unicodedata.normalize("NFKC", chr(code))
            if not folded.isascii():  # a letter with its accent composed in (`Ź`): the letter
                decomposed = unicodedata.normalize("NFKD", chr(code))
                folded = "".join(c for c in decomposed if not unicodedata.combining(c))
            if len(folded) == 1 and folded.isascii() and folded.isprintable() and folded != " ":
                table[code] = ord(folded)
    # letters of other scripts drawn as Latin ones (Unicode's confusables, the plainest): a
    # token echoed with six Cyrillic letters in it read as the token and was shown (round
    # 44a F2)
    table.update({ord(look): ord(latin) for look, latin in _LOOK_ALIKES.items()})
    for code in range(0x1D00, 0x1D2C):  # `ᴢ`: LATIN LETTER SMALL CAPITAL Z
        name = unicodedata.name(chr(code), "")
        if name.startswith("LATIN LETTER SMALL CAPITAL ") and len(name) == 28:
            table[code] = ord(name[-1].lower())
    table.update(dict.fromkeys(map(ord, _gap_chars())))
    return table


_LOOK_ALIKES = dict(
    zip(
        "АВЕКМНОРСТХУЅІЈҮԚԜЬаеорсухѕіјԁԛԝһь"  # Cyrillic
        "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοικνρυ"  # Greek
        "ᎡᏞᎢᎪᏴᏟᎬᎻᏦᎷᏢᏚᏙᏔᏃ",  # Cherokee
        "ABEKMHOPCTXYSIJYQWbaeopcyxsijdqwhbABEZHIKMNOPTYXoikvpuRLTABCEHKMPSVWZ",
        strict=True,
    )
)


@functools.cache
def _spread_fold_tables() -> tuple[dict[int, int | None], ...]:
    """`_fold_table` read three more ways, each character it folds to an ASCII letter or
    digit made a separator instead: all of them; those of the Latin blocks (`é`, `²`, `ª`);
    the others (fullwidth, mathematical, look-alike letters). A token echoed spread over `é`
    or `²` was read as `K e x e 7` in the folded view (round 43a F4), and one in fullwidth
    letters spread over `é` in no reading of two (round 44a F1). Each the folded view's
    length, character for character, so its positions are the view's."""
    folded = _fold_table()

    def separators(chosen: Callable[[int], bool]) -> dict[int, int | None]:
        return {
            code: ord("/") if to is not None and chr(to).isalnum() and chosen(code) else to
            for code, to in folded.items()
        }

    def latin(code: int) -> bool:
        return code < 0x0250

    return (
        separators(lambda code: True),
        separators(latin),
        separators(lambda code: not latin(code)),
    )


# Escapes of one character each, decoded in the normalised view, so that a secret of which
# any subset of characters is escaped (.NET's System.Text.Json writes `+` as `\u002B` and
# leaves the rest) is found whole. Leftmost-first: a three-digit octal byte before a CSS
# escape, unless that is zero-padded to six digits (`\00005a`; `\053428` is `+428`).
_ESCAPE = linear_re.compile(
    r"\\[uU][dD][89abAB][0-9A-Fa-f]{2}\\[uU][dD][c-fC-F][0-9A-Fa-f]{2}"  # surrogate pair
    r"|\\U[0-9A-Fa-f]{8}"  # Python
    r"|\\[uU][0-9A-Fa-f]{4}"  # JSON, JavaScript, Java, C#
    r"|\\u\{[0-9A-Fa-f]{1,6}\}"  # JavaScript, Rust, Swift
    r"|\\x[0-9A-Fa-f]{2}"  # a byte: C, Python bytes, a JavaScript code unit
    r"|\\00[0-9A-Fa-f]{4} ?"  # CSS, zero-padded to six digits
    r"|\\[0-3][0-7]{2}"  # a byte in octal: C, shells, PostgreSQL
    r"|\\[0-9A-Fa-f]{1,6} ?"  # CSS
    r"|&#[xX][0-9A-Fa-f]{1,8};?"  # HTML, XML, zero-padded or not
    r"|&#[0-9]{1,10};?"
    r"|&[A-Za-z][A-Za-z0-9]{1,31};"  # named HTML entities
    r"|%[0-9A-Fa-f]{2}"  # a percent-encoded byte
)
# Runs of escapes of one width (every byte as `\xHH`, `%HH` or octal, every character as
# `\uXXXX`) are one match each, decoded at once: a megabyte of escapes is a few thousand
# matches, not hundreds of thousands.
_ESCAPE_RUNS = linear_re.compile(
    r"\\U[0-9A-Fa-f]{8}"
    r"|(?:\\[uU][0-9A-Fa-f]{4})+"
    r"|(?:\\x[0-9A-Fa-f]{2})+"
    r"|(?:%[0-9A-Fa-f]{2})+"
    r"|(?:\\00[0-9A-Fa-f]{4} ?)+"
    r"|(?:\\[0-3][0-7]{2})+"
    r"|(?:&#[xX][0-9A-Fa-f]{1,8};|&#[0-9]{1,10};|&[A-Za-z][A-Za-z0-9]{1,31};)+"
    r"|(?:\\[0-9A-Fa-f]{1,6} ?)+|" + _ESCAPE.pattern
)
# Every HTML5 named entity that stands for one character (`&shy;`, `&ZeroWidthSpace;`,
# `&InvisibleTimes;` are gaps in the view like the characters themselves: PHP's
# htmlentities() writes them); the ASCII punctuation names as ASCII, where HTML5 would give
# a typographic look-alike (`&dash;` is U+2010 there).
_NAMED_ENTITIES = {
    name[:-1]: value for name, value in html5.items() if name.endswith(";") and len(value) == 1
} | {
    "amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "plus": "+", "sol": "/",
    "bsol": "\\", "excl": "!", "num": "#", "dollar": "$", "percnt": "%", "lpar": "(",
    "rpar": ")", "ast": "*", "midast": "*", "comma": ",", "period": ".", "colon": ":",
    "semi": ";", "equals": "=", "quest": "?", "commat": "@", "lsqb": "[", "lbrack": "[",
    "rsqb": "]", "rbrack": "]", "lowbar": "_", "grave": "`", "lcub": "{", "lbrace": "{",
    "rcub": "}", "rbrace": "}", "verbar": "|", "vert": "|", "tilde": "~", "Hat": "^",
    "hyphen": "-", "dash": "-", "nbsp": "\xa0",
}  # fmt: skip


_OCTAL = frozenset("01234567")


@functools.lru_cache(maxsize=4096)
def _decode_escape(escape: str) -> str | None:
    """The character one `_ESCAPE` match stands for; None for no character (an unknown
    entity, a code point out of range or a lone surrogate: kept as it is)."""
    first = escape[0]
    if first == "%":
        code = int(escape[1:], 16)
    elif first == "&":
        if escape[1] != "#":
            return _NAMED_ENTITIES.get(escape[1:-1])
        digits = escape[2:].rstrip(";")
        code = int(digits[1:], 16) if digits[0] in "xX" else int(digits)
    else:
        kind = escape[1]
        if len(escape) == 12 and kind in "uU":  # a surrogate pair
            high, low = int(escape[2:6], 16), int(escape[8:12], 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if kind in "uUx":
            code = int(escape[2:].strip("{}"), 16)
        elif len(escape) == 4 and kind in "0123" and _OCTAL.issuperset(escape[2:]):
            code = int(escape[1:], 8)
        else:
            code = int(escape[1:].rstrip(" "), 16)
    if code > 0x10FFFF or 0xD800 <= code < 0xE000:
        return None
    return chr(code)


def _decode_run(run: str) -> tuple[str, int] | list[tuple[str, int]] | None:
    """The characters a `_ESCAPE_RUNS` match stands for and the width of the escape of each
    (one width for all, or a character and its width for each escape); None when they are
    not one run of escapes (they are then decoded one `_ESCAPE` at a time)."""
    size = len(run)
    try:
        if run[0] == "%":
            return bytes.fromhex(run.replace("%", "")).decode("latin-1"), 3
        if run[:2] == "\\x":
            return bytes.fromhex(run.replace("\\x", "")).decode("latin-1"), 4
        if run[0] == "\\" and run[1] in "uU" and size % 6 == 0 and run[2] != "{":
            units = run.replace("\\u", "0000").replace("\\U", "0000")
            decoded = bytes.fromhex(units).decode("utf-32-be", "surrogatepass")
            decoded.encode("utf-8")  # a surrogate (a pair, or a lone one) raises
            return decoded, 6
        if size % 4 == 0 and size > 4 and run[1] in "0123" and _OCTAL.issuperset(run[2:4]):
            return bytes(int(run[i + 1 : i + 4], 8) for i in range(0, size, 4)).decode(
                "latin-1"
            ), 4  # cut-ok: the digits of one escape
        if run[0] == "&" and run.count(";") > 1:  # entities: split at their `;`
            units = [f"{unit};" for unit in run[:-1].split(";")]
        elif run[0] == "\\" and run.count("\\") > 1:  # CSS escapes: at their `\`
            units = [f"\\{unit}" for unit in run[1:].split("\\")]
        else:
            units = []
    except (ValueError, UnicodeError):
        return None
    if units:  # an escape standing for no character (`&copy;`) is kept: an empty one
        return [(_decode_escape(unit) or "", len(unit)) for unit in units]
    char = _decode_escape(run)
    return (char, size) if char is not None else ("", 0)


class _View:
    """The normalised view of a text, and the way back: every one-character escape decoded
    (`_ESCAPE`), then gaps and invisible characters deleted and compatibility characters
    folded (`_fold_table`). A stretch of the view maps back to the stretch of the text it
    was made of, escapes and gaps included. Built in time linear in the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        # the decoded text; for each run of decoded characters, where it starts in it, where
        # its escapes start in the text, the width of each escape and how many there are
        self.where: list[int] = []
        self.starts: list[int] = []
        self.widths: list[int] = []
        self.counts: list[int] = []
        decoded = text
        if "\\" in text or "&" in text or "%" in text:
            parts: list[str] = []
            self._last = self._size = 0
            for match in _ESCAPE_RUNS.finditer(text):
                start, end = match.span()
                run = _decode_run(match.group())
                if run is None:  # not of one width: one escape at a time
                    for single in _ESCAPE.finditer(text, start, end):
                        char = _decode_escape(single.group())
                        if char is not None:
                            self._add(parts, single.start(), char, single.end() - single.start())
                elif isinstance(run, list):
                    for char, width in run:
                        if char:
                            self._add(parts, start, char, width)
                        start += width
                elif run[0]:
                    self._add(parts, start, *run)
            if self.where:
                parts.append(text[self._last :])  # cut-ok: the rest after the last escape
                decoded = "".join(parts)
        self.decoded = decoded
        table = _fold_table()
        self.view = decoded.translate(table)
        self.changed = bool(self.where) or self.view != decoded
        self._before: list[int] | None = None

    def _decoded_index(self, index: int) -> int:
        """Where the `index`-th character of the view stands in the decoded text."""
        decoded = self.decoded
        if len(self.view) == len(decoded):
            return index
        table = _fold_table()
        block = _GAP_BLOCK
        if self._before is None:
            before = [0]  # characters of the view before each block of the decoded text
            for start in range(0, len(decoded), block):
                piece = decoded[start : start + block]  # cut-ok: counted, never output
                before.append(before[-1] + len(piece.translate(table)))
            self._before = before
        number = bisect.bisect_right(self._before, index) - 1
        count, position = self._before[number], number * block
        gaps = _gap_chars()
        while decoded[position] in gaps or count < index:
            count += decoded[position] not in gaps
            position += 1
        return position

    def _add(self, parts: list[str], start: int, chars: str, width: int) -> None:
        """Decoded `chars`, each from an escape `width` long, the first at `start`."""
        if start > self._last:
            parts.append(self.text[self._last : start])  # cut-ok: between escapes, never output
            self._size += start - self._last
        self.where.append(self._size)
        self.starts.append(start)
        self.widths.append(width)
        self.counts.append(len(chars))
        parts.append(chars)
        self._size += len(chars)
        self._last = start + width * len(chars)

    def _span(self, index: int) -> tuple[int, int]:
        """The stretch of the text that the `index`-th character of the decoded text was."""
        number = bisect.bisect_right(self.where, index) - 1
        if number < 0:
            return index, index + 1
        offset = index - self.where[number]
        width, count = self.widths[number], self.counts[number]
        start = self.starts[number]
        if offset < count:
            return start + offset * width, start + (offset + 1) * width
        start += count * width + offset - count
        return start, start + 1

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The stretch of the text that the view's `start:end` was made of."""
        first = self._span(self._decoded_index(start))[0]
        last = self._span(self._decoded_index(end - 1))[1]
        return first, last


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# the text is indexed in blocks of this many characters to map a match back from the text
# without gaps to the text itself
_GAP_BLOCK = 256
# A form up to this long is one branch of an RE2 alternation; a longer one is searched for
# with `str.find` (two-way, linear). One alternation over many long forms outgrows the
# memory RE2's DFA may use, and RE2 then falls back to a simulation that is linear with a
# factor of the pattern's size: 5 s per scrub for a 16 000-character token of slashes,
# minutes for a 64 KB one (issue 10, attack round 1, H3).
_SHORT_FORM_CHARS = 512
_PATTERN_CHUNK_CHARS = 64 * 1024
# A fragment of a secret (a run of at least MIN_SECRET_CHARS characters of one of its forms)
# is masked where text that something else cut is quoted; the index of such runs is kept
# to this many entries (the forms of a few very long secrets would need millions).
_FRAGMENT_INDEX_MAX = 1 << 19


def _percent_upper(text: str) -> str:
    """`text` with every `%xx` escape upper-cased; same length, same positions."""
    if "%" not in text or not _PERCENT_LOWER.search(text):
        return text
    head, *parts = text.split("%")
    return "%".join(
        [head]
        + [
            p[:2].upper() + p[2:]
            if len(p) >= 2 and _HEX_DIGITS.issuperset(p[:2])
            else p  # cut-ok: the two digits of an escape
            for p in parts
        ]
    )


def _period(form: str) -> int:
    """The smallest period of `form` (its length when it has none): `////` has 1."""
    border = [0] * len(form)
    k = 0
    for i in range(1, len(form)):
        while k and form[i] != form[k]:
            k = border[k - 1]
        if form[i] == form[k]:
            k += 1
        border[i] = k
    return len(form) - (border[-1] if form else 0)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


# The escapes the report writers make: character references (XML, HTML) and JSON's
# backslash escapes, one written inside an HTML attribute as `\&#34;`. Read left to right
# (`\\` is one escape, so the next backslash starts its own).
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_WRITER_ESCAPE = linear_re.compile(rf"(?s){_ENTITY}|\\(?:u[0-9a-fA-F]{{4}}|{_ENTITY}|.)")


def _fitted_to_escapes(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans` fitted to the escapes of a file its writers escaped (report.html's JSON in
    an HTML attribute, junit.xml's attributes), so that no mask cuts one. A match starting
    inside an escape is not the secret's text (what the escape stands for comes before it)
    and is dropped: a CI variable starting with the tail of `&#34;` masked half of it,
    report.html's data no longer parsed and the page showed no case; one starting with the
    tail of `&#10;` made junit.xml no XML. A match ending inside one takes it whole: a value
    ending in a backslash masked the first of JSON's two before `u003c`, and JSON read an
    `<img onerror>` that ran in the page (round 40a F3-F5)."""
    if not spans:
        return spans
    starts: list[int] = []
    ends: list[int] = []
    for match in _WRITER_ESCAPE.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    fitted: list[tuple[int, int]] = []
    for start, end in spans:
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and starts[i] < start < ends[i]:
            continue
        j = bisect.bisect_right(starts, end - 1) - 1
        if j >= 0 and starts[j] < end < ends[j]:
            end = ends[j]
        fitted.append((start, end))
    return fitted


def _masked(text: str, spans: list[tuple[int, int]], mask: str) -> str:
    return _replaced(text, spans, lambda _: mask)


def _starred(text: str, stretches: list[tuple[int, int]]) -> str:
    """`text` with every character of each stretch made `*`: its length and every other
    character kept, so that no markup around them changes."""
    return _replaced(text, stretches, lambda size: "*" * size)


def _replaced(text: str, spans: list[tuple[int, int]], fill: Callable[[int], str]) -> str:
    """`text` with each stretch of `spans` (merged first) made `fill(its length)`."""
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in _merged(spans):
        parts += (text[last:start], fill(end - start))  # cut-ok: the text between stretches
        last = end
    parts.append(text[last:])  # cut-ok: the rest after the last stretch
    return "".join(parts)


# A secret spread over separators, found in a file: its whole stretch, and the stretch each
# of its characters stands in (one character, or the escape it was written as)
Spread = tuple[tuple[int, int], list[tuple[int, int]]]

# Markup in XML and HTML files: an XML declaration or processing instruction whole; a tag
# from `<` to `>` (its quoted attribute values are text); a member name of the JSON that
# report.html keeps HTML-escaped in an attribute (`&#34;tests&#34;:`; one after a
# backslash is a server's text quoted inside a string); a character reference
_MARKUP_PART = linear_re.compile(
    r"<\?[^>]{0,1000}\?>"
    r"|<[!?/]?[A-Za-z][^\s/>]*"
    r"|\\?&#34;[A-Za-z_][A-Za-z0-9_]{0,63}&#34;:"
    r"|&#?[A-Za-z0-9]{1,32};"
)
_TAG_REST = linear_re.compile(r"\s+[^\s=/>]+\s*=?\s*|/?>")
_TAG_WINDOW = 4096  # how far one step of a tag (an attribute's name, its end) is looked for


# What the writers themselves put in a file, never a server's text (which every writer
# escapes): the values of these attributes, junit.xml's property names and the values of
# the properties that are smokegate's own facts (the gate's verdict and threshold, a case's
# check, target, severity and standing), and the bodies of these elements (report.html's
# own script and style). Starred, a late secret spelled like them (`datacontainer`)
# emptied report.html or took junit.xml's gate verdict (round 54d G1). A property such as
# `why` or `measured` quotes a case's text, a server's: searched as all text is (55a F1)
_WRITERS_ATTRIBUTES = frozenset({"id", "class"})
_WRITERS_PROPERTIES = frozenset(
    {"gate", "fail_on", "fail_on_said", "env", "env_digest", "mocked", "partial", "splits",
     "group", "split_cases", "coverage", "check", "target", "severity", "kind", "unverified"}
)  # fmt: skip
_WRITERS_BODIES = frozenset({"script", "style"})


def _outside_markup(text: str, spreads: list[Spread]) -> list[tuple[int, int]]:
    """The characters of the spreads whose whole stretch overlaps no markup of `text`: a
    tag's name, an attribute's name, the `<`, `=` and `>` around them, a character
    reference, or what the writers put there themselves (`_WRITERS_ATTRIBUTES`, ...).
    Starred there, a secret's letters would break the file a CI system parses. A spread
    that crosses markup is kept whole: only a value made to be spelled like the markup
    around it crosses it (a hostile token endpoint's), and starring the part outside took
    the writers' own values with it (round 54d G1)."""
    if not spreads:
        return []
    structure: list[tuple[int, int]] = []
    references: list[tuple[int, int]] = []
    for match in _MARKUP_PART.finditer(text):
        part = match.group(0)
        if part.startswith("\\"):
            continue  # a member name inside a quoted string: a server's text
        if part.startswith("&") and not part.startswith("&#34;"):
            references.append(match.span())  # an escape: a spread runs across it
            continue
        structure.append(match.span())
        if part.startswith("<") and not part.startswith(("<?", "<!")):
            structure.extend(_tag_names(text, match.end(), part[1:].lower()))
    structure = _merged(structure)
    markup = _merged(structure + references)
    return [
        character
        for whole, characters in spreads
        if _clear_of(structure, whole)
        for character in characters
        if _clear_of(markup, character)
    ]


def _clear_of(markup: list[tuple[int, int]], stretch: tuple[int, int]) -> bool:
    """True when `stretch` overlaps none of `markup` (sorted stretches, merged)."""
    start, end = stretch
    index = bisect.bisect_right(markup, (start, math.inf)) - 1  # the last one from here
    before = markup[index] if index >= 0 else (0, 0)
    after = markup[index + 1] if index + 1 < len(markup) else (end, end)
    return before[1] <= start and end <= after[0]


def _tag_names(text: str, position: int, tag: str) -> list[tuple[int, int]]:
    """From just after a tag's name: its attributes' names and the tag's end, skipping the
    quoted values (text, searched like the rest) but those the writers put there
    themselves; and the body of an element of the writers' own (`_WRITERS_BODIES`)."""
    found = []
    property_name = ""
    while True:
        # matched in a window of its own, not at a position of the whole file: RE2's wrapper
        # encodes the text it is given at every call, and a whole report.html at each
        # attribute of each tag took minutes (review 55). A writer's own tag is short.
        window = text[position : position + _TAG_WINDOW]  # cut-ok: looked at, never output
        match = _TAG_REST.match(window)
        if match is None:
            return found
        found.append((position + match.start(), position + match.end()))
        position += match.end()
        if match.group(0).endswith(">"):
            if tag in _WRITERS_BODIES and not match.group(0).startswith("/"):
                # the writers' own end tag, as they write it (lower-cased, a text's length
                # may change: `İ`)
                closing = text.find(f"</{tag}", position)
                found.append((position, len(text) if closing == -1 else closing))
            return found
        name = match.group(0).strip().rstrip("=").strip().lower()
        quote = text[position : position + 1]  # cut-ok: one character looked at, never output
        if quote in {'"', "'"}:
            closing = text.find(quote, position + 1)
            if closing == -1:
                return found
            value = (position, closing + 1)
            if tag == "property" and name == "name":
                property_name = text[position + 1 : closing]  # cut-ok: compared, never output
                found.append(value)
            elif name in _WRITERS_ATTRIBUTES or (
                tag == "property" and name == "value" and property_name in _WRITERS_PROPERTIES
            ):
                found.append(value)
            position = closing + 1


class _Literals:
    """Every form of every secret, found in a text in time linear in the text.

    Matches are collected as spans over the text, merged, and each stretch is masked whole:
    forms that overlap (one secret inside another) or repeat (a token echoed back to back,
    a token that is itself periodic) leave nothing of themselves visible between masks.
    """

    def __init__(
        self,
        forms: Iterable[str],
        blind: Iterable[str] = (),
        *,
        normalise: bool = True,
        first: Iterable[str] = (),
        given: frozenset[str] = frozenset(),
        spread: Iterable[str] = (),
    ) -> None:
        ordered = sorted({_percent_upper(f) for f in forms}, key=len, reverse=True)
        # the letters and digits of the secrets a target was sent, each way round: found in
        # a text's letters and digits with anything between them (`_spread_spans`)
        spread_forms = {f for f in spread if len(f) >= _SPREAD_MIN_CHARS}
        self.spread = _Literals(spread_forms, normalise=False) if spread_forms else None
        self.forms = ordered
        # forms whose pieces are indexed before any other's (the env's and smokegate's own
        # secrets: round 20, a server's 2 048 short values pushed a token out of the index)
        self.first = frozenset(_percent_upper(f) for f in first)
        self.long = [f for f in ordered if len(f) > _SHORT_FORM_CHARS]
        # the long forms' heads, one pass over a text: a text holding none of them holds no
        # long form, and the loop of one `str.find` per form (hundreds with twenty accounts'
        # STS credentials, each scrub of every case's report) is skipped
        self.long_heads = _alternations(sorted({_head(f) for f in self.long}))
        self.patterns = _alternations(ordered)
        # forms searched whatever the case of their letters (`case_blind`): RE2's (?i) maps
        # a character to a character, so positions hold; a long one is searched with
        # `str.find` in the text lower-cased where that keeps every position
        blind_forms = sorted(set(blind), key=len, reverse=True)
        self.blind_patterns = _alternations(blind_forms, "(?i)")
        self.blind_long = [f.lower() for f in blind_forms if len(f) > _SHORT_FORM_CHARS]
        self.blind_long_heads = _alternations(sorted({_head(f) for f in self.blind_long}))
        self._periods: dict[str, int] = {}
        self._grams: frozenset[str] | None = None
        self._blind_grams: frozenset[str] | None = None
        # the forms as they read in the normalised view of a text (`_View`)
        self.normal: _Literals | None = None
        if normalise and ordered:
            # a form's view that is no secret as given is derived text: `%3Cfailure`'s view
            # `<failure` masked junit.xml's markup in its view, and a failing case read as
            # passed (round 33a); such a view is searched only when it may be masked
            views = {f: _View(f).view for f in (*ordered, *blind_forms)}
            derived = {v for f, v in views.items() if v != f and v not in given}
            prime_encoded_forms(v.strip() for v in derived)
            unsafe = {v for v in derived if not masks_safely(v)}
            normal = {views[f] for f in ordered} - unsafe
            normal_blind = {views[f] for f in blind_forms} - unsafe
            self.normal = _Literals(
                (f for f in normal if len(f) >= MIN_SECRET_CHARS),
                (f for f in normal_blind if len(f) >= MIN_SECRET_CHARS),
                normalise=False,
                first=(_View(f).view for f in self.first),
            )
        self.blind_forms = blind_forms

    def _extend(self, view: str, form: str, end: int) -> int:
        """Past `end`, the form's occurrences that overlap this one (a periodic form)."""
        period = self._periods.get(form)
        if period is None:
            period = self._periods.setdefault(form, _period(form))
        if period < len(form):
            tail = form[len(form) - period :]  # cut-ok: a part of our own form, never output
            while view.startswith(tail, end):
                end += period
        return end

    def _spans(self, view: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for pattern in self.patterns:
            covered = 0  # where the last match, extended over its repeats, ended
            for match in pattern.finditer(view):
                start, end = match.start(), match.end()
                if end <= covered:
                    # inside a run already extended: extending it again walked the rest of
                    # the run at every match, quadratic for `ZZZZZZZZ` repeated (42a F4)
                    continue
                covered = self._extend(view, match.group(0), end)
                spans.append((start, covered))
        long_forms = self.long if _holds_a_head(view, self.long_heads) else ()
        for form in long_forms:
            if len(form) > len(view):
                continue
            found = view.find(form)
            while found != -1:
                end = self._extend(view, form, found + len(form))
                spans.append((found, end))
                found = view.find(form, max(found + 1, end - len(form) + 1))
        for pattern in self.blind_patterns:
            spans.extend(match.span() for match in pattern.finditer(view))
        if self.blind_long:
            lowered = view.lower()
            if len(lowered) != len(view):  # a character lower-cased into two: ASCII only
                lowered = view.translate(_ASCII_LOWER)
            held = _holds_a_head(lowered, self.blind_long_heads)
            for form in self.blind_long if held else ():
                found = lowered.find(form)
                while found != -1:
                    # over its repeats at once, as above: one search per occurrence of a
                    # periodic key (`a1` x 8 000) echoed back to back took 50 s (54b F1)
                    end = self._extend(lowered, form, found + len(form))
                    spans.append((found, end))
                    found = lowered.find(form, max(found + 1, end - len(form) + 1))
        return spans

    def _normalised_spans(self, text: str, *, spread: bool = True) -> list[tuple[int, int]]:
        """Forms found in the normalised view of the text (escapes decoded, gaps and
        invisible characters gone, compatibility characters folded), mapped back to the
        stretch of the text they cover; and secrets spread over separators there."""
        spread = spread and self.spread is not None
        if self.normal is None and not spread:
            return []
        view = _View(text)
        found = self._spread_spans(view) if spread else []
        if self.normal is None or not view.changed:
            return found
        return found + [view.original(s, e) for s, e in self.normal._spans(view.view)]

    def _spread_spans(self, view: _View, *, each: bool = False) -> list[Any]:
        """A secret a target was sent, spread over ASCII separators of any kind and number:
        its letters and digits, in order or reversed, in the view with its ASCII blanks and
        punctuation dropped (any other character, a NUL's stand-in or a letter of another
        script, ends a spread). A hostile target echoed the token it was sent in a header
        as `K/x/7/Q/...`, `K+x+7+...` or reversed with `-` between: no form of the list,
        and the failure quoted it whole in every report (round 41a F1). Positions are
        worked out only for a text that holds one."""
        if self.spread is None:
            return []
        found = self._spread_spans_in(view, view.view, each=each)
        if view.changed:
            # and the text as it is: a backslash between the characters (`Lt\Tk\7f\3a`)
            # read as escapes (`\7f`, `\3a`) hid the spread in the view (round 54c F4)
            found += self._spread_spans_in(_AS_IS, view.text, each=each)
        if not view.decoded.isascii():
            # a character folded to a letter may be a separator (`é`) as well as a letter of
            # the secret (a fullwidth `Ｋ`): each reading is searched
            for table in _spread_fold_tables():
                separated = view.decoded.translate(table)
                if separated != view.view:
                    found += self._spread_spans_in(view, separated, each=each)
        return found

    def _spread_spans_in(self, view: _View, text: str, *, each: bool = False) -> list[Any]:
        """Spreads found in `text`, a reading of the view of the same length, as stretches;
        `each`: as `Spread`s, each stretch with where each of its characters came from."""
        found = self.spread._spans(_spread_letters(text)) if self.spread is not None else []
        if not found:
            return []
        # where each block of the view starts among the kept characters: small blocks, as
        # a text of the secret back to back has a match every few dozen characters
        block = 32
        before = [0]
        for start in range(0, len(text), block):
            piece = text[start : start + block]  # cut-ok: counted, never output
            before.append(before[-1] + len(_spread_letters(piece)))

        def in_view(index: int) -> int:
            number = bisect.bisect_right(before, index) - 1
            count, position = before[number], number * block
            while not _spread_kept(text[position]) or count < index:
                count += _spread_kept(text[position])
                position += 1
            return position

        if each:
            return [
                (
                    view.original(in_view(start), in_view(end - 1) + 1),
                    [view.original(p, p + 1) for p in map(in_view, range(start, end))],
                )
                for start, end in found
            ]
        return [view.original(in_view(start), in_view(end - 1) + 1) for start, end in found]

    def spread_characters(self, text: str) -> list[Spread]:
        """Each secret spread over separators in `text`: its whole stretch, and where each
        of its characters stands (one character, or the escape it was written as), for a
        whole file whose markup a stretch may cross (`fitted_spans`). Read with the writers'
        own escaping undone too: a server's `&amp;` between the characters is `&amp;amp;`
        in the file (round 54c F1)."""
        if self.spread is None:
            return []
        found = []
        for views in _readings(text):
            found += [
                (_back(views, whole), [_back(views, span) for span in characters])
                for whole, characters in self._spread_spans(views[-1], each=True)
            ]
        return found

    def escaped_spans(self, text: str) -> list[tuple[int, int]]:
        """The forms found in `text` read with its writers' escaping undone, one level or
        two, beyond the one `fitted_spans` reads: a server's `&#102;` is `&amp;#102;` in a
        file, and `&amp;amp;#102;` in report.html's table (round 54c F1)."""
        if self.normal is None:
            return []
        found = []
        for views in _readings(text)[1:]:
            inner = views[-1]
            found += [_back(views, inner.original(s, e)) for s, e in self.normal._spans(inner.view)]
        return found

    def spans(self, text: str) -> list[tuple[int, int]]:
        view = _percent_upper(text)
        return _merged(self._spans(view) + self._normalised_spans(text))

    def fitted_spans(self, text: str) -> list[tuple[int, int]]:
        """As `spans`, for a file its writers escaped (`_fitted_to_escapes`), and without
        spreads: every text came into the file scrubbed, spreads too, and one searched
        across the file's own markup and JSON masked from inside `"extras"` to `"Failed"`,
        and the page showed no case (round 42a F5)."""
        found = self._spans(_percent_upper(text)) + self._normalised_spans(text, spread=False)
        return _merged(_fitted_to_escapes(text, found))

    def sub(self, mask: str, text: str) -> str:
        return _masked(text, self.spans(text), mask)

    def search(self, text: str) -> bool:
        return bool(self.spans(text))

    def grams(self) -> frozenset[str]:
        """Every run of MIN_SECRET_CHARS characters inside a form, up to the index's bound
        (the raw values' first: they are the forms first among the shortest)."""
        if self._grams is None:
            ordered = sorted(self.forms, key=lambda f: (f not in self.first, len(f)))
            self._grams = frozenset(_windows_of(ordered, _FRAGMENT_INDEX_MAX))
        return self._grams

    def blind_grams(self) -> frozenset[str]:
        """The runs of MIN_SECRET_CHARS characters of the case-blind forms, lower-cased, that
        hold a digit: a run of letters only is a word as often as a piece (`readonly` of a
        token `readonly-smoke-token-1` hit `SG_READONLY_TOKEN` in smokegate's own words)."""
        if self._blind_grams is None:
            size = MIN_SECRET_CHARS
            runs = (
                form.lower()[i : i + size]  # cut-ok: our own forms
                for form in self.blind_forms
                for i in range(len(form) - size + 1)
            )
            self._blind_grams = frozenset(r for r in runs if any(c.isdigit() for c in r))
        return self._blind_grams

    def mask_fragments(self, text: str, mask: str) -> str:
        """Every run of text whose every MIN_SECRET_CHARS-character window is part of a
        form, masked: what is left of a secret that something else cut."""
        size = MIN_SECRET_CHARS
        grams = self.grams()
        if len(text) < size or not grams:
            return text
        view = _percent_upper(text)
        spans = _windows_in(view, grams)
        if self.blind_forms:
            # a piece of a case-blind value in the other case (round 20: 20 hex digits of a
            # key, upper-cased, were shown where the whole key upper-cased was masked)
            lowered = (
                view.lower() if len(view.lower()) == len(view) else view.translate(_ASCII_LOWER)
            )
            spans += _windows_in(lowered, self.blind_grams())
        if self.normal is not None:
            # in the normalised view too: a piece spread over gaps (`Z q 7 x K 2 m P`) or
            # escaped in part (`Zq7x\u004b2mP`) read as what it is (round 19a)
            normal = _View(text)
            if normal.changed:
                found = _windows_in(normal.view, self.normal.grams())
                spans += [normal.original(start, end) for start, end in found]
        return _masked(text, spans, mask)


def _windows_of(forms: Iterable[str], bound: int) -> set[str]:
    """Every run of MIN_SECRET_CHARS characters of `forms`, taken in their order while the
    set stays within `bound` (a form that would pass it ends the taking)."""
    size = MIN_SECRET_CHARS
    windows: set[str] = set()
    for form in forms:
        if len(windows) + len(form) > bound:
            break
        windows.update(form[i : i + size] for i in range(len(form) - size + 1))  # cut-ok: ours
    return windows


def _windows_in(view: str, grams: frozenset[str]) -> list[tuple[int, int]]:
    """The MIN_SECRET_CHARS-character windows of `view` that are runs of a form."""
    size = MIN_SECRET_CHARS
    if not grams:
        return []
    return [
        (i, i + size)
        for i in range(len(view) - size + 1)
        if view[i : i + size] in grams  # cut-ok: a window looked up, never output
    ]


# Scrubbed texts remembered per set of secrets (`Scrubber._scrub_with`): texts up to this
# long, this many (forgotten all at once when full)
_SCRUB_MEMO_CHARS = 512
_SCRUB_MEMO_ENTRIES = 1 << 15
# A long form's head: searched first, in one RE2 pass for all of them (`_holds_a_head`)
_HEAD_CHARS = 64


def _head(form: str) -> str:
    return form[:_HEAD_CHARS]  # cut-ok: a part of our own form, a search key, never output


def _holds_a_head(text: str, heads: list[Any]) -> bool:
    """Whether `text` holds the head of a long form: it holds none of them otherwise."""
    return any(pattern.search(text) for pattern in heads)


def _alternations(forms: list[str], flags: str = "") -> list[Any]:
    """`forms` up to _SHORT_FORM_CHARS long, as RE2 alternations of a bounded size each,
    in the order given (longest first: RE2 is leftmost-first)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for form in (f for f in forms if len(f) <= _SHORT_FORM_CHARS):
        fragment = linear_re.escape(form)
        if chunks[-1] and size + len(fragment) > _PATTERN_CHUNK_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(fragment)
        size += len(fragment)
    return [linear_re.compile(flags + "|".join(chunk)) for chunk in chunks if chunk]


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _literal_pattern(
    forms: Iterable[str],
    blind: Iterable[str] = (),
    first: Iterable[str] = (),
    given: frozenset[str] = frozenset(),
    spread: Iterable[str] = (),
) -> _Literals | None:
    literals = _Literals(forms, blind, first=first, given=given, spread=spread)
    return literals if literals.forms else None


# A secret's letters and digits are searched spread over separators when there are as many
# as a secret has characters at least (round 42a F2: 12 let a 10-character token through)
_SPREAD_MIN_CHARS = MIN_SECRET_CHARS
# ASCII blanks and punctuation: dropped from a text's view when spreads are searched
_SEPARATOR_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F) if not chr(c).isalnum()) | frozenset(
    "\t\r\n"
)
_SPREAD_SEPARATORS = {ord(c): None for c in _SEPARATOR_CHARS}


def spread_forms(value: str) -> tuple[str, ...]:
    """The letters and digits of `value` (ASCII), in order and reversed, in either case for
    a case-blind value, and the hex of its bytes: each searched spread over separators, when
    no window of it is smokegate's own text with its punctuation dropped (round 42a F1: a
    fetched token `FAILEDfailonlow` masked the verdict across its brackets)."""
    letters = "".join(c for c in value if c.isascii() and c.isalnum())
    forms = {letters, letters[::-1]}
    if case_blind(value):
        forms |= {f.upper() for f in forms} | {f.lower() for f in forms}
    hexed = value.encode("utf-8").hex()
    forms |= {hexed, hexed.upper()}
    pieces = _spread_own_pieces()
    size = MIN_SECRET_CHARS
    return tuple(
        form
        for form in sorted(forms)
        if len(form) >= _SPREAD_MIN_CHARS
        and not any(
            form[i : i + size].lower().translate(_DIGITS_AS_ZERO) in pieces  # cut-ok: compared
            for i in range(len(form) - size + 1)
        )
    )


@functools.cache
def _spread_own_pieces() -> frozenset[str]:
    """The pieces of smokegate's phrases, verdict lines and case heads with everything but
    ASCII letters and digits dropped, lower-cased, digits as 0."""
    literal = (part for whole in _message_phrases() for part in whole.split(_PLACEHOLDER))
    texts = [*_OWN_PHRASES, *literal, *_verdict_lines(), *_case_heads()]
    size = MIN_SECRET_CHARS
    pieces: set[str] = set()
    for text in texts:
        letters = _spread_letters(text.lower()).translate(_DIGITS_AS_ZERO).replace("\x00", "")
        pieces.update(letters[i : i + size] for i in range(len(letters) - size + 1))  # cut-ok
    return frozenset(pieces)


# How many levels of escaping a file's last pass undoes: the server's own, and the two a
# report writes over it (report.html's cell, then the JSON blob in an attribute)
_READING_LEVELS = 3


def _readings(text: str) -> list[list[_View]]:
    """`text` read with one level of escapes undone, then two, then three (each only
    when the last changed something): each as the chain of views that leads to it."""
    chain = [_View(text)]
    readings = [list(chain)]
    while chain[-1].changed and len(chain) < _READING_LEVELS:
        chain.append(_View(chain[-1].view))
        readings.append(list(chain))
    return readings


def _back(views: list[_View], span: tuple[int, int]) -> tuple[int, int]:
    """A stretch of the text the last view was made from, as a stretch of the first's."""
    for view in reversed(views[:-1]):
        span = view.original(*span)
    return span


class _AsIs:
    """A text read as it is: positions in it are its own (see `_View.original`)."""

    @staticmethod
    def original(start: int, end: int) -> tuple[int, int]:
        return start, end


_AS_IS: Any = _AsIs()


def _spread_letters(text: str) -> str:
    """`text` as spreads are searched in: ASCII letters and digits only, every other
    character dropped but a NUL or its stand-in U+FFFD, kept as a NUL that ends a spread
    (text in UTF-16 read as UTF-8 is its characters between NULs: round 21a's reading,
    chosen only when the secret is there)."""
    kept = text.translate(_FFFD_AS_NUL).encode("ascii", "ignore").decode("ascii")
    return kept.translate(_SPREAD_SEPARATORS)


def _spread_kept(char: str) -> bool:
    return char == "\ufffd" or (char.isascii() and char not in _SEPARATOR_CHARS)


_FFFD_AS_NUL = {0xFFFD: 0}


def encodable(text: str) -> str:
    """`text` with each lone surrogate (an undecodable byte of a file name or a variable, as
    Python keeps it) written as its escape, `\\udcff`: RE2 and every output take UTF-8 only,
    and such a text ended a run in a traceback (round 11)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def has_lone_surrogates(text: str) -> bool:
    """Whether `text` holds an undecodable byte as Python keeps one (a lone surrogate, from
    a file name or a variable): no UTF-8 encoder takes it."""
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def _readable(value: str) -> tuple[str, ...]:
    """A variable's value as text: itself, or, when its bytes are not UTF-8 (os.environ
    keeps those as lone surrogates, which no encoder takes: every run ended in an
    INTERNALERROR, round 11), those bytes read as Latin-1 and as UTF-8 with replacements,
    which is how a server or a terminal shows them."""
    if not has_lone_surrogates(value):
        return (value,)
    data = value.encode("utf-8", "surrogateescape")
    return (data.decode("latin-1"), data.decode("utf-8", "replace"))


def _token_like(window: str) -> bool:
    """A run a piece of a token is told by: a digit, or letters of both cases. A run of
    lower-case letters is a word of smokegate's own text as often as a piece."""
    return any(c.isdigit() for c in window) or (
        any(c.isupper() for c in window) and any(c.islower() for c in window)
    )


# the windows of the late secrets' forms indexed at most (8 characters each, ~16 MB)
_LATE_GRAMS_MAX = 1 << 18


def _escaping(text: str, position: int) -> bool:
    """Whether the character before `position` is a backslash that escapes the next one."""
    count = 0
    while position - count > 0 and text[position - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _clear_of_escapes(text: str, start: int, end: int) -> tuple[int, int]:
    """A stretch to star, moved off the JSON escapes around it: one starting just after an
    escaping backslash takes the backslash too, one ending with one leaves it (and what it
    escapes). Starred apart, `\\*` or `*&#34;` in report.html's JSON blob made it no JSON
    and the page showed no case (review 55)."""
    if start > 0 and _escaping(text, start):
        start -= 1
    while end > start and _escaping(text, end):
        end -= 1
    return start, end


class _LatePieces:
    """The runs of MIN_SECRET_CHARS characters of some secrets' forms, found in a whole
    file in one RE2 pass: each found run is grown window by window, so a piece is found
    whole however it lies against the pass's matches."""

    def __init__(self, values: Iterable[str]) -> None:
        # the values as given first, then their other forms, shortest first, up to a bound:
        # every window of every form of a hostile 64 KiB token took 3 GB (review 55)
        # and lower-cased, as a host or a proxy's `Host:` echo shows one (review 55)
        given = {v for value in values for v in (value, value.lower())}
        forms = sorted(
            ((form != value, len(form), form) for value in given for form in secret_forms(value)),
        )
        grams = _windows_of((form for _, _, form in forms), _LATE_GRAMS_MAX)
        self.grams = frozenset(g for g in grams if _token_like(g))
        self.patterns = _alternations(sorted(self.grams))

    def runs(self, text: str) -> list[Spread]:
        """Each stretch of `text` made of late secrets' runs: the whole, and each of its
        characters (the shape of `Spread`, for `_outside_markup`)."""
        size = MIN_SECRET_CHARS
        found: list[tuple[int, int]] = []
        for pattern in self.patterns:
            reached = 0
            for match in pattern.finditer(text):
                start, end = match.span()
                if end <= reached:
                    continue  # inside a run already grown
                while text[end - size + 1 : end + 1] in self.grams:  # cut-ok: looked up
                    end += 1
                found.append((start, end))
                reached = end
        return [
            ((s, e), [(i, i + 1) for i in range(s, e)])
            for s, e in (_clear_of_escapes(text, *run) for run in _merged(found))
            if s < e
        ]


class Scrubber:
    """Replaces secret values, their forms and credential-shaped text with `***`."""

    def __init__(
        self,
        secret_vars: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
        *,
        blank_free: Iterable[str] = (),
    ) -> None:
        named = tuple(secret_vars)
        self.secret_vars = tuple(dict.fromkeys((*named, *AWS_SECRET_VARS)))
        # AWS's secret variables are the runner's, not the env file's choice: judged as CI
        # variables are (no blank, no markup, nothing derived that is unsafe); trusted as
        # the env's own, `<failure` and `</failure>` in two of them masked a failing case's
        # element in junit.xml (round 36a). AWS writes no blank nor markup in them.
        self._runner_vars = frozenset(v for v in AWS_SECRET_VARS if v not in named)
        self.blank_free = frozenset(blank_free) | self._runner_vars
        self._environ = environ
        self._named: tuple[tuple[str, ...], list[str]] = ((), [])  # (keys, credential-named)
        # ((raw values, the env's own), secrets)
        self._secrets: tuple[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = (((), ()), [])
        self._own: frozenset[str] = frozenset()  # the secrets that are the env's own
        self._cache_key: tuple[frozenset[str], frozenset[str]] | None = None
        self._pattern: Any = None
        self._lock = threading.Lock()
        # batches of scrubs under way in each thread (`frozen`): one thread's batch never
        # keeps another thread from seeing a secret learnt meanwhile
        self._frozen = threading.local()
        # (the literal pattern, text -> scrubbed): see `_scrub_with`
        self._memo: tuple[Any, dict[tuple[str, str], Any]] = (None, {})
        # (what `secrets` last read, its answer): see there
        self._answered: tuple[Any, list[str]] = (None, [])
        self._generation = 0  # a new one with every new pattern: see `secrets_in_use`
        # the secrets known when the first case reached the report writers, and the pieces
        # of those learnt since (`late_pieces`)
        self._first_written: frozenset[str] | None = None
        self._late: tuple[int, _LatePieces | None] = (-1, None)

    def secrets(self) -> list[str]:
        """The current secret values: variables set, token files, registered values; each
        stripped (as it is sent), and long enough to be one (see `secret_problem`)."""
        environ = os.environ if self._environ is None else self._environ
        # what the answer is made of, compared before anything is decoded: asked for every
        # scrub outside a report's batch, decoding the environment each time was a third
        # of a 15 100-case run's scrubbing
        data = getattr(environ, "_data", None)  # os.environ's own bytes
        # the files first: a token file read anew registers the token it replaced
        files = tuple(_token_file_of(v, environ.get(v, "")) for v in AWS_TOKEN_FILE_VARS)
        with _registry_lock:
            registered = frozenset(_registered)
        inputs = None
        if isinstance(data, dict):
            variables = dict(data)
            # rewritten by pytest for every phase of every case, and no credential's name
            variables.pop(getattr(environ, "encodekey", str)(_PYTEST_CURRENT_TEST), None)
            inputs = (variables, registered, files)
            answered = self._answered  # one read: a thread may store a new one meanwhile
            if inputs == answered[0]:
                return list(answered[1])
            # the values judged are the ones compared, not read again: a variable another
            # thread changed meanwhile stored the old answer under the new key (review 54)
            decode_key = getattr(environ, "decodekey", str)
            decode_value = getattr(environ, "decodevalue", str)
            environ = {decode_key(k): decode_value(v) for k, v in variables.items()}
        kept = self._read_secrets(environ, registered, files)
        if inputs is not None:
            self._answered = (inputs, kept)  # the key and its answer stored at once
        return list(kept)

    def _read_secrets(
        self, environ: Mapping[str, str], registered: frozenset[str], files: tuple[str, ...]
    ) -> list[str]:
        """The secrets of these variables, registered values and token files' contents."""
        keys = tuple(environ)
        if keys != self._named[0]:  # a variable came or went: look at the names again
            self._named = (keys, credential_variables(environ))
        # a credential-named variable the env file does not name (the CI's own), and one
        # that holds a Bearer token, is a secret when it holds no blank: smokegate's
        # verdict, counts and case lines are words joined by blanks, and such a value ("1
        # critical, 1 high", a case's head) masked them, one more joint every round (rounds
        # 27a to 29a); no token holds a blank (a Basic password may)
        # nor markup: `<failure` and `</failure>` in two CI variables masked a failing case's
        # element in junit.xml into text, and the case read as passed (round 31a)
        free = {*self.blank_free, *(n for n in self._named[1] if n not in self.secret_vars)}
        values = []
        own: list[str] = []  # the env file's own credentials: their owner chose them
        for name in dict.fromkeys((*self.secret_vars, *free)):
            value = environ.get(name, "")
            if name not in free or _no_blank_nor_markup(value.strip()):
                values.append(value)
                if name in self.secret_vars and name not in self._runner_vars:
                    own.append(value)
        # the token files AWS's variables name are the runner's too: judged as CI variables
        # are (round 37a: `<failure message="` and `</failure>` in two of them masked a
        # failing case's element in junit.xml)
        values += [v for v in files if _no_blank_nor_markup(v)]
        values += sorted(registered)
        raw = (tuple(values), tuple(own))
        known = self._secrets
        if raw == known[0]:
            return known[1]
        # a value changed: derive the forms again
        mine = {text.strip() for v in own if v for text in _readable(v)}
        stripped = [text.strip() for v in values if v for text in _readable(v)]
        decoded = {v: decoded_forms(v) for v in stripped}
        prime_encoded_forms([*stripped, *(f.strip() for fs in decoded.values() for f in fs)])
        # what a base64 value stands for is derived text: base64 of `sg:<failure ...` or
        # of `sg:❌ **gate FAILED ...**` in a CI variable or a fetched token masked
        # junit.xml's markup and summary.md's verdict line (round 33a); it is masked only
        # when it may be. The env's own pre-encoded Basic value stands for a password
        # that may hold a blank or `&` (a passphrase), masked as before (round 34a)
        for value in list(stripped):
            for form in decoded[value]:
                if value in mine:
                    mine.add(form)
                    stripped.append(form)
                elif masks_safely(form):
                    stripped.append(form)
        kept = [v for v in stripped if secret_problem(v) is None]
        self._secrets = (raw, kept)
        self._own = frozenset(v for v in kept if v in mine)
        return kept

    def note_first_written(self) -> None:
        """The run starts: a secret learnt after this is late (`late_pieces`). Asked when
        the run's scrubbing is set up, before any probe: one fetched between the start-up
        probes and the first case was no late one, and a piece an excerpt of those probes
        cut stayed in every output (review 55)."""
        if self._first_written is None:
            self._first_written = frozenset(self.secrets())

    def late_pieces(self) -> _LatePieces | None:
        """The pieces of the secrets learnt since the run started (`note_first_written`), or
        None: texts cut to excerpts before were cut without knowing them, and a piece of one
        a cut left, or a server's own half echo, was in every output (round 54a F1)."""
        first = self._first_written
        if first is None:
            return None
        generation = self.secrets_in_use()  # asked per line of a summary: judged once
        known = self._late
        if known[0] != generation:
            late = frozenset(self.secrets()) - first
            self._late = known = (generation, _LatePieces(late) if late else None)
        return known[1]

    def mask_late_pieces(self, text: str) -> str:
        """`text` with each piece of a late secret (`late_pieces`) masked."""
        pieces = self.late_pieces()
        if pieces is None or not text:
            return text
        text = encodable(text)  # searched and masked alike
        return _masked(text, [whole for whole, _ in pieces.runs(text)], MASK)

    def remember(self, kind: str, text: str, compute: Callable[[str], _T]) -> _T:
        """`compute(text)` for a short text, computed once while the secrets stay the same:
        for a judgement of text made of them (a case id shown masked, asked of every
        report of every case)."""
        return self._remembered(kind, text, self._literal_pattern(), lambda t, _: compute(t))

    def secrets_in_use(self) -> int:
        """Which set of secrets a scrub now masks: a number that changes whenever they do.
        What was scrubbed under it needs no second pass while it stays. A number, not the
        pattern itself: kept beside every report, the patterns of a run that learnt twenty
        accounts' credentials one by one were all kept alive (review 54)."""
        self._literal_pattern()
        return self._generation

    @contextlib.contextmanager
    def frozen(self) -> Generator[None]:
        """Read the secret values once for a batch of scrubs (one report holds many strings)."""
        self._literal_pattern()
        self._frozen.depth = getattr(self._frozen, "depth", 0) + 1
        try:
            yield
        finally:
            self._frozen.depth -= 1

    def _literal_pattern(self) -> Any:
        if getattr(self._frozen, "depth", 0):
            return self._pattern
        values = frozenset(self.secrets())
        with _registry_lock:
            issued = set(_issued)
        # a value that stops counting as handed out (a token the run now sends) is searched
        # in more forms: the same values make another pattern then (round 43a F2)
        hosts = _target_hosts
        key = (values, frozenset(values & issued), hosts)
        with self._lock:
            if key == self._cache_key:
                return self._pattern
        if getattr(_building, "active", False):
            # Building the forms imported something, and pytest traced the import (--debug,
            # PYTEST_DEBUG) through this scrubber: the previous forms serve that line.
            return self._pattern
        _building.active = True
        try:
            forms = {value: secret_forms(value) for value in values}
            for value in values:  # the hosts read once, with the key: the pattern is theirs
                lowered = sent_lowered(value, hosts) if hosts else ""
                if lowered:
                    forms[value] |= secret_forms(lowered)
            # the views of the env's own secrets' forms are searched as before round 33a:
            # what their owner chose is no attacker's text
            own_views = {_View(f).view for v in values & self._own for f in forms[v]}
            # the secrets a target was sent (the env's own, and what the run obtained and
            # sent: a fetched token, STS's): a hostile target may echo one spread out
            sent = (values & self._own) | (set(registered_secrets()) & values) - issued
            pattern = _literal_pattern(
                (form for value in values for form in forms[value]),
                (form for value in values for form in case_blind_forms(value)),
                first=(form for value in values if value not in issued for form in forms[value]),
                given=values | own_views,
                spread=(form for value in sent for form in spread_forms(value)),
            )
        finally:
            _building.active = False
        with self._lock:
            self._pattern, self._cache_key = pattern, key
            self._generation += 1
        return pattern

    def scrub(self, text: str) -> str:
        """`text` with every secret form and credential shape masked."""
        if not text:
            return text
        return self._scrub_with(text, self._literal_pattern())

    def _scrub_with(self, text: str, literal: Any) -> str:
        # a run's reports repeat the same short texts (an account's id, a rule's words, the
        # AWS routes) in every case: scrubbed once per set of secrets, not once per case
        # (15 100 cases of twenty accounts spent most of their time here)
        return self._remembered("scrub", text, literal, self._scrubbed)

    def _remembered(
        self, kind: str, text: str, literal: Any, compute: Callable[[str, Any], _T]
    ) -> _T:
        """`compute(text, literal)`, remembered for short texts while `literal` (the set
        of secrets) stays the same."""
        if len(text) > _SCRUB_MEMO_CHARS:
            return compute(text, literal)
        memo = self._memo
        if memo[0] is not literal or len(memo[1]) >= _SCRUB_MEMO_ENTRIES:
            memo = self._memo = (literal, {})
        key = (kind, text)
        done = memo[1].get(key)
        if done is None:
            done = memo[1][key] = compute(text, literal)
        return done

    @staticmethod
    def _scrubbed(text: str, literal: Any) -> str:
        text = encodable(text)
        if literal is not None:
            text = literal.sub(MASK, text)
        return _scrub_shapes(text)

    def mask_fragments(self, text: str) -> str:
        """`text` with every run of MIN_SECRET_CHARS or more characters that is part of a
        secret's form masked: for text that something smokegate does not control may have
        cut (a body at its size cap or reset, pytest's shortened reprs). Not for smokegate's
        own words: a secret holding `endpoint` would mask that word."""
        literal = self._literal_pattern()
        if literal is None or not text:
            return text
        return self._remembered(
            "fragments", text, literal, lambda t, lit: str(lit.mask_fragments(t, MASK))
        )

    def mask_known(self, text: str, *, spreads: bool = False) -> str:
        """`text` with every form of a known secret masked, and no credential shape: for a
        whole file that holds code and markup of others (report.html's scripts), where a
        shape could break what it matched and a secret's own value never belongs.

        `spreads`: the secrets a target was sent, spread over separators, too: each of
        their characters starred where it stands outside the file's markup (tags, attribute
        names, character references), the markup kept whole. For a file whose texts came
        in before some secret was known: scrubbed then, they were not searched for it
        (round 54a F2: a token fetched late, echoed earlier as `Lt:Tk:7f:...`, stayed whole
        in report.html and junit.xml); and the pieces of the secrets learnt late
        (`late_pieces`), starred alike."""
        literal = self._literal_pattern()
        if literal is None or not text:
            return text
        text = encodable(text)
        found = literal.fitted_spans(text)
        if spreads:
            # a whole form under escapes is masked escapes and all (character references
            # replaced whole keep the markup); one that would take a tag's bracket or a
            # quote with it is left to the starring below
            found += [
                (start, end)
                for start, end in literal.escaped_spans(text)
                if all(text.find(c, start, end) == -1 for c in '<>"')
            ]
        text = _masked(text, found, MASK)
        late = self.late_pieces()
        stretches = literal.spread_characters(text) if spreads else []
        stretches += late.runs(text) if late is not None else []
        if stretches:
            text = _starred(text, _outside_markup(text, stretches))
        return text

    def leaks(self, text: str) -> bool:
        """True when `text` still holds a secret value (the check after structural scrubbing)."""
        literal = self._literal_pattern()
        if literal is None or not text:
            return False
        # RE2 takes UTF-8 only: a lone surrogate (an undecodable byte of a name) is escaped
        text = encodable(text)
        return self._remembered("leaks", text, literal, lambda t, lit: bool(lit.search(t)))

    def scrub_data(self, value: Any) -> Any:
        """Scrub strings inside lists, tuples, dicts and dataclasses; containers in place.

        This is how pytest's traceback representation (`ExceptionChainRepr` and its entries,
        all dataclasses) is scrubbed without losing its structure: the console keeps its
        layout and JUnit keeps the crash line as the failure message. The secret values are
        read once per call, not once per string: a report holds hundreds of strings.
        """
        return self._scrub_tree(value, self._literal_pattern(), set())

    def _scrub_tree(self, value: Any, literal: Any, seen: set[int]) -> Any:
        return self.walk_strings(
            value, lambda text: escape_control(self._scrub_with(text, literal)), seen
        )

    def walk_strings(self, value: Any, change: Callable[[str], str], seen: set[int]) -> Any:
        """Apply `change` to every string in a tree of lists, dicts and dataclasses."""
        if isinstance(value, str):
            return change(value) if value else value
        if value is None or isinstance(value, int | float | bytes) or id(value) in seen:
            return value
        seen.add(id(value))
        if isinstance(value, list):
            value[:] = [self.walk_strings(item, change, seen) for item in value]
        elif isinstance(value, tuple):
            items = tuple(self.walk_strings(item, change, seen) for item in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                value = type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        elif isinstance(value, dict):
            for key in list(value):
                value[key] = self.walk_strings(value[key], change, seen)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                current = getattr(value, f.name, None)
                new = self.walk_strings(current, change, seen)
                if new is not current:
                    object.__setattr__(value, f.name, new)
        return value

    def scrub_longrepr(self, longrepr: Any, *, pieces: bool = True) -> Any:
        """A report's `longrepr` (None, str, skip tuple or traceback repr), scrubbed.

        After the structural pass the rendered text is checked once more; anything still
        leaking (an unknown repr type) is replaced by its scrubbed rendering. `pieces`
        False: smokegate's own message, whose quotes were scrubbed, pieces included, as
        they were written; its whole forms are still masked.
        """
        if longrepr is None or isinstance(longrepr, str | tuple):
            return self.scrub_data(longrepr)
        self.scrub_data(longrepr)
        # a traceback quotes what pytest shortened (saferepr of locals under -l, of
        # arguments, of assertion operands): a secret cut there is no longer a whole form
        if pieces:
            self.walk_strings(longrepr, self.mask_fragments, set())
        rendered = str(longrepr)
        if self.leaks(rendered):
            return escape_control(self.scrub(rendered))
        return longrepr


_building = threading.local()  # this thread is building a scrubber's forms
for _codec in ("utf-16-be", "utf-16-le", "latin-1"):  # used by the forms: imported now,
    codecs.lookup(_codec)  # not while they are built
_process_scrubber = Scrubber()


def process_scrubber() -> Scrubber:
    """The scrubber of this process: the run's secret variables (`configure_secret_variables`),
    the AWS ones and every registered secret."""
    return _process_scrubber


# -- quoting text smokegate does not control ------------------------------------------------------

# C0 controls but tab and newline, DEL, C1 controls, and the invisible characters that
# reorder or hide text on a terminal or in a browser (bidi overrides, zero-width, BOM, soft
# hyphen, fillers, tag characters, variation selectors: `_INVISIBLE_CODES`).
_CONTROLS = [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]
_ESCAPES = {c: f"\\x{c:02x}" for c in _CONTROLS} | {
    c: f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"
    for c in (*_INVISIBLE_CODES, *_OTHER_FORMAT_CODES)
}
_ESCAPES_ONE_LINE = _ESCAPES | {0x09: "\\t", 0x0A: "\\n"}


def escape_control(text: str, *, one_line: bool = False) -> str:
    """Control characters shown as escapes (`\\x1b`), never sent to a terminal: a server's
    `ESC[2K ESC[1A gate PASSED` must not erase lines and print a verdict of its own."""
    return text.translate(_ESCAPES_ONE_LINE if one_line else _ESCAPES)


def unsafe_characters(text: str) -> list[str]:
    """The distinct characters of `text` that `escape_control(one_line=True)` escapes (C0,
    DEL, C1, format characters, line separators), in order: what a name pytest prints raw
    (the env file's, a report path) must not hold, since only smokegate's own output is
    escaped."""
    return list(dict.fromkeys(char for char in text if ord(char) in _ESCAPES_ONE_LINE))


ELLIPSIS = "…"
# How far past an excerpt's cut fragments of a secret are looked for (a fragment that
# straddles the cut is masked whole before the cut is made).
_FRAGMENT_MARGIN = 64


# How far past what is quoted a text is scrubbed: a quote of 160 characters of a 1 MiB body
# scrubbed it whole three times, on pytest's main thread after every probe had ended (round
# 18b: 20 failing bodies of `&a=` took 197 s). A secret's form that this cut splits is
# masked as a fragment (`Scrubber.mask_fragments`); the text past it is never shown.
SCRUB_WINDOW_CHARS = 32 * 1024


def scrub_window(text: str, limit: int) -> str:
    """The start of `text` that quoting its first `limit` characters needs scrubbed."""
    window = limit + SCRUB_WINDOW_CHARS
    return text[:window] if len(text) > window else text  # cut-ok: scrubbed next, then cut


def excerpt(
    text: str,
    limit: int,
    *,
    one_line: bool = True,
    first_line: bool = False,
    spacing: bool = False,
    scrubber: Scrubber | None = None,
) -> str:
    """`text` as smokegate may quote it: scrubbed whole, control characters escaped,
    whitespace collapsed to single spaces (`one_line`) or only its first line kept
    (`first_line`), scrubbed again (an escape or a join can form a secret), and only then
    cut to `limit` characters with `…`. The one way rules and gatherers quote a server's
    or an exception's text (tests/unit/test_excerpts.py holds them to it). `spacing`
    keeps one line's runs of spaces as they are, for a text whose spacing is the fault
    (a status line with two spaces); tabs and line breaks are still escaped."""
    active = scrubber or _process_scrubber
    scrub = active.scrub
    # pieces too, before a tab or a line break between their characters becomes `\t`
    # text (round 20: a piece spread over tabs in a status line was shown)
    clean = active.mask_fragments(scrub(scrub_window(text, limit)))
    if first_line:
        lines = clean.strip().splitlines()
        clean = lines[0] if lines else ""  # cut-ok: after the scrub, which is the point
    if (one_line or first_line) and not spacing:
        clean = " ".join(clean.split())
    clean = scrub(escape_control(clean, one_line=one_line or first_line or spacing))
    # What is shown, and a margin past it, loses every fragment of a secret that the text
    # held already cut (a body at its size cap, a reset, a server's own partial echo).
    window = limit + _FRAGMENT_MARGIN
    longer = len(clean) > window
    clean = active.mask_fragments(clean[:window])  # cut-ok: a margin past the cut, masked
    if longer or len(clean) > limit:
        clean = clean[: max(limit - 1, 0)] + ELLIPSIS  # cut-ok: the one cut, after scrubbing
    return clean


def shown_url(url: str) -> str:
    """A URL as a message may name it: user:password and credential parameters masked,
    control characters escaped (a redirect's Location is the server's text)."""
    return excerpt(url, 2048)


def shown_endpoint(value: str) -> str:
    """A proxy or endpoint setting as a notice names it. `HTTP_PROXY=user:pass@proxy:3128`
    (no scheme: requests and curl accept it) has no `scheme://` for the URL masking to
    recognise: its userinfo is masked here."""
    text = value.strip()
    if "://" not in text:
        _, at, host = text.rpartition("@")
        if at:
            text = f"{MASK}@{host}"
    return shown_url(text)


def register_userinfo_secrets(values: Iterable[str]) -> list[str]:
    """The passwords of proxy settings (`http://user:password@proxy:3128`, with or without a
    scheme): they go on the wire in Proxy-Authorization, so they are secrets like the env's.
    Returns why each password that could not be registered (too short to mask) is unusable:
    the caller refuses the run rather than send it where a proxy's 407 may quote it."""
    problems = []
    for value in values:
        text = value.strip()
        # the authority as urlsplit reads it, without its refusals: a `[` in a password
        # (`http://svc:Pr0xy[Pass@proxy:3128`) raised "Invalid IPv6 URL" into pytest's
        # INTERNALERROR (round 17a); the password still goes on the wire
        rest = text.partition("://")[2] if "://" in text else text
        # to the last `@`: a password with a raw `/`, `#` or `?` still goes on the wire
        # (round 19c: nothing was registered, and urllib3's parse error quoted its start)
        userinfo, at, _ = rest.rpartition("@")
        if not at:
            continue
        user, colon, password = userinfo.partition(":")
        if colon and password:
            password = unquote(password)
            problem = secret_problem(password)
            if problem:
                problems.append(f"the password of proxy {shown_endpoint(text)} {problem}")
            register_secret(password)
        elif user:
            # no password: the user name is the credential (a proxy's API key as its user,
            # `http://KEY:@proxy`), sent as Basic base64(KEY:) (round 19c)
            register_secret(unquote(user))
    return problems


# -- where text goes out of the process -----------------------------------------------------


class ScrubFilter(logging.Filter):
    """Masks secrets in a log record before any handler formats it (message, args,
    traceback), and escapes control characters in its message."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__("smokegate.redact")
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it; still scrub the parts
            message = str(record.msg)
        clean = escape_control(self._scrub(message))
        if clean != message:  # otherwise msg and args stay as they were, for caplog users
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = escape_control(self._scrub(record.exc_text))
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        return True

    def _scrub(self, text: str) -> str:
        """Whole forms, then pieces: a log line is text others wrote, which may hold what is
        left of a secret a server cut (round 19a: urllib3's retry warning quoted a
        redirect's URL holding 12 characters of the token)."""
        return self.scrubber.mask_fragments(self.scrubber.scrub(text))


class ScrubbingStream:
    """A text stream proxy that scrubs what is written: sys.stdout/stderr under `-s`, where a
    check's prints reach the terminal without passing through any report."""

    def __init__(self, stream: Any, scrubber: Scrubber) -> None:
        self._stream = stream
        self._scrubber = scrubber

    def write(self, text: str) -> int:
        self._stream.write(self._scrubber.scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
