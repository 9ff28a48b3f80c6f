"""Writing and hashing files safely: shared by the CLI, adapters, training, provenance and conversion.

* Every temporary file is a hidden ``.NAME.XXXXXXXX.tmp.EXT`` beside its target, locked (``flock``) while its
  writer lives and removed on every exit a process can see: exceptions, ``SIGINT``, ``SIGTERM`` and ``SIGHUP``
  (handlers are installed only while a temporary file exists). One left by a killed process is removed by the
  next ``write_together`` in that folder, or ignored: it is never read.
* ``write_together`` lands several files of one folder as a group (an audio file and its manifest): every
  temporary is written first, then all are renamed under a lock on the folder, so concurrent writers to one
  path never mix their files. ``save_generation`` saves a generation that way (the CLI and
  ``GenerationResult.save`` both use it).
* Out of disk space (``ENOSPC``, ``EDQUOT``, ``EFBIG``) is an ``OutputError`` with one line, and nothing stays.
"""

from __future__ import annotations

import atexit
import errno
import hashlib
import logging
import os
import re
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .errors import InvalidInputError, OutputError, PluginWarning, short_path, shorten

if TYPE_CHECKING:  # pragma: no cover
    from .specs import GenerationRequest, GenerationResult

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: no locks, the renames stay atomic
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""errno values that mean "no room": out of space, over a quota, file too large."""
TEMP_MARK = ".tmp"
STALE_AFTER_S = 2.0
"""An unlocked temporary file at least this old belongs to a dead process (a live writer holds its lock)."""
CLEANUP_SIGNALS = ("SIGTERM", "SIGHUP")
AUDIO_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}  # MP3: libsndfile >= 1.1

_live: set[str] = set()
_live_lock = threading.RLock()
_saved_handlers: dict[int, Any] = {}


# temporary files ---------------------------------------------------------------------------------------

def _temp_beside(path: Path, suffix: str) -> tuple[int, Path]:
    """A new locked, registered temporary file beside ``path``: (open fd, its path)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f"{TEMP_MARK}{suffix}", dir=path.parent)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with _live_lock:
        _live.add(tmp)
        _install_handlers()
    return fd, Path(tmp)


def _release(fd: int, tmp: Path) -> None:
    """Close and forget a temporary file, removing it if it was not moved into place."""
    try:
        os.close(fd)
    except OSError:
        pass
    _unlink(tmp)
    with _live_lock:
        _live.discard(str(tmp))
        if not _live:
            _restore_handlers()


