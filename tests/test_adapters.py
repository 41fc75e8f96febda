"""LoRA adapters: built and saved by peft itself, loaded through the engine's own path.

Each adapter here is made by ``get_peft_model`` on the tiny debug checkpoint
(the whole model, as musicgen-dreamboothing wraps it, or its decoder alone),
with ``init_lora_weights=False`` so that ``lora_B`` is not zero and the adapter
changes the outputs, and saved with ``save_pretrained`` in peft's real on-disk
format.  The engine then loads ``debug+NAME`` exactly as a producer's request
would: found under the adapters folder, merged at load, served by the
engine's own decode loop and kernels.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from bridge import requests  # noqa: E402
from bridge.model_list import format_catalog  # noqa: E402
from engine import adapters, checkpoint  # noqa: E402
from engine.api import Engine, EngineSettings  # noqa: E402
from engine.decoders.contract import DecodeInputs  # noqa: E402
from engine.decoders.loop import fast_decode  # noqa: E402
from engine.decoders.reference import reference_decode  # noqa: E402
from engine.errors import ModelLoadFailed, ModelNotAvailable  # noqa: E402
from engine.sampling import Sampling  # noqa: E402
from engine.spec import GenerationSpec  # noqa: E402
from tests.agreement import assert_logits_close, forced_logits  # noqa: E402
from tests.conftest import run_through_queue, start_engine, stop_engine  # noqa: E402

GREEDY = Sampling(greedy=True)
PROMPTS = ["driving techno with a rolling bassline", "slow jazz"]
# The decoder's linear layers, as musicgen-dreamboothing targets them (the debug
# checkpoint has no enc_to_dec_proj: its text and decoder widths are equal).
TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]
TARGETS += [f"lm_heads.{i}" for i in range(4)] + [f"embed_tokens.{i}" for i in range(4)]


def save_adapter(cache_dir: Path, folder: Path, *, decoder_only: bool = False, seed: int = 0):
    """A tiny random LoRA adapter of ``debug``, saved by peft in its own format."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32").model
    model.name_or_path = "debug"  # what base_model_name_or_path records (the whole model)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False)
    wrapped = get_peft_model(model.decoder if decoder_only else model, config)
    # save_embedding_layers=False: "auto" would look the base up on the Hub.
    wrapped.save_pretrained(str(folder), save_embedding_layers=False)
    return folder


