"""The fused decode step's Triton kernels, run on the CPU by Triton's interpreter.

``TRITON_INTERPRET=1`` is set by tests/conftest.py before Triton is first
imported (Triton decides then, and per kernel), so every kernel runs in numpy
over CPU tensors: each is compared with torch's own computation on small
shapes, with tiles smaller than the shapes so that the loops and their masks
are exercised; then the whole fused step with the eager static step
(engine.decoders.step_graph.static_step) of the debug checkpoints; then its
place in the prepared steps: kept where it agrees, dropped with a warning
(today's step kept) where it does not.  Tolerances are float rounding's: the
kernels accumulate in another order than torch's.  Whether the kernels are
fast on a GPU is a measurement for a CUDA machine (docs/performance.md).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

# tests/conftest.py sets TRITON_INTERPRET=1 before Triton is first imported: Triton
# decides then, and per kernel when it is defined, whether its interpreter runs it.
pytest.importorskip("triton", reason="Triton is not installed (its wheels are for Linux only)")

from engine.decoders import fused_step, triton_kernels, triton_sampling  # noqa: E402

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip(
        "TRITON_INTERPRET is not 1 (set to another value before the tests): the kernels "
        "would need a GPU",
        allow_module_level=True,
    )

import torch.nn.functional as F  # noqa: E402

from engine import checkpoint  # noqa: E402
from engine.decoders.contract import DecodeInputs, forced_logits  # noqa: E402
from engine.decoders.loop import fast_decode  # noqa: E402
from engine.decoders.step_checks import fill_probe  # noqa: E402
from engine.decoders.step_graph import build_step_graphs, static_step  # noqa: E402
from engine.sampling import Sampling  # noqa: E402
from tests.agreement import assert_logits_close, recorded_run  # noqa: E402

TOLERANCE = {torch.float32: 1e-5, torch.float16: 1e-2}


def test_the_kernels_run_in_the_interpreter() -> None:
    """Triton's own library functions too (else a launch fails inside them)."""
    import triton.language as tl
    from triton.runtime.jit import JITFunction

    assert triton_kernels.INTERPRETED
    assert not isinstance(tl.zeros, JITFunction), "Triton was imported before TRITON_INTERPRET"


def close(got, want, dtype, what: str = "") -> None:
    limit = TOLERANCE[dtype] * max(1.0, float(want.abs().max()))
    error = float((got.float() - want.float()).abs().max())
    assert error <= limit, f"{what}: differ by {error:.3g} (allowed {limit:.3g})"


