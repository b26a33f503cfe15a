"""Mocked worlds written by the tests: `make_world` puts an http.yaml (by default WORLD, a
few routes of api.mock.internal) into `<tmp>/world`. Pure: it only writes the file.
"""

from __future__ import annotations

from pathlib import Path

WORLD = """\
routes:
  - url: https://api.mock.internal/health
    json: {status: ok, db: {connected: true}}
    latency_ms: 150
  - url: https://api.mock.internal/text
    body: hello from the mock
    headers: {X-Served-By: mock}
  - url: https://api.mock.internal/items
    method: POST
    status: 201
  - url: https://api.mock.internal/search?q=health
    body: found
  - url: https://old.mock.internal/
    status: 301
    headers: {Location: https://api.mock.internal/text}
  - url: https://api.mock.internal/down
    status: 503
    body: upstream connect error
"""


def make_world(tmp_path: Path, text: str = WORLD) -> Path:
    world = tmp_path / "world"
    world.mkdir(exist_ok=True)
    (world / "http.yaml").write_text(text, encoding="utf-8")
    return world
