#!/usr/bin/env python3
"""omslake vs DuckDB on the same generated exports, in one run, alternating A/B.

    cargo build --release && pip install duckdb
    python3 bench/compare_duckdb.py --scale 4 --runs 5

Rows: ingest wall time (omslake `ingest` vs DuckDB `COPY (read_json with explicit types) TO
parquet PARTITION_BY day, zstd`), peak RSS of each ingest, store bytes, and the eight searches
of issue 5 (the whole `omslake search … --format ndjson` process vs DuckDB's in-process time for
equivalent SQL over omslake's own store files: connect, query, fetch); with --exports, every row
of one table written as csv, ndjson, json and parquet (`omslake sql … --output` against DuckDB's
COPY from the same store files, each whole process). Medians of --runs after one warm-up. Prints a markdown table with the omslake/DuckDB ratio per row.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["Update", "UpdateSummary", "UpdateRunProgress", "OfficeActivity", "Event"]
DUCK_TYPES = {"string": "VARCHAR", "dynamic": "VARCHAR", "datetime": "TIMESTAMPTZ", "bool": "BOOLEAN",
              "int": "INTEGER", "long": "BIGINT", "real": "DOUBLE"}

SEARCHES = [
    "Type:Update OSType!=Linux UpdateState=Needed Optional=false Approved!=false | measure count() by Computer",
    "Type=Update UpdateState=Needed Optional=false | select Computer,Title,KBID,Classification,UpdateSeverity,PublishedDate",
    'Type=Update UpdateState=Needed Optional=false (Classification="Security Updates" OR Classification="Critical Updates") Computer IN {Type=UpdateSummary WindowsUpdateSetting=Manual | Distinct Computer} | Distinct KBID',
    'Type=Event EventLevelName=error Computer IN {Type=Update (Classification="Security Updates" OR Classification="Critical Updates") UpdateState=Needed Optional=false | Distinct Computer}',
    "Type=Update Computer=SRV00* UpdateState=Needed | measure count() by Computer",
    "Type=Event TimeGenerated>NOW-7DAYS | measure count() by EventLevelName",
    "Type=Update | measure countdistinct(Computer) by Classification",
    "Type=Event EventLevelName=Error | measure count() by Computer interval 1DAY",
]

# Equivalent DuckDB SQL (same semantics as omslake's translation; NOW fixed by NOW below).
NOW = "2024-03-15T00:00:00Z"
DUCK_SQL = [
    """SELECT Computer, count(*) AS AggregatedValue FROM "Update" WHERE (OSType IS NULL OR lower(OSType) <> 'linux') AND lower(UpdateState) = 'needed' AND Optional = false AND (Approved IS NULL OR Approved <> false) GROUP BY Computer ORDER BY 2 DESC, 1""",
    """SELECT Computer, Title, KBID, Classification, UpdateSeverity, PublishedDate FROM "Update" WHERE lower(UpdateState) = 'needed' AND Optional = false ORDER BY TimeGenerated DESC""",
    """SELECT DISTINCT KBID FROM "Update" WHERE lower(UpdateState) = 'needed' AND Optional = false AND (lower(Classification) = 'security updates' OR lower(Classification) = 'critical updates') AND lower(Computer) IN (SELECT lower(Computer) FROM UpdateSummary WHERE lower(WindowsUpdateSetting) = 'manual' AND Computer IS NOT NULL) ORDER BY KBID""",
    """SELECT * FROM Event WHERE lower(EventLevelName) = 'error' AND lower(Computer) IN (SELECT lower(Computer) FROM "Update" WHERE (lower(Classification) = 'security updates' OR lower(Classification) = 'critical updates') AND lower(UpdateState) = 'needed' AND Optional = false AND Computer IS NOT NULL) ORDER BY TimeGenerated DESC""",
    """SELECT Computer, count(*) AS AggregatedValue FROM "Update" WHERE Computer ILIKE 'SRV00%' AND lower(UpdateState) = 'needed' GROUP BY Computer ORDER BY 2 DESC, 1""",
    f"""SELECT EventLevelName, count(*) AS AggregatedValue FROM Event WHERE TimeGenerated > TIMESTAMPTZ '{NOW}' - INTERVAL 7 DAY GROUP BY 1 ORDER BY 2 DESC, 1""",
    """SELECT Classification, count(DISTINCT Computer) AS AggregatedValue FROM "Update" GROUP BY 1 ORDER BY 2 DESC, 1""",
    """SELECT Computer, time_bucket(INTERVAL 1 DAY, TimeGenerated) AS TimeGenerated, count(*) AS AggregatedValue FROM Event WHERE lower(EventLevelName) = 'error' GROUP BY 1, 2 ORDER BY 2 DESC""",
]


def timed(cmd, **kw):
    """Wall seconds and peak RSS (KiB) of a child process, via /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r") as t:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name, *cmd], check=True, **kw)
        wall = time.perf_counter() - start
        return wall, int(t.read().strip().splitlines()[-1])


