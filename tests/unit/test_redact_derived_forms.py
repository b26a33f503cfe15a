"""What the scrubber derives from a secret, rather than was given, is masked only where it
cannot garble a report (attack round 33a).

A secret's forms are searched in the normalised view of a text too (escapes decoded), and a
base64 secret stands for what it decodes to. Both reach past the value as given: a CI
variable `%3Cfailure` has no markup, its view `<failure` is junit.xml's markup; base64 of
`sg:<failure` or of `sg:❌ **gate FAILED …**` decodes to markup and to the verdict line.
Masked, they turned a failing case's element into text (the case read as passed) and put
`***` in place of summary.md's verdict.
"""

from __future__ import annotations

import base64

import pytest

from smokegate.redact import MASK, Scrubber

JUNIT = (
    '<testsuite failures="1"><testcase classname="checks.test_health" name="test_status[api]">'
    '<properties><property name="gate" value="gating" /></properties>'
    '<failure message="Failed: [critical] status 503, expected 200">details</failure>'
    "</testcase></testsuite>"
)
SUMMARY = "# smokegate\n\n❌ **gate FAILED (--fail-on low): 1 critical**\n\n| critical | status |"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "values",
    [
        # percent-escaped markup: the view is junit's own
        ["%3Cfailure%20message%3D%22Failed", "dependencies%3C%2Ffailure%3E"],
        ["%3Cfailure", "%3C%2Ffailure%3E"],
        ["\\u003cfailure", "\\u003c/failure\\u003e"],
        ["%3Cproperty%20name%3D%22gate%22%20value%3D%22gating%22%20%2F%3E"],
        # base64 of a pair whose parts are markup
        [_b64("sg:<failure message="), _b64("sg:</failure>")],
        [_b64("xy:<failure"), _b64("xy:</failure>")],
    ],
)
def test_a_ci_variable_whose_derived_text_is_markup_leaves_junit_whole(values) -> None:
    environ = {f"CI_KEY_{i}": v for i, v in enumerate(values)}
    scrubber = Scrubber([], environ=environ)
    assert scrubber.mask_known(JUNIT) == JUNIT
    # the values as given are masked where they stand, unless they hold a piece of a
    # verdict line or of junit's own text in their view (round 38a: no secret then)
    kept = scrubber.secrets()
    assert kept or any("failed" in v.lower() or "gating" in v for v in values)
    for value in kept:
        assert MASK in scrubber.mask_known(f"echoed {value} here")


@pytest.mark.parametrize(
    "decoded",
    [
        "sg:❌ **gate FAILED (--fail-on low): 1 critical**",
        "sg:gate FAILED (--fail-on low): 1 critical",
        "sg:| critical | status |",
    ],
)
def test_a_base64_ci_variable_standing_for_smokegate_s_lines_leaves_them_whole(decoded) -> None:
    scrubber = Scrubber([], environ={"CI_DEPLOY_KEY": _b64(decoded)})
    assert scrubber.mask_known(SUMMARY) == SUMMARY
    assert scrubber.scrub(SUMMARY) == SUMMARY


def test_a_view_of_escaped_words_of_a_verdict_is_not_searched() -> None:
    """Round 33a F5: `gate%20%3Cb%3EFAILED%3C%2Fb%3E` masked report.html's banner text."""
    page = "<p>gate &lt;b&gt;FAILED&lt;/b&gt; at --fail-on low</p><b>FAILED</b>"
    scrubber = Scrubber([], environ={"CI_JOB_TOKEN": "gate%20%3Cb%3EFAILED%3C%2Fb%3E"})
    assert scrubber.mask_known(page) == page


def test_derived_text_that_is_a_credential_is_still_masked() -> None:
    """The reach kept: an escaped token's view, a pre-encoded pair's password."""
    scrubber = Scrubber(
        ["TOKEN", "PRE"],
        environ={
            "TOKEN": "Zq7x%2FK2mP9vLw4RtY8n",
            "PRE": _b64("svc-deploy:Hunter2-Pr0d-Passw0rd"),
        },
    )
    assert scrubber.scrub("token Zq7x/K2mP9vLw4RtY8n echoed") == f"token {MASK} echoed"
    assert scrubber.scrub("password=Hunter2-Pr0d-Passw0rd") == f"password={MASK}"


