"""A refusal leaks when it holds every word the real credential's answers share: what
changes from one answer to the next (a request id, a time, a nonce) is no data (round 42b
F1), and what the real answer holds that the refusal lacks keeps the refusal honest."""

from __future__ import annotations

import json
import uuid

from smokegate.rules.leaked_body import MIN_WORD_BYTES, leaked_words, weight, words

ORDERS = [{"id": 1042, "customer": "alice@example.com", "card_last4": "4242", "total": 129.9}]


def _page(request_id: str, at: float, **extra: object) -> str:
    return json.dumps({"request_id": request_id, "generated_at": at, "orders": ORDERS, **extra})


def _rendered(request_id: str, at: float) -> bytes:
    return _page(request_id, at).encode()


class _Again:
    """The real credential's request asked once more: counts the asks."""

    def __init__(self, body: bytes | None) -> None:
        self.body, self.asked = body, 0

    def __call__(self) -> bytes | None:
        self.asked += 1
        return self.body


def test_the_same_body_leaks_without_asking_again():
    body = _rendered("a1", 1.0)
    again = _Again(None)
    assert leaked_words(body, body, again) == weight(words(body))
    assert again.asked == 0


def test_per_request_words_are_told_from_data_by_a_second_answer():
    let_in = _rendered(str(uuid.uuid4()), 1796380000.25)
    refused = _rendered(str(uuid.uuid4()), 1796380001.75)
    again = _Again(_rendered(str(uuid.uuid4()), 1796380000.5))
    leaked = leaked_words(let_in, refused, again)
    assert again.asked == 1
    lasting = words(json.dumps({"request_id": "", "generated_at": "", "orders": ORDERS}).encode())
    assert leaked == weight(lasting) >= MIN_WORD_BYTES


def test_key_order_and_layout_do_not_hide_the_data():
    let_in = json.dumps({"orders": ORDERS, "page": 1}, indent=2).encode()
    refused = json.dumps({"page": 1, "orders": ORDERS[::-1]}, separators=(",", ":")).encode()
    assert leaked_words(let_in, refused, _Again(None)) == weight(words(let_in))


def test_a_refusal_holding_a_word_of_data_fewer_is_honest():
    """Two answers agree on the user's name; the refusal lacks it: not the data."""
    let_in = _rendered("r1", 1.0) + b"<p>Welcome, alice</p>"
    refused = _rendered("r2", 2.0) + b"<p>Welcome, guest</p>"
    again = _Again(_rendered("r3", 3.0) + b"<p>Welcome, alice</p>")
    assert leaked_words(let_in, refused, again) == 0
    assert again.asked == 1


def test_a_login_page_sharing_the_layout_is_honest():
    layout = b"<html><head><title>Acme shop</title><link rel=stylesheet href=/s.css></head>"
    nav = b"<nav><a href=/>Home</a> <a href=/help>Help</a> <a href=/about>About us</a></nav>"
    let_in = layout + nav + b"<table><tr><td>1042</td><td>alice@example.com</td></tr></table>"
    refused = layout + nav + b"<form action=/login><input name=user><input name=pw></form>"
    again = _Again(let_in)
    assert leaked_words(let_in, refused, again) == 0


def test_an_honest_json_refusal_costs_no_second_request():
    let_in = _rendered("r1", 1.0)
    refused = json.dumps({"error": "unauthorized", "detail": "a bearer token is needed"}).encode()
    again = _Again(let_in)
    assert leaked_words(let_in, refused, again) == 0
    assert again.asked == 0


def test_nothing_leaks_when_the_real_answer_cannot_be_asked_again():
    """A method that may change something is not sent twice: words that differ stay data."""
    let_in, refused = _rendered("r1", 1.0), _rendered("r2", 2.0)
    assert leaked_words(let_in, refused, _Again(None)) == 0


def test_a_real_answer_of_only_changing_words_is_no_data():
    """Two answers with nothing lasting but a few keys: nothing to say leaked."""
    let_in = json.dumps({"nonce": uuid.uuid4().hex, "at": 1.5}).encode()
    refused = json.dumps({"nonce": uuid.uuid4().hex, "at": 2.5, "error": "no"}).encode()
    again = _Again(json.dumps({"nonce": uuid.uuid4().hex, "at": 3.5}).encode())
    assert leaked_words(let_in, refused, again) == 0


def test_only_the_first_mebibyte_is_read():
    """A hostile body of distinct words past the first MiB costs no memory."""
    head = b"w" * (1 << 20)
    body = head + b" " + b" ".join(b"x%d" % n for n in range(200_000))
    assert words(body) == words(head)


def test_a_time_the_two_real_answers_shared_by_chance_is_no_data():
    """Two real answers within one second say the same time; the refusal another."""
    let_in = _rendered("r1", 1796380000.0)
    again = _Again(_rendered("r2", 1796380000.0))
    refused = _rendered("r3", 1796380001.0)
    assert leaked_words(let_in, refused, again) > 0


def test_a_refusal_with_other_numbers_in_most_of_its_words_is_honest():
    """Past a quarter of the real answer's words, numbers the refusal lacks are data."""
    let_in = json.dumps({"n": list(range(1000, 1100)), "of": "the counters page"}).encode()
    refused = json.dumps({"n": list(range(2000, 2100)), "of": "the counters page"}).encode()
    assert leaked_words(let_in, refused, _Again(let_in)) == 0
