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
import itertools
import json
import json.decoder
import re
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
    # all in C: the length of each line plus its line feed, summed up
    return [0, *itertools.accumulate(map((1).__add__, map(len, text.split("\n"))))]


class _Children:
    """The children of one object or array found so far: a container is scanned only as far
    as the children asked for (the last one first found), so locating a value skips the
    siblings after it."""

    __slots__ = ("done", "items", "keys", "pos")

    def __init__(self, pos: int) -> None:
        self.keys: dict[str, tuple[int, int]] = {}
        self.items: list[int] = []
        self.pos = pos  # where scanning resumes: the next child, or the closing bracket
        self.done = False


class JsonText:
    """A parsed JSON text: ``value``, and ``loc(path)`` for the place of any value in it."""

    def __init__(self, text: str, value: Any, place: Callable[[int], SourceLoc]) -> None:
        self.text = text
        self.value = value
        self._place = place
        self._children: dict[int, _Children] = {}
        self._root = _WS.match(text, 0).end()

    # -- offsets

    def _child(self, start: int, part: str | int) -> tuple[int, int] | None:
        """(key offset, value offset) of child ``part`` of the container at ``start``."""
        kids = self._children.get(start)
        text = self.text
        if kids is None:
            kids = self._children[start] = _Children(_WS.match(text, start + 1).end())
            kids.done = text[kids.pos] in "}]"
        obj = text[start] == "{"
        if obj:
            if not isinstance(part, str):
                return None
            if part in kids.keys:
                return kids.keys[part]
        else:
            if not isinstance(part, int) or part < 0:
                return None
            if part < len(kids.items):
                return kids.items[part], kids.items[part]
        i = kids.pos
        while not kids.done:
            if obj:
                key, end = _scanstring(text, i + 1)
                value = _COLON.match(text, end).end()  # type: ignore[union-attr]
                kids.keys.setdefault(key, (i, value))
            else:
                value = i
                kids.items.append(i)
            _, after = _SCAN(text, value)
            sep = _SEPARATOR.match(text, after)
            assert sep is not None  # the text is valid JSON
            kids.done = sep.group(1) != ","
            i = sep.end()
            kids.pos = i
            if obj:
                if key == part:
                    return kids.keys[key]
            elif isinstance(part, int) and len(kids.items) == part + 1:
                return value, value
        return None

    def offsets(self, path: PolicyPath) -> tuple[int, int]:
        """(offset of the key or of the value, offset of the value) of the value at ``path``;
        as far as the path exists (a missing part stops at its container)."""
        value = key = self._root
        text = self.text
        for part in path:
            if text[value] not in "{[":
                break
            found = self._child(value, part)
            if found is None:
                break
            key, value = found
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

    def value_at(self, path: PolicyPath) -> Any:
        value = self.value
        for part in path:
            value = value[part]
        return value

    def string_text(
        self, path: PolicyPath, *, url_encoded: bool = False
    ) -> tuple[str, Callable[[int], SourceLoc]]:
        """The text of the JSON string at ``path`` (URL-decoded if asked; raises
        ``ValueError`` for bad percent-encoding) and the place of each of its characters in
        this file (worked out on first use: most documents are never located inside)."""
        text = self.value_at(path)
        if not isinstance(text, str):
            raise TypeError("not a string")
        decoded, url_map = _url_decode(text) if url_encoded else (text, None)
        maps: list[_EscapeMap] = []

        def place(offset: int) -> SourceLoc:
            if not maps:
                start = self.offsets(path)[1]
                maps.append(_EscapeMap(self.text, start))
            if url_map is not None:
                offset = url_map(offset)
            return self._place(maps[0](offset))

        return decoded, place

    def embedded(self, path: PolicyPath, *, url_encoded: bool = False) -> JsonText:
        """The JSON document held in the string at ``path``; raises :class:`JsonProblem`
        located inside the string."""
        text, place = self.string_text(path, url_encoded=url_encoded)
        return parse_with(text, place)


#: one JSON escape: a surrogate pair, another \uXXXX, or a short escape (\n, \", ...)
_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\."
)
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*([,}\]])[ \t\n\r]*")
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


class _EscapeMap:
    """For the JSON string literal at ``start`` of ``text``: decoded index -> file offset.
    Only escapes move characters, so only they are recorded."""

    __slots__ = ("decoded", "end", "raw", "start", "width")

    def __init__(self, text: str, start: int) -> None:
        _, after = _scanstring(text, start + 1)
        self.start = start + 1
        self.end = after - 1  # the closing quote
        self.decoded: list[int] = []
        self.raw: list[int] = []
        self.width: list[int] = []
        shift = 0
        for m in _ESCAPE.finditer(text, self.start, self.end):
            self.decoded.append(m.start() - self.start - shift)
            self.raw.append(m.start())
            self.width.append(m.end() - m.start())
            shift += m.end() - m.start() - 1

    def __call__(self, index: int) -> int:
        k = bisect.bisect_right(self.decoded, index) - 1
        if k < 0:
            offset = self.start + index
        elif self.decoded[k] == index:
            offset = self.raw[k]
        else:
            offset = self.raw[k] + self.width[k] + (index - self.decoded[k] - 1)
        return min(offset, self.end)


def _url_decode(text: str) -> tuple[str, Callable[[int], int]]:
    """Percent-decoding (RFC 3986, UTF-8) and, for each decoded character, the index of the
    first encoded character it came from. Invalid UTF-8 raises ``ValueError``."""
    out: list[str] = []
    origin: list[int] = []
    last = 0
    for m in _PERCENT_RUN.finditer(text):
        out.append(text[last : m.start()])
        origin.extend(range(last, m.start()))
        data = bytes(int(m.group()[i + 1 : i + 3], 16) for i in range(0, len(m.group()), 3))
        chars = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
        byte = 0
        for ch in chars:
            origin.append(m.start() + 3 * byte)
            byte += len(ch.encode("utf-8"))
        out.append(chars)
        last = m.end()
    out.append(text[last:])
    origin.extend(range(last, len(text)))
    decoded = "".join(out)

    def where(index: int) -> int:
        return origin[index] if index < len(origin) else len(text)

    return decoded, where


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
            k = 0
            while (found := doc._child(start, k)) is not None:
                pending.append(found[1])
                k += 1
    return 0, "?"
