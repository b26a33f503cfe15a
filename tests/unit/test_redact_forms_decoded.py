"""A secret that is base64 of text stands for that text too: the server that receives a
pre-encoded `Basic` value or an `ApiKey id:key` decodes it, and may echo it decoded."""

from __future__ import annotations

import base64

import pytest

from smokegate.redact import MASK, Scrubber, decoded_forms


def test_a_pre_encoded_pair_stands_for_the_pair_and_its_password():
    encoded = base64.b64encode(b"svc-deploy:Hunter2-Pr0d-Passw0rd").decode()
    assert decoded_forms(encoded) == ("svc-deploy:Hunter2-Pr0d-Passw0rd", "Hunter2-Pr0d-Passw0rd")
    scrubber = Scrubber(["PRE"], environ={"PRE": encoded})
    shown = scrubber.scrub("user=svc-deploy password=Hunter2-Pr0d-Passw0rd")
    assert shown == f"user=svc-deploy password={MASK}"  # the user name is no secret


def test_base64url_without_padding_is_read_too():
    encoded = base64.urlsafe_b64encode(b"key-id-0001:s3cr3t-v4lue?>>").decode().rstrip("=")
    assert "s3cr3t-v4lue?>>" in decoded_forms(encoded)


@pytest.mark.parametrize(
    "token",
    ["Zq7xK2mP9vLw4RtY8nBcQ3", "testing-secret-key", "ghp_" + "A1b2C3d4" * 4, "short"],
)
def test_tokens_that_are_no_base64_of_text_add_nothing(token):
    assert decoded_forms(token) == ()


def test_a_short_password_inside_is_not_masked_alone():
    """`user:pw` decodes to a password too short to mask without garbling text: the pair
    is masked, the password alone is left, as for any secret under the minimum."""
    encoded = base64.b64encode(b"admin-user:pw").decode()
    scrubber = Scrubber(["PRE"], environ={"PRE": encoded})
    assert scrubber.scrub("pair admin-user:pw, pw") == f"pair {MASK}, pw"


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b" ", b"\t", b"\x00"])
def test_the_newline_of_echo_piped_to_base64_is_no_obstacle(end):
    encoded = base64.b64encode(b"svc-deploy:Hunter2-Pr0d-Passw0rd" + end).decode()
    assert decoded_forms(encoded)[1] == "Hunter2-Pr0d-Passw0rd"


def test_a_latin_1_password_is_read_too():
    encoded = base64.b64encode("svc:pässwörd-long-1".encode("latin-1")).decode()
    assert decoded_forms(encoded)[1] == "pässwörd-long-1"


def test_a_token_sent_as_latin1_and_read_back_as_utf8_is_masked() -> None:
    """Round 14: http.client sends a header's non-ASCII letters as Latin-1 bytes; a server
    echoing the raw header was read as UTF-8, U+FFFD in place of those letters, and the
    7-character pieces between them (28 of 31 characters) were shown."""
    token = "Zq7xK2m\u00e99vLw4Rt\u00e08nBc3Jq\u00fcW5yHk2T"
    scrubber = Scrubber(["T"], environ={"T": token})
    echoed = f"Bearer {token}".encode("latin-1").decode("utf-8", "replace")
    assert "\ufffd" in echoed
    assert scrubber.scrub(echoed) == "Bearer ***"


def test_a_secret_echoed_in_the_other_unicode_normalisation_form_is_masked() -> None:
    """Round 15: a password in NFC echoed in NFD (or the reverse) looks the same on screen
    and was shown whole."""
    import unicodedata

    password = "\u00f1and\u00fa-\u00e7\u00df-\u00e9\u00e8-\u00fc4\u00f69\u00e42\u00ff"
    scrubber = Scrubber(["P"], environ={"P": password})
    for form in ("NFD", "NFC"):
        echoed = f"bad password {unicodedata.normalize(form, password)} for bob"
        assert scrubber.scrub(echoed) == "bad password *** for bob"
