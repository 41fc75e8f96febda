"""The built VST3 plugin (plugin/, issue 24) in real plugin hosts.

pedalboard and DawDreamer both host VST3 through JUCE, as a DAW does: they load
the `.vst3` that `make plugin` built, list its parameters, run its processBlock
with their own playhead, and save and restore its state.  With a debug engine on
loopback, a take is triggered through a parameter (as host automation would),
and the rendered output must carry the take's WAV from the anchor bar, sample
for sample.

The plugin's state is JUCE's: the host wraps the plugin's own block (the
`VC2!` + XML that getStateInformation writes) in its VST3 state, base64-encoded
the JUCE way.  `PluginState` reads and rewrites it, so the tests set the prompt
and the engine's port the way a host restoring a project does.
"""

from __future__ import annotations

import re
import signal
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import cli_executable, free_udp_port, start_engine, stop_engine

REPO = Path(__file__).resolve().parent.parent
PLUGIN_BUILD = REPO / "plugin" / "build"
VST3 = PLUGIN_BUILD / "MusicGenBridge_artefacts" / "Release" / "VST3" / "MusicGen Bridge.vst3"
TAKE_TIMEOUT_S = 90


def plugin_path() -> str:
    """The built .vst3; a missing build fails the test with what to do."""
    if not sys.platform.startswith("linux"):
        pytest.skip(
            "the host tests load the Linux build of the plugin; on macOS and Windows build it with"
            " CMake (docs/plugin.md) and check it in a DAW"
        )
    if not VST3.is_dir():
        pytest.fail(
            f"The plugin is not built: {VST3} is missing."
            " Build it with `make plugin` (`make test` does)."
        )
    return str(VST3)


# --- JUCE's state encoding -----------------------------------------------------------------

_B64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"


