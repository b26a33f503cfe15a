"""A lone surrogate escape in a token endpoint's or a login's JSON answer (`"\\ud800"`: a
string cut inside an emoji) is read as U+FFFD, as in every other body: kept, RE2 raised on
it (round 54d G2: the error quoted the unregistered token whole in every report; G3: the
answer's other values, its `access_token` too, were never registered)."""

import pytest

from smokegate import redact
from smokegate.facts.http import ProbeResult
from smokegate.gather.oauth2 import OAuth2Client, token_from
from smokegate.redact import MASK, Scrubber

ISSUED = "Kq9Zt7Lm2Xw4Rb8Np3Vd"


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "_registered", set())
    monkeypatch.setattr(redact, "_issued", set())


def test_a_logins_answer_with_one_cut_member_still_registers_its_token() -> None:
    answer = (
        f'{{"status": "ok", "access_token": "{ISSUED}", "refresh_token": "Ab3\\ud800Zq9Kx7Lp2W"}}'
    )
    redact.register_issued_credentials(answer)
    assert ISSUED in redact.registered_secrets()
    assert Scrubber([]).scrub(f"upstream said {ISSUED} denied") == f"upstream said {MASK} denied"


def test_a_token_with_a_cut_character_is_no_crash_and_never_quoted() -> None:
    client = OAuth2Client(token_url="http://127.0.0.1:9/t", client_id="c", client_secret="s")
    body = b'{"access_token": "Ab3\\ud800Zq9Kx7Lp2W", "token_type": "Bearer"}'
    outcome = token_from(client, ProbeResult(key="k", url="u", status=200, body=body))
    assert outcome.token is None  # U+FFFD in a header: never sent
    assert "cannot carry (U+FFFD)" in (outcome.error or "")
    assert "Zq9Kx7Lp2W" not in (outcome.error or "") and "Error" not in (outcome.error or "")
