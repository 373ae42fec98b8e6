#include "config/reader.hpp"

#include <algorithm>

#include "config/values.hpp"

namespace cairn::config {

void Errors::add(std::uint32_t line, std::string_view path, std::string_view message) {
    constexpr std::size_t max_errors = 50;
    if (entries_.size() == max_errors)
        entries_.push_back({UINT32_MAX, fmt::format("{}: too many errors, stopping", origin_)});
    if (entries_.size() > max_errors) return;
    std::string text =
        line > 0 ? fmt::format("{}:{}: ", origin_, line) : fmt::format("{}: ", origin_);
    if (!path.empty()) text += fmt::format("{}: ", path);
    text += message;
    entries_.push_back({line, std::move(text)});
}

std::string Errors::text() const {
    auto sorted = entries_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Entry& a, const Entry& b) { return a.line < b.line; });
    std::string out;
    for (const Entry& e : sorted) {
        if (!out.empty()) out += '\n';
        out += e.text;
    }
    return out;
}

std::string describe(const toml::node& node) {
    switch (node.type()) {
    case toml::node_type::string: {
        std::string_view s = node.as_string()->get();
        if (s.size() > 60) return fmt::format("\"{}...\"", s.substr(0, 60));
        return fmt::format("\"{}\"", s);
    }
    case toml::node_type::integer:
        return fmt::format("{}", node.as_integer()->get());
    case toml::node_type::floating_point:
        return fmt::format("{}", node.as_floating_point()->get());
    case toml::node_type::boolean:
        return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::table:
        return "a table";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::date:
        return "a date";
    case toml::node_type::time:
        return "a time";
    case toml::node_type::date_time:
        return "a date-time";
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

TableReader::TableReader(const toml::table& table, std::string path, Errors& errors)
    : table_(table)
    , path_(std::move(path))
    , errors_(errors) {}

std::string TableReader::path_of(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
}

std::uint32_t TableReader::line_of(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return node ? node->source().begin.line : line();
}

void TableReader::error(std::string_view key, std::string_view message) {
    errors_.add(line_of(key), path_of(key), message);
}

const toml::node* TableReader::find(std::string_view key) {
    read_.emplace(key);
    errors_.asked(path_of(key));
    return table_.get(key);
}

void TableReader::type_error(std::string_view key, const toml::node& node,
                             std::string_view expected) {
    errors_.add(node.source().begin.line, path_of(key),
                fmt::format("expected {}, got {}", expected, describe(node)));
}

void TableReader::string(std::string_view key, std::string& out) {
    string(key, out, {});
}

void TableReader::string(std::string_view key, std::string& out,
                         const std::function<Result<void>(std::string_view)>& check) {
    const toml::node* node = find(key);
    if (!node) return;
    const auto* s = node->as_string();
    if (!s) return type_error(key, *node, "a string");
    if (check) {
        if (auto r = check(s->get()); !r) return error(key, r.error().message);
    }
    out = s->get();
}

void TableReader::boolean(std::string_view key, bool& out) {
    const toml::node* node = find(key);
    if (!node) return;
    const auto* b = node->as_boolean();
    if (!b) return type_error(key, *node, "true or false");
    out = b->get();
}

void TableReader::integer(std::string_view key, std::int64_t& out, std::int64_t min,
                          std::int64_t max) {
    const toml::node* node = find(key);
    if (!node) return;
    const auto* i = node->as_integer();
    if (!i) return type_error(key, *node, "an integer");
    if (i->get() < min || i->get() > max)
        return error(key, fmt::format("{} is out of range ({} to {})", i->get(), min, max));
    out = i->get();
}

std::optional<std::int64_t> TableReader::integer(std::string_view key) {
    const toml::node* node = find(key);
    if (!node) return std::nullopt;
    const auto* i = node->as_integer();
    if (!i) {
        type_error(key, *node, "an integer");
        return std::nullopt;
    }
    return i->get();
}

void TableReader::duration(std::string_view key, Duration& out, Duration min, Duration max) {
    const toml::node* node = find(key);
    if (!node) return;
    const auto* s = node->as_string();
    if (!s) {
        if (node->is_integer())
            return error(
                key,
                fmt::format("{} is not a duration (write it as a string with a unit, e.g. \"{}s\")",
                            describe(*node), node->as_integer()->get()));
        return type_error(key, *node, "a duration string like \"5s\"");
    }
    auto d = parse_duration(s->get());
    if (!d) return error(key, d.error().message);
    if (*d < min || *d > max)
        return error(key, fmt::format("\"{}\" is out of range ({} to {})", s->get(),
                                      format_duration(min), format_duration(max)));
    out = *d;
}

void TableReader::string_list(std::string_view key, std::vector<std::string>& out,
                              const std::function<Result<void>(std::string_view)>& check) {
    const toml::node* node = find(key);
    if (!node) return;
    const auto* a = node->as_array();
    if (!a) return type_error(key, *node, "an array of strings");
    std::vector<std::string> values;
    bool ok = true;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const toml::node& item = *a->get(i);
        std::string item_path = fmt::format("{}[{}]", path_of(key), i);
        const auto* s = item.as_string();
        if (!s) {
            errors_.add(item.source().begin.line, item_path,
                        fmt::format("expected a string, got {}", describe(item)));
            ok = false;
            continue;
        }
        if (check) {
            if (auto r = check(s->get()); !r) {
                errors_.add(item.source().begin.line, item_path, r.error().message);
                ok = false;
                continue;
            }
        }
        values.emplace_back(s->get());
    }
    if (ok) out = std::move(values);
}

void TableReader::string_map(std::string_view key, std::map<std::string, std::string>& out) {
    const toml::node* node = find(key);
    if (!node) return;
    const auto* t = node->as_table();
    if (!t) return type_error(key, *node, "a table of strings");
    std::map<std::string, std::string> values;
    bool ok = true;
    for (const auto& [k, v] : *t) {
        const auto* s = v.as_string();
        if (!s) {
            errors_.add(v.source().begin.line, fmt::format("{}.{}", path_of(key), k.str()),
                        fmt::format("expected a string, got {}", describe(v)));
            ok = false;
            continue;
        }
        values.emplace(k.str(), s->get());
    }
    if (ok) out = std::move(values);
}

void TableReader::address(std::string_view key, SocketAddress& out, std::uint16_t default_port) {
    const toml::node* node = find(key);
    if (!node) return;
    const auto* s = node->as_string();
    if (!s) return type_error(key, *node, "an address string like \"127.0.0.1:8600\"");
    auto a = parse_socket_address(s->get(), default_port);
    if (!a) return error(key, a.error().message);
    out = *a;
}

void TableReader::address_list(std::string_view key, std::vector<SocketAddress>& out,
                               std::uint16_t default_port) {
    const toml::node* node = find(key);
    if (!node) return;
    std::vector<SocketAddress> values;
    auto add = [&](const toml::node& item, const std::string& item_path) {
        const auto* s = item.as_string();
        if (!s) {
            errors_.add(item.source().begin.line, item_path,
                        fmt::format("expected an address string, got {}", describe(item)));
            return false;
        }
        auto a = parse_socket_address(s->get(), default_port);
        if (!a) {
            errors_.add(item.source().begin.line, item_path, a.error().message);
            return false;
        }
        values.push_back(*a);
        return true;
    };
    if (node->is_string()) {
        if (add(*node, path_of(key))) out = std::move(values);
        return;
    }
    const auto* arr = node->as_array();
    if (!arr) return type_error(key, *node, "an array of address strings");
    if (arr->empty()) return error(key, "must list at least one address");
    bool ok = true;
    for (std::size_t i = 0; i < arr->size(); ++i)
        ok = add(*arr->get(i), fmt::format("{}[{}]", path_of(key), i)) && ok;
    if (ok) out = std::move(values);
}

const toml::table* TableReader::table(std::string_view key) {
    const toml::node* node = find(key);
    if (!node) return nullptr;
    const auto* t = node->as_table();
    if (!t) type_error(key, *node, "a table");
    return t;
}

const toml::array* TableReader::table_array(std::string_view key) {
    const toml::node* node = find(key);
    if (!node) return nullptr;
    const auto* a = node->as_array();
    if (!a) type_error(key, *node, "an array of tables");
    return a;
}

void TableReader::replaced(std::string_view key, std::string_view message) {
    if (!table_.contains(key)) return;
    read_.emplace(key);
    error(key, message);
}

namespace {

// Levenshtein distance, for suggesting the key that was probably meant.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

} // namespace

void TableReader::finish() {
    for (const auto& [k, v] : table_) {
        if (read_.contains(k.str())) continue;
        std::uint32_t line = k.source().begin.line ? k.source().begin.line : v.source().begin.line;
        std::string_view best;
        std::size_t best_distance = 3; // suggest only close matches
        if (k.str().size() <= 64) {
            for (const std::string& known : read_) {
                std::size_t d = edit_distance(k.str(), known);
                if (d < best_distance) {
                    best = known;
                    best_distance = d;
                }
            }
        }
        if (best.empty())
            errors_.add(line, path_of(k.str()), "unknown key");
        else
            errors_.add(line, path_of(k.str()),
                        fmt::format("unknown key (did you mean \"{}\"?)", best));
    }
}

} // namespace cairn::config
