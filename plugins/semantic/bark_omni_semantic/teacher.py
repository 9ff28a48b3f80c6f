"""A tiny *teacher* Bark whose coarse stage passes the semantic tokens on: the proof that self-distillation
(``distill.py``) learns what the audio carries, offline (written in ~3 s).

The plain tiny Bark (``bark_omni.tiny``) cannot serve: its random coarse stage all but ignores the semantic tokens
(``bench/semantic_information.py``), so its audio says nothing about them and any head stays at chance. The teacher
is the tiny Bark (same sizes, vocabularies, suno checkpoint files, EnCodec and tokenizer) with its three GPTs' weights
set by hand from a seed, nothing trained:

- text -> semantic: the output ignores the text and the voice; it gives ``TEACHER_TOKENS`` semantic ids (drawn from
  the seed) equal logits, plus ``REPEAT_LOGIT`` for the token just drawn (the input at a generated position), so a
  clip's tokens are runs (~80% repeats at temperature 0.7) of uniform draws from that small set, made by the clip's
  sampling seed; the end token is never drawn. Nothing about them follows from text, voice or frame position: a head
  can only read them from the audio.
- semantic -> coarse: layer 0's first attention head looks from coarse position ``q`` to the semantic window
  position Bark's prompt layout aligns with it, ``(q - 257) / SEMANTIC_TO_COARSE_RATIO`` (the window holds up to 209
  tokens before the current one and the coarse history up to 630 tokens: the same 3.006 ratio), through position
  embeddings (random codes, one per window position); it copies that token's identity, and the output layer maps
  each of the set's tokens to its own code in either codebook. Tokens outside the set (voice-prompt history,
  padding) carry no identity: their coarse codes are uniform draws. The codes come out about one semantic frame late.
- coarse -> fine: codebooks 2..7 are again a fixed code per set token, read from codebook 0 at the same frame (with
  the tiny Bark's random fine stage they were noise that drowned the two coarse codebooks in the decoded audio).
- EnCodec: the tiny Bark's (random), unchanged.

``ensure_teacher_model(seed)`` writes it once into bark-omni's cache, like the tiny model.
"""

from __future__ import annotations

from pathlib import Path

TEACHER_VERSION = "v1"
TEACHER_SEED = 0
TEACHER_TOKENS = 16  # size of the semantic set the teacher's text stage draws from
TEXT_LOGIT = 24.0  # about the set's logit (every other semantic id and the end token: 0)
REPEAT_LOGIT = 2.7  # about the extra logit of the token just drawn: at temperature 0.7 it repeats ~80% of the time
_KEY, _QUERY = slice(16, 40), slice(40, 64)  # residual dims of the coarse GPT: token identity 0..15, position codes


def teacher_token_set(seed: int = TEACHER_SEED) -> list[int]:
    """The semantic ids the teacher's text stage draws from (sorted)."""
    import numpy as np

    return sorted(np.random.default_rng(seed).choice(10_000, TEACHER_TOKENS, replace=False).tolist())


def _embed(constant: object, width: int) -> object:
    """``constant`` (+-1) in the dims after the token-identity ones, zeros in those."""
    import torch

    out = torch.zeros(width)
    out[TEACHER_TOKENS:] = constant[TEACHER_TOKENS:]
    return out


def _zero_blocks(gpt: object) -> None:
    """Every block adds nothing to the residual stream (attention and MLP outputs zero); layer norms scale by 1."""
    tr = gpt.transformer
    for block in tr.h:
        block.attn.c_proj.weight.zero_()
        block.mlp.c_proj.weight.zero_()
    for ln in [tr.ln_f] + [m for block in tr.h for m in (block.ln_1, block.ln_2)]:
        ln.weight.fill_(1.0)


