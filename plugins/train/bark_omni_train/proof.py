"""The fusion proof on a two-factor task (``factors``): train, generate, probe, with the uncertainty shown.

For each task seed: write the task, train the fusion (with the router, and without it as an ablation) for each
training seed, then generate semantic tokens for the probe's rows under four conditions (both modalities,
image only, control only, none) at Bark's default sampling (temperature 0.7, no top-k) and with top-k 50,
for several sampling seeds. The probe never reads the targets: its classifiers are fitted on generated
sequences of the "val" rows (seen combinations) and scored on generated sequences of the "test" rows (held-out
combinations), under the same condition and sampling.

* image class ("what"): a per-frame logistic regression from each generated token's output embedding (read
  through the frozen Bark's own output layer: a fixed, label-free token feature) to the row's class, fitted on
  every frame of the val rows; a sequence's class is the one with the largest summed log-probability over its
  frames. Each frame votes by its own token, so the beat rate (how often accents come) cannot stand in for the
  class: a classifier on the mean embedding did read it, since in the val rows each class comes with only some
  rhythms and a held-out row swaps its rhythm (on task 517 it scored 0.15 where the class tokens said 0.39);
* cross-check, sharing nothing with the probe: ``image_token_accuracy`` reads the answer key, the majority class
  among the task's own class tokens in the sequence (no class token: wrong);
* rhythm ("when"): a per-frame logistic direction separating beat frames from the others (fitted on val rows,
  whose beat times are known) turns a sequence into a score per frame; logistic regression on that score's
  autocorrelation (lags 1..24) names the rhythm. Also reported: the per-row AUC of that score at the row's
  own beat frames (0.5 = no timing);
* an empty sequence is an abstention and counts as wrong; nothing falls back to a default class.

Intervals: mean over (training seed x sampling seed) runs +- Student-t 95% half-width.

The proof's base is the tiny Bark with a 256-wide text stage (``write_proof_model``): the 64-wide tiny model's
random output layer can put at most ~5% of probability on any one token at temperature 0.7 (a 128-wide one
~44%, a 256-wide one ~97%), so no conditioning could make its default-sampling output carry a factor token by
token (docs/fusion.md).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .factors import FRAME_HZ, TaskSpec, make_task, plan_task
from .linear_probe import classifier, held_out_accuracy

CONDITIONS = {"both": (), "image_only": ("control_events",), "control_only": ("image",), "none": ("image", "control_events")}
SAMPLINGS = {"default": None, "top_k=50": 50}  # temp 0.7 for both; Bark's default has no top-k
SECONDARY_SEEDS = 1  # top-k (the secondary setting) is probed with the first sampling seed only
LAGS = 24
METRICS = ("image_accuracy", "rhythm_accuracy", "both_accuracy", "image_token_accuracy", "beat_auc", "target_match")
PROOF_WIDTH = 256
IMAGE_ENCODERS = ("pretrained", "random")  # the tiny CLIP pretrained on a corpus of its own, or its random weights


def write_proof_model(directory: Path, width: int = PROOF_WIDTH, n_head: int = 2, seed: int = 1234) -> Path:
    """The tiny Bark (its tokenizer, codec, coarse and fine stages) with a ``width``-wide text stage of seeded
    random weights, in suno's layout. Idempotent."""
    import shutil

    import torch
    from bark.model import GPT, GPTConfig

    from bark_omni.checkpoints import save_stage
    from bark_omni.constants import SUNO_FILES
    from bark_omni.tiny import TINY_DIMS, ensure_tiny_model

    directory = Path(directory)
    text_file = directory / SUNO_FILES["bark-small"]["text"]
    if text_file.is_file():
        return directory
    shutil.copytree(ensure_tiny_model(), directory, dirs_exist_ok=True)
    config = GPTConfig(**{**TINY_DIMS, "n_embd": width, "n_head": n_head, "input_vocab_size": 129_600,
                          "output_vocab_size": 10_048})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = GPT(config).eval()
    save_stage(text_file, module, best_val_loss=1.0)
    return directory


