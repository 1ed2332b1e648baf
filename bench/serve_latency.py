#!/usr/bin/env python3
"""`omslake serve` against DuckDB in-process: the eight benchmark searches over HTTP
(keep-alive), median latency each, and queries per second with 4 concurrent clients.

    cargo build --release && pip install duckdb
    python3 bench/serve_latency.py --scale 4 --runs 20

DuckDB runs the equivalent SQL of bench/compare_duckdb.py over omslake's own store files, in
one connection opened beforehand (the in-process best case).
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_duckdb import DUCK_SQL, NOW, SEARCHES, TABLES  # noqa: E402

import duckdb  # noqa: E402


def post(conn, search):
    body = json.dumps({"query": search, "timespan": None})
    conn.request("POST", "/v1/workspaces/bench/query", body, {"content-type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {data[:300]!r}")
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=4)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--omslake", default=str(Path(__file__).resolve().parent.parent / "target/release/omslake"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, gen = os.path.join(tmp, "store"), os.path.join(tmp, "gen")
        subprocess.run([args.omslake, "generate", "--scale", str(args.scale), "--out", gen], check=True, capture_output=True)
        subprocess.run([args.omslake, "--store", store, "ingest", gen], check=True, capture_output=True)
        env = dict(os.environ, OMSLAKE_NOW=NOW)
        server = subprocess.Popen([args.omslake, "--store", store, "serve", "--listen", "127.0.0.1:0"],
                                  stderr=subprocess.PIPE, text=True, env=env)
        try:
            port = int(server.stderr.readline().split("http://127.0.0.1:")[1].split("/")[0])
            threading.Thread(target=server.stderr.read, daemon=True).start()
            con = duckdb.connect()
            con.execute("SET TimeZone='UTC'")
            for t in TABLES:
                con.execute(f"CREATE VIEW \"{t}\" AS SELECT * FROM read_parquet('{store}/{t}/date=*/*.parquet', hive_partitioning = false)")
            conn = http.client.HTTPConnection("127.0.0.1", port)
            print("| search | omslake serve ms (HTTP, keep-alive) | DuckDB ms (in-process) | ratio |")
            print("|---|---:|---:|---:|")
            for i, (search, sql) in enumerate(zip(SEARCHES, DUCK_SQL), 1):
                ours, theirs = [], []
                for r in range(args.runs + 1):
                    start = time.perf_counter()
                    post(conn, search)
                    a = time.perf_counter() - start
                    start = time.perf_counter()
                    con.execute(sql).fetchall()
                    b = time.perf_counter() - start
                    if r > 0:
                        ours.append(a)
                        theirs.append(b)
                m, d = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
                print(f"| q{i} | {m:.1f} | {d:.1f} | {m / d:.2f} |")
            # Throughput: 4 clients, each a keep-alive connection, the eight searches in turn.
            counts = [0] * 4
            stop = time.perf_counter() + args.seconds

            def client(k):
                c = http.client.HTTPConnection("127.0.0.1", port)
                j = k
                while time.perf_counter() < stop:
                    post(c, SEARCHES[j % len(SEARCHES)])
                    counts[k] += 1
                    j += 1

            threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            served = sum(counts) / args.seconds
            duck_counts = [0] * 4
            stop = time.perf_counter() + args.seconds

            def duck_client(k):
                c = con.cursor()
                j = k
                while time.perf_counter() < stop:
                    c.execute(DUCK_SQL[j % len(DUCK_SQL)]).fetchall()
                    duck_counts[k] += 1
                    j += 1

            threads = [threading.Thread(target=duck_client, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            duck = sum(duck_counts) / args.seconds
            print(f"\nqueries per second, 4 concurrent clients, the eight searches in turn: omslake serve {served:.1f}, DuckDB in-process {duck:.1f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
