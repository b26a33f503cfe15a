"""Security-header rule: the OWASP baseline, weak values, and restriction to a list."""

import pytest

from smokegate.config import SECURITY_HEADERS, Endpoint
from smokegate.facts.http import Headers, ProbeResult
from smokegate.rules.headers import CHECKS, check_security_headers, selected_headers

GOOD = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'",
    "Referrer-Policy": "no-referrer",
    "Server": "nginx",
}


def check(headers: dict[str, str], setting: bool | list[str] = True):
    endpoint = Endpoint(name="web", url="https://web.example.com/", security_headers=setting)
    probe = ProbeResult(key="k", url=endpoint.url, status=200, headers=Headers(headers))
    return check_security_headers(endpoint, probe)


def test_no_response_fails_and_only_a_request_never_sent_verified_nothing():
    endpoint = Endpoint(name="web", url="https://web.example.com/", security_headers=True)
    refused = ProbeResult(key="k", url=endpoint.url, error="connection refused by web")
    unsent = ProbeResult(key="k", url=endpoint.url, error="not mocked", sent=False)
    refused_verdict = check_security_headers(endpoint, refused)
    assert refused_verdict.problems == ("connection refused by web",)
    assert refused_verdict.verified
    unsent_verdict = check_security_headers(endpoint, unsent)
    assert not unsent_verdict.passed
    assert not unsent_verdict.verified


def test_baseline_passes():
    verdict = check(GOOD)
    assert verdict.passed
    assert verdict.measured == "7/7 headers ok"


def test_nothing_set_lists_every_missing_header_at_once():
    verdict = check({})
    assert verdict.measured == "2/7 headers ok"  # no Server / X-Powered-By to leak a version
    assert [p.split(" ")[0] for p in verdict.problems] == [
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Content-Security-Policy",
        "Referrer-Policy",
    ]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        (
            "Strict-Transport-Security",
            "max-age=31535999",
            "Strict-Transport-Security max-age=31535999 is below 31536000 (one year)",
        ),
        (
            "Strict-Transport-Security",
            "includeSubDomains",
            "Strict-Transport-Security 'includeSubDomains' has no max-age",
        ),
        ("X-Content-Type-Options", "sniff", "X-Content-Type-Options is 'sniff', want nosniff"),
        (
            "X-Frame-Options",
            "ALLOW-FROM https://a.example",
            "X-Frame-Options is 'ALLOW-FROM https://a.example', want DENY or SAMEORIGIN "
            "(or CSP frame-ancestors)",
        ),
        (
            "Referrer-Policy",
            "no-referrer, unsafe-url",
            "Referrer-Policy 'no-referrer, unsafe-url' leaks full URLs to other origins",
        ),
        ("Server", "Apache/2.4.58 (Ubuntu)", "Server 'Apache/2.4.58 (Ubuntu)' reveals a version"),
        ("X-Powered-By", "PHP/8.1.2", "X-Powered-By 'PHP/8.1.2' reveals a version"),
    ],
)
def test_weak_values_are_named(name, value, problem):
    verdict = check({**GOOD, name: value})
    assert verdict.problems == (problem,)


def test_hsts_at_exactly_one_year_passes_and_quoted_max_age_is_read():
    assert check({**GOOD, "Strict-Transport-Security": 'max-age="31536000"'}).passed


def test_csp_frame_ancestors_replaces_x_frame_options():
    headers = {k: v for k, v in GOOD.items() if k != "X-Frame-Options"}
    headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    assert check(headers).passed


def test_report_only_csp_is_not_enforcement():
    headers = {k: v for k, v in GOOD.items() if k != "Content-Security-Policy"}
    headers["Content-Security-Policy-Report-Only"] = "default-src 'self'"
    assert check(headers).problems == (
        "Content-Security-Policy only in report-only mode (not enforced)",
    )


def test_a_list_restricts_the_baseline():
    verdict = check({"X-Content-Type-Options": "nosniff"}, ["X-Content-Type-Options", "server"])
    assert verdict.passed
    assert verdict.measured == "2/2 headers ok"
    assert selected_headers(["SERVER"]) == ("server",)
    assert selected_headers(True) == SECURITY_HEADERS


def test_no_response_is_a_failure_not_a_pass():
    endpoint = Endpoint(url="https://web.example.com/", security_headers=True)
    probe = ProbeResult(key="k", url=endpoint.url, error="connection refused by web.example.com")
    verdict = check_security_headers(endpoint, probe)
    assert verdict.problems == ("connection refused by web.example.com",)


