"""The scrubber and AWS credentials: STS answers, security-token headers, OIDC tokens and
credentials obtained at run time, as botocore logs them at DEBUG.

The same through a real run that assumes a role on a moto server: tests/e2e/test_redact_aws.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from smokegate import redact
from smokegate.redact import MASK, Scrubber, ScrubFilter, register_secret

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY"


SESSION = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc=="


JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ"
    ".eyJzdWIiOiJyZXBvOm9yZy9hcHAiLCJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU_-x"
)


@pytest.fixture
def scrubber() -> Scrubber:
    return Scrubber([], environ={})


@pytest.fixture(autouse=True)
def clean_registry():
    """register_secret is process-wide: each test starts with none registered (another test
    of the same worker may have assumed a role) and ends with what was there."""
    before = set(redact._registered)
    redact._registered.clear()
    yield
    redact._registered.clear()
    redact._registered.update(before)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # STS's XML answer, as botocore logs the response body (bytes repr)
            "Response body:\nb'<AssumeRoleResponse><AssumeRoleResult><Credentials>"
            f"<AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>{SECRET}</SecretAccessKey>"
            f"<SessionToken>{SESSION}</SessionToken></Credentials>'",
            "Response body:\nb'<AssumeRoleResponse><AssumeRoleResult><Credentials>"
            "<AccessKeyId>***</AccessKeyId><SecretAccessKey>***</SecretAccessKey>"
            "<SessionToken>***</SessionToken></Credentials>'",
        ),
        (  # pretty-printed XML, value on its own line
            f"<SessionToken>\n  {SESSION}\n</SessionToken>",
            "<SessionToken>***</SessionToken>",
        ),
        (  # parsed response as a dict repr
            repr({"Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": SECRET}}),
            "{'Credentials': {'AccessKeyId': '***', 'SecretAccessKey': '***'}}",
        ),
        (  # JSON
            json.dumps({"SessionToken": SESSION, "Expiration": "2026-01-01"}),
            '{"SessionToken": "***", "Expiration": "2026-01-01"}',
        ),
        (  # request headers as botocore logs them: a dict of bytes
            repr({"X-Amz-Security-Token": SESSION.encode(), "X-Amz-Date": b"20260101T000000Z"}),
            "{'X-Amz-Security-Token': b'***', 'X-Amz-Date': b'20260101T000000Z'}",
        ),
        (  # a header line
            f"x-amz-security-token: {SESSION}\r\nhost: sts.amazonaws.com",
            "x-amz-security-token: ***\r\nhost: sts.amazonaws.com",
        ),
        (  # a presigned URL's query
            f"GET /?X-Amz-Security-Token={SESSION.replace('/', '%2F')}&X-Amz-Signature=abc",
            "GET /?X-Amz-Security-Token=***&X-Amz-Signature=***",
        ),
        (  # AssumeRoleWithWebIdentity's form body (a JWT, masked by either rule)
            f"Action=AssumeRoleWithWebIdentity&WebIdentityToken={JWT}&Version=2011-06-15",
            "Action=AssumeRoleWithWebIdentity&WebIdentityToken=***&Version=2011-06-15",
        ),
        (  # the same token in API params, not JWT-shaped
            "{'RoleArn': 'arn:aws:iam::1:role/x', 'WebIdentityToken': 'opaque-oidc-token-1'}",
            "{'RoleArn': 'arn:aws:iam::1:role/x', 'WebIdentityToken': '***'}",
        ),
        (  # a JWT anywhere
            f"id token {JWT} received",
            f"id token {MASK} received",
        ),
        (  # a credentials file's lines, quoted by an error: listed as shapes, and once
            # skipped by the quick pre-check, whose names did not include them
            "aws_secret_access_key = opaque-secret-key-0001\naws_session_token=opaque-tok-01",
            "aws_secret_access_key = ***\naws_session_token=***",
        ),
        (  # botocore's DEBUG log of an SSO GetRoleCredentials request
            "headers={'x-amz-sso_bearer_token': b'opaque-sso-access-token-1', 'User-Agent': 'x'}",
            "headers={'x-amz-sso_bearer_token': b'***', 'User-Agent': 'x'}",
        ),
        (  # ... and of an SSO-OIDC CreateToken body and answer
            'b\'{"clientSecret": "opaque-client-secret", "refreshToken": "opaque-refresh"}\'',
            'b\'{"clientSecret": "***", "refreshToken": "***"}\'',
        ),
        (
            '{"accessToken": "opaque-new-access", "expiresIn": 3600, "idToken": "opaque-id-1"}',
            '{"accessToken": "***", "expiresIn": 3600, "idToken": "***"}',
        ),
        (  # lookalikes that are not credentials stay; a key id is masked by its name, as
            # the env's own AWS_ACCESS_KEY_ID is (round 11: an assumed role's was not)
            "AccessKeyId=ASIAEXAMPLE RoleSessionName=smokegate-audit eyJ.not-a.jwt",
            "AccessKeyId=*** RoleSessionName=smokegate-audit eyJ.not-a.jwt",
        ),
    ],
)
def test_aws_credential_shapes_are_masked(scrubber, text, expected):
    assert scrubber.scrub(text) == expected


def test_aws_id_token_value_is_a_secret():
    scrubber = Scrubber([], environ={"AWS_ID_TOKEN": "opaque-ci-id-token"})
    assert scrubber.scrub("the opaque-ci-id-token!") == f"the {MASK}!"
    assert scrubber.scrub("token=opaque-ci-id-token!") == f"token={MASK}"  # by name, whole


@pytest.mark.parametrize(
    "variable", ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
)
def test_aws_token_file_contents_are_a_secret(tmp_path: Path, variable: str):
    token_file = tmp_path / "token"
    token_file.write_text("first-oidc-token\n", encoding="utf-8")
    scrubber = Scrubber([], environ={variable: str(token_file)})
    assert scrubber.scrub("read first-oidc-token") == f"read {MASK}"
    token_file.write_text("second-oidc-token-rotated\n", encoding="utf-8")  # rotated by the CI
    assert scrubber.scrub("read second-oidc-token-rotated") == f"read {MASK}"


def test_a_missing_token_file_is_no_secret_and_no_error(tmp_path: Path):
    scrubber = Scrubber([], environ={"AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "none")})
    assert scrubber.secrets() == []
    assert scrubber.scrub("nothing here") == "nothing here"


def test_registered_secrets_are_masked_by_every_scrubber(scrubber):
    # "seen" names no credential: the value is masked by registration alone
    assert scrubber.scrub(f"seen {SECRET}") == f"seen {SECRET}"
    register_secret(SECRET)
    register_secret("ab")  # too short to be one: ignored
    register_secret(None)
    assert scrubber.scrub(f"seen {SECRET}, ab") == f"seen {MASK}, ab"
    assert Scrubber([], environ={}).scrub(repr(SECRET)) == f"'{MASK}'"


def test_log_records_with_sts_answers_are_masked():
    logger = logging.getLogger("botocore.parsers.test_redact_aws")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(ScrubFilter(Scrubber([], environ={})))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        body = f"<SecretAccessKey>{SECRET}</SecretAccessKey>".encode()
        logger.debug("Response body:\n%r", body)
        logger.debug("Response headers: %r", {"X-Amz-Security-Token": SESSION})
    finally:
        logger.removeHandler(handler)
    assert records == [
        "Response body:\nb'<SecretAccessKey>***</SecretAccessKey>'",
        "Response headers: {'X-Amz-Security-Token': '***'}",
    ]


@pytest.mark.parametrize(
    "value", ["**gate FAILED", "1 critical", "high):\t1", "abc<def", "payments prod key"]
)
def test_a_found_aws_credential_with_a_blank_or_markup_is_refused_whole(empty_registry, value):
    """Round 37a F2: each blank-separated piece of a credential botocore found was judged
    alone (`**gate`, `FAILED`: too short to hold a phrase), then the whole value was
    registered, and `AWS_SECRET_ACCESS_KEY='**gate FAILED'` masked summary.md's verdict."""
    from smokegate.facts.iam import IamAuditError
    from smokegate.gather.aws_secrets import register_found_credential

    with pytest.raises(IamAuditError, match="holds a blank or markup, which no AWS key"):
        register_found_credential(value)
    verdict = "❌ **gate FAILED (--fail-on high): 1 critical**"
    assert empty_registry.process_scrubber().scrub(verdict) == verdict


def test_a_found_aws_credential_is_registered(empty_registry):
    from smokegate.gather.aws_secrets import register_found_credential

    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq7xK2mP9v"
    register_found_credential(f"  {key}\n")
    assert empty_registry.process_scrubber().scrub(f"signed with {key}") == f"signed with {MASK}"
