"""Credentials a server hands out, masked by the name it gives them (attack round 11, F7).

A token endpoint's `access_token` and `refresh_token`, a challenge's `token="..."`, a
session cookie and an `X-Auth-Token` header were minted with the pipeline's secrets but
were none of them, and reached every report. The scrubber now masks a JSON member, a
`name=value` and a quoted response header by the name, as it masks a URL's query.
"""

from __future__ import annotations

import json

import pytest

from smokegate.config import Endpoint
from smokegate.facts.http import Headers, ProbeResult
from smokegate.redact import MASK, Scrubber, masked_header_value
from smokegate.rules.health import check_endpoint

MINTED = "2YotnFZFEjr1zCsicMWpAA"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            f'{{"access_token":"{MINTED}","token_type":"bearer","expires_in":3600}}',
            f'{{"access_token":"{MASK}","token_type":"bearer","expires_in":3600}}',
        ),
        (f'{{"refresh_token" : "{MINTED}"}}', f'{{"refresh_token" : "{MASK}"}}'),
        (f'{{"id_token": "{MINTED}', f'{{"id_token": "{MASK}"'),  # cut at a size cap
        (
            f'{{"body": "{{\\"access_token\\":\\"{MINTED}\\"}}"}}',
            f'{{"body": "{{\\"access_token\\":\\"{MASK}\\"}}"}}',
        ),
        (
            f'Bearer realm="x", error="invalid_token", token="{MINTED}"',
            f'Bearer realm="x", error="invalid_token", token="{MASK}"',
        ),
        (f"access_token={MINTED}&scope=read", f"access_token={MASK}&scope=read"),
        (f"SESSIONID={MINTED}; Path=/", f"SESSIONID={MASK}; Path=/"),
        (f"Credentials(client_secret={MINTED})", f"Credentials(client_secret={MASK})"),
        # round 12: structures a credential names, XML, `name: value` and reprs
        (
            f'{{"access": {{"token": {{"id": "{MINTED}", "n": [1, "x]"]}}}}, "ok": "yes"}}',
            f'{{"access": {{"token": {{"id": "{MASK}", "n": [1, "{MASK}"]}}}}, "ok": "yes"}}',
        ),
        (f'{{"refresh_tokens": ["{MINTED}"]}}', f'{{"refresh_tokens": ["{MASK}"]}}'),
        (f'{{"client_secret": {{"value": "{MINTED}', f'{{"client_secret": {{"value": "{MASK}"'),
        (
            f"<r><access_token>{MINTED}</access_token><ns:password a='1'>{MINTED}</ns:password>"
            "<name>bob</name></r>",
            f"<r><access_token>{MASK}</access_token><ns:password a='1'>{MASK}</ns:password>"
            "<name>bob</name></r>",
        ),
        (
            f"access_token: {MINTED}\npassword: {MINTED}\nuser: bob",
            f"access_token: {MASK}\npassword: {MASK}\nuser: bob",
        ),
        (f"{{'access_token': '{MINTED}', 'x': 1}}", f"{{'access_token': '{MASK}', 'x': 1}}"),
        (f"X-Auth-Token: {MINTED}", f"X-Auth-Token: {MASK}"),
        # round 13: INI/TOML/.properties spacing, single quotes, u'' reprs, session cookies,
        # a JSON "bearer", names long on either side of the credential word
        (f"access_token = {MINTED}", f"access_token = {MASK}"),
        (f"export API_TOKEN='{MINTED}'", f"export API_TOKEN='{MASK}'"),
        (f"{{'client_secret': u'{MINTED}'}}", f"{{'client_secret': u'{MASK}'}}"),
        (f"PHPSESSID={MINTED}; path=/", f"PHPSESSID={MASK}; path=/"),
        (
            f'{{"laravel_session": "{MINTED}", "connect.sid": "{MINTED}", "bearer": "{MINTED}"}}',
            f'{{"laravel_session": "{MASK}", "connect.sid": "{MASK}", "bearer": "{MASK}"}}',
        ),
        (f'{{"{"x" * 90}_access_token": "{MINTED}"}}', f'{{"{"x" * 90}_access_token": "{MASK}"}}'),
        (f"error: bad password: {MINTED}", f"error: bad password: {MASK}"),  # mid-line
        (f"ticket={MINTED}", f"ticket={MASK}"),  # a CAS service ticket
        # round 13 left: member names written with JSON escapes, JavaScript's quotes
        (f'{{"access\\u005ftoken": "{MINTED}"}}', f'{{"access\\u005ftoken": "{MASK}"}}'),
        (
            f'{{"refresh\\u005Ftokens": ["{MINTED}"], "n\\u0061me": "bob"}}',
            # (`refresh` is a name of its own since round 18a: `\\u005Ftokens` reads as its value)
            f'{{"refresh\\{MASK}": ["{MASK}"], "n\\u0061me": "bob"}}',
        ),
        (f'{{"\\u0070assword":"{MINTED}"}}', f'{{"\\u0070assword":"{MASK}"}}'),
        (
            f"const cfg = {{apiToken: `{MINTED}`, user: `bob`}};",
            f"const cfg = {{apiToken: `{MASK}`, user: `bob`}};",
        ),
        (f'{{a: 1,password:"{MINTED}"}}', f'{{a: 1,password:"{MASK}"}}'),
        (f"API_TOKEN=`{MINTED}\n{MINTED}`", f"API_TOKEN=`{MASK}`"),
        # round 14: names whose last word is `key`, assertions, device codes, PEM keys
        (
            f"DefaultEndpointsProtocol=https;AccountName=prod;AccountKey={MINTED}==;Suffix=x",
            f"DefaultEndpointsProtocol=https;AccountName=prod;AccountKey={MASK};Suffix=x",
        ),
        (
            f'{{"client_key": "{MINTED}", "signing_key": "{MINTED}", "sort_key": "abc"}}',
            f'{{"client_key": "{MASK}", "signing_key": "{MASK}", "sort_key": "abc"}}',
        ),
        (f"master_key: {MINTED}", f"master_key: {MASK}"),
        (
            f'{{"device_code": "{MINTED}", "user_code": "WDJB-MJHT"}}',
            f'{{"device_code": "{MASK}", "user_code": "WDJB-MJHT"}}',
        ),
        (f'{{"client_assertion": "{MINTED}"}}', f'{{"client_assertion": "{MASK}"}}'),
        (f"?subscription-key={MINTED}&appid={MINTED}", f"?subscription-key={MASK}&appid={MASK}"),
        (
            f"-----BEGIN PRIVATE KEY-----\n{MINTED}\n{MINTED}\n-----END PRIVATE KEY-----\nok",
            f"-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----\nok",
        ),
        (
            f'{{"k": "-----BEGIN RSA PRIVATE KEY-----\\n{MINTED}',
            f'{{"k": "-----BEGIN RSA PRIVATE KEY-----{MASK}',
        ),
        # round 15: quoted Authorization values, cookies in text, CDATA, name/value pairs,
        # parameters inside an encoded URL, PHP and Ruby assignments, a name after / or +
        (f'Authorization: Token token="{MINTED}"', "Authorization: ***"),
        (f'Authorization: Digest username="u", response="{MINTED}"', "Authorization: ***"),
        (f"Set-Cookie: _gh_sess={MINTED}; path=/", f"Set-Cookie: _gh_sess={MASK}; path=/"),
        (f"Set-Cookie:a={MINTED}", f"Set-Cookie:a={MASK}"),
        (f'{{"cookies": {{"a": "{MINTED}"}}}}', f'{{"cookies": {{"a": "{MASK}"}}}}'),
        (
            f"<password><![CDATA[{MINTED}]]></password>",
            f"<password>{MASK}</password>",
        ),
        (
            f'[{{"name":"DB_PASSWORD","value":"{MINTED}"}},{{"name":"MODE","value":"prod"}}]',
            f'[{{"name":"DB_PASSWORD","value":"{MASK}"}},{{"name":"MODE","value":"prod"}}]',
        ),
        (f"[('Authorization', '{MINTED}')]", f"[('Authorization', '{MASK}')]"),
        (
            f"return_to=https%3A%2F%2Fapp%2Fcb%3Faccess_token%3D{MINTED}%26x%3D1",
            f"return_to=https%3A%2F%2Fapp%2Fcb%3Faccess_token%3D{MASK}%26x%3D1",
        ),
        (f'$db_password = "{MINTED}";', f'$db_password = "{MASK}";'),
        (f'{{:password => "{MINTED}"}}', f'{{:password => "{MASK}"}}'),
        (f"arn:aws:iam::1:user/password={MINTED}", f"arn:aws:iam::1:user/password={MASK}"),
        # round 16: an STS answer's value begun with an XML comment or continued in CDATA
        (
            f"<SecretAccessKey><!-- c -->{MINTED}</SecretAccessKey>",
            f"<SecretAccessKey>{MASK}</SecretAccessKey>",
        ),
        (
            f"<SessionToken>{MINTED}<![CDATA[{MINTED}]]></SessionToken><Expiration>x</Expiration>",
            f"<SessionToken>{MASK}</SessionToken><Expiration>x</Expiration>",
        ),
        # round 16: a value close after a credential name, whatever the syntax between
        (
            f"Array ( [access_token] => {MINTED} [x] => 1 )",
            f"Array ( [access_token] => {MASK} [x] => 1 )",
        ),
        (f'["access_token"]=> string(22) "{MINTED}"', f'["access_token"]=> string(22) "{MASK}"'),
        (f"$VAR1 = {{ 'password' => '{MINTED}' }};", f"$VAR1 = {{ 'password' => '{MASK}' }};"),
        (
            f"map[access_token:{MINTED} token_type:bearer]",
            f"map[access_token:{MASK} token_type:bearer]",
        ),
        (f"Key (api_key)=({MINTED}) already exists.", f"Key (api_key)=({MASK}) already exists."),
        (f"access_token {MINTED}", f"access_token {MASK}"),  # a table row, its tags gone
        (f"DB_PASSWORD\t{MINTED}", f"DB_PASSWORD\t{MASK}"),
        (f'name="password"\r\n\r\n{MINTED}\r\n--b--', f'name="password"\r\n\r\n{MASK}\r\n--b--'),
        (f'<add key="ApiKey" value="{MINTED}" />', f'<add key="{MASK}" value="{MASK}" />'),
        (f'<entry key="db.password">{MINTED}</entry>', f'<entry key="{MASK}">{MASK}</entry>'),
        (
            f'<input type="hidden" name="code" value="{MINTED}"/>',
            f'<input type="hidden" name="code" value="{MASK}"/>',
        ),
        (f"<password><!-- x -->{MINTED}</password>", f"<password>{MASK}</password>"),
        (f'{{"access_token"=>"{MINTED}"}}', f'{{"access_token"=>"{MASK}"}}'),  # Ruby
        (  # a YAML block scalar: the block masked, the key's siblings kept
            f"app:\n  private_key: |\n    {MINTED}\n    {MINTED}\n  user: bob\n",
            f"app:\n  private_key: {MASK}\n    {MASK}\n  user: bob\n",
        ),
        # round 17a: a value with blanks, commas, symbols, a YAML tag or anchor, a b'' repr
        ("password: correct horse battery staple\nuser: svc", f"password: {MASK}\nuser: svc"),
        ("X-Password: correct horse battery staple", f"X-Password: {MASK}"),
        (
            "Server=db;User Id=svc;Password=purple monkey dishwasher;",
            f"Server=db;User Id=svc;Password={MASK};",
        ),
        (f"[db]\npassword = Zq7,{MINTED}\n", f"[db]\npassword = {MASK}\n"),
        (f"password: !!str {MINTED}", f"password: {MASK}"),
        (f"password: &pw {MINTED}", f"password: {MASK}"),
        (f"Creds(user='svc', secret=b'{MINTED}')", f"Creds(user='svc', secret={MASK})"),
        (f'"password" : correct horse {MINTED}', f'"password" : {MASK}'),
        (
            "$VAR1 = { 'password' => 'P@ss!w0rd#Qz8v$K2' };",
            f"$VAR1 = {{ 'password' => '{MASK}' }};",
        ),
        ("map[password:Gm7!xK2@mP9#vLw$4R user:svc]", f"map[password:{MASK} user:svc]"),
        # ... a field that goes on with another name=value keeps it
        (
            f"AccessKeyId={MINTED} RoleSessionName=audit",
            f"AccessKeyId={MASK} RoleSessionName=audit",
        ),
        # ... a name apart from its value: SQL, YAML sequences, HTML-escaped XML and JSON
        (
            f"INSERT INTO users (name, password) VALUES ('svc', '{MINTED}')",
            f"INSERT INTO users (name, password) VALUES ('svc', {MASK})",
        ),
        (f"api_tokens: [{MINTED}, {MINTED}]", f"api_tokens: {MASK}"),
        (
            f"api_tokens:\n  - {MINTED}\n  - {MINTED}\nuser: x",
            f"api_tokens:\n  - {MASK}\n  - {MASK}\nuser: x",
        ),
        (f"&lt;password&gt;{MINTED}&lt;/password&gt;", f"&lt;password&gt;{MASK}&lt;/password&gt;"),
        (
            f"{{&quot;access_token&quot;:&quot;{MINTED}&quot;}}",
            f"{{&quot;access_token&quot;:&quot;{MASK}&quot;}}",
        ),
        # round 18a: names real stacks give a credential
        (f'{{"access": "x", "refresh": "{MINTED}"}}', f'{{"access": "x", "refresh": "{MASK}"}}'),
        (f'{{"creds": "{MINTED}"}}', f'{{"creds": "{MASK}"}}'),
        (f'{{"recovery_codes": ["{MINTED}"]}}', f'{{"recovery_codes": ["{MASK}"]}}'),
        (f'{{"backupCodes": "{MINTED}"}}', f'{{"backupCodes": "{MASK}"}}'),
        (f'{{"verification_code": "{MINTED}"}}', f'{{"verification_code": "{MASK}"}}'),
        (
            f'{{"id_rsa": "{MINTED}", "kubeconfig": "{MINTED}"}}',
            f'{{"id_rsa": "{MASK}", "kubeconfig": "{MASK}"}}',
        ),
        (f"/acs?SAMLResponse={MINTED}&RelayState=x", f"/acs?SAMLResponse={MASK}&RelayState=x"),
        ("/(S(lit3py55t21z5v55vlm25s55))/default.aspx", f"/(S({MASK}))/default.aspx"),
        ("/(F(lit3py55t21z5v55vlm25s55xx))/a", f"/(F({MASK}))/a"),
        # (the escaped name is read whole first; a shape of text then takes `u0077ord`)
        (f'{{"pass\\u0077ord":"correct horse {MINTED}"}}', f'{{"pass\\{MASK}":"{MASK}"}}'),
    ],
)
def test_a_value_a_credential_name_holds_is_masked(text: str, shown: str) -> None:
    assert Scrubber().scrub(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        '{"token_type": "bearer", "expires_in": 3600, "status": "ok"}',
        "page=2 monkey=3 author=alice",
        'error="invalid_token"',
        "password_enabled=true",
        "password_enabled: unknown (empty)",  # IAM's columns name no secret
        "iam.password_policy: should be a mapping",  # smokegate's own messages stay whole
        "use credentials: {oauth2: {client_secret_env: VAR}}",
        '{"user": {"name": "bob", "id": "AIDA123"}, "items": [{"a": "b"}]}',
        "got 403 with SG_READONLY_TOKEN: token accepted",  # prose: a bare name mid-line
        "unknown field 'token': secrets never live in the env file",
        "got 200 without credentials: the endpoint is open",
        "session_timeout=30 sidebar=left",
        '{"n\\u0061me": "bob", "a\\"b": "c", "bad\\q": "d"}',  # escaped names, no credential
        "see `password` in the docs: use a token",
        '<input name="user" value="bob1234567">',  # a field that names no credential
        "session started at 2026-12-03T10:00:00Z",
    ],
)
def test_values_of_other_names_stay_readable(text: str) -> None:
    assert Scrubber().scrub(text) == text


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Set-Cookie", f"sid={MINTED}; Path=/; HttpOnly", f"sid={MASK}; Path=/; HttpOnly"),
        ("Cookie", f"a={MINTED}; theme=dark", f"a={MASK}; theme={MASK}"),
        (  # two Set-Cookie headers folded into one (round 12: the second, the session, leaked)
            "Set-Cookie",
            f"lang=en; Path=/, PHPSESSID={MINTED}; HttpOnly, x={MINTED}; "
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=3",
            f"lang={MASK}; Path=/, PHPSESSID={MASK}; HttpOnly, x={MASK}; "
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=3",
        ),
        ("X-Auth-Token", MINTED, MASK),
        ("X-Upstream-Auth", MINTED, MASK),  # round 13: a credential word in the name
        ("X-Session", MINTED, MASK),
        ("X-Request-Id", "abc", "abc"),
        ("Authorization", f"Bearer {MINTED}", MASK),
        ("Content-Type", "application/json", "application/json"),
    ],
)
def test_a_quoted_response_header_is_masked_by_its_name(name: str, value: str, shown: str):
    assert masked_header_value(name, value) == shown