def proof_config(manifest: Path, output: Path, model: Path, seed: int, routing: str, steps: int,
                 distractor: bool = False, image_weights: Path | None = None) -> Any:
    """``distractor``: the task's rows carry a caption that carries nothing, fed as ``style_text`` (dropped like the
    others). ``image_weights``: the tiny CLIP's weight file (``pretrain_tiny_clip``); None: its random weights."""
    from .config import ProbeConfig, TrainConfig

    extra = ["style_text"] if distractor else []
    return TrainConfig(
        manifest=str(manifest), output=str(output), model=str(model), device="cpu",
        modalities=["image", "control_events", *extra],
        # float32 encoder: the same features on every CPU (bf16 only where a CPU has it), comparable with earlier runs
        adapter_config={"image": {"encoder": "tiny", "pretrained": str(image_weights) if image_weights else None,
                                  "encoder_precision": "float32"},
                        "control_events": {"window_s": 1.5 / FRAME_HZ}},
        seed=seed, steps=steps, batch_size=16, micro_batch_size=16, lr=1e-2, weight_decay=0.0, warmup_steps=20,
        semantic_eos=False, contrastive_weight=0.0,  # the factors are independent: nothing to align
        balance_weight=0.1, routing=routing, dropout={m: 0.3 for m in ("image", "control_events", *extra)},
        token_bag_weight={"image": 1.0},  # what the image decides is a small part of a random encoder's features
        sampled_history=0.3,  # a slip of another class, seen in training, is not copied (task 518: docs/fusion.md)
        eval_every=0, checkpoint_every=0, val_max_rows=64, frozen_cache_rows=4096, cpu_threads=1, progress=False, probe=ProbeConfig())


# generation -----------------------------------------------------------------------------------------

def generate(fusion: Any, models: Any, inputs: Sequence[dict[str, Any]], ids: Sequence[str], drop: Sequence[str],
             top_k: int | None, seed: int, tokens: int, batch: int = 64, step_precision: str = "float32") -> list[np.ndarray]:
    """Semantic tokens of every input row (``drop``: modalities left out), ``batch`` rows per generation.
    ``step_precision`` float32 (the proof's): a one-row chunk would otherwise take float16 steps on some CPUs,
    and the proof gives the same tokens on every machine."""
    import torch

    from bark_omni import loop as gen
    from bark_omni.modality import ModalityBundle

    from .media import stable_seed

    out: list[np.ndarray] = []
    for start in range(0, len(inputs), batch):
        chunk = inputs[start:start + batch]
        bundles = [ModalityBundle(**{m: v for m, v in row.items() if m not in drop}) for row in chunk]
        cond = (fusion.conditioning(bundles, step_precision=step_precision).for_stage("semantic")
                if any(b.present() for b in bundles) else None)
        generators = [torch.Generator().manual_seed(stable_seed(seed, "probe", i)) for i in ids[start:start + batch]]
        out += gen.generate_semantic_batch(models.text, [gen.empty_text()] * len(chunk), temp=0.7, top_k=top_k,
                                           allow_early_stop=False, max_gen_duration_s=(tokens - 0.5) / FRAME_HZ,
                                           generators=generators, conditioning=cond)
    return out


# the probe ------------------------------------------------------------------------------------------

