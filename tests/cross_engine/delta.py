"""The store's tables as Delta Lake tables: Python `deltalake`, polars (`scan_delta`) and DuckDB
(over `DeltaTable.file_uris()`) return exactly omslake's rows, after every kind of write.

    python3 tests/cross_engine/delta.py --bin target/debug/omslake              # the scenario
    python3 tests/cross_engine/delta.py --bin target/debug/omslake --store DIR  # one store

The scenario: an ingest of every table, an overlapping second ingest, `compact` before
`vacuum`, `retain`, `vacuum`; `DeltaTable.history()` against `omslake history`,
`DeltaTable(path, version=N)` against `omslake sql --as-of N` for every version, the file
statistics against the files and a pruning predicate that skips files, and the upgrade of a
store written before Delta logs (tests/data/store-v1).
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import warnings

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readers import TABLES, arrow_rows, canonical, duckdb_table, fingerprint_rows, kind_of, local_path, run  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def omslake_fingerprint(binary, store, table, columns, kinds, *extra):
    out = run(binary, store, "sql", f'SELECT * FROM "{table}"', "--format", "ndjson", *extra).stdout
    rows = (tuple(canonical(kinds[c], json.loads(line).get(c)) for c in columns) for line in out.splitlines())
    return fingerprint_rows(rows)


def compare_table(binary, store, table, version=None):
    """(rows, hash) by omslake, deltalake, polars and DuckDB must be equal."""
    path = os.path.join(store, table)
    dt = DeltaTable(path) if version is None else DeltaTable(path, version=version)
    by_deltalake = dt.to_pyarrow_table()
    columns = sorted(c for c in by_deltalake.column_names if c != "date")
    kinds = {c: kind_of(by_deltalake.schema.field(c).type) for c in columns}
    extra = () if version is None else ("--as-of", str(version))
    ours = omslake_fingerprint(binary, store, table, columns, kinds, *extra)
    results = {"omslake": ours, "deltalake": fingerprint_rows(arrow_rows(by_deltalake, columns, kinds))}
    if version is None:
        frame = pl.scan_delta(path).collect()
        results["polars"] = fingerprint_rows(arrow_rows(frame.to_arrow(), columns, kinds))
    files = [local_path(u) for u in dt.file_uris()]
    if files:
        results["DuckDB"] = fingerprint_rows(arrow_rows(duckdb_table(files), columns, kinds))
    else:
        results["DuckDB"] = (0, 0)
    if len(set(results.values())) != 1:
        sys.exit(f"{store} {table} version {version}: {results}")
    return ours[0]


def compare_store(binary, store, label, version=None):
    counts = [compare_table(binary, store, t, version) for t in TABLES]
    at = "" if version is None else f" at version {version}"
    print(f"{label}{at}: {dict(zip(TABLES, counts))} agree (omslake, deltalake, polars, DuckDB)")


def omslake_history(binary, store):
    out = run(binary, store, "history").stdout.splitlines()[1:]
    return [(int(line.split()[0]), line.split()[2]) for line in out if line.strip()]


def compare_history(binary, store):
    ours = omslake_history(binary, store)
    for table in TABLES:
        theirs = sorted((h["version"], h["operation"]) for h in DeltaTable(os.path.join(store, table)).history())
        if theirs != ours:
            sys.exit(f"{table}: DeltaTable.history() {theirs} but omslake history {ours}")
    print(f"history: {len(ours)} versions, the same in every table and in `omslake history`")
    return [v for v, _ in ours]


def check_stats(binary, store):
    """Every file's stats hold its rows and TimeGenerated bounds; a predicate on TimeGenerated
    or date prunes files, and the rows it reads are omslake's."""
    for table in TABLES:
        dt = DeltaTable(os.path.join(store, table))
        actions = pa.table(dt.get_add_actions(flatten=True))
        if actions.num_rows < 2:
            continue
        paths = actions.column("path").to_pylist()
        lows = actions.column("min.TimeGenerated").to_pylist()
        highs = actions.column("max.TimeGenerated").to_pylist()
        counts = actions.column("num_records").to_pylist()
        for p, lo, hi, n in zip(paths, lows, highs, counts):
            t = pq.read_table(os.path.join(store, table, p), columns=["TimeGenerated"]).column(0)
            real_lo, real_hi = t.to_pylist()[0], t.to_pylist()[-1]
            if t.length() != n or not (lo <= min(t.to_pylist()) and max(t.to_pylist()) <= hi):
                sys.exit(f"{table}/{p}: stats {n} rows [{lo}, {hi}], file {t.length()} rows [{real_lo}, {real_hi}]")
        # A cut in the middle of the table's time range.
        cut = sorted(lows)[len(lows) // 2]
        every = len(dt.to_pyarrow_dataset().files)
        pruned = len(dt.to_pyarrow_dataset(file_pruning_predicate=[("TimeGenerated", ">=", cut)]).files)
        if not pruned < every:
            sys.exit(f"{table}: a TimeGenerated predicate kept {pruned} of {every} files")
        date = actions.column("partition.date").to_pylist()[0] if "partition.date" in actions.column_names else None
        if date is not None:
            by_date = len(dt.to_pyarrow_dataset(file_pruning_predicate=[("date", "=", date)]).files)
            if not by_date < every:
                sys.exit(f"{table}: a date predicate kept {by_date} of {every} files")
        rows = dt.to_pyarrow_table(filters=[("TimeGenerated", ">=", cut)]).num_rows
        iso = cut.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        ours = run(binary, store, "sql", f"SELECT count(*) AS n FROM \"{table}\" WHERE \"TimeGenerated\" >= '{iso}'", "--format", "csv").stdout.split()[1]
        if int(ours) != rows:
            sys.exit(f"{table}: deltalake reads {rows} rows from TimeGenerated >= {iso}, omslake counts {ours}")
        print(f"stats: {table}: {actions.num_rows} files with right bounds; TimeGenerated >= {iso} reads {pruned} of {every} files, {rows} rows as omslake")


def split_overlapping(source, first, second):
    """Two exports of one file that share a fifth of its records."""
    with open(source) as f:
        lines = f.readlines()
    cut = len(lines) * 3 // 5
    with open(first, "w") as f:
        f.writelines(lines[:cut])
    with open(second, "w") as f:
        f.writelines(lines[cut - len(lines) // 5:])


def scenario(binary):
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        gen = os.path.join(tmp, "gen")
        run(binary, store, "generate", "--scale", "0.1", "--out", gen)
        run(binary, store, "ingest", os.path.join(ROOT, "data", "exports"))
        compare_store(binary, store, "ingest of every table")
        for table in TABLES:
            split_overlapping(os.path.join(gen, f"{table}.ndjson"), os.path.join(tmp, f"{table}-a.ndjson"), os.path.join(tmp, f"{table}-b.ndjson"))
        run(binary, store, "ingest", *[os.path.join(tmp, f"{t}-a.ndjson") for t in TABLES])
        out = run(binary, store, "ingest", *[os.path.join(tmp, f"{t}-b.ndjson") for t in TABLES])
        if "duplicates" not in out.stderr:
            sys.exit(f"the overlapping ingest found no duplicates: {out.stderr}")
        compare_store(binary, store, "overlapping second ingest")
        run(binary, store, "compact")
        compare_store(binary, store, "compact (replaced files still on disk)")
        # Drop the partitions before the middle of the sample data's days.
        age = (datetime.date.today() - datetime.date(2024, 3, 8)).days
        run(binary, store, "retain", "--older-than", f"{age}d")
        compare_store(binary, store, "retain")
        check_stats(binary, store)
        versions = compare_history(binary, store)
        for v in versions:
            for table in TABLES:
                compare_table(binary, store, table, v)
        print(f"every version 0..{versions[-1]}: DeltaTable(path, version=N) equals omslake sql --as-of N")
        # More commits than a checkpoint's interval: readers start from the checkpoint.
        for i in range(11):
            extra = os.path.join(tmp, f"extra{i}.ndjson")
            with open(extra, "w") as f:
                f.write('{"Type":"Event","TimeGenerated":"2024-03-%02dT00:00:%02dZ","Computer":"extra-%d"}\n' % (10 + i % 4, i, i))
            run(binary, store, "ingest", extra)
        if not any(n.endswith(".checkpoint.parquet") for n in os.listdir(os.path.join(store, "Event", "_delta_log"))):
            sys.exit("no checkpoint after more than ten versions")
        compare_store(binary, store, "after a checkpoint")
        run(binary, store, "vacuum", "--min-age", "0s")
        compare_store(binary, store, "vacuum")
        compare_history(binary, store)
        # The upgrade of a store written before Delta logs.
        old = os.path.join(tmp, "old")
        shutil.copytree(os.path.join(ROOT, "tests", "data", "store-v1"), old)
        before = {t: run(binary, old, "sql", f'SELECT count(*) AS n FROM "{t}"', "--format", "csv").stdout.split()[1] for t in TABLES}
        run(binary, old, "upgrade")
        after = {t: run(binary, old, "sql", f'SELECT count(*) AS n FROM "{t}"', "--format", "csv").stdout.split()[1] for t in TABLES}
        if before != after:
            sys.exit(f"upgrade changed the counts: {before} -> {after}")
        compare_store(binary, old, "upgraded store-v1")
        for v in compare_history(binary, old):
            for table in TABLES:
                compare_table(binary, old, table, v)
        print("upgrade: every version of the old store reads the same in deltalake and omslake")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--store", help="only compare this store's tables")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    if args.store:
        compare_store(binary, args.store, args.store)
    else:
        scenario(binary)


if __name__ == "__main__":
    main()
