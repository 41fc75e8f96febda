"""Hearing a take while it renders: the codec decoded in pieces into a growing WAV.

A request that asks for a preview (:class:`Preview`, in ``Order.preview``)
gets, as the decoder runs, one WAV per take in the engine's own cache folder
(:func:`preview_dir`) that always holds a valid file of the audio made so far.
What this module holds:

- :class:`GrowingWav`: a PCM 16-bit WAV appended piece by piece, its header
  rewritten after each piece (data first, then the header), so a reader that
  opens it anew sees a valid file and reads only what the header says;
- :class:`TakePreviews`: one request's takes decoded in pieces of about
  :data:`CHUNK_SECONDS` as their frames are made.  The codec is not causal,
  so each piece is decoded with :data:`LEFT_CONTEXT_FRAMES` of tokens before
  it, and the last :data:`HOLD_FRAMES` it decoded (which lack the frames after
  them) are held back: the next piece starts there, the first of them
  crossfaded from the old decode to the new.  Each take is then resampled to
  the take's rate by one streaming resampler (soxr, as ``engine.audio``), and
  cut at the take's length;
- :func:`remove_orphans`: the files a dead engine left (run at start).

The take that lands in the project is still decoded whole at the end, as
without a preview.  The preview leaves out what needs the whole take: the
loudness gain and peak limit (it is clipped at full scale), the loop
crossfade, tempo correction.  Figures (left context, SNR against the whole
decode, cost) are in docs/performance.md, "Preview".
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PREVIEW_FOLDER = "preview"  # under the engine's cache folder
#: The first piece is short, so that the first audio comes soon; later ones longer,
#: so that the codec's left context costs less (docs/performance.md, "Preview").
FIRST_CHUNK_SECONDS = 0.5
CHUNK_SECONDS = 1.0
#: Tokens decoded before each piece and dropped: the codec's LSTM remembers the past.
#: Measured on random EnCodec weights of the real size: a piece decoded without its
#: past is 90 dB under the signal 17 frames in, 100 dB 21 frames in; 24 for margin.
LEFT_CONTEXT_FRAMES = 24
#: Frames at a piece's right end not yet final: the codec's first convolution sees three
#: frames ahead, so the last four frames of a piece differ from the whole decode (the
#: fifth from the end is exact to float rounding).  They are held for the next piece.
HOLD_FRAMES = 5
#: The join: the first held frame (already exact) crossfades from the old decode to
#: the new one, which smooths what is left of the LSTM's memory in the new piece.
FADE_FRAMES = 1

_NAME = re.compile(r"(\d+)-[\w-]*\.wav")  # {pid}-{label}-{n}-take{i}of{n}.wav
_counter = itertools.count(1)


@dataclass(frozen=True)
class PreviewReady:
    """A take's preview grew: ``path`` now holds ``seconds`` of audio.

    Attributes:
        path: absolute path of the WAV (engine cache folder).
        seconds: audio in the file now, seconds.
        take: 1-based index of the take among the request's.
        count: the request's takes.
        final: the take's whole preview is in the file (no more will come).
    """

    path: Path
    seconds: float
    take: int
    count: int
    final: bool = False


#: Called after each piece with what is ready (from the model worker's thread).
PreviewCallback = Callable[[PreviewReady], None]


@dataclass(frozen=True)
class Preview:
    """A request's wish for a preview.

    Attributes:
        on_ready: called after each piece of each take.
        label: goes into the files' names (the request id, made file-safe here).
        folder: where the files go (the engine's ``preview_dir``).
    """

    on_ready: PreviewCallback
    label: str = "take"
    folder: Path | None = None


def preview_dir(cache_dir: Path) -> Path:
    """The engine's folder for preview files."""
    return Path(cache_dir) / PREVIEW_FOLDER


def remove_orphans(folder: Path) -> list[str]:
    """Remove preview files whose engine process is gone (never raises).

    Only names of this module's making are touched; a file of a live engine
    (another process sharing the cache) stays.

    Returns:
        The names removed.
    """
    from engine.output import dead_process_files

    removed = []
    for entry, _ in dead_process_files(folder, _NAME):
        try:
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.name)
    if removed:
        log.info("removed orphan preview file(s) in %s: %s", folder, ", ".join(removed))
    return removed