@pytest.mark.parametrize("password", ["correct horse battery staple 42", "Tr0ub4dor&3-Xk"])
def test_the_env_s_own_pre_encoded_basic_value_still_masks_its_decoded_password(password):
    """Round 34a F1: round 33a's rule dropped every decoded text holding a blank or `&`, so
    the env's own pre-encoded Basic value (`header: {scheme: Basic, value_env: ...}`) whose
    passphrase holds one was shown whole when the server decoded and echoed it. What the
    env's own credential stands for is masked as before; a CI-only variable's is not."""
    encoded = _b64(f"svc-deploy:{password}")
    own = Scrubber(["PRE"], environ={"PRE": encoded})
    assert own.scrub(f"bad password {password} for svc-deploy") == (
        f"bad password {MASK} for svc-deploy"
    )
    escaped = password.replace("&", "&amp;")
    assert password not in own.mask_known(f"<p>{escaped}</p>").replace("&amp;", "&")
    ci_only = Scrubber([], environ={"CI_DEPLOY_KEY": encoded})
    assert ci_only.scrub(f"said {password}") == f"said {password}"


def test_derived_text_holding_a_fact_of_the_run_is_not_masked(empty_registry) -> None:
    """Round 34a F2: a token endpoint handed out base64 of `sg:<target name>`; the decoded
    name masked two targets' names into one case id."""
    redact = empty_registry
    redact.protect_own_facts(["payments-core-api", "http://127.0.0.1:8080/health"])
    scrubber = Scrubber([], environ={"CI_DEPLOY_KEY": _b64("sg:payments-core-api")})
    line = "test_endpoint[payments-core-api] FAILED"
    assert scrubber.scrub(line) == line


@pytest.mark.parametrize(
    "values",
    [
        {"AWS_SESSION_TOKEN": "<failure message=", "AWS_SECRET_ACCESS_KEY": "</failure>"},
        {"AWS_SESSION_TOKEN": "❌ **gate FAILED", "AWS_ID_TOKEN": "[critical] endpoint core-api"},
        {"AWS_SECURITY_TOKEN": _b64("x:</failure>")},
    ],
)
def test_aws_secret_variables_are_the_runner_s_not_the_env_s(values) -> None:
    """Round 36a: AWS's secret variables were trusted as the env's own credentials, so the
    rules for CI variables (no blank, no markup, nothing unsafe derived) were skipped, and
    they masked junit.xml's failure element and summary.md's verdict line."""
    scrubber = Scrubber([], environ=values)
    assert scrubber.mask_known(JUNIT) == JUNIT
    assert scrubber.mask_known(SUMMARY) == SUMMARY


def test_an_aws_secret_key_is_still_masked() -> None:
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq7xK2mP9v"
    scrubber = Scrubber([], environ={"AWS_SECRET_ACCESS_KEY": key})
    assert scrubber.scrub(f"secret={key}") == f"secret={MASK}"


@pytest.mark.parametrize(
    "contents",
    [("<failure message=", "</failure>"), ("❌ **gate FAILED", "[critical] endpoint core-api")],
)
def test_aws_token_files_are_the_runner_s_too(empty_registry, tmp_path, contents) -> None:
    """Round 37a F1: the files AWS_WEB_IDENTITY_TOKEN_FILE and
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE name were read as secrets with no rule, while
    the variables themselves were judged as CI variables: markup in them masked junit.xml's
    failure element, a verdict in them summary.md's verdict line."""
    first, second = tmp_path / "one", tmp_path / "two"
    first.write_text(contents[0], encoding="utf-8")
    second.write_text(contents[1], encoding="utf-8")
    scrubber = Scrubber(
        [],
        environ={
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(first),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(second),
        },
    )
    assert scrubber.secrets() == []
    assert scrubber.mask_known(JUNIT) == JUNIT
    assert scrubber.mask_known(SUMMARY) == SUMMARY


# the page pytest-html writes around the run's data, and pytest's JUnit attributes
PAGE = (
    '<div id="data-container" data-jsonblob="{&#34;environment&#34;: {}}"></div>'
    '<template id="template_results-table__tbody">'
)


@pytest.mark.parametrize(
    "value",
    ["data-jsonblob", "jsonblob", "data-container", "results-table__tbody", "skipped="],
)
def test_a_ci_variable_that_is_a_word_of_the_report_writers_is_no_secret(value) -> None:
    """Round 37a F3: the own-text rules knew smokegate's source only; a CI variable
    `data-jsonblob` (pytest-html's page template) masked the attribute holding every case
    in the reports' last pass, and the page showed none; `skipped=` made junit.xml no
    XML. Directly and as what a base64 value decodes to."""
    for scrubber in (
        Scrubber([], environ={"CI_DEPLOY_TOKEN": value}),
        Scrubber([], environ={"CI_DEPLOY_TOKEN": _b64(f"x:{value}")}),
    ):
        junit = JUNIT.replace("<testsuite ", '<testsuite skipped="0" ')
        assert scrubber.mask_known(PAGE) == PAGE
        assert scrubber.mask_known(junit) == junit


