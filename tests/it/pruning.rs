//! File pruning on `TimeGenerated` never changes an answer: random time predicates (every
//! comparison, literals of every unit and time zone, casts to every unit, `date_trunc`,
//! `BETWEEN`, `IN`, `AND`/`OR`/`NOT`, literals at file boundaries) return the same rows with
//! pruning on as with it off, over a store of several files per day.

use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use omslake::ingest::{self, IngestOptions};
use omslake::query::{Engine, EngineOptions};
use omslake::store::Store;
use proptest::prelude::*;

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// 2024-01-01T00:00:00Z in nanoseconds.
const BASE: i64 = 1_704_067_200 * NANOS_PER_SEC;

/// The instants stored: per ingest `i` and day `d`, records spread over the day with
/// sub-second offsets, so that files of one day overlap and end at odd fractions.
fn stored_instants() -> Vec<(usize, i64)> {
    let mut out = Vec::new();
    for i in 0..4i64 {
        for d in 0..3i64 {
            for j in 0..4i64 {
                let ns = BASE
                    + d * 86_400 * NANOS_PER_SEC
                    + j * 6 * 3600 * NANOS_PER_SEC
                    + i * 250_000_000
                    + (i * 123 + j * 7) * 1_000;
                out.push((i as usize, ns));
            }
            // The day's last microsecond and its first.
            out.push((
                i as usize,
                BASE + (d + 1) * 86_400 * NANOS_PER_SEC - 1_000 * (i + 1),
            ));
            out.push((i as usize, BASE + d * 86_400 * NANOS_PER_SEC + 1_000 * i));
        }
    }
    out
}

fn iso(ns: i64) -> String {
    let secs = ns.div_euclid(NANOS_PER_SEC);
    let frac = ns.rem_euclid(NANOS_PER_SEC);
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap();
    format!("{}.{frac:09}Z", dt.format("%Y-%m-%dT%H:%M:%S"))
}

fn build_store(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("store");
    let instants = stored_instants();
    for ingest_no in 0..4 {
        let text: String = instants
            .iter()
            .enumerate()
            .filter(|(_, (i, _))| *i == ingest_no)
            .map(|(n, (_, ns))| {
                format!(
                    "{{\"Type\":\"Event\",\"TimeGenerated\":\"{}\",\"Computer\":\"c{n}\"}}\n",
                    iso(*ns)
                )
            })
            .collect();
        let file = dir.join(format!("part{ingest_no}.ndjson"));
        std::fs::write(&file, text).unwrap();
        let store = Store::open(&root);
        let mut tx = store.begin("ingest", None, &mut || {}).unwrap();
        ingest::run(&[file], &IngestOptions::default(), &mut tx).unwrap();
        tx.commit(vec![], vec![]).unwrap();
    }
    root
}

/// Literal instants worth trying: every stored one, a nanosecond, microsecond, millisecond
/// and second either side, and the same truncated to seconds.
fn interesting_instants() -> Vec<i64> {
    let mut out = Vec::new();
    for (_, ns) in stored_instants() {
        for delta in [
            0,
            1,
            -1,
            1_000,
            -1_000,
            1_000_000,
            -1_000_000,
            NANOS_PER_SEC,
        ] {
            out.push(ns + delta);
        }
        out.push(ns - ns.rem_euclid(NANOS_PER_SEC));
    }
    out
}

fn literal() -> impl Strategy<Value = String> {
    let instants = interesting_instants();
    (prop::sample::select(instants), 0..9usize, prop::bool::ANY).prop_map(|(ns, form, space)| {
        let text = iso(ns);
        let text = if space {
            text.replacen('T', " ", 1)
        } else {
            text
        };
        let bare = text.trim_end_matches('Z').to_string();
        match form {
            0 => format!("'{text}'"),
            1 => format!("TIMESTAMP '{bare}'"),
            2 => format!("to_timestamp_nanos('{text}')"),
            3 => format!("to_timestamp_micros('{text}')"),
            4 => format!("to_timestamp_millis('{text}')"),
            5 => format!("to_timestamp_seconds('{text}')"),
            6 => format!("CAST('{text}' AS TIMESTAMP(3))"),
            7 => format!("arrow_cast('{text}', 'Timestamp(Nanosecond, Some(\"+05:00\"))')"),
            _ => format!("arrow_cast('{bare}', 'Timestamp(Second, None)')"),
        }
    })
}

