"""Spintax and placeholders: one template, a different text for every recipient.

``{Halo|Hai|Selamat pagi}`` picks one option per message, and options may
hold groups of their own (``{Halo {kak|bos}|Hai}``). ``{name}`` and
``{opt1}`` to ``{opt7}`` (in any case) take the recipient's contact fields.
A backslash makes ``{``, ``}``, ``|`` or itself literal; before anything
else it is an ordinary character, so a path such as ``C:\\data`` needs no care.
Outside a group ``|`` is an ordinary character too.

Bulk senders vary their words so that no two messages are alike (WhatsApp
flags identical texts sent to many people). The chosen text is stored on each
message, so a retry sends the same words. A template is parsed once and
rendered for each recipient; a mistake in it is reported with its position
(counted in characters from 1) so the sender can find it.
"""

import random
from collections.abc import Mapping

import msgspec

from kurir.domain.errors import ValidationError

#: The contact fields a template may name.
PLACEHOLDERS = ("name", *(f"opt{n}" for n in range(1, 8)))
_KNOWN = frozenset(PLACEHOLDERS)
#: Deeper nesting is no one's intent, and would only cost.
MAX_DEPTH = 20
_ESCAPABLE = frozenset("{}|\\")


class SpintaxError(ValidationError):
    """A template that cannot be read; ``position`` counts characters from 1."""

    def __init__(self, problem: str, position: int) -> None:
        super().__init__(f"{problem} at position {position}")
        self.problem = problem
        self.position = position


class Placeholder(msgspec.Struct, frozen=True):
    name: str


class Choice(msgspec.Struct, frozen=True):
    """One of ``options`` is chosen, each a sequence of parts."""

    options: tuple["Sequence", ...]


Part = str | Placeholder | Choice
Sequence = tuple[Part, ...]


class Template(msgspec.Struct, frozen=True):
    """A parsed template: render it once per recipient."""

    parts: Sequence

    @property
    def placeholders(self) -> frozenset[str]:
        """The contact fields it names anywhere, chosen or not."""
        found: set[str] = set()
        pending: list[Sequence] = [self.parts]
        while pending:
            for part in pending.pop():
                if isinstance(part, Placeholder):
                    found.add(part.name)
                elif isinstance(part, Choice):
                    pending.extend(part.options)
        return frozenset(found)

    @property
    def is_plain(self) -> bool:
        """True when every rendering is the same text with no placeholder."""
        return all(isinstance(part, str) for part in self.parts)

    def render(self, rng: random.Random, values: Mapping[str, str] | None = None) -> str:
        """One text: an option picked at random in every group, placeholders filled.

        A placeholder without a value (the contact has no such field) is empty.
        """
        out: list[str] = []
        fields = values or {}
        # Iterative, so nesting costs no recursion; parts are pushed in reverse.
        stack: list[Part] = list(reversed(self.parts))
        while stack:
            part = stack.pop()
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, Placeholder):
                out.append(fields.get(part.name, ""))
            else:
                stack.extend(reversed(rng.choice(part.options)))
        return "".join(out)


def parse_template(text: str) -> Template:
    """``text`` as a template, or a SpintaxError naming the fault and where it is."""
    if _ESCAPABLE.isdisjoint(text):  # the common case: plain text, checked in C
        return Template((text,) if text else ())
    # Each open group: where it opened, its finished options, the option being read.
    groups: list[tuple[int, list[Sequence], list[Part]]] = []
    top: list[Part] = []
    current = top
    literal: list[str] = []

    def flush() -> None:
        if literal:
            current.append("".join(literal))
            literal.clear()

    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            literal.append(text[index + 1])
            index += 2
            continue
        if char == "{":
            if len(groups) >= MAX_DEPTH:
                raise SpintaxError(f"braces nested deeper than {MAX_DEPTH}", index + 1)
            flush()
            groups.append((index, [], current))
            current = []
        elif char == "|" and groups:
            flush()
            groups[-1][1].append(tuple(current))
            current = []
        elif char == "}":
            if not groups:
                raise SpintaxError("unbalanced '}' (no '{' opens it)", index + 1)
            flush()
            opened, options, outer = groups.pop()
            options.append(tuple(current))
            outer.append(_group(text, opened, index, options))
            current = outer
        else:
            literal.append(char)
        index += 1
    if groups:
        raise SpintaxError("unbalanced '{' (no '}' closes it)", groups[-1][0] + 1)
    flush()
    return Template(tuple(top))


def _group(text: str, opened: int, closed: int, options: list[Sequence]) -> Part:
    """The group between ``opened`` and ``closed``: a placeholder or a choice."""
    if len(options) == 1:
        inside = text[opened + 1 : closed]
        name = inside.strip()
        if not name:
            raise SpintaxError("empty braces '{}'", opened + 1)
        if name.isidentifier() and options[0] == (inside,):
            if name.lower() not in _KNOWN:
                raise SpintaxError(
                    f"unknown placeholder {{{name[:20]}}} (known: {', '.join(PLACEHOLDERS)})",
                    opened + 1,
                )
            return Placeholder(name.lower())
    return Choice(tuple(options))


def escape(text: str) -> str:
    """``text`` written so that a template renders it exactly as it is."""
    return "".join("\\" + char if char in _ESCAPABLE else char for char in text)
