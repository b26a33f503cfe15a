"""A token echoed escaped in part or byte by byte never shows in any output (attack round 2
on issue 10: F5, F6). A real run sends this file's own token, with `+` every few
characters like a base64 secret, to a local server that echoes it .NET-style (only
`+ ' & < >` as `\\u002B` ...), as every byte `\\xHH`, and spread over soft hyphens; the
console, summary.md, JUnit and HTML are read, decoded as a reader would.
"""

from __future__ import annotations

import html
import json
import secrets
import warnings
from collections.abc import Iterator

import pytest

from tests.support.e2e import Run, run_checks
from tests.support.hostile_server import HostileServer

TOKEN = f"Nw4+{secrets.token_hex(2)}+bK/e7+{secrets.token_hex(2)}+Qz8<m>+{secrets.token_hex(2)}+xR"
VAR = "ESCAPED_TOKEN"


def _dotnet(text: str) -> str:
    out = json.dumps(text)[1:-1]
    for ch in "+'&<>":
        out = out.replace(ch, f"\\u{ord(ch):04X}")
    return out


ECHOES = {
    "dotnet": _dotnet,
    "xesc": lambda t: "".join(f"\\x{b:02x}" for b in t.encode()),
    "softhyphen": "\u00ad".join,
}


def _outputs(result: Run) -> dict[str, str]:
    found = {"console": result.output}
    for name in ("summary.md", "junit.xml", "report.html"):
        path = result.reports_dir / name
        assert path.exists(), name
        found[name] = path.read_text(errors="replace")
    return found


@pytest.fixture(scope="module")
def echo() -> Iterator[HostileServer]:
    with HostileServer(max_seconds=6) as running:
        for name, encode in ECHOES.items():

            def handler(conn, request, started, encode=encode, srv=running):
                token = request.get("authorization", "").partition(" ")[2]
                body = json.dumps({"error": "invalid credential"})[:-1]
                body += f', "token": "{encode(token)}"}}'
                data = body.encode()
                srv._respond(conn, "418 Teapot", [("Content-Type", "application/json")], data)

            running.custom[f"/{name}"] = handler
        yield running


def test_a_token_echoed_dotnet_style_or_as_every_byte_shows_nowhere(tmp_path, echo):
    env = {
        "defaults": {"timeout_s": 3},
        "endpoints": [
            {"name": name, "url": echo.url(f"/{name}"), "token_env": VAR} for name in ECHOES
        ],
    }
    result = run_checks(tmp_path, env, "-rA", "-vv", "--tb=long", env_vars={VAR: TOKEN})
    assert result.returncode == 1, result.output
    assert "***" in result.output
    for where, text in _outputs(result).items():
        # read as a reader would: entities decoded, escapes decoded, invisible characters gone
        readable = html.unescape(html.unescape(text))
        for decode in (
            lambda t: t,
            lambda t: t.replace("\u00ad", "").replace("\\u00ad", ""),
            _unicode_escapes_decoded,
        ):
            shown = decode(readable)
            assert TOKEN not in shown, where
            for start in range(len(TOKEN) - 7):
                piece = TOKEN[start : start + 8]
                assert piece not in shown, f"{piece!r} of the token in {where}"


def _unicode_escapes_decoded(text: str) -> str:
    """`\\u0041` read as `A`, as a reader of escaped output would; the codec warns about
    escapes it does not know (`\\*`), which are kept as they are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return text.encode("latin-1", "replace").decode("unicode_escape", "replace")
