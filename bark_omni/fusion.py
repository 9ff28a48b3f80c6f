"""The routed fusion block: how adapters steer the frozen Bark without changing a weight of it.

Each adapter turns its modality into context tokens of width ``d_ctx``. The fusion block

1. tags them: a learned type embedding is added to every token of a modality and a learned start token
   opens it, then the present modalities are concatenated (absent ones are left out, never zero-filled); a
   timed modality's tokens are seen only near their times, its start token at every query;
2. routes them: an MLP reads the presence mask and each modality's pooled tokens and gives each modality a
   gate logit; every injected layer adds its own bias and a term read from the current hidden state, so a
   gate is per modality, per layer and per generated token: ``sigmoid(...)`` (independent sigmoids, not a
   softmax, so modalities do not compete for one budget), times presence (absent modalities are masked, not
   learned) and the request's priority (a volume knob on that modality's term alone);
3. injects them: after chosen decoder blocks of the semantic stage (and, per adapter, the coarse stage),
   ``h = h + tanh(gate) * out(sum_m g_m * attn_m(q(norm(h)), k(ctx_m), v(ctx_m)))``: each modality is
   attended with its own softmax and the terms are added, so a present modality is never diluted by another
   one; ``gate`` starts at 0, so a freshly initialised fusion leaves every token of vanilla Bark unchanged
   while gradients still reach the gate. docs/fusion.md gives the design's evidence.

Keys and values of the context are computed once per generation (``Conditioning``) and reused at every step.
Nothing is attached to the Bark modules: the generation loop calls the conditioning between blocks.
Weights are saved as safetensors plus JSON with the base model's fingerprint and a model card (``save_pretrained``);
``from_pretrained`` takes that folder or a Hugging Face hub id, and ``push_to_hub`` shares a set (``hub.py``).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .constants import CONTEXT_WINDOW_SIZE, TEXT_ENCODING_OFFSET
from .errors import CheckpointError, InvalidInputError, MissingPluginError, shorten
from .modality import ModalityBundle

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .models import BarkModels

FUSION_FORMAT_VERSION = 5  # 2: attention per modality, per-layer and per-query routing gates; 3: timing term, dense
# layer; 4: the attention's width is a setting (``attn_ratio``; 3 and before: d_model); 5: a timed modality's start
# token is attended at every query (``timed_start``; 4 and before: never)
READABLE_FORMATS = (2, 3, 4, 5)  # a format-2 file loads with its timing term at zero and no dense layer (what it computed)
WHEN_CENTRES = torch.linspace(-1.0, 1.0, 9)  # where a timed token's relative-time features peak, in half-widths
WHEN_WIDTH = 0.125
DENSE_RATIO = 0.5  # default width of the dense layer after each injection, times d_model
ATTN_RATIO = 0.5  # default width of the cross-attention (queries, keys, values), times d_model (files without it: 1)
ROUTINGS = ("gated", "fixed")
WEIGHTS_FILE = "adapters.safetensors"
CONFIG_FILE = "adapters.json"
STAGES = ("semantic", "coarse")


class Adapter(nn.Module):
    """Base class of modality adapters (what ``AdapterSpec.build(models, d_ctx=, config=)`` returns).

    The interface (stable; trainers and third parties build on it):

    * ``prepare(value)`` validates and normalises one raw input (a path, an array, events...) and runs any frozen
      encoder (through ``run_frozen``, which applies ``config["encoder_precision"]``); it is called under
      ``torch.no_grad`` and raises ``InvalidInputError`` (one line saying what to do) on anything unusable. Its
      result must be reusable: training caches it.
    * ``forward(prepared)`` maps a batch (a sequence of ``prepare`` results) to context tokens ``(B, N, d_ctx)``
      and a boolean mask ``(B, N)`` of real tokens (rows may differ in length; pad and mask).
    * ``timeline(prepared)`` (optional) places tokens on Bark's semantic timeline: ``(B, N, 2)`` of (centre
      frame, half-width in frames) at 49.9 Hz; a token then acts only on frames within its half-width, most
      strongly at its centre, while the modality's start token acts on every frame (format 5). ``None`` (the
      default) means every token acts everywhere.
    * ``bind(host)`` (optional) is called once the adapter is built through a host, to read its registries.
    * ``stages()``: which Bark stages the modality conditions (``config["stages"]``, default semantic only).

    Only trainable parts may be registered as submodules. Frozen encoders go through ``hold_frozen`` (kept out
    of the state dict and ``parameters()``, with gradients off), so saved adapters stay small and training never
    touches them.
    """

    modality: str = ""
    kind: str = ""
    version: str = "0"

    def __init__(self, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.d_ctx = d_ctx
        self.config = dict(config or {})
        self._frozen: dict[str, nn.Module] = {}
        self._runners: dict[tuple[int, torch.dtype | None, torch.device], tuple[nn.Module, nn.Module]] = {}
        encoder_dtype(torch.device("cpu"), self.config.get("encoder_precision", "auto"))  # a bad value fails here

    def prepare(self, value: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def forward(self, prepared: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def timeline(self, prepared: Sequence[Any]) -> torch.Tensor | None:
        return None

    def bind(self, host: Host) -> None:
        return None

    def stages(self) -> tuple[str, ...]:
        """Which Bark stages this modality conditions (``config["stages"]``, default the semantic stage)."""
        return tuple(self.config.get("stages", ("semantic",)))

    def hold_frozen(self, name: str, module: nn.Module) -> nn.Module:
        """Keep ``module`` (a frozen encoder, or a part of the frozen Bark) usable by the adapter without making
        it a submodule: it stays out of the state dict, ``parameters()`` and the optimiser."""
        self._frozen[name] = module.eval().requires_grad_(False)
        self._runners.clear()
        return module

    def frozen_modules(self) -> dict[str, nn.Module]:
        """The frozen modules this adapter uses (what the conformance checks verify stay frozen)."""
        return dict(self._frozen)

    def run_frozen(self, module: nn.Module, *inputs: torch.Tensor) -> Any:
        """``module(*inputs)`` without gradients, under ``encoder_dtype`` of ``config["encoder_precision"]``
        (default "auto"), through ``runner(module, dtype)`` (built on the first call per module, dtype and device,
        then kept: a frozen module's weights must not change afterwards; ``hold_frozen`` a new module instead, which
        drops the runners); floating outputs (a tensor or a tuple of them) come back in float32."""
        device = inputs[0].device
        dtype = encoder_dtype(device, self.config.get("encoder_precision", "auto"))
        key = (id(module), dtype, device)
        if key not in self._runners:  # the module stays referenced beside its runner, so its id is never reused
            self._runners[key] = (module, self.runner(module, dtype))
        autocast = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
        with torch.no_grad(), autocast:
            output = self._runners[key][1](*inputs)
        as_float = lambda t: t.float() if torch.is_tensor(t) and t.is_floating_point() else t  # noqa: E731
        return tuple(as_float(t) for t in output) if isinstance(output, tuple) else as_float(output)

    def runner(self, module: nn.Module, dtype: torch.dtype | None) -> nn.Module:
        """What ``run_frozen`` calls for ``module`` under autocast to ``dtype`` (None: float32): the module itself at
        float32, else ``frozen_copy(module, dtype)``, whose matrix weights are cast once instead of at every call.
        An adapter may override it to run a faster equivalent of its encoder; it must compute the same function."""
        return module if dtype is None else frozen_copy(module, dtype)


ENCODER_PRECISIONS = ("auto", "bfloat16", "float32")


def encoder_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype frozen encoders run in (None: float32). ``auto`` gives bfloat16 on a CPU with bf16
    arithmetic (AVX512-BF16 or AMX), where EnCodec's encoder took 0.43-0.54x and a ViT-B-32 0.46-0.50x of their
    float32 time from their runners, at a relative error of their features of ~0.5-1% (docs/fusion.md, "Cost");
    float32 elsewhere (other CPUs emulate bf16, and a GPU runs these encoders in milliseconds)."""
    if precision not in ENCODER_PRECISIONS:
        raise InvalidInputError(f"encoder_precision must be one of {', '.join(ENCODER_PRECISIONS)}; got {shorten(precision)}")
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "float32" or device.type != "cpu":
        return None
    native = any(bool(getattr(torch.cpu, name, lambda: False)()) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return torch.bfloat16 if native else None


LOW_PRECISION_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                         nn.ConvTranspose3d, nn.RNNBase, nn.MultiheadAttention)
"""Modules whose products autocast runs in a lower precision on CPU and GPU (its norms and the rest keep float32)."""


