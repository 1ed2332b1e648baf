//! Deterministic sample data: a realistic fleet's update compliance, patch runs, Windows events
//! and Office 365 activity, written in the export shapes omslake reads.
//!
//! The same `scale` always gives the same bytes (own SplitMix64, fixed clock), so tests and
//! benchmarks can regenerate instead of committing large files.

use serde_json::{json, Map, Value};

use crate::schema::TABLE_NAMES;

mod files;
pub use files::{write, write_each};

/// How records are laid out in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// One NDJSON file per table (benchmarks, large inputs).
    Ndjson,
    /// Every input shape omslake reads: NDJSON, JSON array, query API, legacy search API
    /// (gzip), `records` envelope and a raw Office 365 API blob.
    Mixed,
}

struct Rng(u64);

const SETTINGS: [&str; 5] = [
    "Scheduled installation",
    "Notify before installation",
    "Manual",
    "Manual",
    "Disabled",
];
const WSUS: [&str; 3] = [
    "http://wsus01.contoso.com:8530",
    "http://wsus02.contoso.com:8530",
    "",
];

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

/// 2024-03-01T00:00:00Z: the fixed start of the generated period.
const START_SECS: i64 = 1_709_251_200;
const DAYS: i64 = 14;

/// `TimeGenerated` text with 7 fraction digits, as Log Analytics writes it.
fn time_text(rng: &mut Rng, secs: i64) -> String {
    let dt = chrono::DateTime::from_timestamp(secs, 0).expect("in range");
    format!(
        "{}.{:07}Z",
        dt.format("%Y-%m-%dT%H:%M:%S"),
        rng.below(10_000_000)
    )
}

struct Computer {
    name: String,
    linux: bool,
    os_name: &'static str,
    id: String,
    vm: String,
    setting: &'static str,
    wsus: &'static str,
    /// How many updates this machine misses: skewed, most have few, a few have many.
    missing: usize,
}

fn fleet(rng: &mut Rng, scale: f64) -> Vec<Computer> {
    let n = ((400.0 * scale).round() as usize).max(12);
    (0..n)
        .map(|i| {
            let linux = i % 10 >= 7;
            let name = if i == 1 {
                "COMPUTER01.contoso.com".to_string()
            } else if linux {
                format!("lnx-{:03}.contoso.com", i)
            } else {
                format!("SRV{:04}.contoso.com", i)
            };
            let os_name = if linux {
                *rng.pick(&["Ubuntu", "Ubuntu", "RedHat", "CentOS"])
            } else {
                "Windows"
            };
            let skew = rng.unit().powi(3);
            let (id, vm) = (rng.guid(), rng.guid().to_uppercase());
            let (setting, wsus) = (*rng.pick(&SETTINGS), *rng.pick(&WSUS));
            Computer {
                name,
                linux,
                os_name,
                id,
                vm,
                setting,
                wsus,
                missing: 3 + (skew * 60.0) as usize,
            }
        })
        .collect()
}

const WIN_CLASSES: [&str; 8] = [
    "Critical Updates",
    "Security Updates",
    "Update Rollups",
    "Definition Updates",
    "Updates",
    "Feature Packs",
    "Service Packs",
    "Tools",
];
const LINUX_CLASSES: [&str; 3] = ["Critical Updates", "Security Updates", "Other Updates"];
const SEVERITY: [&str; 4] = ["Critical", "Important", "Moderate", "Low"];
const PACKAGES: [&str; 10] = [
    "openssl",
    "libc6",
    "bash",
    "sudo",
    "curl",
    "systemd",
    "openssh-server",
    "tzdata",
    "python3.10",
    "linux-image-generic",
];

struct Catalogue {
    windows: Vec<(String, String, String, &'static str, &'static str)>, // id, kb, title, class, severity
    linux: Vec<(String, &'static str, String, &'static str)>, // id, package, version, class
}