def teacher_modules(seed: int = TEACHER_SEED) -> dict[str, object]:
    """The tiny Bark's modules with the three stages set as the module docstring says."""
    import numpy as np
    import torch

    from bark_omni.constants import CODEBOOK_SIZE
    from bark_omni.tiny import TINY_SEED, random_bark_modules

    modules = random_bark_modules("tiny", TINY_SEED)
    tokens = teacher_token_set(seed)
    rng = np.random.default_rng(seed + 1)
    with torch.no_grad():
        width = modules["text"].transformer.wte.weight.shape[1]
        constant = torch.ones(width)
        constant[width // 2:] = -1.0  # zero mean, unit spread: what the stages' output layers read as "always"
        _set_text_stage(modules["text"], tokens, constant)
        codes = torch.from_numpy(rng.standard_normal((256, _KEY.stop - _KEY.start))).float()  # one per window position
        tables = [rng.choice(CODEBOOK_SIZE, TEACHER_TOKENS, replace=False).tolist() for _ in range(8)]
        _set_coarse_stage(modules["coarse"], tokens, tables, codes)
        _set_fine_stage(modules["fine"], tables, constant)
    return modules


def _set_text_stage(text: object, tokens: list[int], constant: object) -> None:
    """The set's tokens at equal logits, plus ``REPEAT_LOGIT`` for the token just drawn; text and voice ignored."""
    import torch

    width = text.transformer.wte.weight.shape[1]
    _zero_blocks(text)
    text.transformer.wte.weight.zero_()
    text.transformer.wpe.weight.copy_(_embed(constant, width).expand_as(text.transformer.wpe.weight))
    for i, token in enumerate(tokens):  # the input at a generated position is the token drawn before it
        text.transformer.wte.weight[token, i] = 1.0
    text.lm_head.weight.zero_()  # ln_f divides by the spread, ~0.875 at a generated position
    text.lm_head.weight[tokens] = 0.875 * TEXT_LOGIT / (width - TEACHER_TOKENS) * _embed(constant, width)
    text.lm_head.weight[tokens, :TEACHER_TOKENS] = 0.875 * REPEAT_LOGIT * torch.eye(TEACHER_TOKENS)


def _set_coarse_stage(coarse: object, tokens: list[int], tables: list[list[int]], codes: object) -> None:
    """Layer 0's first head copies the aligned semantic token's identity; the output maps it to a code per book."""
    import numpy as np
    import torch

    from bark_omni.constants import CODEBOOK_SIZE, SEMANTIC_TO_COARSE_RATIO, SEMANTIC_VOCAB_SIZE

    tr = coarse.transformer
    width = tr.wte.weight.shape[1]
    _zero_blocks(coarse)
    tr.wte.weight.zero_()
    for i, token in enumerate(tokens):
        tr.wte.weight[token, i] = 4.0
    codes = 4.0 * codes / codes.norm(dim=1, keepdim=True)
    tr.wpe.weight.zero_()
    tr.wpe.weight[:256, _KEY] = codes
    for q in range(256, tr.wpe.weight.shape[0]):
        aligned = int(np.clip(round((q - 257) / SEMANTIC_TO_COARSE_RATIO), 0, 255))
        tr.wpe.weight[q, _QUERY] = codes[aligned]
    attn = tr.h[0].attn
    w = attn.c_attn.weight  # (3 * width, width): q, k, v; head 0 is the first width // n_head of each
    w.zero_()
    n_code = _KEY.stop - _KEY.start
    w[0:n_code, _QUERY] = 6.0 * torch.eye(n_code)
    w[width:width + n_code, _KEY] = torch.eye(n_code)
    w[2 * width:2 * width + TEACHER_TOKENS, 0:TEACHER_TOKENS] = torch.eye(TEACHER_TOKENS)
    attn.c_proj.weight[0:TEACHER_TOKENS, 0:TEACHER_TOKENS] = 2.0 * torch.eye(TEACHER_TOKENS)
    coarse.lm_head.weight.zero_()
    for book in range(2):
        for i in range(TEACHER_TOKENS):
            coarse.lm_head.weight[SEMANTIC_VOCAB_SIZE + book * CODEBOOK_SIZE + tables[book][i], i] = 6.0


def _set_fine_stage(fine: object, tables: list[list[int]], constant: object) -> None:
    """Codebooks 2..7: a fixed code per set token, read from codebook 0 at the same frame."""
    import torch

    tr = fine.transformer
    width = tr.wpe.weight.shape[1]
    _zero_blocks(fine)
    tr.wtes[0].weight.zero_()
    tr.wtes[0].weight[tables[0], :TEACHER_TOKENS] = torch.eye(TEACHER_TOKENS)
    tr.wpe.weight.copy_(_embed(constant, width).expand_as(tr.wpe.weight))
    for k, head in enumerate(fine.lm_heads):  # predicts codebook k + 1; tied to its input embedding
        head.weight.zero_()
        head.weight[tables[k + 1], :TEACHER_TOKENS] = 6.0 * torch.eye(TEACHER_TOKENS)


def write_teacher_model(directory: Path, seed: int = TEACHER_SEED) -> Path:
    """The tiny model's files (``bark_omni.tiny.write_tiny_model``) with the teacher's text and coarse stages."""
    from bark_omni.checkpoints import save_stage
    from bark_omni.constants import SUNO_FILES
    from bark_omni.tiny import write_tiny_model

    write_tiny_model(directory)
    for stage, module in teacher_modules(seed).items():
        save_stage(directory / SUNO_FILES["bark-small"][stage], module, best_val_loss=1.0)
    return directory


def ensure_teacher_model(seed: int = TEACHER_SEED) -> Path:
    """The teacher's directory in bark-omni's cache, written atomically on first use."""
    from bark_omni.paths import bark_omni_cache_dir
    from bark_omni.tiny import ensure_model_dir

    return ensure_model_dir(bark_omni_cache_dir() / f"semantic-teacher-{TEACHER_VERSION}-{seed}",
                            lambda staging: write_teacher_model(staging, seed))
