"""The credentials `test_rejects_invalid_token` sends (rounds 28c, 29c): the entry's scheme,
values nobody issued of the real ones' shape, and the other cases of an entry sent only once
its token's answer is in."""

from __future__ import annotations

import base64

import pytest

from smokegate.config import AuthEntry, Defaults
from smokegate.gather.credentials import forged_like
from smokegate.gather.http import auth_probe
from smokegate.gather.probe import ProbeRequest
from smokegate.targets import AuthCase

SCHEMES = {
    "bearer": {"bearer_env": "INV_TOKEN"},
    "header": {"header": {"name": "X-API-Key", "value_env": "INV_TOKEN"}},
    "header-scheme": {
        "header": {"name": "Authorization", "scheme": "token", "value_env": "INV_TOKEN"}
    },
    "query": {"query": {"name": "api_key", "value_env": "INV_TOKEN"}},
    "basic": {"basic": {"username_env": "INV_USER", "password_env": "INV_TOKEN"}},
    "oauth2": {
        "oauth2": {
            "token_url": "https://idp.example.com/token",
            "client_id_env": "INV_USER",
            "client_secret_env": "INV_TOKEN",
        }
    },
}


def _request(scheme: str, kind: str = "invalid") -> ProbeRequest:
    entry = AuthEntry(name="api", url="https://api.example.com/me", credentials=SCHEMES[scheme])
    status = 200 if kind == "token" else 401
    case = AuthCase(entry, entry.auth.case_env, status, kind, entry.auth)
    if kind == "anonymous":
        case = AuthCase(entry, None, 401, kind)
    built = auth_probe(case, Defaults())
    assert isinstance(built, ProbeRequest), built
    return built


def _sent(request: ProbeRequest) -> str:
    return " ".join([*request.headers.values(), *(v for _, v in request.params)])


@pytest.mark.parametrize(
    "real",
    [
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.Zq7xK2mP9vB4nT6wYc1dEf8gHj3kLm5n",
        "ghp_Zq7xK2mP9vB4nT6wYc1dEf8gHj3kLm5nA0b",
        "sk_live_51HxZq7xK2mP9vB4nT6w",
        "session=3f9a2bc4d5e6f708a9b0",
        "Zq7xK2mP9vB4nT6wYc1dEf8g",
        "3f9a2bc4d5e6f708a9b0c1d2e3f4a5b6",
    ],
)
def test_a_forged_value_has_the_real_ones_shape_and_is_not_it(real):
    """Round 29c: a server that checks only a token's shape (a JWT not verified, a length,
    a prefix, hex) refused `smokegate-invalid-…` and let in anything shaped like the real
    one."""
    forged = {forged_like(real) for _ in range(20)}
    assert real not in forged and len(forged) > 15
    for value in forged:
        assert len(value) == len(real)
        for a, b in zip(real, value, strict=True):
            assert a.isdigit() == b.isdigit() and a.isupper() == b.isupper()
            assert a.isalnum() or a == b  # separators kept where they are
        if real.startswith("eyJ"):  # a JWT keeps its header and claims, not its signature
            assert value.rsplit(".", 1)[0] == real.rsplit(".", 1)[0]
        for start in ("ghp_", "sk_live_", "session="):
            assert value.startswith(start) == real.startswith(start)
        if real.startswith("3f9a"):
            assert set(value) <= set("0123456789abcdef")  # hex stays hex


@pytest.mark.parametrize("scheme", ["bearer", "header", "header-scheme", "query"])
def test_the_invented_value_is_the_real_ones_shape_in_the_entrys_scheme(monkeypatch, scheme):
    real = "ghp_Zq7xK2mP9vB4nT6wYc1dEf8gHj3kLm5nA0b"
    monkeypatch.setenv("INV_TOKEN", real)
    invalid, token = _request(scheme), _request(scheme, "token")
    assert set(invalid.headers) == set(token.headers)
    assert [n for n, _ in invalid.params] == [n for n, _ in token.params]
    sent = _sent(invalid)
    assert real not in sent and "ghp_" in sent and len(sent) == len(_sent(token))


def test_basic_invents_its_user_so_no_real_account_collects_a_failed_login(monkeypatch):
    monkeypatch.setenv("INV_USER", "svc-admin")
    monkeypatch.setenv("INV_TOKEN", "Zq7xK2mP9vB4nT6wYc1d")
    decoded = base64.b64decode(_sent(_request("basic")).removeprefix("Basic ")).decode()
    user, _, password = decoded.partition(":")
    assert user != "svc-admin" and user.startswith("invented-")
    assert password != "Zq7xK2mP9vB4nT6wYc1d" and len(password) == 20


