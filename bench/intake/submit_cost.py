"""What the checked transaction of `jobs.state.submit` costs against one blind round trip.

    .venv/bin/python bench/intake/submit_cost.py [--rounds 9] [--batch 400]

submit() queues a delivery in a WATCH/MULTI transaction: WATCH, GET the delivery marker, EXISTS
the new record and job keys, then MULTI/EXEC with every write (4 round trips). The baseline
sends exactly the same writes as one MULTI/EXEC without any check (1 round trip): the floor any
one-round-trip design (a server-side script) could reach. Each round times a batch of each,
in alternating order, against a private redis-server on a unix socket; prints the per-round
ratios and their median. In-process: no HTTP, so the difference is not drowned by the server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE)]

import redis  # noqa: E402

from bench.bed import machine  # noqa: E402
from jobs.state.submit import DeployRequest, _new_record, _write, submit  # noqa: E402
from tests.support.deliveries import make_settings  # noqa: E402
from tests.support.redis_server import running_redis  # noqa: E402


def per_call_ms(step: Callable[[], object], batch: int) -> float:
    start = time.perf_counter()
    for _ in range(batch):
        step()
    return (time.perf_counter() - start) / batch * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=400)
    args = parser.parse_args()
    print(machine())
    request = DeployRequest("crm", "dev", "branch", "main", "a" * 40, "github push")
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as scratch:
        work = Path(scratch)
        with running_redis(work) as url:
            connection = redis.Redis.from_url(url)
            settings = make_settings(work, url)

            def checked() -> object:
                return submit(connection, settings, [request], f"k{uuid.uuid4()}")

            def blind() -> object:
                deploys = [_new_record(request)]
                with connection.pipeline(transaction=True) as pipe:
                    pipe.multi()  # as submit() does after its checks; RQ expects MULTI mode
                    _write(connection, pipe, settings, deploys, f"k{uuid.uuid4()}")
                    return pipe.execute()

            ratios = []
            for number in range(args.rounds):
                connection.flushall()
                if number % 2 == 0:
                    ours, floor = per_call_ms(checked, args.batch), per_call_ms(blind, args.batch)
                else:
                    floor, ours = per_call_ms(blind, args.batch), per_call_ms(checked, args.batch)
                ratios.append(ours / floor)
                print(
                    f"round {number + 1}: submit {ours:.3f} ms, one blind round trip "
                    f"{floor:.3f} ms, ratio {ours / floor:.2f}, difference {ours - floor:.3f} ms"
                )
    print("per-round ratios: " + ", ".join(f"{ratio:.2f}" for ratio in ratios))
    print(f"median ratio submit / one round trip: {statistics.median(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