@pytest.fixture(scope="module")
def adapters_dir(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("adapters")
    save_adapter(cache_dir, root / "tiny")
    save_adapter(cache_dir, root / "tiny-decoder", decoder_only=True, seed=1)
    return root


def make_engine(cache_dir: Path, adapters_dir: Path, keep: int = 3, **kw) -> Engine:
    settings = EngineSettings(
        cache_dir=cache_dir,
        device="cpu",
        warmup=False,
        keep_models=keep,
        cpu_precision="float32",  # exact: compared with peft's float32 forward
        adapters_dir=adapters_dir,
        **kw,
    )
    return Engine(settings)


def resident(e: Engine) -> list[str]:
    return [info.model_id for info in e.resident]


def active(e: Engine) -> checkpoint.LoadedModel:
    """The active checkpoint as the engine holds it (merged, prepacked)."""
    assert e._loaded is not None
    return e._loaded


def inputs_for(loaded: checkpoint.LoadedModel) -> DecodeInputs:
    tok = loaded.tokenizer(PROMPTS, return_tensors="pt", padding=True)
    return DecodeInputs(tok.input_ids, tok.attention_mask, guidance=3.0)


def test_peft_saved_the_real_format(adapters_dir):
    """What the tests load is what peft writes (and musicgen-dreamboothing trains)."""
    from safetensors import safe_open

    config = json.loads((adapters_dir / "tiny" / "adapter_config.json").read_text())
    assert (config["peft_type"], config["base_model_name_or_path"]) == ("LORA", "debug")
    with safe_open(str(adapters_dir / "tiny" / "adapter_model.safetensors"), "pt") as fh:
        keys = list(fh.keys())
        b = fh.get_tensor("base_model.model.decoder.lm_heads.0.lora_B.weight")
    assert "base_model.model.decoder.model.decoder.layers.0.self_attn.q_proj.lora_A.weight" in keys
    assert any("lora_embedding_A" in k for k in keys)
    assert float(b.abs().max()) > 0  # a lora_B of zeros would change nothing


@pytest.mark.parametrize("name", ["tiny", "tiny-decoder"])
def test_the_merge_equals_peft_s_own_unmerged_forward(cache_dir, adapters_dir, name):
    """Teacher-forced, the engine's loop on the merged (prepacked) weights gives the logits
    transformers' generate gives through peft's unmerged LoRA layers."""
    from peft import PeftModel

    e = make_engine(cache_dir, adapters_dir)
    e.load(f"debug+{name}")
    merged = active(e)
    assert merged.adapter == adapters_dir / name
    assert not any("lora" in n for n, _ in merged.model.named_modules())  # merged, unloaded
    unmerged = checkpoint.load("debug", cache_dir, device="cpu", dtype="float32")
    target = unmerged.model.decoder if name == "tiny-decoder" else unmerged.model
    PeftModel.from_pretrained(target, str(adapters_dir / name)).eval()  # injects in place
    assert any("lora_A" in n for n, _ in unmerged.model.named_modules())

    inputs = inputs_for(merged)
    codes = reference_decode(unmerged, inputs, 12, GREEDY, [0, 0])
    assert torch.unique(codes).numel() >= 8  # not degenerate
    want = forced_logits(reference_decode, unmerged, inputs, codes)
    got = forced_logits(fast_decode, merged, inputs, codes)
    assert_logits_close(got, want, f"debug+{name} merged vs peft unmerged")


def test_the_adapter_changes_the_tokens_and_a_plain_load_is_the_base(cache_dir, adapters_dir):
    e = make_engine(cache_dir, adapters_dir)
    e.load("debug")
    base = active(e)
    inputs = inputs_for(base)
    base_tokens = fast_decode(base, inputs, 12, GREEDY, [0, 0])
    e.load("debug+tiny")
    tuned = active(e)
    assert tuned is not base and resident(e) == ["debug", "debug+tiny"]
    tuned_tokens = fast_decode(tuned, inputs, 12, GREEDY, [0, 0])
    # Not rounding: fed the same tokens, the logits differ by far more than tolerance...
    base_logits = forced_logits(fast_decode, base, inputs, base_tokens)
    tuned_logits = forced_logits(fast_decode, tuned, inputs, base_tokens)
    with pytest.raises(AssertionError, match="logits differ"):
        assert_logits_close(tuned_logits, base_logits)
    # ...so most greedy tokens differ.
    assert float((tuned_tokens != base_tokens).float().mean()) > 0.5
    # The base stays the base: switching back gives its tokens again, token for token.
    e.load("debug")
    assert active(e) is base
    assert torch.equal(fast_decode(base, inputs, 12, GREEDY, [0, 0]), base_tokens)


def test_sidecars_record_the_base_its_revision_and_the_adapter_hash(
    cache_dir, adapters_dir, tmp_path
):
    """Through the job queue: the adapter's request, then a plain one that gets the base."""
    e = make_engine(cache_dir, adapters_dir)
    tuned, plain = run_through_queue(e, ["debug+tiny", None], tmp_path)
    weights = adapters_dir / "tiny" / "adapter_model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (tuned["model"], tuned["base_model"], tuned["adapter_hash"]) == (
        "debug+tiny",
        "debug",
        digest,
    )
    assert tuned["adapter"] == {
        "name": "tiny",
        "folder": str(adapters_dir / "tiny"),
        "weights_sha256": digest,
        "trained_on": "debug",
    }
    assert tuned["checkpoint"]["source"] == "debug"  # the base's own weights, hashed
    assert tuned["checkpoint"]["weights_sha256"] == plain["checkpoint"]["weights_sha256"]
    assert tuned["params"]["model"] == "debug+tiny"
    assert (plain["model"], plain["base_model"], plain["adapter"], plain["adapter_hash"]) == (
        "debug",
        "debug",
        None,
        None,
    )
    assert resident(e) == ["debug+tiny", "debug"]


