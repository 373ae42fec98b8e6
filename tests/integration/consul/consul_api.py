"""Consul's HTTP API on a real agent, with real clients: the registration
script in docs/examples/ (curl, lowercase keys, an HTTP check) followed by
dig; Consul's read shapes; the token; and blocking queries, which return
within 50 ms of a change to their service and not before, are not woken by
another service, outlive the HTTP idle timeout, and keep their index
growing across a restart."""
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import Agent, wait_until  # noqa: E402

SCRIPT = os.path.join(os.environ["CAIRN_SOURCE_ROOT"], "docs", "examples", "consul-register.sh")


def get(agent, path, timeout=15):
    """(status, X-Consul-Index, parsed body or text) of a GET."""
    try:
        with urllib.request.urlopen(agent.http_url(path), timeout=timeout) as r:
            return r.status, int(r.headers["X-Consul-Index"]), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, int(e.headers["X-Consul-Index"]), e.read().decode()


def put(agent, path, body=None, headers=None):
    status, reply = agent.http("PUT", path, json.dumps(body) if body is not None else None, headers)
    return status, reply.decode()


def dig_a(agent, name):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(agent.dns_port), "+short", "+time=1",
                          "+tries=1", name, "A"], capture_output=True, text=True, timeout=5)
    return out.stdout.split()


def ttl_service(name, sid, port, status="passing"):
    return {"name": name, "id": sid, "address": "127.0.0.11", "port": port,
            "check": {"ttl": "60s", "status": status}}


