#!/usr/bin/python3
"""Gossip benchmark: N real cairn agents as processes on 127.0.0.2.. (loopback),
the experiments of the memberlist harness, and, with --memberlist DIR, that
harness run for the same profile and N in the same invocation, so the figures
are compared as ratios on the same machine at the same time.

    tools/bench/gossip/bench_gossip.py --n 10 --profile local
    tools/bench/gossip/bench_gossip.py --n 10,50 --profile local,lan --memberlist PATH

Agents are named node-000, node-001, ... as the harness names its nodes, so
that names cost both the same bytes in every ping and push-pull entry.

Experiments (times in ms, from the moment the action was taken until every
agent shows the result, polled every --poll-ms; failure and leave also from
the agents' own log lines, as the harness times its nodes' events):
  join       agents 2..N started one after the other with --join agent 1: all
             see N alive, counted from the first start, from the last start,
             and from the moment the last agent was ready (answered HTTP: its
             join was sent by then); each agent's start-up (process start to
             ready) beside it
  idle       gossip bytes sent per agent per second (from /metrics) over whole
             push-pull rounds, at least --idle-s,
             UDP and TCP payload as memberlist's harness counts them, from the
             same point: once every agent's first push-pull round is over
             (push-pull interval + its scaled interval + 1 s after the start),
             before anything is registered (the harness too measures before
             its broadcasts); then the same window again after "register"
  register   PUT /v1/services on a random agent: every agent answers it in DNS
  failure    kill -9 of a random agent (not the seed): every other agent lists
             it dead; --failures times, each victim replaced by a new agent
             (joined, all see all, then 2 s) so that N stays, as the harness
             does; median and max, polled ("failure") and the last of the
             others' gossip.member_dead log lines ("failure_logged", the
             harness's measure: its nodes' NotifyLeave times), with each
             repetition's figures
  leave      the same with SIGTERM (a graceful leave): every other agent lists
             it left; --leaves times
  false_dead members ever listed dead that were never killed
"""

import argparse
import concurrent.futures
import datetime
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import dns.message
import dns.query

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CAIRN = os.environ.get("CAIRN_BIN", os.path.join(ROOT, "build", "cairn"))
DNS_PORT, HTTP_PORT, GOSSIP_PORT = 18600, 18500, 18301
# An agent's member events in its log (text format): their time, to the ms.
LOG_EVENT = re.compile(rb"^ts=(\S+)Z level=info msg=(gossip\.member_\w+) member=(\S+)", re.M)


