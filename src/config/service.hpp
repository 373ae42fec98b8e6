#pragma once
// [[service]] tables to registry::Instance (internal to src/config). The
// reader only reads: what a valid instance is, is the registry's rulebook
// (registry/validate.hpp), whose messages name fields as the HTTP API does
// ("checks[0].interval: ..."). A ServiceSite remembers where each of those
// fields stands in the file, so that the same message comes out with the
// file, the line and the key path in front
// ("agent.toml:9: service[0].checks[0].interval: ...").

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "config/reader.hpp"
#include "registry/types.hpp"

namespace cairn::config {

class ServiceSite {
public:
    ServiceSite(std::string origin, std::uint32_t line, std::string path);

    [[nodiscard]] const std::string& origin() const { return origin_; }
    [[nodiscard]] std::uint32_t line() const { return line_; }

    // Every key of `r`'s table stands at `registry_prefix` + key
    // ("checks[0]." + "interval"); the table itself at `registry_prefix`
    // without its final '.'.
    void note_table(const TableReader& r, std::string_view registry_prefix);
    // The items of an array of strings: "tags[0]", "tags[1]", ...
    void note_items(const TableReader& r, std::string_view key);

    // "origin:line: <key path>: text" for a rulebook message "<field>: text":
    // the line and path of the field, or of the nearest enclosing one noted.
    [[nodiscard]] std::string locate(std::string_view message) const;
    // The same added to `errors` (which keeps them in line order).
    void report(Errors& errors, std::string_view message) const;

private:
    struct Where {
        std::string path;
        std::uint32_t line;
    };
    [[nodiscard]] std::pair<Where, std::string> find(std::string_view message) const;

    std::string origin_;
    std::uint32_t line_;
    std::string path_;
    std::map<std::string, Where, std::less<>> fields_;
};

// Reads one [[service]] table into `out`; type errors and the rulebook's
// verdicts on numbers that do not fit the struct go to r.errors().
void read_service(TableReader& r, registry::Instance& out, ServiceSite& site);

} // namespace cairn::config
