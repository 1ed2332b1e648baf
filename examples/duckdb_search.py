"""Run a legacy OMS search in DuckDB over an omslake store.

    python3 examples/duckdb_search.py STORE 'Type=Update UpdateState=Needed | measure count() by Computer'

Each table is a view of its Delta snapshot's files (`pip install duckdb deltalake`); the search
is translated by `omslake translate --dialect duckdb` (OMSLAKE_BIN, or `omslake` on the PATH).
"""

import os
import subprocess
import sys

import duckdb
from deltalake import DeltaTable

TABLES = ["Update", "UpdateSummary", "UpdateRunProgress", "OfficeActivity", "Event"]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: duckdb_search.py STORE SEARCH")
    store, search = sys.argv[1], sys.argv[2]
    binary = os.environ.get("OMSLAKE_BIN", "omslake")
    sql = subprocess.run([binary, "translate", "--dialect", "duckdb", search], check=True, capture_output=True, text=True).stdout
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in TABLES:
        files = [u[len("file://"):] if u.startswith("file://") else u for u in DeltaTable(os.path.join(store, table)).file_uris()]
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM read_parquet([{listed}], hive_partitioning = false, union_by_name = true)')
    con.sql(sql).show(max_rows=1000)


if __name__ == "__main__":
    main()
