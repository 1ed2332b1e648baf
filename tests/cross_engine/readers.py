"""Every file the store writes, read by readers omslake does not contain: pyarrow and DuckDB.

Builds stores that cover every table and input shape, spilled and compacted partitions, nulls,
empty strings, unicode, all-null columns, one-value dictionaries and dictionary pages that fall
back to plain encoding; then reads every committed file with pyarrow (`pq.read_table`,
`ParquetFile.metadata`, `validate(full=True)`) and DuckDB, and compares the row count and an
order-independent hash of every row and column with what `omslake sql` returns.

Usage: python3 tests/cross_engine/readers.py --bin target/debug/omslake
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TABLES = ["Update", "UpdateSummary", "UpdateRunProgress", "OfficeActivity", "Event"]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
DICTIONARY_PAGE_LIMIT = 1 << 20


def run(binary, store, *args, stdout=subprocess.PIPE):
    result = subprocess.run(
        [binary, "--store", store, *args], stdout=stdout, stderr=subprocess.PIPE, text=True
    )
    if result.returncode not in (0, 3):
        sys.exit(f"omslake {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def omslake_count(binary, store, table):
    """Rows of `table` as `omslake sql` counts them."""
    out = run(binary, store, "sql", f'SELECT count(*) AS n FROM "{table}"', "--format", "csv").stdout
    return int(out.split()[1])


def ingest_stdin(binary, store, write):
    """`omslake ingest -` with `write(f)` producing its input as it reads."""
    proc = subprocess.Popen(
        [binary, "--store", store, "ingest", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    # stderr to a thread: a full pipe would stall the writer while omslake waits to report.
    errors = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()))
    reader.start()
    stopped_reading = False
    try:
        write(proc.stdin)
        proc.stdin.close()
    except BrokenPipeError:
        # omslake stopped reading: its exit code and message say why.
        stopped_reading = True
    code = proc.wait()
    reader.join()
    message = errors[0] if errors else ""
    if code not in (0, 3):
        sys.exit(f"omslake ingest - failed ({code}): {message}")
    if stopped_reading:
        sys.exit(f"omslake ingest - exited {code} before reading all its input: {message}")


def local_path(uri):
    """A file URI of `DeltaTable.file_uris()` as a local path."""
    return uri[len("file://"):] if uri.startswith("file://") else uri


def parquet_view(con, name, files):
    """A DuckDB view `name` over `files` (no hive columns: `date` is not in the files)."""
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listed}], hive_partitioning = false, union_by_name = true)')


def duckdb_table(files):
    """Every row of `files`, read by DuckDB, as an Arrow table."""
    con = duckdb.connect()
    parquet_view(con, "t", files)
    table = con.sql("SELECT * FROM t").arrow()
    return table.read_all() if hasattr(table, "read_all") else table


def snapshot_files(store, table):
    """The files the latest commit names, replayed from the commit log."""
    live = {}
    for path in sorted(glob.glob(os.path.join(store, "_log", "*.json"))):
        with open(path) as f:
            commit = json.load(f)
        for add in commit.get("add", []):
            live[add["path"]] = add["table"]
        for removed in commit.get("remove", []):
            live.pop(removed, None)
    return sorted(os.path.join(store, p) for p, t in live.items() if t == table)


def canonical(kind, value):
    """One value in a form both sides agree on: timestamps as microseconds, and non-finite
    floats as null (JSON, which `omslake sql` prints here, has no NaN or infinity)."""
    if value is None:
        return None
    if kind == "timestamp":
        if isinstance(value, str):
            dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (dt - EPOCH) // datetime.timedelta(microseconds=1)
        return int(value)
    if kind == "float":
        value = float(value)
        return repr(value) if abs(value) != float("inf") and value == value else None
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def kind_of(arrow_type):
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    return "string"


def row_hash(row):
    digest = hashlib.blake2b(repr(row).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def fingerprint_rows(rows):
    """(count, order-independent hash) of canonical rows."""
    count, total = 0, 0
    for row in rows:
        count += 1
        total = (total + row_hash(row)) % (1 << 64)
    return count, total


def arrow_rows(table, columns, kinds):
    """Canonical rows of an Arrow table, columns in `columns` order."""
    values = []
    for name in columns:
        column = table.column(name)
        if kinds[name] == "timestamp":
            column = pc.cast(column, pa.int64())
        values.append([canonical(kinds[name], v) for v in column.to_pylist()])
    return zip(*values) if values else iter(())


def omslake_rows(binary, store, table, columns, kinds):
    out = run(binary, store, "sql", f'SELECT * FROM "{table}"', "--format", "ndjson").stdout
    for line in out.splitlines():
        record = json.loads(line)
        yield tuple(canonical(kinds[c], record.get(c)) for c in columns)


def aggregates(binary, store, files, column):
    """Row count, distinct count, min and max of `column`: omslake's, pyarrow's and DuckDB's."""
    sql = f'SELECT count(*), count(DISTINCT "{column}"), min("{column}"), max("{column}") FROM "Event"'
    ours = run(binary, store, "sql", sql, "--format", "json").stdout
    ours = tuple(json.loads(ours)[0].values())
    whole = pa.concat_tables([pq.read_table(f, columns=[column]) for f in files])
    col = whole.column(column)
    by_pyarrow = (whole.num_rows, pc.count_distinct(col).as_py(), pc.min(col).as_py(), pc.max(col).as_py())
    file_list = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    by_duckdb = duckdb.sql(
        f'SELECT count(*), count(DISTINCT "{column}"), min("{column}"), max("{column}") '
        f"FROM read_parquet([{file_list}], hive_partitioning = false)"
    ).fetchall()[0]
    return ours, by_pyarrow, tuple(by_duckdb)


