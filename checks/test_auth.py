"""Auth: per `auth:` entry, closed without credentials, open with the token, closed to a
token nobody issued, closed to each low-privilege token. Separate cases, so a report says
which one broke."""

import pytest

from smokegate.rules.auth import check_auth

pytestmark = [pytest.mark.auth, pytest.mark.default_severity("high")]


def test_rejects_anonymous(anonymous_case, http_results, enforce):
    enforce(check_auth(anonymous_case, http_results.auth(anonymous_case)))


def test_accepts_token(token_case, http_results, enforce):
    enforce(check_auth(token_case, http_results.auth(token_case)))


def test_rejects_invalid_token(invalid_case, http_results, enforce):
    enforce(check_auth(invalid_case, http_results.auth(invalid_case)))


def test_forbids_low_privilege(forbidden_case, http_results, enforce):
    enforce(check_auth(forbidden_case, http_results.auth(forbidden_case)))
