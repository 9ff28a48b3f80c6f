"""``bark-omni studio``: a Gradio page to try bark-omni by ear.

Text, a voice preset or an uploaded .npz voice prompt, an image, control events on a timeline (a table of time,
kind, value), style text, decoder and seed; it plays the result, draws the waveform and spectrogram and the
semantic/coarse token grid, and offers the audio and its provenance manifest for download. Every output goes
through the same pipeline as the CLI (guardrails, watermark, manifest). Loopback only: the page has no login.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bark_omni.errors import BarkOmniError, InvalidInputError

NO_VOICE = "(no voice prompt)"
EVENT_COLUMNS = ["time_s", "kind", "value"]


def _events(table: Any) -> list[dict[str, Any]] | None:
    """Control events from the timeline table (blank rows skipped)."""
    rows = table.values.tolist() if hasattr(table, "values") else (table or [])
    events = []
    for row in rows:
        if not row or all(cell in (None, "") for cell in row):
            continue
        time_s, kind, value = (list(row) + [None, None, None])[:3]
        try:
            time_s = float(time_s)
        except (TypeError, ValueError):
            raise InvalidInputError(f"control event time {time_s!r} must be a number of seconds") from None
        event: dict[str, Any] = {"time_s": time_s, "kind": str(kind or "").strip()}
        if value not in (None, ""):
            try:
                event["value"] = float(value)
            except (TypeError, ValueError):
                event["value"] = str(value)
        events.append(event)
    return events or None


def plots(result: Any) -> tuple[str, str]:
    """PNG files: waveform + spectrogram, and the semantic/coarse token grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    audio, rate = np.asarray(result.audio, dtype=np.float32), result.sample_rate
    folder = Path(tempfile.mkdtemp(prefix="bark-omni-studio-"))
    fig, (wave, spec) = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    wave.plot(np.arange(len(audio)) / rate, audio, linewidth=0.5)
    wave.set_ylabel("amplitude")
    spec.specgram(audio + 1e-9, Fs=rate, NFFT=512, noverlap=384, cmap="magma")
    spec.set_xlabel("seconds")
    spec.set_ylabel("Hz")
    fig.tight_layout()
    first = folder / "waveform.png"
    fig.savefig(first, dpi=80)
    plt.close(fig)
    fig, (sem, coarse) = plt.subplots(2, 1, figsize=(8, 3))
    sem.imshow(np.asarray(result.semantic)[None, :], aspect="auto", cmap="viridis", interpolation="nearest")
    sem.set_title(f"semantic tokens ({len(result.semantic)})", fontsize=9)
    sem.set_yticks([])
    coarse.imshow(np.asarray(result.coarse), aspect="auto", cmap="viridis", interpolation="nearest")
    coarse.set_title(f"coarse codebooks ({np.asarray(result.coarse).shape[-1]} frames)", fontsize=9)
    fig.tight_layout()
    second = folder / "tokens.png"
    fig.savefig(second, dpi=80)
    plt.close(fig)
    return str(first), str(second)


def generate(text: str, voice: str, voice_file: Any, image: Any, events: Any, style_text: str, decoder: str,
             seed: Any, *, model: str, device: str | None, host: Any, max_duration_s: float) -> tuple:
    """One generation from the page's inputs -> (audio path, waveform png, tokens png, [audio, manifest])."""
    from bark_omni.api import build_request, run
    from bark_omni.modality import ModalityBundle
    from bark_omni.options import GenerationOptions

    history = None
    if voice_file:
        history = str(voice_file)  # the user's own upload, on their own machine
    elif voice and voice != NO_VOICE:
        history = voice
    request = build_request(
        text or None, history, options=GenerationOptions.from_kwargs(max_gen_duration_s=max_duration_s),
        modalities=ModalityBundle(style_text=style_text or None, image=image or None, control_events=_events(events)),
        seed=int(seed) if seed not in (None, "") else None, model=model, decoder=decoder or "encodec")
    result = run(request, host=host, device=device)
    out = Path(tempfile.mkdtemp(prefix="bark-omni-studio-")) / "studio.wav"
    result.save(out, request=request, host=host)
    wave, tokens = plots(result)
    files = [str(out)] + [str(p) for p in out.parent.glob("studio.wav.*")]
    return str(out), wave, tokens, files


def build(model: str = "bark", device: str | None = None, host: Any = None, max_duration_s: float = 15.0) -> Any:
    """The Gradio ``Blocks`` of the studio."""
    import functools

    import gradio as gr

    from bark_omni.host import default_host
    from bark_omni.prompts import preset_names

    host = host or default_host()
    run_one = functools.partial(generate, model=model, device=device, host=host, max_duration_s=max_duration_s)

    def on_click(*inputs: Any) -> tuple:
        try:
            return run_one(*inputs)
        except BarkOmniError as exc:
            raise gr.Error(str(exc)) from None

    with gr.Blocks(title="bark-omni studio") as page:
        gr.Markdown(f"## bark-omni studio\nModel `{model}`; every output is watermarked and has a manifest.")
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="Text", lines=3, elem_id="text")
                voice = gr.Dropdown([NO_VOICE, *preset_names()], value=NO_VOICE, label="Voice preset")
                voice_file = gr.File(label="or a voice prompt (.npz)", file_types=[".npz"], type="filepath")
                image = gr.Image(label="Image", type="filepath")
                events = gr.Dataframe(headers=EVENT_COLUMNS, datatype=["number", "str", "str"], row_count=2,
                                      label="Control events (timeline: seconds, kind, value)")
                style = gr.Textbox(label="Style text", elem_id="style")
                with gr.Row():
                    decoder = gr.Dropdown(sorted(host.decoders), value="encodec", label="Decoder")
                    seed = gr.Number(value=0, precision=0, label="Seed")
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column():
                audio = gr.Audio(label="Result", type="filepath", elem_id="result")
                wave = gr.Image(label="Waveform and spectrogram", elem_id="waveform")
                tokens = gr.Image(label="Semantic / coarse tokens", elem_id="tokens")
                files = gr.File(label="Download audio + manifest", file_count="multiple", elem_id="downloads")
        button.click(on_click, [text, voice, voice_file, image, events, style, decoder, seed],
                     [audio, wave, tokens, files])
    return page


def launch(model: str, host: str = "127.0.0.1", port: int = 7860, device: str | None = None,
           max_duration_s: float = 15.0, block: bool = True, allow_public_key: bool = False) -> Any:
    from .config import is_loopback

    if not is_loopback(host):
        raise InvalidInputError(f"the studio has no login; bind it to 127.0.0.1, not {host} (use `serve` with API keys "
                                "for remote clients)")
    try:
        from bark_omni_watermark import require_private_key
    except ImportError:  # pragma: no cover
        pass
    else:
        require_private_key(allow_public=allow_public_key)
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InvalidInputError("the studio needs gradio: pip install 'bark-omni-serve[studio]'") from None
    page = build(model, device, max_duration_s=max_duration_s)
    page.queue(default_concurrency_limit=1)
    page.launch(server_name=host, server_port=port, prevent_thread_lock=not block, show_error=True)
    return page
