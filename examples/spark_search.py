"""Run a legacy OMS search on Apache Spark over an omslake store.

    spark-submit examples/spark_search.py STORE 'Type=Update UpdateState=Needed | measure count() by Computer'

Each table is registered as a view of its Delta snapshot: with `format("delta")` where the
cluster has Delta Lake (Databricks, Fabric, Synapse, or `--packages io.delta:delta-spark…`),
otherwise from the snapshot's file list, read with the `deltalake` package (`pip install
deltalake`). The search is translated by `omslake translate --dialect spark` (OMSLAKE_BIN, or
`omslake` on the PATH); set OMSLAKE_SQL to use SQL translated elsewhere instead.
"""

import json
import os
import subprocess
import sys

from pyspark.sql import SparkSession

TABLES = ["Update", "UpdateSummary", "UpdateRunProgress", "OfficeActivity", "Event"]


def register(spark, store, table):
    path = os.path.join(store, table)
    try:
        spark.read.format("delta").load(path).createOrReplaceTempView(table)
        return "delta"
    except Exception:  # noqa: BLE001 - no Delta Lake on this cluster: read the snapshot's files
        from deltalake import DeltaTable

        delta = DeltaTable(path)
        files = [u[len("file://"):] if u.startswith("file://") else u for u in delta.file_uris()]
        if files:
            spark.read.parquet(*files).createOrReplaceTempView(table)
        else:
            # No rows yet: an empty view with the table's columns, from the Delta schema.
            types = {"string": "string", "timestamp": "timestamp", "boolean": "boolean", "integer": "int",
                     "long": "bigint", "double": "double", "date": "date"}
            fields = json.loads(delta.schema().to_json())["fields"]
            ddl = ", ".join(f"`{f['name']}` {types[f['type']]}" for f in fields if f["name"] != "date")
            spark.createDataFrame([], ddl).createOrReplaceTempView(table)
        return "files"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: spark_search.py STORE SEARCH")
    store, search = sys.argv[1], sys.argv[2]
    sql = os.environ.get("OMSLAKE_SQL")
    if sql is None:
        binary = os.environ.get("OMSLAKE_BIN", "omslake")
        sql = subprocess.run([binary, "translate", "--dialect", "spark", search], check=True, capture_output=True, text=True).stdout
    spark = (
        SparkSession.builder.appName("omslake search")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    how = {t: register(spark, store, t) for t in TABLES}
    print(f"-- tables read as: {how}", file=sys.stderr)
    spark.sql(sql).show(n=1000, truncate=False)


if __name__ == "__main__":
    main()
