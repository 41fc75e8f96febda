#include "Protocol.h"

#include <algorithm>
#include <cmath>

namespace mgb
{

namespace
{
    void addKey (Args& a, const char* key, Arg value)
    {
        a.push_back (Arg::text (key));
        a.push_back (std::move (value));
    }

    Args header (const std::string& id, int replyPort, const std::string& token)
    {
        Args a;
        addKey (a, "id", Arg::text (id));
        addKey (a, "reply_port", Arg::integer (replyPort));
        if (! token.empty())
            addKey (a, "token", Arg::text (token));
        return a;
    }

    std::string trimmed (const std::string& s)
    {
        const auto first = s.find_first_not_of (" \t\r\n");
        if (first == std::string::npos)
            return {};
        const auto last = s.find_last_not_of (" \t\r\n");
        return s.substr (first, last - first + 1);
    }

    /** Reads positional arguments, noting the first one that is not of its documented type. */
    struct Reader
    {
        const Args& args;
        std::string problem;

        bool has (size_t i) const { return i < args.size(); }

        std::string str (size_t i, const char* what)
        {
            if (! has (i)) { note (what, "missing"); return {}; }
            if (args[i].type != Arg::Type::String) { note (what, "not a string"); return {}; }
            return args[i].s;
        }

        double num (size_t i, const char* what)
        {
            if (! has (i)) { note (what, "missing"); return 0.0; }
            if (args[i].type == Arg::Type::Float) return args[i].f;
            if (args[i].type == Arg::Type::Int) return args[i].i;
            note (what, "not a number");
            return 0.0;
        }

        int integer (size_t i, const char* what)
        {
            if (! has (i)) { note (what, "missing"); return 0; }
            if (args[i].type == Arg::Type::Int) return args[i].i;
            note (what, "not an int");
            return 0;
        }

