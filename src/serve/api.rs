//! The Log Analytics query API's shapes: request bodies, the `tables` answer with Log Analytics
//! type names, and the error model (`{"error":{"code","message","innererror"}}`).

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// `POST …/query`'s body; unset fields come as JSON null. `workspaces` (other workspaces to
/// query too) is accepted and ignored: the store is one workspace.
#[derive(Debug, Deserialize)]
pub struct QueryBody {
    pub query: Option<String>,
    #[serde(default)]
    pub timespan: Option<String>,
}

/// `POST /v1/$batch`'s body.
#[derive(Debug, Deserialize)]
pub struct BatchBody {
    pub requests: Vec<BatchRequest>,
}

/// One request of a batch; its `workspace`, `method` and `headers` are accepted and ignored
/// (one workspace, POST only).
#[derive(Debug, Deserialize)]
pub struct BatchRequest {
    pub id: String,
    pub body: Value,
    #[serde(default)]
    pub path: Option<String>,
}

/// An API error: HTTP status, the model's code, and a message a person can act on.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadArgumentError", message)
    }

    pub fn body(&self) -> Value {
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "innererror": {"code": self.code, "message": self.message},
        }})
    }
}

/// The Log Analytics type name of an Arrow type.
fn type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Boolean => "bool",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            "int"
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "long",
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "real",
        DataType::Decimal128(..) | DataType::Decimal256(..) => "decimal",
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => "datetime",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
        DataType::Dictionary(_, v) => type_name(v),
        _ => "dynamic",
    }
}

/// The type a column is sent as: times as UTC instants (a naive time is taken as UTC),
/// decimals as doubles, dictionaries as their values, the rest as they are.
fn wire_type(t: &DataType) -> DataType {
    match t {
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        DataType::Decimal128(..) | DataType::Decimal256(..) | DataType::Float16 => {
            DataType::Float64
        }
        DataType::Dictionary(_, v) => wire_type(v),
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        other => other.clone(),
    }
}

/// Builds the `PrimaryResult` table from batches, bounded in rows and bytes.
pub struct TableBuilder {
    columns: Vec<(String, &'static str)>,
    rows: Vec<Value>,
    bytes: usize,
    max_rows: usize,
    max_bytes: usize,
}

impl TableBuilder {
    pub fn new(schema: &Schema, max_rows: usize, max_bytes: usize) -> TableBuilder {
        TableBuilder {
            columns: schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), type_name(f.data_type())))
                .collect(),
            rows: Vec::new(),
            bytes: 0,
            max_rows,
            max_bytes,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Append a batch's rows; an error once the result passes its bounds (never a truncated
    /// answer).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), ApiError> {
        if self.rows.len() + batch.num_rows() > self.max_rows {
            return Err(ApiError::new(
                400,
                "QueryResultTooLarge",
                format!(
                    "the result has more than {} rows (--max-result-rows); narrow the query: a timespan, a filter, or `| top N` / `LIMIT`",
                    self.max_rows
                ),
            ));
        }
        // Columns named positionally (`c0`, `c1`, …) so that duplicate names survive.
        let fields: Vec<Field> = (0..batch.num_columns())
            .map(|i| {
                Field::new(
                    format!("c{i}"),
                    wire_type(batch.column(i).data_type()),
                    true,
                )
            })
            .collect();
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .zip(&fields)
            .map(|(c, f)| match c.data_type() == f.data_type() {
                true => Ok(c.clone()),
                false => arrow::compute::cast(c, f.data_type()),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::new(500, "InternalServerError", e.to_string()))?;
        let wire = RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
            .map_err(|e| ApiError::new(500, "InternalServerError", e.to_string()))?;
        let mut text = Vec::new();
        {
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(&mut text);
            w.write(&wire)
                .and_then(|_| w.finish())
                .map_err(|e| ApiError::new(500, "InternalServerError", e.to_string()))?;
        }
        self.bytes += text.len();
        if self.bytes > self.max_bytes {
            return Err(ApiError::new(
                400,
                "QueryResultTooLarge",
                format!(
                    "the result passes {} MB (--max-result-mb); narrow the query: fewer columns (| select …), a timespan or `| top N`",
                    self.max_bytes >> 20
                ),
            ));
        }
        let keys: Vec<String> = (0..wire.num_columns()).map(|i| format!("c{i}")).collect();
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let mut object: Map<String, Value> = serde_json::from_slice(line)
                .map_err(|e| ApiError::new(500, "InternalServerError", e.to_string()))?;
            let row: Vec<Value> = keys
                .iter()
                .map(|k| object.remove(k).unwrap_or(Value::Null))
                .collect();
            self.rows.push(Value::Array(row));
        }
        Ok(())
    }

    pub fn finish(self) -> Value {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|(name, ty)| json!({"name": name, "type": ty}))
            .collect();
        json!({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": self.rows}]})
    }
}

/// Whether `query` is SQL (else a legacy search): it starts with SELECT, WITH, EXPLAIN or `(`.
pub fn is_sql(query: &str) -> bool {
    let t = query.trim_start();
    t.starts_with('(')
        || ["select", "with", "explain"].iter().any(|k| {
            t.get(..k.len()).is_some_and(|p| p.eq_ignore_ascii_case(k))
                && t[k.len()..].starts_with(|c: char| c.is_whitespace() || c == '(' || c == '*')
        })
}

/// Constant-time equality, so that a wrong token's timing tells nothing about the right one.
pub fn same_token(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;

    #[test]
    fn sql_or_search() {
        for sql in [
            "SELECT 1",
            "  select * from t",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "(SELECT 1)",
            "EXPLAIN SELECT 1",
        ] {
            assert!(is_sql(sql), "{sql}");
        }
        for search in [
            "Type=Update",
            "selected",
            "Type=Event | select Computer",
            "withdrawn",
        ] {
            assert!(!is_sql(search), "{search}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"secret", b"secret"));
        assert!(!same_token(b"secret", b"secreT"));
        assert!(!same_token(b"secret", b"secret2"));
        assert!(!same_token(b"", b"x"));
    }

    #[test]
    fn tables_use_log_analytics_types_and_utc_times() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("Computer", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1_500_000), None])),
            ],
        )
        .unwrap();
        let mut b = TableBuilder::new(&schema, 10, 1 << 20);
        b.push(&batch).unwrap();
        let v = b.finish();
        assert_eq!(
            v["tables"][0]["columns"][2],
            json!({"name": "t", "type": "datetime"})
        );
        assert_eq!(
            v["tables"][0]["rows"][0],
            json!(["a", 1, "1970-01-01T00:00:01.500Z"])
        );
        assert_eq!(v["tables"][0]["rows"][1], json!([null, 2, null]));
        let mut small = TableBuilder::new(&schema, 1, 1 << 20);
        assert_eq!(small.push(&batch).unwrap_err().code, "QueryResultTooLarge");
    }
}
