"""The `status` command's text: what the engine is doing, as a producer reads it.

Built from :meth:`bridge.client.EngineClient.status`'s dict: the engine's
state, each running and queued job (progress, time so far, an estimate of the
time left, its prompt cut to one line), the resident models and the memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.model_list import format_size

PROMPT_CHARS = 72  # a prompt is cut to one line of this many characters


def format_status(status: Mapping[str, Any]) -> str:
    """Every line of the status, in the order the CLI prints them."""
    lines = [f"state: {status['state']}", f"model: {status['model']}"]
    lines.append(f"device: {status['device']}")
    if status["reason"]:
        lines.append(f"reason: {status['reason']}")
    jobs = status.get("jobs", [])
    running = [j for j in jobs if j["state"] != "queued"]
    queued = [j for j in jobs if j["state"] == "queued"]
    if jobs or not status["running_job"]:
        lines.append(f"running: {len(running) or 'nothing'}")
    else:  # an engine without job details: the ids alone
        lines.append(f"running: {status['running_job']}")
    lines += [line for job in running for line in _job_lines(job, status["model"])]
    lines.append(f"queued: {len(queued) if jobs else status['queued_jobs']}")
    lines += [line for job in queued for line in _job_lines(job, status["model"])]
    resident = status["resident"]
    lines.append(f"resident: {len(resident)} model(s), least recently used first")
    for m in resident:
        lines.append(
            f"  {m['model']} on {m['device']} ({m['dtype']}), "
            f"{float(m['memory_mb']):.1f} MiB, loaded in {float(m['load_seconds']):.2f} s"
        )
    lines.append(f"memory: {_memory(status)}")
    return "\n".join(lines)


def _job_lines(job: Mapping[str, Any], active_model: str) -> list[str]:
    """Two lines per job: what it is doing, then its prompt."""
    if job["state"] == "queued":
        ahead = int(job["position"])
        what = f"queued, {ahead} ahead, waiting {format_seconds(float(job['waited_s']))}"
    elif job["state"] == "loading":
        what = f"loading its model, {format_seconds(float(job['elapsed_s']))} so far"
    else:
        eta = float(job["eta_s"])
        left = f"about {format_seconds(eta)} left" if eta >= 0 else "time left not known yet"
        what = (
            f"generating {float(job['progress']) * 100:.0f}%, "
            f"{format_seconds(float(job['elapsed_s']))} so far, {left}"
        )
    if job["model"] and job["model"] != active_model:
        what += f", on {job['model']}"
    return [f"  {job['job']}: {what}", f'    "{shorten(str(job["prompt"]))}"']


def shorten(prompt: str, limit: int = PROMPT_CHARS) -> str:
    """The prompt on one line (runs of whitespace made one space), cut to ``limit``
    characters at a word where one is near, with "..." when cut."""
    flat = " ".join(prompt.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 3]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "..."


def format_seconds(seconds: float) -> str:
    """'3.1 s' under a minute, '2 min 05 s' from one."""
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _memory(status: Mapping[str, Any]) -> str:
    rss = float(status.get("rss_mb", -1.0))
    process = f"process {format_size(rss)} resident" if rss >= 0 else "process: not known here"
    allocated = float(status.get("gpu_allocated_mb", -1.0))
    free = float(status.get("gpu_free_mb", -1.0))
    if allocated < 0 and free < 0:
        return f"{process}; GPU: none in use"
    return (
        f"{process}; GPU {format_size(max(allocated, 0.0))} allocated, "
        f"{format_size(max(free, 0.0))} free"
    )
