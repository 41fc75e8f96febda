"""Cross-attention folded into the text (engine.decoders.cross_fold).

The fold computes the same numbers summed in another order, so it is held to
what any kernel change is held to (tests/agreement.py): fed the same tokens, a
run's logits equal the projected path's, and transformers', to float
tolerance.  The debug checkpoints' heads are 8 wide, too narrow for their
prompts' fold to pay by bytes, so these tests fold by hand
(``fold_pays``); MusicGen-small's shape folds on its own
(tests/test_fast_decode.py, ``test_small_size_checkpoint_equals_reference``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine import checkpoint  # noqa: E402
from engine.decoders import cross_fold  # noqa: E402
from engine.decoders.contract import DecodeInputs, forced_logits  # noqa: E402
from engine.decoders.linears import PackedLinear, apply_kernel  # noqa: E402
from engine.decoders.loop import Run, fast_decode  # noqa: E402
from engine.decoders.precision import prepare_for_cpu  # noqa: E402
from engine.decoders.reference import reference_decode  # noqa: E402
from tests.agreement import assert_logits_close, tolerance  # noqa: E402

FRAMES = 6


@pytest.fixture(scope="module")
def debug(cache_dir: Path) -> checkpoint.LoadedModel:
    return checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")


@pytest.fixture()
def fold(monkeypatch: pytest.MonkeyPatch):
    """Set whether runs fold (``fold(True)``), whatever the bytes say."""

    def set_fold(on: bool) -> None:
        monkeypatch.setattr(cross_fold, "fold_pays", lambda *args: on)

    return set_fold


def inputs_for(loaded: checkpoint.LoadedModel, prompts: list[str], guidance: float) -> DecodeInputs:
    tok = loaded.tokenizer(prompts, return_tensors="pt", padding=True)
    return DecodeInputs(tok.input_ids, tok.attention_mask, guidance=guidance)


def codes_for(loaded: checkpoint.LoadedModel, batch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(5)
    codebooks = loaded.model.decoder.num_codebooks
    return torch.randint(0, 2048, (batch, codebooks, FRAMES), generator=gen)


def test_the_fold_pays_while_it_reads_fewer_numbers() -> None:
    # 2 * texts * heads * tokens * D folded numbers against 2 * D * D: texts * tokens < head_dim.
    assert cross_fold.fold_pays(1, 63, 64)
    assert not cross_fold.fold_pays(1, 64, 64)
    assert cross_fold.fold_pays(3, 21, 64)
    assert not cross_fold.fold_pays(4, 16, 64)


CASES = {
    "one prompt": (["warm analog bassline"], 3.0),
    # Two takes share a prompt, one is padded: three takes, two texts, a mask.
    "two texts, padded": (
        ["dusty boom bap drums", "dusty boom bap drums", "airy pads over a slow four on the floor"],
        3.0,
    ),
    "no guidance": (["dusty boom bap drums", "airy pads over a slow four on the floor"], 1.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_folded_logits_equal_the_projected_and_transformers(debug, fold, case: str) -> None:
    prompts, guidance = CASES[case]
    inputs = inputs_for(debug, prompts, guidance)
    codes = codes_for(debug, len(prompts))
    with torch.inference_mode():
        fold(True)
        run = Run(debug, inputs, FRAMES)
        assert isinstance(run.cross, cross_fold.FoldedCross)
        assert run.cross.texts == len(set(prompts)) and not run.cross_kv
        folded = forced_logits(fast_decode, debug, inputs, codes)
        fold(False)
        assert not isinstance(Run(debug, inputs, FRAMES).cross, cross_fold.FoldedCross)
        projected = forced_logits(fast_decode, debug, inputs, codes)
        reference = forced_logits(reference_decode, debug, inputs, codes)
    assert_logits_close(folded, projected, "folded against projected")
    assert_logits_close(folded, reference, "folded against transformers")


def test_a_take_folded_into_another_take_s_text_is_caught(debug, fold, monkeypatch) -> None:
    """A control: the comparison sees a fold that gives a take the wrong text."""
    prompts, guidance = CASES["two texts, padded"]
    inputs = inputs_for(debug, prompts, guidance)
    codes = codes_for(debug, len(prompts))
    fold(True)
    right = cross_fold.FoldedCross.__init__

    def wrong(self, stack, states, mask, text_of_take):
        right(self, stack, states, mask, [1 - text for text in text_of_take])

    with torch.inference_mode():
        reference = forced_logits(reference_decode, debug, inputs, codes)
        monkeypatch.setattr(cross_fold.FoldedCross, "__init__", wrong)
        swapped = forced_logits(fast_decode, debug, inputs, codes)
    assert float((swapped - reference).abs().max()) > tolerance(reference)


#: How the model is prepared, the class its folded products get, and their dtype.
FOLD_VARIANTS = {
    "onednn": (
        lambda loaded: apply_kernel(loaded, "onednn", fuse=True),
        PackedLinear,
        torch.float32,
    ),
    # Weight-only int8 folds the weights its products use (dequantized) into bf16 products.
    "int8": (lambda loaded: prepare_for_cpu(loaded, "int8"), torch.nn.Linear, torch.bfloat16),
}


@pytest.mark.parametrize("variant", list(FOLD_VARIANTS))
def test_folded_weights_take_the_model_s_kernel_and_precision(cache_dir, fold, variant) -> None:
    prepare, product, dtype = FOLD_VARIANTS[variant]
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    prepare(loaded)
    prompts, guidance = CASES["two texts, padded"]
    inputs = inputs_for(loaded, prompts, guidance)
    codes = codes_for(loaded, len(prompts))
    fold(True)
    with torch.inference_mode():
        run = Run(loaded, inputs, FRAMES)
        assert isinstance(run.cross, cross_fold.FoldedCross)
        for folded_product in (run.cross.layers[0].scores, run.cross.layers[0].output):
            assert type(folded_product) is product
            assert cross_fold.dense_weight(folded_product).dtype == dtype
        folded = forced_logits(fast_decode, loaded, inputs, codes)
        reference = forced_logits(reference_decode, loaded, inputs, codes)
    assert_logits_close(folded, reference, f"folded ({variant}) against transformers", dtype)


def test_dynamic_int8_layers_keep_the_projected_cross_attention(cache_dir, fold) -> None:
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    prepare_for_cpu(loaded, "int8-dynamic")
    inputs = inputs_for(loaded, ["warm analog bassline"], 3.0)
    fold(True)
    with torch.inference_mode():
        run = Run(loaded, inputs, FRAMES)
    assert not cross_fold.foldable(run.stack)
    assert run.cross is not None and not isinstance(run.cross, cross_fold.FoldedCross)
    assert len(run.cross_kv) == len(run.layers)


def test_a_biased_projection_keeps_the_projected_cross_attention(cache_dir, fold) -> None:
    """The fold leaves biases out (MusicGen has none): a checkpoint with one projects."""
    loaded = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    attn = loaded.model.decoder.model.decoder.layers[-1].encoder_attn
    attn.out_proj.bias = torch.nn.Parameter(torch.ones(attn.out_proj.out_features))
    inputs = inputs_for(loaded, ["warm analog bassline"], 3.0)
    codes = codes_for(loaded, 1)
    fold(True)
    with torch.inference_mode():
        run = Run(loaded, inputs, FRAMES)
        assert not isinstance(run.cross, cross_fold.FoldedCross)
        got = forced_logits(fast_decode, loaded, inputs, codes)
        reference = forced_logits(reference_decode, loaded, inputs, codes)
    assert_logits_close(got, reference, "a biased out_proj, projected")


def test_a_continuation_prompt_prefills_through_the_fold(debug, fold) -> None:
    """A prompt's frames go through the fold in one prefill pass (n > 1 positions)."""
    tok = debug.tokenizer(["dusty boom bap drums", "slow jazz"], return_tensors="pt", padding=True)
    codes = codes_for(debug, 2)
    inputs = DecodeInputs(
        tok.input_ids, tok.attention_mask, prompt_codes=codes[:, :, :3], guidance=3.0
    )
    with torch.inference_mode():
        fold(True)
        folded = forced_logits(fast_decode, debug, inputs, codes)
        reference = forced_logits(reference_decode, debug, inputs, codes)
    assert_logits_close(folded, reference, "a continuation, folded")
