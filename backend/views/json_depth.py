"""How deep a JSON value nests: deeper bodies are refused before validation.

Nothing in the API nests more than a few levels, and deep nesting is how a small body makes a
parser or a validator recurse without end.
"""

from __future__ import annotations

MAX_DEPTH = 32


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether a parsed JSON value nests more than `limit` arrays or objects (iteratively)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = list(item)
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