def _embed(E: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    return E[np.asarray(tokens, dtype=np.int64).clip(0, len(E) - 1)]


def _autocorrelation(score: np.ndarray) -> np.ndarray:
    z = (score - score.mean()) / (score.std() + 1e-8)
    return np.array([float(np.mean(z[:-lag] * z[lag:])) if lag < len(z) else 0.0 for lag in range(1, LAGS + 1)])


def _frame_vote(E: np.ndarray, usable: list[tuple[np.ndarray, dict]]) -> Any:
    """The image-class reader: a per-frame classifier fitted on every frame of ``usable``; a sequence's class is
    the one with the largest summed log-probability over its frames."""
    frames = classifier().fit(np.concatenate([_embed(E, s) for s, _ in usable]),
                              np.concatenate([np.full(len(s), f["image_class"]) for s, f in usable]))
    return lambda s: frames.classes_[int(frames.predict_log_proba(_embed(E, s)).sum(0).argmax())]


def token_class(tokens: np.ndarray, classes: dict[int, int]) -> int | None:
    """The majority class among the task's class tokens (``classes``: token -> class) in ``tokens``; None when
    it holds none or two classes tie."""
    counts = np.bincount([classes[int(t)] for t in tokens if int(t) in classes], minlength=2)
    top = np.sort(counts)[::-1]
    return int(counts.argmax()) if top[0] > top[1] else None  # a tie names nothing


def probe_run(E: np.ndarray, fit: list[tuple[np.ndarray, dict]], test: list[tuple[np.ndarray, dict]],
              classes: dict[int, int] | None = None) -> dict[str, Any]:
    """Fit the classifiers on ``fit`` (sequences of val rows with their factors) and score ``test``;
    ``classes`` (the task's token -> class) adds the answer-key cross-check ``image_token_accuracy``."""
    from sklearn.metrics import roc_auc_score

    usable = [(s, f) for s, f in fit if len(s)]
    what = _frame_vote(E, usable)
    frames, beat = [], []
    for s, f in usable:
        frames.append(_embed(E, s))
        on = np.zeros(len(s), dtype=bool)
        on[[b for b in f["beats"] if b < len(s)]] = True
        beat.append(on)
    when_frame = classifier().fit(np.concatenate(frames), np.concatenate(beat))
    score = lambda s: when_frame.decision_function(_embed(E, s))  # noqa: E731
    when = classifier().fit(np.stack([_autocorrelation(score(s)) for s, _ in usable]), [f["rhythm_class"] for _, f in usable])
    hits: dict[str, list[bool]] = {"image": [], "rhythm": [], "both": [], "image_token": []}
    aucs, matches = [], []
    for s, f in test:
        hits["image_token"].append(classes is not None and token_class(s, classes) == f["image_class"])
        if not len(s):  # abstain: counts as wrong for both factors
            for key in ("image", "rhythm", "both"):
                hits[key].append(False)
            continue
        img = what(s) == f["image_class"]
        rhy = when.predict(_autocorrelation(score(s))[None])[0] == f["rhythm_class"]
        hits["image"].append(bool(img))
        hits["rhythm"].append(bool(rhy))
        hits["both"].append(bool(img and rhy))
        on = np.zeros(len(s), dtype=bool)
        on[[b for b in f["beats"] if b < len(s)]] = True
        if on.any() and not on.all():
            aucs.append(float(roc_auc_score(on, score(s))))
        matches.append(float(np.mean(np.asarray(s) == np.asarray(f["target"][: len(s)]))))
    if classes is None:
        del hits["image_token"]
    return {**{f"{k}_accuracy": float(np.mean(v)) for k, v in hits.items()},
            "beat_auc": float(np.mean(aucs)) if aucs else None, "target_match": float(np.mean(matches)) if matches else None,
            "abstained": sum(1 for s, _ in test if not len(s)), "rows": len(test)}


def interval(values: Sequence[float]) -> dict[str, Any]:
    """Mean and Student-t 95% half-width over runs."""
    from scipy import stats

    values = [v for v in values if v is not None]
    n = len(values)
    mean = float(np.mean(values)) if n else float("nan")
    half = float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {"mean": round(mean, 4), "ci95": round(half, 4), "runs": n}


# orchestration --------------------------------------------------------------------------------------

def _rows(manifest: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]


def _factors(row: dict[str, Any]) -> dict[str, Any]:
    beats = sorted({int(round(e["time_s"] * FRAME_HZ)) for e in row["control_events"]})
    return {**row["meta"], "beats": beats, "target": row["semantic"]}


def prepare(manifest: Path, models: Any) -> None:
    from .manifest import read_manifest
    from .targets import prepare_targets

    prepare_targets(read_manifest(manifest), manifest.parent / "cache", models)


def evaluate_model(adapters: Path, models: Any, host: Any, manifest: Path, spec: TaskSpec,
                   sampling_seeds: Sequence[int]) -> dict[str, Any]:
    """Probe results per condition and sampling, one entry per sampling seed."""
    from bark_omni.fusion import FusionModel

    fusion = FusionModel.from_pretrained(adapters, host, models).eval()
    rows = ProbeRows.of(models, manifest, spec)
    results: dict[str, Any] = {}
    for condition, drop in CONDITIONS.items():
        for sampling, top_k in SAMPLINGS.items():
            runs = []
            for seed in sampling_seeds if top_k is None else sampling_seeds[:SECONDARY_SEEDS]:
                runs.append(rows.read(generate(fusion, models, rows.inputs, rows.ids, drop, top_k, seed, spec.tokens)))
            results[f"{condition}/{sampling}"] = runs
    return results


@dataclass(frozen=True)
class ProbeRows:
    """A task's val and test rows as the probe generates and reads them: ``inputs`` per row (the distractor
    caption stays on), their ``ids``, the token classes and the normalised output-head rows ``E``."""

    rows: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    ids: list[str]
    classes: dict[int, int]
    E: np.ndarray

    @classmethod
    def of(cls, models: Any, manifest: Path, spec: TaskSpec) -> ProbeRows:
        from .media import load_image

        E = models.text.lm_head.weight[:10_000].detach().cpu().numpy()
        rows = [r for r in _rows(manifest) if r["split"] in ("val", "test")]
        inputs = [{"image": np.asarray(load_image(manifest.parent / r["image"])), "control_events": r["control_events"],
                   **({"style_text": r["caption"]} if spec.distractor else {})} for r in rows]
        plan = plan_task(spec)
        classes = {**{t: c for c, t in enumerate(plan.base)}, **{t: c for c, t in enumerate(plan.accent)}}
        return cls(rows, inputs, [r["id"] for r in rows], classes, E / np.linalg.norm(E, axis=1, keepdims=True))

    def read(self, sequences: Sequence[np.ndarray]) -> dict[str, Any]:
        """``probe_run`` of these rows' sequences: fitted on the val rows, scored on the test rows."""
        fit = [(s, _factors(r)) for s, r in zip(sequences, self.rows) if r["split"] == "val"]
        test = [(s, _factors(r)) for s, r in zip(sequences, self.rows) if r["split"] == "test"]
        return probe_run(self.E, fit, test, self.classes)


def encoder_ceiling(adapters: Path, models: Any, host: Any, manifest: Path) -> float:
    """Held-out accuracy of a linear classifier on the frozen image encoder's own features (fitted on the train
    rows' images, scored on the test rows'): the most the image can tell through this encoder, to read the
    image accuracies against (the random tiny CLIP hardly separates shapes; the pretrained one and real CLIP do)."""
    from bark_omni.fusion import FusionModel

    from .media import load_image

    adapter = FusionModel.from_pretrained(adapters, host, models).adapters["image"]
    rows = _rows(manifest)

    def features(split: str) -> tuple[np.ndarray, list[int]]:
        chosen = [r for r in rows if r["split"] == split]
        feats = [adapter.prepare(np.asarray(load_image(manifest.parent / r["image"]))) for r in chosen]
        return (np.stack([f.reshape(-1, f.shape[-1]).mean(0).float().numpy() for f in feats]),
                [r["meta"]["image_class"] for r in chosen])

    return held_out_accuracy(features("train"), features("test"))


def summarise(per_seed: list[dict[str, Any]], spec: TaskSpec) -> dict[str, Any]:
    """Pool the runs of every training seed: mean +- 95% interval per metric, condition and sampling."""
    keys = per_seed[0].keys()
    out: dict[str, Any] = {"chance": {"image": 1 / spec.image_classes, "rhythm": 1 / spec.rhythm_classes,
                                      "both": 1 / (spec.image_classes * spec.rhythm_classes)}}
    for key in keys:
        runs = [run for result in per_seed for run in result[key]]
        out[key] = {metric: interval([r[metric] for r in runs])
                    for metric in METRICS if metric in runs[0]}
        out[key]["abstained"] = sum(r["abstained"] for r in runs)
    return out


def run_proof(out: Path, task_seeds: Sequence[int], train_seeds: Sequence[int] = (0,), sampling_seeds: Sequence[int] = (0, 1, 2),
              steps: int = 600, routings: Sequence[str] = ("gated", "fixed"), spec_overrides: dict[str, Any] | None = None,
              ablation_train_seeds: int = 1, image_encoder: str = "pretrained", log: Any = None) -> dict[str, Any]:
    """The whole proof; writes ``out/proof.json`` and its tables (``out/proof.md``) and returns it. Routings
    after the first (ablations) train only the first ``ablation_train_seeds`` training seeds. ``image_encoder``:
    one of ``IMAGE_ENCODERS``; runs with the random one sit in their own folders (``*-random-clip``)."""
    import torch

    from bark_omni.files import atomic_output
    from bark_omni.host import Host
    from bark_omni.models import load_models

    from .encoder_pretraining import PRETRAINED_CLIP, pretrain_tiny_clip
    from .errors import ConfigError
    from .trainer import ADAPTERS_DIR, train

    if image_encoder not in IMAGE_ENCODERS:  # before anything is written
        raise ConfigError(f"--image-encoder is one of {', '.join(IMAGE_ENCODERS)}, got {image_encoder!r}")
    torch.set_num_threads(1)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    out = Path(out)
    host = Host(allow=["image", "control", "text"])
    model_dir = write_proof_model(out / "base")
    models = load_models(str(model_dir), host, "cpu")
    image_weights = pretrain_tiny_clip(out / "base" / PRETRAINED_CLIP) if image_encoder == "pretrained" else None
    run_name = lambda routing, seed: f"{routing}-seed{seed}{'-random-clip' if image_weights is None else ''}"  # noqa: E731
    previous = json.loads((out / "proof.json").read_text()) if (out / "proof.json").is_file() else {}
    report: dict[str, Any] = {"base": {"source": str(model_dir), "text_width": PROOF_WIDTH, "image_encoder": image_encoder},
                              "steps": steps,
                              "sampling_seeds": list(sampling_seeds), "tasks": previous.get("tasks", {})}
    for task_seed in task_seeds:
        spec = TaskSpec.from_seed(task_seed)
        if spec_overrides:
            spec = TaskSpec(**{**asdict(spec), **spec_overrides})
        task_dir = out / f"task-{task_seed}"
        manifest = make_task(task_dir / "data", spec)
        prepare(manifest, models)
        entry: dict[str, Any] = {"spec": asdict(spec), "image_encoder": image_encoder}
        for routing in routings:
            per_seed, validation = [], []
            seeds = train_seeds if routing == routings[0] else train_seeds[:ablation_train_seeds]
            for seed in seeds:
                run_dir = task_dir / run_name(routing, seed)
                t0 = time.perf_counter()
                if not (run_dir / ADAPTERS_DIR / "adapters.json").is_file():
                    config = proof_config(manifest, run_dir, model_dir, seed, routing, steps, spec.distractor, image_weights)
                    result = train(config, host=host)
                    validation.append(result.get("validation"))
                log(f"task {task_seed} {routing} seed {seed}: trained in {time.perf_counter() - t0:.0f}s")
                t0 = time.perf_counter()
                probed = run_dir / "probe.json"  # kept per run: a rerun reuses it
                if probed.is_file():
                    per_seed.append(json.loads(probed.read_text(encoding="utf-8")))
                else:
                    per_seed.append(evaluate_model(run_dir / ADAPTERS_DIR, models, host, manifest, spec, sampling_seeds))
                    with atomic_output(probed) as tmp:
                        tmp.write_text(json.dumps(per_seed[-1]) + "\n", encoding="utf-8")
                log(f"task {task_seed} {routing} seed {seed}: probed in {time.perf_counter() - t0:.0f}s")
            entry[routing] = {"train_seeds": list(seeds), "probe": summarise(per_seed, spec), "validation": validation}
            if "image_encoder_ceiling" not in entry:
                entry["image_encoder_ceiling"] = encoder_ceiling(task_dir / run_name(routing, seeds[0]) / ADAPTERS_DIR,
                                                                 models, host, manifest)
        report["tasks"][str(task_seed)] = entry
        with atomic_output(out / "proof.json") as tmp:
            tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        with atomic_output(out / "proof.md") as tmp:
            tmp.write_text(markdown(report) + "\n", encoding="utf-8")
    return report


def markdown(report: dict[str, Any]) -> str:
    """The proof's tables: per task and routing, each condition and sampling, mean +- 95% half-width."""
    lines = []
    fmt = lambda m: f"{m['mean']:.2f} ± {m['ci95']:.2f}" if m["runs"] > 1 else f"{m['mean']:.2f}"  # noqa: E731
    for seed, entry in report["tasks"].items():
        spec = entry["spec"]
        ceiling = entry.get("image_encoder_ceiling")
        lines += [f"**Task {seed}**: {spec['image_classes']} image classes ({spec['image_style']}), "
                  f"{spec['rhythm_classes']} rhythms ({spec['rhythm_style']})"
                  + f"; image encoder: the tiny CLIP, {entry.get('image_encoder', 'random')}"  # older reports: random
                  + (f"; linear probe on its features: {ceiling:.2f}" if ceiling is not None else ""), ""]
        for routing in ("gated", "fixed"):
            if routing not in entry:
                continue
            probe = entry[routing]["probe"]
            chance = probe["chance"]
            lines += [f"routing `{routing}`, training seeds {entry[routing]['train_seeds']}; chance: image "
                      f"{chance['image']:.2f}, rhythm {chance['rhythm']:.2f}, both {chance['both']:.2f}", "",
                      "| condition | sampling | image class | rhythm | both | beat AUC | image (answer key) | runs |",
                      "|---|---|---|---|---|---|---|---|"]
            for key, row in probe.items():
                if key == "chance":
                    continue
                condition, sampling = key.split("/")
                lines.append(f"| {condition} | {sampling} | {fmt(row['image_accuracy'])} | {fmt(row['rhythm_accuracy'])} | "
                             f"{fmt(row['both_accuracy'])} | {fmt(row['beat_auc'])} | "
                             f"{fmt(row['image_token_accuracy']) if 'image_token_accuracy' in row else '-'} | {row['image_accuracy']['runs']} |")
            lines.append("")
    return "\n".join(lines)
