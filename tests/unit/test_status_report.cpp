#include <catch2/catch.hpp>
#include <string>

#include "status_report.h"

using namespace clsync;

namespace {

StatusReport two_destinations() {
    StatusReport report;
    report.word = "running";
    DestinationStatus local;
    local.destination = "/srv/to";
    local.iterations = 3;
    DestinationStatus remote;
    remote.destination = "backup@host2:/srv/to";
    remote.state = DestinationState::Down;
    remote.down_since = 1000;
    remote.pending = 120;
    remote.oldest_pending_seconds = 340.25;
    remote.failures = 4;
    remote.iterations = 1;
    remote.last_error = "ssh: connect to host host2 port 22: Connection refused\n(rsync exit code 255)";
    report.destinations = {local, remote};
    return report;
}

}  // namespace

TEST_CASE("the text status keeps the original's lines and adds one per destination") {
    std::string text = format_status(two_destinations(), StatusFormat::Text, 1060);
    CHECK(text ==
          "running\npending 120\nrunning 0\niterations 4\nfailures 4\n"
          "destination /srv/to: in sync, 0 pending, 0 running, 3 synced, 0 failures\n"
          "destination backup@host2:/srv/to: down since 1970-01-01T00:16:40Z (60 s), 120 pending (oldest 340.2 s), "
          "0 running, 1 synced, 4 failures, last error: ssh: connect to host host2 port 22: Connection refused "
          "(rsync exit code 255)\n");
}

TEST_CASE("the JSON status names every field per destination") {
    std::string json = format_status(two_destinations(), StatusFormat::Json, 1060);
    CHECK(json.find("\"state\": \"running\"") != std::string::npos);
    CHECK(json.find("{\"destination\": \"/srv/to\", \"state\": \"in sync\", \"down_since\": null, \"down_seconds\": "
                    "null, \"pending\": 0, \"oldest_pending_seconds\": null") != std::string::npos);
    CHECK(json.find("\"state\": \"down\", \"down_since\": \"1970-01-01T00:16:40Z\", \"down_seconds\": 60, "
                    "\"pending\": 120, \"oldest_pending_seconds\": 340.2") != std::string::npos);
    CHECK(json.find("\"last_error\": \"ssh: connect to host host2 port 22: Connection refused\\u000a(rsync exit code "
                    "255)\"") != std::string::npos);
    CHECK(json.back() == '\n');
}

TEST_CASE("json_string escapes what JSON needs and replaces what is not UTF-8") {
    CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(json_string("tab\tnl\n") == "\"tab\\u0009nl\\u000a\"");
    CHECK(json_string("\xc3\xa9t\xc3\xa9") == "\"\xc3\xa9t\xc3\xa9\"");
    CHECK(json_string("bad\xff") == "\"bad\xef\xbf\xbd\"");
}

TEST_CASE("every state has its documented name") {
    CHECK(std::string(state_name(DestinationState::InSync)) == "in sync");
    CHECK(std::string(state_name(DestinationState::Syncing)) == "syncing");
    CHECK(std::string(state_name(DestinationState::CatchingUp)) == "catching up");
    CHECK(std::string(state_name(DestinationState::Down)) == "down");
    CHECK(std::string(state_name(DestinationState::Held)) == "held");
}

TEST_CASE("a destination not in sync says when it last was") {
    StatusReport report = two_destinations();
    report.destinations[1].last_in_sync = 900;
    report.destinations[0].last_in_sync = 1050;  // in sync now: not repeated
    std::string text = format_status(report, StatusFormat::Text, 1060);
    CHECK(text.find("4 failures, last in sync 1970-01-01T00:15:00Z, last error: ") != std::string::npos);
    CHECK(text.find("0 failures, last in sync") == std::string::npos);
    std::string json = format_status(report, StatusFormat::Json, 1060);
    CHECK(json.find("\"last_in_sync\": \"1970-01-01T00:15:00Z\"") != std::string::npos);
}

TEST_CASE("a cluster node's status names its peers and what the packets did") {
    StatusReport report = two_destinations();
    CHECK(format_status(report, StatusFormat::Json, 1060).find("\"cluster\": null}") != std::string::npos);
    ClusterStatus cluster;
    cluster.node = "a";
    cluster.peers = {{"b", "10.0.0.2", true, 0.25}, {"c\n", "10.0.0.3", false, 7}};
    cluster.accepted = 42;
    cluster.dropped = {{"bad authentication code", 3}, {"replayed or duplicate", 1}};
    cluster.announced = 12;
    cluster.not_synced_back = 9;
    report.cluster = cluster;
    std::string text = format_status(report, StatusFormat::Text, 1060);
    CHECK(text.find("\ncluster node a, peers: b at 10.0.0.2 up (heard 0.2 s ago), c\\n at 10.0.0.3 down (heard 7.0 s "
                    "ago), 42 packets accepted, 4 dropped (bad authentication code: 3, replayed or duplicate: 1), 12 "
                    "paths announced by peers, 9 not synced back\n") != std::string::npos);
    std::string json = format_status(report, StatusFormat::Json, 1060);
    CHECK(
        json.find("\"cluster\": {\"node\": \"a\", \"peers\": [{\"node\": \"b\", \"address\": \"10.0.0.2\", \"state\": "
                  "\"up\", \"silent_seconds\": 0.2}, {\"node\": \"c\\u000a\", \"address\": \"10.0.0.3\", \"state\": "
                  "\"down\", \"silent_seconds\": 7.0}], \"packets_accepted\": 42, \"packets_dropped\": {\"bad "
                  "authentication code\": 3, \"replayed or duplicate\": 1}, \"announced_paths\": 12, "
                  "\"not_synced_back\": 9}}") != std::string::npos);
}
