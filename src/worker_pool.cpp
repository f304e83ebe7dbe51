#include "worker_pool.h"

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

namespace clsync {
namespace {

using Task = std::function<void()>;

void run_job(gpointer data, gpointer) {
    std::unique_ptr<Task> job(static_cast<Task*>(data));
    (*job)();
}

gboolean run_task_once(gpointer data) {
    (*static_cast<Task*>(data))();
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
    if (pool_) g_thread_pool_push(pool_, new Task(std::move(job)), nullptr);
}

void WorkerPool::shutdown() {
    if (!pool_) return;
    // Jobs that never started are dropped with the queue; their Task objects leak only at exit.
    g_thread_pool_free(pool_, TRUE, TRUE);
    pool_ = nullptr;
}

void run_on_main_thread(std::function<void()> task) {
    g_idle_add_full(G_PRIORITY_DEFAULT, run_task_once, new Task(std::move(task)), delete_task);
}

void run_on_main_thread_after(unsigned delay_ms, std::function<void()> task) {
    g_timeout_add_full(G_PRIORITY_DEFAULT, delay_ms, run_task_once, new Task(std::move(task)), delete_task);
}

}  // namespace clsync
