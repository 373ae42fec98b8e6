"""Helpers for the abuse tests: sockets that do not read, the agent's memory, its open connections."""
import http.client
import json
import re
import time

import harness


def rss_kib(agent):
    """The agent's resident memory now, in KiB."""
    return harness.rss_kib(agent.proc.pid)


def metric(agent, name):
    """One sample of the agent's /metrics (the first line that starts with name)."""
    status, body = agent.http("GET", "/metrics", timeout=2)
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


def register_many(agent, name, count, meta_bytes=200, token=None):
    """Registers `count` instances of one service over one keep-alive connection."""
    conn = http.client.HTTPConnection(agent.host, agent.http_port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        for i in range(count):
            body = json.dumps({"name": name, "id": f"{name}-{i}", "port": 1000 + i % 60000,
                               "address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                               "meta": {"blob": "m" * meta_bytes}})
            conn.request("PUT", "/v1/services", body, headers)
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
    finally:
        conn.close()


def send_without_reading(sock, data, timeout):
    """Sends as much of data as the peer takes within timeout; returns bytes sent."""
    sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + timeout
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += sock.send(data[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            break
    return sent


def statuses(raw):
    """The status codes of every response in raw, in order."""
    return [int(m.group(1)) for m in re.finditer(rb"HTTP/1\.1 (\d{3}) ", raw)]
