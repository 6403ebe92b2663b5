"""JSON with places: the values of a JSON file and the line and column of any of them.

``json.loads`` builds the values (C speed); a place is found only when asked for, by walking
from the root to the value and skipping every sibling with the C scanner, and each container's
table of children is kept, so locating many values costs a few passes over the file.

A JSON document held in a string of another JSON file (Terraform's ``policy`` attributes, a
CloudFormation ``RepositoryPolicyText`` string, a URL-encoded IAM document) is a
:class:`JsonText` too, whose places are mapped back through the string's escapes to the outer
file, so that a problem inside it is reported where it is written.
"""

from __future__ import annotations

import bisect
import codecs
import json
import json.decoder
from collections.abc import Callable
from typing import Any

from runner.model import PolicyPath, SourceLoc

__all__ = ["JsonProblem", "JsonText", "parse_json"]

_WS = json.decoder.WHITESPACE  # type: ignore[attr-defined]  # a compiled regex in CPython
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class JsonProblem(ValueError):
    """A text that is not JSON, or that repeats a key, at ``loc``."""

    def __init__(self, loc: SourceLoc, message: str) -> None:
        super().__init__(f"{loc}: {message}")
        self.loc = loc
        self.message = message


class _RepeatedKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _RepeatedKey
    return out


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    i = find("\n")
    while i >= 0:
        starts.append(i + 1)
        i = find("\n", i + 1)
    return starts


class JsonText:
    """A parsed JSON text: ``value``, and ``loc(path)`` for the place of any value in it."""

    def __init__(self, text: str, value: Any, place: Callable[[int], SourceLoc]) -> None:
        self.text = text
        self.value = value
        self._place = place
        self._children: dict[int, dict[str, tuple[int, int]] | list[int]] = {}
        self._root = _WS.match(text, 0).end()

    # -- offsets

    def _table(self, start: int) -> dict[str, tuple[int, int]] | list[int]:
        table = self._children.get(start)
        if table is not None:
            return table
        text = self.text
        opener = text[start]
        i = _WS.match(text, start + 1).end()
        if opener == "{":
            keys: dict[str, tuple[int, int]] = {}
            if text[i] != "}":
                while True:
                    key, end = _scanstring(text, i + 1)
                    colon = _WS.match(text, end).end()
                    value = _WS.match(text, colon + 1).end()
                    keys.setdefault(key, (i, value))
                    _, after = _SCAN(text, value)
                    i = _WS.match(text, after).end()
                    if text[i] == "}":
                        break
                    i = _WS.match(text, i + 1).end()
            table = keys
        else:
            items: list[int] = []
            if text[i] != "]":
                while True:
                    items.append(i)
                    _, after = _SCAN(text, i)
                    i = _WS.match(text, after).end()
                    if text[i] == "]":
                        break
                    i = _WS.match(text, i + 1).end()
            table = items
        self._children[start] = table
        return table

    def offsets(self, path: PolicyPath) -> tuple[int, int]:
        """(offset of the key or of the value, offset of the value) of the value at ``path``;
        as far as the path exists (a missing part stops at its container)."""
        value = key = self._root
        for part in path:
            if self.text[value] not in "{[":
                break
            table = self._table(value)
            if isinstance(table, dict):
                if not isinstance(part, str) or part not in table:
                    break
                key, value = table[part]
            else:
                if not isinstance(part, int) or not 0 <= part < len(table):
                    break
                key = value = table[part]
        return key, value

    def loc(self, path: PolicyPath) -> SourceLoc:
        """Where the value at ``path`` starts (its container's place if it does not exist)."""
        return self._place(self.offsets(path)[1])

    def key_loc(self, path: PolicyPath) -> SourceLoc:
        """Where the key of the value at ``path`` starts (the value's place in a list)."""
        return self._place(self.offsets(path)[0])

    def place(self, offset: int) -> SourceLoc:
        return self._place(offset)

    # -- a JSON document inside a string of this one

    def string_text(
        self, path: PolicyPath, *, url_encoded: bool = False
    ) -> tuple[str, Callable[[int], SourceLoc]]:
        """The text of the JSON string at ``path`` (URL-decoded if asked) and the place of
        each of its characters in this file."""
        start = self.offsets(path)[1]
        raw = _raw_offsets(self.text, start)
        decoded = "".join(
            self.text[a:b] if b - a == 1 else _unescape(self.text[a:b]) for a, b in raw
        )
        starts = [a for a, _b in raw]
        end = raw[-1][1] if raw else start + 1
        if url_encoded:
            decoded, inner = _url_decode(decoded)
            starts = [starts[i] if i < len(starts) else end for i in inner]

        def place(offset: int) -> SourceLoc:
            if offset < len(starts):
                return self._place(starts[offset])
            return self._place(end)

        return decoded, place

    def embedded(self, path: PolicyPath, *, url_encoded: bool = False) -> JsonText:
        """The JSON document held in the string at ``path``; raises :class:`JsonProblem`
        located inside the string."""
        text, place = self.string_text(path, url_encoded=url_encoded)
        return parse_with(text, place)