def _unlink(path: Path | str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_live_temps() -> None:
    """Remove every temporary file this process is writing (signal handlers and exit call it)."""
    with _live_lock:
        for tmp in list(_live):
            _unlink(tmp)


def _install_handlers() -> None:
    if _saved_handlers or threading.current_thread() is not threading.main_thread():
        return
    for name in CLEANUP_SIGNALS:
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            _saved_handlers[number] = signal.signal(number, _on_signal)
        except (ValueError, OSError):  # not allowed here (embedded interpreter): exceptions still clean up
            continue


def _restore_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    while _saved_handlers:
        number, previous = _saved_handlers.popitem()
        try:
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass


def _on_signal(number: int, frame: Any) -> None:
    """Remove our temporary files, then do what the signal did before (by default: die of it)."""
    previous = _saved_handlers.get(number, signal.SIG_DFL)
    remove_live_temps()
    _restore_handlers()
    if callable(previous):
        previous(number, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)


atexit.register(remove_live_temps)


def clean_stale_temps(path: Path) -> list[Path]:
    """Remove temporary files of ``path`` left by killed processes (unlocked and older than ``STALE_AFTER_S``);
    returns what was removed. A live writer's file is locked and kept."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.[a-z0-9_]{{8}}{re.escape(TEMP_MARK)}")
    removed = []
    try:
        entries = [e for e in os.scandir(path.parent) if pattern.match(e.name) and e.path not in _live]
    except OSError:
        return removed
    for entry in entries:
        try:
            if time.time() - entry.stat().st_mtime < STALE_AFTER_S or not _unlocked(entry.path):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _unlocked(path: str) -> bool:
    if fcntl is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def _out_of_space(path: Path, exc: OSError) -> OutputError:
    why = {errno.EDQUOT: "over the disk quota", errno.EFBIG: "file too large for this disk"}.get(
        exc.errno, "out of disk space")
    return OutputError(f"{why} writing {short_path(path)}; nothing was written: free some space or write to "
                       "another folder")


@contextmanager
def atomic_output(path: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds, so a crash, a
    signal or an error never leaves a half-written file under the final name (nor the temporary file)."""
    path = Path(path)
    fd, tmp = _temp_beside(path, suffix if suffix is not None else path.suffix)
    try:
        yield tmp
        _publish_mode(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if disk_full(exc):
            raise _out_of_space(path, exc) from None
        raise
    finally:
        _release(fd, tmp)


def _publish_mode(tmp: Path) -> None:
    """mkstemp makes files 0600; a published file gets the usual mode (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


# files that land together ------------------------------------------------------------------------------

class Staged:
    """Files of one folder written to temporary files, to be moved into place together by ``commit``."""

    def __init__(self) -> None:
        self._files: list[tuple[int, Path, Path]] = []  # (fd, temporary, final path)
        self.folder: Path | None = None

    def add(self, path: Path, data: bytes) -> None:
        """Write ``data`` (fsynced) to a temporary file for ``path``; every path must share one folder."""
        path = Path(path)
        if self.folder is None:
            self.folder = path.parent
        elif path.parent != self.folder:
            raise ValueError(f"{path} is not in {self.folder}: files written together share one folder")
        clean_stale_temps(path)
        fd, tmp = _temp_beside(path, path.suffix)
        self._files.append((fd, tmp, path))
        _write_all(fd, data)

    def commit(self) -> None:
        """Move every file into place under the folder's lock; if one move fails, none of them stays."""
        with _folder_lock(self.folder):
            moved = []
            try:
                for _, tmp, path in self._files:
                    _publish_mode(tmp)
                    _move(tmp, path)
                    moved.append(path)
            except BaseException:
                for _, _, path in self._files:  # a new file beside an old one would be a mixed pair
                    _unlink(path)
                raise

    def discard(self) -> None:
        while self._files:
            fd, tmp, _ = self._files.pop()
            _release(fd, tmp)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte and flush it to the disk (so that a full disk shows here, not after the rename)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _move(source: Path, target: Path) -> None:
    os.replace(source, target)


@contextmanager
def write_together() -> Iterator[Staged]:
    """``with write_together() as files: files.add(path, data); ...; files.commit()``. Leaving the block
    without ``commit`` (an error, a signal) removes every temporary file; out of space is an ``OutputError``."""
    staged = Staged()
    try:
        yield staged
    except OSError as exc:
        if disk_full(exc):
            raise _out_of_space(staged._files[-1][2] if staged._files else Path("output"), exc) from None
        raise
    finally:
        staged.discard()


@contextmanager
def _folder_lock(folder: Path | None) -> Iterator[None]:
    """An exclusive ``flock`` on the folder itself, held while a group of files is renamed into it."""
    if fcntl is None or folder is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# audio -------------------------------------------------------------------------------------------------

def audio_format(path: Path) -> str:
    """soundfile's format name for an output path (``.wav``, ``.flac``, ``.ogg``)."""
    try:
        return AUDIO_FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise InvalidInputError(f"cannot write {shorten(str(path))}: use a {', '.join(AUDIO_FORMATS)} file name") from None


def encode_audio(audio: Any, sample_rate: int, fmt: str = "WAV") -> bytes:
    """The bytes of an audio file (16-bit PCM for WAV) holding mono ``audio`` at ``sample_rate``."""
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(audio), sample_rate, subtype="PCM_16" if fmt == "WAV" else None, format=fmt)
    return buffer.getvalue()


def write_audio(path: Path, audio: Any, sample_rate: int) -> Path:
    """Write an audio file atomically (format from the suffix: WAV, FLAC, OGG)."""
    path = Path(path)
    data = encode_audio(audio, sample_rate, audio_format(path))
    with write_together() as files:
        files.add(path, data)
        files.commit()
    return path


def save_generation(path: Path, result: GenerationResult, *, host: Any, request: GenerationRequest | None = None) -> Path:
    """Write a generation's audio and the files plugins keep beside it (the provenance manifest, through the
    ``sidecar_files`` hook) as one group, then fire ``audio_written``, with ``host``'s plugins. The CLI's
    ``generate`` and ``GenerationResult.save`` both come here (through ``Host.save_result``). The manifest hashes the bytes written here."""
    import warnings

    path = Path(path)
    request = request if request is not None else getattr(result, "request", None)
    if request is None:
        raise InvalidInputError("this result does not know its request; pass save(path, request=...)")
    from .validate import check_output_path

    check_output_path(path)
    if host.watermarkers and "watermark" not in result.extras and not getattr(result, "safety_notes", None):
        raise InvalidInputError("this result was not watermarked (an unfinished segment, or made by hand), and "
                                "nothing says why; save the finished generation that bark_omni.run returns")
    data = encode_audio(result.audio, result.sample_rate, audio_format(path))
    result.extras.setdefault("plugins", sorted(host.plugins))
    with write_together() as files:
        files.add(path, data)  # the audio's temporary file exists while plugins build their files
        digest = hashlib.sha256(data).hexdigest()
        for extra in host.pm.hook.sidecar_files(path=path, audio_sha256=digest, request=request, result=result):
            for name, blob in (extra or {}).items():
                if not isinstance(name, str) or Path(name).name != name or name in ("", ".", "..", path.name):
                    warnings.warn(f"a sidecar_files plugin returned {shorten(name)}, not a file name beside "
                                  f"{path.name}; skipped", PluginWarning, stacklevel=2)
                    continue
                files.add(path.with_name(name), bytes(blob))
        files.commit()
    host.pm.hook.audio_written(path=path, request=request, result=result)
    return path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_dir() -> Path:
    """bark-omni's per-user configuration folder: ``$XDG_CONFIG_HOME/bark-omni`` (default ``~/.config/bark-omni``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "bark-omni"


def write_secret(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` readable by its owner only (0600), atomically and only if it does not exist
    yet: returns False (and writes nothing) when another process created it first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # fails if the file exists: never overwrite a key someone already uses
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)
