"""A refusal leaks when it holds most of the real answer's data words: values and page
text, not keys, literals, layout or per-request ids and times (rounds 42b F1, 43c)."""

from __future__ import annotations

import json
import random
import time
import uuid

import pytest

from smokegate.rules.leaked_body import MIN_DATA_BYTES, data_words, held_data, weight

ORDERS = [
    {"id": 1042, "customer": "alice@example.com", "card_last4": "4242", "total": 129.9},
    {"id": 1043, "customer": "bob@example.org", "card_last4": "1881", "total": 18.5},
]


def _envelope(**members: object) -> bytes:
    """A framework's rendering: a request id, a time and any key order."""
    page = {"request_id": str(uuid.uuid4()), "generated_at": time.time(), **members}
    keys = list(page)
    random.shuffle(keys)
    return json.dumps({key: page[key] for key in keys}).encode()


def test_the_same_body_leaks():
    body = _envelope(orders=ORDERS)
    held = held_data(body, body)
    assert held.leaked and held.held == held.data >= MIN_DATA_BYTES


def test_per_request_words_and_key_order_are_no_data():
    """A random uuid may hold a group of letters only (`beef`), no per-request shape: the
    share, not every byte, says the data is there."""
    for _ in range(50):
        assert held_data(_envelope(orders=ORDERS), _envelope(orders=ORDERS)).leaked


@pytest.mark.parametrize(
    ("real", "refused"),
    [
        ({"authenticated": True}, {"authenticated": False}),
        ({"viewer": {"login": "svc-ci"}}, {"viewer": None}),
        ({"greeting": "Signed in as svc-ci"}, {"greeting": "Log in"}),
    ],
)
def test_what_a_page_says_of_who_is_looking_does_not_hide_the_data(real, refused):
    """Round 43c F1: one constant word the visitor's rendering says otherwise let the whole
    order list through."""
    held = held_data(_envelope(orders=ORDERS, **real), _envelope(orders=ORDERS, **refused))
    assert held.leaked, held


def test_a_login_page_sharing_the_layout_is_honest():
    head = b"<html><head><title>Acme shop - the best shop in town</title></head><body>"
    nav = b"<nav><a href=/>Home</a> <a href=/help>Help and frequently asked questions</a></nav>"
    foot = b"<footer>Acme Corporation, 1 Market Street, Springfield. All rights reserved.</footer>"
    table = b"<table><tr><td>1042</td><td>alice@example.com</td><td>4242</td></tr></table>"
    form = b"<form action=/login><label>User name</label><input name=user></form>"
    real = head + nav + b"<main><h1>Your orders</h1>" + table + b"</main>" + foot
    refused = head + nav + b"<main><h1>Please log in</h1>" + form + b"</main>" + foot
    assert not held_data(real, refused).leaked


def test_a_page_rendering_the_orders_to_anyone_leaks():
    nav_in = b"<nav>Signed in as svc-ci</nav>"
    nav_out = b'<nav><a href="/login">Log in</a></nav>'
    rows = b"".join(
        f"<tr><td>{o['customer']}</td><td>{o['card_last4']}</td><td>{o['total']}</td></tr>".encode()
        for o in ORDERS
    )
    csrf = f'<meta name=csrf content="{uuid.uuid4().hex}">'.encode()
    real = b"<html><head>" + csrf + b"</head><body>" + nav_in + b"<table>" + rows + b"</table>"
    refused = b"<html><head>" + csrf[::-1] + b"</head><body>" + nav_out + b"<table>" + rows
    assert held_data(real, refused).leaked


def test_an_error_envelope_repeating_the_success_envelope_is_honest():
    """Round 43c F3: ABP's 401 holds every key and literal of a small 200 answer."""
    real = (
        b'{"result":0,"targetUrl":null,"success":true,"error":null,'
        b'"unAuthorizedRequest":false,"__abp":true}'
    )
    refused = (
        b'{"result":null,"targetUrl":null,"success":false,"error":{"code":0,"message":'
        b'"Current user did not login to the application!","details":null,'
        b'"validationErrors":null},"unAuthorizedRequest":true,"__abp":true}'
    )
    assert not held_data(real, refused).leaked


