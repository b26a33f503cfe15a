"""TLS: one case per `tls:` target: verified chain and host name, enough days left."""

import pytest

from smokegate.rules.tls import check_certificate


@pytest.mark.tls
@pytest.mark.default_severity("high")
def test_certificate(tls_target, tls_results, enforce):
    enforce(check_certificate(tls_target, tls_results.certificate(tls_target)))
