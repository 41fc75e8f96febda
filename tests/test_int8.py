"""Weight-only int8 on the CPU (``--cpu-precision int8``: engine.decoders.linears.Int8Linear).

What is guaranteed, and so tested: the product is the dequantized weight's
product to bf16 rounding; the dequantized weight is within half a step of the
original; the decoder's layers are converted and the lm heads are not; a width
the kernel cannot take keeps its weight instead of reaching it; the engine's
loop still computes what transformers' ``generate`` computes with the same
int8 layers (tests/test_fast_decode.py, ``test_reduced_precision_equals_reference``).
How far int8 is from float32 is measured, not asserted (docs/performance.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402
from engine.decoders import kernels, linears  # noqa: E402
from engine.decoders.layers import direct  # noqa: E402
from engine.decoders.linears import Int8Linear, int8_product  # noqa: E402
from engine.decoders.precision import prepare_for_cpu  # noqa: E402
from tests.agreement import assert_logits_close  # noqa: E402


def _linear(out_features: int, in_features: int, bias: bool = True) -> torch.nn.Linear:
    torch.manual_seed(3)
    return torch.nn.Linear(in_features, out_features, bias=bias).to(torch.bfloat16)


@pytest.mark.parametrize("shape", [(2, 64), (3, 2, 64), (64,)])
@pytest.mark.parametrize("bias", [True, False])
def test_the_product_is_the_dequantized_weight_s(shape, bias) -> None:
    linear = _linear(48, 64, bias)
    layer = Int8Linear(linear)
    x = torch.randn(shape).to(torch.bfloat16)
    with torch.inference_mode():
        got = layer(x)
        want = torch.nn.functional.linear(
            x.float(), layer.dequantized(), None if linear.bias is None else linear.bias.float()
        )
        assert got.shape == (*shape[:-1], 48) and got.dtype == torch.bfloat16
        assert_logits_close(got.float(), want, "int8 product", torch.bfloat16)
        assert torch.equal(direct(layer)(x), got)  # the step's direct call: the same op


def test_the_dequantized_weight_is_within_half_a_step_of_the_original() -> None:
    linear = _linear(32, 128)
    layer = Int8Linear(linear)
    weight = linear.weight.detach().float()
    step = layer.scales.float()[:, None]
    assert layer.qweight.dtype == torch.int8 and layer.scales.dtype == torch.bfloat16
    assert bool(((layer.dequantized() - weight).abs() <= step / 2 + 1e-6).all())
    # Each row uses its range: its largest weight lands on (about) +-127.
    assert int(layer.qweight.abs().amax(dim=1).min()) >= 126


def test_a_wrong_scale_is_seen() -> None:
    """A control: the product comparison catches a layer whose scales are off."""
    layer = Int8Linear(_linear(48, 64))
    x = torch.randn(2, 64).to(torch.bfloat16)
    with torch.inference_mode():
        want = layer(x).float()
        wrong = int8_product(x, layer.qweight, layer.scales * 1.05, layer.bias).float()
    with pytest.raises(AssertionError):
        assert_logits_close(wrong, want, "scaled by 1.05", torch.bfloat16)


def test_a_width_the_kernel_cannot_take_is_refused_in_words() -> None:
    # aten's kernel crashes the process on such widths (torch 2.13): never reached.
    with pytest.raises(ValueError, match="multiple of 16 input features, not 24"):
        Int8Linear(_linear(32, 24))


def test_prepare_converts_the_layers_and_leaves_the_lm_heads(cache_dir: Path) -> None:
    loaded = prepare_for_cpu(checkpoint.load("debug", cache_dir, device="cpu"), "int8")
    assert loaded.dtype == "int8"
    decoder = loaded.model.decoder
    layer = decoder.model.decoder.layers[0]
    assert isinstance(layer.self_attn.qkv_proj.proj, Int8Linear)  # fused, then one int8 product
    assert all(isinstance(m, Int8Linear) for m in (layer.fc1, layer.fc2, layer.self_attn.out_proj))
    assert isinstance(layer.encoder_attn.q_proj, Int8Linear)
    assert not any(type(m) is torch.nn.Linear for m in decoder.model.modules())
    assert all(type(head) is torch.nn.Linear for head in decoder.lm_heads)
    assert decoder.lm_heads[0].weight.dtype == torch.bfloat16
    assert decoder.model.decoder.layer_norm.weight.dtype == torch.bfloat16


def test_layers_of_another_width_keep_their_weights(cache_dir: Path, monkeypatch, caplog) -> None:
    core = checkpoint.load("debug", cache_dir, device="cpu").model.decoder.model.decoder
    width = core.layers[0].fc2.in_features  # the FFN's width: only fc2 reads it
    assert width != core.layers[0].fc1.in_features
    monkeypatch.setattr(linears, "INT8_ALIGN", width + 1)
    caplog.set_level(logging.INFO, "engine.decoders.precision")
    loaded = prepare_for_cpu(checkpoint.load("debug", cache_dir, device="cpu"), "int8")
    layer = loaded.model.decoder.model.decoder.layers[0]
    assert type(layer.fc2) is torch.nn.Linear and layer.fc2.weight.dtype == torch.bfloat16
    assert "keep bf16 weights" in caplog.text


def test_a_cpu_without_native_bf16_is_warned(cache_dir: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(kernels, "cpu_flags", lambda: ["avx2", "fma"])
    prepare_for_cpu(checkpoint.load("debug", cache_dir, device="cpu"), "int8")
    assert "no native bf16" in caplog.text and "int8-dynamic" in caplog.text


def test_the_engine_says_what_its_precision_means(cache_dir: Path, caplog) -> None:
    from engine.api import Engine, EngineSettings
    from engine.decoders.precision import MEANING, PRECISIONS

    assert set(MEANING) == set(PRECISIONS) - {"float32"}  # every lossy mode has its words
    caplog.set_level(logging.INFO, "engine.residency")
    engine = Engine(
        EngineSettings(cache_dir=cache_dir, device="cpu", warmup=False, cpu_precision="int8")
    )
    assert engine.load("debug").dtype == "int8"
    assert "CPU precision int8 (int8 weights, bf16 arithmetic; asked)" in caplog.text
