#include "worker_pool.h"

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace clsync {
namespace {

using Task = std::function<void()>;

// A task passes between threads through GLib's queues, whose locks are futexes that
// ThreadSanitizer does not see: these tell it that what the sender wrote before
// handing the task over happens before what the receiver does with it. Nothing in
// other builds.
Task* handed_over(Task* task) {
#if defined(__SANITIZE_THREAD__)
    __tsan_release(task);
#endif
    return task;
}

Task* taken_over(gpointer data) {
#if defined(__SANITIZE_THREAD__)
    __tsan_acquire(data);
#endif
    return static_cast<Task*>(data);
}

void run_job(gpointer data, gpointer) {
    std::unique_ptr<Task> job(taken_over(data));
    (*job)();
}

gboolean run_task_once(gpointer data) {
    (*taken_over(data))();
    return G_SOURCE_REMOVE;
}

void delete_task(gpointer data) { delete static_cast<Task*>(data); }

}  // namespace

WorkerPool::WorkerPool(unsigned threads) {
    GError* error = nullptr;
    pool_ = g_thread_pool_new(run_job, nullptr, static_cast<gint>(threads), TRUE, &error);
    if (!pool_) {
        std::string message = error ? error->message : "unknown error";
        if (error) g_error_free(error);
        throw std::system_error(EAGAIN, std::generic_category(), "cannot start worker threads: " + message);
    }
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::submit(std::function<void()> job) {
    if (pool_) g_thread_pool_push(pool_, handed_over(new Task(std::move(job))), nullptr);
}

void WorkerPool::shutdown() {
    if (!pool_) return;
    // Jobs that never started are dropped with the queue; their Task objects leak only at exit.
    g_thread_pool_free(pool_, TRUE, TRUE);
    pool_ = nullptr;
}

void run_on_main_thread(std::function<void()> task) {
    g_idle_add_full(G_PRIORITY_DEFAULT, run_task_once, handed_over(new Task(std::move(task))), delete_task);
}

void run_on_main_thread_after(unsigned delay_ms, std::function<void()> task) {
    g_timeout_add_full(G_PRIORITY_DEFAULT, delay_ms, run_task_once, handed_over(new Task(std::move(task))),
                       delete_task);
}

}  // namespace clsync
