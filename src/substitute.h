// %NAME% substitution, as the original clsync does it in option values and handler
// arguments. Pure.
#pragma once

#include <functional>
#include <string>

namespace clsync {

// Replaces every "%NAME%" for which `lookup(NAME, replacement)` returns true; other
// text, unknown names included, is copied unchanged.
std::string substitute(const std::string& text, const std::function<bool(const std::string&, std::string&)>& lookup);

}  // namespace clsync