def test_a_hub_base_s_revision_is_recorded(tmp_path, cache_dir, adapters_dir, monkeypatch):
    """A base from the Hugging Face cache: the sidecar names its repo and commit."""
    from huggingface_hub import constants

    commit = "c" * 40
    hub = tmp_path / "hub"
    snap = hub / "models--acme--musicgen-tiny" / "snapshots" / commit
    shutil.copytree(checkpoint.resolve("debug", cache_dir), snap)
    (hub / "models--acme--musicgen-tiny" / "refs").mkdir()
    (hub / "models--acme--musicgen-tiny" / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    e = make_engine(cache_dir, adapters_dir)
    spec = GenerationSpec(
        prompt="x", out_dir=tmp_path, seconds=0.1, seed=1, model="acme/musicgen-tiny+tiny"
    )
    e.generate(spec)
    [sidecar] = tmp_path.glob("*.json")
    meta = json.loads(sidecar.read_text())
    assert meta["base_model"] == "acme/musicgen-tiny"
    assert (meta["checkpoint"]["repo"], meta["checkpoint"]["revision"]) == (
        "acme/musicgen-tiny",
        commit,
    )
    assert meta["adapter"]["name"] == "tiny" and len(meta["adapter_hash"]) == 64


def _broken(adapters_dir: Path, tmp_path: Path) -> Path:
    """Adapters that must fail, each in its own way, beside a copy of the good ones."""
    root = tmp_path / "adapters"
    shutil.copytree(adapters_dir, root)
    shutil.copytree(root / "tiny", root / "ia3")
    config = json.loads((root / "ia3" / "adapter_config.json").read_text())
    (root / "ia3" / "adapter_config.json").write_text(json.dumps({**config, "peft_type": "IA3"}))
    shutil.copytree(root / "tiny", root / "pickled")
    (root / "pickled" / "adapter_model.safetensors").rename(root / "pickled" / "adapter_model.bin")
    # Another base's shapes: one lora_A as a wider checkpoint would have it.
    from safetensors.torch import load_file, save_file

    shutil.copytree(root / "tiny", root / "misshapen")
    weights = root / "misshapen" / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    key = "base_model.model.decoder.model.decoder.layers.0.fc1.lora_A.weight"
    tensors[key] = torch.zeros(tensors[key].shape[0], tensors[key].shape[1] + 8)
    save_file(tensors, str(weights))
    shutil.copytree(root / "tiny", root / "nonfinite")
    weights = root / "nonfinite" / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    tensors["base_model.model.decoder.lm_heads.0.lora_B.weight"][0, 0] = float("nan")
    save_file(tensors, str(weights))
    (root / "not-an-adapter").mkdir()
    return root


@pytest.mark.parametrize(
    ("model", "error", "words"),
    [
        ("debug+nothing", ModelNotAvailable, "No LoRA adapter 'nothing'"),
        ("debug+ia3", ModelLoadFailed, "IA3 adapter, not LoRA"),
        ("debug+pickled", ModelLoadFailed, "a pickle"),
        ("debug+misshapen", ModelLoadFailed, "does not fit debug"),
        ("debug-melody+tiny", ModelLoadFailed, "does not fit debug-melody"),
        ("debug+nonfinite", ModelLoadFailed, "are not finite"),
        ("debug+not-an-adapter", ModelNotAvailable, "has no adapter_config.json"),
    ],
)
def test_a_bad_adapter_fails_its_load_alone_and_keeps_the_resident_ones(
    cache_dir, adapters_dir, tmp_path, model, error, words
):
    root = _broken(adapters_dir, tmp_path)
    e = make_engine(cache_dir, root, keep=4)
    e.load("debug")
    e.load("debug+tiny")
    with pytest.raises(error, match=words):
        e.load(model)
    assert resident(e) == ["debug", "debug+tiny"]
    assert e.info is not None and e.info.model_id == "debug+tiny"
    take = e.generate(GenerationSpec(prompt="still here", out_dir=tmp_path, seconds=0.1, seed=1))
    assert json.loads(take.paths[0].with_suffix(".json").read_text())["model"] == "debug+tiny"


def test_an_adapter_folder_is_not_a_checkpoint(adapters_dir, cache_dir):
    with pytest.raises(ModelNotAvailable, match="is a LoRA adapter, not a checkpoint"):
        checkpoint.load(str(adapters_dir / "tiny"), cache_dir)


def test_an_absolute_adapter_path_loads_without_the_adapters_folder(cache_dir, adapters_dir):
    e = make_engine(cache_dir, None)  # type: ignore[arg-type]
    folder = adapters_dir / "tiny-decoder"
    info = e.load(f"debug+{folder}")
    assert info.model_id == f"debug+{folder}" and info.adapter is not None
    assert info.adapter["folder"] == str(folder)
    with pytest.raises(ModelNotAvailable, match="No LoRA adapter 'tiny'"):
        e.load("debug+tiny")  # the default folder, cache_dir/adapters, has none


# -- the bridge's edge ---------------------------------------------------------


def _generate(limits: requests.Limits, **fields) -> requests.GenerateRequest:
    args: list = ["id", "a1", "reply_port", 9001, "prompt", "x", "out_dir", "/tmp"]
    for key, value in fields.items():
        args += [key, value]
    request = requests.parse("/musicgen/generate", args, limits)
    assert isinstance(request, requests.GenerateRequest)
    return request


@pytest.mark.parametrize(
    ("fields", "model"),
    [
        ({"model": "debug+tiny"}, "debug+tiny"),
        ({"model": "debug", "adapter": "tiny"}, "debug+tiny"),
        ({"adapter": "tiny"}, "debug+tiny"),  # the base its adapter_config.json names
        ({"model": "debug-stereo", "adapter": "tiny"}, "debug-stereo+tiny"),
        ({"model": "debug", "adapter": "{dir}/tiny-decoder"}, "debug+{dir}/tiny-decoder"),
        ({"model": "debug+{dir}/tiny-decoder"}, "debug+{dir}/tiny-decoder"),
        ({"model": "acme/musicgen-tiny", "adapter": "tiny"}, "acme/musicgen-tiny+tiny"),
    ],
)
def test_the_edge_names_a_finetune_one_way(adapters_dir, fields, model):
    limits = requests.Limits(adapters_dir=adapters_dir)
    fields = {k: v.format(dir=adapters_dir) for k, v in fields.items()}
    assert _generate(limits, **fields).spec.model == model.format(dir=adapters_dir)


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"adapter": "../tiny"}, "invalid_value", "absolute folder path"),
        ({"adapter": "a+b"}, "invalid_value", "cannot contain '+'"),
        ({"model": "debug+"}, "invalid_value", "An adapter is the name of a folder"),
        ({"model": "+tiny"}, "invalid_value", "names no base"),
        ({"model": "debug+tiny", "adapter": "tiny"}, "invalid_request", "not both"),
        ({"model": "not a model+tiny"}, "invalid_value", "model must be a Hub id"),
        ({"adapter": "nothing"}, "model_not_available", "No LoRA adapter 'nothing'"),
        ({"model": "debug+nothing"}, "model_not_available", "No LoRA adapter"),
        ({"adapter": "tiny-decoder"}, "missing_argument", "does not name its base"),
        ({"adapter": 3}, "wrong_type", "adapter must be a string"),
    ],
)
def test_the_edge_refuses_a_bad_adapter_in_words(adapters_dir, fields, code, words):
    limits = requests.Limits(adapters_dir=adapters_dir)
    with pytest.raises(requests.RequestRejected, match=re.escape(words)) as caught:
        _generate(limits, **fields)
    assert caught.value.code == code
    assert caught.value.request_id == "a1"


