"""Where each field of an AWS answer may stand, by the service's botocore model.

botocore reads a field by its name at its place in the operation's output shape and drops
anything else without a word. A lying endpoint (AWS_ENDPOINT_URL) put a correctly spelled
field one level deeper, under another parent or in `ResponseMetadata`, and botocore read
the answer as partial: ListUsers as no user, an Organizations page as the last, a second
SummaryMap saying root has a key as nothing (round 39b). A field of the model found where
the model does not put it is refused; a name the model does not know (a field AWS added
since) is let be, and under it only what would hide data (a list, a map or a structure of
the model's, a paging field) is refused: a new list's `member`s, or a new structure's
`Arn`, are AWS's to add (round 40b F5).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
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


class _Places:
    """Where an operation's answer puts its fields: the paths from its root element or
    object, their names, and the names whose misplacement hides data wherever they stand
    (a list, a map or a structure, a paging field)."""

    def __init__(self) -> None:
        self.paths: set[tuple[str, ...]] = set()
        self.containers: set[str] = set(_PAGING)


# the names of a paging field: misplaced, one ends a listing early
_PAGING = ("Marker", "IsTruncated", "NextToken")
# the names the query protocol frames items with, not fields of the model's: under an
# element the model does not know (a list AWS added since), they are let be
_FRAME = frozenset({"member", "entry", "key", "value", _ITEM})


Places = tuple[frozenset[tuple[str, ...]], frozenset[str], frozenset[str]]


@functools.cache
def _places(service: str, operation: str) -> Places:
    """The paths an answer's fields may stand at, the names of those fields, and the names
    refused under a parent the model does not know; all empty when the operation is
    unknown."""
    try:
        output = _model(service).operation_model(operation).output_shape
    except Exception:
        return frozenset(), frozenset(), frozenset()
    places = _Places()
    xml = _model(service).metadata.get("protocol") in ("query", "rest-xml")
    start: tuple[str, ...] = ()
    if xml:
        start = (f"{operation}Response",)
        metadata = (*start, "ResponseMetadata")
        places.paths.update({start, metadata, (*metadata, "RequestId")})
        wrapper = output.serialization.get("resultWrapper") if output is not None else None
        if wrapper:
            start = (*start, wrapper)
            places.paths.add(start)
    if output is not None:
        _walk(output, start, xml, places, 0)
    names = frozenset(part for path in places.paths for part in path if part != _ITEM)
    return frozenset(places.paths), names, frozenset(places.containers)


def _walk(shape: Any, at: tuple[str, ...], xml: bool, places: _Places, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            field = member.serialization.get("name", name)
            here = (*at, field)
            places.paths.add(here)
            if member.type_name in ("structure", "list", "map"):
                places.containers.add(field)
            _walk(member, here, xml, places, depth + 1)
    elif kind == "list":
        item = (*at, shape.member.serialization.get("name", "member")) if xml else (*at, _ITEM)
        places.paths.add(item)
        _walk(shape.member, item, xml, places, depth + 1)
    elif kind == "map":
        if xml:
            entry = (*at, "entry")
            key = (*entry, shape.key.serialization.get("name", "key"))
            value = (*entry, shape.value.serialization.get("name", "value"))
            places.paths.update({entry, key, value})
            _walk(shape.value, value, xml, places, depth + 1)
        else:
            value = (*at, _ITEM)
            places.paths.add(value)
            _walk(shape.value, value, xml, places, depth + 1)


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


# no answer the audit reads is nested past 8 levels (ListUsers' user tags): one nested past
# this is refused, and no path longer than it is ever built (round 40b F4: 4 000 levels over
# 30 000 items, every item's whole path kept, took 1.35 GB)
MAX_NESTING = 32
# how many misplaced fields a refusal names
_NAMED = 3


class TooDeep(ValueError):
    """An answer nested past MAX_NESTING levels."""


def misplaced_fields(service: str, operation: str, body: bytes) -> list[str]:
    """The fields of the model found where the model does not put them, as `name (at
    a/b/c)`, each place once and at most three; [] when all stand in place, when the
    operation is unknown, or when the body is no XML or JSON (botocore says so itself).
    An answer nested past MAX_NESTING levels is not walked past them (TooDeep): ask
    `nested_past_aws` first."""
    paths, names, containers = _places(service, operation)
    if not paths:
        return []
    shown: dict[str, None] = {}

    def misplaced(parent: tuple[str, ...], name: str) -> bool:
        """Note the field if it is misplaced; True once enough are noted."""
        path = (*parent, name)
        if path in paths or name not in names:
            return False
        # under a parent the model does not know (a field AWS added since), only what would
        # hide data is refused: a list, a map, a structure, a paging field (round 40b F5)
        if parent not in paths and (name in _FRAME or name not in containers):
            return False
        shown[f"{name} (at {'/'.join(path)})"] = None
        return len(shown) >= _NAMED

    try:
        if body.lstrip()[:1] == b"{":  # cut-ok: a first byte, looked at
            _walk_json(json.loads(body), misplaced)
        else:
            _walk_xml(body, misplaced)
    except _Enough:
        pass
    except TooDeep:
        raise
    except (ValueError, RecursionError, ElementTree.ParseError):
        return []
    return list(shown)


def nested_past_aws(body: bytes) -> bool:
    """Whether an XML answer is nested past MAX_NESTING levels, read as a stream (a JSON
    one is bounded by its parser's own recursion limit)."""
    if body.lstrip()[:1] == b"{":  # cut-ok: a first byte, looked at
        return False
    try:
        _walk_xml(body, lambda parent, name: False)
    except TooDeep:
        return True
    except (ValueError, ElementTree.ParseError):
        return False
    return False


class _Enough(Exception):
    """As many misplaced fields as a refusal names were found: the walk stops."""


Visit = Callable[[tuple[str, ...], str], bool]


def xml_root(body: bytes) -> str:
    """The name of the answer's root element; '' when it is no XML (botocore says so)."""
    seen: list[str] = []

    def first(parent: tuple[str, ...], name: str) -> bool:
        seen.append(name)
        return True

    try:
        _walk_xml(body, first)
    except _Enough:
        pass
    except (ElementTree.ParseError, TooDeep):
        return ""
    return seen[0] if seen else ""


def _walk_xml(body: bytes, visit: Visit) -> None:
    """Each element, as (its parent's path, its name), handed to `visit` as expat reads it:
    no tree is built, and no path is longer than MAX_NESTING."""
    at: list[str] = []
    parents: list[tuple[str, ...]] = [()]

    class Target:
        def start(self, tag: str, attrib: object) -> None:
            if len(at) >= MAX_NESTING:
                raise TooDeep(f"nested past {MAX_NESTING} levels")
            name = local_name(tag)
            if visit(parents[-1], name):
                raise _Enough
            at.append(name)
            parents.append(tuple(at))

        def end(self, tag: str) -> None:
            at.pop()
            parents.pop()

        def close(self) -> None:
            return None

    parser = ElementTree.XMLParser(target=Target(), encoding="utf-8")
    parser.feed(body)
    parser.close()


def _walk_json(document: Any, visit: Visit) -> None:
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_NESTING:
            raise TooDeep(f"nested past {MAX_NESTING} levels")
        if isinstance(value, dict):
            items = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(_ITEM, v) for v in value]
        else:
            continue
        for name, v in items:
            if visit(path, name):
                raise _Enough
            if isinstance(v, dict | list):
                stack.append((v, (*path, name)))


def local_name(tag: object) -> str:
    """An XML element's name without its namespace; '' for what has no name (a comment or
    a processing instruction, whose ElementTree tag is a function)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""  # cut-ok: a name, compared
