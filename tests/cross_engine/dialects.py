"""The legacy searches on Spark and DuckDB: every search of tests/golden/searches.txt that
translates, and the 21 documented searches (data/searches.txt), translated with
`omslake translate --dialect spark|duckdb` and run over the tables' Delta snapshots, return
the rows `omslake search` returns (in order where the search orders).

    python3 tests/cross_engine/dialects.py --bin target/debug/omslake [--engines spark,duckdb]

One Spark session (local mode, session time zone UTC) serves every search. Spark reads each
table from its Delta snapshot's file list (`DeltaTable.file_uris()`), as on a cluster without
the Delta jars; DuckDB from the same files.
"""

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
os.environ["TZ"] = "UTC"
time.tzset()

import duckdb  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readers import local_path, parquet_view  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLES = ["Update", "UpdateSummary", "UpdateRunProgress", "OfficeActivity", "Event"]
NOW = "2024-03-15T12:00:00Z"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def omslake(binary, store, *args, check=True):
    env = dict(os.environ, OMSLAKE_NOW=NOW)
    r = subprocess.run([binary, "--store", store, *args], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r


def searches():
    """(search, strict) pairs: the golden file's (strict cases flagged) and the documented ones."""
    out = []
    strict = False
    with open(os.path.join(ROOT, "tests", "golden", "searches.txt")) as f:
        for line in f:
            if line.startswith("# "):
                strict = "(strict)" in line
            elif line.startswith("search: "):
                out.append((line[len("search: "):].rstrip("\n"), strict))
    with open(os.path.join(ROOT, "data", "searches.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                out.append((line.rstrip("\n"), False))
    return out


def canonical(value):
    """A value as omslake prints it in JSON, whatever engine it came from."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return ("t", (value - EPOCH) // datetime.timedelta(microseconds=1))
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None  # omslake's JSON has no NaN or infinity
        if value == int(value) and abs(value) < 1e15:
            return ("n", int(value))
        return ("f", float(f"{value:.10g}"))
    if isinstance(value, int):
        return ("n", value)
    if hasattr(value, "__float__") and not isinstance(value, str):
        return canonical(float(value))
    return str(value)


def canonical_json(value, kind):
    if kind == "timestamp" and isinstance(value, str):
        return canonical(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
    return canonical(value)


def omslake_rows(binary, store, search, strict):
    args = ["search", search, "--format", "json"] + (["--strict"] if strict else [])
    r = omslake(binary, store, *args)
    records = json.loads(r.stdout)
    return records


def timestamp_columns(binary, store):
    """Columns whose values are timestamps: the schemas' datetime columns (omslake's JSON
    prints them as text)."""
    names = set()
    for table in TABLES:
        for line in omslake(binary, store, "schema", table).stdout.splitlines()[2:]:
            parts = line.split()
            if len(parts) > 1 and parts[1] == "datetime":
                names.add(parts[0])
    return names


def totally_ordered(search):
    """Whether omslake's order of this search's rows is total, so that another engine must give
    the same sequence: `measure` without `interval` (the first aggregate, then the groups) and
    `Distinct` (the values), when no later command re-sorts. Other searches order by keys that
    tie (TimeGenerated, a sort on some columns): their rows are compared as a multiset."""
    commands = [c.strip().split()[0].lower() for c in search.split("|")[1:] if c.strip()]
    if not commands or "interval" in search.lower():
        return False
    last = commands[-1]
    return last in ("measure", "distinct")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--engines", default="spark,duckdb")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        omslake(binary, store, "ingest", os.path.join(ROOT, "data", "exports"))
        files = {t: [local_path(u) for u in DeltaTable(os.path.join(store, t)).file_uris()] for t in TABLES}
        datetimes = timestamp_columns(binary, store)
        runners = {}
        if "duckdb" in engines:
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            for t, fs in files.items():
                parquet_view(con, t, fs)

            def run_duckdb(sql):
                cursor = con.execute(sql)
                names = [d[0] for d in cursor.description]
                return names, [tuple(r) for r in cursor.fetchall()]

            runners["duckdb"] = run_duckdb
        if "spark" in engines:
            from pyspark.sql import SparkSession

            spark = (
                SparkSession.builder.master("local[2]")
                .appName("omslake-dialects")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .getOrCreate()
            )
            spark.sparkContext.setLogLevel("ERROR")
            for t, fs in files.items():
                spark.read.parquet(*fs).createOrReplaceTempView(t)

            def run_spark(sql):
                frame = spark.sql(sql)
                return frame.columns, [tuple(r) for r in frame.collect()]

            runners["spark"] = run_spark
        checked = {e: 0 for e in engines}
        refused = {e: [] for e in engines}
        failures = []
        for search, strict in searches():
            try:
                records = omslake_rows(binary, store, search, strict)
            except RuntimeError:
                continue  # the search does not translate or run in omslake: nothing to compare
            columns = list(records[0].keys()) if records else None
            want = [tuple(canonical_json(v, "timestamp" if k in datetimes else None) for k, v in r.items()) for r in records]
            for engine, runner in runners.items():
                flags = ["--strict"] if strict else []
                t = omslake(binary, store, "translate", "--dialect", engine, search, *flags, check=False)
                if t.returncode != 0:
                    refused[engine].append((search, t.stderr.strip().splitlines()[0]))
                    continue
                try:
                    names, rows = runner(t.stdout)
                    # Columns by name where both have the same names (a union's order of
                    # columns is the engine's), else by position.
                    if columns and sorted(names) == sorted(columns):
                        at = [names.index(c) for c in columns]
                        rows = [tuple(r[i] for i in at) for r in rows]
                    got = [tuple(canonical(v) for v in row) for row in rows]
                except Exception as e:  # noqa: BLE001 - any engine error is a failure here
                    failures.append(f"{engine}: {search}\n  {t.stdout.strip()}\n  {str(e).splitlines()[0]}")
                    continue
                if sorted(map(repr, got)) != sorted(map(repr, want)):
                    failures.append(f"{engine}: {search}: {len(got)} rows, omslake {len(want)}\n  first differing: {sorted(set(map(repr, got)) ^ set(map(repr, want)))[:2]}")
                    continue
                if got != want and totally_ordered(search):
                    failures.append(f"{engine}: {search}: the same rows in another order")
                    continue
                checked[engine] += 1
        for engine in engines:
            print(f"{engine}: {checked[engine]} searches return omslake's rows; {len(refused[engine])} not expressible")
            for s, why in refused[engine]:
                print(f"  refused: {s}\n    {why}")
        if failures:
            print("\n".join(failures))
            sys.exit(f"{len(failures)} searches returned other rows")


if __name__ == "__main__":
    main()