def dir_bytes(path, suffix=".parquet"):
    # Data files only: a Delta log's checkpoints are Parquet too.
    return sum(p.stat().st_size for p in Path(path).rglob(f"*{suffix}") if "_delta_log" not in p.parts)


def duck_ingest_script(gen, out):
    lines = ["import duckdb", "con = duckdb.connect()", "con.execute(\"SET TimeZone='UTC'\")"]
    for t in TABLES:
        schema = json.loads((ROOT / "schemas" / f"{t}.json").read_text())
        cols = {c["name"]: DUCK_TYPES[c["type"]] for c in schema["columns"] if c["name"] != "_extra"}
        cols_sql = "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"
        src = f"{gen}/{t}.ndjson"
        lines.append(
            "con.execute(\"\"\"COPY (SELECT *, CAST(TimeGenerated AS DATE) AS day FROM read_json('%s', format='newline_delimited', columns=%s)) "
            "TO '%s/%s' (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd)\"\"\")" % (src, cols_sql, out, t))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--omslake", default=str(ROOT / "target/release/omslake"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--compact", action="store_true",
                    help="also time the searches after `omslake compact` (one file per day partition)")
    ap.add_argument("--mix", default="generator",
                    choices=["generator", "office-heavy", "event-heavy", "update-heavy"],
                    help="the project's generator (--scale), or bench/mixed_exports.py's mixes (--records)")
    ap.add_argument("--records", type=int, default=276000, help="records of a --mix other than generator")
    ap.add_argument("--optional", type=float, default=0.5, help="share of optional columns present (--mix)")
    ap.add_argument("--exports", action="store_true",
                    help="also time exports of a whole table (csv, ndjson, json, parquet) against DuckDB's COPY")
    ap.add_argument("--export-table", default="OfficeActivity")
    ap.add_argument("--per-file", action="store_true",
                    help="also time one process per file (omslake ingest and DuckDB COPY of each table)")
    args = ap.parse_args()
    import duckdb  # noqa: F401  (fail early when missing)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="omslake-bench-"))
    gen = work / "gen"
    if not gen.exists():
        if args.mix == "generator":
            subprocess.run([args.omslake, "generate", "--scale", str(args.scale), "--out", str(gen)], check=True)
        else:
            subprocess.run([sys.executable, str(ROOT / "bench" / "mixed_exports.py"), "--mix", args.mix,
                            "--records", str(args.records), "--optional", str(args.optional), "--out", str(gen)], check=True)
    inputs = [str(gen / f"{t}.ndjson") for t in TABLES]
    input_bytes = sum(os.path.getsize(p) for p in inputs)
    records = sum(sum(1 for _ in open(p, "rb")) for p in inputs)
    script = work / "duck_ingest.py"
    rows = []

    # Ingest, alternating, fresh output each run; the first pair is a warm-up.
    om, dk, om_rss, dk_rss = [], [], [], []
    for i in range(args.runs + 1):
        store = work / f"store{i}"
        shutil.rmtree(store, ignore_errors=True)
        w, rss = timed([args.omslake, "--store", str(store), "ingest", *inputs], stderr=subprocess.DEVNULL)
        duck_out = work / f"duck{i}"
        shutil.rmtree(duck_out, ignore_errors=True)
        duck_out.mkdir()
        script.write_text(duck_ingest_script(gen, duck_out))
        w2, rss2 = timed([sys.executable, str(script)])
        if i > 0:
            om.append(w); dk.append(w2); om_rss.append(rss); dk_rss.append(rss2)
    rows.append(("ingest wall s", statistics.median(om), statistics.median(dk)))
    rows.append(("ingest peak RSS MiB", max(om_rss) / 1024, max(dk_rss) / 1024))
    rows.append(("ingest MB/s", input_bytes / 1e6 / statistics.median(om), input_bytes / 1e6 / statistics.median(dk)))
    rows.append(("ingest records/s", records / statistics.median(om), records / statistics.median(dk)))
    if args.per_file:
        # One process per file, one after another: omslake ingest of each, DuckDB's COPY of each.
        om_pf, dk_pf = [], []
        for i in range(args.runs + 1):
            store = work / f"pf-store{i}"
            shutil.rmtree(store, ignore_errors=True)
            total = 0.0
            for p in inputs:
                w, _ = timed([args.omslake, "--store", str(store), "ingest", p], stderr=subprocess.DEVNULL)
                total += w
            duck_out = work / f"pf-duck{i}"
            shutil.rmtree(duck_out, ignore_errors=True)
            duck_out.mkdir()
            total2 = 0.0
            for t in TABLES:
                one = duck_ingest_script(gen, duck_out).split("\n")
                script.write_text("\n".join(one[:3] + [l for l in one[3:] if f"/{t}.ndjson'" in l]))
                w2, _ = timed([sys.executable, str(script)])
                total2 += w2
            if i > 0:
                om_pf.append(total); dk_pf.append(total2)
        rows.append(("ingest wall s, one file per process", statistics.median(om_pf), statistics.median(dk_pf)))
    rows.append(("store MB", dir_bytes(work / f"store{args.runs}") / 1e6, dir_bytes(work / f"duck{args.runs}") / 1e6))

    # Queries over omslake's store (as ingest left it, then optionally compacted).
    store = work / f"store{args.runs}"
    rows += query_rows(args, store, "")
    if args.exports:
        rows += export_rows(args, store, work)
    if args.compact:
        for cmd in (["compact"], ["vacuum", "--min-age", "0s"]):  # DuckDB globs the folders
            subprocess.run([args.omslake, "--store", str(store), *cmd], check=True, stderr=subprocess.DEVNULL)
        rows += query_rows(args, store, " (compacted)")

    cpu = subprocess.run(["sh", "-c", "nproc; grep -m1 'model name' /proc/cpuinfo"], capture_output=True, text=True).stdout.split("\n")
    what = f"scale {args.scale}" if args.mix == "generator" else f"mix {args.mix}, optional columns {args.optional}"
    print(f"{what}: {input_bytes/1e6:.0f} MB of NDJSON, {records} records; {cpu[0]} cores, {cpu[1].split(':')[-1].strip()}; median of {args.runs}")
    print("| row | omslake | DuckDB | omslake/DuckDB |")
    print("|---|---:|---:|---:|")
    for name, a, b in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {a/b:.2f} |")


