"""Streaming: audio chunks as soon as they can be decoded, per segment and within a segment.

``stream_audio(text, ...)`` yields ``AudioChunk(samples, offset, sample_rate, segment, final)``. Text is split
as ``longform`` splits it; between segments a chunk of silence is yielded. Within a segment (EnCodec decoder)
the fine stage runs window by window *while* the coarse stage is still generating: fine window ``n`` (1024
frames, stride 512, non-causal) starts as soon as the coarse frames it reads exist, and every frame no later
window rewrites is decoded and yielded at once. So the first audio of a segment longer than one fine window
(~6.8 s past its voice prompt) arrives before its coarse stage ends; a shorter segment arrives whole. With
``SUNO_OFFLOAD_CPU`` only one stage may be resident, so the coarse stage ends before the fine windows run (the
chunks are the same; the first one comes later).

What equals what: the streamed *tokens* are exactly the non-streamed ones. The fine stage draws from its own
copy of the request's generator, advanced past the coarse stage's draws without running it (each coarse step
makes one multinomial draw over 1024 codes, and a draw's consumption of the generator depends only on that
size), so interleaving the stages changes no draw. The streamed *samples*, before post-processing and the
watermark, equal the non-streamed decode within float rounding (EnCodec 24 kHz is causal, so a prefix decodes
to the prefix of the whole; convolutions over different lengths sum in another order: measured max 1.3e-7).
Each chunk then goes through ``postprocess_audio`` and the watermark on its own (safety never waits for the end),
so watermarked chunks are not sample-equal to a watermarked whole; each carries the mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .errors import InvalidInputError
from .longform import LongFormOptions, _segment_request, segment_events, split_segments

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .host import Host
    from .specs import BarkModels, GenerationRequest


@dataclass(frozen=True)
class AudioChunk:
    """A piece of the stream: ``samples`` (float32 mono) start at sample ``offset`` of the whole output."""

    samples: np.ndarray
    offset: int
    sample_rate: int
    segment: int
    final: bool = False

    @property
    def end(self) -> int:
        return self.offset + len(self.samples)


def stream_audio(
    text: str,
    history_prompt: Any = None,
    text_temp: float = 0.7,
    waveform_temp: float = 0.7,
    *,
    seed: int | None = None,
    model: str | Path | None = None,
    host: Host | None = None,
    device: str | None = None,
    decoder: str = "encodec",
    decoder_options: dict[str, Any] | None = None,
    adapters: Any = None,
    longform: Any = None,
    style_text: str | None = None,
    reference_audio: Any = None,
    image: Any = None,
    control_events: list[Any] | None = None,
    **options: Any,
) -> Iterator[AudioChunk]:
    """Generate like ``generate_audio`` but yield ``AudioChunk``s as they are ready (see the module docstring).
    ``options`` are the generation options by Bark's names (``min_eos_p``, ``max_gen_duration_s``, ...)."""
    from .api import build_request
    from .modality import ModalityBundle
    from .options import GenerationOptions

    request = build_request(
        text, history_prompt, options=GenerationOptions.from_kwargs(text_temp=text_temp, waveform_temp=waveform_temp, **options),
        modalities=ModalityBundle(style_text=style_text, reference_audio=reference_audio, image=image,
                                  control_events=control_events),
        seed=seed, model=model, decoder=decoder, longform=longform,
    )
    return stream_request(request, host=host, device=device, decoder_options=decoder_options, adapters=adapters)


def stream_request(request: GenerationRequest, *, host: Host | None = None, device: str | None = None,
                   decoder_options: dict[str, Any] | None = None, adapters: Any = None) -> Iterator[AudioChunk]:
    """``stream_audio`` for a built request. Checks and guardrails run before the first chunk."""
    from .pipeline import check_request, validate_request
    from .host import default_host

    validate_request(request)
    host = host or default_host()
    check_request(host, request)
    return _mark_final(_chunks(request, host, device, decoder_options, adapters))


def _mark_final(chunks: Iterator[AudioChunk]) -> Iterator[AudioChunk]:
    """Pass chunks on at once, then end with an empty chunk marked ``final`` (holding one back would delay it)."""
    last = None
    for chunk in chunks:
        last = chunk
        yield chunk
    if last is not None:
        yield AudioChunk(np.zeros(0, dtype=np.float32), last.end, last.sample_rate, last.segment, final=True)


