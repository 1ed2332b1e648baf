//! Property tests: random and mutated searches never panic the parser or translator, and every
//! error points inside the search.

use omslake::search::{translate, Options};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "Type=Update UpdateState=Needed Optional=false | measure count() by Computer",
    "Type=Event EventLevelName=error Computer IN {Type=Update (Classification=\"Security Updates\" OR Classification=\"Critical Updates\") | Distinct Computer}",
    "Type=UpdateSummary TotalUpdatesMissing:[1..5] | measure avg(TotalUpdatesMissing), pct90(TotalUpdatesMissing) by WindowsUpdateSetting interval 1DAY | where AggregatedValue>3",
    "Type=Event NOT(EventID IN {1,2,3}) TimeGenerated>NOW-1DAY/HOUR | sort Computer desc | top 5 | skip 2",
    "Type=UpdateSummary | Extend if(map(TotalUpdatesMissing,0,10,0,1),\"A\",\"B\") AS X | Dedup Computer | select Computer, X",
];

const PIECES: &[&str] = &[
    "Type",
    "=",
    ":",
    "!=",
    "<",
    ">=",
    "(",
    ")",
    "{",
    "}",
    "[",
    "..",
    "]",
    "|",
    "\"",
    "'",
    "\\",
    "*",
    "AND",
    "OR",
    "NOT",
    "IN",
    "&&",
    "||",
    "!",
    "&",
    ",",
    " ",
    "Computer",
    "EventID",
    "NOW-1DAY",
    "measure",
    "count()",
    "by",
    "interval",
    "1HOUR",
    "select",
    "sort",
    "top",
    "where",
    "Extend",
    "as",
    "contains(\"x\")",
    "RegEx(\"a@\")",
    "Update",
    "Event",
    "é",
    "\u{201C}",
    "0",
    "-5",
    "1e309",
];

fn check(search: &str) {
    let options = Options {
        now_micros: 1_710_000_000_000_000,
        case_sensitive: false,
        dialect: Default::default(),
    };
    for strict in [false, true] {
        if let Err(e) = translate(search, &options, strict) {
            assert!(
                e.position <= e.search.len(),
                "{search:?}: position {} past the end",
                e.position
            );
            assert!(
                e.search.is_char_boundary(e.position),
                "{search:?}: position inside a character"
            );
            assert!(!e.message.is_empty());
            let shown = e.to_string();
            assert_eq!(shown.lines().count(), 3, "{search:?}: {shown}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn random_token_soup(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..40)) {
        check(&pieces.concat());
    }

    #[test]
    fn random_text(s in "\\PC{0,80}") {
        check(&s);
    }

    #[test]
    fn mutated_documented_searches(seed in prop::sample::select(SEEDS), cut in 0usize..200, insert in prop::sample::select(PIECES), drop in 0usize..4) {
        let chars: Vec<char> = seed.chars().collect();
        let at = cut % (chars.len() + 1);
        let end = (at + drop).min(chars.len());
        let mutated: String = chars[..at].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect();
        check(&mutated);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let options = Options {
        now_micros: 0,
        case_sensitive: false,
        dialect: Default::default(),
    };
    for open in ["(", "NOT ", "!", "Computer IN {"] {
        let s = format!("Type=Event {}", open.repeat(10_000));
        let e = translate(&s, &options, false).unwrap_err();
        assert!(
            e.message.contains("nested") || e.message.contains("expected"),
            "{open}: {}",
            e.message
        );
    }
}

/// Decode arbitrary bytes as an input file: every record is either decoded or rejected.
fn ingest_bytes(bytes: &[u8]) {
    use omslake::ingest::decoder::TableDecoder;
    use omslake::ingest::shape::for_each_record;
    let catalog = omslake::schema::Catalog::builtin();
    let mut decoders: Vec<TableDecoder> = catalog.tables().iter().map(TableDecoder::new).collect();
    let mut cells = Vec::new();
    for_each_record(bytes, |item| {
        if let Ok(fields) = item.fields {
            for d in decoders.iter_mut() {
                let _ = d.push(&fields, &mut cells);
            }
        }
    });
    for d in decoders.iter_mut() {
        let rows = d.buffered_rows();
        let batch = d.flush();
        assert_eq!(batch.num_columns(), d.schema().columns.len());
        assert_eq!(
            batch.num_rows(),
            rows,
            "every decoded record is in the batch"
        );
    }
}

const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u00e9",
    "\\ud800",
    "\"Type\"",
    "\"Event\"",
    "\"TimeGenerated\"",
    "\"2024-01-01T00:00:00Z\"",
    "\"2024-13-45T99:99:99Z\"",
    "\"EventID\"",
    "1e400",
    "-0",
    "99999999999999999999",
    "true",
    "\"True\"",
    "null",
    "\"NaN\"",
    "\n",
    " ",
    "\"records\"",
    "\"value\"",
    "\"__metadata\"",
    "\"tables\"",
    "\"columns\"",
    "\"rows\"",
    "\"name\"",
    "\"CreationTime\"",
    "\"Workload\"",
    "\"Id\"",
    "\"RecordType\"",
    "8",
    "\"Computer\"",
    "\"é\"",
    "\u{1F600}",
    "\x1f",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn ingest_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        ingest_bytes(&bytes);
    }

    #[test]
    fn ingest_json_soup(pieces in prop::collection::vec(prop::sample::select(JSON_PIECES), 0..60)) {
        ingest_bytes(pieces.concat().as_bytes());
    }
}

#[test]
fn huge_and_deep_records_are_rejected_with_a_reason() {
    use omslake::ingest::shape::{for_each_record, MAX_RECORD_BYTES};
    let huge = format!(
        "{{\"Type\":\"Event\",\"Message\":\"{}\"}}\n",
        "x".repeat(MAX_RECORD_BYTES)
    );
    let mut reasons = Vec::new();
    for_each_record(huge.as_bytes(), |item| {
        reasons.push(item.fields.err().unwrap_or_default())
    });
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].contains("larger than the 64 MiB limit"),
        "{}",
        reasons[0]
    );
    let deep = format!("[{}{}]", "[".repeat(10_000), "]".repeat(10_000));
    let mut reasons = Vec::new();
    for_each_record(deep.as_bytes(), |item| {
        reasons.push(item.fields.err().unwrap_or_default())
    });
    assert!(
        !reasons.is_empty() && reasons.iter().all(|r| !r.is_empty()),
        "{reasons:?}"
    );
}

