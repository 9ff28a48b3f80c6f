"""The training objective: Bark's own token cross-entropy through the frozen stages, plus alignment terms.

* cross-entropy of the semantic stage (and optionally the coarse stage), teacher-forced through the frozen
  GPTs with the fusion block's conditioning between blocks, exactly as generation applies it;
* InfoNCE between the pooled embeddings of every pair of modalities present in the same rows (paired inputs
  should land close, unpaired ones apart);
* a token-bag aid per chosen modality (``token_bag_loss``): its pooled tokens, read against the frozen output
  layer's rows, predict which semantic tokens the row's target holds (their histogram): a short path from the
  encoder to what it should decide, where the decoder's loss alone reaches the adapter only through the frames
  the history does not already settle;
* a balance term on rows with two or more modalities: ``log(n) - H(shares)`` of the mean gates of the present
  modalities (0 when every present modality is used equally), so the router cannot settle on one modality
  and starve the others (absent modalities need no term: presence masks them exactly);
* a router z-term (``router_z_loss``): the mean square of the present modalities' gate logits as ``gate`` reads
  them (the router's context logit plus each layer's bias and per-query term), over layers and queries. A
  gate's overall size is also carried by the adapters' and ``out``'s weights, so nothing in the task loss holds
  the logits in place; without it they ran to +-1000 in proof runs, where the soft bound is flat, every gate sat
  at its floor or its ceiling whatever the inputs, and the router could no longer move. A term on the context
  logits alone left the per-query term free to do the same (docs/fusion.md).

``FusionObjective`` wraps the trainable ``FusionModel`` as the only submodule (Bark is a plain attribute), so
DistributedDataParallel sees exactly the weights that train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bark_omni import loop as gen
from bark_omni.constants import (CODEBOOK_SIZE, COARSE_INFER_TOKEN, SEMANTIC_INFER_TOKEN, SEMANTIC_PAD_TOKEN,
                                 SEMANTIC_VOCAB_SIZE)
from bark_omni.fusion import Conditioning, FusionModel

from .examples import Batch

if TYPE_CHECKING:  # pragma: no cover
    from bark_omni.models import BarkModels

    from .config import TrainConfig

SEMANTIC_ROWS = slice(0, SEMANTIC_VOCAB_SIZE + 1)  # the tokens plus Bark's end token
COARSE_ROWS = slice(SEMANTIC_VOCAB_SIZE, SEMANTIC_VOCAB_SIZE + 2 * CODEBOOK_SIZE)


@dataclass
class Outputs:
    """Per-row losses of one micro-batch (NaN where a row has no target for a stage) and its context."""

    semantic: torch.Tensor | None  # (B,)
    coarse: torch.Tensor | None  # (B,)
    present: torch.Tensor  # (B, M) 0/1
    raw_weights: torch.Tensor | None  # (B, M)
    pooled: torch.Tensor | None  # (B, M, d_ctx)
    gates: torch.Tensor | None = None  # (B, M) gates applied, averaged over injected layers and queries
    logit_squares: torch.Tensor | None = None  # (B, M) mean square of the gates' full logits (None: no router)


def presence(fusion: FusionModel, prepared: dict[str, list[Any]], batch_size: int, device: Any) -> torch.Tensor:
    present = torch.zeros(batch_size, len(fusion.config.modalities), device=device)
    for modality, values in prepared.items():
        m = fusion.fusion.index(modality)
        for i, value in enumerate(values):
            present[i, m] = float(value is not None)
    return present


def _per_row_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    losses = F.cross_entropy(logits.float().transpose(1, 2), target, ignore_index=-100, reduction="none")
    counts = (target != -100).sum(1)
    return torch.where(counts > 0, losses.sum(1) / counts.clamp(min=1), torch.full_like(counts, float("nan"), dtype=losses.dtype))


class FrozenStates:
    """Hidden states of the frozen blocks before the first injected layer, per row: they depend on the row's
    tokens only, never on the fusion's weights, so a row seen again skips those blocks (``capacity`` rows)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.rows: dict[tuple[str, int], torch.Tensor] = {}

    def hidden(self, model: nn.Module, emb: torch.Tensor, upto: int, row_ids: Sequence[str]) -> torch.Tensor:
        keys = [(row_id, emb.shape[1]) for row_id in row_ids]
        missing = [i for i, key in enumerate(keys) if key not in self.rows]
        fresh: dict[int, torch.Tensor] = {}
        if missing:
            with torch.no_grad():
                x = _blocks(model, emb[missing], upto)
            for j, i in enumerate(missing):
                fresh[i] = x[j]
                if len(self.rows) < self.capacity:
                    self.rows[keys[i]] = x[j]
        return torch.stack([fresh[i] if i in fresh else self.rows[key] for i, key in enumerate(keys)])


