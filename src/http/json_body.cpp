#include "http/json_body.hpp"

#include <set>
#include <string>
#include <vector>

#include "core/text.hpp"

namespace cairn::http {

namespace {

// Forwards to nlohmann's own DOM builder, counting depth and keeping the
// error instead of throwing it.
class Sax {
public:
    Sax(nlohmann::json& root, std::size_t max_depth)
        : dom_(root, false)
        , max_depth_(max_depth) {}

    bool null() { return dom_.null(); }
    bool boolean(bool v) { return dom_.boolean(v); }
    bool number_integer(nlohmann::json::number_integer_t v) { return dom_.number_integer(v); }
    bool number_unsigned(nlohmann::json::number_unsigned_t v) { return dom_.number_unsigned(v); }
    bool number_float(nlohmann::json::number_float_t v, const std::string& s) {
        return dom_.number_float(v, s);
    }
    bool string(std::string& v) { return dom_.string(v); }
    bool binary(nlohmann::json::binary_t& v) { return dom_.binary(v); }
    bool start_object(std::size_t n) {
        keys_.emplace_back();
        return deeper() && dom_.start_object(n);
    }
    // A key given twice would leave only its last value (and a proxy or
    // another parser may read the first): refused.
    bool key(std::string& k) {
        if (!keys_.back().insert(k).second) {
            error_ = fmt::format("body: the key {} appears twice in one object", quote(k));
            return false;
        }
        return dom_.key(k);
    }
    bool end_object() {
        keys_.pop_back();
        --depth_;
        return dom_.end_object();
    }
    bool start_array(std::size_t n) { return deeper() && dom_.start_array(n); }
    bool end_array() {
        --depth_;
        return dom_.end_array();
    }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& ex) {
        // The message quotes the bytes last read, which may be anything
        // (invalid UTF-8 among them): escaped, so the error itself is JSON.
        error_ = fmt::format("body: invalid JSON at byte {}: {}", position, escaped(what(ex), 200));
        return false;
    }

    const std::string& error() const { return error_; }

private:
    static std::string what(const nlohmann::detail::exception& ex) {
        // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
        std::string s = ex.what();
        auto colon = s.find(": ");
        return colon == std::string::npos ? s : s.substr(colon + 2);
    }

    bool deeper() {
        if (++depth_ > max_depth_) {
            error_ = fmt::format("body: JSON nested deeper than {} levels", max_depth_);
            return false;
        }
        return true;
    }

    nlohmann::detail::json_sax_dom_parser<nlohmann::json> dom_;
    std::size_t max_depth_;
    std::size_t depth_ = 0;
    std::string error_;
    std::vector<std::set<std::string>> keys_; // of each open object
};

} // namespace

Result<nlohmann::json> parse_json_body(std::string_view body, std::size_t max_depth) {
    nlohmann::json root;
    Sax sax(root, max_depth);
    bool ok = nlohmann::json::sax_parse(body.begin(), body.end(), &sax,
                                        nlohmann::json::input_format_t::json, true);
    if (!ok) {
        if (sax.error().empty()) return fail("body: invalid JSON");
        return fail("{}", sax.error());
    }
    return root;
}

} // namespace cairn::http