def test_oauth2_forges_the_token_its_endpoint_hands_out(monkeypatch):
    monkeypatch.setenv("INV_USER", "client-7")
    monkeypatch.setenv("INV_TOKEN", "Zq7xK2mP9vB4nT6wYc1d")
    request = _request("oauth2")
    assert request.oauth2 is not None and request.forge_token


@pytest.mark.parametrize("scheme", sorted(set(SCHEMES) - {"oauth2"}))
def test_an_unset_variable_sends_no_invented_value(monkeypatch, scheme):
    """Round 30c: with the real variable unset, random hex of no shape was refused by a
    server that checks only the shape, and the case passed. It is in the real one's shape
    or not sent: the case verifies nothing, naming the variable."""
    from smokegate.facts.http import ProbeResult

    monkeypatch.delenv("INV_TOKEN", raising=False)
    monkeypatch.setenv("INV_USER", "client-7")
    entry = AuthEntry(name="api", url="https://api.example.com/me", credentials=SCHEMES[scheme])
    built = auth_probe(AuthCase(entry, "INV_TOKEN", 401, "invalid", entry.auth), Defaults())
    assert isinstance(built, ProbeResult) and not built.sent
    assert built.error is not None and "INV_TOKEN is not set" in built.error
    assert "sends an invented token shaped like the real one, so it needs" in built.error


@pytest.mark.parametrize(
    ("real", "kept"),
    [
        # round 30c: what the first shape-keeping forger redrew, and servers checked
        ("csrftoken=Zq7xK2mP9vB4nT6w; sessionid=3f9a2bc4d5e6f708", ["csrftoken=", "; sessionid="]),
        (
            "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.Zq7xK2mP9vB4nT6w; theme=dark",
            ["token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.", "; theme=dark"],
        ),
        ("Bearer Zq7xK2mP9vB4nT6wYc1d", ["Bearer "]),
        ("42|Zq7xK2mP9vB4nT6wYc1dEf8g", ["42|"]),
        ("sessionid=abcdefgh", ["sessionid="]),
    ],
)
def test_a_forged_value_keeps_the_real_ones_words_ids_and_jwts(real, kept):
    for _ in range(20):
        forged = forged_like(real)
        assert forged != real and len(forged) == len(real)
        for part in kept:
            assert part in forged, (part, forged)


def test_a_forged_uuid_stays_a_uuid_of_its_version():
    """Round 30c: its version and variant were drawn anew, and a server accepting any
    well-formed UUIDv4 let most forged ones in (a verdict that varied by run)."""
    real = "3b241101-e2bb-4255-8caf-4136c566a962"
    for _ in range(200):
        forged = forged_like(real)
        assert forged != real and forged[14] == "4" and forged[19] == "8"
        assert [len(g) for g in forged.split("-")] == [8, 4, 4, 4, 12]


def test_an_entrys_other_cases_wait_for_its_token_case(monkeypatch):
    """Round 29c: sent together, a cache keyed without Authorization (nginx proxy_cache)
    or a server trusting an address after one good token passed on a cold start."""
    monkeypatch.setenv("INV_TOKEN", "Zq7xK2mP9vB4nT6wYc1d")
    token = _request("bearer", "token")
    assert token.after is None
    for kind in ("anonymous", "invalid"):
        assert _request("bearer", kind).after == token.key


def test_a_bearer_token_with_a_blank_is_not_sent_nor_a_secret(monkeypatch):
    """Round 29a: a value such as `[high (verified nothing)] accepts_token` masked every
    case's head; no Bearer token holds a blank (RFC 6750)."""
    from smokegate.redact import Scrubber

    entry = AuthEntry(name="api", url="https://api.example.com/me", token_env="INV_TOKEN")
    # round 40a: a case line's head whole is smokegate's own text, refused as such first
    for value, reason in (
        ("[high (verified nothing)] accepts_token", "text that smokegate's own reports use"),
        ("Zq7x K2mP9vB4nT6w", "holds a blank or one of < > \" ' &: no token does"),
    ):
        monkeypatch.setenv("INV_TOKEN", value)
        built = auth_probe(AuthCase(entry, "INV_TOKEN", 200, "token", entry.auth), Defaults())
        assert not isinstance(built, ProbeRequest)
        assert built.error is not None
        assert reason in built.error
    monkeypatch.setenv("INV_TOKEN", "[high (verified nothing)] accepts_token")
    scrubber = Scrubber(["INV_TOKEN"], blank_free=["INV_TOKEN"])
    line = "[high (verified nothing)] accepts_token api (https://api.example.com/me): …"
    assert scrubber.scrub(line) == line