def test_an_honest_json_refusal_is_honest():
    refused = json.dumps({"error": "unauthorized", "detail": "a bearer token is needed"})
    assert not held_data(_envelope(orders=ORDERS), refused.encode()).leaked


def test_a_refusal_holding_a_few_of_the_values_is_honest():
    """The customers' names alone (a public directory) are not the orders."""
    refused = json.dumps({"error": "unauthorized", "known": ["alice", "bob"]}).encode()
    assert not held_data(_envelope(orders=ORDERS), refused).leaked


@pytest.mark.parametrize(
    "word",
    ["1fb4bb19", "f347", "1796380000", "Xk29fLq81Rz7Tw3Nb5", "9d0c3f2a1b4e"],
)
def test_a_per_request_shape_the_refusal_lacks_is_left_out(word):
    real = json.dumps({"id": word, "orders": ORDERS}).encode()
    refused = json.dumps({"id": "other", "orders": ORDERS}).encode()
    held = held_data(real, refused)
    assert held.leaked and held.held == held.data, held


def test_a_per_request_shape_the_refusal_holds_is_data():
    """Round 44c F2: an API key and a webhook secret (hex, long mixed runs) were dropped as
    per-request words, and a refusal carrying them passed; no request id is the same twice."""
    keys = {"name": "ci", "api_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "hook": "9f86d0818"}
    real = _envelope(**keys)
    refused = _envelope(**keys)
    assert held_data(real, refused).leaked


def test_the_same_body_leaks_whatever_its_words():
    body = b'{"api_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "secret": "9f86d081884c7d65"}'
    assert held_data(body, body).leaked


def test_json_escapes_are_read_alike_on_both_sides():
    """Round 44c F1: the real answer's `\\u0410...` was decoded, the refusal's read raw."""
    customers = [{"name": "Александра Петрова", "city": "Санкт-Петербург"}]
    real = json.dumps({"request_id": str(uuid.uuid4()), "customers": customers}).encode()
    refused = json.dumps({"request_id": str(uuid.uuid4()), "customers": customers}).encode()
    assert b"\\u0410" in refused
    assert held_data(real, refused).leaked


def test_a_map_keyed_by_the_data_is_data():
    """Round 44c F3: emails as keys, `true` as values: no data word was counted."""
    admins = {"alice@example.com": True, "bob@example.com": True, "carol@example.com": True}
    assert held_data(_envelope(admins=admins), _envelope(admins=admins)).leaked


@pytest.mark.parametrize(
    "main",
    [
        b'<form id="changelist-form"><table><tr><td>alice@example.com</td><td>078-05-1120'
        b"</td></tr><tr><td>bob@example.org</td><td>219-09-9999</td></tr></table></form>",
        b'<input name="email" value="alice@example.com"><input name="ssn" value="078-05-1120">'
        b'<input name="card" value="4111 1111 1111 1111">',
        b'<div id="app"></div><script>window.__STATE__ = {"users": [{"email": '
        b'"alice@example.com", "ssn": "078-05-1120"}]};</script>',
    ],
    ids=["table-in-form", "input-values", "script-state"],
)
def test_a_page_s_form_values_and_script_state_are_data(main):
    """Round 44c F4: forms, attributes and scripts were dropped as layout."""
    real = b"<html><head><title>Users</title></head><body><nav>Signed in as svc-ci</nav>" + main
    refused = b'<html><head><title>Users</title></head><body><nav><a href="/login">Log in</a>'
    refused += b"</nav>" + main
    assert held_data(real, refused).leaked


def test_an_xml_answer_s_attributes_are_data():
    """Round 44c F5: XML read as a page lost its attributes with its markup."""
    users = (
        '<user email="alice@example.com" name="Alice Smith" ssn="078-05-1120"/>'
        '<user email="bob@example.org" name="Bob Jones" ssn="219-09-9999"/>'
    )
    head = '<?xml version="1.0" encoding="UTF-8"?><users request-id="{}">'
    real = (head.format(uuid.uuid4()) + users + "</users>").encode()
    refused = (head.format(uuid.uuid4()) + users + "</users>").encode()
    assert held_data(real, refused).leaked


def test_a_byte_order_mark_does_not_make_an_error_envelope_data():
    """Round 44c F6: a BOM before ABP's JSON made every key and literal data again."""
    real = b'\xef\xbb\xbf{"result":0,"success":true,"error":null,"unAuthorizedRequest":false}'
    refused = (
        b'\xef\xbb\xbf{"result":null,"success":false,"error":{"code":0,"message":"Current user '
        b'did not login to the application!"},"unAuthorizedRequest":true}'
    )
    assert not held_data(real, refused).leaked


def test_only_the_first_mebibyte_is_read():
    """A hostile body of distinct words past the first MiB costs no memory."""
    head = b"w" * (1 << 20)
    body = head + b" " + b" ".join(b"x%d" % n for n in range(200_000))
    assert data_words(body) == data_words(head)


def test_a_deep_json_document_is_walked_without_recursion():
    deep = b"[" * 100_000 + b'"alice"' + b"]" * 100_000
    assert weight(data_words(deep)) > 0


# ---------------------------------------------------------------- round 45c


def test_a_map_keyed_by_user_names_is_data():
    """F1: an ACL keyed by identifier-shaped names, every value `true`, weighed nothing."""
    members = ["ops_lead", "mbauer", "kwan_li", "deploy_bot", "rsingh", "tnakamura"]
    real = _envelope(owners={m: True for m in members}, locked={m: False for m in members[:3]})
    refused = _envelope(owners={m: True for m in members}, locked={m: False for m in members[:3]})
    held = held_data(real, refused)
    assert held.leaked and held.data >= MIN_DATA_BYTES
    # a record of mixed kinds keeps its field names out of the data (43c F3 stands)
    assert data_words(json.dumps({"ok": True, "user": "svc", "count": 3}).encode()) == (
        data_words(b'{"v": "svc", "n": 3}')
    )


@pytest.mark.parametrize(
    "body",
    [b'{"deploy_key":"dk_9f3Kq27LmZx0Vb1"}', b'{"login":"ci-runner","pass":"wq7-Plk2.zT-fjord"}'],
)
def test_a_short_refusal_equal_to_the_real_answer_leaks(body):
    """F2: a short secret answer (under the 64 bytes a refusal had to have) passed."""
    assert 16 <= len(body) < 64
    assert held_data(body, body).leaked


def test_a_short_stub_answered_alike_is_no_data():
    assert not held_data(b'{"identity":"known"}', b'{"identity":"known"}').leaked


def test_the_gatherer_weighs_a_short_refusal():
    from smokegate.facts.http import ProbeResult
    from smokegate.gather.http import _refusal_to_compare

    body = b'{"deploy_key":"dk_9f3Kq27LmZx0Vb1"}'
    let_in = ProbeResult(key="a", url="http://127.0.0.1/x", status=200, body=body)
    refused = ProbeResult(key="b", url="http://127.0.0.1/x", status=401, body=body)
    assert _refusal_to_compare(let_in, refused)


@pytest.mark.parametrize("where", ["aside", "article-header"])
def test_a_page_whose_data_sits_in_layout_elements_leaks(where):
    """F3: a keys panel in an <aside>, records in each <article>'s <header>, were dropped
    as layout: the page's data weighed a heading."""
    records = "".join(
        f"<article><header><h2>{n}</h2><p>{m}</p></header></article>"
        for n, m in [("Ines Alvarez", "ines@corp.example"), ("Tomas Berg", "tomas@corp.example")]
    )
    panel = "<aside><ul><li>live: pk_live_Zq81mNc0Rt</li><li>hook: wh_77Kd0aPq</li></ul></aside>"
    inner = panel if where == "aside" else records
    page = "<html><head><meta name=csrf content={}></head><body><main><h1>Keys</h1>{}</main>"
    real = page.format(uuid.uuid4().hex, inner).encode()
    refused = page.format(uuid.uuid4().hex, inner).encode()
    assert held_data(real, refused).leaked


def test_json_escapes_in_a_refusal_that_does_not_parse_are_read_as_its_json():
    """F4: a warning printed before escaped JSON left the refusal's words `u00e9`-shaped."""
    doc = {"people": [{"name": "Søren Ødegård", "town": "Tromsø"}, {"name": "Zoë Brontë"}]}
    real = json.dumps(doc).encode()  # ensure_ascii: \u00f8
    refused = b"Notice: undefined index 'uid' in /srv/app/list.php on line 4\n" + real
    assert held_data(real, refused).leaked


@pytest.mark.parametrize("media", ["application/xml", "text/plain"])
def test_xml_without_a_prolog_is_read_whole_by_its_type(media):
    """F5: records as attributes of an XML answer with no `<?xml` were read as a page's;
    and as text/plain, as many XML APIs send it (round 46c F4)."""
    rows = "".join(
        f'<member mail="{m}" tel="{t}"/>'
        for m, t in [
            ("ana@corp.example", "+44 20 7946 0018"),
            ("li@corp.example", "+44 20 7946 0642"),
        ]
    )
    real = f'<members id="{uuid.uuid4().hex}">{rows}</members>'.encode()
    refused = f'<members id="{uuid.uuid4().hex}">{rows}</members>'.encode()
    assert held_data(real, refused, media, media).leaked


def test_an_8_bit_charset_is_decoded_as_declared():
    """F6: Greek text in ISO-8859-7 read as UTF-8 became U+FFFD runs, and two unrelated
    texts with words of the same lengths were one: a false failure."""
    real = json.dumps(
        {"κατάσταση": "ενεργός", "πόλη": "Αθήνα", "πακέτο": "ετήσιο"}, ensure_ascii=False
    )
    page = (
        "<html><body><h1>Απαγορεύεται</h1><p>Συνδεθείτε πρώτα, παρακαλούμε πολύ.</p></body></html>"
    )
    held = held_data(
        real.encode("iso-8859-7"),
        page.encode("iso-8859-7"),
        "application/json; charset=iso-8859-7",
        "text/html; charset=iso-8859-7",
    )
    assert not held.leaked and held.data >= MIN_DATA_BYTES


def test_an_xhtml_page_with_its_prolog_is_read_as_a_page():
    """F7: `<?xml` switched a JSF page to "read whole", its shared layout counted as data."""
    prolog = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>'
    resources = "".join(
        f'<link type="text/css" rel="stylesheet" href="/portal/jakarta.faces.resource/{n}.css'
        f'.xhtml?ln=primefaces-nova&amp;v=13.0.2" />'
        for n in ("theme", "components", "layout", "icons")
    )
    head = f"<head><title>Northwind portal for partners and suppliers</title>{resources}</head>"
    nav = "<nav><a href=/a>Dashboard</a> <a href=/b>Invoices and credit notes</a></nav>"
    foot = "<footer>Northwind Traders Ltd, registered in Leeds, all rights reserved</footer>"
    shell = f'{prolog}<html xmlns="http://www.w3.org/1999/xhtml">{head}<body>{nav}<main>%s</main>{foot}</body></html>'
    rows = [("INV-2291", "Harbour Fisheries", "3 480.00"), ("INV-2292", "Lakeside Mills", "915.20")]
    cells = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
    real = shell % f"<table>{cells}</table>"
    refused = shell % "<form><label>Partner id</label><input name=p/></form>"
    assert not held_data(real.encode(), refused.encode()).leaked