const FIELD_NAMES: &[&str] = &[
    "Computer",
    "EventID",
    "EventLevelName",
    "RenderedDescription",
    "UpdateState",
    "Classification",
    "KBID",
    "Title",
    "Optional",
    "TotalUpdatesMissing",
    "OfficeId",
    "Operation",
    "UserId",
    "ClientIP",
    "Parameters",
    "SourceComputerId",
    "UpdateID",
    "CorrelationId",
    "Unknown Key",
    "_extra",
];

const FIELD_VALUES: &[&str] = &[
    "null",
    "\"\"",
    "\"a\"",
    "\"é\u{1F600}\"",
    "\"\\u0000\"",
    "0",
    "-1",
    "1e308",
    "-0.0",
    "9223372036854775808",
    "true",
    "\"False\"",
    "\"NaN\"",
    "[1,{\"a\":null}]",
    "{\"k\":[true]}",
    "\"2024-02-29T23:59:59.9999999Z\"",
    "\"1969-12-31T23:59:59.999999-01:00\"",
    "\"9999-12-31T23:59:59Z\"",
    "\"x\\ny\\t\\\"\"",
];

const TIMES: &[&str] = &[
    "\"2024-01-01T00:00:00Z\"",
    "\"2024-01-01T23:59:59.999999Z\"",
    "\"2024-01-02T00:00:00.0000001Z\"",
    "\"1970-01-01T00:00:00Z\"",
    "\"0001-01-01T00:00:00Z\"",
    "\"2024-01-01\"",
    "\"not a time\"",
    "null",
];

fn record() -> impl Strategy<Value = String> {
    let table = prop::sample::select(omslake::schema::TABLE_NAMES.to_vec());
    let fields = prop::collection::vec(
        (
            prop::sample::select(FIELD_NAMES),
            prop::sample::select(FIELD_VALUES),
        ),
        0..8,
    );
    (table, prop::sample::select(TIMES), fields).prop_map(|(table, time, fields)| {
        let mut text = format!("{{\"Type\":\"{table}\",\"TimeGenerated\":{time}");
        let mut seen = std::collections::HashSet::new();
        for (k, v) in fields {
            if seen.insert(k) {
                text.push_str(&format!(",\"{k}\":{v}"));
            }
        }
        text.push('}');
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, .. ProptestConfig::default() })]

    /// Random records go all the way: decoded, deduplicated, written to Parquet, committed,
    /// and the committed files read back and checked against the log by `verify`.
    #[test]
    fn random_records_commit_into_a_store_that_verifies(
        records in prop::collection::vec(record(), 1..40),
        garbage in prop::collection::vec(prop::sample::select(JSON_PIECES), 0..6),
    ) {
        use omslake::ingest::{self, IngestOptions};
        use omslake::store::{maintenance, Store};
        let dir = tempfile::tempdir().unwrap();
        let mut text = records.join("\n");
        text.push('\n');
        text.push_str(&garbage.concat());
        let input = dir.path().join("in.ndjson");
        std::fs::write(&input, &text).unwrap();
        let store = Store::open(dir.path().join("store"));
        let mut tx = store.begin("ingest", None, &mut || {}).unwrap();
        let summary = ingest::run(&[input], &IngestOptions::default(), &mut tx).unwrap();
        tx.commit(vec![], vec![]).unwrap();
        let snapshot = store.snapshot().unwrap();
        let problems = maintenance::verify(store.root(), &snapshot);
        prop_assert!(problems.is_empty(), "{problems:?}\n{text}");
        let stored: u64 = snapshot.files.values().flatten().map(|f| f.rows).sum();
        // Duplicates (same natural key) are dropped, so never more than accepted.
        prop_assert!(stored <= summary.total_accepted(), "{stored} > {}", summary.total_accepted());
        prop_assert!(stored > 0 || summary.total_accepted() == 0);
    }
}
