"""How well the guardrail does: coverage of harmful prompts (per category and per obfuscation) and false
positives on benign ones, on the shipped evaluation set or any labelled prompts.

The shipped set (data/eval_prompts.jsonl) was written by hand: mild, abstract impersonation / fraud / threat
scripts, many obfuscated by hand, some only paraphrased (the blocklist is not expected to catch those: they
measure its limits), and benign prompts chosen to look close to the blocked ones ("kill the process",
"Scunthorpe", "I bought a gift card"). ``obfuscate`` adds seeded machine obfuscations of the plain harmful
prompts, a stress test of the normaliser.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from typing import Iterable, Mapping

import numpy as np

BENIGN = "benign"
_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "y": "у", "s": "ѕ"}
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}


@dataclass
class Prompt:
    text: str
    label: str  # a category name, or "benign"
    obfuscation: str = "none"


@dataclass
class EvalReport:
    total: int = 0
    harmful: int = 0
    blocked_harmful: int = 0
    benign: int = 0
    blocked_benign: int = 0
    by_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_obfuscation: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)
    wrong_category: int = 0

    @property
    def coverage(self) -> float:
        return self.blocked_harmful / max(self.harmful, 1)

    @property
    def false_positive_rate(self) -> float:
        return self.blocked_benign / max(self.benign, 1)

    def as_dict(self) -> dict:
        return {"coverage": self.coverage, "blocked_harmful": self.blocked_harmful, "harmful": self.harmful,
                "false_positive_rate": self.false_positive_rate, "blocked_benign": self.blocked_benign,
                "benign": self.benign, "wrong_category": self.wrong_category,
                "by_category": {k: {"blocked": v[0], "total": v[1]} for k, v in sorted(self.by_category.items())},
                "by_obfuscation": {k: {"blocked": v[0], "total": v[1]} for k, v in sorted(self.by_obfuscation.items())},
                "misses": self.misses, "false_positives": self.false_positives}

    def as_table(self) -> str:
        lines = [f"coverage {self.coverage:.3f} ({self.blocked_harmful}/{self.harmful} harmful blocked), "
                 f"false positives {self.false_positive_rate:.3f} ({self.blocked_benign}/{self.benign} benign blocked)",
                 "| group | blocked | total | rate |", "| --- | --- | --- | --- |"]
        for title, table in (("category", self.by_category), ("obfuscation", self.by_obfuscation)):
            for name, (hit, n) in sorted(table.items()):
                lines.append(f"| {title}: {name} | {hit} | {n} | {hit / max(n, 1):.2f} |")
        return "\n".join(lines)


def shipped_prompts() -> list[Prompt]:
    text = resources.files(__package__).joinpath("data/eval_prompts.jsonl").read_text(encoding="utf-8")
    return [Prompt(**json.loads(line)) for line in text.splitlines() if line.strip()]


def obfuscate(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """One seeded machine obfuscation of ``text``: which kind, and the result."""
    kind = ["homoglyph", "leet", "zero-width", "separators", "spacing", "fullwidth", "accents", "repeats"][
        int(rng.integers(8))]
    words = text.split(" ")
    target = int(rng.integers(len(words)))
    if kind == "homoglyph":
        return kind, "".join(_HOMOGLYPHS.get(c, c) if rng.random() < 0.5 else c for c in text)
    if kind == "leet":
        return kind, "".join(_LEET.get(c.lower(), c) if rng.random() < 0.6 else c for c in text)
    if kind == "zero-width":
        return kind, "".join(c + ("\u200b" if rng.random() < 0.3 else "") for c in text)
    if kind == "fullwidth":
        return kind, "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)
    if kind == "accents":
        return kind, "".join(c + "\u0301" if c in "aeiou" and rng.random() < 0.5 else c for c in text)
    if kind == "separators":
        sep = str(rng.choice([".", "-", "_", "*"]))
        words = [sep.join(w) if len(w) > 2 else w for w in words]
        return kind, " ".join(words)
    if kind == "spacing":
        return kind, "   ".join(" ".join(w) for w in words)
    words[target] = "".join(c * int(rng.integers(1, 4)) for c in words[target])
    return "repeats", " ".join(words)


def synthetic_prompts(prompts: Iterable[Prompt], per_prompt: int = 5, seed: int = 0) -> list[Prompt]:
    """Machine-obfuscated copies of the plain harmful prompts (and of the benign ones, to check that
    obfuscation does not turn benign text into blocked text)."""
    rng = np.random.default_rng(seed)
    out = []
    for p in prompts:
        if p.obfuscation not in ("plain", "none"):
            continue
        for _ in range(per_prompt):
            kind, text = obfuscate(p.text, rng)
            out.append(Prompt(text, p.label, f"synthetic-{kind}"))
    return out


def evaluate(prompts: Iterable[Prompt | Mapping | tuple] | None = None, blocklist=None) -> EvalReport:
    """Run the guardrail over labelled prompts (``Prompt``, dicts with text/label, or (text, label) pairs);
    default: the shipped evaluation set."""
    from .blocklist import config_paths, load_blocklist

    blocklist = blocklist or load_blocklist(config_paths())
    report = EvalReport()
    for item in prompts if prompts is not None else shipped_prompts():
        if isinstance(item, Mapping):
            item = Prompt(item["text"], item.get("label", BENIGN), item.get("obfuscation", "none"))
        elif isinstance(item, tuple):
            item = Prompt(*item)
        hit = blocklist.first_hit(item.text)
        report.total += 1
        if item.label == BENIGN:
            report.benign += 1
            if hit:
                report.blocked_benign += 1
                report.false_positives.append(f"{item.text!r} ({hit.category}: {hit.rule!r})")
            continue
        report.harmful += 1
        report.by_category[item.label][1] += 1
        report.by_obfuscation[item.obfuscation][1] += 1
        if hit:
            report.blocked_harmful += 1
            report.by_category[item.label][0] += 1
            report.by_obfuscation[item.obfuscation][0] += 1
            report.wrong_category += hit.category != item.label
        else:
            report.misses.append(item.text)
    return report
