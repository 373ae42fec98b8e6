#!/usr/bin/python3
"""Replication over gossip: N real cairn agents as processes on 127.0.0.2..,
in a network namespace of their own (needs root), and, with --memberlist DIR,
memberlist's harness for the same profile and N in the same invocation and the
same namespace, so the figures are compared as ratios on the same machine at
the same time. The agents and memberlist helpers are bench_gossip.py's.

    flock /work/bench.lock /usr/bin/python3 tools/bench/gossip/bench_replication.py \\
        --n 10,50 --profile local --memberlist PATH

One JSON line per experiment, profile and N; memberlist's line and the ratios
follow each.

Experiments (--exp, comma-separated; default replicate,bytes):
  replicate  At each --loss (percent of gossip packets dropped at random,
             UDP and TCP on the gossip port, by nftables in the namespace;
             DNS and HTTP are never dropped), on one cluster:
               --changes registrations, each on a random agent;
               as many deregistrations of those, each on its owner;
               as many health changes: --changes/2 instances registered with
               a TTL check, on random agents, are passed (into DNS), then
               failed (out of it) through PUT /v1/checks/{id}/pass|fail.
             Each change: ms from its HTTP 200 until every agent's DNS answer
             reflects it (A records there / gone), every agent still behind
             asked again every --dns-poll-ms; median, p99, max; coverage: the
             changes that reached every agent within --reach-s, and within
             --late-s more (the misses are polled again after their batch).
             Beside it, memberlist's broadcast experiment (20 user messages of
             100 bytes, relayed by each node on first receipt, 5 s each):
             median and max to all nodes, and how many reached all.
  bytes      Gossip bytes sent per agent per second (UDP payload and TCP
             stream bytes, cairn_gossip_sent_bytes_total) over a window of
             whole scaled push-pull intervals (at least --window-s), from the
             moment memberlist's harness starts counting (push-pull interval +
             the scaled interval after the cluster started): first with no
             instance registered; then --instances instances (the cluster's
             total, 10 per service) on random agents, and --drain-s after
             every agent lists them all (the relay of the burst is over):
             idle, then busy, with
             --busy-rate re-registrations per second across the cluster (each
             a random one of the instances, on its owner, with a new port).
             Beside it, idle memberlist nodes (no user state) counted the same
             way over the same window: bytes each node sends.
  starve     One agent of --starve-n (not the seed) stopped with SIGSTOP for
             --stop-ms of every --period-ms, for --starve-s; every agent's
             /v1/members polled throughout and every agent's log read after:
             no agent is killed, so every gossip.member_dead line is a false
             death. Beside it: failed probes (gossip.suspect lines) of the
             starved agent by the others and of the others by it, the
             starved agent's refutations, and the non-alive states the
             others listed when polled (at random moments, 0.5-2.5 s apart).
             memberlist's harness runs all its nodes in one process and
             cannot starve one of them: cairn alone.
"""

import argparse
import json
import math
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import dns.message
import dns.rcode
import dns.rdatatype

import bench_gossip as bg
from netns import Namespace

def http(agent, method, path, body=None, timeout=5.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{agent.host}:{bg.HTTP_PORT}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path} on {agent.name}: {e.code} {e.read().decode(errors='replace')}")


def load():
    return [round(x, 2) for x in os.getloadavg()]


def has_a(m):
    return m.rcode() == dns.rcode.NOERROR and any(r.rdtype == dns.rdatatype.A for r in m.answer)


def no_a(m):
    return m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) and not has_a(m)


def known(m):
    return m.rcode() == dns.rcode.NOERROR


