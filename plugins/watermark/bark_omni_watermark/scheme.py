"""A keyed patchwork watermark on STFT band energies in 128 ms cells, with a 16-bit payload and a calibrated
detector (scheme ``bark-omni-patchwork-v3``).

Embedding multiplies the short-time spectrum by ``exp(+-ALPHA)`` on a grid of cells: 62.5 Hz bands from 562.5 Hz
to 5 kHz by ``CELL_S`` (128 ms) in time. The embedder's STFT has a 64 ms window (15.6 Hz bins), so a harmonic's
main lobe stays inside one band: v2 used a 32 ms window whose lobe straddled two bands of opposite gain, which
cancelled the mark on voices with sparse harmonics (high female voices) for most keys. Cells of 128 ms survive a
phase vocoder (85 ms frames: pitch shift, tempo change) that smeared v2's 32 ms tiles away. The cell signs come
from a PRNG keyed by HMAC(key); the pattern repeats every ``PERIOD_TILES`` cells (2.05 s), so a crop or a shift
only moves its phase. A third of the cells is a payload-independent *sync* part; the rest carries the 16 bits as
a 32-bit Reed-Muller RM(2,5) codeword (soft maximum-likelihood decoding).

Detection (at 16 kHz, whatever the input rate) takes the residual of the log band energies (minus what is smooth
in time and what is smooth across bands, so speech, gain, EQ and filtering cancel), divides it by its local mean
square (cells weighted by reliability) and searches, exhaustively, every phase offset under three families of
(time scale, frequency scale) hypotheses: speed changes (both together, as resampling does), pitch shifts
(frequency only, duration kept, +-6.5 %) and tempo changes (time only, pitch kept, +-12 %). For one hypothesis the
statistic is built from self-normalised Rademacher sums whose law under the null (audio not marked with this key)
is known whatever the audio, weights included (numerical convolution, saddlepoint far in the tail); the p-value
is 1 - (1 - p1)^K over the K hypotheses searched (Sidak: conservative, since the hypotheses are correlated).
bench/watermark_calibration.py measures the false-positive rate on unmarked speech against many unrelated keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np
from bark_omni.audio import resample

from .keys import key_id, keyed_rng

SCHEME = "bark-omni-patchwork-v3"
PAYLOAD_BITS = 16
CODE_BITS = 32  # the payload is sent as a Reed-Muller RM(2,5) codeword: [32, 16, 8], decoded by soft ML
ALPHA = 0.13  # log-amplitude step per cell (+-1.13 dB): SNR about 22 dB on speech
F_LO, BAND_HZ, N_BANDS = 562.5, 62.5, 71  # 562.5 Hz .. 5 kHz in 62.5 Hz bands
EMBED_WIN_S, EMBED_HOP_S = 0.064, 0.016  # the embedder's STFT: 15.6 Hz bins, so a harmonic stays inside one band
DETECT_SR = 16000
DETECT_WIN, DETECT_HOP = 1024, 256  # the detector's STFT at 16 kHz: 64 ms window, 16 ms hop
HOP_S = DETECT_HOP / DETECT_SR
TILE_FRAMES, PERIOD_TILES = 8, 16  # 128 ms cells, pattern period 2.05 s
CELL_S = TILE_FRAMES * HOP_S
TILE_GUARD = 0  # detector frames skipped at each end of a cell
SYNC_FRACTION = 1 / 3
MAX_SPEED_CHANGE = 0.06  # resampling speed changes (time and pitch together)
MAX_PITCH_CHANGE = 0.065  # pitch shifts with the duration kept (+-1 semitone is 5.9 %)
MAX_TEMPO_CHANGE = 0.12  # tempo changes with the pitch kept (+-10 %)
FREQ_STEP = 0.003  # frequency-scale step: a quarter band at 5 kHz
MAX_TIME_STEP = 0.02
RESIDUAL_TIME_TILES, RESIDUAL_BANDS = 3, 5  # smoothing lengths of the residual's two high-pass filters
P_VALUE_EFFICIENCY = 1.0  # Bonferroni/Sidak over every hypothesis: conservative
RESIDUAL_CLIP = 3.0
WEIGHT_TILES, WEIGHT_BANDS, WEIGHT_FLOOR = 3, 5, 0.01  # the residual is divided by its local mean square
DYNAMIC_RANGE_DB = 50.0


@dataclass(frozen=True)
class Pattern:
    """The keyed cell signs (PERIOD_TILES x N_BANDS), which cells are sync, and which bit each other cell carries."""

    signs: np.ndarray
    bit_of: np.ndarray  # -1 for sync cells, else the code bit index

    @property
    def sync_mask(self) -> np.ndarray:
        return self.bit_of < 0

    def embedded(self, payload: int) -> np.ndarray:
        """Cell signs with the payload's codeword applied (what the embedder writes)."""
        bits = codeword(payload)
        flip = np.where(self.bit_of < 0, 1.0, np.where(bits[np.maximum(self.bit_of, 0)] > 0, 1.0, -1.0))
        return self.signs * flip


