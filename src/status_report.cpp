#include "status_report.h"

#include <glib.h>

#include <algorithm>
#include <cstdio>

#include "log.h"

namespace clsync {
namespace {

std::string utc_time(std::time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[32];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string seconds(double s) {
    char text[32];
    snprintf(text, sizeof text, "%.1f", s);
    return text;
}

// Totals over the destinations: the original's counters.
struct Totals {
    std::size_t pending = 0;
    unsigned running = 0, iterations = 0, failures = 0;
};

Totals totals(const StatusReport& report) {
    Totals t;
    for (const DestinationStatus& d : report.destinations) {
        t.pending += d.pending;
        t.running += d.running;
        t.iterations += d.iterations;
        t.failures += d.failures;
    }
    return t;
}

std::string json_destination(const DestinationStatus& d, std::time_t now) {
    std::string json =
        "{\"destination\": " + json_string(d.destination) + ", \"state\": \"" + state_name(d.state) +
        "\", \"down_since\": " + (d.down_since ? '"' + utc_time(*d.down_since) + '"' : "null") +
        ", \"down_seconds\": " + (d.down_since ? std::to_string(std::max<long long>(0, now - *d.down_since)) : "null") +
        ", \"pending\": " + std::to_string(d.pending) +
        ", \"oldest_pending_seconds\": " + (d.oldest_pending_seconds ? seconds(*d.oldest_pending_seconds) : "null") +
        ", \"running\": " + std::to_string(d.running) + ", \"iterations\": " + std::to_string(d.iterations) +
        ", \"failures\": " + std::to_string(d.failures) +
        ", \"last_in_sync\": " + (d.last_in_sync ? '"' + utc_time(*d.last_in_sync) + '"' : "null") +
        ", \"last_error\": " + (d.last_error.empty() ? "null" : json_string(d.last_error)) +
        ", \"hold_reason\": " + (d.hold_reason.empty() ? "null" : json_string(d.hold_reason)) + "}";
    return json;
}

std::string json_cluster(const ClusterStatus& c) {
    std::string json = "{\"node\": " + json_string(c.node) + ", \"peers\": [";
    for (std::size_t i = 0; i < c.peers.size(); ++i) {
        const ClusterNodeStatus& p = c.peers[i];
        json += std::string(i ? ", " : "") + "{\"node\": " + json_string(p.node) +
                ", \"address\": " + json_string(p.address) + ", \"state\": \"" + (p.up ? "up" : "down") +
                "\", \"silent_seconds\": " + seconds(p.silent_seconds) + "}";
    }
    json += "], \"packets_accepted\": " + std::to_string(c.accepted) + ", \"packets_dropped\": {";
    for (std::size_t i = 0; i < c.dropped.size(); ++i)
        json += (i ? ", " : "") + json_string(c.dropped[i].first) + ": " + std::to_string(c.dropped[i].second);
    return json + "}, \"announced_paths\": " + std::to_string(c.announced) +
           ", \"not_synced_back\": " + std::to_string(c.not_synced_back) + "}";
}

std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n') c = ' ';  // one line per item, whatever a name or an error holds
    return text;
}

}  // namespace

std::string describe_cluster(const ClusterStatus& c) {
    // Names come from the network: printable() keeps them on one line, as they are.
    std::string text = "node " + printable(c.node) + ", peers:";
    for (const ClusterNodeStatus& p : c.peers)
        text += " " + printable(p.node) + " at " + p.address + (p.up ? " up" : " down") + " (heard " +
                seconds(p.silent_seconds) + " s ago),";
    if (c.peers.empty()) text += " none heard,";
    std::uint64_t dropped = 0;
    std::string reasons;
    for (const auto& [reason, count] : c.dropped) {
        dropped += count;
        reasons += (reasons.empty() ? " (" : ", ") + reason + ": " + std::to_string(count);
    }
    if (!reasons.empty()) reasons += ')';
    return text + " " + std::to_string(c.accepted) + " packets accepted, " + std::to_string(dropped) + " dropped" +
           reasons + ", " + std::to_string(c.announced) + " paths announced by peers, " +
           std::to_string(c.not_synced_back) + " not synced back";
}

const char* state_name(DestinationState state) {
    switch (state) {
        case DestinationState::InSync:
            return "in sync";
        case DestinationState::Syncing:
            return "syncing";
        case DestinationState::CatchingUp:
            return "catching up";
        case DestinationState::Down:
            return "down";
        case DestinationState::Held:
            return "held";
    }
    return "unknown";
}

std::string describe_destination(const DestinationStatus& d, std::time_t now) {
    std::string text = d.destination + ": " + state_name(d.state);
    if (!d.hold_reason.empty()) text += " (" + d.hold_reason + ")";
    if (d.down_since)
        text += " since " + utc_time(*d.down_since) + " (" +
                std::to_string(std::max<long long>(0, now - *d.down_since)) + " s)";
    text += ", " + std::to_string(d.pending) + " pending";
    if (d.oldest_pending_seconds) text += " (oldest " + seconds(*d.oldest_pending_seconds) + " s)";
    text += ", " + std::to_string(d.running) + " running, " + std::to_string(d.iterations) + " synced, " +
            std::to_string(d.failures) + " failures";
    if (d.last_in_sync && d.state != DestinationState::InSync) text += ", last in sync " + utc_time(*d.last_in_sync);
    if (!d.last_error.empty()) text += ", last error: " + d.last_error;
    return text;
}

std::string format_status(const StatusReport& report, StatusFormat format, std::time_t now) {
    Totals t = totals(report);
    if (format == StatusFormat::Text) {
        std::string text = report.word + "\npending " + std::to_string(t.pending) + "\nrunning " +
                           std::to_string(t.running) + "\niterations " + std::to_string(t.iterations) + "\nfailures " +
                           std::to_string(t.failures) + "\n";
        for (const DestinationStatus& d : report.destinations)
            text += "destination " + one_line(describe_destination(d, now)) + "\n";
        if (report.cluster) text += "cluster " + one_line(describe_cluster(*report.cluster)) + "\n";
        return text;
    }
    std::string json = "{\"state\": " + json_string(report.word) + ", \"time\": \"" + utc_time(now) +
                       "\", \"pending\": " + std::to_string(t.pending) + ", \"running\": " + std::to_string(t.running) +
                       ", \"iterations\": " + std::to_string(t.iterations) +
                       ", \"failures\": " + std::to_string(t.failures) + ", \"destinations\": [";
    for (std::size_t i = 0; i < report.destinations.size(); ++i)
        json += (i ? ", " : "") + json_destination(report.destinations[i], now);
    return json + "], \"cluster\": " + (report.cluster ? json_cluster(*report.cluster) : "null") + "}\n";
}

std::string json_string(const std::string& text) {
    gchar* valid = g_utf8_make_valid(text.data(), static_cast<gssize>(text.size()));
    std::string json = "\"";
    for (const char* p = valid; *p; ++p) {
        auto c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\') {
            json += '\\';
            json += static_cast<char>(c);
        } else if (c < 0x20) {
            char escaped[8];
            snprintf(escaped, sizeof escaped, "\\u%04x", c);
            json += escaped;
        } else {
            json += static_cast<char>(c);
        }
    }
    g_free(valid);
    return json + '"';
}

}  // namespace clsync
