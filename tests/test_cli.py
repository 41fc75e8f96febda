"""The CLI, the protocol table and docs/protocol.md stay in step."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bridge import protocol, replies
from bridge.cli import main
from bridge.cli_parser import build_parser
from bridge.config import ServeConfig
from engine import errors

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL_DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def _generate_flags() -> dict[str, str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    gen = sub.choices["generate"]
    return {a.dest: a.option_strings[0] for a in gen._actions if a.option_strings}


def test_every_generate_argument_has_a_cli_flag():
    flags = _generate_flags()
    for arg in protocol.GENERATE_ARGS:
        if arg.name == "prompt":
            continue  # positional
        assert arg.flag, f"{arg.name} has no CLI flag"
        assert flags[arg.name] == arg.flag


def test_protocol_doc_covers_every_address_argument_reply_and_error_code():
    for address, args in protocol.ADDRESSES.items():
        assert f"`{address}`" in PROTOCOL_DOC, address
        for arg in args:
            assert re.search(rf"\|\s*`{arg.name}`\s*\|", PROTOCOL_DOC), (address, arg.name)
    for reply in replies.REPLIES:
        assert f"`{reply}`" in PROTOCOL_DOC, reply
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.BridgeError)
    }
    codes.add("engine_unreachable")  # client side only; documented for CLI users
    for code in codes - {"engine_unreachable"}:
        assert f"`{code}`" in PROTOCOL_DOC, code


def test_every_serve_setting_has_a_flag_and_an_environment_variable():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    serve_dests = {a.dest for a in sub.choices["serve"]._actions}
    for field in ServeConfig.__dataclass_fields__:
        assert field in serve_dests, field


def test_environment_fills_in_and_flags_win():
    env = {
        "MUSICGEN_BRIDGE_PORT": "9100",
        "MUSICGEN_BRIDGE_MODEL": "debug",
        "MUSICGEN_BRIDGE_WARMUP": "false",
        "HOME": "/home/p",
    }
    config = ServeConfig.from_sources({"port": None, "model": "facebook/musicgen-medium"}, env)
    assert (config.port, config.model, config.warmup) == (9100, "facebook/musicgen-medium", False)
    assert config.out_dir == Path("/home/p/Music/MusicGen Bridge")


def test_the_engine_gets_the_cpu_settings_from_flags_and_environment(tmp_path):
    from bridge.cli_serve import engine_settings

    args = build_parser().parse_args(["serve", "--cpu-kernel", "onednn"])
    env = {"MUSICGEN_BRIDGE_CPU_PRECISION": "int8", "HOME": str(tmp_path)}
    settings = engine_settings(ServeConfig.from_sources(vars(args), env))
    assert (settings.cpu_kernel, settings.cpu_precision) == ("onednn", "int8")
    default = engine_settings(ServeConfig.from_sources({}, {"HOME": str(tmp_path)}))
    assert (default.cpu_kernel, default.cpu_precision) == ("auto", "auto")


def test_bad_environment_value_is_named():
    with pytest.raises(ValueError, match="MUSICGEN_BRIDGE_PORT='ninety'"):
        ServeConfig.from_sources({}, {"MUSICGEN_BRIDGE_PORT": "ninety"})


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("DECODER", "quick", "decoder must be one of fast, reference"),
        (
            "CPU_PRECISION",
            "int4",
            "cpu_precision must be one of auto, float32, bfloat16, int8, int8-dynamic",
        ),
        ("CPU_KERNEL", "mkl", "cpu_kernel must be one of auto, module, onednn"),
        ("MAX_BATCH", "0", "max_batch must be at least 1"),
        ("DTYPE", "float64", "dtype must be one of auto, float32, float16, bfloat16"),
        ("DEVICE", "gpu", "device must be auto, cpu, mps, cuda or cuda:N"),
        ("KEEP_MODELS", "0", "keep_models must be at least 1"),
        ("MEMORY_BUDGET", "-1", "memory_budget must be 0 \\(none\\) or a size in GiB"),
    ],
)
def test_settings_out_of_their_choices_are_refused_in_words(name, value, words):
    with pytest.raises(ValueError, match=words):
        ServeConfig.from_sources({}, {f"MUSICGEN_BRIDGE_{name}": value})


def test_unreachable_engine_exit_code_and_advice(tmp_path, capsys):
    from tests.conftest import free_udp_port

    code = main(
        [
            "generate",
            "x",
            "--port",
            str(free_udp_port()),
            "--timeout",
            "0.5",
            "--result-file",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 3
    assert "Is it running? Start it with `musicgen-bridge serve`" in capsys.readouterr().err
    assert '"engine_unreachable"' in (tmp_path / "r.json").read_text()


def test_serve_refuses_to_listen_beyond_loopback(capsys):
    assert main(["serve", "--host", "0.0.0.0", "--model", "debug"]) == 2
    assert "without a shared token" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--keep-models", "0"], "keep_models must be at least 1"),
        (["--device", "gpu"], "device must be auto, cpu, mps, cuda or cuda:N"),
    ],
)
def test_serve_refuses_bad_settings_in_words(flags, words, capsys):
    assert main(["serve", "--model", "debug", *flags]) == 2
    assert words in capsys.readouterr().err


def test_serve_refuses_a_dtype_outside_its_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--model", "debug", "--dtype", "float64"])
    assert exit_.value.code == 2
    assert "invalid choice: 'float64'" in capsys.readouterr().err


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _has_mps() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


@pytest.mark.skipif(_has_cuda(), reason="this machine has CUDA, so --device cuda is allowed")
def test_serve_refuses_cuda_on_a_machine_without_it(capsys):
    assert main(["serve", "--model", "debug", "--device", "cuda"]) == 2
    assert "--device cuda: this machine has no CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(_has_mps(), reason="this machine has MPS, so --device mps is allowed")
def test_serve_refuses_mps_on_a_machine_without_it(capsys):
    assert main(["serve", "--model", "debug", "--device", "mps"]) == 2
    assert "--device mps: Apple's Metal (MPS) is not available" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["debug", "debug-stereo", "debug-melody"])
def test_download_of_a_debug_checkpoint_says_it_is_built_in(name, tmp_path):
    from tests.conftest import cli_executable

    # No Hub: offline, and a cache that stays empty.
    env = {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [cli_executable(), "download", name], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.returncode == 0, run.stderr
    assert f"{name} is built in" in run.stdout
    assert not list(tmp_path.iterdir())


def test_download_without_internet_says_so(tmp_path):
    from tests.conftest import cli_executable

    env = {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [cli_executable(), "download", "facebook/musicgen-small"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert run.returncode == 1
    assert "Could not download 'facebook/musicgen-small'" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "command", ["serve", "generate", "status", "ping", "models", "cancel", "download"]
)
def test_help_on_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: musicgen-bridge" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("host", "token", "problem"),
    [
        ("127.0.0.1", None, None),
        ("localhost", None, None),
        ("0.0.0.0", None, "without a shared token"),
        ("192.168.1.20", None, "without a shared token"),
        ("0.0.0.0", "short", "at least 16 characters"),
        ("0.0.0.0", "a-long-enough-secret", None),
    ],
)
def test_listening_beyond_loopback_needs_a_token(host, token, problem):
    from bridge.config import listen_problem

    found = listen_problem(ServeConfig(host=host, token=token))
    assert (found is None) if problem is None else (problem in found)


def test_clients_send_the_token_from_the_environment(monkeypatch):
    from bridge.cli_common import engine_client

    monkeypatch.setenv("MUSICGEN_BRIDGE_TOKEN", "from-the-environment")
    args = build_parser().parse_args(["status"])
    with engine_client(args) as client:
        assert client.token == "from-the-environment"
    args = build_parser().parse_args(["status", "--token", "flag-wins-over-env"])
    with engine_client(args) as client:
        assert client.token == "flag-wins-over-env"


# -- generate: refused before the request, and told what happened ------------------


@pytest.fixture
def silent_engine():
    """A UDP port that receives and never answers: (port, how many datagrams came)."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)

    def received() -> int:
        count = 0
        while True:
            try:
                sock.recvfrom(65535)
            except TimeoutError:
                return count
            count += 1

    yield sock.getsockname()[1], received
    sock.close()


