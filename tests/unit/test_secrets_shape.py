"""`looks_like_credential`: every credential shape is recognised by its kind, and ordinary
text (a bearer challenge, a URL, a variable name) is not taken for one."""

from __future__ import annotations

import pytest

from smokegate.secrets_shape import looks_like_credential
from tests.support.env_files import KINDS, SHAPES


@pytest.mark.parametrize("label", list(SHAPES))
def test_each_shape_is_recognised(label):
    assert looks_like_credential(SHAPES[label]) == KINDS.get(label, label)


@pytest.mark.parametrize(
    "text",
    [
        "Bearer authentication is required",
        "https://api.example.com/v1/tokens",
        "ASIA-pacific rollout",
        "xoxo",
        "API_TOKEN",
        'Basic realm="api"',  # a challenge
        "Basic authentication is required",
        "Basic YWRtaW4=",  # base64 of a word with no colon: no pair
        "token expired_or_invalid_signature",  # no digit: words
        "Token authentication failed",
        "Bot framework integration",  # a scheme word followed by words
    ],
)
def test_ordinary_text_is_not_a_credential(text):
    assert looks_like_credential(text) is None