# -- each kernel ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize(
    "norm,bias,activation,residual",
    [
        (False, False, None, False),
        (True, False, None, False),
        (True, True, "gelu", False),
        (False, True, "relu", False),
        (False, False, None, True),
        (False, True, None, True),
    ],
)
def test_linear(dtype, norm: bool, bias: bool, activation, residual: bool) -> None:
    """Norm prologue; bias, activation, residual epilogue; tiles smaller than the shapes."""
    gen = torch.Generator().manual_seed(0)
    rows, width, n = 3, 80, 100
    x = (torch.randn(rows, width, generator=gen) * 2 + 0.5).to(dtype)
    weight = (torch.randn(n, width, generator=gen) / width**0.5).to(dtype)
    b = torch.randn(n, generator=gen).to(dtype) if bias else None
    ln = (torch.randn(width, generator=gen).to(dtype), torch.randn(width, generator=gen).to(dtype))
    res = torch.randn(rows, n, generator=gen).to(dtype) if residual else None
    want = x.float()
    if norm:
        want = F.layer_norm(want, (width,), ln[0].float(), ln[1].float(), 1e-5).to(dtype).float()
    want = F.linear(want, weight.float(), None if b is None else b.float())
    if activation == "gelu":
        want = F.gelu(want)
    if activation == "relu":
        want = F.relu(want)
    if res is not None:
        want = want + res.float()
    out = res if res is not None else torch.empty(rows, n, dtype=dtype)  # residual in place
    triton_kernels.linear(
        x,
        weight,
        out,
        bias=b,
        norm=(*ln, 1e-5) if norm else None,
        activation=activation,
        residual=res,
        block_n=16,
        block_k=32,
    )
    close(out, want, dtype, "linear")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_qkv_writes_the_query_and_the_cache_slot(dtype) -> None:
    gen = torch.Generator().manual_seed(1)
    rows, heads, head_dim, length, position = 4, 2, 8, 24, 9
    width = heads * head_dim
    x = torch.randn(rows, width, generator=gen).to(dtype)
    weight = (torch.randn(3 * width, width, generator=gen) / 4).to(dtype)
    ln = (torch.ones(width, dtype=dtype), torch.zeros(width, dtype=dtype), 1e-5)
    cache = torch.randn(2, 2, rows, heads, length, head_dim, generator=gen).to(dtype)
    before = cache.clone()
    keys, values = cache[0, 1], cache[1, 1]  # a layer's views, as the step passes them
    query = torch.zeros(rows, width, dtype=dtype)
    triton_kernels.qkv(
        x, weight, ln, query, keys, values, torch.tensor([position]), head_dim, block_n=16
    )
    normed = F.layer_norm(x.float(), (width,), eps=1e-5).to(dtype).float()
    q, k, v = (normed @ weight.float().T).split(width, dim=1)
    close(query, q, dtype, "query")
    close(keys[:, :, position], k.view(rows, heads, head_dim), dtype, "key")
    close(values[:, :, position], v.view(rows, heads, head_dim), dtype, "value")
    untouched = torch.ones(length, dtype=torch.bool)
    untouched[position] = False
    assert torch.equal(cache[:, :, :, :, untouched], before[:, :, :, :, untouched])
    assert torch.equal(cache[:, 0], before[:, 0])  # the other layer


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_self_attention_reads_only_the_slots_written(dtype) -> None:
    """Slots after the position hold NaN: a kernel that read them would give NaN."""
    gen = torch.Generator().manual_seed(2)
    rows, heads, head_dim, length, position = 3, 2, 8, 100, 37
    query = torch.randn(rows, heads * head_dim, generator=gen).to(dtype)
    keys = torch.randn(rows, heads, length, head_dim, generator=gen).to(dtype)
    values = torch.randn(rows, heads, length, head_dim, generator=gen).to(dtype)
    keys[:, :, position + 1 :] = float("nan")
    values[:, :, position + 1 :] = float("nan")
    out = torch.empty_like(query)
    scale = head_dim**-0.5
    triton_kernels.attention(
        query, keys, values, out, scale, position=torch.tensor([position]), block_l=16
    )
    q = query.float().view(rows, heads, 1, head_dim)
    seen = slice(0, position + 1)
    want = F.scaled_dot_product_attention(
        q, keys[:, :, seen].float(), values[:, :, seen].float(), scale=scale
    )
    close(out, want.reshape(rows, -1), dtype, "self-attention")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_cross_attention_under_its_mask(dtype) -> None:
    """A row with nothing to attend (a guidance row's empty text) gets zeros, as SDPA gives."""
    gen = torch.Generator().manual_seed(3)
    rows, heads, head_dim, text = 4, 2, 8, 48
    query = torch.randn(rows, heads * head_dim, generator=gen).to(dtype)
    keys = torch.randn(rows, heads, text, head_dim, generator=gen).to(dtype)
    values = torch.randn(rows, heads, text, head_dim, generator=gen).to(dtype)
    mask = torch.zeros(rows, 1, 1, text, dtype=torch.bool)
    mask[0, ..., :5] = True
    mask[1, ..., :40] = True
    mask[2, ..., 3:7] = True  # row 3: nothing
    out = torch.empty_like(query)
    scale = head_dim**-0.5
    triton_kernels.attention(query, keys, values, out, scale, mask=mask, block_l=16)
    q = query.float().view(rows, heads, 1, head_dim)
    want = F.scaled_dot_product_attention(
        q, keys.float(), values.float(), attn_mask=mask, scale=scale
    )
    close(out, want.reshape(rows, -1), dtype, "cross-attention")
    assert not out[3].any()


def test_embed_sums_the_codebooks_and_the_position() -> None:
    gen = torch.Generator().manual_seed(4)
    rows, codebooks, entries, width, position = 4, 4, 33, 16, 5
    table = torch.randn(codebooks, entries, width, generator=gen)
    positions = torch.randn(20, width, generator=gen)
    ids = torch.randint(0, entries, (rows, codebooks, 1), generator=gen)
    out = torch.empty(rows, width)
    triton_kernels.embed(ids, table, positions, torch.tensor([position]), out)
    want = sum(table[k][ids[:, k, 0]] for k in range(codebooks)) + positions[position]
    close(out, want, torch.float32, "embeddings")