fn catalogue(rng: &mut Rng) -> Catalogue {
    let windows = (0..400)
        .map(|i| {
            let kb = format!("{}", 4_012_000 + i * 7);
            let class = *rng.pick(&WIN_CLASSES);
            let title = match i % 5 {
                0 => format!("{}-03 Cumulative Update for Windows Server 2016 for x64-based Systems (KB{kb})", 2017 + i % 7),
                1 => format!("Security Update for Microsoft .NET Framework 4.8 (KB{kb})"),
                2 => format!("Update for Microsoft Office 2016 \"Word\" (KB{kb})"),
                3 => format!("Windows Malicious Software Removal Tool x64 - v5.{i} (KB{kb})"),
                _ => format!("Servicing Stack Update – Windows Server 2019 (KB{kb})"),
            };
            (rng.guid(), kb, title, class, *rng.pick(&SEVERITY))
        })
        .collect();
    let linux = (0..120)
        .map(|i| {
            let pkg = PACKAGES[i % PACKAGES.len()];
            (
                rng.guid(),
                pkg,
                format!("{}.{}.{}-0ubuntu{}", 1 + i % 3, i % 10, i % 7, i % 4),
                *rng.pick(&LINUX_CLASSES),
            )
        })
        .collect();
    Catalogue { windows, linux }
}

/// Generated records per table, in table order of `crate::schema::TABLE_NAMES`.
pub struct Generated {
    pub tables: Vec<(&'static str, Vec<Value>)>,
    /// Raw Office 365 Management Activity API records (numeric enums, API field names).
    pub o365_blob: Vec<Value>,
}

/// Where a generated record goes: a table, or the raw Office 365 API blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Table(&'static str),
    O365Blob,
}