fn column() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""TimeGenerated""#.to_string(),
        r#""TimeGenerated""#.to_string(),
        r#"CAST("TimeGenerated" AS TIMESTAMP(0))"#.to_string(),
        r#"CAST("TimeGenerated" AS TIMESTAMP(3))"#.to_string(),
        r#"CAST("TimeGenerated" AS TIMESTAMP(6))"#.to_string(),
        r#"CAST("TimeGenerated" AS TIMESTAMP(9))"#.to_string(),
        r#"CAST("TimeGenerated" AS TIMESTAMP)"#.to_string(),
        r#"arrow_cast("TimeGenerated", 'Timestamp(Second, None)')"#.to_string(),
        r#"arrow_cast("TimeGenerated", 'Timestamp(Millisecond, Some("UTC"))')"#.to_string(),
        r#"arrow_cast("TimeGenerated", 'Timestamp(Microsecond, Some("+05:00"))')"#.to_string(),
        r#"arrow_cast("TimeGenerated", 'Timestamp(Nanosecond, None)')"#.to_string(),
        r#"date_trunc('second', "TimeGenerated")"#.to_string(),
        r#"date_trunc('millisecond', "TimeGenerated")"#.to_string(),
        r#"date_trunc('minute', "TimeGenerated")"#.to_string(),
        r#"date_trunc('day', "TimeGenerated")"#.to_string(),
    ])
}

fn comparison() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]);
    prop_oneof![
        4 => (column(), op, literal(), prop::bool::ANY).prop_map(|(c, op, l, flip)| match flip {
            false => format!("{c} {op} {l}"),
            true => format!("{l} {op} {c}"),
        }),
        1 => (column(), literal(), literal(), prop::bool::ANY)
            .prop_map(|(c, a, b, not)| format!("{c} {}BETWEEN {a} AND {b}", if not { "NOT " } else { "" })),
        1 => (column(), prop::collection::vec(literal(), 1..4), prop::bool::ANY).prop_map(
            |(c, ls, not)| format!("{c} {}IN ({})", if not { "NOT " } else { "" }, ls.join(", "))
        ),
    ]
}

fn predicate() -> impl Strategy<Value = String> {
    comparison().prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) AND ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) OR ({b})")),
            inner.prop_map(|a| format!("NOT ({a})")),
        ]
    })
}

fn computers(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    sql: &str,
) -> Result<Vec<String>, String> {
    rt.block_on(async {
        let df = engine.sql(sql).await.map_err(|e| e.to_string())?;
        let batches = df.collect().await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for b in batches {
            let col = datafusion::arrow::compute::cast(
                b.column(0),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .map_err(|e| e.to_string())?;
            let col = col.as_string::<i32>();
            for i in 0..col.len() {
                out.push(col.value(i).to_string());
            }
        }
        out.sort();
        Ok(out)
    })
}

#[test]
fn pruned_answers_equal_unpruned_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(build_store(dir.path()));
    let files: usize = store.snapshot().unwrap().table_files("Event").len();
    assert!(files >= 12, "{files} files");
    let pruned = Engine::open_with(&store, &EngineOptions::default()).unwrap();
    let unpruned = Engine::open_with(
        &store,
        &EngineOptions {
            prune_files: false,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The issue's case first: a truncating cast that once dropped a whole file's rows.
    let q = r#"SELECT "Computer" FROM "Event" WHERE CAST("TimeGenerated" AS TIMESTAMP(0)) = TIMESTAMP '2024-01-01 00:00:00'"#;
    let rows = computers(&pruned, &rt, q).unwrap();
    assert_eq!(rows, computers(&unpruned, &rt, q).unwrap());
    assert_eq!(rows.len(), 8, "{rows:?}");
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(p in predicate())| {
        let q = format!(r#"SELECT "Computer" FROM "Event" WHERE {p}"#);
        let with = computers(&pruned, &rt, &q);
        let without = computers(&unpruned, &rt, &q);
        match (&with, &without) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", q),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "{q}: pruned {with:?}, unpruned {without:?}"),
        }
    });
}
