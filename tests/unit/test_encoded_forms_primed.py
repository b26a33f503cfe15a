"""`prime_encoded_forms`: many values' encoded forms looked up in smokegate's own text in
one search (a value at a time took 2.5 s of the pattern built for twenty accounts' STS
credentials); each value's answer must be the one a search of its own forms gives."""

import pytest

from smokegate import linear_re, redact


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "_encoded_in_own", {})


def test_a_form_that_overlaps_another_ones_find_still_decides_its_value(monkeypatch):
    """One search reports matches that do not overlap: `cdefgh` inside `abcdefgh`, after
    `abcdef` was found, is found by the search run again without the values decided."""
    forms = {"v1": ["abcdef"], "v2": ["cdefgh"], "v3": ["zzzzzz"]}
    monkeypatch.setattr(redact, "_encoded_forms", lambda value: forms[value])
    monkeypatch.setattr(redact, "_own_text_blob", lambda: "xx abcdefgh xx")
    redact.prime_encoded_forms(["v1", "v2", "v3"])
    assert redact._encoded_in_own == {"v1": True, "v2": True, "v3": False}


def _one_by_one(value: str) -> bool:
    forms = redact._encoded_forms(value)
    if not forms:
        return False
    pattern = linear_re.compile("|".join(linear_re.escape(form) for form in forms))
    return pattern.search(redact._own_text_blob()) is not None


def test_primed_answers_are_those_of_each_values_own_search():
    latin1_of_a_case_name = "^²ßÚqÇ©¶Ïí¢G§"  # a form of it reads `est_accepts_token`
    values = [
        "Zq7xK2mPw9Lb4Rt8Vn3c",  # a token: none of its forms is ours
        latin1_of_a_case_name,  # its Latin-1 base64 is a case name of ours (round 31a F3)
        "ASIA" + "0123456789ABCDEF",
        "a%2Fb%2Fc-" * 3,
    ]
    redact.prime_encoded_forms(values)
    assert {v: redact._encoded_in_own[v] for v in values} == {v: _one_by_one(v) for v in values}
    assert redact._encoded_in_own[latin1_of_a_case_name] is True
    assert redact._encoded_in_own["Zq7xK2mPw9Lb4Rt8Vn3c"] is False


def test_an_unprimed_value_is_looked_up_when_asked():
    assert redact._encoded_form_in_own_text("Zq7xK2mPw9Lb4Rt8Vn3c") is False
    assert "Zq7xK2mPw9Lb4Rt8Vn3c" in redact._encoded_in_own