def frozen_copy(module: nn.Module, dtype: torch.dtype | None) -> nn.Module:
    """A copy of a frozen ``module`` that computes the same function under autocast to ``dtype``, faster: weight
    norms (``torch.nn.utils.weight_norm``, which EnCodec uses) folded into plain weights, which were recomputed at
    every call, and the weights of ``LOW_PRECISION_MODULES`` cast to ``dtype`` once, where autocast would cast them
    at every call (a ViT-B-32 took 73-76 ms in bf16 on CPU, 95-105 before). Other parameters (norms, embeddings)
    keep their dtype, as autocast uses them. New-style parametrizations stay as they are (removing one edits a
    class the copy shares with the original)."""
    import copy

    from torch.nn.utils.weight_norm import WeightNorm

    norms = lambda sub: [h for h in sub._forward_pre_hooks.values() if isinstance(h, WeightNorm)]  # noqa: E731
    # a weight norm's last computed weight may hang off an autograd graph, which deepcopy refuses: copy it detached
    memo = {id(w): w.detach() for sub in module.modules() for h in norms(sub)
            if torch.is_tensor(w := getattr(sub, h.name, None)) and not w.is_leaf}
    if dtype is not None:  # cast while copying, so the float32 weights are never held twice
        memo.update({id(p): nn.Parameter(p.detach().to(dtype, copy=True), requires_grad=False) for sub in module.modules()
                     if isinstance(sub, LOW_PRECISION_MODULES) and not norms(sub) for p in sub.parameters(recurse=False)})
    clone = copy.deepcopy(module, memo).eval().requires_grad_(False)
    for sub in clone.modules():
        if hooks := norms(sub):  # fold at float32, then cast: what autocast casts at every call
            for hook in hooks:
                torch.nn.utils.remove_weight_norm(sub, hook.name)
            if dtype is not None and isinstance(sub, LOW_PRECISION_MODULES):
                for param in sub.parameters(recurse=False):
                    param.data = param.data.to(dtype)
    return clone


GATE_LOGIT_BOUND = 6.0


def gate(logits: torch.Tensor) -> torch.Tensor:
    """``sigmoid`` of the logits softly bounded to +-``GATE_LOGIT_BOUND`` (gates in 0.0025..0.9975). An unbounded
    router once drove every gate to exactly 0 whenever the control events were present in a training run
    (docs/fusion.md); a priority of 0 still removes a modality exactly. The bound alone does not keep a gate
    movable: logits far past it (+-1000 were seen) leave it flat, which training's router z-term prevents."""
    return scaled_gate(logits / GATE_LOGIT_BOUND)


def scaled_gate(scaled: torch.Tensor) -> torch.Tensor:
    """``gate`` of logits already divided by ``GATE_LOGIT_BOUND`` (a decoding step folds the division into its
    weights)."""
    return torch.sigmoid(GATE_LOGIT_BOUND * torch.tanh(scaled))


@dataclass(frozen=True)
class Routing:
    """How much each present modality may contribute, per batch row: ``segments`` lists the context's
    modality blocks as (modality index, first token, end token); ``logits`` (B, M) are the router's
    context-level gate logits (None when the fusion has no router: every present modality counts fully);
    ``scale`` (B, M) is presence x the request's priority. A layer adds its own per-modality bias and a
    per-query term read from the hidden state, so the gate of modality m at query t of layer l is
    ``gate(logits[m] + bias_l[m] + u_l[m] . norm(h_t)) * scale[m]`` (a sigmoid of softly bounded logits)."""

    segments: tuple[tuple[int, int, int], ...]
    logits: torch.Tensor | None
    scale: torch.Tensor

    def gates(self, offsets: torch.Tensor | None, queries: int) -> torch.Tensor:
        """(B, T, M) gates for ``queries`` queries; ``offsets`` (B, T, M) is the layer's per-query term."""
        return self.applied(self.raw_gates(offsets), queries)

    def gate_logits(self, offsets: torch.Tensor | None) -> torch.Tensor | None:
        """(B, T or 1, M) ``logits + offsets``, what ``gate`` reads; None without a router."""
        if self.logits is None:
            return None
        return self.logits[:, None, :] if offsets is None else self.logits[:, None, :] + offsets

    def raw_gates(self, offsets: torch.Tensor | None) -> torch.Tensor | None:
        """(B, T, M) ``gate(logits + offsets)`` before presence and priority (which the conditioning folds into
        its per-token weights once per generation); None without a router (every present modality at 1)."""
        logits = self.gate_logits(offsets)
        return None if logits is None else gate(logits)

    def applied(self, raw: torch.Tensor | None, queries: int) -> torch.Tensor:
        """The gates ``raw_gates`` gave, times presence and priority."""
        if raw is None:
            return self.scale[:, None, :].expand(-1, queries, -1)
        return raw * self.scale[:, None, :]

    def select(self, index: torch.Tensor) -> Routing:
        return Routing(self.segments, None if self.logits is None else self.logits[index], self.scale[index])


@dataclass(frozen=True)
class GateRecord:
    """What one call of a layer logs in training: the (B, M) gates applied, averaged over its queries, and the
    (B, M) mean square over queries of each gate's full logit (context, layer bias and query term; None without
    a router), which training's router z-term keeps small."""

    gates: torch.Tensor
    logit_squares: torch.Tensor | None


@dataclass(frozen=True)
class Folded:
    """A layer's weights as a generation runs them: ``q``; ``tanh(gate) * out.weight``; the dense layer's first
    weight and bias, and its last ones times ``tanh(dense_gate)`` (None without a dense layer)."""

    q: torch.Tensor
    out: torch.Tensor
    dense_in: torch.Tensor | None = None
    dense_in_bias: torch.Tensor | None = None
    dense_weight: torch.Tensor | None = None
    dense_bias: torch.Tensor | None = None