def test_every_configurable_header_has_a_check():
    """config.SECURITY_HEADERS validates the list form; each name there must be judged here."""
    assert tuple(CHECKS) == SECURITY_HEADERS


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        # attack round 5: values a browser ignores or reads as weak, which passed
        ("Referrer-Policy", "unsafe-url, bogus", "leaks full URLs"),  # last KNOWN token wins
        ("Referrer-Policy", "unsafe-url,", "leaks full URLs"),
        ("Referrer-Policy", "bogus", "names no policy browsers know"),
        ("Strict-Transport-Security", "max-age=31536000; max-age=0", "is not valid"),
        ("Strict-Transport-Security", "max-age=31536000abc", "is not valid"),
        ("Strict-Transport-Security", 'max-age="31536000', "is not valid"),
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors *", "lets any site"),
        ("Content-Security-Policy", "frame-ancestors https:", "lets any site"),
    ],
)
def test_values_browsers_ignore_or_read_as_weak_fail(name, value, words):
    headers = {**GOOD, name: value}
    if name == "Content-Security-Policy":
        headers.pop("X-Frame-Options")
    verdict = check(headers)
    assert not verdict.passed and any(words in p for p in verdict.problems), verdict.problems


def test_an_unknown_directive_is_no_frame_ancestors():
    headers = {k: v for k, v in GOOD.items() if k != "X-Frame-Options"}
    headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors-x 'none'"
    assert check(headers).problems == (
        "X-Frame-Options missing and no CSP frame-ancestors (clickjacking)",
    )


def test_named_origins_and_subdomain_wildcards_in_frame_ancestors_pass():
    headers = {k: v for k, v in GOOD.items() if k != "X-Frame-Options"}
    headers["Content-Security-Policy"] = "frame-ancestors 'self' https://*.example.com"
    assert check(headers).passed


def test_hsts_missing_over_plain_http_points_at_the_https_url():
    endpoint = Endpoint(name="web", url="http://web.example.com/", security_headers=True)
    headers = {k: v for k, v in GOOD.items() if k != "Strict-Transport-Security"}
    probe = ProbeResult(key="k", url=endpoint.url, status=200, headers=Headers(headers))
    verdict = check_security_headers(endpoint, probe)
    assert verdict.problems == (
        "Strict-Transport-Security missing, and browsers ignore it over plain http:// anyway "
        "(RFC 6797 §8.1): check the https:// URL",
    )


def test_hsts_over_plain_http_is_ignored_by_browsers():
    endpoint = Endpoint(name="web", url="http://web.example.com/", security_headers=True)
    probe = ProbeResult(key="k", url=endpoint.url, status=200, headers=Headers(GOOD))
    verdict = check_security_headers(endpoint, probe)
    assert any("over plain http:// is ignored by browsers" in p for p in verdict.problems)


@pytest.mark.parametrize(
    ("changed", "passes"),
    [
        # round 36c: a good header sent twice (an app and its proxy) is still that header
        ({"X-Frame-Options": "SAMEORIGIN, SAMEORIGIN"}, True),
        ({"X-Content-Type-Options": "nosniff, nosniff"}, True),
        # HTML: two values, one a keyword, refuse every frame (round 47c F2: an app's DENY
        # beside its proxy's SAMEORIGIN failed); two with no keyword allow every frame
        ({"X-Frame-Options": "DENY, SAMEORIGIN"}, True),
        ({"X-Frame-Options": "SAMEORIGIN, ALLOWALL"}, True),
        ({"X-Frame-Options": "ALLOW-FROM https://a.example, bogus"}, False),
        ({"X-Frame-Options": "ALLOWALL"}, False),
        # any host of a scheme lets any site frame the page
        ({"Content-Security-Policy": "frame-ancestors https://*"}, False),
        # every policy is enforced: one that restricts framing protects the page...
        ({"Content-Security-Policy": "frame-ancestors *, frame-ancestors 'none'"}, True),
        # ...and one that allows any site, alone, overrides X-Frame-Options: DENY
        (
            {
                "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'self', frame-ancestors *",
            },
            False,
        ),
        # a policy of no directive enforces nothing
        ({"Content-Security-Policy": ";;"}, False),
    ],
)
def test_headers_sent_twice_and_several_policies_read_as_browsers_read_them(changed, passes):
    headers = {**GOOD, **changed}
    verdict = check(headers)
    assert verdict.passed is passes, verdict.problems