class ConsulApi(unittest.TestCase):
    def setUp(self):
        # A short idle timeout: parked watchers must outlive it.
        self.agent = Agent(config_extra='[http]\nidle_timeout = "1s"')
        self.agent.start()
        self.addCleanup(self.agent.stop)

    def test_docs_script_registers_and_dig_answers(self):
        env = dict(os.environ, CONSUL_HTTP_ADDR=f"127.0.0.1:{self.agent.http_port}",
                   WEB_HEALTH_URL=self.agent.http_url("/health"))
        out = subprocess.run(["sh", SCRIPT], env=env, capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        entries = json.loads(out.stdout)
        self.assertEqual(entries[0]["Service"]["ID"], "web-1")
        self.assertEqual(entries[0]["Checks"][1]["CheckID"], "service:web-1")
        # The HTTP check passes on its first probe; then DNS serves it.
        wait_until(lambda: dig_a(self.agent, "web.service.cairn") == ["127.0.0.10"], timeout=10,
                   what="dig web.service.cairn answering 127.0.0.10")
        wait_until(lambda: dig_a(self.agent, "primary.web.service.cairn") == ["127.0.0.10"],
                   timeout=5, what="the tag served")
        # The same record in cairn's own API.
        status, reply = self.agent.http("GET", "/v1/services/web")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(reply)[0]["checks"][0]["id"], "service:web-1")
        self.assertEqual(put(self.agent, "/v1/agent/service/deregister/web-1"), (200, ""))
        wait_until(lambda: dig_a(self.agent, "web.service.cairn") == [], timeout=5,
                   what="web gone from DNS")

    def test_reads_in_consul_shapes(self):
        self.assertEqual(put(self.agent, "/v1/agent/service/register", ttl_service("api", "api-2", 2)), (200, ""))
        self.assertEqual(put(self.agent, "/v1/agent/service/register", ttl_service("api", "api-1", 1, "warning")), (200, ""))
        status, _, health = get(self.agent, "/v1/health/service/api")
        self.assertEqual(status, 200)
        _, _, catalog = get(self.agent, "/v1/catalog/service/api")
        self.assertEqual([e["Service"]["ID"] for e in health], [e["ServiceID"] for e in catalog])
        self.assertEqual(health[0]["Checks"][0]["CheckID"], "serfHealth")
        self.assertEqual(health[0]["Node"]["Node"], "test-node")
        _, _, passing = get(self.agent, "/v1/health/service/api?passing=1")
        self.assertEqual([e["Service"]["ID"] for e in passing], ["api-2"])
        self.assertEqual(put(self.agent, "/v1/agent/service/maintenance/api-2?enable=true&reason=deploy"), (200, ""))
        _, _, critical = get(self.agent, "/v1/health/state/critical")
        self.assertIn("_service_maintenance:api-2", [c["CheckID"] for c in critical])
        _, _, me = get(self.agent, "/v1/agent/self")
        self.assertEqual(me["Config"]["NodeName"], "test-node")
        self.assertTrue(all(isinstance(v, dict) for v in me.values()))
        status, index, text = get(self.agent, "/v1/catalog/nope")
        self.assertEqual(status, 404)
        self.assertGreaterEqual(index, 1)
        status, text = put(self.agent, "/v1/agent/service/register",
                           {"name": "api", "port": 1, "check": {"http": "http://x", "interval": "5x"}})
        self.assertEqual(status, 400)
        self.assertTrue(text.startswith("Check.Interval: "), text)

    def test_blocking_query_returns_within_50ms_of_a_change_and_not_before(self):
        put(self.agent, "/v1/agent/service/register", ttl_service("web", "web-1", 80))
        put(self.agent, "/v1/agent/service/register", ttl_service("db", "db-1", 5432))
        _, web_index, _ = get(self.agent, "/v1/health/service/web")
        _, db_index, _ = get(self.agent, "/v1/health/service/db")
        returned = {}

        def watch(name, index, wait):
            status, new_index, body = get(self.agent, f"/v1/health/service/{name}?index={index}&wait={wait}")
            returned[name] = time.monotonic()
            return status, new_index, body

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            started = time.monotonic()
            web = pool.submit(watch, "web", web_index, "30s")
            db = pool.submit(watch, "db", db_index, "1500ms")
            # The "not before" window, past the 1 s idle timeout: with
            # nothing changed, both must still be parked (and connected).
            time.sleep(1.2)
            self.assertFalse(web.done(), "the web watcher returned before any change")
            self.assertFalse(db.done(), "the db watcher returned before its wait")
            status, _ = put(self.agent, "/v1/agent/check/fail/service:web-1?note=down")
            changed = time.monotonic()
            self.assertEqual(status, 200)
            status, new_index, body = web.result(timeout=5)
            self.assertEqual(status, 200)
            self.assertGreater(new_index, web_index)
            self.assertEqual(body[0]["Checks"][1]["Status"], "critical")
            self.assertLess(returned["web"] - changed, 0.05, "woken more than 50 ms after the change")
            # db was not woken by web's change: it comes back at its wait, unchanged.
            status, new_db_index, _ = db.result(timeout=5)
            self.assertEqual(new_db_index, db_index)
            self.assertGreaterEqual(returned["db"] - started, 1.5)

        # An index ahead of the server's answers at once.
        t = time.monotonic()
        get(self.agent, f"/v1/health/service/web?index={new_index + 1000}&wait=10s")
        self.assertLess(time.monotonic() - t, 1.0)

    def test_index_grows_across_a_restart(self):
        put(self.agent, "/v1/agent/service/register", ttl_service("web", "web-1", 80))
        _, before, _ = get(self.agent, "/v1/health/service/web")
        self.agent.stop()
        self.agent.start()
        status, after, body = get(self.agent, "/v1/health/service/web")
        self.assertEqual(status, 200)
        self.assertEqual(body[0]["Service"]["ID"], "web-1")  # durable
        self.assertGreater(after, before)


class ConsulToken(unittest.TestCase):
    def test_writes_need_the_token(self):
        agent = Agent(config_extra='[http]\ntoken = "s3cret"')
        agent.start()
        self.addCleanup(agent.stop)
        body = ttl_service("web", "web-1", 80)
        self.assertEqual(put(agent, "/v1/agent/service/register", body)[0], 403)
        self.assertEqual(put(agent, "/v1/agent/service/register", body, {"X-Consul-Token": "s3cret"}), (200, ""))
        self.assertEqual(put(agent, "/v1/agent/check/pass/service:web-1?token=s3cret"), (200, ""))
        self.assertEqual(get(agent, "/v1/agent/services")[0], 200)


if __name__ == "__main__":
    unittest.main()
