"""The CPU Linear kernel chosen per machine at load (engine.decoders.kernels).

A kernel other than the checkpoint's own rounds in the last bits as it likes,
so a take through it is compared on what holds (tests/agreement.py): fed the
same tokens the logits agree to float tolerance, greedy tokens up to a near
tie.  The choice is measured once, kept in the cache folder and reused; a
candidate that is not exact to rounding is never chosen on its own.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402
from engine.api import Engine, EngineSettings  # noqa: E402
from engine.decoders import kernel_timing, kernels, linears  # noqa: E402
from engine.decoders.contract import DecodeInputs  # noqa: E402
from engine.decoders.layers import LayerStack, set_attention_dtype  # noqa: E402
from engine.decoders.loop import Run, fast_decode  # noqa: E402
from engine.decoders.precision import prepare_for_cpu  # noqa: E402
from engine.decoders.reference import reference_decode  # noqa: E402
from engine.sampling import Sampling  # noqa: E402
from engine.spec import GenerationSpec  # noqa: E402
from tests.agreement import (  # noqa: E402
    assert_greedy_takes_agree,
    assert_logits_close,
    forced_logits,
    recorded_run,
)

GREEDY = Sampling(greedy=True)
PROMPTS = ["driving techno with a rolling bassline", "slow jazz"]


def _inputs(loaded) -> DecodeInputs:
    tok = loaded.tokenizer(PROMPTS, return_tensors="pt", padding=True)
    return DecodeInputs(tok.input_ids, tok.attention_mask, guidance=3.0)


@pytest.mark.parametrize("name", ["debug", "debug-stereo", "debug-melody"])
def test_onednn_kernel_agrees_with_the_module_kernel(cache_dir: Path, name: str) -> None:
    plain = checkpoint.load(name, cache_dir, device="cpu", dtype="float32")
    packed = checkpoint.load(name, cache_dir, device="cpu", dtype="float32")
    swapped = kernels.apply_kernel(packed, "onednn")
    assert swapped == sum(1 for _ in linears.decoder_linears(plain))
    assert not any(True for _ in linears.decoder_linears(packed))  # none left behind
    inputs = _inputs(plain)
    if plain.is_melody:
        inputs.melody = torch.rand(2, 40, 12, generator=torch.Generator().manual_seed(0))
    want, record = recorded_run(fast_decode, plain, inputs, 30, GREEDY, (0, 1))
    assert torch.unique(want).numel() >= 8
    got = fast_decode(packed, inputs, 30, GREEDY, [0, 0])
    forced = forced_logits(fast_decode, packed, inputs, want)
    logits = torch.stack(record.logits)
    assert_logits_close(forced, logits, "onednn kernel")
    assert_greedy_takes_agree(got, want, logits, forced, plain)
    # The kernel is the model's: transformers' generate runs through it too.
    reference = forced_logits(reference_decode, packed, inputs, want)
    assert_logits_close(reference, logits, "onednn kernel under generate")


def test_a_wrong_kernel_is_seen(cache_dir: Path, monkeypatch) -> None:
    """A control: a kernel off by more than rounding fails the agreement above."""
    plain = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    packed = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    original = linears.packed_product
    monkeypatch.setattr(linears, "packed_product", lambda *a, **kw: original(*a, **kw) * 1.001)
    kernels.apply_kernel(packed, "onednn")
    inputs = _inputs(plain)
    want, record = recorded_run(fast_decode, plain, inputs, 12, GREEDY, (0, 1))
    forced = forced_logits(fast_decode, packed, inputs, want)
    with pytest.raises(AssertionError, match="logits differ"):
        assert_logits_close(forced, torch.stack(record.logits), "scaled kernel")


ZEN4_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu avx2 avx512f avx512_bf16
"""


def test_the_cpu_is_named_with_its_family_and_model(tmp_path):
    # A virtual machine names a Zen 4 and a Zen 5 both "AMD EPYC": the choice
    # measured on one must not be read back on the other.
    zen4 = tmp_path / "zen4"
    zen4.write_text(ZEN4_CPUINFO)
    zen5 = tmp_path / "zen5"
    zen5.write_text(ZEN4_CPUINFO.replace(": 25", ": 26").replace(": 17", ": 2"))
    assert kernels.cpu_model(str(zen4)) == "AMD EPYC (family 25, model 17, stepping 1)"
    assert kernels.cpu_model(str(zen5)) == "AMD EPYC (family 26, model 2, stepping 1)"
    bare = tmp_path / "bare"
    bare.write_text("model name\t: Some CPU\n")
    assert kernels.cpu_model(str(bare)) == "Some CPU"