@pytest.mark.parametrize("value", ["**gateFAILED", "❌**gateFAILED", "FAILED(--fail-onhigh):1"])
@pytest.mark.parametrize(
    "route", ["CI_DEPLOY_TOKEN", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "base64"]
)
def test_a_runner_value_of_a_verdict_without_its_blanks_masks_nothing(
    empty_registry, tmp_path, value, route
) -> None:
    """Round 38a F1: the scrubber searches a text's view with its blanks dropped; a CI or
    AWS variable, a token file or a base64 value standing for `❌**gateFAILED` (no blank, no
    markup) matched the view of summary.md's `❌ **gate FAILED` and masked the verdict."""
    summary = "❌ **gate FAILED (--fail-on high): 1 critical**\n\n| critical | status |"
    if route == "AWS_WEB_IDENTITY_TOKEN_FILE":
        token = tmp_path / "token"
        token.write_text(value, encoding="utf-8")
        environ = {route: str(token)}
    elif route == "base64":
        environ = {"CI_DEPLOY_TOKEN": _b64(f"sg:{value}")}
    else:
        environ = {route: value}
    scrubber = Scrubber([], environ=environ)
    assert scrubber.mask_known(summary) == summary
    assert scrubber.scrub(summary) == summary


@pytest.mark.parametrize(
    "value",
    [
        "ateFAILED(--fail-onlow):2high,",  # the verdict, a count and its joint
        "w;0verifiednothing(gatesatany--fail-on);0belowthegate(0l",
        "[high]endpoint",  # a severity's bracket and a check
        "Failed:[high",  # pytest's prefix and a severity
        "nothing)]accepts_token",
    ],
)
def test_a_runner_value_across_three_pieces_of_a_verdict_or_case_line_masks_nothing(
    empty_registry, value
) -> None:
    """Round 40a F1, F2: a CI variable spanning the verdict, a count and its joint, or a
    severity's bracket and a check, was no window's piece whole and masked the verdict
    (`g*** 6 medium`) or every case line's severity and check in every output."""
    verdict = "gate FAILED (--fail-on low): 2 high, 6 medium, 1 low; 5 verified nothing"
    verdict += " (gates at any --fail-on); 1 below the gate (1 low)"
    lines = [
        verdict,
        "Failed: [high] endpoint billing-health (https://billing.test/): status 503",
        "[critical (verified nothing)] accepts_token api: not run",
    ]
    scrubber = Scrubber([], environ={"CI_DEPLOY_TOKEN": value})
    for line in lines:
        assert scrubber.scrub(line) == line
        assert scrubber.mask_known(line) == line


def test_a_password_holding_a_severity_and_a_check_s_word_is_still_masked(empty_registry):
    password = "high-endpoint-Zq7xK2"
    scrubber = Scrubber([], environ={"CI_DEPLOY_TOKEN": password})
    assert scrubber.scrub(f"echo {password}") == f"echo {MASK}"


@pytest.mark.parametrize(
    ("value", "document"),
    [
        ("#10;measured:", '<failure message="[high] api: down&#10;measured: not run" />'),
        ("#34;tests", '<div data-jsonblob="{&#34;environment&#34;: {}, &#34;tests&#34;: {}}">'),
        ("nmeasured:x0", '{"log": "down\\nmeasured:x0"}'),
    ],
)
def test_the_last_pass_never_masks_from_inside_an_escape_its_writer_made(
    empty_registry, value, document
) -> None:
    """Round 40a F3, F4: a CI variable starting inside `&#10;` or `&#34;` masked half the
    reference: junit.xml was no XML, report.html's data no JSON. What such a match covers
    is not the value (the escape stands for another character), so nothing is masked."""
    assert Scrubber([], environ={"CI_DEPLOY_TOKEN": value}).mask_known(document) == document


def test_the_last_pass_masks_an_escape_a_match_ends_in_whole(empty_registry) -> None:
    """Round 40a F5: `Zq\\u00e9\\` (backslash-u written out, a backslash last) masked the
    first backslash of JSON's `\\\\u003c`, which then read as `<`: the mask takes the
    escape whole, and what is left reads as text."""
    import json

    secret = "Zq\\u00e9\\"
    document = json.dumps({"v": "Zq\u00e9\\u003cimg src=x onerror=alert(1)"})
    masked = Scrubber([], environ={"CI_DEPLOY_TOKEN": secret}).mask_known(document)
    assert MASK in masked
    assert "<" not in json.loads(masked)["v"]