def _chunks(request: GenerationRequest, host: Host, device: str | None, decoder_options: dict[str, Any] | None,
            adapters: Any) -> Iterator[AudioChunk]:
    from .offload import load_stack
    from .pipeline import seal_audio

    options = request.longform or LongFormOptions()
    spec = host.decoder(request.decoder)
    models = load_stack(request.model, host, device)
    decode = spec.load(models, dict(decoder_options or {}))
    texts = split_segments(request.text or "", options)
    interval = options.interval(request.history_prompt is not None)
    pending = list(request.modalities.control_events or []) if request.modalities is not None else []
    gap = int(round(options.silence_s * spec.sample_rate))
    offset, previous = 0, None
    for i, text in enumerate(texts):
        history = request.history_prompt if previous is None or (interval and i % interval == 0) else previous
        start_s = (offset + (gap if i else 0)) / spec.sample_rate  # where this segment's audio will start
        shifted, _, pending = segment_events(pending, start_s, texts, i, request.options.semantic.max_gen_duration_s,
                                             options.silence_s)
        row = _segment_request(request, text, i, history, shifted)
        if i and gap:
            yield AudioChunk(np.zeros(gap, dtype=np.float32), offset, spec.sample_rate, i)
            offset += gap
        tokens: dict[str, np.ndarray] = {}
        for raw in segment_audio(row, host, models, decode, spec.name, tokens, adapters):
            audio = host.pm.hook.postprocess_audio(audio=raw, sample_rate=spec.sample_rate, request=request)
            audio, _ = seal_audio(host, np.asarray(audio, dtype=np.float32), spec.sample_rate, request)
            yield AudioChunk(audio, offset, spec.sample_rate, i)
            offset += len(audio)
        previous = tokens


def segment_audio(request: GenerationRequest, host: Host, models: BarkModels, decode: Any, decoder: str,
                  tokens: dict[str, np.ndarray], adapters: Any = None) -> Iterator[np.ndarray]:
    """Raw decoded audio of one segment request, in pieces; fills ``tokens`` with its full generation at the end.
    The EnCodec decoder streams within the segment; other decoders (and an unseeded request on an accelerator)
    give the segment in one piece."""
    import torch

    seeded = request.seed is not None
    if decoder != "encodec" or (not seeded and torch.device(models.device).type != "cpu"):
        from .pipeline import run_batch

        result = run_batch([request], host=host, device=models.device, adapters=adapters, finish=False)[0]
        tokens.update(result.full_generation)
        yield result.audio
        return
    yield from _stream_encodec(request, host, models, tokens, adapters)


def _stream_encodec(request: GenerationRequest, host: Host, models: BarkModels, tokens: dict[str, np.ndarray],
                    adapters: Any) -> Iterator[np.ndarray]:
    import torch

    from . import loop
    from .offload import OffloadedModels, running
    from .pipeline import _fields
    from .prompts import load_history_prompt

    device = torch.device(models.device)
    prompt = load_history_prompt(request.history_prompt, host) if request.history_prompt is not None else None
    generator = torch.Generator(device=device).manual_seed(request.seed) if request.seed is not None else None
    conditioning = _conditioning(request, host, models, adapters)
    semantic_opts, coarse_opts, fine_opts = request.options.semantic, request.options.coarse, request.options.fine
    text = loop.encode_text(models.tokenizer, request.text) if request.text is not None else loop.empty_text()
    with running(models, "text") as module:
        semantic = loop.generate_semantic(module, text, prompt["semantic_prompt"] if prompt else None,
                                          **_fields(semantic_opts), generator=generator,
                                          conditioning=conditioning.for_stage("semantic") if conditioning else None)
        del module
    if len(semantic) == 0:
        raise InvalidInputError("the model produced no semantic tokens (it ended at once); try another seed or temperature")
    history = loop.coarse_history(prompt["semantic_prompt"], prompt["coarse_prompt"], coarse_opts.max_coarse_history) if prompt else None
    rows = loop._coarse_rows([semantic], [history], [generator], device)
    coarse_row = rows[0]
    n_frames = coarse_row.n_steps // 2
    fine_generator = skip_ahead(generator, coarse_row.n_steps, device)
    fine_row = loop._fine_row(np.zeros((2, n_frames), dtype=np.int64), prompt["fine_prompt"] if prompt else None,
                              fine_generator, device)
    frames = _coarse_frames(models, rows, fine_row, coarse_opts, conditioning.for_stage("coarse") if conditioning else None)
    if isinstance(models, OffloadedModels):  # one stage resident at a time: coarse ends before fine starts
        frames = iter(list(frames))
    done = emitted = 0
    with running(models, "fine") as fine_model:
        for written in frames:
            while done < fine_row.n_loops and written >= _frames_needed(fine_row, done, n_frames):
                with loop.inference_context(device):
                    loop._fine_window(fine_model, [fine_row], done, 2, fine_opts.temp)
                done += 1
                final = _frames_final(fine_row, done, n_frames)
                if final > emitted:
                    audio = loop.codec_decode(models.codec, _fine_codes(fine_row, final))
                    yield np.asarray(audio[emitted * 320:], dtype=np.float32)
                    emitted = final
        del fine_model
    if generator is None:  # the global RNG ends where the fine stage's draws leave it
        torch.set_rng_state(fine_generator.get_state())
    tokens.update(semantic_prompt=semantic, coarse_prompt=_coarse_codes(coarse_row), fine_prompt=_fine_codes(fine_row, n_frames))