def test_the_choice_is_measured_once_then_read_from_the_cache(tmp_path, cache_dir, monkeypatch):
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    first = kernels.choose_kernel(loaded, tmp_path)
    assert first.how == "measured" and first.kernel in kernels.KERNELS
    assert set(first.step_ms) == set(kernels.KERNELS) == set(first.batch_ms)
    assert all(ms > 0 for ms in [*first.step_ms.values(), *first.batch_ms.values()])
    kept = json.loads((tmp_path / kernels.CACHE_FILE).read_text())
    key = kernels.cache_key(loaded)
    assert kept[key]["kernel"] == first.kernel
    assert kernels.cpu_model() in key and torch.__version__ in key and "float32" in key

    def no_timing(*args, **kwargs):
        raise AssertionError("timed again")

    monkeypatch.setattr(kernel_timing, "time_kernels", no_timing)
    again = kernels.choose_kernel(loaded, tmp_path)
    assert (again.kernel, again.how, again.batch_ms) == (first.kernel, "cached", first.batch_ms)
    assert kernels.choose_kernel(loaded, tmp_path, "module") == kernels.KernelChoice(
        "module", "asked"
    )


def test_the_log_names_the_kernel_faster_for_takes_decoded_together() -> None:
    # As measured in float32 on the Intel Xeon with AMX: MKL for one take, oneDNN for four.
    one = {"module": 49.0, "onednn": 59.9}
    line = kernels.describe(
        kernels.KernelChoice("module", "measured", one, batch_ms={"module": 80.0, "onednn": 54.0})
    )
    assert "four takes together: module 80.0 ms, onednn 54.0 ms" in line
    assert "(onednn is the faster for takes decoded together: cpu_kernel onednn)" in line
    same = kernels.describe(
        kernels.KernelChoice("module", "measured", one, batch_ms={"module": 50.0, "onednn": 60.0})
    )
    assert "four takes together" in same and "faster for takes decoded together" not in same


@pytest.mark.parametrize(("first", "then"), [("float32", "int8-dynamic"), ("bfloat16", "int8")])
def test_an_int8_model_never_takes_another_precision_s_cached_choice(
    tmp_path, cache_dir, first: str, then: str
) -> None:
    """int8-dynamic keeps float32 layer norms, int8 bf16 ones: their products are not those."""
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    if first != "float32":
        prepare_for_cpu(loaded, first)
    assert kernels.choose_kernel(loaded, tmp_path).how == "measured"
    other = prepare_for_cpu(checkpoint.load("debug", cache_dir, device="cpu"), then)
    assert kernels.cache_key(other) != kernels.cache_key(loaded)
    assert kernels.choose_kernel(other, tmp_path).how == "measured"
    assert kernels.choose_kernel(other, tmp_path).how == "cached"


def test_fastest_wins_but_never_one_that_is_not_exact(tmp_path, cache_dir, monkeypatch):
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    monkeypatch.setattr(
        kernel_timing, "time_kernels", lambda loaded, rows=2: ({"module": 9.0, "onednn": 3.0}, [])
    )
    assert kernels.choose_kernel(loaded, tmp_path / "a").kernel == "onednn"
    monkeypatch.setattr(
        kernel_timing,
        "time_kernels",
        lambda loaded, rows=2: ({"module": 9.0, "onednn": 3.0}, ["onednn"]),
    )
    choice = kernels.choose_kernel(loaded, tmp_path / "b")
    assert choice.kernel == "module"
    assert "not exact" in kernels.describe(choice)


def test_the_exactness_check_sees_a_kernel_off_by_more_than_rounding(cache_dir, monkeypatch):
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    original = linears.packed_product
    monkeypatch.setattr(linears, "packed_product", lambda *a, **kw: original(*a, **kw) * 1.01)
    _, inexact = kernel_timing.time_kernels(loaded)
    assert inexact == ["onednn"]
    monkeypatch.setattr(linears, "packed_product", original)
    assert kernel_timing.time_kernels(loaded)[1] == []


def test_unknown_kernel_refused(cache_dir) -> None:
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    with pytest.raises(ValueError, match="cpu_kernel must be one of"):
        kernels.choose_kernel(loaded, None, "int4")


