"""The CLI, the protocol table and docs/protocol.md stay in step."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bridge import protocol
from bridge.cli import build_parser, main
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
    for reply in protocol.REPLIES:
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


def test_bad_environment_value_is_named():
    with pytest.raises(ValueError, match="MUSICGEN_BRIDGE_PORT='ninety'"):
        ServeConfig.from_sources({}, {"MUSICGEN_BRIDGE_PORT": "ninety"})


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("DECODER", "quick", "decoder must be one of fast, reference"),
        ("CPU_PRECISION", "int4", "cpu_precision must be one of auto, float32, bfloat16, int8"),
        ("MAX_BATCH", "0", "max_batch must be at least 1"),
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
    from bridge.cli import _client

    monkeypatch.setenv("MUSICGEN_BRIDGE_TOKEN", "from-the-environment")
    args = build_parser().parse_args(["status"])
    with _client(args) as client:
        assert client.token == "from-the-environment"
    args = build_parser().parse_args(["status", "--token", "flag-wins-over-env"])
    with _client(args) as client:
        assert client.token == "flag-wins-over-env"
