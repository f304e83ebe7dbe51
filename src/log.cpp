#include "log.h"

#include <sys/time.h>
#include <syslog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace clsync {
namespace {

std::atomic<LogLevel> g_level{LogLevel::Info};
std::mutex g_write_mutex;  // keeps lines from different threads whole
// Set once at start-up, before any thread logs.
LogOutput g_output = LogOutput::Stderr;
std::string g_name = "clsync";

int syslog_priority(LogLevel level) {
    switch (level) {
        case LogLevel::Error:
            return LOG_ERR;
        case LogLevel::Warning:
            return LOG_WARNING;
        case LogLevel::Debug:
            return LOG_DEBUG;
        default:
            return LOG_INFO;
    }
}

const char* level_tag(LogLevel level) {
    switch (level) {
        case LogLevel::Error:
            return "error";
        case LogLevel::Warning:
            return "warning";
        case LogLevel::Info:
            return "info";
        case LogLevel::Verbose:
            return "info";
        case LogLevel::Debug:
            return "debug";
    }
    return "?";
}

void log_line(LogLevel level, const char* fmt, va_list args) {
    if (!log_enabled(level)) return;
    char message[4096];
    vsnprintf(message, sizeof message, fmt, args);
    if (g_output == LogOutput::Syslog) {
        syslog(syslog_priority(level), "%s", message);
        return;
    }

    struct timeval now;
    gettimeofday(&now, nullptr);
    struct tm local;
    localtime_r(&now.tv_sec, &local);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%H:%M:%S", &local);

    std::lock_guard<std::mutex> lock(g_write_mutex);
    FILE* out = g_output == LogOutput::Stdout ? stdout : stderr;
    fprintf(out, "%s.%03ld %s %s: %s\n", stamp, static_cast<long>(now.tv_usec / 1000), g_name.c_str(), level_tag(level),
            message);
    fflush(out);
}

}  // namespace

void log_set_level(LogLevel level) { g_level = level; }

void log_set_output(LogOutput output, const std::string& label) {
    g_output = output;
    g_name = label.empty() || label == "nolabel" ? "clsync" : "clsync[" + label + "]";
    if (output == LogOutput::Syslog)
        openlog(g_name.c_str(), LOG_PID, LOG_DAEMON);  // keeps the pointer: g_name lives on
}

std::string printable(const std::string& name) {
    std::string out;
    out.reserve(name.size());
    for (unsigned char c : name) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\\')
            out += "\\\\";
        else if (c < 0x20 || c == 0x7f) {
            char escaped[5];
            snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
        } else
            out += static_cast<char>(c);
    }
    return out;
}

bool log_enabled(LogLevel level) { return level <= g_level.load(std::memory_order_relaxed); }

#define CLSYNC_DEFINE_LOG(name, level) \
    void name(const char* fmt, ...) {  \
        va_list args;                  \
        va_start(args, fmt);           \
        log_line(level, fmt, args);    \
        va_end(args);                  \
    }

CLSYNC_DEFINE_LOG(log_error, LogLevel::Error)
CLSYNC_DEFINE_LOG(log_warning, LogLevel::Warning)
CLSYNC_DEFINE_LOG(log_info, LogLevel::Info)
CLSYNC_DEFINE_LOG(log_verbose, LogLevel::Verbose)
CLSYNC_DEFINE_LOG(log_debug, LogLevel::Debug)

}  // namespace clsync
