"""Health: one case per `endpoints:` entry, every expectation judged on one probe."""

import pytest

from smokegate.rules.health import check_endpoint


@pytest.mark.health
@pytest.mark.default_severity("high")
def test_endpoint(endpoint, http_results, enforce):
    enforce(check_endpoint(endpoint, http_results.endpoint(endpoint)))