def test_a_failing_header_expectation_quotes_a_cookie_masked() -> None:
    """`sid` says nothing of a credential: a cookie's value is masked whatever its name."""
    endpoint = Endpoint(name="api", url="https://a.example/", headers={"Set-Cookie": "sid=exp"})
    result = ProbeResult(
        key="k",
        url=endpoint.url,
        method="GET",
        status=200,
        headers=Headers({"Set-Cookie": f"sid={MINTED}; Path=/"}),
        body=b"",
    )
    verdict = check_endpoint(endpoint, result)
    assert not verdict.passed and MINTED not in verdict.message
    assert f"header Set-Cookie is 'sid={MASK}; Path=/'" in verdict.message


def test_a_variable_whose_bytes_are_not_utf8_is_masked_as_a_server_shows_it() -> None:
    """os.environ keeps undecodable bytes as lone surrogates, which no encoder takes: a
    Latin-1 `SOME_DB_PASSWORD` ended every run in an INTERNALERROR (round 11, F17)."""
    raw = b"\xe9t\xe9-password-1".decode("utf-8", "surrogateescape")
    scrubber = Scrubber([], environ={"SOME_DB_PASSWORD": raw})
    shown = scrubber.scrub("latin-1: été-password-1, replaced: \ufffdt\ufffd-password-1")
    assert shown == f"latin-1: {MASK}, replaced: {MASK}"