@pytest.mark.parametrize(
    ("changed", "words"),
    [
        # round 37c: a byte Python counts as a blank and browsers do not (NBSP, NEL, VT)
        ({"Content-Security-Policy": "frame-ancestors\xa0'none'", "X-Frame-Options": None},
         "X-Frame-Options missing and no CSP frame-ancestors"),
        ({"X-Frame-Options": "DENY\xa0"}, "X-Frame-Options is 'DENY"),
        ({"X-Frame-Options": "\x0bSAMEORIGIN"}, "X-Frame-Options is '"),
        ({"X-Content-Type-Options": "nosniff\xa0"}, "want nosniff"),
        ({"Referrer-Policy": "unsafe-url,no-referrer\x85"}, "leaks full URLs"),
        ({"Strict-Transport-Security": "max-age=31536000\xa0"}, "is not valid"),
        # a control character in a directive's name: no token, the header dropped (49c F3)
        ({"Strict-Transport-Security": "max-age\x1f=31536000"}, "is not valid"),
        # a policy that restricts nothing, and a wildcard over a whole top-level domain
        ({"Content-Security-Policy": "report-uri /csp"}, "holds no directive that restricts"),
        ({"Content-Security-Policy": "nonsense; report-to g"}, "holds no directive that"),
        ({"Content-Security-Policy": "frame-ancestors https://*.com", "X-Frame-Options": None},
         "lets any site frame"),
        ({"Content-Security-Policy": "frame-ancestors https://*.localhost:8443/x"},
         "lets any site frame"),
        # round 38c: a directive that is not ASCII is skipped whole by browsers; a policy
        # that only upgrades requests restricts nothing
        ({"Content-Security-Policy": "frame-ancestors 'none'\xa0", "X-Frame-Options": None},
         "X-Frame-Options missing and no CSP frame-ancestors"),
        ({"Content-Security-Policy": "frame-ancestors 'self' https://bücher.example",
          "X-Frame-Options": None}, "X-Frame-Options missing and no CSP frame-ancestors"),
        ({"Content-Security-Policy": "default-src 'self'\xa0"}, "holds no directive browsers"),
        ({"Content-Security-Policy": "upgrade-insecure-requests"}, "no directive that restricts"),
        ({"Content-Security-Policy": "block-all-mixed-content"}, "no directive that restricts"),
    ],
)  # fmt: skip
def test_values_browsers_read_otherwise_than_python_fail(changed, words):
    headers = {k: v for k, v in {**GOOD, **changed}.items() if v is not None}
    verdict = check(headers)
    assert not verdict.passed and any(words in p for p in verdict.problems), verdict.problems


@pytest.mark.parametrize(
    "changed",
    [
        {"X-Frame-Options": " DENY\t"},  # HTTP's own optional whitespace is trimmed
        {"Content-Security-Policy": "frame-ancestors\t'none'\r\n"},
        {"Content-Security-Policy": "sandbox allow-forms; report-uri /csp"},
        {"Content-Security-Policy": "frame-ancestors https://*.example.com:443"},
        {"Referrer-Policy": " no-referrer , strict-origin-when-cross-origin "},
    ],
)
def test_ascii_whitespace_and_restricting_policies_still_pass(changed):
    verdict = check({**GOOD, **changed})
    assert verdict.passed, verdict.problems


@pytest.mark.parametrize(
    "policy",
    [
        "default-src * 'unsafe-inline' 'unsafe-eval' data: blob: filesystem:",
        "script-src * 'unsafe-inline' 'unsafe-eval'",
        "default-src https: 'unsafe-inline'; img-src *",
        "img-src *; connect-src *",
    ],
)
def test_a_csp_letting_in_every_host_and_inline_code_restricts_nothing(policy):
    """Round 41c F3: one directive's name was enough; a policy letting in every host and
    inline script (which scanners fail) passed."""
    (problem,) = check({**GOOD, "Content-Security-Policy": policy}).problems
    assert "holds no directive that restricts anything" in problem


@pytest.mark.parametrize(
    "policy",
    [
        "default-src *",  # a host wildcard still blocks inline script
        "script-src * 'unsafe-inline' 'nonce-r4nd0m'",  # a nonce switches unsafe-inline off
        "default-src * 'unsafe-inline'; frame-ancestors 'none'",
        "default-src 'self' 'unsafe-inline'",
    ],
)
def test_a_csp_restricting_something_still_passes(policy):
    assert check({**GOOD, "Content-Security-Policy": policy}).problems == ()