TOKEN = "Kx7Qm2Rv9Tz4Wp6Ny8Lb3Hd5"


@pytest.mark.parametrize(
    "echo",
    [
        "/".join(TOKEN),
        "+".join(TOKEN),
        "-".join(TOKEN[::-1]),
        " / ".join(TOKEN),
        base64.b32encode(TOKEN.encode()).decode(),
        base64.b32encode(TOKEN.encode()).decode().rstrip("=").lower(),
    ],
    ids=["slashes", "pluses", "reversed-dashes", "spaced-slashes", "base32", "base32-lower"],
)
def test_a_token_a_target_echoes_spread_or_in_base32_is_masked(empty_registry, echo) -> None:
    """Round 41a F1: a target echoed the bearer token it was sent in a header spread with
    `/` or `+`, reversed with `-`, or in base32: none was a form of the list, and the
    security_headers failure quoted it whole in every report."""
    scrubber = Scrubber(["API_TOKEN"], environ={"API_TOKEN": TOKEN})
    line = f"Server 'nginx/1.2 ({echo})' reveals a version"
    # every text is scrubbed on its way into a report; the reports' last whole-file pass
    # searches no spread (round 42a F5: one across pytest-html's JSON emptied the page)
    assert scrubber.scrub(line) == f"Server 'nginx/1.2 ({MASK})' reveals a version"


@pytest.mark.parametrize(
    "echo",
    [
        "\u00b7".join(TOKEN),  # round 42a F2: separators other than ASCII
        "\u00d7".join(TOKEN),
        "/".join(TOKEN[:10]),  # a token of 10 letters and digits
        "/".join(TOKEN.encode().hex()[i : i + 2] for i in range(0, 2 * len(TOKEN), 2)),
    ],
    ids=["middle-dots", "times", "ten-characters", "hex-bytes"],
)
def test_a_token_spread_over_other_separators_or_as_hex_bytes_is_masked(empty_registry, echo):
    token = TOKEN[:10] if echo.count("/") == 9 else TOKEN
    scrubber = Scrubber(["API_TOKEN"], environ={"API_TOKEN": token})
    assert scrubber.scrub(f"Server 'x ({echo})'") == f"Server 'x ({MASK})'"


def test_a_fetched_token_of_smokegate_s_words_is_not_searched_spread(empty_registry):
    """Round 42a F1: a token endpoint's `FAILEDfailonlow`, searched spread, masked the
    verdict `gate FAILED (--fail-on low): 1 high` across its brackets."""
    scrubber = Scrubber(["API_TOKEN"], environ={"API_TOKEN": "FAILEDfailonlow"})
    line = "gate FAILED (--fail-on low): 1 high"
    assert scrubber.scrub(line) == line


def test_a_runner_value_is_not_searched_spread_over_smokegate_s_punctuation(empty_registry):
    """Spreads are searched for the secrets a target was sent only: a CI variable's letters
    and digits joined across the verdict's punctuation would mask it."""
    scrubber = Scrubber([], environ={"CI_DEPLOY_TOKEN": "critical1high2medium"})
    line = "gate FAILED (--fail-on low): 3 critical, 1 high, 2 medium"
    assert scrubber.scrub(line) == line


@pytest.mark.parametrize("value", [":26passed,14failed", "passed,14failed,1ski"])
def test_a_runner_value_of_the_env_line_s_counts_masks_nothing(empty_registry, value) -> None:
    """Round 41a F3: the console's env line read `env demo***, 1 skipped`."""
    line = "env demo: 26 passed, 14 failed, 1 skipped"
    assert Scrubber([], environ={"CI_DEPLOY_TOKEN": value}).scrub(line) == line


def test_a_host_is_quoted_as_the_url_writes_it() -> None:
    """Round 48a F3: urlsplit's `hostname` lower-cases the host, and a secret written in a
    host (masked as written) was shown lower-cased beside its mask: in the derived case
    name, "DNS lookup failed for" and the Cleartext notice."""
    from urllib.parse import urlsplit

    from smokegate.config import _derive_name
    from smokegate.http_spec import written_host

    assert written_host(urlsplit("http://Pr0dSecretTok.Example.com:8080/x")) == (
        "Pr0dSecretTok.Example.com"
    )
    assert written_host(urlsplit("https://[::1]:8443/")) == "::1"
    assert _derive_name("http://Pr0dSecretTok.example.com/orders") == (
        "Pr0dSecretTok.example.com/orders"
    )
