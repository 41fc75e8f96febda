#include "EngineClient.h"

namespace mgb
{

EngineClient::EngineClient()
{
    receiver.addListener (this);
}

EngineClient::~EngineClient()
{
    receiver.removeListener (this);
    receiver.disconnect();
    sender.disconnect();
}

bool EngineClient::connect (const juce::String& host, int port, juce::String& error)
{
    receiver.disconnect();
    sender.disconnect();
    socket.reset();

    const bool loopback = host == "127.0.0.1" || host == "localhost" || host == "::1";
    auto s = std::make_unique<juce::DatagramSocket> (false);
    // Port 0: the system picks a free one, so any number of instances can run at once.
    if (! s->bindToPort (0, loopback ? "127.0.0.1" : ""))
    {
        error = "Could not open a UDP port for the engine's replies.";
        return false;
    }
    if (! sender.connectToSocket (*s, host, port))
    {
        error = "Could not address the engine at " + host + ":" + juce::String (port) + ".";
        return false;
    }
    if (! receiver.connectToSocket (*s))
    {
        sender.disconnect();
        error = "Could not listen for the engine's replies.";
        return false;
    }
    socket = std::move (s);
    return true;
}

juce::OSCMessage EngineClient::toOsc (const Message& m)
{
    juce::OSCMessage out { juce::OSCAddressPattern (juce::String (m.address)) };
    for (const auto& a : m.args)
    {
        switch (a.type)
        {
            case Arg::Type::Int: out.addInt32 (a.i); break;
            case Arg::Type::Float: out.addFloat32 (a.f); break;
            case Arg::Type::String: out.addString (juce::String::fromUTF8 (a.s.c_str())); break;
        }
    }
    return out;
}

Args EngineClient::fromOsc (const juce::OSCMessage& m, bool& unsupported)
{
    Args args;
    unsupported = false;
    for (const auto& a : m)
    {
        if (a.isInt32()) args.push_back (Arg::integer (a.getInt32()));
        else if (a.isFloat32()) args.push_back (Arg::real (a.getFloat32()));
        else if (a.isString()) args.push_back (Arg::text (a.getString().toStdString()));
        else { unsupported = true; args.push_back (Arg::text ({})); }
    }
    return args;
}

bool EngineClient::send (const Message& m)
{
    if (socket == nullptr)
        return false;
    return sender.send (toOsc (m));
}

void EngineClient::oscMessageReceived (const juce::OSCMessage& message)
{
    bool unsupported = false;
    auto args = fromOsc (message, unsupported);
    if (onReply)
        onReply (message.getAddressPattern().toString().toStdString(), args);
}

void EngineClient::oscBundleReceived (const juce::OSCBundle& bundle)
{
    for (const auto& element : bundle)
    {
        if (element.isMessage()) oscMessageReceived (element.getMessage());
        else if (element.isBundle()) oscBundleReceived (element.getBundle());
    }
}

} // namespace mgb
