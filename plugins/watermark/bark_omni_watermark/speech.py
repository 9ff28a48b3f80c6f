"""Real speech for evaluating the watermark, spoken by espeak-ng (installed by scripts/install.sh).

Many voices, languages, rates and pitches, so the robustness figures are not tuned to one speaker.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SENTENCES = [
    "Please remember to bring the blue folder to the meeting on Thursday afternoon.",
    "We walked along the quiet shore while the evening light faded behind the hills.",
    "The train to the northern coast leaves at a quarter past seven every morning.",
    "Could you check whether the library is still open on public holidays?",
    "My grandmother grew tomatoes, beans and three kinds of basil in her small garden.",
    "The committee will publish its findings after the summer break, not before.",
    "If the weather holds, we will paint the fence and clean the gutters on Saturday.",
    "A gentle rain had started by the time the concert ended in the park.",
    "Turn left at the bakery, then follow the river until you reach the old bridge.",
    "Every child in the class wrote a short story about an imaginary island.",
    "The recipe calls for two eggs, a cup of flour and a pinch of salt.",
    "He practised the piano for an hour each evening before dinner.",
    "The museum's new exhibition traces the history of navigation at sea.",
    "Our neighbours adopted a curious grey cat that sleeps on the windowsill.",
    "Scientists measured the temperature of the lake every week for ten years.",
    "She laughed, closed the notebook, and promised to finish the letter tomorrow.",
]
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-us+f3", "en-gb+f4", "en-us+m3", "en-gb+m7",
          "en-us+f2", "en-gb-x-rp+f5", "en-us+m1", "en-gb+klatt"]


def available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str = "en-us", words_per_minute: int = 160, pitch: int = 50,
          sample_rate: int = 24000) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono float64 at ``sample_rate``, peak-normalised to -6 dBFS."""
    import soundfile as sf

    from bark_omni.audio import resample

    if not available():
        from bark_omni.errors import MissingPluginError

        raise MissingPluginError("espeak-ng is not installed; run scripts/install.sh (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-p", str(pitch), "-w", str(path), text],
                       check=True, capture_output=True)
        audio, sr = sf.read(path, dtype="float64")
    audio = resample(audio, sr, sample_rate, np.float64)
    return 0.5 * audio / max(np.abs(audio).max(), 1e-9)


def corpus(count: int, sample_rate: int = 24000, seed: int = 0, sentences: int = 2) -> list[np.ndarray]:
    """``count`` different clips of ``sentences`` sentences (two: about 8 s, the length of one Bark generation);
    voice, rate and pitch drawn by ``seed``."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        text = " ".join(SENTENCES[(i + 5 * k) % len(SENTENCES)] for k in range(sentences))
        voice = VOICES[int(rng.integers(len(VOICES)))]
        clips.append(speak(text, voice, int(rng.integers(140, 185)), int(rng.integers(30, 70)), sample_rate))
    return clips
