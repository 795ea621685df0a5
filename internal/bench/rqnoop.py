"""No-op jobs through RQ for asr-bench.

Usage: rqnoop.py REDIS_URL default|simple N

Empties the Redis database, enqueues N jobs that do nothing, then drains
them with one burst-mode worker (RQ's default forking Worker, or its
SimpleWorker) and prints the timings and counts as one line of JSON.
"""
import json
import sys
import time

from redis import Redis
from rq import Queue, SimpleWorker, Worker


def noop():
    return "ok"


def main():
    url, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conn = Redis.from_url(url)
    conn.flushall()
    queue = Queue("bench", connection=conn)
    start = time.perf_counter()
    for _ in range(n):
        queue.enqueue("rqnoop.noop")
    enqueued = time.perf_counter()
    worker_class = {"default": Worker, "simple": SimpleWorker}[kind]
    worker = worker_class([queue], connection=conn)
    worker.work(burst=True, logging_level="WARNING")
    drained = time.perf_counter()
    print(json.dumps({
        "enqueue_s": enqueued - start,
        "drain_s": drained - enqueued,
        "finished": len(queue.finished_job_registry),
        "failed": len(queue.failed_job_registry),
    }))


if __name__ == "__main__":
    main()
