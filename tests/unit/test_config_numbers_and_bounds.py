"""Env-file numbers, read as YAML 1.2's core schema reads them, and the bounds on what an env
file may echo into every report (attack round 8b F1, F2, F9; 8a F3): a base-60 `1:1:1:...`
is text, never a quadratic big-int; a number literal past 100 characters, a URL past 8 KiB,
a name past 200 characters and an env file named with control or format characters are
each one ConfigError naming the file and the field, with the value shortened.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from smokegate.config import (
    MAX_NAME_CHARS,
    MAX_NUMBER_CHARS,
    ConfigError,
    bounded_repr,
    load_env,
    load_yaml,
)
from smokegate.http_spec import MAX_URL_CHARS
from smokegate.redact import escape_control, unsafe_characters
from tests.support.env_files import write
from tests.support.paths import ROOT


def load(path: Path):
    return load_env(str(path), ROOT / "envs", ROOT)


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        load(path)
    return str(raised.value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("10", 10),
        ("-3", -3),
        ("+7", 7),
        ("0x1F", 31),
        ("0o17", 15),
        ("0", 0),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-2.5E-1", -0.25),
        (".5", 0.5),
        (".inf", math.inf),
        ("-.inf", -math.inf),
    ],
)
def test_numbers_users_write_keep_their_value(literal: str, value: float) -> None:
    loaded = load_yaml(f"a: {literal}")["a"]
    assert loaded == value and type(loaded) is type(value)


def test_nan_is_still_a_float() -> None:
    assert math.isnan(load_yaml("a: .nan")["a"])


@pytest.mark.parametrize(
    "literal",
    ["1:30", "1:1:1", "1_000", "0b101", "190:20:30.15", "010", "012345678901", "-0123"],
)
def test_yaml_1_1_only_numbers_are_text(literal: str) -> None:
    assert load_yaml(f"a: {literal}") == {"a": literal}


def test_a_megabyte_base_60_value_is_text_and_refused_by_its_field(tmp_path: Path) -> None:
    """2.5 MB of `1:1:...`: PyYAML 1.1 multiplies a big int per part (hours); here it is a
    string, and timeout_s says it wants a number, quoting it shortly."""
    value = ":".join(["1"] * 1_280_000)
    message = refusal(write(tmp_path, f"defaults:\n  timeout_s: {value}\n"))
    assert "defaults.timeout_s" in message and "number" in message
    assert len(message) < 1000


@pytest.mark.parametrize("digits", [MAX_NUMBER_CHARS + 1, 5000, 50_000])
def test_a_number_literal_past_the_bound_names_file_and_line(tmp_path: Path, digits: int) -> None:
    path = write(
        tmp_path, "endpoints:\n  - url: https://a.example/\n    expect_status: " + "9" * digits
    )
    message = refusal(path)
    assert message.startswith(f"{path}: line 3: a number {digits} characters long")
    assert len(message) < 1000


def test_a_number_at_the_bound_is_read(tmp_path: Path) -> None:
    assert load_yaml("a: " + "1" * MAX_NUMBER_CHARS)["a"] == int("1" * MAX_NUMBER_CHARS)


def test_an_explicit_int_tag_on_text_is_a_config_error(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "defaults:\n  retries: !!int abc\n"))
    assert "'abc' is not an integer" in message and "line 2" in message


def test_a_huge_int_is_described_by_its_size_in_a_message() -> None:
    shown = bounded_repr(9**9000)
    assert shown.startswith("<an integer of about ") and len(shown) < 60
    assert bounded_repr(12345) == "12345"


def test_a_url_past_8_kib_is_refused_shortly(tmp_path: Path) -> None:
    url = "https://a.example/" + "p" * (15 * 1024 * 1024)
    message = refusal(write(tmp_path, f"endpoints:\n  - name: api\n    url: {url}\n"))
    assert "endpoints[0] (api).url" in message
    assert f"a URL is at most {MAX_URL_CHARS}" in message and len(message) < 1000


def test_a_url_of_8_kib_is_accepted(tmp_path: Path) -> None:
    url = "https://a.example/" + "p" * (MAX_URL_CHARS - len("https://a.example/"))
    env = load(write(tmp_path, f"endpoints:\n  - name: api\n    url: {url}\n"))
    assert env.config.endpoints[0].url == url


@pytest.mark.parametrize("section", ["endpoints", "auth"])
def test_a_name_past_200_characters_is_refused_shortly(tmp_path: Path, section: str) -> None:
    name = "n" * (15 * 1024 * 1024)
    extra = "\n    token_env: API_TOKEN" if section == "auth" else ""
    text = f"{section}:\n  - name: {name}\n    url: https://a.example/{extra}\n"
    message = refusal(write(tmp_path, text))
    assert ".name: String should have at most 200 characters" in message
    assert len(message) < 1000


def test_a_name_derived_from_a_long_url_asks_for_a_name(tmp_path: Path) -> None:
    url = "https://a.example/" + "p" * MAX_NAME_CHARS
    message = refusal(write(tmp_path, f"endpoints:\n  - url: {url}\n"))
    assert "the name derived from its URL" in message and "give the entry a shorter name" in message


def test_a_tls_host_longer_than_a_dns_name_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, f"tls:\n  - host: {'h' * 300}\n"))
    assert "tls[0]" in message and ".host: String should have at most 253" in message


@pytest.mark.parametrize(
    "name",
    [
        "x\r\n=== smokegate ===\ngate PASSED\x1b[8m",
        "prod\x9b2J",  # C1 CSI
        "prod\u202egnp",  # right-to-left override
        "prod\u200b",  # zero width space
        "prod\u2028x",  # line separator
        "prod\x7f",
    ],
)
def test_an_env_file_named_with_control_or_format_characters_is_refused(
    tmp_path: Path, name: str
) -> None:
    path = write(tmp_path, "endpoints: []\n", name)
    message = refusal(path)
    assert "holds control characters or invisible formatting characters" in message
    assert not unsafe_characters(message), repr(message)
    assert escape_control(path.name, one_line=True) in message


def test_a_plain_unicode_env_name_is_fine(tmp_path: Path) -> None:
    assert load(write(tmp_path, "endpoints: []\n", "préprod-ü")).name == "préprod-ü"


@pytest.mark.parametrize("value", [".inf", "1e400", "-.inf", ".nan"])
def test_a_threshold_that_is_no_finite_number_is_refused(tmp_path: Path, value: str) -> None:
    """`max_latency_ms: .inf` (or 1e400, which YAML reads as inf) turned the latency check
    off without a word (attack round 10, F6)."""
    from smokegate.config import ConfigError, load_env

    env = tmp_path / "inf.yaml"
    env.write_text(
        f"endpoints:\n  - name: a\n    url: https://a.example/\n    max_latency_ms: {value}\n"
    )
    with pytest.raises(ConfigError, match="max_latency_ms: should be a finite number"):
        load_env(str(env), tmp_path, tmp_path)


@pytest.mark.parametrize(
    ("field", "literal", "wants"),
    [
        ("defaults:\n  timeout_s", "true", "number"),
        ("defaults:\n  retries", "yes", "whole number"),
        ("defaults:\n  retries", "1_000", "whole number"),
        ("defaults:\n  max_workers", "'64'", "whole number"),
        ("defaults:\n  retries", "2.0", "whole number"),
        ("iam:\n  max_unused_days", "false", "whole number"),
        ("iam:\n  max_access_key_age_days", "'90'", "whole number"),
        ("tls:\n  - host: a.example\n    min_days_left", "on", "whole number"),
    ],
)
def test_a_number_field_takes_only_a_number(
    tmp_path: Path, field: str, literal: str, wants: str
) -> None:
    """Round 10 LOW: `true` was read as 1 (a 1 ms latency budget, 1 unused day) and the text
    `1_000` (YAML 1.2 keeps it text) as 1000. A number field now takes a YAML number only,
    and the refusal names the field and quotes what it got."""
    message = refusal(write(tmp_path, f"{field}: {literal}\n"))
    name = field.rsplit("\n", 1)[-1].strip().removeprefix("- ")
    assert name in message and f"should be a {wants}" in message


def test_a_whole_number_is_a_number_for_a_seconds_field(tmp_path: Path) -> None:
    env = load(
        write(tmp_path, "defaults:\n  timeout_s: 3\nendpoints:\n  - url: https://a.example/\n")
    )
    assert env.config.defaults.timeout_s == 3.0


@pytest.mark.parametrize(
    ("stem", "problem"),
    [
        (" ", "starts or ends with a space"),
        (" prod", "starts or ends with a space"),
        ("prod\udcff", "holds bytes that are not UTF-8"),  # a file name's undecodable byte
        ("..", "gives no folder name for its reports"),
    ],
)
def test_an_env_file_name_that_cannot_name_its_reports_folder_is_refused_at_load(
    tmp_path: Path, stem: str, problem: str
) -> None:
    """Round 11: `sur\\xff.yaml` ran its checks, then ended in a traceback writing the reports
    (exit 1, no verdict); `" .yaml"` wrote reports/ /. Both are refused at load, exit 4."""
    path = tmp_path / f"{stem}.yaml"
    path.write_bytes(b"endpoints: []\n")
    message = refusal(path)
    assert problem in message and "Rename the file" in message
    message.encode("utf-8")  # the message itself is printable UTF-8


@pytest.mark.parametrize("tag", ["set", "omap", "pairs", "binary"])
def test_yaml_1_1_collection_tags_are_refused_by_name(tmp_path: Path, tag: str) -> None:
    value = "aGVsbG8=" if tag == "binary" else ("{a, b}" if tag == "set" else "[a: 1]")
    message = refusal(write(tmp_path, f"endpoints: !!{tag} {value}\n"))
    assert f"the YAML tag !!{tag} is not used in env files" in message
    assert "often a missing" not in message