def test_a_process_that_runs_only_an_entrys_other_cases_sends_its_token_request_first(
    monkeypatch,
):
    """Round 30b: the token-first order held inside one process only; under -n 2 or shards
    an entry's forbidden case ran where its token case did not, and a server trusting an
    address after one good token passed. Every process sends the token request first."""
    from smokegate.gather.http import requests_for

    monkeypatch.setenv("INV_TOKEN", "Zq7xK2mP9vB4nT6wYc1d")
    entry = AuthEntry(name="api", url="https://api.example.com/me", token_env="INV_TOKEN")
    anonymous = AuthCase(entry, None, 401, "anonymous")
    token, own = requests_for(anonymous, Defaults())
    assert token.key == "auth:api:INV_TOKEN" and token.after is None
    assert own.after == token.key
    only = requests_for(AuthCase(entry, "INV_TOKEN", 200, "token", entry.auth), Defaults())
    assert [r.key for r in only] == ["auth:api:INV_TOKEN"]


@pytest.mark.parametrize(
    "real",
    [
        "eyJ1c2VyIjoxfQ.ZnH8Yg.Zq7xK2mP9vB4nT6wYc1dEf8gHj3k",  # itsdangerous: payload.time.sig
        "djangovalue:1rT9xQ:Zq7xK2mP9vB4nT6wYc1dEf8gHj3k",  # Django signing: value:time:sig
        "v4.public.eyJzdWIiOiIxIn0Zq7xK2mP9vB4nT6wYc1dEf8gHj3k",  # PASETO: the version kept
        "bWFpbjpacTd4SzJtUDl2QjRuVDZ3WWMx--Zq7xK2mP9vB4nT6wYc1d",  # Rails: data--digest
    ],
)
def test_a_signed_value_keeps_all_but_its_signature(real):
    """Round 31c: servers that do not verify signatures (itsdangerous loads_unsafe, a
    PASETO or Django cookie read without its MAC) refused a value whose payload was drawn
    anew, and passed; the forged value is the real one with its end drawn anew."""
    for _ in range(20):
        forged = forged_like(real)
        assert forged != real and forged[:-8] == real[:-8]


def test_base64_of_a_user_and_key_stays_one_with_its_key_forged():
    """Round 31c: an Elasticsearch ApiKey or a pre-encoded Basic value became binary."""
    real = base64.b64encode(b"elastic:Zq7xK2mP9vB4nT6w").decode()
    user, _, key = base64.b64decode(forged_like(real)).decode().partition(":")
    assert user == "elastic" and key != "Zq7xK2mP9vB4nT6w" and len(key) == 16


def test_percent_escapes_stay_escapes():
    forged = forged_like("sig%2Fabc%3Ddefghij%2B")
    assert forged.count("%2F") == 1 and "%3D" in forged and forged.endswith("%2B")


@pytest.mark.parametrize("size", [16, 30, 32])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_a_forged_base64_key_is_still_canonical_base64(size, urlsafe):
    """Round 32: the last base64 character's unused bits must be 0; redrawn freely, a strict
    decoder (Rust's base64, Go's Strict) refused most forged `openssl rand -base64 32` keys,
    and a server checking only the shape passed."""
    import secrets as random_source

    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    for _ in range(50):
        real = encode(random_source.token_bytes(size)).decode()
        real = real.rstrip("=") if urlsafe else real
        forged = forged_like(real)
        padded = forged + "=" * (-len(forged) % 4)
        decoded = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(padded)
        again = encode(decoded).decode()
        assert forged != real and (again.rstrip("=") if urlsafe else again) == forged


def _b64url(data: dict) -> str:
    import json

    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize("around", [("", ""), ("theme=dark; session=", "; lang=en")])
def test_an_unsigned_jwt_is_forged_as_a_well_formed_unsigned_jwt(around):
    """Round 33c F1: an unsigned JWT (`alg: none`) ends with its claims; redrawn, they were
    no JSON, so a server that takes any unsigned token refused the forgery and the case
    passed. The forgery is the token anyone could mint: same header and claims, one claim
    more, still unsigned."""
    import json

    header = _b64url({"alg": "none", "typ": "JWT"})
    claims = {"sub": "deploy-bot", "role": "admin", "exp": 4102444800}
    before, after = around
    real = f"{before}{header}.{_b64url(claims)}.{after}"
    forged = forged_like(real)
    assert (
        forged != real and forged.startswith(f"{before}{header}.") and forged.endswith(f".{after}")
    )
    minted = forged.removeprefix(f"{before}{header}.").removesuffix(f".{after}")
    decoded = json.loads(base64.urlsafe_b64decode(minted + "=" * (-len(minted) % 4)))
    assert {k: decoded[k] for k in claims} == claims  # every claim kept, valid JSON
    assert len(decoded) == len(claims) + 1


