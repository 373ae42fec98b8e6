"""GET /metrics of real agents: accepted by `promtool check metrics`, every
family documented in docs/metrics.md, every metric the Grafana dashboard
(packaging/grafana/cairn.json) uses exported, and the counters of each
subsystem moving when their event happens: a service answer by policy, an API
request by route, health check results, durations and an ejection, snapshot
publishes, gossip messages, a suspicion of a killed member and a datagram no
key opens. Each is asserted as a delta between two scrapes, polled with a
deadline."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import unittest
import urllib.request

import dns.rcode

import harness

ROOT = os.environ.get("CAIRN_SOURCE_ROOT", harness.ROOT)
SAMPLE = re.compile(r"^([a-z_:]+)(\{[^}]*\})? (\S+)$")


def scrape(agent):
    status, body = agent.http("GET", "/metrics")
    if status != 200:
        raise AssertionError(f"GET /metrics: {status} {body!r}")
    return body.decode()


def samples(text):
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def families(text):
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def wait_for_deltas(agent, before, want, what, timeout=15):
    """Polls until every key in `want` grew by at least its value."""
    def moved():
        now = samples(scrape(agent))
        got = {k: now.get(k, 0) - before.get(k, 0) for k in want}
        short = {k: g for k, g in got.items() if g < want[k]}
        if short:
            raise AssertionError(f"not moved yet: {short}")
        return True
    harness.wait_until(moved, timeout=timeout, what=what)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        key = base64.b64encode(os.urandom(16)).decode()
        cls.key = key
        # Forwarding on (to a closed port, never asked) so that its families are exported.
        cls.a = harness.Agent(name="m1", config_extra=f'[gossip]\nprofile = "local"\nencrypt = "{key}"\n'
                              '[dns.forward]\nupstreams = ["127.0.0.1:9"]\n'
                              '[http]\nidle_timeout = "1s"\n').start()
        cls.b = None

    @classmethod
    def tearDownClass(cls):
        if cls.b:
            cls.b.stop()
        cls.a.stop()

    def test_1_promtool_accepts_a_scrape(self):
        if not shutil.which("promtool"):
            raise AssertionError("promtool is missing (tools/deps.sh installs prometheus)")
        text = scrape(self.a)
        done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_2_every_family_is_documented(self):
        with open(os.path.join(ROOT, "docs", "metrics.md")) as f:
            doc = f.read()
        missing = sorted(n for n in families(scrape(self.a)) if f"`{n}" not in doc and f" {n}`" not in doc
                         and f"`{n}`" not in doc)
        self.assertEqual(missing, [], "exported but not in docs/metrics.md")

    def test_3_the_dashboard_uses_only_exported_metrics(self):
        with open(os.path.join(ROOT, "packaging", "grafana", "cairn.json")) as f:
            dash = json.load(f)
        exprs = []

        def walk(node):
            if isinstance(node, dict):
                if isinstance(node.get("expr"), str):
                    exprs.append(node["expr"])
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(dash)
        self.assertGreater(len(exprs), 20)
        exported = set(samples(scrape(self.a)))
        names = {re.sub(r"\{.*", "", k) for k in exported}
        used = {m for e in exprs for m in re.findall(r"\bcairn_[a-z_]+", e)}
        self.assertEqual(sorted(used - names), [], "used by the dashboard, not exported")
        # And the dashboard covers every family but the ones it need not chart.
        self.assertEqual(sorted({re.sub(r"_(bucket|sum|count)$", "", n) for n in used} ^
                                (families(scrape(self.a)))), [])

    def test_4_service_answers_routes_and_snapshots(self):
        a = self.a
        before = samples(scrape(a))
        status, _ = a.http("PUT", "/v1/services", json.dumps(
            {"name": "web", "id": "web-1", "address": "127.0.0.11", "port": 80, "policy": "round_robin"}))
        self.assertEqual(status, 200)
        harness.wait_until(lambda: a.query("web.service.cairn.").answer, what="web in DNS")
        a.query("web.service.cairn.", "SRV")
        self.assertEqual(a.http("GET", "/v1/services/web")[0], 200)
        self.assertEqual(a.http("GET", "/no/such/path")[0], 404)
        wait_for_deltas(a, before, {
            'cairn_dns_answers_by_policy_total{policy="round_robin"}': 2,
            'cairn_dns_queries_by_type_total{qtype="SRV"}': 1,
            'cairn_http_route_requests_total{route="/v1/services",method="PUT",code="200"}': 1,
            'cairn_http_route_requests_total{route="/v1/services/:key",method="GET",code="200"}': 1,
            'cairn_http_route_requests_total{route="other",method="GET",code="404"}': 1,
            "cairn_registry_snapshots_published_total": 1,
            "cairn_registry_snapshot_publish_seconds_count": 1,
            'cairn_instances{health="passing"}': 1,
        }, "answers by policy, routes and snapshot publishes to count")
        after = samples(scrape(a))
        self.assertGreater(after["cairn_registry_snapshot_last_publish_timestamp_seconds"], 1.7e9)

    def test_4b_http_server_storage_and_tombstones(self):
        a = self.a
        before = samples(scrape(a))
        body = json.dumps({"name": "api", "id": "api-1", "address": "127.0.0.12", "port": 81})
        self.assertEqual(a.http("PUT", "/v1/services", body)[0], 200)
        self.assertEqual(a.http("GET", "/v1/nothing")[0], 404)
        # A malformed request, and a connection left idle past idle_timeout.
        with socket.create_connection((a.host, a.http_port), timeout=5) as s:
            s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            s.recv(4096)
        idle = socket.create_connection((a.host, a.http_port), timeout=5)
        # A Consul blocking query parked on the service until it changes.
        url = a.http_url("/v1/health/service/api")
        with urllib.request.urlopen(url, timeout=5) as r:
            index = r.headers["X-Consul-Index"]
        parked = threading.Thread(target=lambda: urllib.request.urlopen(f"{url}?index={index}&wait=5s",
                                                                         timeout=10).read())
        parked.start()
        try:
            harness.wait_until(lambda: samples(scrape(a))["cairn_http_blocking_queries"] == 1,
                               timeout=5, what="the blocking query to park")
            self.assertEqual(a.http("DELETE", "/v1/services/api-1")[0], 200)
        finally:
            parked.join(10)
        self.assertEqual(idle.recv(1), b"")  # closed by the agent
        idle.close()
        wait_for_deltas(a, before, {
            "cairn_http_requests_total": 5,
            'cairn_http_responses_total{code="2xx"}': 4,
            'cairn_http_responses_total{code="4xx"}': 1,
            'cairn_http_connections_total{result="accepted"}': 5,
            "cairn_http_parse_errors_total": 1,
            "cairn_http_timeouts_total": 1,
            'cairn_storage_commits_total{result="ok"}': 2,
            "cairn_storage_changes_total": 2,
            "cairn_tombstones": 1,
        }, "the HTTP server's, storage's and the tombstone's figures to move")
        after = samples(scrape(a))
        self.assertEqual(after["cairn_http_blocking_queries"], 0)
        self.assertGreater(after["cairn_storage_commit_seconds_total"], before["cairn_storage_commit_seconds_total"])
        self.assertGreater(after["cairn_storage_commit_seconds_max"], 0)
        self.assertEqual(after["cairn_storage_unsaved"], 0)

    def test_4c_a_forwarded_query_to_a_closed_upstream(self):
        a = self.a
        up = '{upstream="127.0.0.1:9"}'
        before = samples(scrape(a))
        r = a.query("nothing.example.", timeout=10)
        self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
        wait_for_deltas(a, before, {
            "cairn_dns_deferred_total": 1,
            "cairn_dns_forward_queries_total": 1,
            'cairn_dns_forward_answers_total{result="servfail"}': 1,
            "cairn_dns_upstream_sent_total" + up: 1,
            'cairn_dns_cache_lookups_total{result="miss"}': 1,
        }, "the forwarded query to count")
        after = samples(scrape(a))
        failed = lambda s: (s.get("cairn_dns_upstream_errors_total" + up, 0) +
                            s.get("cairn_dns_upstream_timeouts_total" + up, 0))
        self.assertGreaterEqual(failed(after) - failed(before), 1)
        forward_failed = lambda s: (s.get("cairn_dns_forward_failures_total", 0) +
                                    s.get("cairn_dns_forward_timeouts_total", 0))
        self.assertGreaterEqual(forward_failed(after) - forward_failed(before), 1)
        self.assertGreater(after["cairn_dns_upstream_timeout_seconds" + up], 0)
        self.assertEqual(after["cairn_dns_upstream_rtt_seconds" + up], 0)  # never answered

    def test_5_health_results_durations_and_an_ejection(self):
        a = self.a
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]  # closed once the block ends
        before = samples(scrape(a))
        reg = {"name": "flappy", "id": "flappy-1", "port": 81, "checks": [
            {"id": "flappy-ttl", "ttl": "30s", "success_before_passing": 1, "failures_before_critical": 1},
            {"id": "flappy-tcp", "tcp": f"127.0.0.1:{closed}", "interval": "200ms", "timeout": "200ms"}]}
        self.assertEqual(a.http("PUT", "/v1/services", json.dumps(reg))[0], 200)
        # pass (admitted), fail (the first fall), pass (readmitted), fail soon after: ejected.
        for step in ("pass", "fail", "pass", "fail"):
            self.assertEqual(a.http("PUT", f"/v1/checks/flappy-ttl/{step}")[0], 200)
        wait_for_deltas(a, before, {
            'cairn_health_check_results_total{kind="ttl",result="passing"}': 2,
            'cairn_health_check_results_total{kind="ttl",result="critical"}': 2,
            'cairn_health_check_results_total{kind="tcp",result="critical"}': 2,
            'cairn_health_check_duration_seconds_count{kind="tcp"}': 2,
            'cairn_health_ejections_total{kind="ttl"}': 1,
            "cairn_health_checks": 2,
        }, "health check results, durations and the ejection to count")

    def test_6_gossip_messages_suspicion_and_decrypt_failures(self):
        a = self.a
        before = samples(scrape(a))
        # A datagram no key opens.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(os.urandom(64), (a.host, a.gossip_port))
        wait_for_deltas(a, before, {'cairn_gossip_decrypt_failures_total{transport="udp"}': 1,
                                    "cairn_gossip_packets_dropped_total": 1}, "the decrypt failure")
        # A plaintext stream, refused unopened: encryption is verified.
        with socket.create_connection((a.host, a.gossip_port), timeout=5) as s:
            s.sendall(b"\x06" + os.urandom(32))
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        wait_for_deltas(a, before, {'cairn_gossip_decrypt_failures_total{transport="tcp"}': 1},
                        "the stream decrypt failure")
        b = harness.Agent(name="m2", host="127.0.0.2",
                          config_extra=f'[gossip]\nprofile = "local"\nencrypt = "{self.key}"\n',
                          args=["--join", f"{a.host}:{a.gossip_port}"])
        type(self).b = b
        b.start()
        wait_for_deltas(a, before, {
            'cairn_gossip_members{state="alive"}': 1,
            'cairn_gossip_messages_total{direction="received",transport="udp",type="ping"}': 1,
            'cairn_gossip_messages_total{direction="received",transport="udp",type="ack"}': 1,
            'cairn_gossip_messages_total{direction="sent",transport="udp",type="ping"}': 1,
            'cairn_gossip_messages_total{direction="sent",transport="udp",type="ack"}': 1,
            'cairn_gossip_messages_total{direction="received",transport="tcp",type="push_pull"}': 1,
            'cairn_gossip_messages_total{direction="sent",transport="tcp",type="push_pull"}': 1,
            'cairn_gossip_message_bytes_total{direction="received",transport="tcp",type="push_pull"}': 50,
            'cairn_gossip_message_bytes_total{direction="sent",transport="udp",type="ping"}': 20,
            "cairn_gossip_push_pulls_total": 1,
            "cairn_gossip_probes_total": 1,
            "cairn_gossip_packets_received_total": 1,
            "cairn_gossip_packets_sent_total": 1,
            "cairn_gossip_received_bytes_total": 100,
            "cairn_gossip_sent_bytes_total": 100,
        }, "gossip with the second agent to count")
        mid = samples(scrape(a))
        self.assertEqual(mid["cairn_gossip_health_score"], 0)
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(timeout=10)
        wait_for_deltas(a, mid, {"cairn_gossip_suspicions_total": 1,
                                 "cairn_gossip_probe_failures_total": 1}, "the suspicion of the killed agent",
                        timeout=30)


if __name__ == "__main__":
    unittest.main()
