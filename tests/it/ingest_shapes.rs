//! Every input shape of spec §2 round-trips with its typed values.

use crate::common::Env;

const NDJSON: &str = concat!(
    r#"{"Type":"Update","TimeGenerated":"2024-03-01T10:00:00.1234567Z","Computer":"a.contoso.com","Optional":"True","Approved":true,"InstallTimePredictionSeconds":"12.5","UpdateState":"Needed","KBID":4012212,"Odd":{"x":[1, 2]}}"#,
    "\n",
    r#"{"Type":"UpdateSummary","TimeGenerated":"2024-03-02T00:00:00Z","Computer":"b.contoso.com","CriticalUpdatesMissing":"3","RestartPending":"false"}"#,
    "\n"
);

#[test]
fn ndjson_with_mixed_tables_and_typed_coercions() {
    let env = Env::new();
    let f = env.write("in/mixed.ndjson", NDJSON.as_bytes());
    let r = env.ingest(&[&f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.count("Update"), 1);
    assert_eq!(env.count("UpdateSummary"), 1);
    let row = env.csv(r#"SELECT "Optional", "Approved", "InstallTimePredictionSeconds", "KBID", "TimeGenerated", "_extra", "Type" FROM "Update""#);
    assert_eq!(
        row,
        vec![
            r#"true,true,12.5,4012212,2024-03-01T10:00:00.123456Z,"{""Odd"":{""x"":[1,2]}}",Update"#
        ]
    );
    let row =
        env.csv(r#"SELECT "CriticalUpdatesMissing" + 1, "RestartPending" FROM "UpdateSummary""#);
    assert_eq!(row, vec!["4,false"]);
}

#[test]
fn query_api_response_with_dynamic_as_encoded_string() {
    let env = Env::new();
    let doc = r#"{"tables":[{"name":"PrimaryResult","columns":[
        {"name":"TimeGenerated","type":"datetime"},{"name":"Type","type":"string"},{"name":"OfficeId","type":"string"},
        {"name":"Members","type":"dynamic"},{"name":"IsManagedDevice","type":"bool"},{"name":"_BilledSize","type":"real"}],
      "rows":[["2023-02-09T09:39:11.3765261Z","OfficeActivity","id-1","[{\"person\":\"Daniel\"}]",true,"NaN"],
              ["2023-02-09T09:39:12Z","OfficeActivity","id-2",null,"False",1234.0]]}]}"#;
    let f = env.write("q.json", doc.as_bytes());
    let r = env.ingest(&[&f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("log-analytics-query-api"), "{}", r.stderr);
    let rows = env.csv(r#"SELECT "OfficeId", "Members", "IsManagedDevice", isnan("_BilledSize"), "TimeGenerated" FROM "OfficeActivity" ORDER BY 1"#);
    assert_eq!(
        rows,
        vec![
            r#"id-1,"[{""person"":""Daniel""}]",true,true,2023-02-09T09:39:11.376526Z"#,
            "id-2,,false,false,2023-02-09T09:39:12Z"
        ]
    );
}

#[test]
fn legacy_search_api_gzip_keeps_metadata_in_extra() {
    let env = Env::new();
    let doc = r#"{"id":"x","__metadata":{"resultType":"raw","total":1},"value":[{"SourceSystem":"OpsManager","TimeGenerated":"2015-02-07T14:07:33Z","Source":"SideBySide","EventLog":"Application","Computer":"BAMBAM","EventCategory":0,"EventLevel":1,"EventLevelName":"Error","UserName":"N/A","EventID":78,"MG":"00000000-0000-0000-0000-000000000001","TimeCollected":"2015-02-07T14:10:04.69Z","id":"abc","Type":"Event","__metadata":{"Type":"Event","TimeGenerated":"2015-02-07T14:07:33Z"}}]}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, doc.as_bytes()).unwrap();
    // No .gz suffix: gzip is recognised by its magic bytes.
    let f = env.write("search-result", &gz.finish().unwrap());
    let r = env.ingest(&[&f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = env.csv(r#"SELECT "Computer", "EventID", "EventLevel", "_extra" FROM "Event""#);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("BAMBAM,78,1,"), "{}", rows[0]);
    for key in ["MG", "TimeCollected", "id", "__metadata"] {
        assert!(
            rows[0].contains(&format!("\"\"{key}\"\"")),
            "{key} missing from _extra: {}",
            rows[0]
        );
    }
}

#[test]
fn json_array_records_envelope_and_stdin() {
    let env = Env::new();
    let arr = r#"[{"Type":"Event","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"x"},
                  {"Type":"Event","TimeGenerated":"2024-01-01T00:00:01Z","Computer":"y"}]"#;
    let rec = r#"{"records":[{"Type":"Event","TimeGenerated":"2024-01-02T00:00:00+02:00","Computer":"z"}]}"#;
    let a = env.write("dir/sub/a.json", arr.as_bytes());
    env.write("dir/b.json", rec.as_bytes());
    let r = env.ingest(&[a.parent().unwrap().parent().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("records-envelope") && r.stderr.contains("json-array"),
        "{}",
        r.stderr
    );
    assert_eq!(env.count("Event"), 3);
    assert_eq!(
        env.csv(r#"SELECT "TimeGenerated" FROM "Event" WHERE "Computer" = 'z'"#),
        vec!["2024-01-01T22:00:00Z"]
    );
    let r = env.run_with_stdin(
        &["ingest", "-", "--table", "Event"],
        b"{\"TimeGenerated\":\"2024-01-03T00:00:00\",\"Computer\":\"w\"}\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.count("Event"), 4);
}

#[test]
fn office365_api_blob_maps_names_and_enums() {
    let env = Env::new();
    let blob = r#"[{"CreationTime":"2015-06-29T20:04:55","Id":"b567caf0-088e-4c1c-a4ea-633a1e3d66c8","Operation":"Add User.","OrganizationId":"41463f53","RecordType":8,"ResultStatus":"success","UserKey":"1003BFFD8EC47CA6@contoso.onmicrosoft.com","UserType":0,"Workload":"AzureActiveDirectory","ObjectId":"user001@contoso.onmicrosoft.com","UserId":"admin@contoso.onmicrosoft.com","AzureActiveDirectoryEventType":0,"Actor":[{"ID":"1cef1fdb","Type":2},{"ID":"admin@contoso.onmicrosoft.com","Type":5}],"Target":[{"ID":"user001@contoso.onmicrosoft.com","Type":5}],"IsWorkflow":false}]"#;
    let f = env.write("Audit.AzureActiveDirectory.json", blob.as_bytes());
    let r = env.ingest(&[&f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = env.csv(r#"SELECT "OfficeId", "TimeGenerated", "RecordType", "UserType", "OfficeWorkload", "OfficeObjectId", "Actor", "AADTarget", "SourceSystem", "_extra" FROM "OfficeActivity""#);
    assert_eq!(
        rows,
        vec![concat!(
            r#"b567caf0-088e-4c1c-a4ea-633a1e3d66c8,2015-06-29T20:04:55Z,AzureActiveDirectory,Regular,AzureActiveDirectory,user001@contoso.onmicrosoft.com,"#,
            r#""[{""ID"":""1cef1fdb"",""Type"":2},{""ID"":""admin@contoso.onmicrosoft.com"",""Type"":5}]","[{""ID"":""user001@contoso.onmicrosoft.com"",""Type"":5}]",OfficeActivityManager,"{""IsWorkflow"":false}""#
        )]
    );
}

#[test]
fn reingesting_the_same_content_changes_nothing() {
    let env = Env::new();
    let f = env.write("a.ndjson", NDJSON.as_bytes());
    assert_eq!(env.ingest(&[&f]).code, 0);
    let copy = env.write("copy-of-a.ndjson", NDJSON.as_bytes());
    let r = env.ingest(&[&f, &copy]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("already ingested"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing new to commit"), "{}", r.stderr);
    assert_eq!(env.count("Update"), 1);
    assert_eq!(
        std::fs::read_dir(env.store().join("_log")).unwrap().count(),
        1
    );
}

#[test]
fn generator_is_deterministic_and_its_sample_set_ingests_cleanly() {
    let env = Env::new();
    for out in ["g1", "g2"] {
        let r = env.run(&[
            "generate", "--scale", "0.01", "--layout", "mixed", "--out", out,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut names: Vec<_> = std::fs::read_dir(env.path("g1"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6);
    for n in &names {
        assert_eq!(
            std::fs::read(env.path("g1").join(n)).unwrap(),
            std::fs::read(env.path("g2").join(n)).unwrap()
        );
    }
    let r = env.ingest(&[&env.path("g1")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for t in omslake::schema::TABLE_NAMES {
        assert!(env.count(t) > 0, "{t} is empty");
    }
}

#[test]
fn a_large_ndjson_file_split_across_threads_keeps_every_record_and_line_number() {
    use omslake::ingest::{self, IngestOptions};
    let env = Env::new();
    let bad = [7u64, 1000, 1999];
    let mut text = String::new();
    for line in 1..=2000u64 {
        if bad.contains(&line) {
            text.push_str("{\"Type\":\"Event\", oops\n");
        } else {
            text.push_str(&format!(
                "{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-03-0{}T00:00:{:02}Z\",\"Computer\":\"c{line}\",\"EventID\":{line}}}\n",
                1 + line % 3,
                line % 60
            ));
        }
    }
    let f = env.write("in/big.ndjson", text.as_bytes());
    let store = omslake::store::Store::open(env.store());
    let mut tx = store.begin("ingest", None, &mut || {}).unwrap();
    // About 70 pieces of 4 KiB for two threads.
    let options = IngestOptions {
        chunk_bytes: 4096,
        ..IngestOptions::default()
    };
    let summary = ingest::run(&[f], &options, &mut tx).unwrap();
    assert_eq!(summary.sources[0].shape, Some("ndjson"));
    assert_eq!(summary.sources[0].accepted, 1997);
    assert_eq!(summary.sources[0].rejected, 3);
    tx.commit(Vec::new(), Vec::new()).unwrap();
    assert_eq!(env.count("Event"), 1997);
    assert_eq!(
        env.csv(
            "SELECT count(DISTINCT \"EventID\"), min(\"EventID\"), max(\"EventID\") FROM \"Event\""
        ),
        vec!["1997,1,2000"]
    );
    let rejects = std::fs::read_to_string(env.store().join("_rejects/1.ndjson")).unwrap();
    let mut lines: Vec<u64> = rejects
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, bad);
}

/// A large NDJSON file of a size no stored source has is hashed piece by piece while it is
/// decoded; the log must still hold the BLAKE3 of the whole file, so that a later run of the
/// same content (or a copy) is recognised before it is read again.
#[test]
fn large_files_hashed_while_decoded_are_recognised_when_given_again() {
    let env = Env::new();
    let gen = env.generate("0.35");
    let update = gen.join("Update.ndjson");
    let content = std::fs::read(&update).unwrap();
    assert!(content.len() > 8 << 20, "larger than one decoding piece");
    assert_eq!(env.ingest(&[&gen]).code, 0);

    let log = std::fs::read_dir(env.store().join("_log")).unwrap();
    let log = log.map(|e| e.unwrap().path()).next().unwrap();
    let commit: serde_json::Value = serde_json::from_slice(&std::fs::read(log).unwrap()).unwrap();
    let sources = commit["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 6);
    for s in sources {
        let bytes = std::fs::read(s["name"].as_str().unwrap()).unwrap();
        assert_eq!(s["blake3"], blake3::hash(&bytes).to_hex().as_str(), "{s}");
    }

    let copy = env.write("copy/Update.ndjson", &content);
    let r = env.ingest(&[&update, &copy]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("already ingested").count(),
        2,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing new to commit"), "{}", r.stderr);
}
