"""Debian's Prometheus (2.42) discovering what cairn serves and scraping it
(docs/http-api.md, GET /v1/prometheus/sd): one job with http_sd_configs on
/v1/prometheus/sd, one with dns_sd_configs (type SRV) on
_web._tcp.service.cairn. Three small HTTP servers on loopback are
registered with HTTP checks; Prometheus's own API (/api/v1/targets) must
show them scraped, drop one whose check fails and one that is deregistered,
and take the failed one back when it recovers.

Prometheus's DNS discovery reads /etc/resolv.conf (port 53, no option for
another server), so Prometheus runs in a mount namespace of its own with a
resolv.conf naming cairn on 127.0.83.1:53 (root only; skipped without).

Prometheus's discovery manager hands new target sets to the scrapers at most
every 5 s (its `updatert`), so a change reaches /api/v1/targets within the
refresh interval plus those 5 s; the test allows that and a little more and
prints how long each change took."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Agent, at_exit, free_port, wait_until  # noqa: E402
from targets import Target, require_program  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
DNS_HOST = "127.0.83.1"
REFRESH_S = 1
PROMETHEUS_UPDATE_S = 5  # discovery manager's updatert in Prometheus 2.42
CHANGE_BOUND_S = REFRESH_S + PROMETHEUS_UPDATE_S + 6  # + a probe interval and a loaded machine


def can_unshare():
    try:
        return subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class PrometheusFollowsCairn(unittest.TestCase):
    def setUp(self):
        require_program(self, PROMETHEUS, "prometheus")
        if os.geteuid() != 0 or not can_unshare():
            self.skipTest("needs root and mount namespaces (for Prometheus's resolv.conf)")
        self.work = tempfile.mkdtemp(prefix="cairn-prometheus-")
        self.addCleanup(shutil.rmtree, self.work, True)
        # cairn's DNS on port 53 of its own loopback address, as resolv.conf needs.
        self.agent = Agent(host=DNS_HOST)
        with open(self.agent.config_path) as f:
            text = f.read()
        with open(self.agent.config_path, "w") as f:
            f.write(text.replace(f'"{DNS_HOST}:{self.agent.dns_port}"', f'"{DNS_HOST}:53"'))
        self.agent.dns_port = 53
        self.agent.start()
        self.addCleanup(self.agent.stop)

        self.targets = [Target(f"t{k}") for k in range(3)]
        for t in self.targets:
            self.addCleanup(t.stop)
            self.register(t)
        wait_until(lambda: len(self.sd()) == 3, timeout=10, what="three targets in /v1/prometheus/sd")
        self.start_prometheus()

    def register(self, t):
        body = {"id": t.name, "name": "web", "address": "127.0.0.1", "port": t.port, "tags": ["metrics"],
                "meta": {"owner-team": "infra"},
                "checks": [{"http": t.url(), "interval": "1s", "timeout": "1s"}]}
        status, reply = self.agent.http("PUT", "/v1/services", json.dumps(body))
        self.assertEqual(status, 200, reply)

    def sd(self, query="?service=web"):
        status, reply = self.agent.http("GET", "/v1/prometheus/sd" + query)
        self.assertEqual(status, 200, reply)
        return json.loads(reply)

    def start_prometheus(self):
        self.prom_port = free_port()
        resolv = os.path.join(self.work, "resolv.conf")
        with open(resolv, "w") as f:
            f.write(f"nameserver {DNS_HOST}\noptions timeout:1 attempts:2\n")
        config = os.path.join(self.work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: http_sd
    http_sd_configs:
      - url: http://{DNS_HOST}:{self.agent.http_port}/v1/prometheus/sd?service=web&tag=metrics
        refresh_interval: {REFRESH_S}s
    relabel_configs:
      - source_labels: [__meta_cairn_service_id]
        target_label: instance_id
      - source_labels: [__meta_cairn_service_metadata_owner_team]
        target_label: team
  - job_name: dns_sd
    dns_sd_configs:
      - names: ["_web._tcp.service.cairn."]
        type: SRV
        refresh_interval: {REFRESH_S}s
""")
        log = open(os.path.join(self.work, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        command = (f"mount --bind {resolv} /etc/resolv.conf && exec {PROMETHEUS} --config.file={config} "
                   f"--storage.tsdb.path={self.work}/data --web.listen-address=127.0.0.1:{self.prom_port}")
        self.prom = subprocess.Popen(["unshare", "--mount", "sh", "-c", command], stdout=log,
                                     stderr=subprocess.STDOUT)
        at_exit(self.kill_prometheus)
        self.addCleanup(self.kill_prometheus)
        wait_until(lambda: self.targets_api() is not None, timeout=30, what="Prometheus's API")

    def kill_prometheus(self):
        if self.prom.poll() is None:
            self.prom.terminate()
            try:
                self.prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.prom.kill()
                self.prom.wait()

    def targets_api(self):
        if self.prom.poll() is not None:
            with open(os.path.join(self.work, "prometheus.log"), "rb") as f:
                raise AssertionError(f"prometheus exited: {f.read().decode(errors='replace')[-3000:]}")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.prom_port}/api/v1/targets?state=active",
                                    timeout=2) as r:
            return json.loads(r.read())["data"]["activeTargets"]

    def up(self, job):
        """The ports of `job`'s targets that Prometheus has scraped successfully."""
        ports = set()
        for t in self.targets_api() or []:
            if t["labels"].get("job") == job and t["health"] == "up":
                ports.add(int(t["discoveredLabels"]["__address__"].rsplit(":", 1)[1]))
        return ports

    def ports(self, *targets):
        return {t.port for t in targets}

    def wait_jobs(self, want, what):
        started = time.monotonic()
        for job in ("http_sd", "dns_sd"):
            wait_until(lambda: self.up(job) == want, timeout=CHANGE_BOUND_S + 20 if what == "start" else
                       CHANGE_BOUND_S, interval=0.2, what=f"{job}: {what}")
        took = time.monotonic() - started
        print(f"prometheus: {what}: both jobs followed in {took:.1f} s", file=sys.stderr)
        return took

    def test_targets_follow_registration_health_and_deregistration(self):
        t0, t1, t2 = self.targets
        self.wait_jobs(self.ports(t0, t1, t2), "start")
        # What http_sd's relabelling made of cairn's labels.
        labelled = [t["labels"] for t in self.targets_api() if t["labels"].get("job") == "http_sd"]
        self.assertEqual(sorted(l["instance_id"] for l in labelled), ["t0", "t1", "t2"])
        self.assertTrue(all(l["team"] == "infra" for l in labelled), labelled)
        # dns_sd's targets are the SRV targets, resolved by cairn when scraped.
        addresses = {t["discoveredLabels"]["__address__"] for t in self.targets_api()
                     if t["labels"].get("job") == "dns_sd"}
        self.assertEqual(addresses, {f"7f000001.addr.cairn:{t.port}" for t in self.targets})

        t1.code = 500  # its cairn check fails: critical, out of DNS and of /v1/prometheus/sd
        self.wait_jobs(self.ports(t0, t2), "a failing check")
        t1.code = 200
        self.wait_jobs(self.ports(t0, t1, t2), "recovery")
        status, reply = self.agent.http("DELETE", "/v1/services/t2")
        self.assertEqual(status, 200, reply)
        self.wait_jobs(self.ports(t0, t1), "deregistration")