def check_store(binary, store, label, full=True):
    """Every committed file of every table through pyarrow and DuckDB, against omslake: every
    row and column hashed, or (`full=False`, for millions of rows) the counts and bounds of the
    long string column."""
    checked_files = 0
    for table in TABLES:
        files = snapshot_files(store, table)
        tables = []
        for f in files:
            pf = pq.ParquetFile(f)
            meta = pf.metadata
            for g in range(meta.num_row_groups):
                for c in range(meta.num_columns):
                    chunk = meta.row_group(g).column(c)
                    chunk.statistics  # parsed, not just present
                    if chunk.dictionary_page_offset is not None and chunk.has_dictionary_page:
                        # The dictionary page sits before the first data page: its compressed
                        # size (and header) bounds what a reader loads for it.
                        size = chunk.data_page_offset - chunk.dictionary_page_offset
                        if size > DICTIONARY_PAGE_LIMIT + 4096:
                            sys.exit(f"{label}: {f} {chunk.path_in_schema}: dictionary page of {size} bytes")
            t = pq.read_table(f)
            t.validate(full=True)
            if t.num_rows != meta.num_rows:
                sys.exit(f"{label}: {f}: {t.num_rows} rows read, metadata says {meta.num_rows}")
            tables.append(t)
            checked_files += 1
        if not tables:
            count = omslake_count(binary, store, table)
            if count != 0:
                sys.exit(f"{label}: {table}: no files but omslake counts {count}")
            continue
        if not full:
            ours, by_pyarrow, by_duckdb = aggregates(binary, store, files, "RenderedDescription")
            if not (ours == by_pyarrow == by_duckdb):
                sys.exit(f"{label}: {table}: omslake {ours}, pyarrow {by_pyarrow}, DuckDB {by_duckdb}")
            print(f"{label}: {table}: {ours[0]} rows, {ours[1]} distinct, agree (omslake, pyarrow, DuckDB)")
            continue
        whole = pa.concat_tables(tables, promote_options="default")
        columns = sorted(whole.column_names)
        kinds = {c: kind_of(whole.schema.field(c).type) for c in columns}
        ours = fingerprint_rows(omslake_rows(binary, store, table, columns, kinds))
        by_pyarrow = fingerprint_rows(arrow_rows(whole, columns, kinds))
        by_duckdb = fingerprint_rows(arrow_rows(duckdb_table(files), columns, kinds))
        if not (ours == by_pyarrow == by_duckdb):
            sys.exit(
                f"{label}: {table}: omslake {ours}, pyarrow {by_pyarrow}, DuckDB {by_duckdb} (rows, hash)"
            )
        print(f"{label}: {table}: {ours[0]} rows in {len(files)} files agree (omslake, pyarrow, DuckDB)")
    return checked_files


