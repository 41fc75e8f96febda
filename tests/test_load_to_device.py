"""Checkpoints load straight onto their device (engine.checkpoint.load).

The loader is asked to place the weights itself (``device_map``), so that on a
GPU they never make a full stop in host memory.  On the CPU these tests check
what can be checked without a GPU: the loader is asked for the engine's device,
and the weights (parameters and buffers, persistent or not) are exactly those
of a plain load followed by ``.to(device)``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402
from engine.debug_checkpoint import ensure_debug_checkpoint  # noqa: E402


@pytest.mark.parametrize("name", ["debug", "debug-melody"])
def test_loaded_weights_equal_a_plain_load(tmp_path: Path, name: str) -> None:
    folder = ensure_debug_checkpoint(tmp_path, name)
    loaded = checkpoint.load(name, tmp_path, device="cpu", dtype="float32")
    plain = checkpoint._model_class(folder).from_pretrained(
        folder, dtype=torch.float32, local_files_only=True, use_safetensors=True
    )
    plain.to("cpu").eval()
    for kind in ("named_parameters", "named_buffers"):
        got = dict(getattr(loaded.model, kind)())
        want = dict(getattr(plain, kind)())
        assert got.keys() == want.keys()
        for key, tensor in want.items():
            assert got[key].device == torch.device("cpu")
            assert got[key].dtype == tensor.dtype, key
            assert torch.equal(got[key], tensor), key


def test_the_loader_is_asked_for_the_device(tmp_path: Path, monkeypatch) -> None:
    """``device_map`` names the one device: the loader reads each tensor onto it."""
    from transformers import MusicgenForConditionalGeneration

    asked: list[dict] = []
    real = MusicgenForConditionalGeneration.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        asked.append(kwargs)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(MusicgenForConditionalGeneration, "from_pretrained", classmethod(spy))
    loaded = checkpoint.load("debug", tmp_path, device="cpu", dtype="bfloat16")
    assert [kwargs.get("device_map") for kwargs in asked] == [{"": "cpu"}]
    assert loaded.model.decoder.lm_heads[0].weight.dtype == torch.bfloat16