def test_the_engine_logs_the_kernel_and_the_sidecar_records_it(tmp_path, caplog):
    engine = Engine(EngineSettings(cache_dir=tmp_path / "cache", device="cpu", warmup=False))
    with caplog.at_level(logging.INFO, logger="engine.residency"):
        engine.load("debug")
    assert "CPU Linear kernel" in caplog.text
    chosen = json.loads((tmp_path / "cache" / kernels.CACHE_FILE).read_text())
    [entry] = chosen.values()  # measured in the dtype the default precision gave
    take = engine.generate(GenerationSpec(prompt="x", out_dir=tmp_path, seconds=0.3))
    meta = json.loads(take.paths[0].with_suffix(".json").read_text())
    attention = f"+attn-{entry['attention']}" if entry["attention"] else ""
    assert meta["kernel"] == entry["kernel"] + ("+qkv" if entry["fuse_qkv"] else "") + attention
    from engine.decoders.precision import resolve_cpu_precision

    assert meta["dtype"] == resolve_cpu_precision("auto")[0]


def test_auto_precision_is_bf16_only_where_the_cpu_has_native_bf16() -> None:
    from engine.decoders.precision import resolve_cpu_precision

    assert resolve_cpu_precision("auto", ["avx2", "avx512f", "avx512_bf16"])[0] == "bfloat16"
    assert resolve_cpu_precision("auto", ["avx2", "amx_tile", "amx_bf16"])[0] == "bfloat16"
    assert resolve_cpu_precision("auto", ["avx2", "avx512f", "avx512_vnni"])[0] == "float32"
    assert resolve_cpu_precision("auto", [])[0] == "float32"
    assert resolve_cpu_precision("int8", [])[0] == "int8"  # asked for: as asked


def test_auto_precision_leaves_a_model_not_in_float32_alone(cache_dir, caplog) -> None:
    engine = Engine(
        EngineSettings(
            cache_dir=cache_dir, device="cpu", dtype="bfloat16", warmup=False, cpu_precision="auto"
        )
    )
    with caplog.at_level(logging.WARNING):
        assert engine.load("debug").dtype == "bfloat16"
    assert "cpu-precision" not in caplog.text  # auto has nothing to warn about


@pytest.mark.parametrize(
    ("name", "kernel"), [("debug", "module"), ("debug-stereo", "onednn"), ("debug", "onednn")]
)
def test_fused_qkv_step_agrees_with_the_separate_one(cache_dir: Path, name: str, kernel: str):
    """One q/k/v product a layer (linears.fuse_qkv) gives the three products' logits."""
    plain = checkpoint.load(name, cache_dir, device="cpu", dtype="float32")
    fused = checkpoint.load(name, cache_dir, device="cpu", dtype="float32")
    kernels.apply_kernel(plain, kernel)
    kernels.apply_kernel(fused, kernel, fuse=True)
    attns = [layer.self_attn for layer in fused.model.decoder.model.decoder.layers]
    assert attns and all(isinstance(attn.qkv_proj, linears.FusedQKV) for attn in attns)
    # No weight is held twice: q/k/v are shares of the fused product, with no weights.
    assert _weight_bytes(fused) == _weight_bytes(plain)
    assert all(
        not any(True for _ in getattr(attn, n).parameters())
        and not any(True for _ in getattr(attn, n).buffers())
        for attn in attns
        for n in linears.QKV
    )
    assert linears.fuse_qkv(fused) == 0  # already fused: left alone
    inputs = _inputs(plain)
    want, record = recorded_run(fast_decode, plain, inputs, 20, GREEDY, (0, 1))
    forced = forced_logits(fast_decode, fused, inputs, want)
    assert_logits_close(forced, torch.stack(record.logits), f"fused q/k/v, {kernel}")
    # transformers' generate calls q_proj, k_proj and v_proj: one fused product a layer.
    products = _count_products(fused)
    forwards = [0]
    fused.model.decoder.register_forward_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))
    reference = forced_logits(reference_decode, fused, inputs, want)
    assert_logits_close(reference, torch.stack(record.logits), "q/k/v shares under generate")
    assert forwards[0] >= len(record.logits) and products == forwards * len(attns)


def _weight_bytes(loaded) -> int:
    """Bytes of a model's parameters and buffers, as engine.residency counts what it holds."""
    model = loaded.model
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def _count_products(loaded) -> list[int]:
    """A list whose i-th entry counts the calls of layer i's fused q/k/v product, as they come."""
    counts: list[int] = []
    for i, layer in enumerate(loaded.model.decoder.model.decoder.layers):
        counts.append(0)
        proj = layer.self_attn.qkv_proj.proj

        def hook(module, args, output, i=i) -> None:
            counts[i] += 1

        proj.register_forward_hook(hook)
    return counts