class Poller:
    """Asks many agents one DNS question at once from one UDP socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.next_id = random.randrange(65536)

    def spread(self, agents, qname, want, timeout_s, round_s):
        """(ms until want(answer) held on every agent, or None; agents still not there).
        Each round asks every agent not there yet once and takes answers until
        the round ends; an agent's time is that of its first answer that holds."""
        t0 = time.monotonic()
        pending = {a.host: a for a in agents}
        last = 0.0
        query = dns.message.make_query(qname, "A")
        while pending and time.monotonic() - t0 < timeout_s:
            asked = {}
            for host in pending:
                self.next_id = (self.next_id + 1) % 65536
                query.id = self.next_id
                asked[self.next_id] = host
                self.sock.sendto(query.to_wire(), (host, bg.DNS_PORT))
            end = time.monotonic() + round_s
            while (left := end - time.monotonic()) > 0:
                if not select.select([self.sock], [], [], left)[0]:
                    continue
                data, (src, _) = self.sock.recvfrom(65535)
                try:
                    m = dns.message.from_wire(data)
                except Exception:
                    continue
                if asked.get(m.id) == src and src in pending and want(m):
                    last = (time.monotonic() - t0) * 1000
                    del pending[src]
        return (None if pending else last), list(pending.values())


def stats(times):
    """median, p99 (nearest rank, misses ranked last), max over all changes,
    and the three slowest of those that reached every agent."""
    n, got = len(times), sorted(t for t in times if t is not None)

    def rank(q):
        k = math.ceil(q * n) - 1
        return round(got[k], 1) if k < len(got) else None

    return {"changes": n, "reached_all": len(got), "median_ms": rank(0.5), "p99_ms": rank(0.99),
            "max_ms": round(got[-1], 1) if len(got) == n and got else None,
            "slowest_reached_ms": [round(t, 1) for t in got[-3:][::-1]]}


class Cluster:
    """with Cluster(n, profile) as c: N agents started, joined and all alive
    (c.agents, c.join_ms, c.started); every agent killed and its files removed
    on the way out."""

    def __init__(self, n, profile, timeout_s=120):
        self.n, self.profile, self.timeout_s = n, profile, timeout_s

    def __enter__(self):
        self.base = tempfile.mkdtemp(prefix="cairn-bench-replication-")
        self.agents = [bg.Agent(i, self.profile, self.base) for i in range(1, self.n + 1)]
        try:
            seed = self.agents[0]
            self.started = time.monotonic()
            seed.start()
            if bg.until(lambda: seed.members() != {}, 10, 0.05) is None:
                raise RuntimeError("the seed agent did not answer /v1/members within 10 s")
            for a in self.agents[1:]:
                a.start(join=f"{seed.host}:{bg.GOSSIP_PORT}")
            want = {a.name: "alive" for a in self.agents}
            self.join_ms = bg.until(lambda: all(a.members() == want for a in self.agents), self.timeout_s, 0.1)
            if self.join_ms is None:
                raise RuntimeError(f"{self.n} agents did not all see each other alive in {self.timeout_s} s")
        except BaseException:
            self.__exit__()
            raise
        return self

    def exited(self):
        return [a.name for a in self.agents if not a.alive()]

    def __exit__(self, *exc):
        for a in self.agents:
            a.stop(signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)
        return False


def batch(poller, agents, changes, args):
    """Makes each change (do, qname, want) and times it to every agent; then
    polls the ones that missed --reach-s again, for --late-s in all."""
    times, missed = [], []
    for do, qname, want in changes:
        do()
        ms, behind = poller.spread(agents, qname, want, args.reach_s, args.dns_poll_ms / 1000)
        times.append(ms)
        if ms is None:
            missed.append((qname, want, behind))
    deadline, late = time.monotonic() + args.late_s, 0
    for qname, want, behind in missed:
        left = deadline - time.monotonic()
        if left > 0 and poller.spread(behind, qname, want, left, args.dns_poll_ms / 1000)[0] is not None:
            late += 1
    return times, late