def _blocks(model: nn.Module, emb: torch.Tensor, upto: int) -> torch.Tensor:
    """Blocks 0..``upto`` of a frozen GPT on whole sequences from position 0 (what ``gpt_forward`` runs first)."""
    tr = model.transformer
    positions = torch.arange(0, emb.shape[1], dtype=torch.long, device=emb.device).unsqueeze(0)
    x = tr.drop(emb + tr.wpe(positions))
    for i in range(upto + 1):
        x = gen._block(tr.h[i], x, None, i, 0)
    return x


def _semantic_logits(model: nn.Module, emb: torch.Tensor, cond: Any, first: int, frozen: FrozenStates | None,
                     row_ids: Sequence[str]) -> torch.Tensor:
    """``gpt_forward`` of the semantic stage, reusing the frozen blocks' states of rows seen before."""
    if frozen is None or cond is None:
        return gen.gpt_forward(model, emb, SEMANTIC_ROWS, cond, first=first)
    tr = model.transformer
    upto = min(cond.layers)
    positions = torch.arange(0, emb.shape[1], dtype=torch.long, device=emb.device).unsqueeze(0)
    x = cond(upto, frozen.hidden(model, emb, upto, row_ids), positions)
    for i in range(upto + 1, len(tr.h)):
        x = gen._block(tr.h[i], x, None, i, 0)
        if i in cond.layers:
            x = cond(i, x, positions)
    return F.linear(tr.ln_f(x[:, first:]), model.lm_head.weight[SEMANTIC_ROWS])


def hide_history(tokens: torch.Tensor, rate: float) -> torch.Tensor:
    """Teacher-forced semantic inputs with each token replaced by Bark's semantic pad token at ``rate`` (word
    dropout, as in conditioned language models). With the whole history shown, copying the previous frames (a
    class, once the first frames hold it) is the cheapest way to predict the next, and the conditioning is read
    only where the history says nothing; hidden, every frame must read it. It also hides what the history
    rightly carries (a rhythm's continuation): docs/fusion.md weighs the two."""
    if rate <= 0:
        return tokens
    hidden = torch.rand(tokens.shape, device=tokens.device) < rate
    return torch.where(hidden, torch.full_like(tokens, SEMANTIC_PAD_TOKEN), tokens)


SAMPLED_HISTORY_TEMPERATURE = 0.7  # Bark's default sampling temperature: the history is what generation would draw


def sample_history(logits: torch.Tensor, tokens: torch.Tensor, rate: float,
                   temperature: float = SAMPLED_HISTORY_TEMPERATURE) -> torch.Tensor:
    """Teacher-forced semantic inputs ``tokens`` (B, L) with each real token replaced, at ``rate``, by one drawn
    from the model's own prediction of it (``logits`` (B, >= L, V): position j predicts input j); scheduled
    sampling in one pass. Generation feeds back its own draws, so a drawn token of another class (or a misplaced
    accent) is followed by more of the same, while teacher forcing never shows one; shown some, the model learns
    to go back to what the conditioning says rather than copy the slip. Pads stay pads; Bark's end token is
    never drawn."""
    if rate <= 0:
        return tokens
    B, L = tokens.shape
    probs = torch.softmax(logits[:, :L, :SEMANTIC_VOCAB_SIZE].float() / temperature, dim=-1)
    drawn = torch.multinomial(probs.reshape(B * L, -1), 1).view(B, L)
    chosen = (torch.rand(tokens.shape, device=tokens.device) < rate) & (tokens != SEMANTIC_PAD_TOKEN)
    return torch.where(chosen, drawn, tokens)


@dataclass(frozen=True)
class HistoryNoise:
    """What training does to the teacher-forced semantic inputs: a ``hidden`` share replaced by the pad token
    (``hide_history``) and a ``sampled`` share by the model's own draws (``sample_history``)."""

    hidden: float = 0.0
    sampled: float = 0.0

    @property
    def active(self) -> bool:
        return self.hidden > 0 or self.sampled > 0