def test_a_text_with_an_undecodable_byte_is_scrubbed_not_crashed() -> None:
    """A file name's undecodable byte (`prod\\udcff.yaml`) reached RE2, which takes UTF-8
    only: with any secret known, the env file's refusal itself ended in a traceback."""
    scrubber = Scrubber(["SG_T"], environ={"SG_T": MINTED})
    assert scrubber.scrub(f"/tmp/prod\udcff.yaml {MINTED}") == f"/tmp/prod\\udcff.yaml {MASK}"


def test_a_json_path_through_a_credential_quotes_the_value_masked() -> None:
    """`json $.access.token.id is "..."` quoted the token a json: expectation found there
    (round 12); the same value at a path of other names is quoted as it is."""
    from smokegate.rules.health import json_subset_problems
    from smokegate.rules.jmespath import jmespath_problems

    document = {"access": {"token": {"id": MINTED}}, "status": "degraded"}
    problems = json_subset_problems({"access": {"token": {"id": "x"}}, "status": "ok"}, document)
    assert problems == [
        f'json $.access.token.id is {MASK}, expected "x"',
        'json $.status is "degraded", expected "ok"',
    ]
    endpoint = Endpoint(
        name="api", url="https://a.example/", jmespath={"access.token.id": {"equals": "x"}}
    )
    (shown,) = jmespath_problems(endpoint.jmespath_checks, document)
    assert MINTED not in shown and f"is {MASK}" in shown


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("GPG_PASSPHRASE", True),
        ("RAILS_MASTER_KEY", True),
        ("DEPLOY_KEY", True),
        ("SIGNING_KEY", True),
        ("DOCKER_AUTH_CONFIG", True),
        ("NPM_AUTH", True),
        ("MY_API_TOKEN", True),
        ("SSH_PRIVKEY", True),  # round 13
        ("SIGNING_PRIVKEY_PEM", True),
        ("VPN_PASSCODE", True),
        ("SESSION_COOKIE", True),
        ("CI_JOB_JWT", True),
        ("SSH_AUTH_SOCK", False),  # a place, not a secret
        ("GOOGLE_APPLICATION_CREDENTIALS_FILE", False),
        ("AUTHOR_NAME", False),
        ("KEYBOARD_LAYOUT", False),
    ],
)
def test_ci_variables_named_like_credentials_are_masked(name: str, credential: bool) -> None:
    """A value passed on the command line (`-k $DEPLOY_KEY`) reached junit.xml for names
    outside the rule (round 12): `*_KEY`, `*_PASSPHRASE`, `*_AUTH*`."""
    from smokegate.redact import credential_variables

    assert (name in credential_variables({name: "x"})) is credential
    if credential:
        scrubber = Scrubber([], environ={name: MINTED})
        assert scrubber.scrub(f"-k {MINTED}") == f"-k {MASK}"


