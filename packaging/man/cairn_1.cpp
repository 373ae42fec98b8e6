// Writes the man page cairn(1) to standard output, made from the command
// table the binary itself uses (src/agent/commands.cpp): every command, its
// synopses and its flags. Run at build time (packaging/man/meson.build).

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <string>
#include <string_view>

#include "agent/commands.hpp"

namespace {

using cairn::agent::Command;
using cairn::agent::Flag;

// Text for roff: backslashes doubled, a '-' that starts an option word
// ("--config", "-c") a real minus, and no line starting with a control
// character.
std::string roff(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char ch = text[i];
        char before = i == 0 ? ' ' : text[i - 1];
        if (ch == '\\')
            out += "\\e";
        else if (ch == '-' && (before == ' ' || before == '-' || before == '[' || before == '(' ||
                               before == '|'))
            out += "\\-";
        else
            out += ch;
    }
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
    return out;
}

void line(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
}

// One output line from parts, appended one by one: GCC 12 at -O3 warns
// (-Wrestrict, a false positive) on "literal" + std::string.
void line(std::initializer_list<std::string_view> parts) {
    std::string text;
    for (std::string_view p : parts) text.append(p);
    line(std::string_view(text));
}

void synopses(const Command& c) {
    for (std::string_view s : c.synopses) {
        line(".HP 6");
        std::string text = roff(s);
        line({"\\fBcairn ", c.name, "\\fR", s.empty() ? "" : " ", text});
    }
}

void flags(std::span<const Flag> list) {
    for (const Flag& f : list) {
        line(".TP");
        std::string name = roff(f.name);
        std::string value = roff(f.value);
        if (f.value.empty())
            line({"\\fB", name, "\\fR"});
        else
            line({"\\fB", name, "\\fR \\fI", value, "\\fR"});
        line(roff(f.help));
    }
}

constexpr std::string_view description = R"(.SH DESCRIPTION
Every machine runs one \fBcairn agent\fR: an authoritative DNS server for the
discovery domain (default \fIcairn.\fR) and for the zone files of
\fIdns.zones_dir\fR, a registry of services with an HTTP API, and a health
prober, so that DNS answers only with endpoints that work, load-balanced and
with short TTLs. Agents find each other by gossip (memberlist's protocol) and
any agent answers for the whole cluster.
.PP
Names answered: \fI<service>.service.<domain>\fR (A, AAAA, SRV, TXT),
\fI<tag>.<service>.service.<domain>\fR, \fI_<service>._tcp.service.<domain>\fR
(SRV), \fI<node>.node.<domain>\fR, and the domain's SOA and NS.
.PP
The other commands either check files (\fBvalidate\fR) or talk to a running
agent's HTTP API (the client commands).)";

constexpr std::string_view tail = R"(.SH ENVIRONMENT
.TP
.B CAIRN_HTTP_ADDR
The HTTP API address for the client commands (\-\-http\-addr overrides it).
.TP
.B CAIRN_HTTP_TOKEN
The bearer token for the client commands (\-\-token overrides it).
.TP
.B NOTIFY_SOCKET\fR, \fBWATCHDOG_USEC\fR, \fBWATCHDOG_PID
Set by systemd for the Type=notify unit: the agent reports READY=1,
RELOADING=1, STOPPING=1 and, with a watchdog, WATCHDOG=1 at half its interval.
.SH SIGNALS
.TP
.B SIGHUP
Reload the configuration files and the zones; a reload that fails keeps the
running state serving and logs reload.failed.
.TP
.BR SIGTERM ", " SIGINT
Stop gracefully: leave the cluster, finish queued answers and writes, exit 0.
.SH EXIT STATUS
0 after a clean stop or a successful command; 1 for an invalid configuration,
a failed start, an agent that refused or could not be reached; 2 for a usage
error.
.SH FILES
.TP
.I /etc/cairn/*.toml
The configuration the packaged systemd unit loads (cairn.toml(5)).
.TP
.I /etc/cairn/zones/
Zone files served authoritatively (dns.zones_dir in the packaged
configuration).
.TP
.I /var/lib/cairn/
The default data_dir: state.db (registrations made through the API),
keyring.json (the gossip keyring).
.SH EXAMPLES
.nf
cairn agent \-\-dev
dig @127.0.0.1 \-p 8600 cairn.service.cairn
cairn register \-\-name web \-\-port 8080 \-\-check\-http http://127.0.0.1:8080/health
cairn services web
cairn validate /etc/cairn
.fi
.SH SEE ALSO
.BR cairn.toml (5),
.BR systemctl (1),
.BR dig (1))";

// The page's date: SOURCE_DATE_EPOCH (set by dpkg-buildpackage), so that
// builds are reproducible, else today.
std::string page_date() {
    std::time_t when = std::time(nullptr);
    if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"))
        when = static_cast<std::time_t>(std::strtoll(epoch, nullptr, 10));
    std::tm utc{};
    gmtime_r(&when, &utc);
    char text[16];
    std::strftime(text, sizeof text, "%Y-%m-%d", &utc);
    return text;
}

} // namespace

int main() {
    std::string date = page_date();
    line({".TH CAIRN 1 \"", date, "\" \"cairn " CAIRN_VERSION "\" \"User Commands\""});
    line(".nh"); // no hyphenation: flags and keys are typed as printed
    line(".ad l");
    line(".SH NAME");
    line("cairn \\- DNS\\-based service discovery agent");
    line(".SH SYNOPSIS");
    for (const Command& c : cairn::agent::commands()) synopses(c);
    line(description);
    line(".SH COMMANDS");
    for (const Command& c : cairn::agent::commands()) {
        line({".SS ", c.name});
        synopses(c);
        line(".PP");
        line(roff(c.description));
        flags(c.flags);
    }
    line(".SH CLIENT OPTIONS");
    std::string names;
    for (const Command& c : cairn::agent::commands()) {
        if (!c.client) continue;
        if (!names.empty()) names.append(", ");
        names.append(c.name);
    }
    line({"Every client command (", names, ") takes these:"});
    flags(cairn::agent::client_flags());
    line(tail);
    return 0;
}
