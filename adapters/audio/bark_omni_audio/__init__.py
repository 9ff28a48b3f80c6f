"""bark-omni's reference-audio adapter: ``reference_audio="voice.wav"`` (or ``(array, sample_rate)``).

The recording is read, mixed to mono, resampled to 24 kHz and loudness-normalised, then encoded by Bark's own
frozen EnCodec encoder; a trainable projection turns its frames into context tokens. Importing is cheap.
"""

ADAPTER_KIND = "audio"
ADAPTER_VERSION = "1"