def test_a_wrong_fused_qkv_is_seen(cache_dir: Path) -> None:
    """A control: a fused weight in the wrong order (k and v swapped) fails the agreement."""
    plain = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    fused = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    linears.fuse_qkv(fused)
    with torch.inference_mode():
        for layer in fused.model.decoder.model.decoder.layers:
            proj = layer.self_attn.qkv_proj.proj
            q, k, v = proj.weight.detach().chunk(3)
            proj.weight = torch.nn.Parameter(torch.cat([q, v, k]), requires_grad=False)
    inputs = _inputs(plain)
    want, record = recorded_run(fast_decode, plain, inputs, 12, GREEDY, (0, 1))
    forced = forced_logits(fast_decode, fused, inputs, want)
    with pytest.raises(AssertionError, match="logits differ"):
        assert_logits_close(forced, torch.stack(record.logits), "k/v swapped in the fused q/k/v")
    reference = forced_logits(reference_decode, fused, inputs, want)  # generate reads it too
    with pytest.raises(AssertionError, match="logits differ"):
        assert_logits_close(reference, torch.stack(record.logits), "k/v swapped under generate")


def test_fusing_is_chosen_only_where_it_is_faster(tmp_path, cache_dir, monkeypatch):
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    monkeypatch.setattr(
        kernel_timing, "time_kernels", lambda loaded, rows=2: ({"module": 9.0, "onednn": 3.0}, [])
    )
    monkeypatch.setattr(
        kernel_timing, "time_qkv", lambda loaded, k: {"separate": 2.0, "fused": 1.0}
    )
    choice = kernels.choose_kernel(loaded, tmp_path / "a")
    assert choice.fuse_qkv and "q/k/v fused" in kernels.describe(choice)
    monkeypatch.setattr(
        kernel_timing, "time_qkv", lambda loaded, k: {"separate": 1.0, "fused": 2.0}
    )
    assert not kernels.choose_kernel(loaded, tmp_path / "b").fuse_qkv
    assert kernels.choose_kernel(loaded, tmp_path / "a").fuse_qkv  # cached with the choice
    measured = kernel_timing.time_qkv(loaded, "onednn")
    assert set(measured) == {"separate", "fused"} and min(measured.values()) > 0


@pytest.mark.parametrize("name", ["debug", "debug-stereo", "debug-melody"])
def test_float32_attention_of_a_bf16_model_agrees_with_generate(cache_dir: Path, name: str):
    """KV cache and attention in float32, products in bf16: generate's logits to bf16 rounding."""
    loaded = checkpoint.load(name, cache_dir, device="cpu", dtype="bfloat16")
    kernels.apply_choice(loaded, kernels.KernelChoice("onednn", "asked", attention="float32"))
    inputs = _inputs(loaded)
    if loaded.is_melody:  # in the model's dtype: generate does not cast it
        chroma = torch.rand(2, 40, 12, generator=torch.Generator().manual_seed(0))
        inputs.melody = chroma.to(torch.bfloat16)
    with torch.inference_mode():
        run = Run(loaded, inputs, 4)
    assert run.keys.dtype == torch.float32 and LayerStack(loaded).dtype == torch.bfloat16
    assert all(key.dtype == torch.float32 for key, _ in run.cross_kv)
    want, record = recorded_run(reference_decode, loaded, inputs, 20, GREEDY, (0, 1))
    assert torch.unique(want).numel() >= 8
    forced = forced_logits(fast_decode, loaded, inputs, want)
    assert_logits_close(forced, torch.stack(record.logits), "float32 attention", torch.bfloat16)
    got = fast_decode(loaded, inputs, 20, GREEDY, [0, 0])
    assert_greedy_takes_agree(got, want, torch.stack(record.logits), forced, loaded)