# -- the whole step ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def runner_of(cache: Path, name: str, dtype: str = "float32"):
    loaded = checkpoint.load(name, cache, device="cpu", dtype=dtype)
    graphs = build_step_graphs(loaded, (2,), frames=24, text_tokens=16)
    return loaded, graphs.runners[4]


@pytest.mark.parametrize(
    "name,dtype",
    [
        ("debug", "float32"),
        ("debug-melody", "float32"),
        ("debug-stereo", "float32"),
        ("debug", "float16"),
    ],
)
def test_the_fused_step_computes_the_eager_static_step(cache: Path, name: str, dtype: str) -> None:
    _, runner = runner_of(cache, name, dtype)
    buffers = runner.buffers
    with torch.inference_mode():
        fused = fused_step.FusedStep(runner.stack, buffers)
        fill_probe(buffers, runner.stack)
        for position in (3, buffers.length - 1):
            buffers.position.fill_(position)
            static_step(runner.stack, buffers)
            want = buffers.out.clone()
            keys = buffers.keys.clone()
            buffers.out.fill_(float("nan"))
            fused()
            close(buffers.out, want, getattr(torch, dtype), f"{name} logits at {position}")
            close(buffers.keys, keys, getattr(torch, dtype), f"{name} cache at {position}")


@pytest.mark.parametrize("name,per_layer", [("debug", 8), ("debug-melody", 5)])
def test_kernels_per_step(cache: Path, monkeypatch, name: str, per_layer: int) -> None:
    """Counted as launched: 8 a layer with cross-attention, 5 without, and 3 a step."""
    _, runner = runner_of(cache, name)
    launched: list[str] = []
    launchers = [(triton_kernels, n) for n in ("linear", "qkv", "attention", "embed")]
    for module, launcher in [*launchers, (triton_sampling, "sample")]:
        real = getattr(module, launcher)
        spy = partial(
            lambda real, name, *a, **k: launched.append(name) or real(*a, **k), real, launcher
        )
        monkeypatch.setattr(module, launcher, spy)
    with torch.inference_mode():
        fused = fused_step.FusedStep(runner.stack, runner.buffers)
        fill_probe(runner.buffers, runner.stack)
        fused()
    layers = len(runner.stack.layers)
    assert len(launched) == fused.kernels_per_step == per_layer * layers + 3
    assert launched[-1] == "sample"  # the step ends with its draw
    assert fused_step.KERNELS_PER_LAYER["melody" if name == "debug-melody" else "text"] == per_layer


def test_row_counts_share_the_stacked_weights(cache: Path) -> None:
    """One stack of q/k/v, heads and embeddings for all; the modules' weights are views of it."""
    loaded = checkpoint.load("debug", cache, device="cpu")
    graphs = build_step_graphs(loaded, (1, 2), frames=16, text_tokens=16)
    two, four = (fused_step.FusedStep(r.stack, r.buffers) for r in graphs.runners.values())
    for a, b in ((two.heads, four.heads), (two.table, four.table)):
        assert a.data_ptr() == b.data_ptr()
    assert two.layers[1].qkv.data_ptr() == four.layers[1].qkv.data_ptr()
    attn = two.stack.layers[1].self_attn
    assert attn.k_proj.weight.data_ptr() == two.layers[1].qkv[attn.q_proj.out_features :].data_ptr()
    heads = two.stack.lm.lm_heads
    assert heads[3].weight.data_ptr() == two.heads[3 * heads[0].out_features :].data_ptr()


def test_prepared_steps_take_the_fused_step_where_it_agrees(cache: Path, caplog) -> None:
    """Kept after its checks; a run through it has the eager loop's logits on the same tokens."""
    loaded = checkpoint.load("debug", cache, device="cpu")
    with caplog.at_level(logging.INFO, logger="engine.decoders.step_graph"):
        graphs = build_step_graphs(loaded, (1,), frames=16, text_tokens=16, fused=True)
    runner = graphs.runners[2]
    assert runner.fused is not None and runner.ready
    assert "fused decode step for 2 rows: 19 kernels a step" in caplog.text
    tok = loaded.tokenizer(["warm funk drums"], return_tensors="pt")
    inputs = DecodeInputs(tok.input_ids, tok.attention_mask, guidance=3.0)
    greedy = Sampling(greedy=True)
    eager, record = recorded_run(fast_decode, loaded, inputs, 2, greedy, (0,))
    forced = forced_logits(partial(fast_decode, graphs=graphs), loaded, inputs, eager)
    assert_logits_close(forced, torch.stack(record.logits), "fused step")


def test_a_fused_step_that_disagrees_is_dropped_for_todays(
    cache: Path, monkeypatch, caplog
) -> None:
    loaded = checkpoint.load("debug", cache, device="cpu")
    original = fused_step.FusedStep.__call__

    def off(self) -> None:
        original(self)
        self.buffers.out.add_(0.5)

    monkeypatch.setattr(fused_step.FusedStep, "__call__", off)
    with caplog.at_level(logging.WARNING, logger="engine.decoders.step_graph"):
        graphs = build_step_graphs(loaded, (1,), frames=16, text_tokens=16, fused=True)
    runner = graphs.runners[2]  # today's step, checked as ever
    assert runner.fused is None and runner.ready
    assert "fused decode step for 2 rows dropped (GraphMismatch" in caplog.text


def test_without_triton_todays_step_is_kept(cache: Path, monkeypatch, caplog) -> None:
    loaded = checkpoint.load("debug", cache, device="cpu")
    monkeypatch.setitem(sys.modules, "engine.decoders.triton_kernels", None)  # import fails
    with caplog.at_level(logging.WARNING, logger="engine.decoders.step_graph"):
        graphs = build_step_graphs(loaded, (1,), frames=16, text_tokens=16, fused=True)
    assert graphs.runners[2].fused is None and graphs.runners[2].ready
    assert "fused decode step for 2 rows dropped" in caplog.text
    assert "triton_kernels" in caplog.text  # the import that failed, named


# -- compiled for a GPU, without one ---------------------------------------------------

#: Compiles every kernel, in every variant the fused step launches, for a GPU
#: architecture, as Triton does before a first launch (engine.decoders.triton_kernels.
#: compile_variants): no GPU is needed; the interpreter never compiles, so this
#: catches what only the compiler refuses (types of loop-carried values, layouts,
#: shapes of ``tl.dot``).  In a process of its own: the kernels must be defined
#: outside the interpreter.
COMPILE_CHECK = """
import sys
from engine.decoders.triton_kernels import compile_variants

for dtype in sys.argv[2].split(","):
    compiled = compile_variants(int(sys.argv[1]), dtype)
    assert all(kernel.asm["cubin"] for _, kernel in compiled)
    print(dtype, len(compiled), flush=True)
"""


def test_the_kernels_compile_for_an_h200(tmp_path: Path) -> None:
    """sm_90 (the H200 of issue 28), float16 (the CUDA default) and float32; own process."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(TRITON_CACHE_DIR=str(tmp_path / "cache"), TRITON_DEFAULT_FP_FUSION="1")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(COMPILE_CHECK), "90", "fp16,fp32"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.split() == ["fp16", "10", "fp32", "10"]


# -- CUDA --------------------------------------------------------------------------

CUDA_CHECK = """
import logging, sys
import torch
from pathlib import Path
from engine import checkpoint
from engine.decoders import triton_kernels
from engine.decoders.step_graph import prepare_step_graphs
logging.basicConfig(level=logging.INFO)
assert not triton_kernels.INTERPRETED
for dtype in ("float32", "float16"):
    loaded = checkpoint.load("debug", Path(sys.argv[1]), device="cuda", dtype=dtype)
    graphs = prepare_step_graphs(loaded, (1, 2), fused=True)
    assert graphs is not None and graphs.graphed, dtype
    kept = {rows: runner.fused is not None for rows, runner in graphs.runners.items()}
    assert all(kept.values()), (dtype, kept)
print("fused step kept on CUDA")
"""


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_fused_step_compiles_captures_and_agrees_on_cuda(tmp_path: Path) -> None:
    """Compiled for the GPU (a process of its own: no interpreter), captured, checked, kept."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CUDA_CHECK), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fused step kept on CUDA" in done.stdout
