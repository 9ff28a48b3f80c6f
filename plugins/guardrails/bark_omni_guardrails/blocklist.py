"""The blocklist: categories of terms and patterns, the defaults shipped with the package plus user TOML files.

A user file has the default file's shape (``[categories.NAME]`` with ``terms`` and ``patterns``); its lists are
added to the defaults (``replace_defaults = true`` at the top drops the shipped lists; ``disable = ["threat"]``
switches categories off). ``BARK_OMNI_GUARDRAILS_CONFIG`` names files to load, separated by the OS path separator.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

from .normalize import SEP, View, normalize, views

CONFIG_ENV = "BARK_OMNI_GUARDRAILS_CONFIG"
ENDINGS = "(?:s|es|ed|d|ing|er|ers)?"
ALNUM_BEFORE, ALNUM_AFTER = r"(?<![^\W_])", r"(?![^\W_])"


def is_latin_term(term: str) -> bool:
    """A term written in Latin letters (accents allowed) is matched on the Latin fold, others on the native one."""
    return normalize(term, latin=False).isascii()


def term_regex(term: str, bounded: bool = True, solid: bool = False) -> str:
    """A term as a regex on normalised text: whole words, letters may repeat, 'i'/'l' interchangeable, spaces
    optional (spaced-out letters are joined), common endings allowed. ``solid``: for the solid view, where any
    letter may be followed by a SEP mark (a split inside or between words) but the term starts and ends at word
    edges."""
    words = normalize(term, latin=is_latin_term(term)).split(" ")
    if not any(words):
        raise ValueError("empty term")
    gap = f"{SEP}?" if solid else ""

    def letter(c: str) -> str:
        return ("[il]" if c in "il" else re.escape(c)) + "+" + gap

    body = (gap if solid else r"\s?").join("".join(letter(c) for c in word) for word in words)
    if solid:
        return ALNUM_BEFORE + body + f"(?:{SEP}?(?:{ENDINGS[3:-2]}))?" + ALNUM_AFTER
    return ALNUM_BEFORE + body + ENDINGS + ALNUM_AFTER if bounded else body


@dataclass(frozen=True)
class Rule:
    category: str
    source: str  # the term or pattern as written (shown in verdicts)
    regex: re.Pattern[str]
    unbounded: re.Pattern[str] | None = None  # terms only: the same without word boundaries
    solid: re.Pattern[str] | None = None  # terms only: for the solid view (splits anywhere inside)
    latin: bool = True  # matched on the Latin fold (else on the native one)

    def matches(self, view: View) -> Iterable[re.Match[str]]:
        if view.latin != self.latin:
            return
        if view.kind == "solid":
            if self.solid is not None:
                yield from self.solid.finditer(view.text)
            return
        if view.kind == "dedup":  # patterns only (terms tolerate repeated letters already)
            if self.unbounded is None:
                yield from self.regex.finditer(view.text)
            return
        yield from self.regex.finditer(view.text)
        if self.unbounded is not None:
            for start, end in view.unbounded:
                found = self.unbounded.search(view.text, start, end)
                if found:
                    yield found


@dataclass(frozen=True)
class Hit:
    category: str
    rule: str
    span: tuple[int, int]  # in the original text


@dataclass
class Blocklist:
    rules: list[Rule] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)
    allow: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)  # context that excuses a category's hit

    @property
    def categories(self) -> list[str]:
        return sorted(self.descriptions)

    def _excused(self, text_views: tuple[View, ...]) -> dict[str, list[tuple[int, int]]]:
        """Original-text spans of each category's allow patterns (public warnings, role-play, phone menus...)."""
        spans: dict[str, list[tuple[int, int]]] = {}
        candidates = [v for v in text_views if v.kind != "solid" and v.latin]
        candidates += [_without_repeats(v) for v in candidates]
        for category, patterns in self.allow.items():
            for view in candidates:
                for pattern in patterns:
                    spans.setdefault(category, []).extend(
                        view.span(m.start(), m.end()) for m in pattern.finditer(view.text) if m.end() > m.start())
        return spans

    def first_hit(self, text: str) -> Hit | None:
        """The earliest match in ``text`` (by original position) that no allow pattern of its category covers."""
        text_views = views(text)
        excused = self._excused(text_views) if self.allow else {}
        text_views += tuple(_without_repeats(v) for v in text_views if v.kind != "solid" and v.latin)
        best: Hit | None = None
        for view in text_views:
            for rule in self.rules:
                for match in rule.matches(view):
                    if match.end() <= match.start():
                        continue
                    span = view.span(match.start(), match.end())
                    if any(a <= span[0] < b for a, b in excused.get(rule.category, ())):
                        continue
                    if best is None or span[0] < best.span[0]:
                        best = Hit(rule.category, rule.source, span)
                    break
        return best


