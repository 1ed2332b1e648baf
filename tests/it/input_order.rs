//! What an ingest stores depends on its input alone, not on which thread decoded what: of a
//! record given twice the first copy in input order is kept, rejects are listed in input
//! order, and two runs write the same Parquet bytes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::Env;

/// Records of an export large enough to be decoded in pieces by both threads: Event records
/// that only `id` (kept in `_extra`, left out of the natural key) tells apart from another
/// export's copies, four to a second (rows with equal times), the line before record
/// `bad_line` (counted in the export) rejected.
fn export(tag: &str, records: std::ops::Range<usize>, bad_line: usize) -> String {
    let description = "x".repeat(300);
    let mut text = String::new();
    let first = records.start;
    for i in records {
        if i - first == bad_line {
            text.push_str("{\"Type\":\"Event\",\"TimeGenerated\":\"never\"}\n");
        }
        let (day, second) = (1 + i / 8000, (i / 4) % 2000);
        text.push_str(&format!(
            "{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-03-0{day}T00:{:02}:{:02}Z\",\"Computer\":\"c{}\",\"EventID\":{i},\"RenderedDescription\":\"{description}\",\"id\":\"{tag}-{i}\"}}\n",
            second / 60,
            second % 60,
            i % 50
        ));
    }
    text
}

/// Every Parquet file of the store, by path, with its bytes.
fn parquet_files(store: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![store.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                let name = path.strip_prefix(store).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn the_first_copy_in_input_order_is_kept_and_two_runs_write_the_same_bytes() {
    let records = 24_000;
    let inputs = Env::new();
    // Two small files, decoded together, the second repeating the first; then two large
    // ones, the second repeating the first.
    let p = inputs.write("p.ndjson", export("p", 30_000..30_050, 20).as_bytes());
    let q = inputs.write("q.ndjson", export("q", 30_000..30_050, 5).as_bytes());
    let a = inputs.write("a.ndjson", export("a", 0..records, 23_000).as_bytes());
    let b = inputs.write("b.ndjson", export("b", 0..records, 10).as_bytes());
    // A small JSON array after them, decoded whole, repeating their first records.
    let c_records = export("c", 0..100, usize::MAX).replace('\n', ",");
    let c = inputs.write(
        "c.json",
        format!("[{}]", c_records.trim_end_matches(',')).as_bytes(),
    );
    assert!(
        std::fs::metadata(&a).unwrap().len() > 8 << 20,
        "a is decoded in pieces"
    );

    let mut first_run = None;
    for _ in 0..3 {
        let env = Env::new();
        let r = env.ingest(&[&p, &q, &a, &b, &c]);
        assert_eq!(r.code, 3, "committed, with rejects: {}", r.stderr);
        let kept = env.csv(
            "SELECT substr(_extra, 8, 1) AS copy, count(*) FROM \"Event\" GROUP BY copy ORDER BY copy",
        );
        assert_eq!(
            kept,
            [format!("a,{records}"), "p,50".into()],
            "{}",
            r.stderr
        );
        // The rejects in input order.
        let rejects: Vec<usize> = ["p.ndjson:21", "q.ndjson:6", "a.ndjson:23001", "b.ndjson:11"]
            .iter()
            .map(|at| r.stderr.find(at).expect(&r.stderr))
            .collect();
        assert!(rejects.is_sorted(), "{}", r.stderr);

        let files = parquet_files(&env.store());
        assert!(files.len() >= 3, "{files:?}");
        match &first_run {
            None => first_run = Some(files),
            Some(first) => assert!(&files == first, "the Parquet files differ between runs"),
        }
    }
}

#[test]
fn a_large_json_array_or_envelope_is_decoded_in_pieces_to_the_rows_of_its_ndjson_twin() {
    let inputs = Env::new();
    let lines = export("j", 0..24_000, 20_000);
    let ndjson = inputs.write("j.ndjson", lines.as_bytes());
    let elements: Vec<&str> = lines.lines().collect();
    let array = elements.join(",\n");
    // The query API's rows, positional, named by the table's columns.
    let columns = [
        "Type",
        "TimeGenerated",
        "Computer",
        "EventID",
        "RenderedDescription",
        "id",
    ];
    let rows: Vec<String> = (elements.iter())
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            serde_json::to_string(&columns.map(|c| record[c].clone())).unwrap()
        })
        .collect();
    let columns: Vec<String> = (columns.iter())
        .map(|c| format!("{{\"name\":\"{c}\",\"type\":\"string\"}}"))
        .collect();
    let inputs_of_each_shape = [
        ("j.json", format!("[\n{array}\n]\n"), "json-array"),
        (
            "r.json",
            format!("{{\"records\": [\n{array}\n]}}"),
            "records-envelope",
        ),
        (
            "s.json",
            format!("{{\"__metadata\":{{\"top\":24001}},\"value\":[{array}]}}"),
            "oms-search-api",
        ),
        (
            "q.json",
            format!(
                "{{\"tables\":[{{\"name\":\"PrimaryResult\",\"columns\":[{}],\"rows\":[{}]}}]}}",
                columns.join(","),
                rows.join(",\n")
            ),
            "log-analytics-query-api",
        ),
    ];

    let rows = |input: &Path| {
        let env = Env::new();
        let r = env.ingest(&[input]);
        assert_eq!(r.code, 3, "committed, with rejects: {}", r.stderr);
        (
            env.csv("SELECT * FROM \"Event\" ORDER BY \"EventID\""),
            r.stderr,
        )
    };
    let (from_ndjson, _) = rows(&ndjson);
    assert_eq!(from_ndjson.len(), 24_000);
    for (name, text, shape) in inputs_of_each_shape {
        let file = inputs.write(name, text.as_bytes());
        assert!(text.len() > 8 << 20, "cut in pieces");
        let (from_file, stderr) = rows(&file);
        assert!(from_file == from_ndjson, "{name}: the rows differ");
        // The rejected element, numbered in the file (from 0) as when it is decoded whole.
        assert!(stderr.contains(&format!("{name} record 20000")), "{stderr}");
        assert!(stderr.contains(shape), "{stderr}");
        // A download that stopped inside record 21,000: the whole ones before it land.
        let cut = text.find("\"j-21000\"").unwrap();
        let file = inputs.write(&format!("cut-{name}"), &text.as_bytes()[..cut]);
        let (from_cut, stderr) = rows(&file);
        assert!(
            from_cut == from_ndjson[..21_000],
            "cut-{name}: the rows differ"
        );
        assert!(
            stderr.contains("the rest of the array could not be read"),
            "{stderr}"
        );
    }
}