def replicate_at(c, ns, loss, args):
    """The registrations, deregistrations and health changes at one loss rate."""
    ns.set_loss(loss)
    poller, agents, k = Poller(), c.agents, args.changes
    out = {"loss_pct": loss}
    owners = [random.choice(agents) for _ in range(k)]
    svc = lambda kind, i: f"{kind}{loss:g}x{i}".replace(".", "-")
    qname = lambda kind, i: f"{svc(kind, i)}.service.cairn"

    def register(kind, i, checks=()):
        body = {"id": svc(kind, i), "name": svc(kind, i), "address": "127.0.1.1", "port": 1000 + i}
        if checks:
            body["checks"] = list(checks)
        return lambda: http(owners[i], "PUT", "/v1/services", body)

    def report(name, times, late):
        out[name] = dict(stats(times), reached_all_late=stats(times)["reached_all"] + late)

    report("register", *batch(poller, agents, ((register("r", i), qname("r", i), has_a) for i in range(k)), args))
    dereg = lambda i: lambda: http(owners[i], "DELETE", f"/v1/services/{svc('r', i)}")
    report("deregister", *batch(poller, agents, ((dereg(i), qname("r", i), no_a) for i in range(k)), args))

    half = (k + 1) // 2
    for i in range(half):
        register("h", i, [{"ttl": "1h"}])()
    setup = [poller.spread(agents, qname("h", i), known, args.reach_s + args.late_s, 0.05)[0] for i in range(half)]
    out["health_setup_missed"] = sum(t is None for t in setup)
    check = lambda i, verb: lambda: http(owners[i], "PUT", f"/v1/checks/{svc('h', i)}:1/{verb}")
    up, late_up = batch(poller, agents, ((check(i, "pass"), qname("h", i), has_a) for i in range(half)), args)
    down, late_down = batch(poller, agents, ((check(i, "fail"), qname("h", i), no_a) for i in range(half)), args)
    report("health", (up + down)[:k], late_up + late_down)
    seen, dropped = ns.counters()
    out["gossip_packets_dropped"] = f"{dropped} of {seen} ({100 * dropped / max(seen, 1):.1f}%)"
    ns.set_loss(0)
    return out


def exp_replicate(n, profile, ns, args):
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    out = {"impl": "cairn", "experiment": "replicate", "profile": profile, "n": n, "load_before": load()}
    with Cluster(n, profile) as c:
        out["join_ms"] = round(c.join_ms, 1)
        out["runs"] = [replicate_at(c, ns, loss, args) for loss in args.loss]
        out["agents_exited"] = c.exited()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    out["bench_cpu_s"] = round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1)
    out["load_after"] = load()
    out["target_n50_local"] = "p99 < 500 ms and every change reaches every agent, at every loss"
    if n == 50 and profile == "local":
        out["target_met"] = all(r[kind]["p99_ms"] is not None and r[kind]["p99_ms"] < 500
                                and r[kind]["reached_all"] == r[kind]["changes"]
                                for r in out["runs"] for kind in ("register", "deregister", "health"))
    return out


def memberlist_broadcast(n, profile, args):
    rows = bg.memberlist(n, profile, args.memberlist, "-exp broadcast -join-trials 1 -bcast-reps 20")
    b = rows.get("broadcast", {})
    return {"impl": "memberlist", "experiment": "broadcast", "profile": profile, "n": n,
            "median_ms": b.get("all_nodes_median_ms"), "max_ms": b.get("all_nodes_max_ms"),
            "reached_all": None if not b else b["reps"] - b["incomplete_reps"], "reps": b.get("reps"),
            "load_after": load()}


def ratio(a, b):
    return None if a is None or not b else round(a / b, 2)


def sent_per_agent(agents, window_s, busy_rate=0.0, update=None):
    """Bytes each agent sent per second over window_s; with busy_rate, update()
    called that many times per second meanwhile (on a fixed schedule)."""
    before, t0 = [a.sent_bytes() for a in agents], time.monotonic()
    done = 0
    while (now := time.monotonic()) - t0 < window_s:
        if busy_rate and done < (now - t0) * busy_rate:
            update()
            done += 1
        else:
            time.sleep(min(0.01, window_s - (now - t0)) if busy_rate else window_s - (now - t0))
    elapsed = time.monotonic() - t0
    per = [(b - a) / elapsed for a, b in zip(before, [a.sent_bytes() for a in agents])]
    out = {"median": round(statistics.median(per)), "mean": round(statistics.mean(per)), "max": round(max(per))}
    if busy_rate:
        out["updates_per_s"] = round(done / elapsed, 2)
    return out