def _coarse_frames(models: Any, rows: list[Any], fine_row: Any, opts: Any, conditioning: Any) -> Iterator[int]:
    """Run the coarse stage window by window, copying its frames into the fine stage's buffer; yields how many
    frames exist after each window (the coarse stage is resident until the last)."""
    import torch

    from . import loop
    from .offload import running

    device = torch.device(models.device)
    with running(models, "coarse") as module:
        windows = loop._coarse_group(module, rows, opts.temp, opts.top_k, opts.top_p, opts.max_coarse_history,
                                     opts.sliding_window_len, conditioning)
        del module
        written, finished = 0, False
        while not finished:
            with loop.inference_context(device):
                finished = next(windows, None) is None
            written = _copy_coarse(rows[0], fine_row, written)
            yield written


def _conditioning(request: GenerationRequest, host: Host, models: BarkModels, adapters: Any) -> Any:
    bundle = request.modalities
    if bundle is None or bundle.empty:
        return None
    for name in bundle.present():
        host.adapter_for(name)
    from .fusion import build_conditioning

    return build_conditioning(host, models, [bundle], adapters)


def skip_ahead(generator: torch.Generator | None, n_draws: int, device: torch.device) -> torch.Generator:
    """A generator in the state ``generator`` (None: torch's global CPU RNG) will be in after ``n_draws`` draws of
    one code out of 1024 (the coarse stage's draws), without touching ``generator`` itself."""
    import torch

    ahead = torch.Generator(device=device)
    ahead.set_state(generator.get_state() if generator is not None else torch.get_rng_state())
    weights = torch.ones(1024, device=device)
    for _ in range(n_draws):
        torch.multinomial(weights, num_samples=1, generator=ahead)
    return ahead


def _copy_coarse(row: Any, fine_row: Any, written: int) -> int:
    """Copy the coarse frames made since ``written`` into the fine stage's buffer; returns the frames available."""
    import torch

    from .constants import CODEBOOK_SIZE, SEMANTIC_VOCAB_SIZE

    made = (len(row.tokens) - row.n_history) // 2
    if made > written:
        flat = np.array(row.tokens[row.n_history + 2 * written: row.n_history + 2 * made], dtype=np.int64)
        codes = flat.reshape(-1, 2) - SEMANTIC_VOCAB_SIZE
        codes[:, 1] -= CODEBOOK_SIZE
        start = fine_row.n_history + written
        fine_row.buf[start:start + len(codes), :2] = torch.from_numpy(codes).to(fine_row.buf)
    return made


def _frames_needed(fine_row: Any, n: int, n_frames: int) -> int:
    """Coarse frames of the segment that fine window ``n`` reads."""
    start = min(n * 512, fine_row.buf.shape[0] - 1024)
    return min(start + 1024 - fine_row.n_history, n_frames)


def _frames_final(fine_row: Any, done: int, n_frames: int) -> int:
    """Frames no later window rewrites once windows ``0..done-1`` ran."""
    if done >= fine_row.n_loops:
        return n_frames
    fill = min(fine_row.n_history + done * 512, fine_row.buf.shape[0] - 512)
    return min(fill - fine_row.n_history, n_frames)


def _fine_codes(fine_row: Any, frames: int) -> np.ndarray:
    buf = fine_row.buf.detach().cpu().numpy()
    return np.ascontiguousarray(buf[fine_row.n_history:fine_row.n_history + frames].T)


def _coarse_codes(row: Any) -> np.ndarray:
    from .constants import CODEBOOK_SIZE, SEMANTIC_VOCAB_SIZE

    flat = np.array(row.tokens[row.n_history:], dtype=np.int64)
    codes = flat.reshape(-1, 2).T - SEMANTIC_VOCAB_SIZE
    codes[1] -= CODEBOOK_SIZE
    return codes


def collect(chunks: Iterator[AudioChunk]) -> np.ndarray:
    """The whole audio of a stream (chunks checked to be contiguous)."""
    parts, expected = [], 0
    for chunk in chunks:
        if chunk.offset != expected:
            raise InvalidInputError(f"stream chunk at sample {chunk.offset}, expected {expected}")
        parts.append(chunk.samples)
        expected = chunk.end
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


STREAM_LENGTH = 0xFFFFFFFF
"""The RIFF and data sizes of a WAV whose length is unknown when its header is written (players read to the end)."""


def wav_stream_header(sample_rate: int) -> bytes:
    """A 16-bit mono PCM WAV header for a stream of unknown length."""
    import struct

    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", STREAM_LENGTH) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", STREAM_LENGTH))


def pcm16(samples: np.ndarray) -> bytes:
    """Little-endian 16-bit PCM of float samples in [-1, 1] (clipped)."""
    return (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767).round().astype("<i2").tobytes()


def write_stream(chunks: Iterator[AudioChunk], out: Any, raw: bool = False) -> int:
    """Write a stream to the binary file ``out`` as it comes (WAV with an open-ended header, or raw 16-bit PCM),
    flushing after every chunk; returns the number of samples written. Nothing is written before the first chunk,
    so a request refused or failing before any audio leaves ``out`` empty."""
    written = 0
    for chunk in chunks:
        if written == 0 and not raw:
            out.write(wav_stream_header(chunk.sample_rate))
        out.write(pcm16(chunk.samples))
        out.flush()
        written += len(chunk.samples)
    return written
