// Exit codes of the clsync binary (sysexits.h values); documented in clsync(1).
#pragma once

namespace clsync {

enum ExitCode : int {
    kExitOk = 0,
    kExitUsage = 64,        // EX_USAGE: unknown option, bad option value, bad combination
    kExitNoInput = 66,      // EX_NOINPUT: watch dir missing, not a directory or unreadable
    kExitUnavailable = 69,  // EX_UNAVAILABLE: rsync or the handler not found; fanotify unavailable
    kExitSoftware = 70,     // EX_SOFTWARE: internal error
    kExitOsErr = 71,        // EX_OSERR: a system call needed to run failed (inotify, threads)
    kExitCantCreate = 73,   // EX_CANTCREAT: pid file held by a running instance, or not writable
    kExitTempFail = 75,     // EX_TEMPFAIL: a batch failed --retries times in a row
    kExitNoPerm = 77,       // EX_NOPERM: lists dir accessible by others
    kExitConfig = 78,       // EX_CONFIG: config file or rules file error
};

}  // namespace clsync
