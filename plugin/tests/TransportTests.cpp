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

namespace
{
    /** A take at its last decode step (progress 1.0) whose cancel `c-1` was just sent. */
    TakeFollower cancelledAtTheEnd()
    {
        TakeFollower f;
        f.begin ("g-1", 0.0, "");
        f.reply (reply (Reply::Kind::Queued, "g-1"), 0.1);
        auto p = reply (Reply::Kind::Progress, "g-1");
        p.stage = "generating";
        p.fraction = 1.0;
        f.reply (p, 1.0);
        f.cancelSent ("c-1", 1.5);
        return f;
    }
    /** The engine's `/musicgen/cancel <cancelId> <job> <was>`. */
    Reply cancelAnswer (const std::string& cancelId, const std::string& job, const std::string& was)
    {
        auto r = reply (Reply::Kind::Cancel, cancelId);
        r.job = job;
        r.was = was;
        return r;
    }
    Reply error (const std::string& id, const std::string& code, const std::string& message)
    {
        auto r = reply (Reply::Kind::Error, id);
        r.code = code;
        r.message = message;
        return r;
    }
}

TEST_CASE ("a cancel the engine refuses as too late: the take is followed to its done", "[session][cancel]")
{
    auto f = cancelledAtTheEnd();
    CHECK (f.active());
    CHECK (f.cancelling());
    CHECK_FALSE (f.canCancel());
    CHECK (f.describe (1.5) == "Cancelling...");

    CHECK_FALSE (f.reply (error ("c-1", "too_late", "Job 'g-1' has finished generating"), 1.6));
    CHECK (f.active());
    CHECK_FALSE (f.cancelling());
    CHECK_FALSE (f.canCancel());  // asking again would be refused again
    CHECK (f.describe (1.6).find ("Too late to cancel") != std::string::npos);
    CHECK (f.describe (1.6).find ("being written") != std::string::npos);
    CHECK_FALSE (f.tick (30.0, 29.5));  // writing may take a while: only a silent engine ends it

    auto done = reply (Reply::Kind::Done, "g-1");
    done.paths = { "/takes/a.wav" };
    CHECK (f.reply (done, 31.0));
    CHECK (f.state() == TakeFollower::State::Done);
    CHECK (f.paths() == std::vector<std::string> { "/takes/a.wav" });
}

TEST_CASE ("a cancel the engine accepts ends the take as cancelled", "[session][cancel]")
{
    SECTION ("its /musicgen/cancel reply (running)")
    {
        auto f = cancelledAtTheEnd();
        CHECK (f.reply (cancelAnswer ("c-1", "g-1", "running"), 1.6));
        CHECK (f.state() == TakeFollower::State::Failed);
        CHECK (f.errorCode() == "cancelled");
        CHECK (f.describe (1.6) == "Cancelled.");
        // The take's own error that follows changes nothing.
        CHECK_FALSE (f.reply (error ("g-1", "cancelled", "Cancelled."), 1.7));
    }
    SECTION ("the take's own error, first (a queued job)")
    {
        auto f = cancelledAtTheEnd();
        CHECK (f.reply (error ("g-1", "cancelled", "Cancelled before it started."), 1.6));
        CHECK (f.errorCode() == "cancelled");
        CHECK (f.describe (1.6) == "Cancelled before it started.");
    }
    SECTION ("a reply for another take's cancel is not ours")
    {
        auto f = cancelledAtTheEnd();
        CHECK_FALSE (f.reply (cancelAnswer ("c-9", "g-9", "running"), 1.6));
        CHECK (f.cancelling());
    }
}

TEST_CASE ("a cancel left unanswered drops the take here, in words", "[session][cancel]")
{
    SECTION ("no answer at all")
    {
        auto f = cancelledAtTheEnd();
        CHECK_FALSE (f.tick (7.0, 6.9));  // 5.5 s after the cancel, the engine answering pings
        CHECK (f.active());
        CHECK (f.tick (7.6, 7.5));
        CHECK (f.state() == TakeFollower::State::Failed);
        CHECK (f.errorCode() == "cancel_unanswered");
        CHECK (f.describe (7.6).find ("did not answer the cancel within 6 s") != std::string::npos);
    }
    SECTION ("unknown_job: a done still on its way is taken")
    {
        auto f = cancelledAtTheEnd();
        CHECK_FALSE (f.reply (error ("c-1", "unknown_job", "No queued or running job has id 'g-1'."), 1.6));
        CHECK (f.cancelling());
        auto done = reply (Reply::Kind::Done, "g-1");
        done.paths = { "/takes/a.wav" };
        CHECK (f.reply (done, 1.7));
        CHECK (f.state() == TakeFollower::State::Done);
    }
    SECTION ("unknown_job and nothing after it")
    {
        auto f = cancelledAtTheEnd();
        f.reply (error ("c-1", "unknown_job", "No queued or running job has id 'g-1'."), 1.6);
        CHECK (f.tick (7.6, 7.5));
        CHECK (f.errorCode() == "unknown_job");
        CHECK (f.describe (7.6).find ("no longer knew this take") != std::string::npos);
    }
}
