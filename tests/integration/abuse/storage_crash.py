"""Crash consistency (issue 14, item 1): a burst of writes on one keep-alive
connection, kill -9 right after a random acknowledged one (with the next one
in flight), restart: every acknowledged change is there and nothing that was
not acknowledged is invented. At registry sizes 0, 10,000 and 100,000.

CAIRN_CRASH_SEED picks the burst and the kill point (a random seed
otherwise, printed); tests/integration/abuse/crash_repeat.sh runs it many
times."""
import os
import random
import sys
import time
import unittest

from harness import Agent
from storage_util import BULK, Burst, check_consistent, elapsed, prefill, start_serving, stored_burst

SEED = int(os.environ.get("CAIRN_CRASH_SEED", random.randrange(1 << 30)))
MAX_ACKS = int(os.environ.get("CAIRN_CRASH_MAX_ACKS", "400"))


class CrashConsistency(unittest.TestCase):
    def crash_at(self, stored):
        rng = random.Random(SEED * 1000 + stored)
        acks = rng.randint(1, MAX_ACKS)
        print(f"seed={SEED} stored={stored} acks={acks}", file=sys.stderr)
        a = Agent()
        data_dir = os.path.join(a.dir, "data")
        if stored:
            prefill(data_dir, stored)
        start_serving(a)
        burst = Burst(a, rng.randrange(1 << 30))
        started = time.monotonic()
        burst.run_and_kill(acks)
        print(f"  {acks} acknowledged writes in {elapsed(started):.2f}s", file=sys.stderr)
        started = time.monotonic()
        start_serving(a)
        print(f"  restarted in {elapsed(started):.2f}s", file=sys.stderr)
        try:
            check_consistent(self, burst, stored_burst(a))
            if stored:
                status, body = a.http("GET", "/v1/services", timeout=10)
                self.assertEqual(status, 200)
                counts = {s["name"]: s["instances"] for s in __import__("json").loads(body)}
                self.assertEqual(counts.get(BULK), stored)
        finally:
            self.assertEqual(a.stop(timeout=30), 0)

    def test_empty_registry(self):
        self.crash_at(0)

    def test_10k_stored(self):
        self.crash_at(10_000)

    def test_100k_stored(self):
        self.crash_at(100_000)


if __name__ == "__main__":
    unittest.main()
