"""Where a value sits in an env file: the line an error message points the user to.

Validation runs on the constructed data, which has no lines; the composed YAML nodes have
them. A message that says `envs/prod.yaml: line 14: endpoints[3] (api).expect_statsu`
sends an editor (and a person) to the line at once, in a file of hundreds of entries.
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml


class YamlPlaces:
    """Lines of locations (`("endpoints", 3, "url")`) in one composed document.

    Each mapping is indexed once, when first asked about: a hostile file can hold
    hundreds of thousands of keys and a validation error for each, and a scan of the
    mapping per error would be quadratic.
    """

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root
        self._keys: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    def line_of(self, loc: Iterable[int | str]) -> int | None:
        """1-based: the key's line for a mapping entry, the item's for a list entry; for a
        place that is not in the file (a missing field), its nearest enclosing entry's."""
        node = self._root
        line = None if node is None else node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                found = self._entries(node).get(part)
                if found is None:
                    break
                line = found[0].start_mark.line + 1
                node = found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def _entries(self, node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key text -> (key node, value node); the last of a repeated key wins, as in the
        data (merged keys come first in a flattened mapping and the mapping's own override
        them)."""
        entries = self._keys.get(id(node))
        if entries is None:
            entries = {
                key.value: (key, value)
                for key, value in node.value
                if isinstance(key, yaml.ScalarNode)
            }
            self._keys[id(node)] = entries
        return entries
