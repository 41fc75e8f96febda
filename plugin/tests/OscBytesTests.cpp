// The bytes EngineClient puts on the wire, read from a loopback socket: OSC 1.0
// as python-osc (the engine's reader) expects them, ints as 'i' and floats as 'f'.
#include "EngineClient.h"

#include <catch2/catch.hpp>

using namespace mgb;

namespace
{
    void pad (juce::MemoryOutputStream& out, const std::string& s)
    {
        out.write (s.data(), s.size());
        const size_t n = 4 - (s.size() % 4);
        for (size_t i = 0; i < n; ++i)
            out.writeByte (0);
    }
    void be32 (juce::MemoryOutputStream& out, uint32_t v)
    {
        out.writeIntBigEndian ((int) v);
    }
}

TEST_CASE ("generate goes out as OSC 1.0 with typed arguments, to the engine's port, with our reply port", "[osc]")
{
    juce::DatagramSocket engine (false);
    REQUIRE (engine.bindToPort (0, "127.0.0.1"));

    EngineClient client;
    juce::String error;
    REQUIRE (client.connect ("127.0.0.1", engine.getBoundPort(), error));
    CHECK (client.replyPort() > 0);
    CHECK (client.replyPort() != engine.getBoundPort());

    // Two clients never share a reply port (two plugin instances at once).
    EngineClient second;
    REQUIRE (second.connect ("127.0.0.1", engine.getBoundPort(), error));
    CHECK (second.replyPort() != client.replyPort());

    GenerateSettings s;
    s.prompt = "drums";
    s.bars = 2;
    s.bpm = 128;
    s.timesigNumerator = 7;
    s.timesigDenominator = 8;
    s.seed = 5;
    REQUIRE (client.send (generateMessage (s, "g-1", client.replyPort(), "")));

    char buffer[2048];
    REQUIRE (engine.waitUntilReady (true, 2000) == 1);
    juce::String sender;
    int senderPort = 0;
    const int got = engine.read (buffer, sizeof (buffer), false, sender, senderPort);
    CHECK (senderPort == client.replyPort());  // one socket: sent from where replies are awaited

    juce::MemoryOutputStream want;
    pad (want, "/musicgen/generate");
    pad (want, ",sssisssfsfsssi");
    pad (want, "id");
    pad (want, "g-1");
    pad (want, "reply_port");
    be32 (want, (uint32_t) client.replyPort());
    pad (want, "prompt");
    pad (want, "drums");
    pad (want, "bars");
    be32 (want, 0x40000000u);  // 2.0f
    pad (want, "bpm");
    be32 (want, 0x43000000u);  // 128.0f
    pad (want, "timesig");
    pad (want, "7/8");
    pad (want, "seed");
    be32 (want, 5);
    REQUIRE (got == (int) want.getDataSize());
    CHECK (std::memcmp (buffer, want.getData(), want.getDataSize()) == 0);
}

TEST_CASE ("arguments come back from juce::OSCMessage as the protocol's types", "[osc]")
{
    juce::OSCMessage m { juce::OSCAddressPattern ("/musicgen/progress") };
    m.addString ("g-1");
    m.addFloat32 (0.5f);
    m.addString ("generating");
    bool unsupported = true;
    const auto args = EngineClient::fromOsc (m, unsupported);
    CHECK_FALSE (unsupported);
    const auto r = parseReply ("/musicgen/progress", args);
    CHECK (r.kind == Reply::Kind::Progress);
    CHECK (r.fraction == Approx (0.5));

    juce::OSCMessage blob { juce::OSCAddressPattern ("/musicgen/done") };
    blob.addString ("g-1");
    blob.addBlob (juce::MemoryBlock (4));
    EngineClient::fromOsc (blob, unsupported);
    CHECK (unsupported);
}