@dataclass(frozen=True)
class StepWeights:
    """A layer's weights as a decoding step of a single query reads them (``GatedCrossAttention.step``), made once
    per generation: ``query`` stacks q over the routing term's rows, so one product gives both; ``query_bias`` is 0
    for q's rows and, for the others, the layer's routing bias plus the request's context-level gate logits; the
    routing rows and bias are divided by ``GATE_LOGIT_BOUND`` (``scaled_gate`` then reads them); None without a
    router. The matrices are in ``step_dtype`` (None: float32); ``when`` holds each modality's K columns of the
    timing term, transposed, over the number of heads (the step sums the heads' attention instead of averaging)."""

    query: torch.Tensor
    query_bias: torch.Tensor | None
    out: torch.Tensor
    when: tuple[torch.Tensor, ...]
    dense: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None  # first weight, bias; last ones

    @classmethod
    def of(cls, layer: GatedCrossAttention, folded: Folded, dtype: torch.dtype | None,
           logits: torch.Tensor | None) -> StepWeights:
        """``logits`` (M,): the request's context-level gate logits (``Routing.logits`` of its row; None: no router)."""
        cast = (lambda t: t) if dtype is None else (lambda t: t.to(dtype))  # noqa: E731
        query, query_bias = folded.q, None
        if logits is not None and layer.route is not None:
            query = torch.cat([folded.q, layer.route.weight / GATE_LOGIT_BOUND])
            query_bias = torch.cat([folded.q.new_zeros(folded.q.shape[0]), (layer.route.bias + logits) / GATE_LOGIT_BOUND])
        K = len(WHEN_CENTRES)
        when = tuple(w.T / layer.n_head for w in layer.when.weight.split(K, dim=1))
        dense = None if folded.dense_in is None else tuple(
            cast(t) for t in (folded.dense_in, folded.dense_in_bias, folded.dense_weight, folded.dense_bias))
        return cls(cast(query), None if query_bias is None else cast(query_bias), cast(folded.out), when, dense)


def step_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The dtype that decoding steps of a single query (batch 1) read the fusion's weight matrices in (None: their
    own). ``auto`` gives float16 on a CPU with half-precision conversions in its vector unit (AVX2 or Arm): such a
    step waits for weight bytes, and the fusion's excess over a plain step fell from 1.098 to 1.077 with them
    (docs/fusion.md, "Cost"); with 8 rows or more float32 is faster, so batches keep it. The term moves by ~1e-3
    of its norm, which changed 0-3 of 144 sampled sequences in the proof's check and no accuracy."""
    if precision not in STEP_PRECISIONS:
        raise InvalidInputError(f"fusion step precision must be one of {', '.join(STEP_PRECISIONS)}; got {shorten(precision)}")
    if precision == "float32" or device.type != "cpu":
        return None
    if precision == "float16":
        return torch.float16
    import platform

    fast = platform.machine().lower() in ("arm64", "aarch64") or bool(getattr(torch.cpu, "_is_avx2_supported", lambda: False)())
    return torch.float16 if fast else None


