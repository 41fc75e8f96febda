"""Fetching one checkpoint from the Hugging Face Hub, with one progress figure for it all.

``snapshot_download`` draws a bar per file plus aggregate bars whose total grows
as files start.  A producer waiting for a 2 GB checkpoint wants one figure:
bytes done of the checkpoint's total.  So the file listing comes first (the
Hub's model info with file sizes), the total is known before the first byte,
and each file goes through ``hf_hub_download`` (the Hugging Face cache layout,
resumes, Xet and plain HTTP alike), its progress folded into that one figure.

Only the files matching the caller's patterns are fetched (the loader's:
never the pickle duplicates of the weights).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

#: ``progress(done_bytes, total_bytes)``, called as bytes arrive (from this thread).
ByteProgress = Callable[[int, int], None]
#: Seconds the file listing may take to answer: offline it fails at once
#: (refused, or no DNS); this bounds a network that swallows packets.
LISTING_TIMEOUT_S = 10.0


def fetch_snapshot(
    repo_id: str,
    patterns: list[str],
    progress: ByteProgress | None = None,
    revision: str = "main",
) -> Path:
    """Download the files of ``repo_id`` matching ``patterns`` into the Hugging Face cache.

    The smallest file is fetched first at ``revision`` (that records the
    revision's commit in the cache, as ``snapshot_download`` does), the rest
    at that commit, smallest first, so all come from one commit.  Files
    already in the cache are not fetched again.

    Returns:
        The snapshot folder (``.../snapshots/<commit>``).

    Raises:
        Whatever huggingface_hub raises (no network, no such repo, offline
        mode, a file cut short), and ValueError if no file matches.
    """
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.utils import filter_repo_objects

    info = HfApi().model_info(
        repo_id, revision=revision, files_metadata=True, timeout=LISTING_TIMEOUT_S
    )
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
    names = sorted(filter_repo_objects(list(sizes), allow_patterns=patterns), key=sizes.__getitem__)
    if not names:
        raise ValueError(
            f"{repo_id} has no files matching {', '.join(patterns)} (it has: "
            f"{', '.join(sorted(sizes)) or 'none'})"
        )
    tally = _Tally(sum(sizes[name] for name in names), progress)
    at = revision
    folder: Path | None = None
    for name in names:
        path = Path(hf_hub_download(repo_id, name, revision=at, tqdm_class=tally.bar(sizes[name])))
        tally.finished(sizes[name])
        if folder is None:  # .../snapshots/<commit>/<name>
            folder = path.parents[len(Path(name).parts) - 1]
            at = folder.name
    assert folder is not None
    return folder


class _Tally:
    """Bytes done of the whole download: the finished files plus the one under way."""

    def __init__(self, total: int, progress: ByteProgress | None) -> None:
        self.total = total
        self.done = 0  # bytes of the finished files
        self.progress = progress
        self.report(0)

    def report(self, bytes_now: int) -> None:
        if self.progress is not None:
            self.progress(self.done + bytes_now, self.total)

    def finished(self, size: int) -> None:
        self.done += size
        self.report(0)

    def bar(self, size: int) -> Any:
        """The ``tqdm_class`` for one file of ``size`` bytes."""
        return _file_bar(lambda n: self.report(max(0, min(n, size))))


def _file_bar(report: Callable[[int], None]) -> Any:
    """A stand-in for ``hf_hub_download``'s ``tqdm_class`` that reports the file's bytes.

    huggingface_hub builds a bar of a class that is not its own tqdm by
    calling it with keyword arguments only, and then calls ``update`` with the
    bytes written (negative after a resume that restarts), and on Xet
    downloads ``update_transfer`` with the network bytes, which are not the
    file's (deduplicated, compressed) and are ignored here.
    """

    class FileBar:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.n = 0
            self.total = kwargs.get("total")
            self.update(kwargs.get("initial") or 0)

        def update(self, n: float | None = 1) -> None:
            self.n += int(n or 0)
            report(self.n)

        def update_transfer(self, n: float | None = 1) -> None:
            pass

        def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
            pass

        set_transfer_postfix_str = set_postfix_str
        set_description = set_postfix_str
        set_description_str = set_postfix_str
        refresh = set_postfix_str
        close = set_postfix_str

        def __enter__(self) -> FileBar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    return FileBar
