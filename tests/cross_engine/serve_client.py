"""`omslake serve` answering the real Log Analytics client, `azure-monitor-query`, over https
with a throwaway self-signed certificate and a bearer token:

- the 21 documented searches and a SQL query return the rows of `omslake search` / `omslake sql`
  (datetimes arrive as timezone-aware datetimes);
- a timespan narrows the rows;
- `query_batch` with three queries, one malformed, gives two tables and one error;
- a malformed search raises HttpResponseError naming the column; a wrong token,
  ClientAuthenticationError.

    python3 tests/cross_engine/serve_client.py --bin target/debug/omslake
"""

import argparse
import datetime
import ipaddress
import json
import math
import os
import subprocess
import sys
import tempfile
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.monitor.query import LogsBatchQuery, LogsQueryClient, LogsQueryError, LogsQueryStatus
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOW = "2024-03-15T12:00:00Z"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
TOKEN = "omslake-test-token-0123456789abcdef"


class Credential:
    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


def self_signed(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def canonical(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise AssertionError(f"a naive datetime from the client: {value}")
        return ("t", (value - EPOCH) // datetime.timedelta(microseconds=1))
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return ("n", repr(float(value))) if value != int(value) else ("n", repr(float(int(value))))
    if isinstance(value, int):
        return ("n", repr(float(value)))
    return str(value)


def omslake_json(binary, store, *args):
    env = dict(os.environ, OMSLAKE_NOW=NOW)
    out = subprocess.run([binary, "--store", store, *args, "--format", "json"], capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out)


def expected_rows(records, datetime_columns):
    rows = []
    for r in records:
        row = []
        for k, v in r.items():
            if k in datetime_columns and isinstance(v, str):
                v = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
            row.append(canonical(v))
        rows.append(tuple(row))
    return sorted(map(repr, rows))


def client_rows(result):
    table = result.tables[0]
    return [c for c in table.columns], sorted(repr(tuple(canonical(v) for v in row)) for row in table.rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        subprocess.run([binary, "--store", store, "ingest", os.path.join(ROOT, "data", "exports")], check=True, capture_output=True)
        cert, key = self_signed(tmp)
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        env = dict(os.environ, OMSLAKE_NOW=NOW)
        server = subprocess.Popen(
            [binary, "--store", store, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "--token-file", token_file],
            stderr=subprocess.PIPE, text=True, env=env,
        )
        try:
            first = server.stderr.readline()
            port = int(first.split("https://127.0.0.1:")[1].split("/")[0])
            endpoint = f"https://127.0.0.1:{port}/v1"
            client = LogsQueryClient(Credential(TOKEN), endpoint=endpoint, connection_verify=cert, retry_total=0)
            datetime_columns = set()
            for table in ["Update", "UpdateSummary", "UpdateRunProgress", "OfficeActivity", "Event"]:
                for line in subprocess.run([binary, "schema", table], capture_output=True, text=True).stdout.splitlines()[2:]:
                    parts = line.split()
                    if len(parts) > 1 and parts[1] == "datetime":
                        datetime_columns.add(parts[0])
            datetime_columns.add("TimeGenerated")
            with open(os.path.join(ROOT, "data", "searches.txt")) as f:
                searches = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
            assert len(searches) == 21, len(searches)
            for i, search in enumerate(searches, 1):
                result = client.query_workspace("any-workspace", search, timespan=None)
                assert result.status == LogsQueryStatus.SUCCESS, (search, result)
                columns, got = client_rows(result)
                want = expected_rows(omslake_json(binary, store, "search", search), datetime_columns)
                if got != want:
                    sys.exit(f"search {i}: {search}: {len(got)} rows from the client, {len(want)} from omslake search")
                for row in result.tables[0].rows:
                    for name, v in zip(columns, row):
                        if name in datetime_columns and v is not None and not isinstance(v, datetime.datetime):
                            sys.exit(f"search {i}: {name} arrived as {type(v).__name__}, not a datetime")
            print("serve: the 21 documented searches return omslake search's rows through azure-monitor-query")
            sql = 'SELECT "Computer", "TimeGenerated", "EventID" FROM "Event" WHERE "EventLevelName" = \'Error\''
            result = client.query_workspace("any-workspace", sql, timespan=None)
            _, got = client_rows(result)
            if got != expected_rows(omslake_json(binary, store, "sql", sql), datetime_columns):
                sys.exit("the SQL query returned other rows")
            everything = client.query_workspace("w", "Type=Event | measure count()", timespan=None).tables[0].rows[0][0]
            start = datetime.datetime(2024, 3, 5, tzinfo=datetime.timezone.utc)
            narrowed = client.query_workspace("w", "Type=Event | measure count()", timespan=(start, datetime.timedelta(days=2))).tables[0].rows[0][0]
            by_sql = omslake_json(binary, store, "sql", "SELECT count(*) AS n FROM \"Event\" WHERE \"TimeGenerated\" >= '2024-03-05T00:00:00Z' AND \"TimeGenerated\" < '2024-03-07T00:00:00Z'")[0]["n"]
            if not (narrowed < everything and narrowed == by_sql):
                sys.exit(f"timespan: {narrowed} rows of {everything}, omslake sql counts {by_sql}")
            print(f"serve: a SQL query agrees; a two-day timespan narrows {everything} events to {narrowed}, as omslake sql counts")
            batch = [
                LogsBatchQuery("w", "Type=Update | measure count() by Classification", timespan=None),
                LogsBatchQuery("w", "Type=Event | frobnicate", timespan=None),
                LogsBatchQuery("w", 'SELECT count(*) AS n FROM "UpdateSummary"', timespan=None),
            ]
            results = client.query_batch(batch)
            kinds = [type(r).__name__ for r in results]
            if not (isinstance(results[1], LogsQueryError) and results[0].tables and results[2].tables[0].rows[0][0] == 36):
                sys.exit(f"query_batch: {kinds}")
            print(f"serve: query_batch gives {kinds}")
            try:
                client.query_workspace("w", "Type=Event | top abc", timespan=None)
                sys.exit("a malformed search did not raise")
            except HttpResponseError as e:
                if "column 18" not in str(e.message):
                    sys.exit(f"the error does not name the column: {e.message}")
                print(f"serve: a malformed search raises HttpResponseError: {e.message}")
            wrong = LogsQueryClient(Credential("not-the-token"), endpoint=endpoint, connection_verify=cert, retry_total=0)
            # query_batch lets azure-core's ClientAuthenticationError through; query_workspace
            # (azure-monitor-query 2.0.0) re-raises every error as HttpResponseError, here
            # with the 401.
            try:
                wrong.query_batch([LogsBatchQuery("w", "Type=Event", timespan=None)])
                sys.exit("a wrong token was accepted")
            except ClientAuthenticationError:
                pass
            try:
                wrong.query_workspace("w", "Type=Event", timespan=None)
                sys.exit("a wrong token was accepted")
            except HttpResponseError as e:
                if e.status_code != 401:
                    sys.exit(f"a wrong token gave {e.status_code}, not 401")
            print("serve: a wrong token raises ClientAuthenticationError (query_batch) and a 401 (query_workspace)")
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                sys.exit("the server did not stop on SIGTERM")
        if server.returncode != 0:
            sys.exit(f"the server exited {server.returncode} on SIGTERM")
        print("serve: stopped cleanly on SIGTERM")


if __name__ == "__main__":
    main()
