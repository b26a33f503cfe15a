"""Security headers: one case per endpoint with `security_headers:`, judged on the same probe
as its health check (no extra request)."""

import pytest

from smokegate.rules.headers import check_security_headers


@pytest.mark.health
@pytest.mark.default_severity("medium")
def test_security_headers(headers_endpoint, http_results, enforce):
    enforce(check_security_headers(headers_endpoint, http_results.endpoint(headers_endpoint)))