def exp_bytes(n, profile, args):
    out = {"impl": "cairn", "experiment": "bytes", "profile": profile, "n": n, "instances": args.instances,
           "busy": f"{args.busy_rate:g} re-registrations per second across the cluster", "load_before": load()}
    scaled = bg.push_pull_scaled_s(profile, n)
    window = scaled * max(1, math.ceil(args.window_s / scaled))
    out["window_s"] = window
    with Cluster(n, profile) as c:
        steady = c.started + bg.PUSH_PULL_S[profile] + scaled + 1
        time.sleep(max(steady - time.monotonic(), 0))
        out["idle_empty_bytes_per_agent_s"] = sent_per_agent(c.agents, window)
        owners = [random.choice(c.agents) for _ in range(args.instances)]
        body = lambda i, port: {"id": f"bulk-{i}", "name": f"bulk{i // 10}", "address": "127.0.1.1", "port": port}
        for i in range(args.instances):
            http(owners[i], "PUT", "/v1/services", body(i, 2000 + i % 60000))

        def holds_all(a):
            listed = http(a, "GET", "/v1/services")
            return sum(s["instances"] for s in listed if s["name"].startswith("bulk")) == args.instances

        spread = bg.until(lambda: all(holds_all(a) for a in c.agents), 120, 0.5)
        out["registered_everywhere_s"] = None if spread is None else round(spread / 1000, 1)
        # The burst of registrations is relayed by every agent that merges
        # it; the window waits for those queues to drain.
        time.sleep(args.drain_s)
        out["idle_bytes_per_agent_s"] = sent_per_agent(c.agents, window)

        def update():
            i = random.randrange(args.instances)
            http(owners[i], "PUT", "/v1/services", body(i, random.randrange(2000, 60000)))

        out["busy_bytes_per_agent_s"] = sent_per_agent(c.agents, window, args.busy_rate, update)
        out["agents_exited"] = c.exited()
    out["load_after"] = load()
    return out


def memberlist_idle(n, profile, window, args):
    rows = bg.memberlist(n, profile, args.memberlist, f"-exp traffic -join-trials 1 -traffic-secs {window}")
    t = rows.get("traffic_idle_full_pushpull", {})
    return {"impl": "memberlist", "experiment": "idle", "profile": profile, "n": n,
            "window_s": t.get("window_s"), "idle_bytes_per_node_s": {
                "median": t.get("per_node_total_Bps_median"), "mean": t.get("total_payload_bytes_per_node_s"),
                "max": t.get("per_node_total_Bps_max")}, "load_after": load()}


def exp_starve(profile, args):
    n = args.starve_n
    out = {"impl": "cairn", "experiment": "starve", "profile": profile, "n": n, "seconds": args.starve_s,
           "stop": f"SIGSTOP {args.stop_ms:g} ms of every {args.period_ms:g} ms", "load_before": load()}
    with Cluster(n, profile) as c:
        victim = random.choice(c.agents[1:])
        out["starved"] = victim.name
        stop = threading.Event()
        cycles = [0]

        def cycle():
            due = time.monotonic()
            while not stop.is_set():
                victim.proc.send_signal(signal.SIGSTOP)
                time.sleep(args.stop_ms / 1000)
                victim.proc.send_signal(signal.SIGCONT)
                cycles[0] += 1
                due += args.period_ms / 1000
                stop.wait(max(0.0, due - time.monotonic()))

        seen = {}
        thread = threading.Thread(target=cycle)
        thread.start()
        try:
            t0 = time.monotonic()
            # Not the starved agent (its answer would wait for SIGCONT and so
            # keep the polls in step with the cycle), at random moments.
            while time.monotonic() - t0 < args.starve_s:
                for a in c.agents:
                    if a is not victim:
                        for name, state in a.members().items():
                            if state != "alive":
                                seen[f"{name} {state}"] = seen.get(f"{name} {state}", 0) + 1
                time.sleep(random.uniform(0.5, 2.5))
        finally:
            stop.set()
            thread.join()
            victim.proc.send_signal(signal.SIGCONT)
        out["cycles"] = cycles[0]
        want = {a.name: "alive" for a in c.agents}
        settled = bg.until(lambda: all(a.members() == want for a in c.agents), 60, 0.2)
        out["all_alive_after_ms"] = None if settled is None else round(settled, 1)
        out["non_alive_views_polled"] = seen
        out["refutations_by_starved"] = victim.metric("cairn_gossip_refutations_total")
        deaths, of_starved, by_starved = [], 0, 0
        for a in c.agents:
            with open(os.path.join(a.dir, "log"), errors="replace") as f:
                for line in f:
                    if m := re.search(r"msg=gossip\.member_dead .*\bmember=(\S+)", line):
                        deaths.append(f"{m.group(1)}@{a.name}")
                    elif m := re.search(r"msg=gossip\.suspect .*\btarget=(\S+)", line):
                        of_starved += m.group(1) == victim.name
                        by_starved += a is victim
        out["probes_failed_of_starved"] = of_starved
        out["probes_failed_by_starved"] = by_starved
        out["false_deaths"] = deaths
        out["agents_exited"] = c.exited()
    out["load_after"] = load()
    return out


