#include "Protocol.h"

#include <catch2/catch.hpp>

using namespace mgb;

namespace
{
    Args keyValues (std::initializer_list<std::pair<const char*, Arg>> pairs)
    {
        Args a;
        for (const auto& p : pairs)
        {
            a.push_back (Arg::text (p.first));
            a.push_back (p.second);
        }
        return a;
    }
}

TEST_CASE ("generate: the keys, in order, with their OSC types", "[protocol]")
{
    GenerateSettings s;
    s.prompt = "  dusty lo-fi drums ";
    s.bars = 8;
    s.bpm = 128;
    s.timesigNumerator = 7;
    s.timesigDenominator = 8;
    s.seed = 7;
    s.variations = 2;
    s.loudness = -14.0;
    s.model = "debug";
    s.outDir = "/tmp/takes";
    s.sampleRate = 48000;
    s.melodyNotes = "60 0 1 100";
    s.preview = true;
    const auto m = generateMessage (s, "g-1", 50123, "secret");
    CHECK (m.address == "/musicgen/generate");
    CHECK (m.args == keyValues ({ { "id", Arg::text ("g-1") },
                                  { "reply_port", Arg::integer (50123) },
                                  { "token", Arg::text ("secret") },
                                  { "prompt", Arg::text ("dusty lo-fi drums") },
                                  { "bars", Arg::real (8.0f) },
                                  { "bpm", Arg::real (128.0f) },
                                  { "timesig", Arg::text ("7/8") },
                                  { "seed", Arg::integer (7) },
                                  { "variations", Arg::integer (2) },
                                  { "loudness", Arg::real (-14.0f) },
                                  { "model", Arg::text ("debug") },
                                  { "out_dir", Arg::text ("/tmp/takes") },
                                  { "sample_rate", Arg::integer (48000) },
                                  { "melody_notes", Arg::text ("60 0 1 100") },
                                  { "preview", Arg::integer (1) } }));
}

TEST_CASE ("generate: defaults are left to the engine", "[protocol]")
{
    GenerateSettings s;
    s.prompt = "pads";
    const auto m = generateMessage (s, "g-2", 9001, "");
    CHECK (m.args == keyValues ({ { "id", Arg::text ("g-2") },
                                  { "reply_port", Arg::integer (9001) },
                                  { "prompt", Arg::text ("pads") },
                                  { "bars", Arg::real (4.0f) },
                                  { "bpm", Arg::real (120.0f) },
                                  { "timesig", Arg::text ("4/4") } }));
}

TEST_CASE ("the other requests", "[protocol]")
{
    CHECK (pingMessage ("p", 1, "").args == keyValues ({ { "id", Arg::text ("p") }, { "reply_port", Arg::integer (1) } }));
    CHECK (modelsMessage ("m", 2, "", true).args
           == keyValues ({ { "id", Arg::text ("m") }, { "reply_port", Arg::integer (2) }, { "details", Arg::integer (1) } }));
    CHECK (statusMessage ("s", 3, "", true).address == "/musicgen/status");
    const auto c = cancelMessage ("c", 4, "", "g-1");
    CHECK (c.address == "/musicgen/cancel");
    CHECK (c.args == keyValues ({ { "id", Arg::text ("c") }, { "reply_port", Arg::integer (4) }, { "job", Arg::text ("g-1") } }));
}

TEST_CASE ("checkGenerate says what is wrong in words", "[protocol]")
{
    GenerateSettings s;
    CHECK (checkGenerate (s).find ("prompt") != std::string::npos);
    s.prompt = "x";
    CHECK (checkGenerate (s).empty());
    s.bpm = 10;
    CHECK (checkGenerate (s).find ("tempo") != std::string::npos);
    s.bpm = 120;
    s.timesigDenominator = 3;
    CHECK (checkGenerate (s).find ("denominator") != std::string::npos);
    s.timesigDenominator = 8;
    s.sampleRate = 12345;
    CHECK (! checkGenerate (s).empty());
}