def test_a_bare_adapter_name_needs_an_adapters_folder():
    with pytest.raises(requests.RequestRejected, match="no adapters folder") as caught:
        _generate(requests.Limits(), model="debug+tiny")
    assert caught.value.code == "model_not_available"


# -- what is on this machine ---------------------------------------------------


def test_models_lists_adapters_with_their_base(cache_dir, adapters_dir, tmp_path):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    # musicgen-dreamboothing saves the model's config.json beside the adapter:
    # under --models-dir such a folder is an adapter, not a checkpoint.
    dreambooth = models_dir / "punk"
    shutil.copytree(adapters_dir / "tiny", dreambooth)
    shutil.copy(checkpoint.resolve("debug", cache_dir) / "config.json", dreambooth)
    e = make_engine(cache_dir, adapters_dir, models_dir=models_dir)
    entries = {x.name: x for x in e.catalog()}
    tuned = entries["debug+tiny"]
    assert (tuned.kind, tuned.state, tuned.base, tuned.source) == (
        "adapter",
        "ready",
        "debug",
        str((adapters_dir / "tiny").resolve()),
    )
    assert tuned.size_bytes == sum(p.stat().st_size for p in (adapters_dir / "tiny").iterdir())
    nameless = entries["tiny-decoder"]  # its config names no base
    assert (nameless.kind, nameless.base) == ("adapter", "")
    assert str(dreambooth.resolve()) not in entries
    kinds = [x.kind for x in e.catalog()]
    assert kinds.index("adapter") > kinds.index("debug")
    assert kinds.index("adapter") < kinds.index("release")

    assert "debug+tiny" in e.available_models() and "tiny-decoder" not in e.available_models()
    e.load("debug+tiny")
    assert {x.name: x.state for x in e.catalog()}["debug+tiny"] == "resident"
    e.load(f"debug+{adapters_dir / 'tiny'}")  # the same adapter by path: resident too
    e.unload("debug+tiny")
    assert {x.name: x.state for x in e.catalog()}["debug+tiny"] == "resident"
    assert {x.name: x.state for x in e.catalog()}["debug"] == "ready"  # the base alone is not

    plain = {"state": "ready", "revision": "", "size_mb": 1.0, "melody": False, "source": ""}
    table = format_catalog(
        [{**plain, "name": x.name, "kind": x.kind, "base": x.base} for x in e.catalog()]
    )
    assert "LoRA adapters (under --adapters-dir" in table
    assert "on debug" in table and "names no base: send --model too" in table