def test_headers_of_another_host_a_redirect_led_to_are_not_the_url_s():
    """Round 41c F5: a bare 302 to an SSO host sending the whole baseline scored "7/7
    headers ok"; the URL's own host, which sends no HSTS, was never judged."""
    endpoint = Endpoint(name="web", url="https://web.example.com/", security_headers=True)
    probe = ProbeResult(
        key="k",
        url=endpoint.url,
        status=200,
        headers=Headers(GOOD),
        redirects=1,
        final_url="https://sso.example.net/login",
    )
    verdict = check_security_headers(endpoint, probe)
    (problem,) = verdict.problems
    assert problem.startswith("the headers judged are sso.example.net:443's, where a redirect led")
    assert verdict.extra == {"answered_by": "sso.example.net:443"}
    same_host = ProbeResult(
        key="k",
        url=endpoint.url,
        status=200,
        headers=Headers(GOOD),
        redirects=1,
        final_url="https://web.example.com/home",
    )
    assert check_security_headers(endpoint, same_host).problems == ()


ALLOW_ALL = "default-src * 'unsafe-inline' 'unsafe-eval'"


@pytest.mark.parametrize(
    "extra",
    ["; frame-ancestors *", "; form-action *", "; base-uri *", "; webrtc 'allow'",
     "; trusted-types *", " 'nonce-'", " 'nonce-=='", " 'nonce-a=b'", " 'nonce-undefined'",
     " 'nonce-null'", " 'nonce-undefined='"],
)  # fmt: skip
def test_an_allow_all_csp_with_a_directive_restricting_nothing_still_restricts_nothing(extra):
    """Round 42b F4: any directive whose name was not `-src` counted as restricting, and an
    empty `'nonce-'` as switching 'unsafe-inline' off (browsers ignore it); 47c F3: nor
    padding alone, padding inside, or a template's unset nonce (`'nonce-undefined'`: an
    attacker's `<script nonce="undefined">` runs)."""
    problems = check({**GOOD, "Content-Security-Policy": ALLOW_ALL + extra}).problems
    assert any("holds no directive that restricts anything" in p for p in problems), problems


@pytest.mark.parametrize(
    "policy",
    [
        "default-src https://*/ 'unsafe-inline'",
        "default-src *:8443 'unsafe-inline'",
        "script-src http://*:80 'unsafe-inline' 'unsafe-eval'",
        "default-src */app 'unsafe-inline'",
    ],
)
def test_every_host_with_a_port_or_a_path_restricts_nothing(policy):
    """Round 45c F8: a host wildcard with a port or a path matches every host, and passed
    where `*` failed."""
    (problem,) = check({**GOOD, "Content-Security-Policy": policy}).problems
    assert "holds no directive that restricts anything" in problem
    assert check(
        {**GOOD, "Content-Security-Policy": "default-src *.corp.example 'unsafe-inline'"}
    ).passed


@pytest.mark.parametrize(
    ("url", "final_url", "own"),
    [
        ("http://10.1.2.3:8080/", "http://10.1.2.3:9090/login", False),  # another server
        ("https://app.example.com/", "https://app.example.com:8443/", False),
        ("http://app.example.com/", "https://app.example.com/", True),  # the upgrade
        ("http://app.example.com:8080/", "https://app.example.com/", False),
        ("https://app.example.com/", "https://app.example.com:443/home", True),
    ],
)
def test_headers_of_another_port_are_not_the_url_s(url, final_url, own):
    """Round 45c F9: a redirect to the same host on another port (a login service beside
    the app) had that server's headers judged as the URL's own."""
    endpoint = Endpoint(name="web", url=url, security_headers=True)
    probe = ProbeResult(
        key="k", url=url, status=200, headers=Headers(GOOD), redirects=1, final_url=final_url
    )
    problems = check_security_headers(endpoint, probe).problems
    assert (problems == ()) is own, problems


@pytest.mark.parametrize(
    "policy",
    [
        "script-src * 'unsafe-inline'; script-src 'self'",  # the second is ignored
        "default-src * 'unsafe-inline'; default-src 'none'",
        "style-src * 'unsafe-inline' 'strict-dynamic'",  # strict-dynamic is for scripts
    ],
)
def test_a_directive_named_twice_counts_once_as_browsers_read_it(policy):
    """Round 46c F7: browsers keep a directive's first occurrence; a strict one after a
    wide-open one passed."""
    (problem,) = check({**GOOD, "Content-Security-Policy": policy}).problems
    assert "holds no directive that restricts anything" in problem


def _fields(*pairs: tuple[str, str], body: str = "", type_: str = "text/html") -> ProbeResult:
    """A response whose header fields are given one by one, as the wire sends them."""
    names = {name.lower() for name, _ in pairs}
    fields = [(k, v) for k, v in GOOD.items() if k.lower() not in names]
    fields += [*pairs, ("Content-Type", type_)]
    return ProbeResult(
        key="k", url="https://web.example.com/", status=200, headers=Headers(fields),
        body=body.encode(),
    )  # fmt: skip