def juce_base64_decode(text: str) -> bytes:
    """juce::MemoryBlock::fromBase64Encoding: `size.`, then 6 bits a character, low bits first."""
    size_text, encoded = text.split(".", 1)
    size = int(size_text)
    out = bytearray(size)
    bit = 0
    for ch in encoded:
        value = _B64.index(ch)
        for b in range(6):
            if value >> b & 1 and (bit + b) // 8 < size:
                out[(bit + b) // 8] |= 1 << ((bit + b) % 8)
        bit += 6
    return bytes(out)


def juce_base64_encode(data: bytes) -> str:
    bits = len(data) * 8
    chars = []
    for start in range(0, bits, 6):
        value = 0
        for b in range(6):
            at = start + b
            if at < bits and data[at // 8] >> (at % 8) & 1:
                value |= 1 << b
        chars.append(_B64[value])
    return f"{len(data)}." + "".join(chars)


def _xml_block(data: bytes) -> tuple[str, bytes]:
    """A `VC2!` block (juce::AudioProcessor::copyXmlToBinary): its XML, and what follows it."""
    assert data[:4] == b"VC2!", data[:16]
    (size,) = struct.unpack("<I", data[4:8])
    text = data[8 : 8 + size].rstrip(b"\0").decode("utf-8")
    return text, data[8 + size :]


def _xml_to_block(text: str, rest: bytes) -> bytes:
    body = text.encode("utf-8") + b"\0"
    return b"VC2!" + struct.pack("<I", len(body)) + body + rest


class PluginState:
    """The plugin's own XML inside a host's VST3 state (pedalboard's raw_state, DawDreamer's)."""

    def __init__(self, raw: bytes) -> None:
        self.outer, self.outer_rest = _xml_block(raw)
        match = re.search(r"<IComponent>([^<]*)</IComponent>", self.outer)
        assert match, self.outer[:300]
        self.inner, self.inner_rest = _xml_block(juce_base64_decode(match.group(1)))
        self.root = ET.fromstring(self.inner)

    @property
    def settings(self) -> ET.Element:
        found = self.root.find("Settings")
        assert found is not None
        return found

    def param(self, name: str) -> float:
        for p in self.root.iter("PARAM"):
            if p.get("id") == name:
                return float(p.get("value", "nan"))
        raise KeyError(name)

    def host_seen(self) -> dict[str, str]:
        found = self.root.find("HostSeen")
        assert found is not None
        return dict(found.attrib)

    def status(self) -> dict[str, str]:
        found = self.root.find("Status")
        return dict(found.attrib) if found is not None else {}

    def takes(self) -> list[dict[str, str]]:
        return [dict(t.attrib) for t in self.root.iter("Take")]

    def encode(self) -> bytes:
        inner = _xml_to_block(ET.tostring(self.root, encoding="unicode"), self.inner_rest)
        outer = re.sub(
            r"<IComponent>[^<]*</IComponent>",
            f"<IComponent>{juce_base64_encode(inner)}</IComponent>",
            self.outer,
        )
        return _xml_to_block(outer, self.outer_rest)


def test_juce_base64_round_trip() -> None:
    for data in (b"", b"\x00", b"abc", bytes(range(256))):
        assert juce_base64_decode(juce_base64_encode(data)) == data


# --- pedalboard ------------------------------------------------------------------------------


def load_in_pedalboard():
    import pedalboard  # a dev dependency (pyproject.toml)

    # initialization_timeout=0: pedalboard otherwise plays an instrument a note and waits up to
    # 10 s for sound ("warm-up"); this one is silent until it has a take, by design.
    return pedalboard.load_plugin(plugin_path(), initialization_timeout=0)


@pytest.fixture
def pedalboard_plugin():
    return load_in_pedalboard()


def test_pedalboard_loads_it_as_an_instrument_with_its_parameters(pedalboard_plugin) -> None:
    p = pedalboard_plugin
    assert p.is_instrument
    names = set(p.parameters.keys())
    assert {
        "bars",
        "variations",
        "play_in_sync",
        "loop",
        "anchor_bar",
        "capture_midi_melody",
        "generate_on_rise",
    } <= names
    assert p.bars.min_value == 1 and p.bars.max_value == 64
    assert p.anchor_bar.min_value == 1


@pytest.mark.parametrize("rate", [44100, 48000])
def test_pedalboard_processes_audio_at_the_hosts_rate(pedalboard_plugin, rate: int) -> None:
    p = pedalboard_plugin
    out = p([], duration=0.5, sample_rate=rate)
    assert out.shape == (2, rate // 2)
    assert np.all(np.isfinite(out))
    assert not np.any(out), "no take yet: the plugin must be silent"
    seen = PluginState(p.raw_state).host_seen()
    assert float(seen["sampleRate"]) == rate  # prepared at the host's rate


def test_pedalboard_state_round_trip_keeps_prompt_settings_and_takes(
    pedalboard_plugin, tmp_path
) -> None:
    p = pedalboard_plugin
    state = PluginState(p.raw_state)
    s = state.settings
    s.set("prompt", "dusty lo-fi drums, warm rhodes")
    s.set("seed", "1234")
    s.set("loudness", "-14")
    s.set("model", "debug-stereo")
    s.set("outDir", str(tmp_path))
    take = tmp_path / "kept.wav"
    sf.write(take, np.zeros(100, dtype=np.float32), 48000, subtype="PCM_24")
    takes = s.find("Takes")
    assert takes is not None
    ET.SubElement(
        takes,
        "Take",
        path=str(take),
        prompt="p",
        model="debug",
        timesig="7/8",
        bars="2.0",
        bpm="128.0",
        seed="5",
        sampleRate="48000",
    )
    ET.SubElement(
        takes,
        "Take",
        path=str(tmp_path / "gone.wav"),
        prompt="q",
        timesig="4/4",
        bars="1.0",
        bpm="120.0",
    )
    p.raw_state = state.encode()
    p.bars = 16

    again = load_in_pedalboard()
    again.raw_state = p.raw_state
    back = PluginState(again.raw_state)
    b = back.settings
    assert b.get("prompt") == "dusty lo-fi drums, warm rhodes"
    assert b.get("seed") == "1234"
    assert b.get("loudness") == "-14"
    assert b.get("model") == "debug-stereo"
    assert b.get("outDir") == str(tmp_path)
    assert back.param("bars") == 16
    assert [t["path"] for t in back.takes()] == [str(take), str(tmp_path / "gone.wav")]
    assert back.takes()[0]["timesig"] == "7/8"
    # The take whose file is gone is kept, and said in words.
    notice = back.status().get("notice", "")
    assert "gone.wav" in notice and "not on this machine" in notice


def _wait_for_state(plugin_state, predicate, timeout_s: float) -> PluginState:
    deadline = time.monotonic() + timeout_s
    state = plugin_state()
    while time.monotonic() < deadline and not predicate(state):
        time.sleep(0.2)
        state = plugin_state()
    return state


def test_engine_not_running_is_said_with_how_to_start_it() -> None:
    p = load_in_pedalboard()
    state = PluginState(p.raw_state)
    state.settings.set("port", str(free_udp_port()))  # nothing listens there
    p.raw_state = state.encode()
    seen = _wait_for_state(
        lambda: PluginState(p.raw_state), lambda s: "not running" in s.status()["engine"], 10
    )
    line = seen.status()["engine"]
    assert "The engine is not running" in line, line
    assert "musicgen-bridge serve" in line, line


# --- DawDreamer ------------------------------------------------------------------------------


def _dawdreamer_engine(rate: int, bpm: float):
    import dawdreamer as daw  # a dev dependency (pyproject.toml)

    engine = daw.RenderEngine(rate, 512)
    engine.set_bpm(bpm)
    synth = engine.make_plugin_processor("mgb", plugin_path())
    engine.load_graph([(synth, [])])
    return engine, synth


def _dd_state(synth, tmp_path: Path) -> PluginState:
    path = tmp_path / f"state-{time.monotonic_ns()}.bin"
    synth.save_state(str(path))
    return PluginState(path.read_bytes())


def _dd_load(synth, state: PluginState, tmp_path: Path) -> None:
    path = tmp_path / f"state-{time.monotonic_ns()}.bin"
    path.write_bytes(state.encode())
    synth.load_state(str(path))


def _dawdreamer_aimed(
    rate: int, bpm: float, port: int, tmp_path: Path, prompt: str, **settings: str
):
    """DawDreamer hosting the plugin aimed at the engine on `port`, writing into `tmp_path`, with
    this prompt (and any other settings); the plugin's parameters by name."""
    engine, synth = _dawdreamer_engine(rate, bpm)
    engine.render(0.1)
    state = _dd_state(synth, tmp_path)
    for key, value in {
        "prompt": prompt,
        "port": str(port),
        "outDir": str(tmp_path),
        **settings,
    }.items():
        state.settings.set(key, value)
    _dd_load(synth, state, tmp_path)
    names = {synth.get_parameter_name(i): i for i in range(synth.get_plugin_parameter_size())}
    return engine, synth, names


def _generate(engine, synth, names: dict[str, int]) -> None:
    """A rise of *Generate (on rise)*, as host automation would give it."""
    synth.set_parameter(names["Generate (on rise)"], 1.0)
    engine.render(0.1)
    synth.set_parameter(names["Generate (on rise)"], 0.0)


def _start_long_take(engine, synth, names: dict[str, int], tmp_path: Path) -> None:
    """Asks for 28 bars (112 s at 60 bpm: long enough to be running); waits until it generates."""
    synth.set_parameter(names["Bars"], (28 - 1) / 63)
    _generate(engine, synth, names)
    running = _wait_for_state(
        lambda: _dd_state(synth, tmp_path),
        lambda s: "Generating" in s.status().get("take", ""),
        60,
    )
    assert "Generating" in running.status()["take"], running.status()


def stop_process(process: subprocess.Popen, sig: int, wait_s: float) -> None:
    """Asks a process to end with `sig`; kills it when it has not within `wait_s`."""
    process.send_signal(sig)
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_dawdreamer_tempo_reaches_the_plugin(tmp_path) -> None:
    engine, synth = _dawdreamer_engine(48000, 128.0)
    engine.render(1.0)
    seen = _dd_state(synth, tmp_path).host_seen()
    assert seen["hasTempo"] == "1"
    assert float(seen["bpm"]) == 128.0
    assert float(seen["sampleRate"]) == 48000
    # DawDreamer's playhead always states 4/4 (RenderEngine::render); the plugin reports
    # what the host gave. 7/8 from a playhead is tested in the C++ processor tests.
    assert seen["timesig"] == "4/4"


@pytest.mark.e2e
def test_dawdreamer_take_is_n_bars_and_plays_from_its_anchor_sample_exact(
    engine_process, tmp_path
) -> None:
    rate, bpm, bars, anchor_bar = 48000, 128.0, 2, 2
    engine, synth, names = _dawdreamer_aimed(
        rate, bpm, engine_process.port, tmp_path, "plugin test drums", seed="3"
    )
    synth.set_parameter(names["Bars"], (bars - 1) / 63)
    synth.set_parameter(names["Anchor bar"], (anchor_bar - 1) / 998)
    synth.set_parameter(names["Loop"], 0.0)
    synth.set_parameter(names["Play in sync"], 1.0)
    _generate(engine, synth, names)

    deadline = time.monotonic() + TAKE_TIMEOUT_S
    takes: list[dict[str, str]] = []
    while time.monotonic() < deadline and not takes:
        time.sleep(0.25)
        current = _dd_state(synth, tmp_path)
        takes = current.takes()
        status = current.status()
        assert "lost" not in status.get("take", ""), status
    assert takes, f"no take within {TAKE_TIMEOUT_S} s; the plugin said {current.status()}"

    path = Path(takes[0]["path"])
    assert path.parent == tmp_path
    wav, wav_rate = sf.read(path, dtype="float32", always_2d=True)
    assert wav_rate == rate
    # Exactly N bars at 128 bpm in DawDreamer's 4/4: 2 x 4 x 60 / 128 s = 180000 samples.
    expected = round(bars * 4 * 60 / bpm * rate)
    assert wav.shape[0] == expected == 180000

    # Wait for the loader to hand the take to the audio thread, then render from bar 1.
    time.sleep(1.0)
    engine.render((expected + 2 * rate) / rate)
    out = engine.get_audio()
    start = round((anchor_bar - 1) * 4 * 60 / bpm * rate)  # bar 2 starts at sample 90000
    assert start == 90000
    mono = wav[:, 0]
    for ch in range(out.shape[0]):
        assert not np.any(out[ch, :start]), "silence before the anchor bar"
        np.testing.assert_array_equal(out[ch, start : start + expected], mono)
        assert not np.any(out[ch, start + expected :]), "played once: silence after the take"
    # One sample early or late would not match (the take is not constant).
    assert not np.array_equal(out[0, start + 1 : start + expected], mono[:-1])


@pytest.mark.e2e
def test_engine_gone_mid_take_fails_the_take_within_seconds_in_words(cache_dir, tmp_path) -> None:
    engine_process = start_engine(cache_dir, tmp_path)
    try:
        engine, synth, names = _dawdreamer_aimed(
            48000, 60.0, engine_process.port, tmp_path, "a long take to be cut short"
        )
        _start_long_take(engine, synth, names, tmp_path)
    finally:
        engine_process.process.kill()  # the engine dies mid-take
        engine_process.process.wait()
        stop_engine(engine_process)
    gone_at = time.monotonic()
    failed = _wait_for_state(
        lambda: _dd_state(synth, tmp_path), lambda s: "lost" in s.status().get("take", ""), 15
    )
    took = time.monotonic() - gone_at
    line = failed.status()["take"]
    assert "the take was lost" in line, failed.status()
    assert "musicgen-bridge serve" in line
    assert took < 10, f"the take failed {took:.1f} s after the engine went"
    assert failed.takes() == []


@pytest.mark.e2e
def test_preview_plays_while_the_take_renders_then_the_final_take(engine_process, tmp_path) -> None:
    rate, bpm, bars = 48000, 60.0, 16
    engine, synth, names = _dawdreamer_aimed(
        rate, bpm, engine_process.port, tmp_path, "preview test"
    )
    synth.set_parameter(names["Bars"], (bars - 1) / 63)
    _generate(engine, synth, names)

    readies: list[int] = []
    deadline = time.monotonic() + TAKE_TIMEOUT_S
    current = _dd_state(synth, tmp_path)
    while time.monotonic() < deadline and not current.takes():
        status = current.status()
        if status.get("preview") == "1":
            assert "/preview/" in status["playing"] or "preview" in status["playing"], status
            readies.append(int(status["playingReady"]))
        time.sleep(0.2)
        current = _dd_state(synth, tmp_path)
    assert current.takes(), current.status()
    assert readies, "no preview reached the audio thread before the take was done"
    assert readies == sorted(readies) and readies[-1] > readies[0] > 0, readies
    # Then the final take replaces it.
    final = _wait_for_state(
        lambda: _dd_state(synth, tmp_path),
        lambda s: s.status().get("playing") == s.takes()[0]["path"],
        10,
    )
    assert final.status()["preview"] == "0"
    assert int(final.status()["playingReady"]) == round(bars * 4 * 60 / bpm * rate)


@pytest.mark.e2e
def test_engine_restarted_mid_take_fails_the_take_in_words(cache_dir, tmp_path) -> None:
    """Contract A: the pong's run id changes when the engine restarts; the take is lost."""
    first = start_engine(cache_dir, tmp_path)
    port = first.port
    restarted = None
    try:
        engine, synth, names = _dawdreamer_aimed(
            48000, 60.0, port, tmp_path, "a take the restart loses"
        )
        _start_long_take(engine, synth, names, tmp_path)
        first.process.kill()
        first.process.wait()
        # A new engine on the same port: it answers ping while it loads, with a new run.
        command = [cli_executable(), "serve", "--model", "debug", "--port", str(port)]
        command += ["--cache-dir", str(cache_dir), "--out-dir", str(tmp_path)]
        restarted = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        failed = _wait_for_state(
            lambda: _dd_state(synth, tmp_path), lambda s: "lost" in s.status().get("take", ""), 30
        )
        assert "the engine restarted; the take was lost" in failed.status()["take"], failed.status()
    finally:
        stop_engine(first)
        if restarted is not None:
            stop_process(restarted, signal.SIGINT, 30)
