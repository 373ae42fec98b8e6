#include "agent/client.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>

#include <curl/curl.h>
#include <fmt/format.h>

#include "agent/commands.hpp"
#include "gossip/keyring.hpp"
#include "http/json_body.hpp"

namespace cairn::agent {

using nlohmann::json;

namespace {

constexpr std::string_view default_http_addr = "127.0.0.1:8500";

struct Reply {
    long status = 0;
    std::string body;
};

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

// One request to the agent. Errors are transport failures; HTTP errors come
// back as a Reply with their status.
Result<Reply> request(const ClientArgs& args, const char* method, const std::string& path,
                      const std::string* body) {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return fail("cannot initialise libcurl");
    std::string url = base_url(args.http_addr) + path;
    curl_slist* raw_headers = nullptr;
    raw_headers = curl_slist_append(raw_headers, "Content-Type: application/json");
    raw_headers = curl_slist_append(raw_headers, "Expect:"); // no 100-continue round trip
    std::string auth;
    if (!args.token.empty()) {
        auth = "Authorization: Bearer " + args.token;
        raw_headers = curl_slist_append(raw_headers, auth.c_str());
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);
    Reply reply;
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30'000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5'000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); // the agent is local; never go through a proxy
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
    }
    if (CURLcode rc = curl_easy_perform(c); rc != CURLE_OK)
        return fail("cannot reach the agent at {}: {}", base_url(args.http_addr),
                    curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
}

std::string escape_path(std::string_view segment) {
    std::string out;
    for (unsigned char ch : segment) {
        if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == ':')
            out.push_back(static_cast<char>(ch));
        else
            out += fmt::format("%{:02X}", ch);
    }
    return out;
}

// Prints the reply (table or JSON) and returns the exit code.
int finish(const ClientArgs& args, const Result<Reply>& reply,
           const std::function<std::string(const json&)>& table) {
    if (!reply) {
        std::fprintf(stderr, "cairn: %s\n", reply.error().message.c_str());
        return 1;
    }
    auto parsed = http::parse_json_body(reply->body, 64);
    if (reply->status < 200 || reply->status > 299) {
        std::string message = parsed && parsed->is_object() && parsed->contains("error") &&
                                      (*parsed)["error"].is_string()
                                  ? (*parsed)["error"].get<std::string>()
                                  : reply->body;
        std::fprintf(stderr, "cairn: the agent answered %ld: %s\n", reply->status, message.c_str());
        return 1;
    }
    if (args.json || !parsed || !table) {
        std::fwrite(reply->body.data(), 1, reply->body.size(), stdout);
        return 0;
    }
    std::string out = table(*parsed);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i)
            line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}  ", row[i], width[i]);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string str(const json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    return it->dump();
}

std::string joined(const json& j, std::string_view key, std::string_view sep) {
    std::string out;
    auto it = j.find(key);
    if (it == j.end()) return out;
    if (it->is_array()) {
        for (const auto& v : *it)
            out += (out.empty() ? "" : std::string(sep)) +
                   (v.is_string() ? v.get<std::string>() : v.dump());
    } else if (it->is_object()) {
        for (const auto& [k, v] : it->items())
            out += (out.empty() ? "" : std::string(sep)) + k + "=" +
                   (v.is_string() ? v.get<std::string>() : v.dump());
    }
    return out;
}

Result<std::string> read_file(const std::string& path) {
    if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("cannot read {}", path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

Result<std::uint64_t> number(std::string_view flag, const std::string& text) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || p != text.data() + text.size())
        return fail("{}: \"{}\" is not a number", flag, text);
    return n;
}

std::optional<std::string> one(const ClientArgs& a, const std::string& flag) {
    auto it = a.flags.find(flag);
    if (it == a.flags.end()) return std::nullopt;
    return it->second;
}

int usage_error(std::string_view message) {
    std::string usage = client_usage_text();
    std::fprintf(stderr, "cairn: %.*s\n\n%s", static_cast<int>(message.size()), message.data(),
                 usage.c_str());
    return 2;
}

// The flags that take a value, of every client command (commands.cpp).
std::vector<std::string_view> client_value_flags() {
    std::vector<std::string_view> out;
    for (const Command& c : commands())
        if (c.client)
            for (const Flag& f : c.flags)
                if (!f.value.empty()) out.push_back(f.name);
    return out;
}

const char* getenv_wrapper(const char* name) {
    return std::getenv(name);
}

} // namespace

bool is_client_command(std::string_view command) {
    const Command* c = find_command(command);
    return c && c->client;
}

std::string base_url(std::string_view http_addr) {
    std::string url(http_addr);
    if (!url.starts_with("http://") && !url.starts_with("https://")) url = "http://" + url;
    while (url.ends_with('/')) url.pop_back();
    return url;
}