def payload_bits(payload: int) -> np.ndarray:
    if not isinstance(payload, (int, np.integer)) or not 0 <= int(payload) < 2**PAYLOAD_BITS:
        from bark_omni.errors import InvalidInputError

        raise InvalidInputError(f"the watermark payload must be an integer in 0..{2**PAYLOAD_BITS - 1}, got {payload!r}")
    return np.array([(int(payload) >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=np.int64)


@lru_cache(maxsize=1)
def _rm25() -> np.ndarray:
    """The generator matrix of the Reed-Muller code RM(2,5): 16 x 32 over GF(2) (monomials of degree <= 2)."""
    points = np.array([[(p >> k) & 1 for k in range(5)] for p in range(32)], dtype=np.int64)
    rows = [np.ones(32, dtype=np.int64)] + [points[:, i] for i in range(5)]
    rows += [points[:, i] * points[:, j] for i in range(5) for j in range(i + 1, 5)]
    return np.array(rows)


def codeword(payload: int) -> np.ndarray:
    """The 32 code bits (0/1) that carry a 16-bit payload."""
    return payload_bits(payload) @ _rm25() % 2


@lru_cache(maxsize=1)
def _all_codewords() -> np.ndarray:
    """Every codeword as +-1 (65536 x 32, float32): soft maximum-likelihood decoding is one product."""
    messages = (np.arange(2**PAYLOAD_BITS)[:, None] >> (PAYLOAD_BITS - 1 - np.arange(PAYLOAD_BITS))) & 1
    return (2.0 * (messages @ _rm25() % 2) - 1.0).astype(np.float32)


def decode(soft: np.ndarray) -> int:
    """The payload whose codeword best matches the 32 soft bit correlations (ML under Gaussian noise)."""
    return int(np.argmax(_all_codewords() @ np.asarray(soft, dtype=np.float32)))


def make_pattern(key: bytes) -> Pattern:
    rng = keyed_rng(key, SCHEME + "/pattern")
    shape = (PERIOD_TILES, N_BANDS)
    signs = rng.choice(np.array([-1.0, 1.0]), size=shape)
    order = rng.permutation(signs.size)
    n_sync = int(round(signs.size * SYNC_FRACTION))
    bit_of = np.full(signs.size, -1, dtype=np.int64)
    bit_of[order[n_sync:]] = np.arange(signs.size - n_sync) % CODE_BITS
    return Pattern(signs=signs, bit_of=bit_of.reshape(shape))


def band_of(freqs_hz: np.ndarray) -> np.ndarray:
    """The band of each frequency (negative below ``F_LO``, ``N_BANDS`` or more above the top band)."""
    return np.floor((np.asarray(freqs_hz, dtype=np.float64) - F_LO) / BAND_HZ).astype(np.int64)


def _mono(audio: np.ndarray) -> np.ndarray:
    from bark_omni.errors import InvalidInputError

    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:  # (samples, channels) as soundfile reads it
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
    if x.ndim != 1:
        raise InvalidInputError(f"audio must be mono (samples,) or (samples, channels), got shape {np.shape(audio)}")
    if not np.all(np.isfinite(x)):
        raise InvalidInputError("audio contains NaN or infinite samples; clean it before watermarking or detecting")
    return x


def _check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
        from bark_omni.errors import InvalidInputError

        raise InvalidInputError(f"sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
    return int(sample_rate)


def embed(audio: np.ndarray, sample_rate: int, key: bytes, payload: int) -> np.ndarray:
    """Return ``audio`` with the watermark (same length and dtype). Only in-band STFT cells change."""
    from scipy.signal import istft, stft

    sr = _check_rate(sample_rate)
    x = _mono(audio)
    dtype = np.asarray(audio).dtype if np.issubdtype(np.asarray(audio).dtype, np.floating) else np.float32
    n_win = int(round(EMBED_WIN_S * sr))
    hop = int(round(EMBED_HOP_S * sr))
    if len(x) < n_win:
        return np.asarray(audio, dtype=dtype).copy()
    freqs, times, spec = stft(x, fs=sr, window="hann", nperseg=n_win, noverlap=n_win - hop, boundary="zeros", padded=True)
    bands = band_of(freqs)
    in_band = (bands >= 0) & (bands < N_BANDS)
    tiles = np.floor(times / CELL_S + 1e-9).astype(np.int64) % PERIOD_TILES
    signs = make_pattern(key).embedded(payload)
    gain = np.ones(spec.shape)
    gain[in_band] = np.exp(ALPHA * signs[tiles][:, bands[in_band]]).T
    _, delta = istft(spec * (gain - 1.0), fs=sr, window="hann", nperseg=n_win, noverlap=n_win - hop, boundary=True)
    return (x + delta[: len(x)]).astype(dtype)


@dataclass
class Analysis:
    """The key-independent part of detection: for every (time scale, frequency scale) hypothesis, the residual
    folded onto one pattern period."""

    speeds: np.ndarray  # time scale of each hypothesis
    folded: np.ndarray  # (n_scales, PERIOD_TILES * TILE_FRAMES, N_BANDS)
    duration_s: float
    pitches: np.ndarray | None = None  # frequency scale of each hypothesis (None: the same as speeds)

    @property
    def hypotheses(self) -> int:
        return len(self.speeds) * self.folded.shape[1]


@dataclass
class Detection:
    """What ``detect_watermark`` returns. ``detected`` means p_value <= the threshold asked for (default 1e-3)."""

    score: float
    p_value: float
    payload: int | None
    detected: bool
    raw_payload: int = 0  # the bits read at the best hypothesis, even when nothing was detected
    bit_confidence: list[float] = field(default_factory=list)
    speed: float = 1.0  # time scale of the best hypothesis
    pitch: float = 1.0  # frequency scale of the best hypothesis
    offset_s: float = 0.0
    key_id: str = ""
    scheme: str = SCHEME
    key_public: bool = False  # the matching key is the public demo key: the mark proves nothing about origin
    keys_tried: int = 1

    def as_dict(self) -> dict:
        return {"detected": self.detected, "score": round(self.score, 4), "p_value": self.p_value,
                "payload": self.payload, "payload_hex": None if self.payload is None else f"0x{self.payload:04x}",
                "speed": round(self.speed, 4), "pitch": round(self.pitch, 4), "offset_s": round(self.offset_s, 4), "key_id": self.key_id,
                "scheme": self.scheme, "key_public": self.key_public,
                "keys_tried": self.keys_tried, "min_bit_confidence": round(min(self.bit_confidence), 3) if self.bit_confidence else None}


def _symmetric_grid(limit: float, step: float) -> np.ndarray:
    n = int(math.ceil(limit / step - 1e-9))
    return 1.0 + step * np.arange(-n, n + 1)


def _time_step(duration_s: float) -> float:
    """Time-scale step fine enough that the worst mismatch drifts a quarter cell over the clip."""
    return min(MAX_TIME_STEP, CELL_S / (2.0 * max(duration_s, 1e-3)))


def speed_grid(duration_s: float) -> np.ndarray:
    """Speed factors (time and frequency scaled together) to try."""
    return _symmetric_grid(MAX_SPEED_CHANGE, _time_step(duration_s))


def scale_grid(duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Every (time scale, frequency scale) hypothesis: resampling speed changes (both together, stepped finely
    enough for both), pitch shifts (time scale 1) and tempo changes (frequency scale 1), without repeats."""
    step = _time_step(duration_s)
    pairs = [(float(t), float(t)) for t in _symmetric_grid(MAX_SPEED_CHANGE, min(step, FREQ_STEP))]
    if MAX_PITCH_CHANGE > 0:
        pairs += [(1.0, float(f)) for f in _symmetric_grid(MAX_PITCH_CHANGE, FREQ_STEP)]
    if MAX_TEMPO_CHANGE > 0:
        pairs += [(float(t), 1.0) for t in _symmetric_grid(MAX_TEMPO_CHANGE, step)]
    unique = sorted(set((round(t, 9), round(f, 9)) for t, f in pairs))
    return np.array([t for t, _ in unique]), np.array([f for _, f in unique])


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    return resample(x, sr, target, np.float64)


def analyze(audio: np.ndarray, sample_rate: int) -> Analysis:
    """Compute the log band-energy residual at 16 kHz and fold it onto the pattern period for every hypothesis."""
    from scipy.signal import stft

    sr = _check_rate(sample_rate)
    x = _resample(_mono(audio), sr, DETECT_SR)
    period = PERIOD_TILES * TILE_FRAMES
    duration = len(x) / DETECT_SR
    times, freqs = scale_grid(duration)
    folded = np.zeros((len(times), period, N_BANDS))
    if len(x) < DETECT_WIN * 2:
        return Analysis(times, folded, duration, freqs)
    freqs_hz, _, spec = stft(x, fs=DETECT_SR, window="hann", nperseg=DETECT_WIN, noverlap=DETECT_WIN - DETECT_HOP,
                             boundary="zeros", padded=True)
    widest = 1.0 + max(MAX_SPEED_CHANGE, MAX_PITCH_CHANGE)
    keep = (freqs_hz >= F_LO / widest - 2 * BAND_HZ) & (freqs_hz <= (F_LO + N_BANDS * BAND_HZ) * widest + 2 * BAND_HZ)
    freqs_hz = freqs_hz[keep]
    power = np.abs(spec[keep].T) ** 2  # (frames, bins)
    frame_energy = power.sum(axis=1)
    loud = np.percentile(frame_energy, 95) if len(frame_energy) else 0.0
    if loud <= 0:
        return Analysis(times, folded, duration, freqs)
    active = (frame_energy > loud * 10 ** (-DYNAMIC_RANGE_DB / 10)).astype(np.float64)[:, None]
    frames = np.arange(power.shape[0])
    residuals: dict[float, np.ndarray] = {}
    for i, (t, f) in enumerate(zip(times, freqs)):
        if f not in residuals:  # one residual per frequency scale serves every time scale
            residuals[f] = _residual(power, freqs_hz, f, loud) * active
        folded[i] = _fold(residuals[f], np.rint(frames * t).astype(np.int64) % period, period)
    return Analysis(times, folded, duration, freqs)


def _residual(power: np.ndarray, freqs_hz: np.ndarray, scale: float, loud: float) -> np.ndarray:
    """Log band energies under a frequency scale, minus what is smooth in time and across bands."""
    bands = band_of(freqs_hz / scale)
    ok = (bands >= 0) & (bands < N_BANDS)
    assign = np.zeros((len(freqs_hz), N_BANDS))
    assign[np.nonzero(ok)[0], bands[ok]] = 1.0
    level = np.log(power @ assign + loud * 1e-9)  # (frames, N_BANDS): log band energy
    residual = np.clip(_double_highpass(level), -RESIDUAL_CLIP, RESIDUAL_CLIP)
    return residual / (_local_mean_square(residual) + WEIGHT_FLOOR)


def _local_mean_square(residual: np.ndarray) -> np.ndarray:
    """The residual's power around each frame and band: dividing by it weights each cell by its reliability
    (inverse noise variance), so loud transients and near-silent bands stop dominating the sums."""
    from scipy.ndimage import uniform_filter

    return uniform_filter(residual**2, size=(WEIGHT_TILES * TILE_FRAMES, WEIGHT_BANDS), mode="nearest")


def _fold(residual: np.ndarray, phase: np.ndarray, period: int) -> np.ndarray:
    """Sum the residual's frames by their phase in the pattern period."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(len(phase)), (phase, np.arange(len(phase)))), shape=(period, len(phase)))
    return np.asarray(onehot @ residual)


def _double_highpass(level: np.ndarray) -> np.ndarray:
    """Remove what is smooth in time (the spectral envelope) and what is smooth across bands (syllable loudness,
    onsets): L - T(L) - F(L) + TF(L). The cell pattern changes every cell and band, so it survives; the speech
    around it mostly cancels."""
    from scipy.ndimage import uniform_filter1d

    size_t = RESIDUAL_TIME_TILES * TILE_FRAMES
    time_avg = uniform_filter1d(level, size=size_t, axis=0, mode="nearest")
    band_avg = uniform_filter1d(level, size=RESIDUAL_BANDS, axis=1, mode="nearest")
    both = uniform_filter1d(band_avg, size=size_t, axis=0, mode="nearest")
    return level - time_avg - band_avg + both


def _tile_sums(folded: np.ndarray) -> np.ndarray:
    """For every scale and phase offset, the residual summed per pattern cell (less ``TILE_GUARD`` frames at each
    end, which straddle two cells): (scales, offsets, tiles, bands)."""
    n_scales, period, n_bands = folded.shape
    tripled = np.concatenate([folded, folded, folded], axis=1)
    cum = np.concatenate([np.zeros((n_scales, 1, n_bands)), np.cumsum(tripled, axis=1)], axis=1)
    offsets = np.arange(period)[:, None]
    starts = (np.arange(PERIOD_TILES)[None, :] * TILE_FRAMES - offsets) % period + period
    return np.ascontiguousarray(cum[:, starts + TILE_FRAMES - TILE_GUARD] - cum[:, starts + TILE_GUARD])


@dataclass(frozen=True)
class _Groups:
    """The pattern's tiles grouped as sync + one group per payload bit, with the weights of the score."""

    signs: np.ndarray  # (groups, PERIOD_TILES, N_BANDS): tile signs, 0 outside the group
    weights: np.ndarray  # (groups,): sqrt(share of tiles), so the weights' squares sum to 1


def _groups(pattern: Pattern) -> _Groups:
    masks = [pattern.bit_of < 0] + [pattern.bit_of == bit for bit in range(CODE_BITS)]
    signs = np.stack([pattern.signs * m for m in masks])
    counts = np.array([m.sum() for m in masks], dtype=np.float64)
    return _Groups(signs=signs, weights=np.sqrt(counts / counts.sum()))


def _statistic(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sync correlation plus the payload correlations with their best signs (the payload is unknown)."""
    return weights[0] * z[..., 0] + (weights[1:] * np.abs(z[..., 1:])).sum(axis=-1)


@lru_cache(maxsize=8)
def _null_tail(weights: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """log P(statistic >= u) without the mark, on a grid of u: the density of w0*N(0,1) + sum wk*|N(0,1)| by
    numerical convolution (exact up to the normal approximation of each group's correlation)."""
    from scipy.signal import fftconvolve
    from scipy.stats import halfnorm, norm

    du = 0.002
    grid = np.arange(-12.0, 16.0, du)
    density = norm.pdf(np.arange(-10.0, 10.0, du), scale=weights[0])
    start = -10.0
    for w in weights[1:]:
        half = halfnorm.pdf(np.arange(0.0, 10.0 * w, du), scale=w)
        density = fftconvolve(density, half)[: len(density) + len(half) - 1]
    density = np.clip(density, 0.0, None)
    density /= density.sum()
    support = start + du * np.arange(len(density))
    tail = np.cumsum(density[::-1])[::-1]
    log_tail = np.log(np.clip(np.interp(grid, support, tail, left=1.0, right=0.0), 1e-300, None))
    return grid, log_tail


def _saddlepoint_log_tail(u: float, weights: tuple[float, ...]) -> float:
    """log P(statistic >= u) far in the tail (Lugannani-Rice), where the convolution table loses precision."""
    from scipy.optimize import brentq
    from scipy.special import log_ndtr, ndtr

    w0, wk = weights[0], np.array(weights[1:])

    def mills(x: np.ndarray) -> np.ndarray:  # phi(x) / Phi(x), stable for any x
        return np.exp(-0.5 * x * x - 0.5 * math.log(2 * math.pi) - log_ndtr(x))

    def cgf(t: float) -> float:
        return 0.5 * t * t * (w0 * w0 + float((wk * wk).sum())) + float((math.log(2.0) + log_ndtr(t * wk)).sum())

    def d1(t: float) -> float:
        return t * (w0 * w0 + float((wk * wk).sum())) + float((wk * mills(t * wk)).sum())

    def d2(t: float) -> float:
        m = mills(t * wk)
        return w0 * w0 + float((wk * wk * (1.0 - t * wk * m - m * m)).sum())

    theta = brentq(lambda t: d1(t) - u, 1e-9, max(4.0 * u, 10.0))
    r = math.sqrt(max(2.0 * (theta * u - cgf(theta)), 1e-300))
    lam = theta * math.sqrt(d2(theta))
    tail = (1.0 - ndtr(r)) + math.exp(-0.5 * r * r) / math.sqrt(2 * math.pi) * (1.0 / lam - 1.0 / r)
    if tail > 0:
        return math.log(tail)
    return float(log_ndtr(-r))  # beyond double precision of the correction: the leading term


def _per_hypothesis_log_p(statistic: float, weights: np.ndarray) -> float:
    key = tuple(float(w) for w in np.round(weights, 6))
    grid, log_tail = _null_tail(key)
    value = float(np.interp(statistic, grid, log_tail))
    if value > -20.0:
        return value
    return _saddlepoint_log_tail(statistic, key)


def p_value(log_p1: float, hypotheses: int) -> float:
    """Probability that unmarked audio scores at least this high anywhere in the search of ``hypotheses``."""
    k = max(1.0, P_VALUE_EFFICIENCY * hypotheses)
    p1 = math.exp(log_p1)
    return float(min(1.0, -math.expm1(k * math.log1p(-min(p1, 1.0 - 1e-16))) if p1 > 1e-300 else 0.0))


def _score_of(log_p1: float) -> float:
    """The per-hypothesis tail probability as a one-sided Gaussian z (a familiar scale for the score)."""
    from scipy.special import ndtri

    if log_p1 > -700:
        return float(-ndtri(min(math.exp(log_p1), 0.5))) if log_p1 < math.log(0.5) else 0.0
    return math.sqrt(-2.0 * log_p1)


SCALE_CHUNK = 24  # scale hypotheses whose tile sums are held at once (bounds memory)


def _best_all(folded: np.ndarray, groups: Sequence[_Groups]) -> list[tuple[float, int, np.ndarray]]:
    """For each key's groups, the best statistic over EVERY hypothesis (exhaustive: the true alignment cannot be
    skipped), its flat index (scale * period + offset) and its group correlations. The key-independent tile sums
    are computed once per chunk of scales and shared by all keys."""
    period = folded.shape[1]
    best = [(-np.inf, 0, np.zeros(len(g.weights))) for g in groups]
    signs = [g.signs.reshape(len(g.weights), -1) for g in groups]
    for start in range(0, len(folded), SCALE_CHUNK):
        flat = _tile_sums(folded[start:start + SCALE_CHUNK]).reshape(-1, PERIOD_TILES * N_BANDS)
        squares = flat**2
        for n, (g, sg) in enumerate(zip(groups, signs)):
            num = flat @ sg.T
            den = np.sqrt(squares @ np.abs(sg).T)
            z = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
            stat = _statistic(z, g.weights)
            k = int(np.argmax(stat))
            if stat[k] > best[n][0]:
                best[n] = (float(stat[k]), start * period + k, z[k])
    return best


def scores(analysis: Analysis, keys: Sequence[bytes]) -> np.ndarray:
    """p-value of each key for one analysis (measures the null distribution cheaply: one analysis, many keys)."""
    groups = [_groups(make_pattern(key)) for key in keys]
    found = _best_all(analysis.folded, groups)
    return np.array([p_value(_per_hypothesis_log_p(stat, g.weights), analysis.hypotheses)
                     for (stat, _, _), g in zip(found, groups)])


def detect(audio: np.ndarray, sample_rate: int, key: bytes, threshold: float = 1e-3,
           analysis: Analysis | None = None) -> Detection:
    """Score (the per-hypothesis tail probability as a Gaussian z), calibrated p-value and decoded payload."""
    analysis = analysis or analyze(audio, sample_rate)
    groups = _groups(make_pattern(key))
    stat, index, z = _best_all(analysis.folded, [groups])[0]
    s, o = divmod(index, analysis.folded.shape[1])
    log_p1 = _per_hypothesis_log_p(stat, groups.weights)
    p = p_value(log_p1, analysis.hypotheses)
    bits = z[1:]
    payload = decode(bits)
    pitches = analysis.pitches if analysis.pitches is not None else analysis.speeds
    return Detection(score=_score_of(log_p1), p_value=p, payload=payload if p <= threshold else None,
                     detected=p <= threshold, raw_payload=payload, bit_confidence=[float(abs(b)) for b in bits],
                     speed=float(analysis.speeds[s]), pitch=float(pitches[s]), offset_s=float(o * HOP_S),
                     key_id=key_id(key))


def detect_keys(audio: np.ndarray, sample_rate: int, keys: Sequence[object], threshold: float = 1e-3) -> Detection:
    """``detect`` for several keys (``WatermarkKey`` records) on one analysis: the best key's detection, with a
    p-value corrected for the number of keys tried (Sidak), so trying more keys does not raise the FPR."""
    from dataclasses import replace

    from bark_omni.errors import InvalidInputError

    if not keys:
        raise InvalidInputError("no watermark key to try; pass --key/--key-file or set BARK_OMNI_WATERMARK_KEY")
    analysis = analyze(audio, sample_rate)
    found = [(detect(audio, sample_rate, k.secret, threshold=1.0, analysis=analysis), k) for k in keys]
    best, key = min(found, key=lambda pair: pair[0].p_value)
    p = float(-math.expm1(len(keys) * math.log1p(-min(best.p_value, 1.0 - 1e-16)))) if best.p_value > 0 else 0.0
    detected = p <= threshold
    return replace(best, p_value=p, detected=detected, payload=best.raw_payload if detected else None,
                   key_public=bool(getattr(key, "public", False)), keys_tried=len(keys))