def test_credentials_a_json_body_names_are_masked_by_value_wherever_quoted() -> None:
    """Round 14: `jmespath: {"values(@)": [...]}` on a login answer quoted the access and
    refresh tokens bare (the projection drops the names masking goes by). A body's values
    under credential names are known secrets of the run from the moment it is read."""
    from smokegate.redact import process_scrubber, register_issued_credentials

    access, refresh = "R14-access-9fZq7xK2mP9vLw4", "R14-refresh-Yb1Nc4Uz8Wm2"
    body = (
        f'{{"access_token": "{access}", "nested": {{"refresh_tokens": ["{refresh}"]}}, '
        '"token_type": "bearer-ish-value-1", "auth": "basic", "name": "R14-visible-name-1"}'
    )
    register_issued_credentials(body)
    quoted = process_scrubber().scrub(f'values(@) is ["{access}", ["{refresh}"], "x"]')
    assert access not in quoted and refresh not in quoted and quoted.count(MASK) == 2
    kept = process_scrubber().scrub("bearer-ish-value-1 basic R14-visible-name-1")
    assert kept == "bearer-ish-value-1 basic R14-visible-name-1"


def test_a_body_of_thousands_of_credentials_registers_a_bounded_number(empty_registry) -> None:
    """Round 18b, F4: one body of 60 000 strings under `access_token` made them all known
    secrets, and every later scrub searched all their forms (102 s, 4.1 GB). A body
    registers ISSUED_PER_BODY values, a run MAX_ISSUED; the rest are masked by the name that
    holds them, and smokegate's own secrets are never capped."""
    redact = empty_registry
    values = [f"R18b-{i:05d}-9fZq7xK2mP" for i in range(3000)]
    redact.register_issued_credentials(json.dumps({"access_token": values}))
    assert len(redact.registered_secrets()) == redact.ISSUED_PER_BODY
    for end in range(3000 - 64, 0, -64):  # more bodies, other values, to the run's cap
        redact.register_issued_credentials(json.dumps({"access_token": values[:end]}))
    assert len(redact.registered_secrets()) == redact.MAX_ISSUED
    redact.register_secret("R18b-fetched-oauth2-token-Yb1Nc4Uz")
    assert "R18b-fetched-oauth2-token-Yb1Nc4Uz" in redact.registered_secrets()
    unknown = values[0]  # never registered: masked by its name
    assert unknown not in redact.registered_secrets()
    assert unknown not in redact.process_scrubber().scrub(json.dumps({"access_token": unknown}))


