#include "Transport.h"

#include "Session.h"

#include <catch2/catch.hpp>

using namespace mgb;

TEST_CASE ("offset from the anchor bar, from ppq or samples", "[transport]")
{
    HostPosition p;
    p.bpm = 128;
    p.numerator = 7;
    p.denominator = 8;
    p.hasPpq = true;
    p.ppq = 3.5;  // bar 2 starts here in 7/8
    CHECK (offsetFromAnchor (p, 2, 48000) == 0);
    CHECK (offsetFromAnchor (p, 1, 48000) == 78750);
    CHECK (offsetFromAnchor (p, 3, 48000) == -78750);
    p.hasPpq = false;
    p.hasSamples = true;
    p.timeInSamples = 78750 + 10;
    CHECK (offsetFromAnchor (p, 2, 48000) == 10);
}

TEST_CASE ("looped or once", "[transport]")
{
    CHECK (takeIndexAt (-1, 100, true) == -1);
    CHECK (takeIndexAt (0, 100, false) == 0);
    CHECK (takeIndexAt (99, 100, false) == 99);
    CHECK (takeIndexAt (100, 100, false) == -1);
    CHECK (takeIndexAt (100, 100, true) == 0);
    CHECK (takeIndexAt (250, 100, true) == 50);
}

TEST_CASE ("bar numbers", "[transport]")
{
    CHECK (barAt (0.0, 4, 4) == 1);
    CHECK (barAt (3.99, 4, 4) == 1);
    CHECK (barAt (4.0, 4, 4) == 2);
    CHECK (barAt (7.0, 7, 8) == 3);
}

namespace
{
    Reply pong (const std::string& run)
    {
        Reply r;
        r.kind = Reply::Kind::Pong;
        r.state = "ready";
        r.model = "debug";
        r.run = run;
        return r;
    }
    Reply reply (Reply::Kind kind, const std::string& id)
    {
        Reply r;
        r.kind = kind;
        r.id = id;
        return r;
    }
}

TEST_CASE ("engine restart mid-take fails the take in words (contract A)", "[session]")
{
    TakeFollower f;
    f.begin ("g-1", 0.0, "aaaaaaaaaaaa");
    f.reply (reply (Reply::Kind::Queued, "g-1"), 0.1);
    CHECK (f.active());
    f.pong (pong ("aaaaaaaaaaaa"), 1.0);
    CHECK (f.active());
    f.pong (pong ("bbbbbbbbbbbb"), 2.0);
    CHECK (f.state() == TakeFollower::State::Failed);
    CHECK (f.errorCode() == "engine_restarted");
    CHECK (f.describe (2.0).find ("the engine restarted; the take was lost") != std::string::npos);
}

TEST_CASE ("the run seen first is the one followed; an engine without run keeps going", "[session]")
{
    TakeFollower f;
    f.begin ("g-1", 0.0, "");
    f.pong (pong (""), 1.0);
    f.pong (pong (""), 2.0);
    CHECK (f.active());
    f.pong (pong ("cccccccccccc"), 3.0);  // first run seen
    f.pong (pong ("cccccccccccc"), 4.0);
    CHECK (f.active());
}

TEST_CASE ("a silent engine fails the take within seconds", "[session]")
{
    TakeFollower f;
    f.begin ("g-1", 10.0, "");
    CHECK_FALSE (f.tick (12.0, 11.0));
    CHECK (f.tick (17.5, 11.0));
    CHECK (f.errorCode() == "engine_unreachable");
}

TEST_CASE ("done, errors, and time left", "[session]")
{
    TakeFollower f;
    f.begin ("g-1", 0.0, "");
    auto p = reply (Reply::Kind::Progress, "g-1");
    p.stage = "generating";
    p.fraction = 0.1;
    f.reply (p, 1.0);
    p.fraction = 0.3;
    f.reply (p, 2.0);
    CHECK (f.secondsLeft (2.0) == Approx (3.5));
    f.jobEta (10.0, 2.0);
    CHECK (f.secondsLeft (3.0) == Approx (9.0));
    CHECK (f.describe (3.0).find ("30%") != std::string::npos);
    auto other = reply (Reply::Kind::Done, "g-2");
    other.paths = { "/x.wav" };
    CHECK_FALSE (f.reply (other, 3.0));
    auto done = reply (Reply::Kind::Done, "g-1");
    done.paths = { "/a.wav" };
    CHECK (f.reply (done, 4.0));
    CHECK (f.paths() == std::vector<std::string> { "/a.wav" });
}

TEST_CASE ("the engine line: not running says how to start it; no_model gives the engine's reason", "[session]")
{
    EngineLink link;
    link.pingSent (0.0);
    CHECK (link.describe (1.0).find ("Looking") != std::string::npos);
    CHECK (link.describe (4.0).find ("musicgen-bridge serve") != std::string::npos);
    auto r = pong ("");
    r.state = "no_model";
    r.reason = "Model 'facebook/musicgen-small' is not on this machine";
    link.pong (r, 4.5);
    CHECK (link.describe (4.6) == "The engine has no model: Model 'facebook/musicgen-small' is not on this machine");
}
