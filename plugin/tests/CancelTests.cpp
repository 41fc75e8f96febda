// Cancel against a stand-in engine on loopback: the processor sends the cancel and
// follows the take until the engine answers it.  A cancel after the take's last
// decode step is answered `too_late` and the take's `done` follows: that take must
// reach the takes list, as any other (docs/protocol.md, /musicgen/cancel).
#include "ProcessorFixture.h"
#include "WavFiles.h"

#include <catch2/catch.hpp>

#include <mutex>

#if JUCE_LINUX || JUCE_BSD || JUCE_WINDOWS
namespace juce
{
    // juce_events' own message pump (juce_MessageManager.cpp declares it so too): the plugin is
    // built without modal loops, so MessageManager::runDispatchLoopUntil is not there.
    bool dispatchNextMessageOnSystemQueue (bool returnIfNoPendingMessages);
}

namespace
{
    /** Runs this (the message) thread's queue, where the replies reach the processor, until
        `done` or the time is up. */
    template <typename Predicate>
    bool pumpUntil (Predicate done, int milliseconds = 3000)
    {
        const auto until = juce::Time::getMillisecondCounter() + (juce::uint32) milliseconds;
        while (juce::Time::getMillisecondCounter() < until)
        {
            while (juce::dispatchNextMessageOnSystemQueue (true)) {}
            if (done())
                return true;
            juce::Thread::sleep (5);
        }
        return done();
    }

    /** Receives what the plugin sends on a loopback port and answers as the engine would. */
    struct StandInEngine : private juce::OSCReceiver::Listener<juce::OSCReceiver::RealtimeCallback>
    {
        StandInEngine()
        {
            REQUIRE (socket.bindToPort (0, "127.0.0.1"));
            receiver.addListener (this);
            REQUIRE (receiver.connectToSocket (socket));
        }
        ~StandInEngine() override
        {
            receiver.disconnect();
            receiver.removeListener (this);
        }
        int port() const { return socket.getBoundPort(); }

        /** The `key`'s value in the first request sent to `address`, as a string ("" until one came). */
        juce::String value (const juce::String& address, const juce::String& key)
        {
            std::lock_guard<std::mutex> g (lock);
            for (const auto& m : got)
                if (m.getAddressPattern().toString() == address)
                    for (int i = 0; i + 1 < m.size(); i += 2)
                        if (m[i].isString() && m[i].getString() == key)
                            return m[i + 1].isInt32() ? juce::String (m[i + 1].getInt32()) : m[i + 1].getString();
            return {};
        }

        void reply (int replyPort, const juce::String& address, std::initializer_list<juce::OSCArgument> args)
        {
            if (! sender.connectToSocket (socket, "127.0.0.1", replyPort))
                FAIL ("could not aim the stand-in engine at the plugin's port");
            juce::OSCMessage m { juce::OSCAddressPattern ("/musicgen/" + address) };
            for (const auto& a : args)
                m.addArgument (a);
            CHECK (sender.send (m));
        }

    private:
        void oscMessageReceived (const juce::OSCMessage& m) override
        {
            std::lock_guard<std::mutex> g (lock);
            got.push_back (m);
        }

        juce::DatagramSocket socket { false };
        juce::OSCReceiver receiver;
        juce::OSCSender sender;
        std::mutex lock;
        std::vector<juce::OSCMessage> got;
    };

    /** The processor aimed at a stand-in engine, with a take asked for and queued there. */
    struct TakeInFlight
    {
        StandInEngine engine;
        MusicGenBridgeProcessor p;
        juce::TemporaryFile folder;
        juce::String id;
        int replyPort = 0;

        TakeInFlight()
        {
            REQUIRE (folder.getFile().createDirectory());
            mgb_test::aimAt (p, engine.port(), folder.getFile(), "drums");
            p.generate();
            REQUIRE (p.takeActive());
            REQUIRE (pumpUntil ([&] { return engine.value ("/musicgen/generate", "id").isNotEmpty(); }));
            id = engine.value ("/musicgen/generate", "id");
            replyPort = engine.value ("/musicgen/generate", "reply_port").getIntValue();
            engine.reply (replyPort, "queued", { id, 0 });
        }
        ~TakeInFlight() { folder.getFile().deleteRecursively(); }

        /** Presses Cancel; the id of the cancel the engine received. */
        juce::String cancel()
        {
            p.cancel();
            REQUIRE (pumpUntil ([&] { return engine.value ("/musicgen/cancel", "job") == id; }));
            return engine.value ("/musicgen/cancel", "id");
        }
    };
}

TEST_CASE ("a cancel answered too_late keeps following the take, and its done reaches the takes list", "[processor][cancel]")
{
    TakeInFlight t;
    t.engine.reply (t.replyPort, "progress", { t.id, 1.0f, juce::String ("generating") });
    REQUIRE (pumpUntil ([&] { return t.p.takeLine().startsWith ("Generating: 100%"); }));

    const auto cancelId = t.cancel();
    CHECK (cancelId != t.id);
    CHECK (t.p.takeActive());
    CHECK (t.p.takeLine() == "Cancelling...");
    t.engine.reply (t.replyPort, "error", { cancelId, juce::String ("too_late"),
                                            juce::String ("Job has finished generating and its take is being written") });
    REQUIRE (pumpUntil ([&] { return t.p.takeLine().startsWith ("Too late to cancel"); }));
    CHECK (t.p.takeActive());

    const auto take = t.folder.getFile().getChildFile ("take.wav");
    mgb_test::writeWav (take, std::vector<float> (4800, 0.25f), 1, 48000, 16);
    t.engine.reply (t.replyPort, "done", { t.id, take.getFullPathName() });
    REQUIRE (pumpUntil ([&] { return t.p.settings.takes.size() == 1; }));
    CHECK (t.p.settings.takes[0].path == take.getFullPathName());
    CHECK (t.p.settings.takes[0].prompt == "drums");
    CHECK_FALSE (t.p.takeActive());
    CHECK (t.p.takeLine() == "Done.");
}

TEST_CASE ("a cancel the engine answers `was` ends the take as cancelled, with nothing added", "[processor][cancel]")
{
    TakeInFlight t;
    const auto cancelId = t.cancel();
    t.engine.reply (t.replyPort, "cancel", { cancelId, t.id, juce::String ("running") });
    REQUIRE (pumpUntil ([&] { return ! t.p.takeActive(); }));
    CHECK (t.p.takeLine() == "Cancelled.");
    CHECK (t.p.settings.takes.empty());
}
#endif
