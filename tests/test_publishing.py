"""A request's takes appear under their final names all together or not at all, also
when the engine is SIGKILLed while writing them (issue 27, probes 3 and 6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.output import remove_stale_partials, write_take

ROOT = Path(__file__).resolve().parents[1]
# Writes two takes (WAV + sidecar each), SIGKILLing itself at the Nth call that
# gives a file its final name (os.link, or os.replace where links fail).
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import numpy as np
    from engine import output

    folder, kill_at = Path(sys.argv[1]), int(sys.argv[2])
    calls = 0

    def killing(real):
        def call(*args, **kwargs):
            global calls
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return call

    os.link, os.replace = killing(os.link), killing(os.replace)
    audio = np.zeros((1, 3200), np.float32)
    takes = [(f"20260102-030405_kill_s{seed}", audio, {"seed": seed}) for seed in (1, 2)]
    output.write_takes(takes, 32000, folder)
    """
)


def visible(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


def hidden(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


@pytest.mark.parametrize("kill_at", [1, 2, 3, 4])
def test_a_sigkill_while_publishing_leaves_no_take_once_the_folder_is_written_again(
    tmp_path, kill_at
):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path), str(kill_at)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    remove_stale_partials(tmp_path)  # what the next write to the folder does first
    assert visible(tmp_path) == [] and hidden(tmp_path) == []
    wav = write_take(np.zeros((1, 320), np.float32), 32000, tmp_path, "20260102-030406_x_s3", {})
    assert visible(tmp_path) == sorted([wav.name, wav.with_suffix(".json").name])


def test_without_a_kill_both_takes_are_published_and_nothing_hidden_stays(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), "99"], env=env, timeout=120)
    assert done.returncode == 0
    stems = ["20260102-030405_kill_s1", "20260102-030405_kill_s2"]
    assert visible(tmp_path) == sorted(f"{s}{x}" for s in stems for x in (".json", ".wav"))
    assert hidden(tmp_path) == []


def test_a_planted_dangling_symlink_at_the_sidecars_name_is_left_alone(tmp_path):
    planted = tmp_path / "take.json"
    planted.symlink_to(tmp_path / "nowhere" / "target.json")  # dangling
    wav = write_take(np.zeros((1, 320), np.float32), 32000, tmp_path, "take", {})
    assert wav.name == "take-2.wav"  # the name is taken, as it is on the WAV side
    assert planted.is_symlink() and os.readlink(planted) == str(tmp_path / "nowhere/target.json")
    assert not (tmp_path / "take.wav").exists()


def test_a_planted_symlink_at_the_sidecars_name_pointing_at_a_file_is_left_alone(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "take.json").symlink_to(victim)
    wav = write_take(np.zeros((1, 320), np.float32), 32000, tmp_path, "take", {})
    assert wav.name == "take-2.wav" and victim.read_text() == "keep me"
