// unique_ptr aliases for the GLib objects we own.
#pragma once

#include <gio/gio.h>
#include <memory>

namespace clsync {

struct GObjectUnref {
    void operator()(gpointer object) const { g_object_unref(object); }
};
struct GErrorFree {
    void operator()(GError* error) const { g_error_free(error); }
};
struct GBytesUnref {
    void operator()(GBytes* bytes) const { g_bytes_unref(bytes); }
};

template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;
using GErrorPtr = std::unique_ptr<GError, GErrorFree>;
using GBytesPtr = std::unique_ptr<GBytes, GBytesUnref>;

}  // namespace clsync
