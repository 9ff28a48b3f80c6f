"""Robustness of the watermark: detection rate after each attack at a fixed false-positive rate, bit accuracy,
and the quality cost (SNR / SI-SNR of the marked audio against the clean audio).

The false-positive rate is *measured*, not assumed: every unmarked clip goes through the same attacks and is
tested against ``null_keys`` unrelated keys (a key the audio was not marked with is exactly the null case; one
analysis serves all keys, so thousands of null trials are cheap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from . import scheme
from .attacks import ATTACKS
from .keys import resolve_key


def snr_db(clean: np.ndarray, marked: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(clean**2) / max(np.sum((marked - clean) ** 2), 1e-30)))


def si_snr_db(clean: np.ndarray, marked: np.ndarray) -> float:
    """Scale-invariant SNR: the marked signal projected on the clean one, against the rest."""
    clean = clean - clean.mean()
    marked = marked - marked.mean()
    target = (marked @ clean) / max(clean @ clean, 1e-30) * clean
    return float(10 * np.log10(np.sum(target**2) / max(np.sum((marked - target) ** 2), 1e-30)))


@dataclass
class AttackRow:
    attack: str
    detected: int = 0
    trials: int = 0
    bits_right: int = 0
    payloads_right: int = 0
    false_positives: int = 0
    null_trials: int = 0
    marked_p: list[float] = field(default_factory=list)

    @property
    def tpr(self) -> float:
        return self.detected / max(self.trials, 1)

    @property
    def fpr(self) -> float:
        return self.false_positives / max(self.null_trials, 1)

    @property
    def bit_accuracy(self) -> float:
        return self.bits_right / max(self.trials * scheme.PAYLOAD_BITS, 1)

    @property
    def payload_accuracy(self) -> float:
        return self.payloads_right / max(self.trials, 1)


@dataclass
class RobustnessReport:
    rows: list[AttackRow]
    threshold: float
    snr_db: float
    si_snr_db: float
    clips: int
    seconds: float
    null_p: list[float] = field(default_factory=list)

    @property
    def overall(self) -> AttackRow:
        total = AttackRow("overall")
        for row in self.rows:
            for name in ("detected", "trials", "bits_right", "payloads_right", "false_positives", "null_trials"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
            total.marked_p += row.marked_p
        return total

    def empirical_tpr(self, fpr: float = 1e-3) -> float:
        """Detection rate at the p-value threshold that keeps the *measured* false-positive rate <= ``fpr``."""
        null = np.sort(np.asarray(self.null_p))
        allowed = int(np.floor(fpr * len(null)))
        cut = null[allowed] if allowed < len(null) else 1.0  # strictly below the (allowed+1)-th smallest null p
        marked = np.asarray(self.overall.marked_p)
        return float(np.mean(marked < cut)) if len(marked) else 0.0

    def as_table(self) -> str:
        lines = [f"| attack | TPR @ p<={self.threshold:g} | measured FPR | bit acc. | payload exact |",
                 "| --- | --- | --- | --- | --- |"]
        for row in self.rows + [self.overall]:
            lines.append(f"| {row.attack} | {row.tpr:.3f} ({row.detected}/{row.trials}) | {row.fpr:.4f} "
                         f"({row.false_positives}/{row.null_trials}) | {row.bit_accuracy:.3f} | {row.payload_accuracy:.3f} |")
        lines.append(f"\nquality: SNR {self.snr_db:.1f} dB, SI-SNR {self.si_snr_db:.1f} dB (median over {self.clips} clips, "
                     f"{self.seconds:.1f} s of audio); TPR at a measured FPR <= 1e-3: {self.empirical_tpr():.3f}")
        return "\n".join(lines)


def robustness(
    clips: Sequence[np.ndarray],
    sample_rate: int,
    key: str | bytes | None = None,
    attacks: Sequence[str] | None = None,
    null_keys: int = 20,
    threshold: float = 1e-3,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> RobustnessReport:
    """Mark every clip (random payloads), attack it, detect; measure the null on the unmarked clips."""
    from bark_omni.errors import InvalidInputError

    names = list(attacks or ATTACKS)
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        raise InvalidInputError(f"unknown attack(s) {', '.join(unknown)}; choose from {', '.join(ATTACKS)}")
    if not clips:
        raise InvalidInputError("robustness needs at least one clip of speech")
    key_bytes = resolve_key(key)
    others = [b"null-key-%d" % i for i in range(null_keys)]
    rng = np.random.default_rng(seed)
    rows = {name: AttackRow(name) for name in names}
    snrs, si_snrs, null_p = [], [], []
    for index, clean in enumerate(clips):
        clean = np.asarray(clean, dtype=np.float64)
        payload = int(rng.integers(0, 2**scheme.PAYLOAD_BITS))
        marked = scheme.embed(clean, sample_rate, key_bytes, payload).astype(np.float64)
        snrs.append(snr_db(clean, marked))
        si_snrs.append(si_snr_db(clean, marked))
        want = scheme.payload_bits(payload)
        for name in names:
            row = rows[name]
            attack_seed = int(rng.integers(2**31))
            attacked = ATTACKS[name](marked, sample_rate, np.random.default_rng(attack_seed))
            found = scheme.detect(attacked, sample_rate, key_bytes, threshold=threshold)
            got = scheme.payload_bits(found.raw_payload)
            row.trials += 1
            row.marked_p.append(found.p_value)
            row.detected += found.detected
            row.bits_right += int((got == want).sum())
            row.payloads_right += int(found.detected and found.payload == payload)
            unmarked = ATTACKS[name](clean, sample_rate, np.random.default_rng(attack_seed))
            p_null = scheme.scores(scheme.analyze(unmarked, sample_rate), others)
            row.null_trials += len(p_null)
            row.false_positives += int((p_null <= threshold).sum())
            null_p.extend(p_null.tolist())
        if progress:
            progress("robustness", index + 1, len(clips))
    seconds = float(sum(len(c) for c in clips) / sample_rate)
    return RobustnessReport(rows=list(rows.values()), threshold=threshold, snr_db=float(np.median(snrs)),
                            si_snr_db=float(np.median(si_snrs)), clips=len(clips), seconds=seconds, null_p=null_p)

