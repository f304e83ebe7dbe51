#include "substitute.h"

namespace clsync {

std::string substitute(const std::string& text, const std::function<bool(const std::string&, std::string&)>& lookup) {
    std::string result;
    std::string::size_type pos = 0;
    while (pos < text.size()) {
        auto open = text.find('%', pos);
        auto close = open == std::string::npos ? std::string::npos : text.find('%', open + 1);
        if (close == std::string::npos) break;
        std::string replacement;
        result.append(text, pos, open - pos);
        if (lookup(text.substr(open + 1, close - open - 1), replacement)) {
            result += replacement;
            pos = close + 1;
        } else {
            // Not a name: keep the first '%' and look again from the second.
            result += '%';
            pos = open + 1;
        }
    }
    result.append(text, pos, std::string::npos);
    return result;
}

}  // namespace clsync
