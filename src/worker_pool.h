// A fixed number of worker threads running sync jobs (GThreadPool), and the way
// back: finished jobs report on the main thread through run_on_main_thread().
//
// Threads: submit() and shutdown() are called on the main thread only.
#pragma once

#include <glib.h>

#include <functional>

namespace clsync {

class WorkerPool {
public:
    explicit WorkerPool(unsigned threads);  // throws std::system_error
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    void submit(std::function<void()> job);
    // Drops jobs not yet started and waits for the running ones.
    void shutdown();

private:
    GThreadPool* pool_ = nullptr;
};

// Runs `task` on the thread that runs the default GLib main context. Thread safe.
void run_on_main_thread(std::function<void()> task);
// The same, `delay_ms` milliseconds from now.
void run_on_main_thread_after(unsigned delay_ms, std::function<void()> task);

}  // namespace clsync