EXPORTS = {"csv": "(FORMAT csv, HEADER)", "ndjson": "(FORMAT json)", "json": "(FORMAT json, ARRAY true)",
           "parquet": "(FORMAT parquet, COMPRESSION zstd)"}


def export_rows(args, store, work):
    """Every row of one table to a file in each format: `omslake sql ... --output` against
    DuckDB's COPY of the same store files (wall time, peak RSS), alternating."""
    t = args.export_table
    rows = []
    for fmt, opt in EXPORTS.items():
        om, dk, om_rss, dk_rss = [], [], [], []
        script = work / "duck_export.py"
        script.write_text("\n".join([
            "import duckdb", "con = duckdb.connect()", "con.execute(\"SET TimeZone='UTC'\")",
            f"con.execute(\"\"\"COPY (SELECT * FROM read_parquet('{store}/{t}/date=*/*.parquet', hive_partitioning = false)) "
            f"TO '{work}/export-duck.{fmt}' {opt}\"\"\")"]))
        for i in range(args.runs + 1):
            w, rss = timed([args.omslake, "--store", str(store), "sql", f'select * from "{t}"',
                            "--output", str(work / f"export.{fmt}")], stderr=subprocess.DEVNULL)
            w2, rss2 = timed([sys.executable, str(script)])
            if i > 0:
                om.append(w); dk.append(w2); om_rss.append(rss); dk_rss.append(rss2)
        mb = os.path.getsize(work / f"export.{fmt}") / 1e6
        rows.append((f"export {t} {fmt} s ({mb:.0f} MB)", statistics.median(om), statistics.median(dk)))
        rows.append((f"export {fmt} peak RSS MiB", max(om_rss) / 1024, max(dk_rss) / 1024))
    return rows


def query_rows(args, store, label):
    """The eight searches: whole omslake process vs DuckDB in-process over the same files."""
    import duckdb
    rows = []
    env = dict(os.environ, OMSLAKE_NOW=NOW)
    for i, (search, sql) in enumerate(zip(SEARCHES, DUCK_SQL), 1):
        om, dk = [], []
        for r in range(args.runs + 1):
            start = time.perf_counter()
            subprocess.run([args.omslake, "--store", str(store), "search", search, "--format", "ndjson"],
                           check=True, stdout=subprocess.DEVNULL, env=env)
            w = time.perf_counter() - start
            start = time.perf_counter()
            con = duckdb.connect()
            con.execute("SET TimeZone='UTC'")
            for t in TABLES:
                con.execute(f"CREATE VIEW \"{t}\" AS SELECT * FROM read_parquet('{store}/{t}/date=*/*.parquet', hive_partitioning = false)")
            con.execute(sql).fetchall()
            con.close()
            w2 = time.perf_counter() - start
            if r > 0:
                om.append(w); dk.append(w2)
        rows.append((f"q{i} s{label}", statistics.median(om), statistics.median(dk)))
    return rows


if __name__ == "__main__":
    main()