def _raw_offsets(text: str, start: int) -> list[tuple[int, int]]:
    """For the JSON string literal at ``start``: the raw span of each decoded character."""
    spans: list[tuple[int, int]] = []
    i = start + 1
    while text[i] != '"':
        if text[i] == "\\":
            if text[i + 1] == "u":
                j = i + 6
                code = int(text[i + 2 : i + 6], 16)
                if 0xD800 <= code < 0xDC00 and text[j : j + 2] == "\\u":
                    low = int(text[j + 2 : j + 6], 16)
                    if 0xDC00 <= low < 0xE000:
                        j += 6
                spans.append((i, j))
                i = j
            else:
                spans.append((i, i + 2))
                i += 2
        else:
            spans.append((i, i + 1))
            i += 1
    return spans


def _unescape(escape: str) -> str:
    out: str = json.loads(f'"{escape}"')
    return out


def _url_decode(text: str) -> tuple[str, list[int]]:
    """Percent-decoding (RFC 3986, UTF-8) with, for each decoded character, the index of the
    first encoded character it came from. Invalid UTF-8 raises ``ValueError``."""
    out: list[str] = []
    origin: list[int] = []
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n + 1 and _is_hex(text[i + 1 : i + 3]):
            if not decoder.getstate()[0]:
                first = i
            piece = decoder.decode(bytes([int(text[i + 1 : i + 3], 16)]))
            i += 3
        else:
            if decoder.getstate()[0]:
                raise ValueError(f"an incomplete UTF-8 sequence before position {i}")
            first = i
            piece = ch
            i += 1
        for c in piece:
            out.append(c)
            origin.append(first)
    decoder.decode(b"", final=True)
    return "".join(out), origin


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def parse_with(text: str, place: Callable[[int], SourceLoc]) -> JsonText:
    """Parse ``text`` whose characters are at ``place(offset)``; raises :class:`JsonProblem`."""
    try:
        value = json.loads(text, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise JsonProblem(place(exc.pos), f"not valid JSON: {exc.msg}") from None
    except _RepeatedKey:
        where, key = _find_repeat(text)
        raise JsonProblem(
            place(where),
            f"the key {key!r} appears twice in one JSON object; each key may appear once",
        ) from None
    except RecursionError:
        raise JsonProblem(place(0), "the JSON is nested too deeply") from None
    except ValueError as exc:  # an integer too long for Python to convert
        raise JsonProblem(place(0), f"not valid JSON: {exc}") from None
    return JsonText(text, value, place)


def parse_json(display: str, text: str) -> JsonText:
    """A JSON file's text as :class:`JsonText`; raises :class:`JsonProblem`."""
    starts = _line_starts(text)

    def place(offset: int) -> SourceLoc:
        line = bisect.bisect_right(starts, offset) - 1
        return SourceLoc(display, line + 1, offset - starts[line] + 1)

    return parse_with(text, place)


def _find_repeat(text: str) -> tuple[int, str]:
    """The offset and name of the first key repeated in one object (the text is valid JSON)."""
    doc = JsonText(text, None, lambda offset: SourceLoc("", 0, 0))
    pending = [doc._root]
    while pending:
        start = pending.pop()
        if text[start] not in "{[":
            continue
        if text[start] == "{":
            seen: set[str] = set()
            i = _WS.match(text, start + 1).end()
            if text[i] == "}":
                continue
            while True:
                key, end = _scanstring(text, i + 1)
                if key in seen:
                    return i, key
                seen.add(key)
                value = _WS.match(text, _WS.match(text, end).end() + 1).end()
                pending.append(value)
                _, after = _SCAN(text, value)
                i = _WS.match(text, after).end()
                if text[i] == "}":
                    break
                i = _WS.match(text, i + 1).end()
        else:
            table = doc._table(start)
            assert isinstance(table, list)
            pending.extend(table)
    return 0, "?"