Result<ClientArgs> parse_client_args(std::span<const std::string> args,
                                     std::span<const std::string_view> value_flags,
                                     const std::function<const char*(const char*)>& env) {
    ClientArgs out;
    if (const char* a = env("CAIRN_HTTP_ADDR"); a && *a)
        out.http_addr = a;
    else
        out.http_addr = default_http_addr;
    if (const char* t = env("CAIRN_HTTP_TOKEN")) out.token = t;
    auto takes_value = [&](std::string_view flag) {
        return flag == "--http-addr" || flag == "--token" ||
               std::ranges::find(value_flags, flag) != value_flags.end();
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (!a.starts_with("--") || a == "--") {
            out.positional.push_back(a);
            continue;
        }
        std::string flag = a;
        std::optional<std::string> value;
        if (auto eq = a.find('='); eq != std::string::npos) {
            flag = a.substr(0, eq);
            value = a.substr(eq + 1);
        }
        if (!takes_value(flag)) {
            if (value) return fail("{} takes no value", flag);
            if (flag == "--json")
                out.json = true;
            else
                out.switches.push_back(flag);
            continue;
        }
        if (!value) {
            if (i + 1 >= args.size()) return fail("{} needs a value", flag);
            value = args[++i];
        }
        if (flag == "--http-addr")
            out.http_addr = *value;
        else if (flag == "--token")
            out.token = *value;
        else
            out.flags.emplace(flag, *value);
    }
    return out;
}

Result<json> registration_from_flags(const ClientArgs& a) {
    json j = json::object();
    for (auto [flag, key] : {std::pair{"--name", "name"},
                             {"--id", "id"},
                             {"--address", "address"},
                             {"--policy", "policy"},
                             {"--ttl", "ttl"}})
        if (auto v = one(a, flag)) j[key] = *v;
    for (auto [flag, key] : {std::pair{"--port", "port"}, {"--weight", "weight"}})
        if (auto v = one(a, flag)) {
            auto n = number(flag, *v);
            if (!n) return std::unexpected(n.error());
            j[key] = *n;
        }
    auto [tb, te] = a.flags.equal_range("--tag");
    for (auto it = tb; it != te; ++it) j["tags"].push_back(it->second);
    auto [mb, me] = a.flags.equal_range("--meta");
    for (auto it = mb; it != me; ++it) {
        auto eq = it->second.find('=');
        if (eq == std::string::npos || eq == 0)
            return fail("--meta: \"{}\" is not KEY=VALUE", it->second);
        j["meta"][it->second.substr(0, eq)] = it->second.substr(eq + 1);
    }
    json check = json::object();
    for (auto [flag, key] : {std::pair{"--check-http", "http"},
                             {"--check-tcp", "tcp"},
                             {"--check-ttl", "ttl"},
                             {"--check-interval", "interval"},
                             {"--check-timeout", "timeout"}})
        if (auto v = one(a, flag)) check[key] = *v;
    if (!check.empty()) j["checks"] = json::array({check});
    if (!j.contains("name")) return fail("--name is required (or give a JSON file)");
    return j;
}

std::string format_services(const json& services) {
    std::vector<std::vector<std::string>> rows{
        {"NAME", "INSTANCES", "PASSING", "WARNING", "CRITICAL", "MAINTENANCE"}};
    if (services.is_array())
        for (const auto& s : services)
            rows.push_back({str(s, "name"), str(s, "instances"), str(s, "passing"),
                            str(s, "warning"), str(s, "critical"), str(s, "maintenance")});
    return table(rows);
}

std::string format_instances(const json& instances) {
    std::vector<std::vector<std::string>> rows{
        {"ID", "NODE", "ADDRESS", "PORT", "WEIGHT", "HEALTH", "TAGS"}};
    std::string checks;
    if (instances.is_array())
        for (const auto& i : instances)
            rows.push_back({str(i, "id"), str(i, "node"), str(i, "address"), str(i, "port"),
                            str(i, "weight"), str(i, "health"), joined(i, "tags", ",")});
    std::string out = table(rows);
    std::vector<std::vector<std::string>> check_rows{
        {"CHECK", "INSTANCE", "STATUS", "LATENCY", "OUTPUT"}};
    if (instances.is_array())
        for (const auto& i : instances) {
            auto it = i.find("checks");
            if (it == i.end() || !it->is_array()) continue;
            for (const auto& c : *it) {
                std::string output = str(c, "output");
                std::ranges::replace(output, '\n', ' ');
                if (output.size() > 60) output = output.substr(0, 57) + "...";
                std::string latency = c.contains("latency_ms") && c["latency_ms"].is_number()
                                          ? fmt::format("{:.1f}ms", c["latency_ms"].get<double>())
                                          : "";
                check_rows.push_back(
                    {str(c, "id"), str(i, "id"), str(c, "status"), latency, output});
            }
        }
    if (check_rows.size() > 1) out += "\n" + table(check_rows);
    return out;
}