def test_attention_in_another_dtype_is_checked_to_float32_rounding(cache_dir: Path, monkeypatch):
    """The same plumbing (cache, casts in and out) where rounding is small enough to see a fault.

    The tiny debug model in bf16 hardly listens to its attention (dropping it
    moves the logits by less than bf16's tolerance), so the casts are checked
    on a float32 model attending in float64: its logits agree with generate's
    to float32 rounding, and an attention off by 5 % is seen, by the loop's
    agreement and by the load-time timing's own check.
    """
    import torch.nn.functional as F

    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    inputs = _inputs(loaded)
    want, record = recorded_run(reference_decode, loaded, inputs, 12, GREEDY, (0, 1))
    logits = torch.stack(record.logits)
    set_attention_dtype(loaded, "float64")
    with torch.inference_mode():
        assert Run(loaded, inputs, 4).keys.dtype == torch.float64
    assert_logits_close(forced_logits(fast_decode, loaded, inputs, want), logits, "float64")
    sdpa = F.scaled_dot_product_attention

    def off(query, key, value, **kwargs):
        out = sdpa(query, key, value, **kwargs)
        return out * 1.05 if out.dtype in (torch.float32, torch.float64) else out

    monkeypatch.setattr(F, "scaled_dot_product_attention", off)
    forced = forced_logits(fast_decode, loaded, inputs, want)
    with pytest.raises(AssertionError, match="logits differ"):
        assert_logits_close(forced, logits, "attention x 1.05")
    bf16 = checkpoint.load("debug", cache_dir, device="cpu", dtype="bfloat16")
    assert kernel_timing.time_attention(bf16)["float32"] == float("inf")


def test_attention_dtype_is_timed_for_a_bf16_model_and_chosen_only_where_faster(
    tmp_path, cache_dir, monkeypatch
):
    bf16 = checkpoint.load("debug", cache_dir, device="cpu", dtype="bfloat16")
    measured = kernel_timing.time_attention(bf16)
    assert set(measured) == {"bfloat16", "float32"} and min(measured.values()) > 0
    f32 = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    assert kernel_timing.time_attention(f32) == {}  # nothing to choose
    assert kernels.choose_kernel(f32, tmp_path / "f32").attention == ""
    monkeypatch.setattr(
        kernel_timing, "time_attention", lambda loaded: {"bfloat16": 3.0, "float32": 1.0}
    )
    choice = kernels.choose_kernel(bf16, tmp_path / "a")
    assert choice.attention == "float32" and choice.name.endswith("+attn-float32")
    assert "attention and KV cache in float32" in kernels.describe(choice)
    monkeypatch.setattr(
        kernel_timing, "time_attention", lambda loaded: {"bfloat16": 1.0, "float32": 3.0}
    )
    assert kernels.choose_kernel(bf16, tmp_path / "b").attention == ""
    assert kernels.choose_kernel(bf16, tmp_path / "a").attention == "float32"  # cached
    kernels.apply_choice(bf16, kernels.choose_kernel(bf16, tmp_path / "a"))
    assert LayerStack(bf16).attention_dtype == torch.float32


@pytest.mark.parametrize("kernel", ["module", "onednn"])
def test_the_steps_direct_calls_compute_what_the_modules_do(cache_dir: Path, kernel: str) -> None:
    """``layers.direct`` skips nn.Module's call machinery, never the module's arithmetic."""
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    kernels.apply_choice(loaded, kernels.KernelChoice(kernel, "asked", fuse_qkv=True))
    stack = LayerStack(loaded)
    x = torch.randn(2, 3, stack.heads * stack.head_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        for layer, calls in zip(stack.layers, stack.calls, strict=True):
            attn = layer.self_attn
            pairs = [
                (calls.self_norm, layer.self_attn_layer_norm),
                (calls.qkv, attn.qkv_proj),
                (calls.out, attn.out_proj),
                (calls.cross_norm, layer.encoder_attn_layer_norm),
                (calls.cross_q, layer.encoder_attn.q_proj),
                (calls.cross_out, layer.encoder_attn.out_proj),
                (calls.final_norm, layer.final_layer_norm),
                (calls.act, layer.activation_fn),
            ]
            for call, module in pairs:
                assert call is not module  # called directly
                assert torch.equal(call(x), module(x)), module
            hidden = calls.fc1(x)
            assert torch.equal(hidden, layer.fc1(x))
            assert torch.equal(calls.fc2(hidden), layer.fc2(hidden))


def test_a_module_with_hooks_is_called_as_a_module(cache_dir: Path) -> None:
    """Hooks (none of the engine's) still run: the step calls a hooked module through them."""
    from engine.decoders.layers import direct

    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    fc1 = loaded.model.decoder.model.decoder.layers[0].fc1
    assert direct(fc1) is not fc1
    assert direct(torch.tanh) is torch.tanh  # a plain function is called as it is
    seen: list[tuple] = []
    handle = fc1.register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape)))
    try:
        assert direct(fc1) is fc1
        fast_decode(loaded, _inputs(loaded), 3, GREEDY, [0, 0])
    finally:
        handle.remove()
    steps = len(seen)
    assert steps >= 3 and seen[-1][1] == 1  # the prefill, then one column a step
