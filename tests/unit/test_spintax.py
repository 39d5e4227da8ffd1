"""Spintax and placeholders: examples, then properties over templates hypothesis makes up."""

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kurir.domain.spintax import (
    PLACEHOLDERS,
    Choice,
    Placeholder,
    SpintaxError,
    Template,
    escape,
    parse_template,
)

VALUES = {"name": "Budi", **{f"opt{n}": f"o{n}" for n in range(1, 8)}}


def expansions(template: Template, values: dict[str, str] = VALUES) -> set[str]:
    """Every text the template can render."""

    def of(parts: tuple[object, ...]) -> set[str]:
        texts = {""}
        for part in parts:
            if isinstance(part, str):
                choices = {part}
            elif isinstance(part, Placeholder):
                choices = {values.get(part.name, "")}
            else:
                assert isinstance(part, Choice)
                choices = set().union(*(of(option) for option in part.options))
            texts = {a + b for a, b in itertools.product(texts, choices)}
        return texts

    return of(template.parts)


@pytest.mark.parametrize(
    ("text", "possible"),
    [
        ("Halo", {"Halo"}),
        ("{Halo|Hai} kak", {"Halo kak", "Hai kak"}),
        ("{Halo {kak|bos}|Hai}!", {"Halo kak!", "Halo bos!", "Hai!"}),
        ("{name}, {Halo|Hai}", {"Budi, Halo", "Budi, Hai"}),
        ("{ NAME } {opt7}", {"Budi o7"}),
        (r"\{name\} a\|b \\ C:\data", {r"{name} a|b \ C:\data"}),
        ("a|b outside a group", {"a|b outside a group"}),
        ("{Halo kak}", {"Halo kak"}),
        ("{a|}", {"a", ""}),
        ("trailing \\", {"trailing \\"}),
    ],
)
def test_a_template_renders_one_of_its_texts(text: str, possible: set[str]) -> None:
    template = parse_template(text)
    assert expansions(template) == possible
    rng = random.Random(7)
    assert {template.render(rng, VALUES) for _ in range(200)} == possible


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{Halo|Hai", "unbalanced '{' (no '}' closes it) at position 1"),
        ("Halo} kak", "unbalanced '}' (no '{' opens it) at position 5"),
        ("ok {a|{b|c} ", "unbalanced '{' (no '}' closes it) at position 4"),
        (
            "Halo {nama}",
            "unknown placeholder {nama} (known: name, opt1, opt2, opt3, opt4, "
            "opt5, opt6, opt7) at position 6",
        ),
        (
            "{opt8}",
            "unknown placeholder {opt8} (known: name, opt1, opt2, opt3, opt4, "
            "opt5, opt6, opt7) at position 1",
        ),
        ("a {} b", "empty braces '{}' at position 3"),
        ("{" * 21 + "}" * 21, "braces nested deeper than 20 at position 21"),
    ],
)
def test_a_broken_template_is_refused_naming_the_position(text: str, message: str) -> None:
    with pytest.raises(SpintaxError) as raised:
        parse_template(text)
    assert raised.value.message == message


def test_placeholders_are_found_in_every_option() -> None:
    template = parse_template("{Halo {name}|Hai {opt2}} {x|y}")
    assert template.placeholders == {"name", "opt2"}
    assert not template.is_plain
    assert parse_template("plain").is_plain
    assert parse_template("").render(random.Random()) == ""


def test_a_missing_value_renders_empty() -> None:
    assert parse_template("Halo {name}!").render(random.Random(), {}) == "Halo !"


# -- properties ---------------------------------------------------------------------------------

special = st.sampled_from(list("{}|\\"))
any_text = st.text(st.one_of(st.characters(codec="utf-8"), special), max_size=40)
words = st.text(st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=6)


def _write(parts: list[object]) -> str:
    """Template text for parts: words (escaped), placeholders and nested choices."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(escape(part))
        elif isinstance(part, Placeholder):
            out.append("{" + part.name + "}")
        else:
            assert isinstance(part, list)
            out.append("{" + "|".join(_write(option) for option in part) + "}")
    return "".join(out)


leaf = st.one_of(words, st.sampled_from(PLACEHOLDERS).map(Placeholder))
# A part is a leaf or a choice: two or more options (so never read as a
# placeholder), each a list of parts.
part = st.recursive(
    leaf,
    lambda inner: st.lists(st.lists(inner, min_size=1, max_size=3), min_size=2, max_size=3),
    max_leaves=12,
)
part_lists = st.lists(part, min_size=1, max_size=4)


@given(any_text)
def test_any_text_escaped_renders_as_itself(text: str) -> None:
    assert parse_template(escape(text)).render(random.Random(), VALUES) == text


@given(st.text(st.characters(codec="utf-8", exclude_characters="{}\\"), max_size=60))
def test_text_without_braces_or_backslashes_is_itself(text: str) -> None:
    template = parse_template(text)
    assert template.is_plain
    assert template.render(random.Random(), VALUES) == text


@given(any_text)
def test_any_text_either_parses_or_names_a_position_inside_it(text: str) -> None:
    position = None
    try:
        parse_template(text).render(random.Random(), VALUES)
    except SpintaxError as error:
        position = error.position
    if position is not None:
        assert 1 <= position <= len(text)
        assert text[position - 1] in "{}"


@settings(max_examples=200)
@given(part_lists, st.integers(0, 2**32))
def test_a_rendering_is_always_one_of_the_templates_texts(parts: list[object], seed: int) -> None:
    template = parse_template(_write(parts))
    possible = expansions(template)
    rendered = template.render(random.Random(seed), VALUES)
    assert rendered in possible
    assert "{" not in rendered  # neither the words nor the values hold one
    assert "}" not in rendered


@settings(max_examples=100)
@given(part_lists)
def test_every_text_of_a_small_template_is_reachable(parts: list[object]) -> None:
    template = parse_template(_write(parts))
    possible = expansions(template)
    if len(possible) > 16:
        return  # enough draws to see them all would make the test slow
    rng = random.Random(1)
    seen = {template.render(rng, VALUES) for _ in range(60 * len(possible))}
    assert seen == possible


@given(part_lists)
def test_removing_a_closing_brace_is_refused(parts: list[object]) -> None:
    text = _write(parts)
    closing = [i for i, char in enumerate(text) if char == "}" and (i == 0 or text[i - 1] != "\\")]
    if not closing:
        return
    broken = text[: closing[-1]] + text[closing[-1] + 1 :]
    with pytest.raises(SpintaxError, match="unbalanced"):
        parse_template(broken)