def test_play_without_its_extra_is_refused_before_the_request(
    silent_engine, monkeypatch, capsys, tmp_path
):
    """It failed only after the take, and exited 0."""
    import sys

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import raises ImportError
    port, received = silent_engine
    args = ["generate", "x", "--play", "--port", str(port), "--timeout", "0.3"]
    assert main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'musicgen-bridge[playback]'" in err and "Nothing was sent" in err
    assert received() == 0


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_a_result_file_that_cannot_be_written_is_refused_before_the_request(
    silent_engine, capsys, tmp_path, where
):
    """A missing folder gave a traceback and exit 1 after the take, its path never printed."""
    port, received = silent_engine
    target = tmp_path / "MISSING" / "res.json" if where == "missing folder" else tmp_path
    args = ["generate", "x", "--port", str(port), "--timeout", "0.3"]
    assert main([*args, "--result-file", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--result-file" in err and "Nothing was sent" in err and "Traceback" not in err
    assert received() == 0


@pytest.fixture
def fake_engine_server(tmp_path):
    from tests.fakes import FakeEngine
    from tests.test_load import in_process_server

    engine = FakeEngine(steps=400, step_s=0.01)
    with in_process_server(engine, model="fake", out_dir=tmp_path) as server:
        yield server, engine


def test_ctrl_c_cancels_the_take_and_says_cancelled(fake_engine_server, monkeypatch, capsys):
    """Ctrl-C cancelled the take and printed nothing."""
    from bridge import cli_generate

    server, engine = fake_engine_server

    def interrupted(self, fraction, stage):  # Ctrl-C while the take runs
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_generate._ProgressBar, "update", interrupted)
    port = str(server.address[1])
    assert main(["generate", "x", "--port", port, "--id", "ctrlc", "--seconds", "1"]) == 130
    assert "cancelled (ctrlc stops at its next step" in capsys.readouterr().err
    assert engine.ran == ["x"]


def test_a_result_file_that_fails_after_the_take_still_prints_its_path(
    fake_engine_server, monkeypatch, capsys, tmp_path
):
    import os

    from bridge import cli_generate

    server, _ = fake_engine_server
    real_replace = os.replace

    def disk_full(src, dst, *args, **kwargs):
        if str(dst).endswith("res.json"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(cli_generate.os, "replace", disk_full)
    port = str(server.address[1])
    code = main(["generate", "x", "--port", port, "--result-file", str(tmp_path / "res.json")])
    out, err = capsys.readouterr()
    assert code == 1 and out.strip().endswith("x.wav")
    assert "could not write the result file" in err and "No space left on device" in err
    assert "The take is at" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
