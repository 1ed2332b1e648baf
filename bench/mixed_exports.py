#!/usr/bin/env python3
"""Exports unlike omslake's own generator's, for the ingest comparison: the five tables in a
chosen mix, every column of the schemas with realistic values (a fresh GUID per record,
high-cardinality users and IPs, long free text, sparse OfficeActivity columns, nested
`dynamic` values), optional columns present with a chosen probability.

    python3 bench/mixed_exports.py --mix office-heavy --records 276000 --optional 0.5 --out gen/

Writes `<Table>.ndjson` per table (one file per table, like the generator), deterministic for a
seed.
"""
import argparse
import json
import random
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["Update", "UpdateSummary", "UpdateRunProgress", "OfficeActivity", "Event"]
MIXES = {
    "office-heavy": {"OfficeActivity": 0.40, "Update": 0.29, "Event": 0.20, "UpdateRunProgress": 0.08, "UpdateSummary": 0.03},
    "event-heavy": {"Event": 0.60, "OfficeActivity": 0.15, "Update": 0.15, "UpdateRunProgress": 0.07, "UpdateSummary": 0.03},
    "update-heavy": {"Update": 0.55, "UpdateRunProgress": 0.20, "UpdateSummary": 0.05, "OfficeActivity": 0.10, "Event": 0.10},
}
WORDS = ("update install failed security critical service started stopped user login mailbox sharepoint "
         "teams file accessed downloaded policy reboot pending kernel power windows server contoso "
         "exchange onedrive azure directory group member added removed permission granted").split()
ALWAYS = {"Type", "TimeGenerated", "Computer", "TenantId", "SourceSystem", "OfficeId", "Operation",
          "UserId", "OfficeWorkload", "UpdateID", "Title", "Classification", "UpdateState", "Optional",
          "EventID", "EventLevelName", "Source", "CorrelationId", "InstallationStatus", "UpdateRunName",
          "TotalUpdatesMissing", "CriticalUpdatesMissing", "SecurityUpdatesMissing", "OSType",
          "RenderedDescription", "ClientIP", "KBID", "Product", "UpdateId"}


def text(rng, lo, hi):
    n = rng.randint(lo, hi)
    out = []
    while sum(len(w) + 1 for w in out) < n:
        out.append(rng.choice(WORDS))
    return " ".join(out)[:n]


def value(rng, name, ty, i, t):
    if name == "Computer":
        return f"host-{rng.randint(0, 4999):05d}.contoso.com"
    if name in ("UserId", "TargetUserId"):
        return f"user{rng.randint(0, 49999)}@contoso.com"
    if name.endswith("IP") or name == "ClientIP":
        return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if name in ("OfficeId", "UpdateID", "UpdateId", "CorrelationId", "SourceComputerId", "TenantId", "VMUUID"):
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if name == "OfficeWorkload":
        return rng.choice(["Exchange", "SharePoint", "OneDrive", "AzureActiveDirectory", "MicrosoftTeams"])
    if name == "Operation":
        return rng.choice(["FileAccessed", "MailItemsAccessed", "UserLoggedIn", "UserLoginFailed", "FileDownloaded", "Set-Mailbox", "SharingSet", "MemberAdded"])
    if name == "Classification":
        return rng.choice(["Critical Updates", "Security Updates", "Updates", "Definition Updates", "Feature Packs"])
    if name == "UpdateState":
        return rng.choice(["Needed", "Installed", "NotNeeded"])
    if name == "EventLevelName":
        return rng.choice(["Error", "Warning", "Information"])
    if name in ("RenderedDescription", "Message", "Title", "Parameters", "ErrorResult"):
        return text(rng, 40, 400)
    if ty == "datetime":
        return t + f".{rng.randint(0, 9999999):07d}Z"
    if ty == "bool":
        return rng.random() < 0.5
    if ty in ("int", "long"):
        return rng.randint(0, 100000)
    if ty == "real":
        return round(rng.random() * 1000, 3)
    if ty == "dynamic":
        return {"id": i, "props": [{"k": rng.choice(WORDS), "v": rng.randint(0, 9)} for _ in range(rng.randint(1, 4))], "ok": rng.random() < 0.9}
    return rng.choice(WORDS) + "-" + str(rng.randint(0, 999))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mix", choices=sorted(MIXES), default="office-heavy")
    ap.add_argument("--records", type=int, default=276000)
    ap.add_argument("--optional", type=float, default=0.5, help="probability that each optional column is present")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        columns = json.loads((ROOT / "schemas" / f"{table}.json").read_text())["columns"]
        n = int(args.records * MIXES[args.mix][table])
        with open(out / f"{table}.ndjson", "w") as f:
            for i in range(n):
                day, second = 1 + i % 14, (i * 7919) % 86400
                t = f"2024-03-{day:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
                record = {"Type": table}
                for c in columns:
                    name = c["name"]
                    if name in ("Type", "_extra"):
                        continue
                    if name == "TimeGenerated":
                        record[name] = t + f".{rng.randint(0, 9999999):07d}Z"
                    elif name in ALWAYS or rng.random() < args.optional:
                        record[name] = value(rng, name, c["type"], i, t)
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
