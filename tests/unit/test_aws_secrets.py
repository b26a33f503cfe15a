"""The botocore event handlers that register the secrets botocore handles by itself: what a
call sends (signing credentials, SSO and OIDC parameters) and what an answer hands out."""

from __future__ import annotations

import json

import boto3
from botocore.credentials import Credentials

from smokegate.gather.aws_secrets import _after_call, _before_call, watch_session
from smokegate.redact import Scrubber, registered_secrets


class _Signer:
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials


def test_a_calls_signing_credentials_are_registered_before_it_is_sent():
    signer = _Signer(Credentials("ASIAEXAMPLE", "signing-secret-key-0001", "signing-token-0001"))
    _before_call(params={"headers": {}, "body": {}}, request_signer=signer)
    assert {"signing-secret-key-0001", "signing-token-0001"} <= set(registered_secrets())


def test_secret_parameters_of_sso_oidc_and_sts_calls_are_registered():
    body = json.dumps(
        {
            "clientId": "public-id",
            "clientSecret": "oidc-client-secret-0001",
            "refreshToken": "oidc-refresh-token-0001",
            "grantType": "refresh_token",
        }
    )
    _before_call(
        params={
            "headers": {"x-amz-sso_bearer_token": "sso-bearer-token-0001"},
            "body": body.encode(),
        }
    )
    _before_call(
        params={
            "headers": {},
            "body": {
                "Action": "AssumeRoleWithWebIdentity",
                "WebIdentityToken": "wEb1dT0k-0001-Zq9x",
            },
        }
    )
    known = set(registered_secrets())
    assert {
        "oidc-client-secret-0001",
        "oidc-refresh-token-0001",
        "sso-bearer-token-0001",
        "wEb1dT0k-0001-Zq9x",
    } <= known
    assert "public-id" not in known and "refresh_token" not in known


def test_secrets_an_answer_hands_out_are_registered_wherever_they_are_nested():
    _after_call(
        parsed={
            "roleCredentials": {
                "accessKeyId": "ASIAEXAMPLE",
                "secretAccessKey": "answer-secret-key-0001",
                "sessionToken": "answer-session-token-0001",
            },
            "items": [{"accessToken": "answer-access-token-0001"}],
        }
    )
    known = set(registered_secrets())
    assert {
        "ASIAEXAMPLE",  # a key id too, as the env's own is masked (round 11)
        "answer-secret-key-0001",
        "answer-session-token-0001",
        "answer-access-token-0001",
    } <= known
    assert Scrubber([], environ={}).scrub("got answer-access-token-0001") == "got ***"


def test_the_handlers_are_on_every_client_of_a_watched_session():
    """Clients the credential providers create later come from the same botocore session,
    so they carry the handlers too."""
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x" * 20, region_name="us-east-1"
    )
    watch_session(session)
    client = session.client("sts")
    emitted = client.meta.events.emit(
        "after-call.sts.GetCallerIdentity",
        parsed={"SessionToken": "emitted-token-0001"},
        http_response=None,
        model=None,
        context={},
    )
    assert emitted and "emitted-token-0001" in registered_secrets()