class GrowingWav:
    """A PCM 16-bit WAV that grows: every :meth:`append` leaves a valid file.

    The samples are written first, then the header's two sizes, so a reader
    that reads the header and then only that many bytes of data never reads
    past what was written.
    """

    def __init__(self, path: Path, rate: int, channels: int) -> None:
        self.path = Path(path)
        self.rate = rate
        self.channels = channels
        self.frames = 0  # samples per channel written
        self._file = open(self.path, "xb")  # noqa: SIM115  (held open while the take runs)
        self._file.write(self._header(0))
        self._file.flush()

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def _header(self, data_bytes: int) -> bytes:
        block = 2 * self.channels
        return (
            b"RIFF"
            + struct.pack("<I", 36 + data_bytes)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, self.channels, self.rate, self.rate * block, block, 16)
            + b"data"
            + struct.pack("<I", data_bytes)
        )

    def append(self, audio: np.ndarray) -> None:
        """Add float audio ``[C, T]`` (clipped to full scale) and rewrite the header."""
        if audio.shape[-1] == 0:
            return
        pcm = np.clip(np.round(audio.T * 32767.0), -32768, 32767).astype("<i2")
        self._file.seek(0, os.SEEK_END)
        self._file.write(pcm.tobytes())
        self._file.flush()
        self.frames += audio.shape[-1]
        data = self.frames * 2 * self.channels
        self._file.seek(4)
        self._file.write(struct.pack("<I", 36 + data))
        self._file.seek(40)
        self._file.write(struct.pack("<I", data))
        self._file.flush()

    def remove(self) -> None:
        """Close and delete the file (never raises)."""
        with contextlib.suppress(OSError):
            self._file.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove the preview %s: %s", self.path, exc)


def _file_safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", label)[:40] or "take"


#: Reads tokens ``[B, K, stop - start]`` of the take timeline's frames start..stop-1.
TokenReader = Callable[[int, int], Any]
#: Tokens ``[B, K, frames]`` to audio ``[B, C, samples]`` (engine.decoders.codec.decode_audio).
Codec = Callable[[Any], np.ndarray]


class TakePreviews:
    """One request's takes, decoded in pieces as their frames are made.

    The take timeline counts frames from the start of the decoded tokens (a
    continuation's prompt included); the preview covers frames ``first`` to
    ``last`` and at most ``limit`` samples at ``out_rate`` (the final take's length).
    """

    def __init__(
        self,
        preview: Preview,
        takes: int,
        codec: Codec,
        *,
        rate: int,
        out_rate: int,
        channels: int,
        hop: int,
        first: int,
        last: int,
        limit: int,
        requested: float | None = None,
    ) -> None:
        self.preview = preview
        self.codec = codec
        self.rate, self.out_rate, self.hop = rate, out_rate, hop
        self.first, self.last, self.limit = first, last, limit
        self.done = first  # frames before it are in the files
        self.tail: np.ndarray | None = None  # [B, C, FADE_FRAMES * hop] past `done`, old decode
        self.requested = time.perf_counter() if requested is None else requested
        self.first_audio_s: float | None = None
        self.joins: list[int] = []  # where pieces meet in the files, samples at out_rate
        self.codec_s = 0.0  # seconds spent decoding pieces (the preview's cost)
        self.channels = channels
        self.closed = False
        self.finished = False  # the last piece is in the files
        folder = preview.folder or Path(".")
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{os.getpid()}-{_file_safe(preview.label)}-{next(_counter)}"
        self.files: list[GrowingWav] = []
        try:
            for i in range(takes):
                path = folder.resolve() / f"{stem}-take{i + 1}of{takes}.wav"
                self.files.append(GrowingWav(path, out_rate, channels))
        except BaseException:
            self.close()
            raise
        self.resamplers = [_Resampler(rate, out_rate, channels) for _ in range(takes)]

    def advance(self, ready: int, read: TokenReader) -> None:
        """Decode the next piece if enough frames are made (``ready``: frames made so far).

        A failure here (the codec, a full disk) stops this request's preview
        with a log line; the take goes on.
        """
        if self.closed or self.finished:
            return
        ready = min(ready, self.last)
        final = ready >= self.last
        target = ready if final else ready - HOLD_FRAMES
        chunk = FIRST_CHUNK_SECONDS if self.done == self.first else CHUNK_SECONDS
        if not final and (target - self.done) * self.hop < chunk * self.rate:
            return
        try:
            self._piece(ready, target, read, final)
        except Exception as exc:  # the preview is extra: the take must not fail for it
            log.warning("the preview stopped (the take goes on): %s", exc)
            self.close()

    def _piece(self, ready: int, target: int, read: TokenReader, final: bool) -> None:
        hop = self.hop
        self.finished = final
        if target > self.done:
            start = max(0, self.done - LEFT_CONTEXT_FRAMES)
            t0 = time.perf_counter()
            audio = self.codec(read(start, ready))  # [B, C, (ready - start) * hop]
            self.codec_s += time.perf_counter() - t0
            new = audio[..., (self.done - start) * hop :]
        else:  # the end fell on the last piece's end: only the resamplers' flush is left
            new = np.zeros((len(self.files), self.channels, 0), dtype=np.float32)
        if self.tail is not None:  # the join: old decode fades out, new fades in
            fade = self.tail.shape[-1]
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
            new = new.copy()
            new[..., :fade] = self.tail * (1.0 - ramp) + new[..., :fade] * ramp
        cut = (target - self.done) * hop
        self.tail = None if final else new[..., cut : cut + FADE_FRAMES * hop]
        self.done = target
        if self.files and self.files[0].frames:
            self.joins.append(self.files[0].frames)
        for take, file in enumerate(self.files):
            out = self.resamplers[take].push(new[take, :, :cut], last=final)
            file.append(out[:, : max(0, self.limit - file.frames)])
        if self.first_audio_s is None and self.files and self.files[0].frames:
            self.first_audio_s = time.perf_counter() - self.requested
        for take, file in enumerate(self.files):
            self.preview.on_ready(
                PreviewReady(file.path, file.seconds, take + 1, len(self.files), final)
            )

    def close(self) -> None:
        """Remove the files (the take ended: done, failed or cancelled)."""
        self.closed = True
        for file in self.files:
            file.remove()


