// The OSC link to the engine: one UDP socket per plugin instance, bound to an
// ephemeral port on the interface that reaches the engine (two instances never
// share a port), sending with juce::OSCSender and receiving with
// juce::OSCReceiver on that same socket.  Replies are delivered on the message
// thread as plain mgb::Args.  Lives on the message thread.
#pragma once

#include "protocol/Protocol.h"

#include <juce_osc/juce_osc.h>

#include <functional>

namespace mgb
{

class EngineClient : private juce::OSCReceiver::Listener<juce::OSCReceiver::MessageLoopCallback>
{
public:
    EngineClient();
    ~EngineClient() override;

    /** (Re)connects to host:port; false with `error` set when no socket could be bound. */
    bool connect (const juce::String& host, int port, juce::String& error);
    bool connected() const { return socket != nullptr; }
    int replyPort() const { return socket != nullptr ? socket->getBoundPort() : 0; }
    bool send (const Message& m);

    std::function<void (const std::string& address, const Args& args)> onReply;

    /** The juce::OSCMessage for a message (public for the tests of the bytes on the wire). */
    static juce::OSCMessage toOsc (const Message& m);
    static Args fromOsc (const juce::OSCMessage& m, bool& unsupported);

private:
    void oscMessageReceived (const juce::OSCMessage& message) override;
    void oscBundleReceived (const juce::OSCBundle& bundle) override;

    std::unique_ptr<juce::DatagramSocket> socket;
    juce::OSCSender sender;
    juce::OSCReceiver receiver { "MusicGen Bridge OSC" };
};

} // namespace mgb