def forward_losses(fusion: FusionModel, bark: BarkModels, prepared: dict[str, list[Any]],
                   priorities: Sequence[dict[str, float]], batch: Batch, frozen: FrozenStates | None = None,
                   noise: HistoryNoise = HistoryNoise()) -> Outputs:
    """Teacher-forced per-row cross-entropies of ``batch`` under the conditioning of ``prepared``; ``noise``
    changes part of the semantic inputs (the frozen-state cache then serves only the pass that draws the
    samples, since the inputs change every step)."""
    device = batch.text.device
    B = batch.text.shape[0]
    context = fusion.encode(prepared, priorities) if prepared else None
    conditioning = Conditioning(fusion, context, track_grad=True) if context is not None else None
    semantic = coarse = None
    if batch.semantic_target is not None:
        model = bark.text
        wte = model.transformer.wte
        history = torch.full_like(batch.text, SEMANTIC_PAD_TOKEN)
        infer = torch.full((B, 1), SEMANTIC_INFER_TOKEN, dtype=torch.long, device=device)
        prefix = torch.cat([wte(batch.text) + wte(history), wte(infer)], dim=1)
        rows, first = [e.row_id for e in batch.examples], batch.text.shape[1]
        inputs = batch.semantic_in
        if noise.sampled > 0:
            with torch.no_grad():  # the model's own draws, under a conditioning that logs no gates
                plain = Conditioning(fusion, context).for_stage("semantic") if context is not None else None
                guess = _semantic_logits(model, torch.cat([prefix, wte(inputs)], dim=1), plain, first, frozen, rows)
            inputs = sample_history(guess, inputs, noise.sampled)
        emb = torch.cat([prefix, wte(hide_history(inputs, noise.hidden))], dim=1)
        cond = conditioning.for_stage("semantic") if conditioning is not None else None
        logits = _semantic_logits(model, emb, cond, first, None if noise.active else frozen, rows)
        semantic = _per_row_ce(logits, batch.semantic_target)
    if batch.coarse_target is not None:
        model = bark.coarse
        infer = torch.full((B, 1), COARSE_INFER_TOKEN, dtype=torch.long, device=device)
        emb = model.transformer.wte(torch.cat([batch.coarse_window, infer, batch.coarse_in], dim=1))
        cond = conditioning.for_stage("coarse") if conditioning is not None else None
        logits = gen.gpt_forward(model, emb, COARSE_ROWS, cond, first=batch.coarse_window.shape[1])
        C = logits.shape[1]
        logits = logits.view(B, C, 2, CODEBOOK_SIZE)[:, torch.arange(C, device=device), torch.arange(C, device=device) % 2]
        coarse = _per_row_ce(logits, batch.coarse_target)
    return Outputs(semantic=semantic, coarse=coarse, present=presence(fusion, prepared, B, device),
                   raw_weights=None if context is None else context.raw_weights,
                   pooled=None if context is None else context.pooled,
                   gates=None if conditioning is None else conditioning.logged_gates(),
                   logit_squares=None if conditioning is None else conditioning.logged_logit_squares())