def test_one_folder_can_hold_checkpoints_and_adapters(cache_dir, adapters_dir, tmp_path):
    """--models-dir and --adapters-dir the same folder: each scan keeps its own memo."""
    both = tmp_path / "both"
    shutil.copytree(adapters_dir, both)
    shutil.copytree(checkpoint.resolve("debug", cache_dir), both / "my-checkpoint")
    for folder in [both, *both.iterdir()]:  # settled: scans of it are remembered
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    e = make_engine(cache_dir, both, models_dir=both)
    for _ in range(2):  # the second listing comes from the memo
        kinds = {x.name: x.kind for x in e.catalog()}
        assert kinds[str((both / "my-checkpoint").resolve())] == "folder"
        assert kinds["debug+tiny"] == "adapter"
        assert "my-checkpoint" not in kinds and str((both / "tiny").resolve()) not in kinds


def test_serve_adapters_dir_generate_adapter_and_models_details(
    cache_dir, adapters_dir, tmp_path, capsys
):
    """A real engine on loopback: --adapters-dir, the CLI's --adapter, and models details."""
    from bridge.cli import main
    from bridge.client import EngineClient

    engine = start_engine(cache_dir, tmp_path, "--no-warmup", "--adapters-dir", str(adapters_dir))
    out = tmp_path / "takes"
    out.mkdir()
    try:
        flags = ["--seconds", "0.1", "--out", str(out), "--port", str(engine.port)]
        assert main(["generate", "x", "--adapter", "tiny", *flags]) == 0
        with EngineClient("127.0.0.1", engine.port, timeout=5.0) as client:
            _, names, entries, missing = client.catalog()
            status = client.status()
    finally:
        stop_engine(engine)
    [sidecar] = out.glob("*.json")
    assert json.loads(sidecar.read_text())["model"] == "debug+tiny"
    assert "debug+tiny" in names and missing == 0
    [entry] = [x for x in entries if x["kind"] == "adapter" and x["name"] == "debug+tiny"]
    assert (entry["base"], entry["state"]) == ("debug", "resident")
    assert {x["base"] for x in entries if x["kind"] != "adapter"} == {""}
    assert [m["model"] for m in status["resident"]] == ["debug", "debug+tiny"]


def test_serve_refuses_an_adapters_dir_that_is_not_a_folder(tmp_path, capsys):
    from bridge.cli import main

    assert main(["serve", "--model", "debug", "--adapters-dir", str(tmp_path / "nope")]) == 2
    assert "--adapters-dir" in capsys.readouterr().err


def test_split_and_join_are_one_rule():
    assert adapters.split("debug") == ("debug", None)
    assert adapters.split("facebook/musicgen-small+punk") == ("facebook/musicgen-small", "punk")
    assert adapters.split("/my+models/small+/a/punk") == ("/my+models/small", "/a/punk")
    assert adapters.join(*adapters.split("debug+punk")) == "debug+punk"  # type: ignore[arg-type]