TEST_CASE ("replies are parsed by position", "[protocol]")
{
    auto r = parseReply ("/musicgen/queued", { Arg::text ("g"), Arg::integer (2) });
    CHECK (r.kind == Reply::Kind::Queued);
    CHECK (r.position == 2);

    r = parseReply ("/musicgen/progress", { Arg::text ("g"), Arg::real (0.25f), Arg::text ("generating") });
    CHECK (r.kind == Reply::Kind::Progress);
    CHECK (r.fraction == Approx (0.25));
    CHECK (r.stage == "generating");

    r = parseReply ("/musicgen/done", { Arg::text ("g"), Arg::text ("/a.wav"), Arg::text ("/b.wav") });
    CHECK (r.kind == Reply::Kind::Done);
    CHECK (r.paths == std::vector<std::string> { "/a.wav", "/b.wav" });

    r = parseReply ("/musicgen/error", { Arg::text (""), Arg::text ("duplicate_id"), Arg::text ("words") });
    CHECK (r.kind == Reply::Kind::Error);
    CHECK (r.id.empty());
    CHECK (r.code == "duplicate_id");

    // A pong from an engine before contract A has no run; a newer one appends it.
    r = parseReply ("/musicgen/pong", { Arg::text ("p"), Arg::text ("0.1.0"), Arg::text ("no_model"), Arg::text (""), Arg::text ("Model x is not on this machine") });
    CHECK (r.kind == Reply::Kind::Pong);
    CHECK (r.state == "no_model");
    CHECK (r.reason == "Model x is not on this machine");
    CHECK (r.run.empty());
    r = parseReply ("/musicgen/pong", { Arg::text ("p"), Arg::text ("0.1.0"), Arg::text ("ready"), Arg::text ("debug"), Arg::text (""), Arg::text ("0123456789ab") });
    CHECK (r.run == "0123456789ab");

    r = parseReply ("/musicgen/job", { Arg::text ("s"), Arg::integer (0), Arg::integer (1), Arg::text ("g"), Arg::text ("generating"),
                                       Arg::integer (0), Arg::real (0.5f), Arg::real (2.0f), Arg::real (1.5f), Arg::real (0.0f),
                                       Arg::text ("debug"), Arg::text ("drums") });
    CHECK (r.kind == Reply::Kind::Job);
    CHECK (r.job == "g");
    CHECK (r.etaSeconds == Approx (1.5));

    r = parseReply ("/musicgen/status", { Arg::text ("s"), Arg::text ("ready"), Arg::text ("debug"), Arg::text ("cpu"), Arg::text (""),
                                          Arg::integer (0), Arg::text (""), Arg::integer (1), Arg::text ("debug"), Arg::text ("cpu"),
                                          Arg::text ("float32"), Arg::real (0.4f), Arg::real (1.6f), Arg::real (500.0f),
                                          Arg::real (-1.0f), Arg::real (-1.0f), Arg::text ("abcdefabcdef") });
    CHECK (r.kind == Reply::Kind::Status);
    CHECK (r.run == "abcdefabcdef");

    r = parseReply ("/musicgen/model", { Arg::text ("m"), Arg::integer (0), Arg::integer (2), Arg::text ("debug-melody"), Arg::text ("debug"),
                                         Arg::text ("ready"), Arg::text (""), Arg::real (-1.0f), Arg::integer (1), Arg::text ("built in"), Arg::text ("") });
    CHECK (r.kind == Reply::Kind::Model);
    CHECK (r.model == "debug-melody");
    CHECK (r.melody);

    r = parseReply ("/musicgen/models", { Arg::text ("m"), Arg::text ("debug"), Arg::text ("debug"), Arg::text ("debug-melody") });
    CHECK (r.kind == Reply::Kind::Models);
    CHECK (r.names == std::vector<std::string> { "debug", "debug-melody" });

    r = parseReply ("/musicgen/preview", { Arg::text ("g"), Arg::text ("/cache/p.wav"), Arg::real (1.5f), Arg::integer (1), Arg::integer (2) });
    CHECK (r.kind == Reply::Kind::Preview);
    CHECK (r.paths[0] == "/cache/p.wav");
    CHECK (r.secondsReady == Approx (1.5));
    CHECK (r.index == 1);
    CHECK (r.count == 2);
}

TEST_CASE ("a reply of the wrong shape is said, not guessed", "[protocol]")
{
    auto r = parseReply ("/musicgen/progress", { Arg::text ("g"), Arg::text ("half") });
    CHECK (r.kind == Reply::Kind::Malformed);
    CHECK (r.problem.find ("fraction") != std::string::npos);
    r = parseReply ("/musicgen/done", { Arg::text ("g") });
    CHECK (r.kind == Reply::Kind::Malformed);
    CHECK (parseReply ("/other/thing", {}).kind == Reply::Kind::Unknown);
    CHECK (parseReply ("/musicgen/unheard_of", { Arg::text ("x") }).kind == Reply::Kind::Unknown);
}
