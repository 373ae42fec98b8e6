"""Helpers for the storage tests: a prefilled data_dir, a burst of writes on
one keep-alive connection, and what the agent holds after a restart."""
import http.client
import json
import os
import random
import signal
import time

from harness import wait_until

BULK = "bulk"    # the prefilled service
BURST = "burst"  # the service the burst writes


def prefill(data_dir, count):
    """Writes a legacy services.json of `count` instances: the agent imports
    it into state.db at its first start (the bulk path), so a large registry
    costs seconds, not one HTTP write each."""
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "services.json"), "w") as f:
        f.write('{"format": 1, "instances": [\n')
        for i in range(count):
            f.write("," if i else "")
            f.write(json.dumps({"name": BULK, "id": f"bulk-{i}", "address": "10.1.0.1",
                                "port": 1 + i % 60000, "version": i + 1}))
            f.write("\n")
        f.write("]}\n")


def start_serving(agent, timeout=60):
    agent.start(wait=False)

    def serving():
        if agent.proc.poll() is not None:
            raise AssertionError(f"agent exited with {agent.proc.returncode}:\n{agent.read_log()[-3000:]}")
        try:
            return agent.http("GET", "/health", timeout=0.5)[0] == 200
        except OSError:
            return False

    wait_until(serving, timeout=timeout, what="the HTTP API to serve")
    return agent


class Burst:
    """Registrations, replacements and deregistrations of the BURST service
    on one keep-alive connection, sent one after the other; `acked` is the
    state every 200 promised, `in_flight` the request sent last and not
    answered (it may or may not have been stored)."""

    def __init__(self, agent, seed):
        self.agent = agent
        self.rng = random.Random(seed)
        self.conn = http.client.HTTPConnection(agent.host, agent.http_port, timeout=10)
        self.acked = {}        # id -> port, or None once deregistered
        self.in_flight = None  # (id, port or None)
        self.sent = 0

    def _next(self):
        live = [i for i, p in self.acked.items() if p is not None]
        roll = self.rng.random()
        if live and roll < 0.2:
            return self.rng.choice(live), None
        if live and roll < 0.4:
            return self.rng.choice(live), self.rng.randint(1, 65535)
        return f"burst-{self.sent}", self.rng.randint(1, 65535)

    def send(self):
        instance_id, port = self._next()
        self.sent += 1
        if port is None:
            self.conn.request("DELETE", f"/v1/services/{instance_id}")
        else:
            body = json.dumps({"name": BURST, "id": instance_id, "address": "10.2.0.1", "port": port})
            self.conn.request("PUT", "/v1/services", body, {"Content-Type": "application/json"})
        self.in_flight = (instance_id, port)

    def receive(self):
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise AssertionError(f"{r.status} {body!r} for {self.in_flight}")
        instance_id, port = self.in_flight
        self.acked[instance_id] = port
        self.in_flight = None

    def run_and_kill(self, acks):
        """`acks` acknowledged writes, one more sent, then kill -9 at once."""
        for _ in range(acks):
            self.send()
            self.receive()
        self.send()
        self.agent.proc.send_signal(signal.SIGKILL)
        self.agent.proc.wait(timeout=10)
        self.agent.log.close()
        self.conn.close()


def stored_burst(agent):
    """The BURST instances the agent serves: id -> port."""
    status, body = agent.http("GET", f"/v1/services/{BURST}", timeout=10)
    if status == 404:
        return {}
    assert status == 200, (status, body)
    return {i["id"]: i["port"] for i in json.loads(body)}


def check_consistent(test, burst, found):
    """Every acknowledged change is there; nothing else is, except maybe the
    request that was in flight."""
    maybe_id, maybe_port = burst.in_flight if burst.in_flight else (None, None)
    for instance_id, port in burst.acked.items():
        allowed = {port}
        if instance_id == maybe_id:
            allowed.add(maybe_port)
        test.assertIn(found.get(instance_id), allowed, f"{instance_id}: acknowledged {port}")
    for instance_id, port in found.items():
        if instance_id in burst.acked:
            continue
        test.assertEqual(instance_id, maybe_id, f"{instance_id} was never acknowledged")
        test.assertEqual(port, maybe_port)


def elapsed(since):
    return time.monotonic() - since
