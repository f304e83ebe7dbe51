// A small fixed logging API: one line per message, to stderr, stdout or syslog, with
// a level. The level and the target are set at start-up (daemon-lifetime state);
// calls are thread safe.
#pragma once

#include <string>

namespace clsync {

enum class LogLevel { Error = 0, Warning = 1, Info = 2, Verbose = 3, Debug = 4 };

enum class LogOutput { Stderr, Stdout, Syslog };

void log_set_level(LogLevel level);
// Where lines go; `label` names the instance in every line (syslog: the ident is
// "clsync[label]"); empty or "nolabel": just "clsync".
void log_set_output(LogOutput output, const std::string& label);

// A file name made safe for a one-line log message: control characters (a newline
// in a name, say) become C escapes; other bytes, UTF-8 or not, pass unchanged.
std::string printable(const std::string& name);
bool log_enabled(LogLevel level);

void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace clsync