def _without_repeats(view: View) -> View:
    """The view with runs of one letter collapsed ("ttthee voice oof" -> "the voice of"), for allow patterns."""
    keep = [k for k, c in enumerate(view.text) if k == 0 or c != view.text[k - 1] or not c.isalpha()]
    return View("".join(view.text[k] for k in keep), tuple(view.origin[k] for k in keep), (), "dedup", view.latin)


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from bark_omni.errors import InvalidInputError

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidInputError(f"guardrail config {path} does not exist; fix {CONFIG_ENV} or the path given") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"guardrail config {path} is not valid TOML ({exc}); fix the file") from None


def _add(blocklist: Blocklist, data: dict, origin: str) -> None:
    from bark_omni.errors import InvalidInputError

    for name, spec in (data.get("categories") or {}).items():
        if not isinstance(spec, dict):
            raise InvalidInputError(f"{origin}: [categories.{name}] must be a table with terms and patterns")
        blocklist.descriptions.setdefault(name, spec.get("description", ""))
        for term in [*spec.get("terms", []), *[t for lang in (spec.get("languages") or {}).values() for t in lang]]:
            try:
                blocklist.rules.append(Rule(name, term, re.compile(term_regex(str(term))),
                                            re.compile(term_regex(str(term), bounded=False)),
                                            re.compile(term_regex(str(term), solid=True)), is_latin_term(str(term))))
            except ValueError:
                raise InvalidInputError(f"{origin}: empty term in [categories.{name}]") from None
        for pattern in spec.get("allow", []):
            try:
                blocklist.allow.setdefault(name, []).append(re.compile(pattern))
            except re.error as exc:
                raise InvalidInputError(f"{origin}: bad allow pattern {pattern!r} in [categories.{name}]: {exc}") from None
        for pattern in spec.get("patterns", []):
            try:
                blocklist.rules.append(Rule(name, pattern, re.compile(pattern)))
            except re.error as exc:
                raise InvalidInputError(f"{origin}: bad pattern {pattern!r} in [categories.{name}]: {exc}") from None


def config_paths() -> tuple[str, ...]:
    raw = os.environ.get(CONFIG_ENV, "")
    return tuple(p for p in raw.split(os.pathsep) if p)


@lru_cache(maxsize=16)
def load_blocklist(paths: tuple[str, ...] = ()) -> Blocklist:
    """The shipped defaults plus the user files in ``paths`` (later files add to earlier ones)."""
    user = [(p, _read_toml(Path(p).expanduser())) for p in paths]
    blocklist = Blocklist()
    if not any(data.get("replace_defaults") for _, data in user):
        default = resources.files(__package__).joinpath("data/blocklist.toml")
        with resources.as_file(default) as path:
            _add(blocklist, _read_toml(path), "default blocklist")
    for path, data in user:
        _add(blocklist, data, path)
    disabled = {name for _, data in user for name in data.get("disable", [])}
    blocklist.rules = [r for r in blocklist.rules if r.category not in disabled]
    blocklist.descriptions = {k: v for k, v in blocklist.descriptions.items() if k not in disabled}
    return blocklist


def iter_texts(value: object, field_name: str) -> Iterable[tuple[str, str]]:
    """Every string inside a control-event structure, with a readable path (``control_events[2].value``)."""
    if isinstance(value, str):
        yield field_name, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_texts(v, f"{field_name}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from iter_texts(v, f"{field_name}[{i}]")
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from iter_texts(getattr(value, name), f"{field_name}.{name}")
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for k, v in vars(value).items():
            if not k.startswith("_"):
                yield from iter_texts(v, f"{field_name}.{k}")


__all__ = ["Blocklist", "Hit", "Rule", "View", "load_blocklist", "term_regex"]