def test_a_name_value_pair_object_registers_its_value_in_any_order() -> None:
    """Round 16: SSM's GetParameter ({"Name": "/prod/db/password", ..., "Value": v}),
    CloudFormation's ParameterKey/ParameterValue and a Kubernetes env entry written value
    first were shown whole."""
    from smokegate.redact import process_scrubber, register_issued_credentials

    ssm, cfn, k8s = "R16-ssm-9fZq7xK2mP9vLw4", "R16-cfn-Yb1Nc4Uz8Wm2x", "R16-k8s-Tj4Rv7q8M3zA"
    register_issued_credentials(
        '{"Parameter": {"Name": "/prod/db/password", "Type": "SecureString", '
        f'"Value": "{ssm}"}}}}'
    )
    register_issued_credentials(
        f'{{"Parameters": [{{"ParameterKey": "DbPassword", "ParameterValue": "{cfn}"}}]}}'
    )
    register_issued_credentials(
        f'{{"env": [{{"value": "{k8s}", "name": "DB_PASSWORD"}}, '
        '{"value": "R16-prod-1", "name": "MODE"}]}'
    )
    quoted = process_scrubber().scrub(f"{ssm} {cfn} {k8s} R16-prod-1")
    assert quoted == f"{MASK} {MASK} {MASK} R16-prod-1"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # round 18a: a password holding an unencoded @, #, ? or / (DSNs, git URLs)
        (
            "https://deploy:Kx9vQ2@Lm7pR4tZ8wYc@git.test/org/r.git",
            f"https://{MASK}@git.test/org/r.git",
        ),
        ("postgres://app:Rb6tY1@Qw8eZ3xVn5@db.internal/app", f"postgres://{MASK}@db.internal/app"),
        ("postgres://app:@@nVjhXyeUqEHicL@db.internal/app", f"postgres://{MASK}@db.internal/app"),
        ("https://svc:Kd8#CFdcERFmdD6nHQ@db.internal/x", f"https://{MASK}@db.internal/x"),
        ("https://svc:Jn2?sspDnpbDQCm8JU@db.internal/x", f"https://{MASK}@db.internal/x"),
        ("https://svc:Wq5/cKkHnVm6vMGpns@db.internal/x", f"https://{MASK}@db.internal/x"),
        (
            "redis connect svc:3WfpfZVR4Mw3RF@cache.internal:6379",
            f"redis connect svc:{MASK}@cache.internal:6379",
        ),
        (
            "http://127.0.0.1:8080/r?to=http://u:pQ7x9zz@x/",
            f"http://127.0.0.1:8080/r?to=http://{MASK}@x/",
        ),
        # ... and what is no userinfo keeps its host
        ("GET http://127.0.0.1:8080/users/@me", "GET http://127.0.0.1:8080/users/@me"),
        (
            "see https://h.test/@me or mailto:ops@example.com",
            "see https://h.test/@me or mailto:ops@example.com",
        ),
        ("ssh git@github.com:org/repo", "ssh git@github.com:org/repo"),
        (
            "http://127.0.0.1:8080?contact=ops@status.test",
            "http://127.0.0.1:8080?contact=ops@status.test",
        ),
        ("http://127.0.0.1:8080#@localhost:9/ok", "http://127.0.0.1:8080#@localhost:9/ok"),
    ],
)
def test_a_url_s_userinfo_is_masked_to_its_last_at(text: str, shown: str) -> None:
    assert Scrubber().scrub(text) == shown