def emit(row):
    print(json.dumps(row), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", default="replicate,bytes", help="replicate, bytes, starve (comma-separated)")
    p.add_argument("--n", default="10", help="agents per cluster, comma-separated (replicate, bytes)")
    p.add_argument("--profile", default="local", help="gossip profiles, comma-separated")
    p.add_argument("--memberlist", help="the memberlist harness directory (its run.sh) to run beside: a path outside this "
                   "repository, given here on the command line")
    p.add_argument("--changes", type=int, default=100, help="registrations, deregistrations, health changes")
    p.add_argument("--loss", default="0,20", help="percent of gossip packets dropped, comma-separated")
    p.add_argument("--reach-s", type=float, default=5, help="a change reached all within this, or missed")
    p.add_argument("--late-s", type=float, default=30, help="missed changes polled again this long")
    p.add_argument("--dns-poll-ms", type=float, default=10)
    p.add_argument("--instances", type=int, default=1000, help="instances registered for bytes")
    p.add_argument("--window-s", type=float, default=30, help="bytes window, rounded up to push-pulls")
    p.add_argument("--drain-s", type=float, default=60, help="wait after the bulk registrations")
    p.add_argument("--busy-rate", type=float, default=10, help="re-registrations per second when busy")
    p.add_argument("--starve-n", type=int, default=10)
    p.add_argument("--starve-s", type=float, default=600)
    p.add_argument("--stop-ms", type=float, default=300)
    p.add_argument("--period-ms", type=float, default=1000)
    args = p.parse_args()
    args.loss = [float(x) for x in args.loss.split(",")]
    exps = set(args.exp.split(","))
    if unknown := exps - {"replicate", "bytes", "starve"}:
        p.error(f"unknown experiment: {', '.join(sorted(unknown))}")
    if args.memberlist:
        args.memberlist = os.path.abspath(args.memberlist)
    with Namespace(bg.GOSSIP_PORT) as ns:
        for profile in args.profile.split(","):
            for n in map(int, args.n.split(",")):
                if "replicate" in exps:
                    c = exp_replicate(n, profile, ns, args)
                    emit(c)
                    if args.memberlist:
                        m = memberlist_broadcast(n, profile, args)
                        emit(m)
                        r0 = c["runs"][0]["register"]
                        emit({"ratio": "cairn registration / memberlist broadcast", "profile": profile, "n": n,
                              "median": ratio(r0["median_ms"], m["median_ms"]),
                              "max": ratio(r0["max_ms"], m["max_ms"]),
                              "reached_all": f"{r0['reached_all']}/{r0['changes']} vs {m['reached_all']}/{m['reps']}"})
                if "bytes" in exps:
                    c = exp_bytes(n, profile, args)
                    emit(c)
                    if args.memberlist:
                        m = memberlist_idle(n, profile, c["window_s"], args)
                        emit(m)
                        mm = m["idle_bytes_per_node_s"]["mean"]
                        emit({"ratio": "cairn with instances / idle memberlist, bytes sent per agent per second",
                              "profile": profile, "n": n, "target": "idle <= 2",
                              "idle_no_instances": ratio(c["idle_empty_bytes_per_agent_s"]["mean"], mm),
                              "idle": ratio(c["idle_bytes_per_agent_s"]["mean"], mm),
                              "busy": ratio(c["busy_bytes_per_agent_s"]["mean"], mm)})
            if "starve" in exps:
                emit(exp_starve(profile, args))


if __name__ == "__main__":
    sys.exit(main())