def info_nce(pooled: torch.Tensor, present: torch.Tensor, temperature: float) -> torch.Tensor | None:
    """Symmetric InfoNCE over every pair of modalities, on the rows where both are present (>= 2 rows)."""
    terms = []
    M = pooled.shape[1]
    for a in range(M):
        for b in range(a + 1, M):
            rows = (present[:, a] > 0) & (present[:, b] > 0)
            if int(rows.sum()) < 2:
                continue
            za = F.normalize(pooled[rows, a].float(), dim=-1)
            zb = F.normalize(pooled[rows, b].float(), dim=-1)
            logits = za @ zb.T / temperature
            labels = torch.arange(len(za), device=za.device)
            terms.append((F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2)
    return torch.stack(terms).mean() if terms else None


TOKEN_BAG_TEMPERATURE = 0.1


def token_bag_loss(pooled: torch.Tensor, target: torch.Tensor, rows: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
    """Per row of ``rows`` (B,) bool: the cross-entropy of the target's token histogram under a softmax over
    the cosine between ``pooled`` (B, d) and each semantic token's row of the frozen output layer ``head``
    (V, d), at ``TOKEN_BAG_TEMPERATURE``; no trainable head, so the adapter's tokens themselves move towards
    what the output should hold. 0 where a row is not chosen or its target holds no semantic token."""
    V = head.shape[0]
    valid = ((target >= 0) & (target < V)).float()
    counts = torch.zeros(target.shape[0], V, device=target.device).scatter_add_(1, target.clamp(0, V - 1), valid)
    total = counts.sum(1)
    logits = F.normalize(pooled.float(), dim=-1) @ F.normalize(head.float(), dim=-1).T / TOKEN_BAG_TEMPERATURE
    loss = -(counts / total.clamp(min=1)[:, None] * F.log_softmax(logits, dim=-1)).sum(1)
    return torch.where(rows & (total > 0), loss, torch.zeros_like(loss))


def balance_loss(gates: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Per row: ``log(n) - H(p)`` with ``p`` the present modalities' shares of their summed gates and ``n`` how
    many are present; 0 for rows with fewer than two (nothing to balance) and for perfectly even use."""
    g = gates.float().clamp(min=1e-6) * present
    shares = g / g.sum(1, keepdim=True).clamp(min=1e-6)
    entropy = -(shares * torch.log(shares.clamp(min=1e-12)) * present).sum(1)
    n = present.sum(1)
    return torch.where(n >= 2, torch.log(n.clamp(min=1)) - entropy, torch.zeros_like(entropy))


def router_z_loss(squares: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Per row: the mean over the present modalities of ``squares`` (B, M), each gate logit's mean square over
    layers and queries (0 with no modality present)."""
    return (squares.float() * present).sum(1) / present.sum(1).clamp(min=1)


LOSS_PARTS = ("ce_semantic", "ce_coarse", "nce", "token_bag", "balance", "router_z")


def total_loss(parts: dict[str, Any], cfg: TrainConfig) -> Any:
    """The weighted sum of the objective's parts (tensors in the step, floats in the step's log); the token-bag
    part is already weighted per modality."""
    return (parts["ce_semantic"] + cfg.coarse_weight * parts["ce_coarse"] + cfg.contrastive_weight * parts["nce"]
            + parts["token_bag"] + cfg.balance_weight * parts["balance"] + cfg.router_z_weight * parts["router_z"])


@dataclass
class Normalisers:
    """Global counts of one optimizer step, so that each process's share sums to the global mean."""

    semantic_rows: int
    coarse_rows: int
    rows: int
    chunks: int
    world_size: int


class FusionObjective(nn.Module):
    def __init__(self, fusion: FusionModel, bark: BarkModels, config: TrainConfig) -> None:
        super().__init__()
        self.fusion = fusion
        self.bark = bark  # not a Module: Bark's weights stay out of the optimizer and out of DDP
        self.config = config
        self.frozen = FrozenStates(config.frozen_cache_rows) if config.frozen_cache_rows > 0 else None

    def forward(self, prepared: dict[str, list[Any]], priorities: list[dict[str, float]], batch: Batch,
                norm: Normalisers) -> dict[str, torch.Tensor]:
        cfg = self.config
        noise = HistoryNoise(cfg.history_dropout, cfg.sampled_history) if self.training else HistoryNoise()
        out = forward_losses(self.fusion, self.bark, prepared, priorities, batch, self.frozen, noise)
        zero = next(self.fusion.parameters()).new_zeros(())
        parts = dict.fromkeys(LOSS_PARTS, zero)
        if out.semantic is not None:
            parts["ce_semantic"] = torch.nansum(out.semantic) / max(norm.semantic_rows, 1)
        if out.coarse is not None:
            parts["ce_coarse"] = torch.nansum(out.coarse) / max(norm.coarse_rows, 1)
        if out.pooled is not None and cfg.contrastive_weight > 0:
            nce = info_nce(out.pooled, out.present, cfg.contrastive_temperature)
            if nce is not None:
                parts["nce"] = nce / norm.chunks
        if out.pooled is not None and batch.semantic_target is not None and cfg.token_bag_weight:
            head = self.bark.text.lm_head.weight[:SEMANTIC_VOCAB_SIZE].detach()
            for modality, weight in cfg.token_bag_weight.items():
                if weight > 0 and modality in self.fusion.config.modalities:
                    m = self.fusion.fusion.index(modality)
                    per_row = token_bag_loss(out.pooled[:, m], batch.semantic_target, out.present[:, m] > 0, head)
                    parts["token_bag"] = parts["token_bag"] + weight * per_row.sum() / max(norm.rows, 1)
        if out.gates is not None and cfg.balance_weight > 0:
            parts["balance"] = balance_loss(out.gates, out.present).sum() / max(norm.rows, 1)
        if out.logit_squares is not None and cfg.router_z_weight > 0:
            parts["router_z"] = router_z_loss(out.logit_squares, out.present).sum() / max(norm.rows, 1)
        total = total_loss(parts, cfg)
        # Every trainable weight joins the graph (with zero gradient when unused this step: dropped modality,
        # unconditioned stage), so DDP's all-reduce sees the same parameters on every process.
        total = total + 0.0 * sum(p.reshape(-1)[0] for p in self.fusion.parameters())
        # DDP averages gradients over processes; scaling by the world size turns that average into the sum
        # of every process's share of the global mean.
        return {"loss": total * norm.world_size, **{k: v.detach() for k, v in parts.items()}}