def edge_records():
    """Nulls, empty strings, unicode, all-null and one-value columns, NaN, extremes."""
    lines = []
    for i in range(40):
        lines.append({
            "Type": "Event",
            "TimeGenerated": f"2024-02-{1 + i % 3:02d}T{i % 24:02d}:00:00.{i:06d}Z",
            "Computer": ["", "Ω-höst", "😀 emoji", None, "plain"][i % 5],
            "EventLevelName": "Error",  # one value: a one-entry dictionary
            "EventID": [0, -1, 2**31 - 1, None][i % 4],
            "Source": None,  # null in every row: an all-null column
            "RenderedDescription": "line\nbreak \"quoted\" \\ tab\t" * (i % 3),
            "_BilledSize": [1.5, "NaN", "Infinity", -0.0, None][i % 5],
        })
        lines.append({
            "Type": "UpdateSummary",
            "TimeGenerated": f"2024-02-{1 + i % 2:02d}T00:{i:02d}:00Z",
            "Computer": f"c{i}",
            "TotalUpdatesMissing": None if i % 7 == 0 else i,
            "RestartPending": [True, False, None][i % 3],
            "WindowsUpdateSetting": "",
        })
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n"


def distinct_strings(f, count, repeat, length):
    """Write `count` distinct strings of `length` bytes to `f`, each in `repeat` rows of one day."""
    for i in range(count):
        # Hex of a hash: as hard to compress as GUIDs and URLs, so that the compressed
        # size of a dictionary page tells how large it is.
        noise = hashlib.blake2b(str(i).encode(), digest_size=32).hexdigest()
        value = (f"{i:012d}" + noise * (length // 64 + 1))[:length]
        for r in range(repeat):
            second = (i * repeat + r) % 86400
            f.write(
                '{"Type":"Event","TimeGenerated":"2024-05-05T%02d:%02d:%02d.%06dZ","Computer":"c%d","RenderedDescription":"%s"}\n'
                % (second // 3600, second // 60 % 60, second % 60, i % 1000000, i % 97, value)
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--big", type=int, default=3_000_000, help="distinct 200-byte strings of the large case")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with tempfile.TemporaryDirectory() as tmp:
        files = 0
        # Every table and input shape, an edge-case file, then an overlapping re-ingest and a
        # compaction (old files stay until vacuum: only the snapshot's files are read).
        shapes = os.path.join(tmp, "shapes")
        edges = os.path.join(tmp, "edges.ndjson")
        with open(edges, "w") as f:
            f.write(edge_records())
        run(binary, shapes, "ingest", os.path.join(root, "data", "exports"), edges)
        files += check_store(binary, shapes, "every shape")
        gen = os.path.join(tmp, "gen")
        run(binary, shapes, "generate", "--scale", "0.1", "--out", gen)
        run(binary, shapes, "ingest", gen)
        files += check_store(binary, shapes, "second ingest")
        run(binary, shapes, "compact")
        files += check_store(binary, shapes, "compacted")
        # Partitions that waited on disk (a 1 MB buffer), merged at commit.
        spilled = os.path.join(tmp, "spilled")
        run(binary, spilled, "ingest", gen, "--buffer-mb", "1")
        files += check_store(binary, spilled, "spilled")
        # Repeated long strings past the 1 MiB dictionary page: the chunk falls back to PLAIN.
        fallback = os.path.join(tmp, "fallback.ndjson")
        with open(fallback, "w") as f:
            distinct_strings(f, 60_000, 2, 200)
        store = os.path.join(tmp, "fallback")
        run(binary, store, "ingest", fallback)
        files += check_store(binary, store, "dictionary fallback")
        os.remove(fallback)
        # One day partition with millions of distinct 200-byte strings in one column, streamed
        # through stdin: the input (about 1 GB) never needs room on disk beside the store.
        store = os.path.join(tmp, "big")
        ingest_stdin(binary, store, lambda f: distinct_strings(f, args.big, 1, 200))
        count = omslake_count(binary, store, "Event")
        if count != args.big:
            sys.exit(f"{args.big} distinct strings: {count} rows landed")
        files += check_store(binary, store, f"{args.big} distinct strings", full=False)
        print(f"readers: {files} files read by pyarrow and DuckDB agree with omslake")


if __name__ == "__main__":
    main()