def _json_of(run: str) -> dict:
    import json

    urlsafe = "-" in run or "_" in run
    body = run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 4)
    return json.loads(base64.b64decode(body, altchars=b"-_" if urlsafe else None))


def _padded(data: dict, *, urlsafe: bool = True) -> str:
    import json

    raw = json.dumps(data).encode()
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()


SESSION = {"user": "alice", "role": "admin", "n": 4102444800}


@pytest.mark.parametrize(
    ("before", "run", "after"),
    [
        # round 34c F1: an unsigned JWT whose segments keep their padding
        (_padded({"alg": "none", "typ": "JWT"}) + ".", _padded(SESSION), "."),
        # an unsigned base64 JSON session cookie, among others
        ("theme=dark; session=", _padded(SESSION, urlsafe=False), "; lang=en"),
        # the same session bare in a header (base64 of `{"user":...}` is no user:key pair)
        ("", _padded({"user": "alice"}, urlsafe=False), ""),
        ("", _padded(SESSION).rstrip("="), ""),
    ],
    ids=["padded-unsigned-jwt", "cookie", "bare-header", "unpadded"],
)
def test_unsigned_base64_json_is_forged_as_anyone_could_write_it(before, run, after):
    real = f"{before}{run}{after}"
    forged = forged_like(real)
    assert forged != real and forged.startswith(before) and forged.endswith(after)
    minted = forged.removeprefix(before).removesuffix(after) if after else forged[len(before) :]
    assert minted.endswith("=") == run.endswith("=")
    decoded, original = _json_of(minted), _json_of(run)
    assert {k: decoded[k] for k in original} == original
    assert len(decoded) == len(original) + 1


def test_a_signed_payload_keeps_its_payload_and_forges_its_signature():
    """A base64 JSON payload followed by `.signature` (itsdangerous, a JWT) is signed: the
    signature is what is forged, the payload kept whole."""
    payload = _padded(SESSION).rstrip("=")
    real = f"{payload}.ZqTx9w.k2mP9vLw4RtY8nBcQ3xYz7"
    forged = forged_like(real)
    assert forged.startswith(f"{payload}.ZqTx9w.") and forged != real


@pytest.mark.parametrize("around", [("", ""), ("session=", "; lang=en")])
@pytest.mark.parametrize("signature", ["k2mP9vLw4RtY8nBcQ3xYz7aQ", ""])
def test_an_expired_jwt_is_forged_with_its_exp_ahead(around, signature):
    """Round 37c F5: the invented token kept the real one's passed `exp`, so a server that
    checks `exp` and no signature refused it for its expiry, and the case read as
    "signatures verified". Signed or not, the invented one expires an hour ahead."""
    import json
    import time

    header = _b64url({"alg": "HS256" if signature else "none", "typ": "JWT"})
    claims = {"sub": "deploy-bot", "exp": int(time.time()) - 86_400}
    before, after = around
    real = f"{before}{header}.{_b64url(claims)}.{signature}{after}"
    forged = forged_like(real)
    assert forged.startswith(f"{before}{header}.") and forged.endswith(after)
    middle = forged.removeprefix(f"{before}{header}.").removesuffix(after)
    run, _, sent_signature = middle.partition(".")
    decoded = json.loads(base64.urlsafe_b64decode(run + "=" * (-len(run) % 4)))
    assert decoded["sub"] == "deploy-bot"
    assert time.time() + 3000 < decoded["exp"] < time.time() + 4000
    assert bool(sent_signature) == bool(signature)
    assert not signature or sent_signature != signature


def test_a_jwt_still_valid_keeps_its_exp():
    import time

    claims = {"sub": "deploy-bot", "exp": int(time.time()) + 600}
    real = f"{_b64url({'alg': 'HS256'})}.{_b64url(claims)}.k2mP9vLw4RtY8nBcQ3xYz7aQ"
    forged = forged_like(real)
    assert forged.rpartition(".")[0] == real.rpartition(".")[0] and forged != real