#[test]
fn a_gzip_file_too_large_to_hold_decoded_stores_the_rows_of_its_plain_twin() {
    use std::io::Write;
    // Over the 64 MiB held in memory once decoded: decompressed while its pieces are decoded.
    let inputs = Env::new();
    // Three exports of the same records: the first one's copies are the ones kept.
    let lines = ["g", "h", "k"]
        .map(|tag| export(tag, 0..60_000, if tag == "g" { 50_000 } else { usize::MAX }))
        .concat();
    assert!(lines.len() > 64 << 20);
    let plain = inputs.write("g.ndjson", lines.as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(lines.as_bytes()).unwrap();
    let gzip = inputs.write("g.ndjson.gz", &gz.finish().unwrap());

    let rows = |input: &Path| {
        let env = Env::new();
        let r = env.ingest(&[input]);
        assert_eq!(r.code, 3, "committed, with rejects: {}", r.stderr);
        let rows = env.csv("SELECT * FROM \"Event\" ORDER BY \"EventID\"");
        // Nothing of the decompressed file is left in the store.
        let staging = env.store().join("_staging");
        let left = std::fs::read_dir(&staging).map_or(0, |d| d.count());
        assert_eq!(left, 0, "left in {staging:?}");
        (rows, r.stderr)
    };
    let (from_plain, plain_stderr) = rows(&plain);
    let (from_gzip, stderr) = rows(&gzip);
    assert_eq!(from_plain.len(), 60_000);
    assert!(from_plain.iter().all(|row| row.contains("g-")));
    assert!(from_gzip == from_plain, "the gzip file's rows differ");
    let line = 50_001;
    assert!(
        plain_stderr.contains(&format!("g.ndjson:{line}:")),
        "{plain_stderr}"
    );
    assert!(stderr.contains(&format!("g.ndjson.gz:{line}:")), "{stderr}");
    assert!(stderr.contains("g.ndjson.gz: ndjson"), "{stderr}");
}

#[test]
fn a_large_envelope_cut_short_stores_every_whole_record_before_the_cut() {
    // A download that stopped: the whole records before the cut land, and the cut is named.
    let inputs = Env::new();
    let lines = export("c", 0..24_000, usize::MAX);
    let elements: Vec<&str> = lines.lines().collect();
    let envelope = format!(
        "{{\"__metadata\":{{\"top\":24000}},\"value\":[\n{}\n]}}",
        elements.join(",\n")
    );
    assert!(envelope.len() > 8 << 20, "large enough to be cut in pieces");
    // Inside element 21,000 (counted from 0): 21,000 whole records before it.
    let cut = envelope.find("\"id\":\"c-21000\"").unwrap();
    let file = inputs.write("cut.json", &envelope.as_bytes()[..cut]);
    let ndjson = inputs.write("c.ndjson", elements[..21_000].join("\n").as_bytes());

    let env = Env::new();
    let r = env.ingest(&[&file]);
    assert_eq!(r.code, 3, "committed, with the cut rejected: {}", r.stderr);
    assert!(r.stderr.contains("oms-search-api"), "{}", r.stderr);
    let line = 21_002; // the metadata and `[` line, then one line a record
    assert!(
        r.stderr.contains(&format!("cut.json:{line}:")) && r.stderr.contains("EOF while parsing"),
        "{}",
        r.stderr
    );
    let twin = Env::new();
    assert_eq!(twin.ingest(&[&ndjson]).code, 0);
    let sql = "SELECT * FROM \"Event\" ORDER BY \"EventID\"";
    let (rows, twin_rows) = (env.csv(sql), twin.csv(sql));
    assert_eq!(rows.len(), 21_000);
    assert!(rows == twin_rows, "the rows differ from the twin's");
}

#[test]
fn an_element_with_bad_json_is_one_reject_in_a_small_array_and_in_a_large_one() {
    // The array's brackets match: the element is rejected alone, whichever reader reads it,
    // and the records after it land.
    let inputs = Env::new();
    let bad = "{\"Type\":\"Event\",\"TimeGenerated\":tru}";
    let mut files = Vec::new();
    let mut twins = Vec::new();
    for (name, records, at) in [
        ("small.json", 0..50, 20),
        ("large.json", 100..24_100, 12_000),
    ] {
        let lines = export(name, records, usize::MAX);
        let mut elements: Vec<&str> = lines.lines().collect();
        twins.push(inputs.write(&format!("{name}.ndjson"), elements.join("\n").as_bytes()));
        elements.insert(at, bad);
        files.push(inputs.write(name, format!("[{}]", elements.join(",\n")).as_bytes()));
    }
    assert!(
        std::fs::metadata(&files[1]).unwrap().len() > 8 << 20,
        "cut in pieces"
    );

    let env = Env::new();
    let r = env.ingest(&[&files[0], &files[1]]);
    assert_eq!(
        r.code, 3,
        "committed, with the element rejected: {}",
        r.stderr
    );
    for (name, record) in [("small.json", 20), ("large.json", 12_000)] {
        assert!(
            r.stderr.contains(&format!(
                "{name} record {record}: malformed JSON at column 36: expected ident\n"
            )),
            "{}",
            r.stderr
        );
    }
    let twin = Env::new();
    assert_eq!(twin.ingest(&[&twins[0], &twins[1]]).code, 0);
    let sql = "SELECT * FROM \"Event\" ORDER BY \"EventID\"";
    let (rows, twin_rows) = (env.csv(sql), twin.csv(sql));
    assert_eq!(rows.len(), 24_050);
    assert!(rows == twin_rows, "the rows differ from the twin's");
}

#[test]
fn a_large_json_array_out_of_time_order_reads_as_its_ndjson_twin() {
    // Its pieces are decoded a day at a time, as NDJSON's are: the first copy in input order
    // is still the one kept, rejects keep their numbers, and the rows are the twin's.
    let inputs = Env::new();
    let lines = export("x", 0..24_000, 12_345);
    let lines: Vec<&str> = lines.lines().collect();
    // Days and times out of order, every record moved.
    let n = lines.len();
    let mut shuffled: Vec<&str> = (0..n).map(|i| lines[(i * 7_919) % n]).collect();
    // Copies of records 100..200 before all of them (kept), of 300..400 after (not kept).
    let before = export("y", 100..200, usize::MAX);
    let after = export("z", 300..400, usize::MAX);
    shuffled.splice(0..0, before.lines());
    shuffled.extend(after.lines());
    let bad = shuffled.iter().position(|l| l.contains("never")).unwrap();
    let array = inputs.write("big.json", format!("[{}]", shuffled.join(",\n")).as_bytes());
    let twin = inputs.write("big.ndjson", shuffled.join("\n").as_bytes());
    assert!(
        std::fs::metadata(&array).unwrap().len() > 8 << 20,
        "cut in pieces"
    );

    let (env, twin_env) = (Env::new(), Env::new());
    let r = env.ingest(&[&array]);
    assert_eq!(
        r.code, 3,
        "committed, with the bad record rejected: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("big.json record {bad}:")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("200 duplicates"), "{}", r.stderr);
    assert_eq!(twin_env.ingest(&[&twin]).code, 3);
    let kept =
        "SELECT substr(_extra, 8, 1) AS copy, count(*) FROM \"Event\" GROUP BY copy ORDER BY copy";
    assert_eq!(env.csv(kept), ["x,23900", "y,100"]);
    let sql = "SELECT * FROM \"Event\" ORDER BY \"EventID\"";
    assert!(
        env.csv(sql) == twin_env.csv(sql),
        "the rows differ from the twin's"
    );
}