/// Every record of `scale`, built whole in memory, per table.
pub fn records(scale: f64) -> Generated {
    let mut tables: Vec<(&'static str, Vec<Value>)> =
        TABLE_NAMES.iter().map(|&t| (t, Vec::new())).collect();
    let mut o365_blob = Vec::new();
    let collected = each_record(scale, &mut |target, record| {
        match target {
            Target::Table(t) => match tables.iter_mut().find(|(name, _)| *name == t) {
                Some((_, rows)) => rows.push(record),
                None => unreachable!("a generated table is a known table"),
            },
            Target::O365Blob => o365_blob.push(record),
        }
        Ok(())
    });
    collected.expect("collecting in memory does not fail");
    Generated { tables, o365_blob }
}

/// Hand every record of `scale` to `emit` as it is made, in a fixed order (the same `scale`
/// gives the same records in the same order), holding only the fleet and the catalogue.
pub fn each_record(
    scale: f64,
    emit: &mut dyn FnMut(Target, Value) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut rng = Rng(0x05_1a_4e);
    let computers = fleet(&mut rng, scale);
    let cat = catalogue(&mut rng);
    let tenant = "b1f0c0de-0000-4000-8000-00000000a11e";
    let mg = format!("AOI-{tenant}");
    let assessments = 3;
    for c in &computers {
        for a in 0..assessments {
            let secs = START_SECS + a * DAYS * 86_400 / assessments + rng.below(86_400 * 2) as i64;
            let tg = time_text(&mut rng, secs);
            let (mut crit, mut sec, mut other) = (0, 0, 0);
            let n = c.missing + 5;
            for k in 0..n {
                let needed = k < c.missing;
                let mut r = Map::new();
                r.insert("TenantId".into(), json!(tenant));
                r.insert("TimeGenerated".into(), json!(tg));
                r.insert("Type".into(), json!("Update"));
                r.insert("SourceSystem".into(), json!("OperationsManager"));
                r.insert("Computer".into(), json!(c.name));
                r.insert("SourceComputerId".into(), json!(c.id));
                r.insert("VMUUID".into(), json!(c.vm));
                r.insert("ManagementGroupName".into(), json!(mg));
                r.insert(
                    "ComputerEnvironment".into(),
                    json!(if rng.chance(0.5) {
                        "Azure"
                    } else {
                        "Non-Azure"
                    }),
                );
                r.insert(
                    "OSType".into(),
                    json!(if c.linux { "Linux" } else { "Windows" }),
                );
                r.insert("OSName".into(), json!(c.os_name));
                r.insert(
                    "UpdateState".into(),
                    json!(if needed {
                        "Needed"
                    } else if c.linux && rng.chance(0.5) {
                        "Not needed"
                    } else {
                        "Installed"
                    }),
                );
                r.insert("Optional".into(), json!(rng.chance(0.1)));
                let approved = rng.chance(0.85);
                if rng.chance(0.9) {
                    r.insert("Approved".into(), json!(approved));
                }
                let class;
                if c.linux {
                    let (id, pkg, ver, cl) = &cat.linux[(k * 7 + c.name.len()) % cat.linux.len()];
                    class = *cl;
                    r.insert("UpdateID".into(), json!(id));
                    r.insert("Product".into(), json!(pkg));
                    r.insert("ProductVersion".into(), json!(ver));
                    r.insert("ProductArch".into(), json!("x86_64"));
                    r.insert("Title".into(), json!(format!("{pkg} {ver}")));
                    r.insert(
                        "PackageSeverity".into(),
                        json!(*rng.pick(&["High", "Medium", "Low", "Unknown"])),
                    );
                    r.insert("BulletinID".into(), json!(format!("USN-{}-1", 5000 + k)));
                    r.insert("OSVersion".into(), json!("22.04"));
                } else {
                    let (id, kb, title, cl, sev) =
                        &cat.windows[(k * 13 + c.name.len() * 3) % cat.windows.len()];
                    class = *cl;
                    r.insert("UpdateID".into(), json!(id));
                    r.insert("KBID".into(), json!(kb));
                    r.insert("Title".into(), json!(title));
                    r.insert("Product".into(), json!("Windows Server 2016"));
                    r.insert("MSRCSeverity".into(), json!(sev));
                    r.insert("UpdateSeverity".into(), json!(sev));
                    r.insert(
                        "MSRCBulletinID".into(),
                        json!(format!("MS{}-{:03}", 16 + k % 4, k)),
                    );
                    r.insert("ApprovalSource".into(), json!("Microsoft Update"));
                    r.insert(
                        "RebootBehavior".into(),
                        json!(*rng.pick(&["canrequestreboot", "neverreboots"])),
                    );
                    r.insert("InstallTimeAvailable".into(), json!(true));
                    r.insert(
                        "InstallTimePredictionSeconds".into(),
                        json!(30.0 + rng.below(600) as f64),
                    );
                    r.insert("OSVersion".into(), json!("10.0.14393"));
                    r.insert("RevisionNumber".into(), json!(format!("{}", 200 + k % 5)));
                }
                let age = 86_400 * (1 + rng.below(400) as i64);
                let published = time_text(&mut rng, START_SECS - age);
                r.insert("PublishedDate".into(), json!(published));
                r.insert("Classification".into(), json!(class));
                if needed {
                    match class {
                        "Critical Updates" => crit += 1,
                        "Security Updates" => sec += 1,
                        _ => other += 1,
                    }
                }
                r.insert("_ResourceId".into(), json!(format!("/subscriptions/{tenant}/resourcegroups/fleet/providers/microsoft.compute/virtualmachines/{}", c.name.split('.').next().unwrap_or_default().to_lowercase())));
                r.insert("_BilledSize".into(), json!(800 + rng.below(400)));
                emit(Target::Table("Update"), Value::Object(r))?;
            }
            emit(
                Target::Table("UpdateSummary"),
                json!({
                    "TenantId": tenant, "TimeGenerated": tg, "Type": "UpdateSummary", "SourceSystem": "OpsManager",
                    "Computer": c.name, "SourceComputerId": c.id, "VMUUID": c.vm, "ManagementGroupName": mg,
                    "ComputerEnvironment": "Non-Azure", "OsVersion": if c.linux { "22.04" } else { "10.0.14393" },
                    "CriticalUpdatesMissing": crit, "SecurityUpdatesMissing": sec, "OtherUpdatesMissing": other,
                    "TotalUpdatesMissing": crit + sec + other,
                    "OldestMissingSecurityUpdateInDays": if sec > 0 { 10 + rng.below(200) as i64 } else { 0 },
                    "OldestMissingSecurityUpdateBucket": *rng.pick(&["Recent", "30 days ago", "60 days ago", "Older"]),
                    "RestartPending": rng.chance(0.2),
                    "WindowsUpdateSetting": if c.linux { Value::Null } else { json!(c.setting) },
                    "WSUSServer": if c.linux || c.wsus.is_empty() { Value::Null } else { json!(c.wsus) },
                    "WindowsUpdateAgentVersion": if c.linux { Value::Null } else { json!("7.9.9600.18970") },
                    "NETRuntimeVersion": if c.linux { Value::Null } else { json!("4.8.03761") },
                    "_BilledSize": 640.5,
                }),
            )?;
        }
    }

    let run_names = [
        "DeploymentName",
        "Patch Tuesday – Servers",
        "Linux weekly",
        "O'Brien's hotfix run",
    ];
    for (ri, run) in run_names.iter().enumerate() {
        let corr = rng.guid();
        let secs0 = START_SECS + (ri as i64 * 3 + 1) * 86_400;
        for c in computers.iter().filter(|c| (ri == 2) == c.linux || ri == 0) {
            for k in 0..(4 + c.missing / 6) {
                let status = *rng.pick(&[
                    "Succeeded",
                    "Succeeded",
                    "Succeeded",
                    "Failed",
                    "InstallFailed",
                    "NotStarted",
                    "MaintenanceWindowExceeded",
                ]);
                let (title, product, kb, uid) = if c.linux {
                    let (id, pkg, ver, _) = &cat.linux[(k * 5) % cat.linux.len()];
                    (
                        format!("{pkg} {ver}"),
                        pkg.to_string(),
                        Value::Null,
                        id.clone(),
                    )
                } else {
                    let (id, kb, title, _, _) = &cat.windows[(k * 11) % cat.windows.len()];
                    (
                        title.clone(),
                        "Windows Server 2016".to_string(),
                        json!(kb),
                        id.clone(),
                    )
                };
                let at = secs0 + rng.below(7200) as i64;
                let tg = time_text(&mut rng, at);
                emit(
                    Target::Table("UpdateRunProgress"),
                    json!({
                        "TenantId": tenant, "TimeGenerated": tg,
                        "Type": "UpdateRunProgress", "SourceSystem": "OpsManager", "Computer": c.name,
                        "SourceComputerId": c.id, "CorrelationId": corr, "UpdateRunName": run,
                        "InstallationStatus": status, "Title": title, "Product": product, "KBID": kb, "UpdateId": uid,
                        "OSType": if c.linux { "Linux" } else { "Windows" },
                        "ErrorResult": if status.contains("Failed") { json!("0x80240022") } else { Value::Null },
                        "SucceededOnRetry": status == "Succeeded" && rng.chance(0.1),
                        "ManagementGroupName": mg, "ComputerEnvironment": "Non-Azure", "_BilledSize": 512.0,
                    }),
                )?;
            }
        }
    }

    let sources = [
        "Service Control Manager",
        "Microsoft-Windows-WindowsUpdateClient",
        "MSSQLSERVER",
        "Application Error",
        "Microsoft-Windows-Kernel-Power",
    ];
    for c in computers.iter().filter(|c| !c.linux) {
        let n = 20 + c.missing;
        for _ in 0..n {
            let (level, name) = *rng.pick(&[
                (1, "Error"),
                (2, "Warning"),
                (4, "Information"),
                (4, "Information"),
                (4, "Information"),
            ]);
            let src = *rng.pick(&sources);
            let id = *rng.pick(&[7036, 7031, 19, 20, 1000, 41, 17137]);
            let msg = match id {
                20 => "Installation Failure: Windows failed to install the following update with error 0x80240022: \"Security Update (KB4012215)\".".to_string(),
                1000 => format!("Faulting application name: w3wp.exe, path 'C:\\Windows\\System32\\inetsrv\\w3wp.exe' on {}", c.name),
                41 => "The system has rebooted without cleanly shutting down first — Kernel-Power ⚡".to_string(),
                _ => format!("The {src} service entered the running state. Ünïcödé ✓ it's fine"),
            };
            let at = START_SECS + rng.below((DAYS * 86_400) as u64) as i64;
            let tg = time_text(&mut rng, at);
            emit(
                Target::Table("Event"),
                json!({
                    "TenantId": tenant, "TimeGenerated": tg,
                    "Type": "Event", "SourceSystem": "OpsManager", "Computer": c.name, "EventLog": if id == 1000 { "Application" } else { "System" },
                    "EventID": id, "EventLevel": level, "EventLevelName": name, "EventCategory": 0, "Source": src,
                    "UserName": if rng.chance(0.7) { "N/A" } else { "CONTOSO\\svc_sql" }, "RenderedDescription": msg,
                    "ParameterXml": format!("<Param>{src}</Param><Param>running</Param>"),
                    "ManagementGroupName": mg, "_BilledSize": 700.0,
                }),
            )?;
        }
    }

    let users: Vec<String> = [
        "admin",
        "josé.müller",
        "zoë.o'brien",
        "li.wei",
        "anna.k",
        "svc-backup",
        "d\"quote",
    ]
    .iter()
    .cycle()
    .take(((80.0 * scale).round() as usize).max(7))
    .enumerate()
    .map(|(i, u)| {
        if i < 7 {
            format!("{u}@contoso.com")
        } else {
            format!("{u}{i}@contoso.com")
        }
    })
    .collect();
    let n_office = ((12000.0 * scale) as usize).max(60);
    for i in 0..n_office {
        let user = rng.pick(&users).clone();
        let secs = START_SECS + rng.below((DAYS * 86_400) as u64) as i64;
        let (workload, rt_name, rt_code, op) = *rng.pick(&[
            ("Exchange", "ExchangeAdmin", 1, "Set-Mailbox"),
            ("Exchange", "ExchangeItem", 2, "MailItemsAccessed"),
            ("SharePoint", "SharePointFileOperation", 6, "FileAccessed"),
            ("SharePoint", "SharePointSharingOperation", 14, "SharingSet"),
            ("OneDrive", "SharePointFileOperation", 6, "FileDownloaded"),
            ("MicrosoftTeams", "MicrosoftTeams", 25, "MemberAdded"),
            (
                "AzureActiveDirectory",
                "AzureActiveDirectoryStsLogon",
                15,
                "UserLoggedIn",
            ),
        ]);
        let id = rng.guid();
        let ip = format!("203.0.113.{}", rng.below(255));
        let status = *rng.pick(&["Succeeded", "Succeeded", "Failed", "True"]);
        let file = format!(
            "Q{} plan – {}'s \"draft\".docx",
            1 + i % 4,
            user.split('@').next().unwrap_or_default()
        );
        // Every third record is exported raw from the Management Activity API.
        if i % 3 == 0 {
            let mut r = json!({
                "CreationTime": chrono::DateTime::from_timestamp(secs, 0).expect("in range").format("%Y-%m-%dT%H:%M:%S").to_string(),
                "Id": id, "Operation": op, "OrganizationId": tenant, "RecordType": rt_code, "ResultStatus": status,
                "UserKey": format!("1003BFFD{:08X}", i), "UserType": if user.starts_with("admin") { 2 } else { 0 },
                "Workload": workload, "UserId": user, "ClientIP": ip, "Scope": 0,
            });
            if workload == "SharePoint" || workload == "OneDrive" {
                r["ObjectId"] = json!(format!(
                    "https://contoso.sharepoint.com/sites/finance/Shared Documents/{file}"
                ));
                r["SiteUrl"] = json!("https://contoso.sharepoint.com/sites/finance/");
                r["ItemType"] = json!(1);
                r["EventSource"] = json!(0);
                r["SourceFileName"] = json!(file);
            }
            if workload == "Exchange" {
                r["Parameters"] = json!([{"Name": "Identity", "Value": user}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:x@evil.example"}]);
            }
            if workload == "AzureActiveDirectory" {
                r["Actor"] = json!([{"ID": user, "Type": 5}]);
                r["AzureActiveDirectoryEventType"] = json!(1);
            }
            emit(Target::O365Blob, r)?;
        } else {
            let mut r = json!({
                "TenantId": tenant, "TimeGenerated": time_text(&mut rng, secs), "Type": "OfficeActivity",
                "SourceSystem": "OfficeActivityManager", "OfficeId": id, "OfficeWorkload": workload, "RecordType": rt_name,
                "Operation": op, "UserId": user, "UserType": if user.starts_with("admin") { "Admin" } else { "Regular" },
                "ResultStatus": status, "ClientIP": ip, "OrganizationId": tenant, "OfficeTenantId": tenant,
                "UserKey": format!("1003BFFD{:08X}", i),
            });
            if workload == "SharePoint" || workload == "OneDrive" {
                r["OfficeObjectId"] = json!(format!(
                    "https://contoso.sharepoint.com/sites/finance/Shared Documents/{file}"
                ));
                r["Site_Url"] = json!("https://contoso.sharepoint.com/sites/finance/");
                r["SourceFileName"] = json!(file);
                r["ItemType"] = json!("File");
                r["IsManagedDevice"] = json!(if rng.chance(0.5) { "False" } else { "True" });
            }
            if workload == "Exchange" {
                r["Parameters"] =
                    json!(format!("[{{\"Name\":\"Identity\",\"Value\":\"{user}\"}}]"));
                r["ExternalAccess"] = json!("False");
            }
            if workload == "MicrosoftTeams" {
                r["Members"] = json!(format!("[{{\"UPN\":\"{user}\",\"Role\":1}}]"));
                r["TeamName"] = json!("Finance – EMEA");
            }
            emit(Target::Table("OfficeActivity"), r)?;
        }
    }
    Ok(())
}

/// Bytes of memory a unit of `--scale` takes while generating with `--layout mixed` (each
/// table's records are built whole before they are written), with some room: measured at
/// scale 4 (bench/NOTES.md, twelfth session). `--layout ndjson` streams, in constant memory.
const MIXED_BYTES_PER_SCALE: f64 = 340.0 * (1u64 << 20) as f64;

/// Memory generating at `scale` needs, in bytes, where it grows with the scale (`--layout
/// mixed`); `None` for a layout written as it is generated.
pub fn memory_needed(scale: f64, layout: Layout) -> Option<u64> {
    match layout {
        Layout::Ndjson => None,
        Layout::Mixed => Some((scale * MIXED_BYTES_PER_SCALE) as u64),
    }
}

/// The largest scale (to one decimal) whose generation with `--layout mixed` fits in
/// `available` bytes.
pub fn largest_scale(available: u64) -> f64 {
    (available as f64 / MIXED_BYTES_PER_SCALE * 10.0).floor() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_scale_that_fits_fits_and_a_tenth_more_does_not() {
        for available in [1u64 << 30, 17 << 30, 24 << 30] {
            let most = largest_scale(available);
            assert!(memory_needed(most, Layout::Mixed).unwrap() <= available);
            assert!(memory_needed(most + 0.1, Layout::Mixed).unwrap() > available);
        }
        assert_eq!(memory_needed(1000.0, Layout::Ndjson), None);
    }

    /// NDJSON written as records are made holds what building them whole and writing them
    /// after wrote, byte for byte.
    #[test]
    fn ndjson_streamed_is_what_the_records_built_whole_write() {
        let dir = tempfile::tempdir().unwrap();
        let files = write(0.05, Layout::Ndjson, dir.path()).unwrap();
        let g = records(0.05);
        assert_eq!(files.len(), g.tables.len() + 1);
        for ((table, rows), file) in g.tables.iter().zip(&files) {
            assert_eq!(
                file.file_name().unwrap(),
                format!("{table}.ndjson").as_str()
            );
            let mut want = Vec::new();
            for r in rows {
                serde_json::to_writer(&mut want, r).unwrap();
                want.push(b'\n');
            }
            assert!(!rows.is_empty());
            assert_eq!(std::fs::read(file).unwrap(), want, "{table}");
        }
        let blob = std::fs::read(files.last().unwrap()).unwrap();
        assert_eq!(blob, serde_json::to_vec(&g.o365_blob).unwrap());
        assert!(g.o365_blob.len() > 1);
    }
}
