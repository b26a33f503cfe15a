"""Where each field of an AWS answer may stand, by the service's botocore model.

botocore reads a field by its name at its place in the operation's output shape and drops
anything else without a word. A lying endpoint (AWS_ENDPOINT_URL) put a correctly spelled
field one level deeper, under another parent or in `ResponseMetadata`, and botocore read
the answer as partial: ListUsers as no user, an Organizations page as the last, a second
SummaryMap saying root has a key as nothing (round 39b). A field of the model found where
the model does not put it is refused; a name the model does not know (a field AWS added
since) is let be, but what it holds is looked at too.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

import botocore.session

# a path part that stands for any list item or map key
_ITEM = "[]"
# how deep a shape is followed: the answers the audit reads are 5 levels at most
_MAX_DEPTH = 12


@functools.cache
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _places(service: str, operation: str) -> tuple[frozenset[tuple[str, ...]], frozenset[str]]:
    """The paths an answer's fields may stand at (from its root element or object) and the
    names of those fields; empty when the operation is unknown."""
    try:
        output = _model(service).operation_model(operation).output_shape
    except Exception:
        return frozenset(), frozenset()
    paths: set[tuple[str, ...]] = set()
    xml = _model(service).metadata.get("protocol") in ("query", "rest-xml")
    start: tuple[str, ...] = ()
    if xml:
        start = (f"{operation}Response",)
        metadata = (*start, "ResponseMetadata")
        paths.update({start, metadata, (*metadata, "RequestId")})
        wrapper = output.serialization.get("resultWrapper") if output is not None else None
        if wrapper:
            start = (*start, wrapper)
            paths.add(start)
    if output is not None:
        _walk(output, start, xml, paths, 0)
    names = frozenset(part for path in paths for part in path if part != _ITEM)
    return frozenset(paths), names


def _walk(
    shape: Any, at: tuple[str, ...], xml: bool, paths: set[tuple[str, ...]], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        return
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            here = (*at, member.serialization.get("name", name))
            paths.add(here)
            _walk(member, here, xml, paths, depth + 1)
    elif kind == "list":
        item = (*at, shape.member.serialization.get("name", "member")) if xml else (*at, _ITEM)
        paths.add(item)
        _walk(shape.member, item, xml, paths, depth + 1)
    elif kind == "map":
        if xml:
            entry = (*at, "entry")
            key = (*entry, shape.key.serialization.get("name", "key"))
            value = (*entry, shape.value.serialization.get("name", "value"))
            paths.update({entry, key, value})
            _walk(shape.value, value, xml, paths, depth + 1)
        else:
            value = (*at, _ITEM)
            paths.add(value)
            _walk(shape.value, value, xml, paths, depth + 1)


def operation_of(service: str, request: Any) -> str:
    """The operation a botocore request calls: `X-Amz-Target` (JSON protocols) or the query
    protocol's `Action`; '' when neither says."""
    headers = getattr(request, "headers", None) or {}
    target = headers.get("X-Amz-Target") or b""
    if target:
        text = target.decode("ascii", "replace") if isinstance(target, bytes) else str(target)
        return text.rpartition(".")[2]  # cut-ok: an operation name, compared
    body = getattr(request, "body", None) or b""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return ""
    return (parse_qs(body).get("Action") or [""])[0]


def misplaced_fields(service: str, operation: str, body: bytes) -> list[str]:
    """The fields of the model found where the model does not put them, as `name (at
    a/b/c)`; [] when all stand in place, when the operation is unknown, or when the body is
    no XML or JSON (botocore says so itself)."""
    paths, names = _places(service, operation)
    if not paths:
        return []
    try:
        is_json = body.lstrip()[:1] == b"{"  # cut-ok: a first byte, looked at
        found = list(_json_paths(json.loads(body)) if is_json else _xml_paths(body))
    except (ValueError, RecursionError, ElementTree.ParseError):
        return []
    return [
        f"{path[-1]} (at {'/'.join(path)})"  # cut-ok: a path's last part
        for path in found
        if path and path not in paths and path[-1] in names  # cut-ok: a path's last part
    ]


def _xml_paths(body: bytes) -> Iterator[tuple[str, ...]]:
    parser = ElementTree.XMLParser(target=ElementTree.TreeBuilder(), encoding="utf-8")
    parser.feed(body)
    root = parser.close()
    stack: list[tuple[ElementTree.Element, tuple[str, ...]]] = [(root, (_local(root.tag),))]
    while stack:
        element, path = stack.pop()
        yield path
        stack.extend((child, (*path, _local(child.tag))) for child in element)


def _json_paths(document: Any) -> Iterator[tuple[str, ...]]:
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if path:
            yield path
        if isinstance(value, dict):
            stack.extend((v, (*path, str(k))) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, _ITEM)) for v in value)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]  # cut-ok: a tag without its namespace, compared