        void note (const char* what, const char* why)
        {
            if (problem.empty())
                problem = std::string (what) + " is " + why;
        }
    };
}

bool engineWritesSampleRate (int rate)
{
    for (int r : { 22050, 32000, 44100, 48000, 88200, 96000 })
        if (r == rate)
            return true;
    return false;
}

std::string checkGenerate (const GenerateSettings& s)
{
    if (trimmed (s.prompt).empty())
        return "Type a prompt first: what the music should be.";
    if (s.prompt.size() > 1000)
        return "The prompt is too long: at most 1000 characters.";
    if (! (s.bars >= 0.25 && s.bars <= 256.0))
        return "Bars must be between 1 and 64.";
    if (! (s.bpm >= 20.0 && s.bpm <= 400.0))
        return "The tempo must be between 20 and 400 bpm.";
    if (s.timesigNumerator < 1 || s.timesigNumerator > 64)
        return "The time signature's numerator must be 1-64.";
    bool denominatorOk = false;
    for (int d : { 1, 2, 4, 8, 16, 32 })
        denominatorOk = denominatorOk || d == s.timesigDenominator;
    if (! denominatorOk)
        return "The time signature's denominator must be 1, 2, 4, 8, 16 or 32.";
    if (s.variations < 1 || s.variations > 8)
        return "Variations must be 1-4.";
    if (s.seed && (*s.seed < 0))
        return "The seed must be 0-2147483647.";
    if (s.loudness && ! (*s.loudness >= -40.0 && *s.loudness <= -5.0))
        return "Loudness must be -40 to -5 LUFS.";
    if (s.sampleRate != 0 && ! engineWritesSampleRate (s.sampleRate))
        return "The engine writes 22050, 32000, 44100, 48000, 88200 or 96000 Hz only.";
    return {};
}

Message generateMessage (const GenerateSettings& s, const std::string& id, int replyPort, const std::string& token)
{
    Message m { "/musicgen/generate", header (id, replyPort, token) };
    auto& a = m.args;
    addKey (a, "prompt", Arg::text (trimmed (s.prompt)));
    // bars and bpm are floats on the wire (an int is accepted too, but a float is what they are).
    addKey (a, "bars", Arg::real ((float) s.bars));
    addKey (a, "bpm", Arg::real ((float) s.bpm));
    addKey (a, "timesig", Arg::text (std::to_string (s.timesigNumerator) + "/" + std::to_string (s.timesigDenominator)));
    if (s.seed)
        addKey (a, "seed", Arg::integer (*s.seed));
    if (s.variations != 1)
        addKey (a, "variations", Arg::integer (s.variations));
    if (s.loudness)
        addKey (a, "loudness", Arg::real ((float) *s.loudness));
    if (! trimmed (s.model).empty())
        addKey (a, "model", Arg::text (trimmed (s.model)));
    if (! s.outDir.empty())
        addKey (a, "out_dir", Arg::text (s.outDir));
    if (s.sampleRate != 0)
        addKey (a, "sample_rate", Arg::integer (s.sampleRate));
    if (! s.melodyNotes.empty())
        addKey (a, "melody_notes", Arg::text (s.melodyNotes));
    if (s.preview)
        addKey (a, "preview", Arg::integer (1));
    return m;
}

Message pingMessage (const std::string& id, int replyPort, const std::string& token)
{
    return { "/musicgen/ping", header (id, replyPort, token) };
}

Message statusMessage (const std::string& id, int replyPort, const std::string& token, bool details)
{
    Message m { "/musicgen/status", header (id, replyPort, token) };
    if (details)
        addKey (m.args, "details", Arg::integer (1));
    return m;
}

Message modelsMessage (const std::string& id, int replyPort, const std::string& token, bool details)
{
    Message m { "/musicgen/models", header (id, replyPort, token) };
    if (details)
        addKey (m.args, "details", Arg::integer (1));
    return m;
}

Message cancelMessage (const std::string& id, int replyPort, const std::string& token, const std::string& job)
{
    Message m { "/musicgen/cancel", header (id, replyPort, token) };
    addKey (m.args, "job", Arg::text (job));
    return m;
}

Reply parseReply (const std::string& address, const Args& args)
{
    Reply r;
    const std::string prefix = "/musicgen/";
    if (address.rfind (prefix, 0) != 0)
        return r;
    const auto name = address.substr (prefix.size());

    Reader in { args, {} };
    r.id = in.str (0, "the id");

    if (name == "queued")
    {
        r.kind = Reply::Kind::Queued;
        r.position = in.integer (1, "position");
    }
    else if (name == "progress")
    {
        r.kind = Reply::Kind::Progress;
        r.fraction = in.num (1, "fraction");
        r.stage = in.str (2, "stage");
    }
    else if (name == "warning" || name == "error")
    {
        r.kind = name == "warning" ? Reply::Kind::Warning : Reply::Kind::Error;
        r.code = in.str (1, "code");
        r.message = in.str (2, "message");
    }
    else if (name == "done")
    {
        r.kind = Reply::Kind::Done;
        if (args.size() < 2)
            in.note ("path", "missing");
        for (size_t i = 1; i < args.size(); ++i)
            r.paths.push_back (in.str (i, "path"));
    }
    else if (name == "pong")
    {
        r.kind = Reply::Kind::Pong;
        r.version = in.str (1, "version");
        r.state = in.str (2, "state");
        r.model = in.str (3, "model");
        if (in.has (4)) r.reason = in.str (4, "reason");
        if (in.has (5)) r.run = in.str (5, "run");  // contract A: appended by newer engines
    }
    else if (name == "job")
    {
        r.kind = Reply::Kind::Job;
        r.index = in.integer (1, "index");
        r.count = in.integer (2, "count");
        r.job = in.str (3, "job");
        r.state = in.str (4, "state");
        r.position = in.integer (5, "position");
        r.fraction = in.num (6, "progress");
        r.elapsedSeconds = in.num (7, "elapsed_s");
        r.etaSeconds = in.num (8, "eta_s");
        r.model = in.str (10, "model");
    }
    else if (name == "status")
    {
        r.kind = Reply::Kind::Status;
        r.state = in.str (1, "state");
        r.model = in.str (2, "model");
        r.job = in.str (4, "running_job");
        r.reason = in.str (6, "reason");
        const int residents = in.integer (7, "resident_count");
        // contract A: `run` is the last argument, after the three memory figures.
        const size_t runAt = 8 + 5 * (size_t) std::max (0, residents) + 3;
        if (in.has (runAt)) r.run = in.str (runAt, "run");
    }
    else if (name == "model")
    {
        r.kind = Reply::Kind::Model;
        r.index = in.integer (1, "index");
        r.count = in.integer (2, "count");
        r.model = in.str (3, "name");
        r.modelKind = in.str (4, "kind");
        r.state = in.str (5, "state");
        r.melody = in.integer (8, "melody") != 0;
    }
    else if (name == "models")
    {
        r.kind = Reply::Kind::Models;
        r.model = in.str (1, "loaded");
        for (size_t i = 2; i < args.size(); ++i)
            r.names.push_back (in.str (i, "model"));
    }
    else if (name == "cancel")
    {
        r.kind = Reply::Kind::Cancel;
        r.job = in.str (1, "job");
        r.was = in.str (2, "was");
    }
    else if (name == "preview")
    {
        r.kind = Reply::Kind::Preview;
        r.paths.push_back (in.str (1, "path"));
        r.secondsReady = in.num (2, "seconds_ready");
        r.index = in.integer (3, "take");
        r.count = in.integer (4, "count");
    }
    else
    {
        return r;
    }

    if (! in.problem.empty())
    {
        r.problem = address + ": " + in.problem;
        r.kind = Reply::Kind::Malformed;
    }
    return r;
}

} // namespace mgb