class PrometheusSdFormat(unittest.TestCase):
    """The HTTP SD body itself, without Prometheus."""

    def test_labels_filters_and_health(self):
        agent = Agent()
        agent.start()
        self.addCleanup(agent.stop)
        regs = [
            {"id": "a", "name": "web", "address": "127.0.0.5", "port": 81, "tags": ["v2", "Canary"],
             "meta": {"build-id": "7"}, "weight": 3},
            {"id": "b", "name": "web", "address": "::1", "port": 82, "tags": ["v2"]},
            {"id": "c", "name": "api", "address": "127.0.0.6", "port": 83,
             "checks": [{"id": "c-hb", "ttl": "30s"}]},
        ]
        for body in regs:
            status, reply = agent.http("PUT", "/v1/services", json.dumps(body))
            self.assertEqual(status, 200, reply)

        def sd(query=""):
            status, reply = agent.http("GET", "/v1/prometheus/sd" + query)
            self.assertEqual(status, 200, reply)
            return json.loads(reply)
        # cairn (the agent itself, in dev mode only) is not registered here.
        wait_until(lambda: len(sd("?service=web")) == 2, timeout=5, what="web's two instances")
        groups = sd("?service=web")
        self.assertEqual([g["targets"] for g in groups], [["127.0.0.5:81"], ["[::1]:82"]])
        a = groups[0]["labels"]
        self.assertEqual(a["__meta_cairn_service"], "web")
        self.assertEqual(a["__meta_cairn_service_id"], "a")
        self.assertEqual(a["__meta_cairn_node"], "test-node")
        self.assertEqual(a["__meta_cairn_dc"], "dc1")
        self.assertEqual(a["__meta_cairn_tags"], ",v2,Canary,")
        self.assertEqual(a["__meta_cairn_service_metadata_build_id"], "7")
        self.assertEqual(a["__meta_cairn_health"], "passing")
        self.assertEqual(a["__meta_cairn_weight"], "3")
        self.assertEqual([g["labels"]["__meta_cairn_service_id"] for g in sd("?tag=canary")], ["a"])
        self.assertEqual(len(sd("?service=web&tag=v2")), 2)
        self.assertEqual(sd("?service=web&tag=v2&tag=canary")[0]["targets"], ["127.0.0.5:81"])
        self.assertEqual(sd("?service=nope"), [])
        # api's TTL check has not reported: critical, not a target; a pass makes it one.
        self.assertEqual(sd("?service=api"), [])
        status, reply = agent.http("PUT", "/v1/checks/c-hb/warn", "{}")
        self.assertEqual(status, 200, reply)
        self.assertEqual(sd("?service=api")[0]["labels"]["__meta_cairn_health"], "warning")
        self.assertEqual(len(sd()), 3)
        status, _ = agent.http("POST", "/v1/prometheus/sd")
        self.assertEqual(status, 405)


if __name__ == "__main__":
    unittest.main()
