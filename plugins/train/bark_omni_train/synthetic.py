"""A synthetic dataset whose classes are tied to distinct Bark token patterns: the proof that fusion training
teaches the conditioning, on a CPU, in minutes.

Class ``k`` is a coloured shape (the image: random position, size and background noise), a beat pattern (the
control events: class tempo and strength, random phase) with matching clicks (the audio), a caption ("a red
circle"), and a semantic-token motif of four class-specific tokens cycled from a random phase. With
``targets="teacher"`` the motif is left out and ``data prepare`` asks the frozen Bark teacher to read the
caption instead (meaningful with real Bark; the tiny random Bark reads every caption the same way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (230, 210, 40),
           "magenta": (200, 50, 200), "cyan": (40, 200, 210), "orange": (240, 140, 30), "purple": (110, 50, 160)}
SHAPES = ("circle", "square", "triangle", "cross")
SAMPLE_RATE = 24_000
IMAGE_SIZE = 64


def class_names(n: int) -> list[tuple[str, str]]:
    colours = list(COLOURS)
    if not 2 <= n <= len(colours):
        from .errors import DataError

        raise DataError(f"choose 2..{len(colours)} classes, got {n}")
    return [(colours[k], SHAPES[k % len(SHAPES)]) for k in range(n)]


def draw_shape(colour: str, shape: str, rng: np.random.Generator) -> Any:
    from PIL import Image, ImageDraw

    background = rng.integers(200, 245, size=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    size = int(rng.integers(IMAGE_SIZE // 3, IMAGE_SIZE // 2 + 1))
    x0, y0 = (int(v) for v in rng.integers(2, IMAGE_SIZE - size - 2, size=2))
    box = (x0, y0, x0 + size, y0 + size)
    fill = tuple(int(np.clip(c + rng.integers(-15, 16), 0, 255)) for c in COLOURS[colour])
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(x0, y0 + size), (x0 + size, y0 + size), (x0 + size // 2, y0)], fill=fill)
    else:
        third = size // 3
        draw.rectangle((x0 + third, y0, x0 + 2 * third, y0 + size), fill=fill)
        draw.rectangle((x0, y0 + third, x0 + size, y0 + 2 * third), fill=fill)
    return image


def beat_events(k: int, n_classes: int, duration_s: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Beats every 0.20 + 0.03 k s with class strength, from a random phase."""
    interval = 0.20 + 0.03 * k
    strength = round((k + 1) / (n_classes + 1), 3)
    t = float(rng.uniform(0.0, interval))
    events = []
    while t < duration_s:
        events.append({"time_s": round(t, 4), "kind": "beat", "value": strength})
        t += interval
    return events


def click_track(events: list[dict[str, Any]], k: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Decaying tone bursts at the beat times (pitch per class) over a little noise."""
    n = int(duration_s * SAMPLE_RATE)
    audio = rng.normal(0, 0.003, n).astype(np.float32)
    t = np.arange(int(0.06 * SAMPLE_RATE)) / SAMPLE_RATE
    burst = np.sin(2 * np.pi * 300 * 2 ** (k / 4) * t) * np.exp(-t / 0.015)
    for event in events:
        start = int(event["time_s"] * SAMPLE_RATE)
        piece = burst[: max(0, n - start)] * 0.6 * event["value"]
        audio[start:start + len(piece)] += piece.astype(np.float32)
    return audio


def motifs(n_classes: int, seed: int, length: int = 4) -> np.ndarray:
    """``length`` distinct semantic tokens per class, no token shared between classes."""
    rng = np.random.default_rng([seed, 7])
    return rng.choice(10_000, size=(n_classes, length), replace=False)


def make_dataset(out: Path, *, classes: int = 4, per_class: int = 48, val_per_class: int = 8, tokens: int = 48,
                 seed: int = 0, targets: str = "pattern", audio: bool = True) -> Path:
    """Write images, audio (unless ``audio=False``) and ``manifest.jsonl`` under ``out``; returns the manifest."""
    import soundfile as sf

    from bark_omni.files import atomic_output

    from .errors import DataError

    if targets not in ("pattern", "teacher"):
        raise DataError(f"targets must be 'pattern' or 'teacher', got {targets!r}")
    if not 0 < val_per_class < per_class:
        raise DataError(f"val_per_class must lie in 1..{per_class - 1}")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if audio:
        (out / "audio").mkdir(parents=True, exist_ok=True)
    names = class_names(classes)
    patterns = motifs(classes, seed)
    duration = tokens / 49.9 + 0.1
    lines = []
    for k, (colour, shape) in enumerate(names):
        for i in range(per_class):
            rng = np.random.default_rng([seed, k, i])
            ident = f"{colour}-{shape}-{i:04d}"
            image_path = out / "images" / f"{ident}.png"
            draw_shape(colour, shape, rng).save(image_path)
            events = beat_events(k, classes, duration, rng)
            row: dict[str, Any] = {
                "id": ident, "split": "val" if i < val_per_class else "train",
                "domain": "music" if k % 2 else "foley", "caption": f"a {colour} {shape}",
                "image": f"images/{ident}.png", "control_events": events, "label": f"{colour}-{shape}",
            }
            if audio:
                sf.write(out / "audio" / f"{ident}.wav", click_track(events, k, duration, rng), SAMPLE_RATE, subtype="PCM_16")
                row["audio"] = f"audio/{ident}.wav"
            if targets == "pattern":
                phase = int(rng.integers(4))
                row["semantic"] = [int(patterns[k][(phase + j) % 4]) for j in range(tokens)]
            lines.append(json.dumps(row))
    manifest = out / "manifest.jsonl"
    with atomic_output(manifest) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest
