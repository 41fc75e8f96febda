"""Triton kernels of the fused decode step (engine.decoders.fused_step).

Four kernels make a MusicGen decoder step of one token column, ``R`` rows:

- :func:`embed`: the codebooks' token embeddings summed, plus the position's
  row of the sinusoidal table, in one pass;
- :func:`linear`: a product ``x @ W.T`` for every row, its prologue an
  optional layer norm of ``x`` (statistics in float32, two passes), its
  epilogue an optional bias, GELU (exact, erf) and residual add; the weights
  are read once for all rows (the decode step is a batched GEMV: at most 16
  rows);
- :func:`qkv`: :func:`linear` with the layer norm, over q, k and v's weights
  stacked, whose epilogue writes the query out and the key and value straight
  into the static KV cache at the step's position;
- :func:`attention`: one decode-attention kernel per (row, head) with an
  online softmax, over the self-attention cache up to the position (read from
  device memory, so one CUDA graph serves every step: only the slots written
  so far are read), or over the padded text under its mask.  A row with
  nothing to attend (a guidance row's empty text) gets zeros, as
  ``scaled_dot_product_attention`` gives.

Accumulation is in float32; products run through ``tl.dot`` (tensor cores
in half precision, ``ieee`` precision in float32, never TF32).  With
``TRITON_INTERPRET=1`` set before Triton is imported, the same kernels run on
the CPU over CPU tensors: that is how the tests compare them with the eager
step (tests/test_fused_step.py).  Triton itself is imported when this module
is.
"""

from __future__ import annotations

import os
from typing import Any

import triton
import triton.language as tl

#: Activations the epilogue knows (``MusicgenDecoderConfig.activation_function``).
ACTIVATIONS = {None: 0, "gelu": 1, "relu": 2}
#: Kernels run by Triton's interpreter (``TRITON_INTERPRET=1``, on the CPU), as decided
#: when this module is imported (that is when Triton decides it too).
INTERPRETED = os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on")
# Output columns, input columns and cache slots a program takes at a time.  On a GPU
# (not measured yet: benchmarks/fused_step.py is for that): narrow column tiles, so
# that a decode step's products (a few rows, weights read once) spread over many
# programs, since they are bound by reading the weights.  The interpreter runs each
# program in numpy: wide tiles make fewer, faster programs.
_BLOCK_N = 2048 if INTERPRETED else 16
_BLOCK_K = 64 if INTERPRETED else 128
_BLOCK_L = 256 if INTERPRETED else 128


def _pow2(n: int, least: int = 16) -> int:
    return max(least, triton.next_power_of_2(int(n)))


@triton.jit
def _layer_norm_stats(
    x_ptr, stride_x, rows, rmask, D, eps, BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr
):
    """Mean and 1/std of each row of ``x [R, D]`` in float32 (two passes: mean, then variance)."""
    total = tl.zeros([BLOCK_R], dtype=tl.float32)
    for k0 in range(0, D, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        m = rmask[:, None] & (ks < D)[None, :]
        x = tl.load(x_ptr + rows[:, None] * stride_x + ks[None, :], mask=m, other=0.0)
        total += tl.sum(x.to(tl.float32), axis=1)
    mean = total / D
    squares = tl.zeros([BLOCK_R], dtype=tl.float32)
    for k0 in range(0, D, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        m = rmask[:, None] & (ks < D)[None, :]
        x = tl.load(x_ptr + rows[:, None] * stride_x + ks[None, :], mask=m, other=0.0)
        centred = tl.where(m, x.to(tl.float32) - mean[:, None], 0.0)
        squares += tl.sum(centred * centred, axis=1)
    rstd = 1.0 / tl.sqrt(squares / D + eps)
    return mean, rstd


@triton.jit
def _product_tile(
    x_ptr,
    w_ptr,
    ln_w_ptr,
    ln_b_ptr,
    eps,
    R,
    N,
    D,
    stride_x,
    pid,
    HAS_LN: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    """``layer_norm(x) @ W.T`` (or ``x @ W.T``) for columns ``pid * BLOCK_N ...``: float32."""
    rows = tl.arange(0, BLOCK_R)
    rmask = rows < R
    cols = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    nmask = cols < N
    if HAS_LN:
        mean, rstd = _layer_norm_stats(x_ptr, stride_x, rows, rmask, D, eps, BLOCK_R, BLOCK_K)
    acc = tl.zeros([BLOCK_R, BLOCK_N], dtype=tl.float32)
    for k0 in range(0, D, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        kmask = ks < D
        xm = rmask[:, None] & kmask[None, :]
        x = tl.load(x_ptr + rows[:, None] * stride_x + ks[None, :], mask=xm, other=0.0)
        w = tl.load(
            w_ptr + cols[:, None] * D + ks[None, :], mask=nmask[:, None] & kmask[None, :], other=0.0
        )
        if HAS_LN:
            g = tl.load(ln_w_ptr + ks, mask=kmask, other=0.0).to(tl.float32)
            b = tl.load(ln_b_ptr + ks, mask=kmask, other=0.0).to(tl.float32)
            xf = (x.to(tl.float32) - mean[:, None]) * rstd[:, None] * g[None, :] + b[None, :]
            x = tl.where(xm, xf, 0.0)
        # The normalised input rounded to the weights' dtype, as the eager step's norm output is.
        acc += tl.dot(x.to(w.dtype), tl.trans(w), input_precision="ieee")
    return acc, rows, rmask, cols, nmask


@triton.jit
def _linear_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    res_ptr,
    out_ptr,
    ln_w_ptr,
    ln_b_ptr,
    eps,
    R,
    N,
    D,
    stride_x,
    stride_out,
    HAS_LN: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    ACT: tl.constexpr,
    HAS_RES: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid = tl.program_id(0)
    acc, rows, rmask, cols, nmask = _product_tile(
        x_ptr,
        w_ptr,
        ln_w_ptr,
        ln_b_ptr,
        eps,
        R,
        N,
        D,
        stride_x,
        pid,
        HAS_LN,
        BLOCK_R,
        BLOCK_N,
        BLOCK_K,
    )
    m = rmask[:, None] & nmask[None, :]
    if HAS_BIAS:
        acc += tl.load(b_ptr + cols, mask=nmask, other=0.0).to(tl.float32)[None, :]
    if ACT == 1:
        acc = 0.5 * acc * (1.0 + tl.erf(acc * 0.7071067811865476))
    if ACT == 2:
        acc = tl.maximum(acc, 0.0)
    offsets = rows[:, None] * stride_out + cols[None, :]
    if HAS_RES:  # the residual is read at this tile only: in place (res is out) is safe
        acc += tl.load(res_ptr + offsets, mask=m, other=0.0).to(tl.float32)
    tl.store(out_ptr + offsets, acc.to(out_ptr.dtype.element_ty), mask=m)


@triton.jit
def _qkv_kernel(
    x_ptr,
    w_ptr,
    q_ptr,
    k_ptr,
    v_ptr,
    pos_ptr,
    ln_w_ptr,
    ln_b_ptr,
    eps,
    R,
    D,
    stride_x,
    stride_cr,
    stride_ch,
    stride_cl,
    HEAD_DIM,
    BLOCK_R: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid = tl.program_id(0)
    acc, rows, rmask, cols, nmask = _product_tile(
        x_ptr,
        w_ptr,
        ln_w_ptr,
        ln_b_ptr,
        eps,
        R,
        3 * D,
        D,
        stride_x,
        pid,
        True,
        BLOCK_R,
        BLOCK_N,
        BLOCK_K,
    )
    position = tl.load(pos_ptr)
    part = cols // D  # 0: query, 1: key, 2: value
    within = cols % D
    head = within // HEAD_DIM
    dim = within % HEAD_DIM
    m = rmask[:, None] & nmask[None, :]
    q_at = q_ptr + rows[:, None] * D + within[None, :]
    tl.store(q_at, acc.to(q_ptr.dtype.element_ty), mask=m & (part == 0)[None, :])
    slot = rows[:, None] * stride_cr + (head * stride_ch + position * stride_cl + dim)[None, :]
    tl.store(k_ptr + slot, acc.to(k_ptr.dtype.element_ty), mask=m & (part == 1)[None, :])
    tl.store(v_ptr + slot, acc.to(v_ptr.dtype.element_ty), mask=m & (part == 2)[None, :])


@triton.jit
def _attention_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    mask_ptr,
    pos_ptr,
    out_ptr,
    scale,
    length,
    D,
    HEAD_DIM,
    stride_kr,
    stride_kh,
    stride_kl,
    stride_mr,
    UP_TO_POSITION: tl.constexpr,
    HAS_MASK: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    row = tl.program_id(0)
    head = tl.program_id(1)
    dims = tl.arange(0, BLOCK_D)
    dmask = dims < HEAD_DIM
    q = tl.load(q_ptr + row * D + head * HEAD_DIM + dims, mask=dmask, other=0.0).to(tl.float32)
    q = q * scale
    if UP_TO_POSITION:  # noqa: SIM108 (a constexpr branch, kept plain for the Triton compiler)
        n = tl.load(pos_ptr) + 1  # the slots written so far
    else:
        n = length
    base = row * stride_kr + head * stride_kh
    best = -float("inf")
    total = 0.0
    acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    for l0 in range(0, n, BLOCK_L):
        slots = l0 + tl.arange(0, BLOCK_L)
        seen = slots < n
        if HAS_MASK:
            seen = seen & (tl.load(mask_ptr + row * stride_mr + slots, mask=seen, other=0) != 0)
        at = base + slots[:, None] * stride_kl + dims[None, :]
        km = seen[:, None] & dmask[None, :]
        k = tl.load(k_ptr + at, mask=km, other=0.0).to(tl.float32)
        scores = tl.where(seen, tl.sum(k * q[None, :], axis=1), -float("inf"))
        new_best = tl.maximum(best, tl.max(scores, axis=0))
        shift = tl.where(new_best == -float("inf"), 0.0, new_best)  # nothing seen yet
        p = tl.exp(scores - shift)
        alpha = tl.exp(best - shift)
        v = tl.load(v_ptr + at, mask=km, other=0.0).to(tl.float32)
        total = total * alpha + tl.sum(p, axis=0)
        acc = acc * alpha + tl.sum(p[:, None] * v, axis=0)
        best = new_best
    out = tl.where(total > 0, acc / tl.maximum(total, 1e-30), 0.0)
    tl.store(
        out_ptr + row * D + head * HEAD_DIM + dims, out.to(out_ptr.dtype.element_ty), mask=dmask
    )


@triton.jit
def _embed_kernel(
    ids_ptr,
    table_ptr,
    pos_table_ptr,
    pos_ptr,
    out_ptr,
    CODEBOOKS,
    ENTRIES,
    D,
    BLOCK_D: tl.constexpr,
):
    row = tl.program_id(0)
    dims = tl.arange(0, BLOCK_D)
    dmask = dims < D
    position = tl.load(pos_ptr)
    acc = tl.load(pos_table_ptr + position * D + dims, mask=dmask, other=0.0).to(tl.float32)
    for k in range(0, CODEBOOKS):
        token = tl.load(ids_ptr + row * CODEBOOKS + k)
        at = table_ptr + (k * ENTRIES + token) * D + dims
        acc += tl.load(at, mask=dmask, other=0.0).to(tl.float32)
    tl.store(out_ptr + row * D + dims, acc.to(out_ptr.dtype.element_ty), mask=dmask)


# -- launchers -------------------------------------------------------------------


def linear(
    x: Any,
    weight: Any,
    out: Any,
    *,
    bias: Any = None,
    norm: tuple[Any, Any, float] | None = None,
    activation: str | None = None,
    residual: Any = None,
    block_n: int = 0,
    block_k: int = 0,
) -> Any:
    """``out = residual + act(norm(x) @ weight.T + bias)``, each part optional; one kernel.

    Args:
        x: ``[R, D]``, rows contiguous.
        weight: ``[N, D]`` contiguous (an ``nn.Linear``'s).
        out: ``[R, N]``, rows contiguous; may be ``residual`` itself.
        norm: a layer norm's ``(weight, bias, eps)`` applied to ``x`` first.
        activation: None, "gelu" (exact) or "relu".
        block_n, block_k: tile sizes (powers of 2, at least 16; 0: the defaults).
    """
    rows, width = x.shape
    n = weight.shape[0]
    dummy = out
    ln_w, ln_b, eps = norm if norm is not None else (dummy, dummy, 0.0)
    block_n = block_n or _BLOCK_N
    grid = (triton.cdiv(n, block_n),)
    _linear_kernel[grid](
        x,
        weight,
        bias if bias is not None else dummy,
        residual if residual is not None else dummy,
        out,
        ln_w,
        ln_b,
        float(eps),
        rows,
        n,
        width,
        x.stride(0),
        out.stride(0),
        HAS_LN=norm is not None,
        HAS_BIAS=bias is not None,
        ACT=ACTIVATIONS[activation],
        HAS_RES=residual is not None,
        BLOCK_R=_pow2(rows),
        BLOCK_N=block_n,
        BLOCK_K=block_k or min(_BLOCK_K, _pow2(width)),
    )
    return out


def qkv(
    x: Any,
    weight: Any,
    norm: tuple[Any, Any, float],
    query: Any,
    keys: Any,
    values: Any,
    position: Any,
    head_dim: int,
    block_n: int = 0,
    block_k: int = 0,
) -> None:
    """Layer norm, the stacked q/k/v product, the query out and k/v into the cache; one kernel.

    Args:
        x: ``[R, D]``.
        weight: ``[3D, D]``: q, k, v's weights stacked.
        query: ``[R, D]`` (written).
        keys, values: one layer's cache ``[R, heads, length, head_dim]`` (slot
            ``position`` written).
        position: long ``[1]`` on the device.
        block_n, block_k: tile sizes (0: the defaults).
    """
    rows, width = x.shape
    block_n = block_n or _BLOCK_N
    grid = (triton.cdiv(3 * width, block_n),)
    assert keys.stride() == values.stride() and keys.stride(3) == 1
    _qkv_kernel[grid](
        x,
        weight,
        query,
        keys,
        values,
        position,
        norm[0],
        norm[1],
        float(norm[2]),
        rows,
        width,
        x.stride(0),
        keys.stride(0),
        keys.stride(1),
        keys.stride(2),
        head_dim,
        BLOCK_R=_pow2(rows),
        BLOCK_N=block_n,
        BLOCK_K=block_k or min(_BLOCK_K, _pow2(width)),
    )


def attention(
    query: Any,
    keys: Any,
    values: Any,
    out: Any,
    scale: float,
    *,
    position: Any = None,
    mask: Any = None,
    block_l: int = 0,
) -> Any:
    """One query row per (row, head) against a cache; one kernel.

    Args:
        query: ``[R, D]`` (heads side by side).
        keys, values: ``[R, heads, length, head_dim]``, last dim contiguous.
        out: ``[R, D]`` (written).
        position: long ``[1]``: attend slots ``0..position`` only (self-attention).
        mask: bool ``[R, 1, 1, length]``: the slots that count (cross-attention).
        block_l: cache slots a loop iteration takes (0: the default).
    """
    rows, heads, length, head_dim = keys.shape
    assert keys.stride() == values.stride() and keys.stride(3) == 1
    flags = mask.view(rows, length).view(dtype=_uint8()) if mask is not None else out
    _attention_kernel[(rows, heads)](
        query,
        keys,
        values,
        flags,
        position if position is not None else out,
        out,
        float(scale),
        length,
        heads * head_dim,
        head_dim,
        keys.stride(0),
        keys.stride(1),
        keys.stride(2),
        flags.stride(0) if mask is not None else 0,
        UP_TO_POSITION=position is not None,
        HAS_MASK=mask is not None,
        BLOCK_D=_pow2(head_dim, 1),
        BLOCK_L=block_l or _BLOCK_L,
    )
    return out


def embed(ids: Any, table: Any, positions: Any, position: Any, out: Any) -> Any:
    """``out[r] = sum_k table[k, ids[r, k]] + positions[position]``; one kernel.

    Args:
        ids: long ``[R, K, 1]``, contiguous.
        table: ``[K, entries, D]``: the codebooks' embeddings stacked.
        positions: ``[length, D]``, contiguous.
        out: ``[R, D]`` (written).
    """
    rows, codebooks = ids.shape[0], ids.shape[1]
    entries, width = table.shape[1], table.shape[2]
    _embed_kernel[(rows,)](
        ids, table, positions, position, out, codebooks, entries, width, BLOCK_D=_pow2(width, 1)
    )
    return out


def _uint8() -> Any:
    import torch

    return torch.uint8


# -- compiled ahead, without a GPU ---------------------------------------------------


def variants(dtype: str) -> list[tuple[str, Any, dict[str, Any], dict[str, str]]]:
    """Every kernel variant the fused step launches, as Triton compiles it.

    Args:
        dtype: the model's, in Triton's spelling ("fp16", "bf16", "fp32").

    Returns:
        ``(name, kernel, constexprs, signature)`` per variant: out projection /
        fc2 (residual), cross-attention query (norm), fc1 (norm, GELU), heads
        (norm, float32 out), a variant with every option, q/k/v, self- and
        cross-attention, embeddings, the draw (engine.decoders.triton_sampling);
        at this module's tile sizes, for a head size of 64, a width of 1024 and
        a vocabulary of 2048 (musicgen-small's).
    """
    tiles = {"BLOCK_R": 16, "BLOCK_N": _BLOCK_N, "BLOCK_K": _BLOCK_K}
    out = []
    for name, ln, bias, act, res, out_dtype in (
        ("linear: residual", False, False, 0, True, dtype),
        ("linear: norm", True, False, 0, False, dtype),
        ("linear: norm, gelu", True, False, 1, False, dtype),
        ("linear: norm, float32 out", True, False, 0, False, "fp32"),
        ("linear: all options", True, True, 2, True, dtype),
    ):
        flags = {"HAS_LN": ln, "HAS_BIAS": bias, "ACT": act, "HAS_RES": res}
        out.append(
            (name, _linear_kernel, {**flags, **tiles}, _signature(_linear_kernel, dtype, out_dtype))
        )
    out.append(("qkv", _qkv_kernel, dict(tiles), _signature(_qkv_kernel, dtype)))
    for name, self_attention in (("attention: self", True), ("attention: cross", False)):
        flags = {"UP_TO_POSITION": self_attention, "HAS_MASK": not self_attention}
        constants = {**flags, "BLOCK_D": 64, "BLOCK_L": _BLOCK_L}
        out.append((name, _attention_kernel, constants, _signature(_attention_kernel, dtype)))
    out.append(("embed", _embed_kernel, {"BLOCK_D": 1024}, _signature(_embed_kernel, dtype)))
    from engine.decoders import triton_sampling  # the step's draw (its logits are float32)

    sample = {"GUIDED": True, "BLOCK_V": 2048}
    out.append(("sample", triton_sampling._sample_kernel, sample, triton_sampling.signature()))
    return out


def compile_variants(arch: int, dtype: str) -> list[tuple[str, Any]]:
    """Compile :func:`variants` for CUDA architecture ``arch`` (90: Hopper) down to the binary.

    Needs no GPU (Triton's compiler and the ptxas it ships), but kernels defined
    outside the interpreter (``TRITON_INTERPRET`` unset when this module was imported).

    Returns:
        ``(name, compiled kernel)`` per variant (``.asm["ptx"]``, ``.asm["cubin"]``).
    """
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if INTERPRETED:
        raise RuntimeError(
            "these kernels were defined for Triton's interpreter: nothing to compile"
        )
    target = GPUTarget("cuda", arch, 32)
    return [
        (
            name,
            triton.compile(
                ASTSource(fn=kernel, signature=sig, constexprs=constants), target=target
            ),
        )
        for name, kernel, constants, sig in variants(dtype)
    ]


def _signature(kernel: Any, dtype: str, out_dtype: str | None = None) -> dict[str, str]:
    """Triton's type of each argument, from this module's naming of them."""
    signature = {}
    for param in kernel.params:
        name = param.name
        if param.is_constexpr:
            kind = "constexpr"
        elif name in ("ids_ptr", "pos_ptr"):
            kind = "*i64"
        elif name == "mask_ptr":
            kind = "*u8"
        elif name == "out_ptr":
            kind = "*" + (out_dtype or dtype)
        elif name.endswith("_ptr"):
            kind = "*" + dtype
        elif name in ("eps", "scale"):
            kind = "fp32"
        else:
            kind = "i32"
        signature[name] = kind
    return signature
