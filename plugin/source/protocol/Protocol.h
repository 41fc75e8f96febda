// The engine's OSC protocol (docs/protocol.md) as plain C++: argument lists for
// each request, and replies parsed into one typed struct.  No JUCE, no sockets:
// EngineClient turns an Args list into a juce::OSCMessage and back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mgb
{

/** One OSC argument, as the engine reads it: int32, float32 or string. */
struct Arg
{
    enum class Type { Int, Float, String };
    Type type = Type::Int;
    int32_t i = 0;
    float f = 0.0f;
    std::string s;

    static Arg integer (int32_t v) { Arg a; a.type = Type::Int; a.i = v; return a; }
    static Arg real (float v)      { Arg a; a.type = Type::Float; a.f = v; return a; }
    static Arg text (std::string v) { Arg a; a.type = Type::String; a.s = std::move (v); return a; }

    bool operator== (const Arg& o) const
    {
        return type == o.type && i == o.i && f == o.f && s == o.s;
    }
};

using Args = std::vector<Arg>;

struct Message
{
    std::string address;
    Args args;
};

/** What a generate request asks for.  Units as on the wire: beats are quarter notes. */
struct GenerateSettings
{
    std::string prompt;
    double bars = 4.0;             // 1-64 in the editor; the engine takes 0.25-256
    double bpm = 120.0;            // quarter notes per minute, 20-400
    int timesigNumerator = 4;      // 1-64
    int timesigDenominator = 4;    // 1, 2, 4, 8, 16 or 32
    std::optional<int32_t> seed;   // none: the engine picks one
    int variations = 1;            // 1-4
    std::optional<double> loudness; // LUFS (-14, -23); none: peak limiting only
    std::string model;             // empty: the engine's own
    std::string outDir;            // absolute, existing; empty: the engine's folder
    int sampleRate = 0;            // 0: the model's (32 kHz); else one the engine writes
    std::string melodyNotes;       // "pitch start length velocity ..." in beats
    bool preview = false;          // contract B: /musicgen/preview replies
};

/** Output rates the engine writes (docs/protocol.md, `sample_rate`). */
bool engineWritesSampleRate (int rate);

/** The first thing wrong with the settings, in words for the producer; empty when none. */
std::string checkGenerate (const GenerateSettings& s);

Message generateMessage (const GenerateSettings& s, const std::string& id, int replyPort, const std::string& token);
Message pingMessage (const std::string& id, int replyPort, const std::string& token);
Message statusMessage (const std::string& id, int replyPort, const std::string& token, bool details);
Message modelsMessage (const std::string& id, int replyPort, const std::string& token, bool details);
Message cancelMessage (const std::string& id, int replyPort, const std::string& token, const std::string& job);

/** One reply from the engine, read from its positional arguments. */
struct Reply
{
    enum class Kind
    {
        Queued, Progress, Warning, Done, Error, Pong, Job, Status, Model, Models, Cancel, Preview,
        Unknown,   // an address this client does not use (ignored)
        Malformed  // a known address whose arguments are not as documented (`problem` says how)
    };

    Kind kind = Kind::Unknown;
    std::string id;
    std::string problem;

    // queued: position; job: position
    int position = 0;
    // progress: fraction, stage; job: progress
    double fraction = 0.0;
    std::string stage;
    // warning/error: code, message
    std::string code, message;
    // done: paths
    std::vector<std::string> paths;
    // pong/status: version, state, model, reason, run ("" when the engine sends none)
    std::string version, state, model, reason, run;
    // job: job id, state (in `state`), elapsed, eta (-1 unknown)
    std::string job;
    double elapsedSeconds = 0.0, etaSeconds = -1.0;
    // model: index, count, name (in `model`), kind, melody; models: loaded (in `model`), names
    int index = 0, count = 0;
    std::string modelKind;
    bool melody = false;
    std::vector<std::string> names;
    // cancel: job (in `job`), was
    std::string was;
    // preview: path (paths[0]), seconds ready, take (index), count
    double secondsReady = 0.0;
};

Reply parseReply (const std::string& address, const Args& args);

} // namespace mgb