class _Resampler:
    """One take's streaming resampler (soxr, the quality of ``engine.audio.resample``)."""

    def __init__(self, rate: int, out_rate: int, channels: int) -> None:
        self.stream = None
        if rate != out_rate:
            import soxr

            self.stream = soxr.ResampleStream(rate, out_rate, channels, "float32", quality="VHQ")

    def push(self, audio: np.ndarray, last: bool) -> np.ndarray:
        """``[C, T]`` in, ``[C, T']`` out (what the stream can give so far)."""
        audio = np.asarray(audio, dtype=np.float32)
        if self.stream is None:
            return audio
        out = self.stream.resample_chunk(np.ascontiguousarray(audio.T), last=last)
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, audio.shape[0]).T)


@dataclass(frozen=True)
class Faithfulness:
    """A preview against the final take over their common start.

    Attributes:
        snr_db: signal to error ratio after matching the preview's gain to the take's.
        join_jump: the largest sample-to-sample step within a few samples of a join.
        within_jump: the largest step anywhere else.
        seconds: the common start compared.
    """

    snr_db: float
    join_jump: float
    within_jump: float
    seconds: float


def faithfulness(
    preview: np.ndarray, final: np.ndarray, rate: int, joins: list[int], near: int = 4
) -> Faithfulness:
    """How faithful a preview ``[C, T]`` is to the final take ``[C, T']`` (both at ``rate``).

    The final take carries a gain the preview does not (peak limit, loudness),
    so the preview is first scaled by the least-squares gain.  ``joins`` are
    the samples where pieces met (:attr:`TakePreviews.joins`).
    """
    n = min(preview.shape[-1], final.shape[-1])
    p, f = preview[..., :n].astype(np.float64), final[..., :n].astype(np.float64)
    gain = float((p * f).sum() / max((p * p).sum(), 1e-30))
    error = float(((f - gain * p) ** 2).sum())
    snr = 10.0 * np.log10(max(float((f * f).sum()), 1e-30) / max(error, 1e-30))
    steps = np.abs(np.diff(p, axis=-1)).max(axis=0) if n > 1 else np.zeros(0)
    at_join = np.zeros(steps.shape, dtype=bool)
    for join in joins:
        at_join[max(0, join - near) : join + near] = True
    join_jump = float(steps[at_join].max()) if at_join.any() else 0.0
    within = float(steps[~at_join].max()) if (~at_join).any() else 0.0
    return Faithfulness(round(snr, 2), join_jump, within, n / rate)