def _judged(result: ProbeResult):
    endpoint = Endpoint(name="web", url=result.url, security_headers=True)
    return check_security_headers(endpoint, result)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        # Django's line, then nginx's: browsers act on the first (a year): a pass
        (("max-age=31536000", "max-age=63072000; includeSubDomains"), None),
        # an app's typo'd line, then nginx's good one: browsers set no HSTS at all
        (("max_age=31536000; includeSubDomains", "includeSubDomains; max-age=63072000"),
         "has no max-age (the first of several"),
        (("max-age=31536000; includeSubDomains=true",), "is not valid"),
        (("max-age=31536000; includeSubDomains =",), "is not valid"),
        # 49c F3: a missing `;`, a URL as a value: no token, the header dropped
        (("max-age=63072000; includeSubDomains preload",), "is not valid"),
        (("max-age=63072000; report-uri=https://r.example/x",), "is not valid"),
        (('max-age=63072000; report-uri="https://r.example/x"',), None),
        (("max-age=63072000; includeSubDomains; preload",), None),
        # 50c F1: Chromium refuses a second max-age or includeSubDomains only, and a `;`
        # inside a quoted-string separates nothing
        (("max-age=63072000; includeSubDomains; preload; preload",), None),
        (('max-age=63072000; report-uri="https://r.example/h;v=1"',), None),
        (('max-age=63072000; note="say \\"hi\\"; then go"',), None),
        (('max-age="63072000"; includeSubDomains',), None),
        (("max-age=63072000; max-age=63072000",), "is not valid"),
        (("max-age=63072000; includeSubDomains; INCLUDESUBDOMAINS",), "is not valid"),
        # 50c F2: a bare quote inside, a quote never closed, a quote before `=`, no value
        (('max-age=63072000; foo="a"b"',), "is not valid"),
        (('max-age=63072000; foo="a; max-age=1',), "is not valid"),
        (('max-age=63072000; foo="ab\\"',), "is not valid"),
        (('max-age=63072000; "foo"=a',), "is not valid"),
        (('max-age=63072000; foo=a"b"',), "is not valid"),
        (("max-age=63072000; foo=",), "is not valid"),
        (('max-age=63072000; includeSubDomains=""',), "is not valid"),
        # 51c F1: leading zeros are read as the number they pad (0 deletes the HSTS host)
        (("max-age=0000000000000000000",), "max-age=0 is below"),
        (("max-age=00000000000000000086400",), "max-age=86400 is below"),
        (("max-age=000000000000000000031536000",), None),
    ],
)  # fmt: skip
def test_hsts_is_judged_by_its_first_field_as_browsers_read_it(fields, problem):
    """Round 47c F1: RFC 6797 §8.1, "process only the first such header field"; the fields
    were read joined, and a typo'd first line passed beside its proxy's, a good one failed.
    `includeSubDomains` takes no value (Chromium drops the header)."""
    verdict = _judged(_fields(*(("Strict-Transport-Security", f) for f in fields)))
    if problem is None:
        assert verdict.passed, verdict.problems
    else:
        (found,) = verdict.problems
        assert problem in found


def test_the_referrer_rule_reads_the_header_only():
    """A page's `<meta name="referrer">` is not read (docs/auth-tls.md): round 47c F4's
    reader was a regex, and round 48c found it missed live elements and failed text."""
    body = '<template><meta name="referrer" content="unsafe-url"></template>'
    verdict = _judged(_fields(("Referrer-Policy", "no-referrer"), body=body))
    assert verdict.passed, verdict.problems


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("max-age=63072000;\r\n includeSubDomains", "max-age=63072000; includeSubDomains"),
        ("nosniff\r\n\t ", "nosniff "),
        ('max-age=63072000; foo="a\\\x00"', 'max-age=63072000; foo="a\\"'),
        ("max-age=63072000", "max-age=63072000"),
    ],
)
def test_a_field_is_judged_as_browsers_read_it(sent, read):
    """Round 51c F2: nginx's folded (obs-fold) HSTS line was "not valid" and `nosniff` on a
    folded line "not nosniff"; browsers join the lines with one space. F3: a NUL before the
    closing quote hid that it was escaped; Chromium deletes NUL bytes before parsing."""
    from smokegate.gather.probe import as_browsers_read

    assert as_browsers_read(sent) == read