class Agent:
    def __init__(self, i, profile, base):
        self.name = f"node-{i - 1:03d}"
        self.host = f"127.0.0.{i + 1}"
        self.dir = os.path.join(base, self.name)
        os.makedirs(self.dir)
        self.config = os.path.join(self.dir, "agent.toml")
        with open(self.config, "w") as f:
            f.write(f'node_name = "{self.name}"\ndata_dir = "{self.dir}/data"\n'
                    f'advertise_address = "{self.host}"\n'
                    f'[dns]\nlisten = ["{self.host}:{DNS_PORT}"]\nworkers = 1\nzones_dir = "{self.dir}"\n'
                    f'[http]\nlisten = "{self.host}:{HTTP_PORT}"\n'
                    f'[gossip]\nbind = "{self.host}:{GOSSIP_PORT}"\nprofile = "{profile}"\n'
                    '[storage]\nsync = "none"\n')
        self.proc = None

    def start(self, join=None):
        args = [CAIRN, "agent", "--config", self.config] + (["--join", join] if join else [])
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self):
        """True once the agent answers HTTP: its start is over (config, state
        database, sockets, the first join sent), the loop is running."""
        try:
            self.get("/v1/members", timeout=0.2)
            return True
        except Exception:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get(self, path, timeout=1.0):
        with urllib.request.urlopen(f"http://{self.host}:{HTTP_PORT}{path}", timeout=timeout) as r:
            return r.read()

    def logged_at(self, event, member, since):
        """The wall-clock time of this agent's first log line of `event` for
        `member` at or after `since`, or None."""
        with open(os.path.join(self.dir, "log"), "rb") as f:
            for m in LOG_EVENT.finditer(f.read()):
                if m.group(2).decode() != event or m.group(3).decode() != member:
                    continue
                t = datetime.datetime.strptime(m.group(1).decode(), "%Y-%m-%dT%H:%M:%S.%f")
                t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
                if t >= since - 0.001:
                    return t
        return None

    def members(self):
        try:
            return {m["name"]: m["state"] for m in json.loads(self.get("/v1/members"))}
        except Exception:
            return {}

    def metric(self, name):
        """The value of an unlabelled counter or gauge in /metrics (0 if absent)."""
        m = re.search(rf"^{name} (\d+)", self.get("/metrics").decode(), re.M)
        return int(m.group(1)) if m else 0

    def sent_bytes(self):
        return self.metric("cairn_gossip_sent_bytes_total")

    def answers(self, name):
        try:
            r = dns.query.udp(dns.message.make_query(name, "A"), self.host, port=DNS_PORT, timeout=0.3)
            return len(r.answer) > 0
        except Exception:
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def until(pred, timeout_s, poll_s):
    """ms until pred() holds, or None after timeout_s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if pred():
            return (time.monotonic() - t0) * 1000
        time.sleep(poll_s)
    return None


def summary(values):
    got = [v for v in values if v is not None]
    if not got:
        return {"median_ms": None, "max_ms": None, "missed": len(values)}
    return {"median_ms": round(statistics.median(got), 1), "max_ms": round(max(got), 1),
            "missed": len(values) - len(got)}


# The profiles' push-pull intervals (memberlist's DefaultLocalConfig and
# DefaultLANConfig), for the idle window's start.
PUSH_PULL_S = {"local": 15, "lan": 30, "wan": 60}


def push_pull_scaled_s(profile, n):
    """memberlist's pushPullScale: the interval times ceil(log2(n) - 5) + 1 past 32 nodes."""
    base = PUSH_PULL_S[profile]
    return base if n <= 32 else base * (math.ceil(math.log2(n) - math.log2(32)) + 1)