def test_every_check_named_like_a_credential_keeps_its_targets_readable() -> None:
    """Round 19a, F6: `[high] accepts_token orders-v2` read as a credential name and a
    secret-looking value: the target became `***` in every report. Every check of checks/
    whose name holds a credential's word is listed as smokegate's own."""
    import ast

    from smokegate.redact import is_credential_name
    from tests.support.paths import ROOT

    checks = [
        node.name
        for path in sorted((ROOT / "checks").glob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]
    assert "test_accepts_token" in checks
    for function in checks:
        name = function.removeprefix("test_")
        assert not is_credential_name(name) and not is_credential_name(function), function
        said = f"[high] {name} orders-v2 (https://a.test/x): failed; {function}[billing-2024]"
        assert Scrubber().scrub(said) == said


def test_a_handed_out_value_of_smokegate_s_own_words_is_not_registered(empty_registry) -> None:
    """Round 21a, F3: "credentials" a server handed out that were smokegate's verdict, its
    counts and a case's node id (digits: no constant of its own) masked the verdict line,
    the counts, and `endpoint` in every headline. Blanks or a word of smokegate's texts keep
    such a value out of the run's secrets; a login's tokens are still registered."""
    redact = empty_registry
    own = [
        "gate FAILED (--fail-on low): 1 high",
        "3 passed, 1 failed in 0.42s",
        "FAILED checks/test_health.py::test_endpoint[down]",
        "expected-200-critical",
    ]
    tokens = ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.R21a-sig-9fZq7xK2", "sess-R21a-9fZq7xK2mP9v"]
    body = json.dumps({f"access_token_{i}": value for i, value in enumerate(own + tokens)})
    redact.register_issued_credentials(body)
    assert sorted(redact.registered_secrets()) == sorted(tokens)
    verdict = "gate FAILED (--fail-on low): 1 high; 3 passed, 1 failed; endpoint expected"
    assert redact.process_scrubber().scrub(verdict) == verdict


@pytest.mark.parametrize(
    "line",
    [
        'http://127.0.0.1:80 "GET /auth HTTP/1.1" 401 61',
        '"POST /api/token HTTP/1.0" 200 512',
        "GET /session HTTP/1.1",
    ],
)
def test_a_request_line_s_version_after_a_credential_word_is_kept(line: str) -> None:
    """Round 21a, F5: urllib3's DEBUG line lost its `HTTP/1.1` after a path ending in a
    credential word (the nearness rule read it as the value); a token there is masked."""
    assert Scrubber().scrub(line) == line
    assert MASK in Scrubber().scrub("GET /auth 9fZq7xK2mP9vLw4")


def test_own_words_joined_by_gaps_or_inside_letters_are_not_registered(empty_registry) -> None:
    """Round 22a, F1: the verdict's words joined by a zero-width space, a soft hyphen or a
    combining mark, and `endpoint` inside a run of letters, were registered and masked the
    verdict, the counts and the word again."""
    redact = empty_registry
    own = [
        "gate\u200bFAILED\u200b(--fail-on\u200blow):\u200b1\u200bhigh",
        "1\u00adpassed,\u00ad1\u00adfailed",
        "gate\u0301FAILED\u0301(--fail-on\u0301low):\u03011\u0301high",
        "9xendpointq",
    ]
    body = json.dumps({f"access_token_{i}": value for i, value in enumerate(own)})
    redact.register_issued_credentials(body)
    assert redact.registered_secrets() == []
    verdict = "gate FAILED (--fail-on low): 1 high; 1 passed, 1 failed; [high] endpoint down"
    assert redact.process_scrubber().scrub(verdict) == verdict


def test_a_handed_out_value_that_is_one_of_the_run_s_facts_is_not_registered(empty_registry):
    """Round 22a, F4: a target's URL, `127.0.0.1` or the env's name under `access_token`
    masked the failing target, every address, the env line and the report paths."""
    redact = empty_registry
    redact.protect_own_facts(["atk22a04-prod", "http://127.0.0.1:40209/pay", "/tmp/r/atk22a04"])
    values = ["http://127.0.0.1:40209/pay", "127.0.0.1", "atk22a04-prod", "sess-R22a-9fZq7xK2mP9v"]
    redact.register_issued_credentials(json.dumps({"access_token": values}))
    assert redact.registered_secrets() == ["sess-R22a-9fZq7xK2mP9v"]


@pytest.mark.parametrize(
    "value",
    [
        "Z2F0ZSBGQUlMRUQgKC0tZmFpbC1vbiBsb3cpOiAxIGhpZ2g=",  # base64 of the verdict
        "aHR0cDovLzEyNy4wLjAuMTo0MDIwOS9wYXk=",  # base64 of the target's URL
        "http://127.0.0.1:40209/pay#9",  # a fact and a little more
        "127.0.0.1x9",
        "gateFAILED(--fail-onlow):1high",  # the verdict, its blanks dropped
        "1passed,1failed",
        "http%3A%2F%2F127.0.0.1%3A40209%2Fpay",  # a fact, escaped
        "127&#46;0&#46;0&#46;1",
        "atk23a05&#45;prod",
    ],
)
def test_a_handed_out_value_that_would_mask_smokegate_s_text_is_not_registered(
    empty_registry, value
) -> None:
    """Round 23a, F1, F2, F4, F5: the rule looked at the value as written, where the
    scrubber masks more: its base64-decoded text, its view with escapes decoded and blanks
    dropped, its 8-character pieces. The verdict, the counts, the target, the env's name and
    the report paths were masked again."""
    redact = empty_registry
    redact.protect_own_facts(["atk23a05-prod", "http://127.0.0.1:40209/pay"])
    token = "sess-R23a-9fZq7xK2mP9v"
    redact.register_issued_credentials(json.dumps({"access_token": [value, token]}))
    assert redact.registered_secrets() == [token]


@pytest.mark.parametrize(
    "value",
    ["2activekeys", "rootMFAoffQ9", "minlength14x", "limit365", "Z9report.htmlQ", "junit.xml9"],
)
def test_a_handed_out_value_holding_the_words_of_a_rule_s_message_is_not_registered(
    empty_registry, value
) -> None:
    """Round 26a: a cookie of `2activekeys`, `rootMFAoff`, `limit365` or `minlength14` masked "2
    active keys", "root MFA off" and "min length 14" in every IAM failure; one holding a
    report's file name masked its path. What the rules and the gate write is smokegate's
    own text (cut at each value they format in)."""
    redact = empty_registry
    redact.protect_own_facts(["/tmp/r/e26/report.html", "/tmp/r/e26/junit.xml"])
    token = "sess-R26a-9fZq7xK2mP9v"
    redact.register_issued_cookies([f"sid={value}; Path=/", f"session={token}; HttpOnly"])
    assert redact.registered_secrets() == [token]


def test_a_value_registered_before_a_fact_was_known_is_dropped_once_it_is(empty_registry):
    """Round 26a: IAM user names are facts known only once the audit is gathered, while the
    HTTP probes (and their cookies) run beside it: which came first must not decide."""
    redact = empty_registry
    redact.register_issued_cookies(["sid=Zq9svc-deploy-bot; Path=/", "b=sess-R26a-9fZq7xK2mP"])
    assert sorted(redact.registered_secrets()) == ["Zq9svc-deploy-bot", "sess-R26a-9fZq7xK2mP"]
    redact.protect_own_facts(["svc-deploy-bot", "123456789012"])
    assert redact.registered_secrets() == ["sess-R26a-9fZq7xK2mP"]
    line = "[high] console_mfa 123456789012/svc-deploy-bot: console password enabled without MFA"
    assert redact.process_scrubber().scrub(line) == line


def test_random_tokens_are_not_taken_for_smokegate_s_own_text() -> None:
    """The rule's other side: real credentials (base64 of random bytes, a JWT, an AWS key
    pair as documented) are registered; a window of a rule's message is literal text only,
    never a run of digits a random token holds by chance."""
    import base64
    import random

    from smokegate import redact

    rng = random.Random(26)
    tokens = [base64.b64encode(rng.randbytes(700)).decode() for _ in range(300)]
    tokens += [
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.R26a-sig-9fZq7xK2",
    ]
    assert [t[:20] for t in tokens if redact.own_text_problem(t)] == []


@pytest.mark.parametrize("value", ["lacitirc-Zq", "detcepxe9", "1.0.0.721"])
def test_a_value_whose_reversed_form_is_smokegate_s_text_is_not_registered(
    empty_registry, value
) -> None:
    """Round 27a-2: the scrubber masks a secret written backwards too, so a cookie of
    `lacitirc` masked "critical" and `1.0.0.721` every address."""
    redact = empty_registry
    redact.protect_own_facts(["127.0.0.1"])
    token = "sess-R27a-9fZq7xK2mP9v"
    redact.register_issued_cookies([f"sid={value}", f"session={token}"])
    assert redact.registered_secrets() == [token]
    line = "[critical] endpoint api (http://127.0.0.1:8080/): expected 200"
    assert redact.process_scrubber().scrub(line) == line


@pytest.mark.parametrize("value", ["1 critical", "3 passed, 1 failed", "2 verified nothing"])
def test_a_credential_variable_that_is_wholly_smokegate_s_text_is_no_secret(
    empty_registry, value
) -> None:
    """Round 27a-3: `SG_TOKEN="1 critical"` masked the counts. A value made only of
    smokegate's phrases is refused (its case verifies nothing); one that merely holds a
    word stays a secret."""
    redact = empty_registry
    redact.protect_own_facts(["127.0.0.1"])
    assert "smokegate's own reports use" in (redact.secret_problem(value) or "")
    assert redact.secret_problem("Critical-Infra-2024!") is None


@pytest.mark.parametrize(
    "value",
    [
        "gate FAILED (--fail-on low): 1",
        "FAILED (--fail-on high): 2",
        "n low): 1 crit",
        "status 503, expected 200",
        "gate PASSED (partial, --fail-on medium): 0 critical",
    ],
)
def test_a_credential_variable_of_smokegate_s_text_across_a_value_is_no_secret(
    empty_registry, value
) -> None:
    """Round 28a-1: smokegate's phrases were cut at every value they format in, so a
    variable spanning one (`low): 1`, `503, expected`) was no "wholly own text"; made a
    secret, it masked the verdict line in every report."""
    redact = empty_registry
    assert "smokegate's own reports use" in (redact.secret_problem(value) or "")
    redact.register_secret("gate FAILED (--fail-on low): 1")  # what a CI variable does
    verdict = "gate FAILED (--fail-on low): 1 critical"
    assert redact.process_scrubber().scrub(verdict) == verdict


@pytest.mark.parametrize("value", ["lacitirc", "deifirev", "002 detcepxe ,305 sutats"])
def test_a_credential_variable_of_smokegate_s_text_written_backwards_is_no_secret(
    empty_registry, value
) -> None:
    """Round 30a: the scrubber masks a secret written backwards too, so `lacitirc` masked
    "critical" in the verdict and every case line."""
    redact = empty_registry
    assert "smokegate's own reports use" in (redact.secret_problem(value) or "")


def _latin1_values_whose_base64_is_in(text: str) -> list[str]:
    """Printable, blank-free Latin-1 values of 8+ characters whose urlsafe base64 (at the
    aligned cuts of `text`) is a piece of `text`: what a CI variable can be made of."""
    import base64

    values = []
    for start in range(len(text)):
        for end in range(start + 12, len(text) + 1, 4):
            raw = base64.urlsafe_b64decode(text[start:end])
            value = raw.decode("latin-1")
            if value.isprintable() and not any(ch.isspace() for ch in value):
                values.append(value)
    return values


@pytest.mark.parametrize("case_name", ["test_accepts_token", "test_rejects_invalid_token"])
def test_a_credential_variable_whose_base64_is_a_case_name_is_no_secret(
    empty_registry, case_name
) -> None:
    """Round 31a F3: `secret_problem` read the value and its reverse only, while the
    scrubber masks its base64 forms too; a CI variable whose Latin-1 base64 was
    `est_accepts_token` masked that check's name in every case line and JUnit name."""
    redact = empty_registry
    values = _latin1_values_whose_base64_is_in(case_name)
    assert values, "the case name offers no aligned base64 piece"
    for value in values:
        assert any(form in case_name for form in redact.secret_forms(value))  # the harm
        assert "encoded" in (redact.secret_problem(value) or ""), ascii(value)
        redact.register_secret(value)
        assert redact.process_scrubber().scrub(case_name) == case_name


@pytest.mark.parametrize(
    "value",
    ["ghp_16C7e42F292c6912E7710c838347Ae178B4a", "Critical-Infra-2024!", "ÄpfelSaft-Zq93"],
)
def test_a_credential_whose_forms_are_not_smokegate_s_text_stays_a_secret(
    empty_registry, value
) -> None:
    redact = empty_registry
    assert redact.secret_problem(value) is None