STEP_PRECISIONS = ("auto", "float16", "float32")


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` in ``weight``'s dtype, the result in ``x``'s."""
    return F.linear(x.to(weight.dtype), weight, bias).to(x.dtype)


class GatedCrossAttention(nn.Module):
    """Cross-attention from a frozen decoder's hidden states to the context, behind a tanh gate at zero.

    Each modality is attended on its own (a softmax per modality block), and the per-modality outputs are
    added, each times its gate: a modality's contribution does not shrink because another one is present
    (a shared softmax would make the modalities compete for one unit of attention), and a priority scales
    exactly its own modality's term."""

    def __init__(self, d_model: int, d_ctx: int, n_head: int, n_modalities: int = 1, routed: bool = True,
                 dense: int = 0, d_attn: int | None = None) -> None:
        super().__init__()
        d_attn = d_attn or d_model
        if d_attn % n_head:
            raise InvalidInputError(f"fusion attention width {d_attn} is not a multiple of its {n_head} heads")
        self.n_head = n_head
        self.norm = nn.LayerNorm(d_model)
        self.q = nn.Linear(d_model, d_attn, bias=False)
        self.k = nn.Linear(d_ctx, d_attn, bias=False)
        self.v = nn.Linear(d_ctx, d_attn, bias=False)
        self.out = nn.Linear(d_attn, d_model, bias=False)
        self.gate = nn.Parameter(torch.zeros(1))
        # timing term: what a timed token adds also depends on where the query sits in its window (zero at start)
        self.when = nn.Linear(n_modalities * len(WHEN_CENTRES), d_attn, bias=False)
        nn.init.zeros_(self.when.weight)
        # dense layer after the attention (Flamingo's gated dense part): reads the sum of every modality's term, so
        # the output can depend on their combination (an accent that is the image's *and* falls on the beat)
        self.dense = (nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, dense), nn.GELU(), nn.Linear(dense, d_model))
                      if dense > 0 else None)
        self.dense_gate = nn.Parameter(torch.zeros(1)) if dense > 0 else None
        # per-layer bias and per-query routing term; zero at start, so the router's context gate rules
        self.route = nn.Linear(d_model, n_modalities) if routed else None
        if self.route is not None:
            nn.init.zeros_(self.route.weight)
            nn.init.zeros_(self.route.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        return x.view(B, N, self.n_head, C // self.n_head).transpose(1, 2)

    def keys_values(self, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-generation keys and values of the context (B, N, d_ctx)."""
        return self._heads(self.k(ctx)), self._heads(self.v(ctx))

    def folded(self) -> Folded:
        """The weights with their tanh gates multiplied in (what a generation computes once)."""
        out = torch.tanh(self.gate) * self.out.weight
        if self.dense is None:
            return Folded(self.q.weight, out)
        first, last = self.dense[1], self.dense[-1]
        scale = torch.tanh(self.dense_gate)
        return Folded(self.q.weight, out, first.weight, first.bias, scale * last.weight, scale * last.bias)

    def forward(self, h: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, routing: Routing, layout: Layout,
                bias: torch.Tensor | None = None, weight: torch.Tensor | None = None, folded: Folded | None = None,
                record: list[GateRecord] | None = None, timing: Sequence[tuple[int, int, int, torch.Tensor]] = (),
                seen: torch.Tensor | bool | None = None) -> torch.Tensor:
        """One call on hidden states ``h`` (B, T, C) attending the context (its modality blocks per ``layout``):

        * ``keys`` / ``values`` (B, H, N, D): keys already scaled by ``D ** -0.5``;
        * ``bias`` (B, 1 or T, N): 0 where a query may see a token, the most negative float where not (masked or
          out-of-window tokens); None when every query sees every token;
        * ``weight`` (B, 1 or T, N): what multiplies each token's attention after its modality's softmax:
          visibility, a timed token's time weight, the request's presence x priority of its modality;
        * ``folded``: ``self.folded()``, computed once per generation (None computes it here);
        * ``seen`` (B, 1 or T, 1): whether a query sees any token at a nonzero weight (True: all do; None works it
          out from the attention), which the dense layer needs; a generation knows it from its weights.

        * ``timing``: per timed modality, (modality index, first token, end token, ``time_features`` of its tokens
          at these queries, B x T x tokens x K); the attention each timed token gets also carries those
          relative-time features through ``when``, so the term at a token's centre points elsewhere than at its
          neighbours (a weight alone only scales one direction, which the decoder's final LayerNorm removes).

        A query that sees no token of a modality gets nothing from it (its weights are 0), and exactly ``h`` when
        it sees none at all (the dense layer too). ``record``, when given, receives this call's ``GateRecord``
        (training)."""
        B, T, C = h.shape
        folded = folded or self.folded()
        x = self.norm(h)
        q = _linear(x, folded.q).view(B, T, self.n_head, -1).transpose(1, 2)
        scores = q @ keys.transpose(-1, -2)  # (B, H, T, N)
        if bias is not None:
            scores = scores + bias[:, None]
        if len(layout.spans) == 1:
            probs = torch.softmax(scores, dim=-1)
        else:  # a softmax per modality: one modality's attention never competes with another's
            probs = torch.cat([torch.softmax(scores[..., s:e], dim=-1) for s, e in layout.spans], dim=-1)
        logits = routing.gate_logits(self.route(x) if self.route is not None else None)  # (B, T, M) or None
        gates = None if logits is None else gate(logits)
        if record is not None:
            record.append(GateRecord(routing.applied(gates, T).mean(1), None if logits is None else (logits ** 2).mean(1)))
        if gates is not None:
            weight = gates[..., layout.token_modality] if weight is None else gates[..., layout.token_modality] * weight
        if weight is not None:
            probs = probs * weight[:, None]
        y = (probs @ values).transpose(1, 2).reshape(B, T, -1)
        if timing:
            y = y + self._timing(probs, timing).to(y.dtype)
        h = h + _linear(y, folded.out).to(h.dtype)
        if self.dense is None:
            return h
        if seen is None:
            seen = (probs.sum(-1).amax(1) > 0)[..., None]  # (B, T, 1): the query received something
        norm, _, act, _ = self.dense
        term = _linear(act(_linear(norm(h), folded.dense_in, folded.dense_in_bias)), folded.dense_weight, folded.dense_bias)
        return h + (term if seen is True else term * seen.to(h.dtype))

    def step(self, h: torch.Tensor, keys_t: torch.Tensor, values: torch.Tensor, layout: Layout,
             bias: torch.Tensor | None, weight: torch.Tensor | None, weights: StepWeights,
             timing: Sequence[tuple[int, int, int, torch.Tensor]] = (), seen: torch.Tensor | bool = True) -> torch.Tensor:
        """``forward`` for one query (``h`` of shape (1, 1, C)), in fewer operations: a decoding step runs it at every
        injected layer, where each operation's fixed cost counts. ``keys_t`` (H, D, N) are the batch row's scaled
        keys, transposed; ``values`` (H, N, D); ``bias`` and ``weight`` (1, 1, N) and ``seen`` (1, 1, 1) this
        query's rows (None / True: as in ``forward``); ``timing`` features (1, 1, tokens, K); ``weights`` from
        ``StepWeights.of``, which carries the routing (the request's gate logits are in its bias)."""
        d_attn = keys_t.shape[0] * keys_t.shape[1]
        x = F.layer_norm(h, self.norm.normalized_shape, self.norm.weight, self.norm.bias, self.norm.eps).view(1, -1)
        query = _linear(x, weights.query, weights.query_bias)  # (1, d_attn [+ M]): q, then the routing term, float32
        q = query[:, :d_attn].view(keys_t.shape[0], 1, -1)
        scores = q @ keys_t if bias is None else torch.baddbmm(bias, q, keys_t)  # (H, 1, N)
        if len(layout.spans) == 1:
            probs = torch.softmax(scores, dim=-1)
        else:
            probs = torch.cat([torch.softmax(scores[..., s:e], dim=-1) for s, e in layout.spans], dim=-1)
        if weights.query_bias is not None:  # routed: the routing term with the context's logits, pre-divided
            gates = scaled_gate(query[:, d_attn:]).view(-1).index_select(0, layout.token_modality)  # (N,)
            weight = gates if weight is None else gates * weight
        if weight is not None:
            probs = probs * weight
        y = (probs @ values).view(1, -1)  # (1, d_attn): heads side by side
        for m, s, e, features in timing:  # the heads' summed attention to each timed token x its time features
            y = torch.addmm(y, probs[..., s:e].sum(0) @ features[0, 0], weights.when[m])
        h = h + F.linear(y.to(weights.out.dtype), weights.out).view(h.shape)  # the sum is float32 (``h``'s dtype)
        if weights.dense is None:
            return h
        first, first_bias, last, last_bias = weights.dense
        norm = self.dense[0]
        x = F.layer_norm(h, norm.normalized_shape, norm.weight, norm.bias, norm.eps).view(1, -1)
        inner = F.gelu(F.linear(x.to(first.dtype), first, first_bias), approximate=self.dense[2].approximate)
        term = F.linear(inner, last, last_bias).view(h.shape)
        return h + (term if seen is True else term * seen)

    def _timing(self, probs: torch.Tensor, timing: Sequence[tuple[int, int, int, torch.Tensor]]) -> torch.Tensor:
        """``when`` of the timing features: per timed modality, its tokens' attention (head mean) times their
        relative-time features, through that modality's K columns of ``when`` (the columns of untimed and absent
        modalities would multiply zeros, so they are skipped)."""
        K = len(WHEN_CENTRES)
        out = None
        for m, s, e, features in timing:
            pooled = (probs[..., s:e].mean(1).unsqueeze(-2) @ features.to(probs.dtype)).squeeze(-2)  # (B, T, K)
            term = F.linear(pooled.to(self.when.weight.dtype), self.when.weight[:, m * K:(m + 1) * K])
            out = term if out is None else out + term
        return out


@dataclass(frozen=True)
class Layout:
    """The context's modality blocks: ``spans`` (first, end) token of each block, ``token_modality`` (N,) the
    modality index of every token (to spread per-modality gates over tokens with one index)."""

    spans: tuple[tuple[int, int], ...]
    token_modality: torch.Tensor

    @classmethod
    def of(cls, segments: Sequence[tuple[int, int, int]], device: torch.device) -> Layout:
        owner = torch.cat([torch.full((e - s,), m, dtype=torch.long) for m, s, e in segments]).to(device)
        return cls(tuple((s, e) for _, s, e in segments), owner)


class RoutingMLP(nn.Module):
    """Presence mask + pooled tokens of every modality -> one gate logit per modality (a sigmoid each, not a
    softmax: modalities do not compete for a fixed budget)."""

    def __init__(self, modalities: Sequence[str], d_ctx: int, hidden: int = 64) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        self.net = nn.Sequential(nn.Linear(len(modalities) * (d_ctx + 1), hidden), nn.GELU(),
                                 nn.Linear(hidden, len(modalities)))

    def forward(self, present: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """``present`` (B, M) in {0, 1}; ``pooled`` (B, M, d_ctx), zeros where absent. Returns (B, M) logits;
        absent modalities are masked by presence afterwards, never learned."""
        features = torch.cat([present.unsqueeze(-1), pooled], dim=-1).flatten(1)
        return self.net(features)


@dataclass
class FusionConfig:
    modalities: tuple[str, ...]
    d_ctx: int
    n_head: int
    layers: dict[str, tuple[int, ...]]
    d_models: dict[str, int]
    base_fingerprint: str = ""
    routing: str = "gated"  # "gated": router + per-layer, per-query gates; "fixed": every present modality at 1
    dense_ratio: float = 0.0  # width of the dense layer after each cross-attention, times d_model (0: none)
    attn_ratio: float = 1.0  # width of each cross-attention's queries, keys and values, times d_model
    # a timed modality's start token is attended at every query (its tokens only near their times): between events
    # a query still sees "events are present", so the fusion can shape the frames between them (False: files
    # before format 5, where such a query got nothing from the events and ran as vanilla Bark)
    timed_start: bool = True

    def attention_width(self, stage: str) -> int:
        return attention_width(self.d_models[stage], self.n_head, self.attn_ratio)

    def to_json(self) -> dict[str, Any]:
        return {"modalities": list(self.modalities), "d_ctx": self.d_ctx, "n_head": self.n_head,
                "layers": {k: list(v) for k, v in self.layers.items()}, "d_models": self.d_models,
                "base_fingerprint": self.base_fingerprint, "routing": self.routing, "dense_ratio": self.dense_ratio,
                "attn_ratio": self.attn_ratio, "timed_start": self.timed_start}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FusionConfig:
        return cls(modalities=tuple(data["modalities"]), d_ctx=int(data["d_ctx"]), n_head=int(data["n_head"]),
                   layers={k: tuple(v) for k, v in data["layers"].items()}, d_models=dict(data["d_models"]),
                   base_fingerprint=data.get("base_fingerprint", ""), routing=data.get("routing", "gated"),
                   dense_ratio=float(data.get("dense_ratio", 0.0)), attn_ratio=float(data.get("attn_ratio", 1.0)),
                   timed_start=bool(data.get("timed_start", False)))


def attention_width(d_model: int, n_head: int, ratio: float = ATTN_RATIO) -> int:
    """``ratio`` x ``d_model``, rounded down to a multiple of the heads (at least one per head)."""
    return max(n_head, int(d_model * ratio) // n_head * n_head)


def default_layers(n_layer: int, every: int = 4) -> tuple[int, ...]:
    """Every ``every``-th block, counted so the last block is always included."""
    return tuple(sorted({i for i in range(n_layer - 1, -1, -every)}))


class FusionBlock(nn.Module):
    """Type tags, routing and the gated cross-attention layers of both stages."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        M = len(config.modalities)
        self.type_tags = nn.Parameter(torch.randn(M, config.d_ctx) * 0.02)
        self.start_tokens = nn.Parameter(torch.randn(M, config.d_ctx) * 0.02)
        if config.routing not in ROUTINGS:
            raise InvalidInputError(f"fusion routing must be one of {', '.join(ROUTINGS)}, got {config.routing!r}")
        routed = config.routing == "gated"
        self.router = RoutingMLP(config.modalities, config.d_ctx) if routed else None
        self.cross = nn.ModuleDict({
            stage: nn.ModuleDict({str(i): GatedCrossAttention(config.d_models[stage], config.d_ctx, config.n_head, M, routed,
                                                              int(config.d_models[stage] * config.dense_ratio),
                                                              config.attention_width(stage))
                                  for i in layers})
            for stage, layers in config.layers.items()
        })

    def index(self, modality: str) -> int:
        return self.config.modalities.index(modality)


@dataclass
class Context:
    """Tagged, routed context of a batch: tokens (B, N, d_ctx), key mask (B, N), which stages each token may
    condition, the routing (modality blocks, router logits, presence x priority), the router's gates per
    modality before presence and priority (``raw_weights``, B x M) and after (``weights``)."""

    tokens: torch.Tensor
    mask: torch.Tensor
    stage_masks: dict[str, torch.Tensor]
    routing: Routing
    raw_weights: torch.Tensor
    weights: torch.Tensor
    pooled: torch.Tensor | None = None  # (B, M, d_ctx) the router's per-modality embeddings (training aligns them)
    timeline: torch.Tensor | None = None  # (B, N, 2) centre frame and half-width of timed tokens (inf: untimed)


def _full_timeline(timeline: torch.Tensor | None, rows: list[int], batch: int, device: torch.device) -> torch.Tensor | None:
    """An adapter's (rows, N, 2) timeline as (batch, 1 + N, 2): the start token and absent rows are untimed."""
    if timeline is None:
        return None
    full = torch.zeros(batch, 1 + timeline.shape[1], 2, device=device)
    full[..., 1] = float("inf")
    full[torch.tensor(rows, device=device), 1:] = timeline.to(device=device, dtype=full.dtype)
    return full


class FusionModel(nn.Module):
    """Adapters plus the fusion block for one base model: the unit that is trained, saved and loaded."""

    def __init__(self, config: FusionConfig, adapters: dict[str, Adapter]) -> None:
        super().__init__()
        unknown = set(adapters) - set(config.modalities)
        if unknown:
            raise InvalidInputError(f"adapters for {sorted(unknown)} are not in the fusion config's modalities")
        self.config = config
        self.adapters = nn.ModuleDict(adapters)
        self.fusion = FusionBlock(config)

    # construction and persistence ------------------------------------------------------------------

    @classmethod
    def initialise(cls, host: Host, models: BarkModels, modalities: Iterable[str], *, seed: int = 0,
                   n_head: int | None = None, adapter_config: dict[str, dict[str, Any]] | None = None,
                   routing: str = "gated", every: int = 4, dense_ratio: float = DENSE_RATIO,
                   attn_ratio: float = ATTN_RATIO) -> FusionModel:
        """Fresh adapters (from the installed plugins) and a fresh fusion block for ``models``, injecting after
        every ``every``-th block of each stage, the last one included (4: 3 of Bark's 12 blocks; 6: 2 of 12),
        each injection's attention ``attn_ratio`` x d_model wide and followed by a dense layer ``dense_ratio`` x
        d_model wide (0: none)."""
        rank = {spec.modality: (spec.rank, spec.modality) for spec in host.adapters.values()}
        modalities = tuple(sorted(dict.fromkeys(modalities), key=lambda m: rank.get(m, (float("inf"), m))))
        if not modalities:
            raise InvalidInputError(f"choose at least one modality of {', '.join(host.modalities)}")
        text_cfg, coarse_cfg = models.text.config, models.coarse.config
        config = FusionConfig(
            modalities=modalities, d_ctx=text_cfg.n_embd, n_head=n_head or text_cfg.n_head,
            layers={"semantic": default_layers(text_cfg.n_layer, every), "coarse": default_layers(coarse_cfg.n_layer, every)},
            d_models={"semantic": text_cfg.n_embd, "coarse": coarse_cfg.n_embd},
            base_fingerprint=models.fingerprint, routing=routing, dense_ratio=dense_ratio, attn_ratio=attn_ratio,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            adapters = {m: _build_adapter(host, models, host.adapter_for(m).name, config.d_ctx,
                                          (adapter_config or {}).get(m, {})) for m in modalities}
            model = cls(config, adapters)
        return model.eval()

    def save_pretrained(self, directory: str | Path, training: dict[str, Any] | None = None) -> Path:
        """Write ``adapters.safetensors`` (trainable weights only), ``adapters.json`` (what they are) and the model
        card ``README.md`` (with ``training``, the trainer's record, also kept as ``training.json``)."""
        from safetensors.torch import save_file

        from .files import atomic_output
        from .hub import TRAINING_FILE, write_model_card

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FUSION_FORMAT_VERSION,
            "fusion": self.config.to_json(),
            "adapters": {m: {"kind": a.kind, "version": a.version, "d_ctx": a.d_ctx, "config": a.config}
                         for m, a in self.adapters.items()},
        }
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_output(directory / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"base_fingerprint": self.config.base_fingerprint})
        with atomic_output(directory / CONFIG_FILE) as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if training is None:  # a record left by earlier weights in this folder would describe the wrong ones
            (directory / TRAINING_FILE).unlink(missing_ok=True)
        write_model_card(directory, training)
        return directory

    def push_to_hub(self, repo_id: str, token: str | None = None, private: bool = False,
                    training: dict[str, Any] | None = None, commit_message: str | None = None) -> str:
        """Save to a temporary folder (weights, config, card) and upload it to ``repo_id``; the commit's URL."""
        import tempfile

        from .hub import push_adapters

        with tempfile.TemporaryDirectory(prefix="bark-omni-adapters-") as folder:
            self.save_pretrained(folder, training)
            return push_adapters(folder, repo_id, token=token, private=private, commit_message=commit_message)

    @classmethod
    def from_pretrained(cls, directory: str | Path, host: Host, models: BarkModels, *, revision: str | None = None,
                        local_files_only: bool | None = None) -> FusionModel:
        """Load adapters saved by ``save_pretrained`` from a folder or a hub id (``org/name``: the Hugging Face
        cache, downloaded unless offline); refuses weights made for another base model."""
        from safetensors.torch import load_file

        from .hub import resolve_adapters

        directory = resolve_adapters(directory, revision=revision, local_files_only=local_files_only)
        if not (directory / CONFIG_FILE).is_file() or not (directory / WEIGHTS_FILE).is_file():
            raise CheckpointError(f"{directory} holds no adapters ({CONFIG_FILE} and {WEIGHTS_FILE}); create them with "
                                  "`bark-omni adapters init` or `bark-omni train`")
        try:
            meta = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            version = int(meta.get("format_version", 1))
            config = FusionConfig.from_json(meta["fusion"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{directory / CONFIG_FILE} is not a valid adapter config ({type(exc).__name__}: "
                                  f"{shorten(str(exc), 60)}); recreate it with `bark-omni adapters init`") from None
        if version not in READABLE_FORMATS:
            raise CheckpointError(f"adapters in {directory} use fusion format {version}, this bark-omni reads formats "
                                  f"{READABLE_FORMATS[0]}-{FUSION_FORMAT_VERSION} (per-modality routing); retrain or re-initialise them")
        if version < 5:  # before format 5 a timed modality's start token was never attended
            config = replace(config, timed_start=False)
        if config.base_fingerprint:
            from .fingerprints import require_same_base

            require_same_base(config.base_fingerprint, models, what=f"the adapters in {directory}", plural=True)
        adapters = {m: _build_adapter(host, models, info["kind"], int(info["d_ctx"]), info.get("config", {}),
                                      version=info.get("version"))
                    for m, info in meta["adapters"].items()}
        model = cls(config, adapters)
        state = load_file(str(directory / WEIGHTS_FILE))
        if version == 2:  # no timing term then: zero is exactly what format 2 computed
            state.update({k: v for k, v in model.state_dict().items() if k.endswith(".when.weight")})
        expected = set(model.state_dict())
        extra, missing = sorted(set(state) - expected), sorted(expected - set(state))
        if extra or missing:
            raise CheckpointError(f"{directory / WEIGHTS_FILE} does not fit its config: unexpected {extra[:4]}, missing {missing[:4]}")
        model.load_state_dict(state)
        return model.eval()

    # encoding --------------------------------------------------------------------------------------

    def prepare(self, bundles: Sequence[ModalityBundle], encoded: EncodedInputs | None = None) -> dict[str, list[Any]]:
        """Validate and pre-encode (frozen encoders, no grad) every present input; None where absent.
        ``encoded`` (the host's) reuses an input's encoding when the same input comes again (a voice or an image
        over several requests, or a long text's segments)."""
        for bundle in bundles:
            missing = [m for m in bundle.present() if m not in self.config.modalities]
            if missing:
                raise MissingPluginError(
                    f"no adapter weights for {', '.join(missing)} in these adapters (they cover "
                    f"{', '.join(self.config.modalities)}); initialise or train adapters that include them"
                )
        prepared: dict[str, list[Any]] = {}
        for modality in self.config.modalities:
            values = [b.inputs.get(modality) if modality in b.present() else None for b in bundles]
            if any(v is not None for v in values):
                adapter = self.adapters[modality]
                with torch.no_grad():
                    prepared[modality] = [None if v is None else encoded.prepare(adapter, v) if encoded is not None
                                          else adapter.prepare(v) for v in values]
        return prepared

    def encode(self, prepared: dict[str, list[Any]], priorities: Sequence[dict[str, float]]) -> Context:
        """Context of a batch from ``prepare``'s output; ``priorities`` has one dict per batch row."""
        fusion = self.fusion
        B = len(priorities)
        M = len(self.config.modalities)
        device = fusion.type_tags.device
        present = torch.zeros(B, M, device=device)
        pooled = torch.zeros(B, M, self.config.d_ctx, device=device)
        pieces: list[tuple[int, torch.Tensor, torch.Tensor]] = []
        timelines: list[torch.Tensor | None] = []
        for modality, values in prepared.items():
            m = fusion.index(modality)
            rows = [i for i, v in enumerate(values) if v is not None]
            tokens, mask = self.adapters[modality]([values[i] for i in rows])
            timelines.append(_full_timeline(self.adapters[modality].timeline([values[i] for i in rows]), rows, B, device))
            start = fusion.start_tokens[m].expand(len(rows), 1, -1)
            tokens = torch.cat([start, tokens + fusion.type_tags[m]], dim=1)
            mask = torch.cat([torch.ones(len(rows), 1, dtype=torch.bool, device=device), mask.to(device)], dim=1)
            full_tokens = torch.zeros(B, tokens.shape[1], tokens.shape[2], device=device, dtype=tokens.dtype)
            full_mask = torch.zeros(B, tokens.shape[1], dtype=torch.bool, device=device)
            index = torch.tensor(rows, device=device)
            full_tokens = full_tokens.index_copy(0, index, tokens)
            full_mask = full_mask.index_copy(0, index, mask)
            present[index, m] = 1.0
            denom = mask.sum(1, keepdim=True).clamp(min=1).to(tokens.dtype)
            pooled = pooled.index_put((index, torch.full_like(index, m)), (tokens * mask.unsqueeze(-1)).sum(1) / denom)
            pieces.append((m, full_tokens, full_mask))
        logits = fusion.router(present, pooled) if fusion.router is not None else None
        raw = gate(logits) if logits is not None else torch.ones_like(present)
        priority = torch.tensor([[p.get(name, 1.0) for name in self.config.modalities] for p in priorities],
                                device=device, dtype=raw.dtype)
        scale = present * priority
        tokens = torch.cat([t for _, t, _ in pieces], dim=1)
        mask = torch.cat([k for _, _, k in pieces], dim=1)
        ends = torch.tensor([t.shape[1] for _, t, _ in pieces]).cumsum(0).tolist()
        segments = tuple((m, end - t.shape[1], end) for (m, t, _), end in zip(pieces, ends))
        timeline = None
        if any(t is not None for t in timelines):
            untimed = lambda k: torch.tensor([0.0, float("inf")], device=device).expand(*k.shape, 2)  # noqa: E731
            timeline = torch.cat([untimed(k) if t is None else t for t, (_, _, k) in zip(timelines, pieces)], dim=1)
        stage_masks = {}
        for stage in STAGES:
            allowed = [torch.full_like(k, stage in self.adapters[self.config.modalities[m]].stages()) for m, _, k in pieces]
            for allow, t in zip(allowed, timelines):
                if t is not None and not self.config.timed_start:  # format 4 and before: no start token when timed
                    allow[:, 0] = False
            stage_masks[stage] = mask & torch.cat(allowed, dim=1)
            if timeline is not None and stage != "semantic":  # only the semantic stage has an absolute timeline
                stage_masks[stage] &= torch.isinf(timeline[..., 1])
        return Context(tokens, mask, stage_masks, Routing(segments, logits, scale), raw, raw * scale, pooled, timeline)

    def conditioning(self, bundles: Sequence[ModalityBundle], track_grad: bool = False,
                     encoded: EncodedInputs | None = None, step_precision: str = "auto") -> Conditioning:
        """Everything the generation loop needs for a batch, keys and values computed once. ``track_grad``
        keeps the autograd graph (training); otherwise it runs under inference mode. ``step_precision``: see
        ``step_dtype``."""
        step_dtype(torch.device("cpu"), step_precision)
        prepared = self.prepare(bundles, encoded)
        with torch.inference_mode(not track_grad):
            context = self.encode(prepared, [b.priorities for b in bundles])
        return Conditioning(self, context, track_grad, step_precision)


SEMANTIC_PREFIX = 256
"""In the semantic stage the query at absolute position ``p`` predicts semantic frame ``p - SEMANTIC_PREFIX``
(256 text-and-history positions come first; the one at 256 reads the infer token and predicts frame 0)."""


def time_offsets(timeline: torch.Tensor, n_positions: int, prefix: int = SEMANTIC_PREFIX) -> torch.Tensor:
    """(B, n_positions, N): each timed token's signed distance from the query at each absolute position, in
    half-widths (-1..1 inside its window), from the tokens' (centre frame, half-width); NaN for untimed tokens
    (half-width inf: they carry no timing). Computed once per generation, read by index at every step."""
    frames = torch.arange(n_positions, device=timeline.device, dtype=timeline.dtype) - prefix
    centre, half = timeline[..., 0], timeline[..., 1].clamp(min=0.5)
    offsets = (frames[None, :, None] - centre[:, None, :]) / half[:, None, :]
    return offsets.masked_fill(torch.isinf(half)[:, None, :], float("nan"))


def time_features(offsets: torch.Tensor) -> torch.Tensor:
    """(..., K): the relative-time features of ``time_offsets`` (K bumps along the window, zero for untimed
    tokens)."""
    centres = WHEN_CENTRES.to(offsets.device, offsets.dtype)
    return torch.exp(-(((offsets[..., None] - centres) / WHEN_WIDTH) ** 2)).nan_to_num(0.0)


def time_weights(offsets: torch.Tensor) -> torch.Tensor:
    """How much each query attends to each token, from ``time_offsets``: 1 at a token's centre falling linearly
    to 0 at its half-width; untimed tokens weigh 1 everywhere."""
    return (1 - offsets.nan_to_num(0.0).abs()).clamp(min=0)


def time_table(timeline: torch.Tensor, n_positions: int, prefix: int = SEMANTIC_PREFIX) -> torch.Tensor:
    """(B, n_positions, N): ``time_weights`` of the timeline's tokens at every absolute position."""
    return time_weights(time_offsets(timeline, n_positions, prefix))


class StageConditioning:
    """The ``loop.Conditioning`` of one stage, with everything that does not depend on the step computed once per
    generation: the context's keys (pre-scaled) and values per injected layer, each layer's output weights with
    their tanh gates folded in (``Folded``; for decoding steps of one query, ``StepWeights`` in ``step_dtype`` and
    the keys transposed, which ``GatedCrossAttention.step`` reads), the per-token
    attention bias and weights (visibility, presence x priority and, for timed tokens, the weight of every absolute
    position) and which queries see anything. A step then only slices and attends.
    ``gate_log``, when a list, collects each call's ``GateRecord`` (training reads them for its balance term and
    router z-term)."""

    def __init__(self, layers: nn.ModuleDict, kv: dict[int, tuple[torch.Tensor, torch.Tensor]], mask: torch.Tensor,
                 routing: Routing, table: torch.Tensor | None = None, gate_log: list[GateRecord] | None = None,
                 offsets: torch.Tensor | None = None,
                 timed: tuple[tuple[int, int, int, torch.Tensor], ...] | None = None,
                 step_dtype: torch.dtype | None = None) -> None:
        self._layers = layers
        self._step_dtype = step_dtype
        # relative-time features of the timed modalities' tokens at every absolute position (B, positions, n, K);
        # ``timed`` passes them in already computed (a sub-batch of another conditioning)
        if timed is None:
            timed = () if offsets is None else tuple(
                (m, s, e, time_features(offsets[:, :, s:e])) for m, s, e in routing.segments
                if not bool(torch.isnan(offsets[:, 0, s:e]).all()))
        self._timed = timed
        self._raw = (kv, mask, routing, table)  # what ``select`` rebuilds a sub-batch from
        self.gate_log = gate_log
        self.layers = frozenset(kv)
        self._wide: dict[int, StageConditioning] = {}
        self._layout = Layout.of(routing.segments, mask.device)
        self._kv: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._folded: dict[int, Folded] = {}
        self._step: dict[int, tuple[torch.Tensor, torch.Tensor, StepWeights]] = {}  # a batch-1 context's single queries
        for i, (keys, values) in kv.items():
            self._kv[i] = keys, values = (keys * keys.shape[-1] ** -0.5, values)
            self._folded[i] = layers[str(i)].folded()
            if keys.shape[0] == 1 and gate_log is None:
                logits = None if routing.logits is None else routing.logits[0]
                weights = StepWeights.of(layers[str(i)], self._folded[i], step_dtype, logits)
                self._step[i] = (keys[0].transpose(-1, -2).contiguous(), values[0], weights)
        volume = routing.scale[:, self._layout.token_modality]  # (B, N): presence x priority of each token's modality
        self._positioned = table is not None
        if table is None:
            self._bias = None if bool(mask.all()) else _bias(mask)[:, None]  # (B, 1, N)
            weight = mask * volume
            self._weight = None if bool((weight == 1).all()) else weight[:, None]  # None: every token at full weight
        else:  # per absolute position: (B, positions, N)
            seen = (table > 0) & mask[:, None, :]
            self._bias = _bias(seen)
            self._weight = table * seen * volume[:, None, :]
        # whether each query sees any token at a nonzero weight (the dense layer acts only there); True: all do
        seen = True if self._weight is None else (self._weight > 0).any(-1, keepdim=True)
        self._seen = True if seen is True or bool(seen.all()) else seen

    def __call__(self, layer: int, hidden: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """``positions`` (1, T): the consecutive absolute positions of ``hidden``'s rows (what the loop passes)."""
        keys, values = self._kv[layer]
        B = hidden.shape[0]
        if B != keys.shape[0]:  # a batch-1 context shared by a wider batch
            if B not in self._wide:
                self._wide[B] = self.select(torch.zeros(B, dtype=torch.long, device=keys.device))
            return self._wide[B](layer, hidden, positions)
        bias, weight, timing, seen = self._bias, self._weight, (), self._seen
        if self._positioned:
            if positions is None:
                raise ValueError("timed conditioning (control events) needs the absolute positions of the hidden rows")
            first = int(positions[0, 0])
            rows = slice(first, first + hidden.shape[1])
            bias, weight, seen = bias[:, rows], weight[:, rows], seen if seen is True else seen[:, rows]
            timing = tuple((m, s, e, features[:, rows]) for m, s, e, features in self._timed)
        cross = self._layers[str(layer)]
        if hidden.shape[1] == 1 and layer in self._step:  # one query of a batch-1 context: a decoding step
            keys_t, values, weights = self._step[layer]
            return cross.step(hidden, keys_t, values, self._layout, bias, weight, weights, timing, seen)
        return cross(hidden, keys, values, self._routing, self._layout, bias, weight, self._folded[layer], self.gate_log,
                     timing, seen)

    @property
    def _routing(self) -> Routing:
        return self._raw[2]

    def select(self, index: torch.Tensor) -> StageConditioning:
        """The conditioning of rows ``index`` of this batch (a batched loop drops rows that finished); a
        batch-1 conditioning is shared by every row."""
        kv, mask, routing, table = self._raw
        if mask.shape[0] == 1:
            index = torch.zeros_like(index)
        kv = {i: (k[index], v[index]) for i, (k, v) in kv.items()}
        return StageConditioning(self._layers, kv, mask[index], routing.select(index),
                                 table[index] if table is not None else None,
                                 timed=tuple((m, s, e, features[index]) for m, s, e, features in self._timed),
                                 step_dtype=self._step_dtype)


def _bias(visible: torch.Tensor) -> torch.Tensor:
    """0 where a token is visible, the most negative float where not (a row that sees nothing then gets a uniform
    softmax, which its zero weights remove: no NaN)."""
    return torch.zeros(visible.shape, device=visible.device).masked_fill(~visible, torch.finfo(torch.float32).min)


class Conditioning:
    """A batch's context and, per stage, the conditioning the loop calls between blocks. ``step_precision``: the
    dtype decoding steps read the fusion's weights in (``step_dtype``, which refuses a bad value when a stage is
    built; ``FusionModel.conditioning`` checks it before any encoder runs; training keeps float32)."""

    def __init__(self, model: FusionModel, context: Context, track_grad: bool = False, step_precision: str = "auto") -> None:
        self.model = model
        self.context = context
        self.track_grad = track_grad
        self.step_precision = step_precision
        self._stages: dict[str, StageConditioning | None] = {}

    def for_stage(self, stage: str) -> StageConditioning | None:
        if stage not in self._stages:
            self._stages[stage] = self._build(stage)
        return self._stages[stage]

    def logged_gates(self) -> torch.Tensor | None:
        """(B, M) gates applied by the calls so far, averaged over layers and queries (with ``track_grad``)."""
        logs = self._records()
        return torch.stack([r.gates for r in logs]).mean(0) if logs else None

    def logged_logit_squares(self) -> torch.Tensor | None:
        """(B, M) mean square of the gates' full logits over the calls so far, their layers and queries (with
        ``track_grad``); None without a router."""
        logs = [r.logit_squares for r in self._records() if r.logit_squares is not None]
        return torch.stack(logs).mean(0) if logs else None

    def _records(self) -> list[GateRecord]:
        return [r for s in self._stages.values() if s is not None for r in (s.gate_log or [])]

    def _build(self, stage: str) -> StageConditioning | None:
        mask = self.context.stage_masks[stage]
        cross = self.model.fusion.cross[stage] if stage in self.model.fusion.cross else None
        if cross is None or not bool(mask.any()):
            return None  # nothing conditions this stage: the loop runs vanilla Bark
        with torch.inference_mode(not self.track_grad):
            kv = {int(i): layer.keys_values(self.context.tokens) for i, layer in cross.items()}
            table = offsets = None
            if stage == "semantic" and self.context.timeline is not None:
                offsets = time_offsets(self.context.timeline, CONTEXT_WINDOW_SIZE)
                table = time_weights(offsets)
        dtype = None if self.track_grad else step_dtype(mask.device, self.step_precision)
        return StageConditioning(cross, kv, mask, self.context.routing, table, [] if self.track_grad else None, offsets,
                                 step_dtype=dtype)


def _build_adapter(host: Host, models: BarkModels, kind: str, d_ctx: int, config: dict[str, Any],
                   version: str | None = None) -> Adapter:
    spec = host.adapters.get(kind)
    if spec is None:
        package = host.package_providing("adapters", name=kind)
        raise MissingPluginError(f"adapter kind {kind!r} is not installed" + (f"; install {package}" if package else ""))
    adapter = spec.build(models, d_ctx=d_ctx, config=config)
    if not isinstance(adapter, Adapter) or adapter.modality != spec.modality:
        from .errors import PluginError

        raise PluginError(f"adapter plugin {kind!r} built {type(adapter).__name__}, not a bark_omni.fusion.Adapter for "
                          f"the {spec.modality!r} modality; fix the plugin ({spec.package or 'unknown package'})")
    if version is not None and str(adapter.version) != str(version):
        raise CheckpointError(f"adapter {kind!r} weights are version {version}, the installed plugin is {adapter.version}; "
                              "install the matching plugin version or retrain")
    adapter.bind(host)
    return adapter


def pad_tokens(sequences: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_i, d) tensors -> zero-padded (B, max n_i, d) and the (B, max n_i) mask of real rows: what
    ``Adapter.forward`` returns for inputs of different lengths."""
    from torch.nn.utils.rnn import pad_sequence

    tokens = pad_sequence(list(sequences), batch_first=True)
    lengths = torch.tensor([len(s) for s in sequences], device=tokens.device)
    return tokens, torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]


def frozen_text_embedding(tokenizer: Any, wte: nn.Module, text: str, max_tokens: int) -> torch.Tensor:
    """(N, n_embd): ``text`` as Bark's text stage reads it (WordPiece ids + ``TEXT_ENCODING_OFFSET`` through the
    frozen input embedding), cut to ``max_tokens``. Adapters use it to reuse what Bark already knows of words."""
    import warnings

    from .loop import normalize_text

    ids = tokenizer.encode(normalize_text(text), add_special_tokens=False)
    if not ids:
        raise InvalidInputError(f"{text!r} has no words Bark's tokenizer knows; pass plain words, e.g. 'whispering, sad'")
    if len(ids) > max_tokens:
        warnings.warn(f"{text[:40]!r}... is {len(ids)} tokens; only the first {max_tokens} are used", stacklevel=3)
        ids = ids[:max_tokens]
    index = torch.tensor(ids, dtype=torch.long, device=wte.weight.device) + TEXT_ENCODING_OFFSET
    with torch.no_grad():
        return wte(index).detach()


def build_conditioning(host: Host, models: BarkModels, modalities: ModalityBundle | Sequence[ModalityBundle],
                       adapters: str | Path | FusionModel | None) -> Conditioning:
    """The conditioning of a request (or a batch of them) from ``adapters`` (a directory, a hub id or a FusionModel)."""
    bundles = [modalities] if isinstance(modalities, ModalityBundle) else list(modalities)
    if adapters is None:
        present = sorted({m for b in bundles for m in b.present()})
        raise MissingPluginError(
            f"{', '.join(present)} given but no adapter weights: pass adapters=DIR (create one with "
            "`bark-omni adapters init` or `bark-omni train`)"
        )
    model = adapters if isinstance(adapters, FusionModel) else loaded_fusion(host, models, adapters)
    encoded = host.cached("encoded-inputs", models.fingerprint, lambda: EncodedInputs(ENCODED_INPUTS))
    return model.conditioning(bundles, encoded=encoded)


ENCODED_INPUTS = 32
"""How many frozen-encoder outputs a host keeps (least recently used first out)."""


class EncodedInputs:
    """Frozen-encoder outputs (``Adapter.prepare``) by input content, bounded, thread-safe: kept on the Host, so
    a reference voice or an image used again (another request, the next segment of a long text) is not encoded
    again. Keyed by the adapter's kind, version and config and the input's bytes (a file's path, size and
    modification time); inputs without such a key (text, event lists: cheap to prepare) are never kept."""

    def __init__(self, capacity: int) -> None:
        import threading
        from collections import OrderedDict

        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def prepare(self, adapter: Adapter, value: Any) -> Any:
        content = input_key(value)
        if content is None:
            return adapter.prepare(value)
        key = (f"{adapter.kind}:{adapter.version}:{json.dumps(adapter.config, sort_keys=True, default=str)}", content)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        result = adapter.prepare(value)
        with self._lock:
            self.misses += 1
            self._items[key] = result
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return result


def input_key(value: Any) -> str | None:
    """A content key for an encoder input: arrays and (array, rate) pairs by their bytes, files by path, size and
    modification time, PIL images by their pixels; None for anything else."""
    import hashlib

    import numpy as np

    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], (int, float)):
        inner = input_key(value[0])
        return None if inner is None else f"{inner}@{value[1]}"
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            return None
        stat = path.stat()
        return f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        return "array:" + hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
    if hasattr(value, "tobytes") and hasattr(value, "mode") and hasattr(value, "size"):  # a PIL image
        return "image:" + hashlib.sha256(f"{value.mode}{value.size}".encode() + value.tobytes()).hexdigest()
    return None


def loaded_fusion(host: Host, models: BarkModels, directory: str | Path) -> FusionModel:
    """Adapters from ``directory`` (or a hub id's cached snapshot) for ``models``, loaded once per host (the host
    keeps them, with a lock)."""
    from .hub import resolve_adapters

    directory = resolve_adapters(directory)
    key = (str(Path(directory).resolve()), models.fingerprint, models.device)
    return host.cached("adapters", key, lambda: FusionModel.from_pretrained(directory, host, models).to(models.device))