def run(n, profile, args):
    base = tempfile.mkdtemp(prefix="cairn-bench-gossip-")
    agents = [Agent(i, profile, base) for i in range(1, n + 1)]
    poll = args.poll_ms / 1000
    out = {"impl": "cairn", "profile": profile, "n": n}
    dead_seen = set()
    added = []  # the victims' replacements

    # Every agent is asked at once, so that one poll takes one request's time
    # at N = 50 too (memberlist's harness reads its nodes directly).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=16)

    def all_see(names_states, among):
        views = list(pool.map(lambda a: a.members(), among))
        for v in views:
            dead_seen.update(k for k, s in v.items() if s == "dead")
        return all(all(v.get(k) == s for k, s in names_states.items()) for v in views)

    try:
        seed = agents[0]
        created = time.monotonic()
        seed.start()
        until(lambda: seed.members() != {}, 10, 0.05)
        t0 = time.monotonic()
        for a in agents[1:]:
            a.start(join=f"{seed.host}:{GOSSIP_PORT}")
        spawned = time.monotonic()
        # When each agent is first ready (every one not ready yet is asked
        # every 10 ms): memberlist's harness creates all its nodes before it
        # times the joins, so the fair start is the last agent's readiness.
        ready_at = {}
        deadline = time.monotonic() + args.timeout_s
        while len(ready_at) < n - 1 and time.monotonic() < deadline:
            waiting = [a for a in agents[1:] if a.name not in ready_at]
            for a, ok in zip(waiting, pool.map(lambda a: a.ready(), waiting)):
                if ok:
                    ready_at[a.name] = time.monotonic()
            time.sleep(0.01)
        last_ready = max(ready_at.values()) if ready_at else spawned
        want = {a.name: "alive" for a in agents}
        joined = until(lambda: all_see(want, agents), args.timeout_s, poll)
        done = time.monotonic()
        ms_from = lambda t: None if joined is None else round((done - t) * 1000, 1)
        out["join_all_ms"] = ms_from(t0)
        # Starting N-1 processes takes a while on a busy machine: the same
        # convergence from the moment the last agent was started, and from
        # the moment the last one was ready (its join sent).
        out["join_after_last_start_ms"] = ms_from(spawned)
        out["join_after_last_ready_ms"] = ms_from(last_ready)
        startup = [ready_at[a.name] - a.started for a in agents[1:] if a.name in ready_at]
        out["startup_ms"] = {"median": round(statistics.median(startup) * 1000, 1) if startup else None,
                             "max": round(max(startup) * 1000, 1) if startup else None,
                             "ready_spread": round((last_ready - min(ready_at.values())) * 1000, 1)
                             if ready_at else None}

        # The first push-pull of an agent comes a random phase within the
        # interval and one scaled interval after its start: measure after
        # that, as memberlist's harness does, so that both windows see
        # steady state, and before anything is registered, as the harness
        # measures before its broadcasts.
        steady = created + PUSH_PULL_S[profile] + push_pull_scaled_s(profile, n) + 1
        time.sleep(max(0.0, steady - time.monotonic()))
        # A whole number of push-pull rounds (the smallest at least --idle-s
        # long): a window shorter than the round catches each agent's
        # push-pull or not depending on its phase. memberlist's figure is its
        # harness's window of the same kind (traffic_idle_full_pushpull).
        scaled = push_pull_scaled_s(profile, n)
        window = scaled * max(1, math.ceil(args.idle_s / scaled))
        out["idle_window_s"] = window

        def idle_bytes():
            before = [a.sent_bytes() for a in agents]
            time.sleep(window)
            per = [(b - a) / window for a, b in zip(before, [a.sent_bytes() for a in agents])]
            # The mean is what the harness reports (all nodes' bytes / N / s).
            return {"mean": round(statistics.mean(per), 1), "median": round(statistics.median(per)),
                    "max": round(max(per))}

        out["idle_bytes_per_agent_s"] = idle_bytes()

        times = []
        for k in range(args.registrations):
            owner = random.choice(agents)
            body = json.dumps({"id": f"r{k}", "name": f"svc{k}", "address": "127.0.1.1", "port": 1000 + k})
            req = urllib.request.Request(f"http://{owner.host}:{HTTP_PORT}/v1/services", data=body.encode(),
                                         method="PUT")
            urllib.request.urlopen(req, timeout=5).read()
            t = time.monotonic()
            done = until(lambda: all(a.answers(f"svc{k}.service.cairn") for a in agents), 10, poll / 4)
            times.append(None if done is None else (time.monotonic() - t) * 1000)
        out["register"] = summary(times)
        # The same window right after the writes: what they cost once the
        # broadcasts are over (each writer's one check of every peer at their
        # first push-pull after its first write, docs/replication.md).
        out["idle_after_register_bytes_per_agent_s"] = idle_bytes()

        live = list(agents)
        killed = set()

        def replace():
            """A new agent in the victim's place, as the harness replaces its
            victims (so every removal is from N agents): joined, seen by
            all, then 2 s to settle."""
            a = Agent(n + 1 + len(added), profile, base)
            added.append(a)
            a.start(join=f"{seed.host}:{GOSSIP_PORT}")
            live.append(a)
            until(lambda: all_see({x.name: "alive" for x in live}, live), args.timeout_s, poll)
            time.sleep(2)

        def remove(sig, state, event, reps):
            times, logged = [], []
            for _ in range(reps):
                victim = random.choice(live[1:])
                live.remove(victim)
                killed.add(victim.name)
                t = time.monotonic()
                wall = time.time()
                # SIGTERM is signalled, not waited for: the agent exits once
                # its leave went out and its state is flushed, which the
                # others need not wait for (the harness too times NotifyLeave
                # at the others, not Leave()).
                victim.proc.send_signal(sig)
                done = until(lambda: all_see({victim.name: state}, live), args.timeout_s, poll)
                times.append(None if done is None else (time.monotonic() - t) * 1000)
                seen = [a.logged_at(event, victim.name, wall) for a in live] if done is not None else [None]
                logged.append(None if None in seen else (max(seen) - wall) * 1000)
                victim.stop(signal.SIGKILL)
                replace()
            return ({**summary(times), "reps_ms": [None if v is None else round(v) for v in times]},
                    {**summary(logged), "reps_ms": [None if v is None else round(v) for v in logged]})

        out["failure"], out["failure_logged"] = remove(signal.SIGKILL, "dead", "gossip.member_dead",
                                                       args.failures)
        out["leave"], out["leave_logged"] = remove(signal.SIGTERM, "left", "gossip.member_left", args.leaves)
        out["false_dead"] = sorted(dead_seen - killed)
    finally:
        pool.shutdown(wait=False)
        for a in agents + added:
            a.stop(signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
    return out


def memberlist(n, profile, harness, failures, leaves):
    """The memberlist harness for the same profile and N, with as many
    failures and leaves as cairn's; its JSON lines by experiment."""
    extra = f"-join-trials 1 -bcast-reps 20 -leave-reps {leaves} -fail-reps {failures} -traffic-secs 20"
    out = tempfile.mktemp(suffix=".jsonl")
    env = dict(os.environ, CONFIGS=profile, NS=str(n), OUT=out, LOG=out + ".log", EXTRA_ARGS=extra)
    subprocess.run(["sh", os.path.join(harness, "run.sh")], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    rows = {}
    if os.path.exists(out):
        for line in open(out):
            r = json.loads(line)
            rows[r["experiment"]] = r
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", default="10")
    p.add_argument("--profile", default="local")
    p.add_argument("--registrations", type=int, default=20)
    p.add_argument("--failures", type=int, default=5)
    p.add_argument("--leaves", type=int, default=5)
    p.add_argument("--idle-s", type=float, default=20)
    p.add_argument("--poll-ms", type=float, default=100)
    p.add_argument("--timeout-s", type=float, default=60)
    p.add_argument("--memberlist", help="the memberlist harness directory (its run.sh) to run beside: a path outside this "
                   "repository, given here on the command line")
    args = p.parse_args()
    ratio = lambda a, b: None if not a or not b else round(a / b, 2)
    for profile in args.profile.split(","):
        for n in map(int, args.n.split(",")):
            c = run(n, profile, args)
            print(json.dumps(c), flush=True)
            if args.memberlist:
                m = memberlist(n, profile, args.memberlist, args.failures, args.leaves)
                fd, gl = m.get("failure_detection", {}), m.get("graceful_leave", {})
                ml = {"impl": "memberlist", "profile": profile, "n": n,
                      "join_all_ms": m.get("join", {}).get("all_nodes_median_ms"),
                      "failure": {"median_ms": fd.get("all_nodes_median_ms"), "max_ms": fd.get("all_nodes_max_ms"),
                                  "reps": fd.get("reps"), "timeouts": fd.get("timeouts"),
                                  "reps_ms": fd.get("rep_all_nodes_ms")},
                      "leave": {"median_ms": gl.get("all_nodes_median_ms"), "max_ms": gl.get("all_nodes_max_ms"),
                                "reps": gl.get("reps"), "timeouts": gl.get("timeouts"),
                                "reps_ms": gl.get("rep_all_nodes_ms")},
                      "broadcast_median_ms": m.get("broadcast", {}).get("all_nodes_median_ms"),
                      "idle_bytes_per_agent_s": m.get("traffic_idle_full_pushpull", {}).get(
                          "total_payload_bytes_per_node_s"),
                      "false_dead": fd.get("false_dead_events", 0) + gl.get("false_dead_events", 0)}
                print(json.dumps(ml), flush=True)
                print(json.dumps({"ratio": "cairn/memberlist", "profile": profile, "n": n,
                                  "join_from_first_start": ratio(c["join_all_ms"], ml["join_all_ms"]),
                                  "join_from_last_ready": ratio(c["join_after_last_ready_ms"], ml["join_all_ms"]),
                                  **{f"{what}{how}_{stat}": ratio(c[what + how][stat + "_ms"], ml[what][stat + "_ms"])
                                     for what in ("failure", "leave") for how in ("_logged", "")
                                     for stat in ("median", "max")},
                                  "idle_bytes": ratio(c["idle_bytes_per_agent_s"]["mean"],
                                                      ml["idle_bytes_per_agent_s"]),
                                  "register_vs_broadcast": ratio(c["register"]["median_ms"],
                                                                 ml["broadcast_median_ms"])}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