std::string format_members(const json& members) {
    std::vector<std::vector<std::string>> rows{
        {"NAME", "ADDRESS", "STATE", "INCARNATION", "DATACENTER", "META"}};
    if (members.is_array())
        for (const auto& m : members)
            rows.push_back({str(m, "name"), str(m, "address"), str(m, "state"),
                            str(m, "incarnation"), str(m, "datacenter"), joined(m, "meta", ",")});
    return table(rows);
}

std::string format_keyring(const json& keyring) {
    std::vector<std::vector<std::string>> rows{{"KEY", "PRIMARY"}};
    std::string primary = str(keyring, "primary");
    if (auto it = keyring.find("keys"); it != keyring.end() && it->is_array())
        for (const auto& k : *it) {
            std::string key = k.is_string() ? k.get<std::string>() : k.dump();
            rows.push_back({key, key == primary ? "yes" : ""});
        }
    return table(rows);
}

std::string make_key() {
    auto key = gossip::generate_key(32);
    return key ? gossip::format_key(*key) : std::string();
}

int run_client(std::string_view command, std::span<char* const> raw) {
    std::vector<std::string> argv(raw.begin(), raw.end());
    static const std::vector<std::string_view> value_flags = client_value_flags();
    auto parsed = parse_client_args(argv, value_flags, getenv_wrapper);
    if (!parsed) return usage_error(parsed.error().message);
    const ClientArgs& a = *parsed;
    if (std::ranges::find(a.switches, "--help") != a.switches.end()) {
        std::string usage = client_usage_text();
        std::fwrite(usage.data(), 1, usage.size(), stdout);
        return 0;
    }
    for (const std::string& s : a.switches)
        if (s != "--passing") return usage_error(fmt::format("unknown option {}", s));

    if (command == "keygen") {
        std::string key = make_key();
        if (key.empty()) {
            std::fprintf(stderr, "cairn: no random bytes for a key\n");
            return 1;
        }
        std::printf("%s\n", key.c_str());
        return 0;
    }
    if (command == "members")
        return finish(a, request(a, "GET", "/v1/members", nullptr), format_members);
    if (command == "keyring") {
        const auto& p = a.positional;
        if (p.size() == 1 && p[0] == "list")
            return finish(a, request(a, "GET", "/v1/keyring", nullptr), format_keyring);
        if (p.size() != 2 || (p[0] != "install" && p[0] != "use" && p[0] != "remove"))
            return usage_error("keyring needs list, or install, use or remove and a KEY");
        std::string body = json{{"key", p[1]}}.dump();
        return finish(a, request(a, "PUT", "/v1/keyring/" + p[0], &body), format_keyring);
    }
    if (command == "services") {
        if (a.positional.size() > 1) return usage_error("services takes at most one NAME");
        if (a.positional.empty())
            return finish(a, request(a, "GET", "/v1/services", nullptr), format_services);
        bool passing = std::ranges::find(a.switches, "--passing") != a.switches.end();
        std::string path =
            "/v1/services/" + escape_path(a.positional[0]) + (passing ? "?passing" : "");
        return finish(a, request(a, "GET", path, nullptr), format_instances);
    }
    if (command == "deregister") {
        if (a.positional.size() != 1) return usage_error("deregister needs exactly one ID");
        return finish(
            a, request(a, "DELETE", "/v1/services/" + escape_path(a.positional[0]), nullptr),
            [](const json& j) { return fmt::format("deregistered {}\n", str(j, "deregistered")); });
    }
    if (command == "check") {
        if (a.positional.size() != 2 ||
            (a.positional[0] != "pass" && a.positional[0] != "warn" && a.positional[0] != "fail"))
            return usage_error("check needs pass, warn or fail and a CHECK_ID");
        std::string body;
        if (auto note = one(a, "--note")) body = json{{"note", *note}}.dump();
        std::string path = "/v1/checks/" + escape_path(a.positional[1]) + "/" + a.positional[0];
        return finish(a, request(a, "PUT", path, &body), [](const json& j) {
            return fmt::format("check {} is {}\n", str(j, "check"), str(j, "status"));
        });
    }
    if (command == "register") {
        std::string body;
        std::optional<std::string> file = one(a, "--file");
        if (!file && a.positional.size() == 1)
            file = a.positional[0];
        else if (!a.positional.empty())
            return usage_error("register takes flags or one JSON FILE");
        if (file) {
            auto text = read_file(*file);
            if (!text) return usage_error(text.error().message);
            body = std::move(*text);
        } else {
            auto j = registration_from_flags(a);
            if (!j) return usage_error(j.error().message);
            body = j->dump();
        }
        return finish(a, request(a, "PUT", "/v1/services", &body), [](const json& j) {
            return fmt::format("registered {} ({} {}:{}), health {}\n", str(j, "id"),
                               str(j, "name"), str(j, "address"), str(j, "port"), str(j, "health"));
        });
    }
    return usage_error(fmt::format("unknown command {}", command));
}

} // namespace cairn::agent
