//! Table schemas, loaded from `schemas/<Table>.json` (embedded at build time).
//!
//! This module knows the tables and nothing else: every other module asks it for column
//! lists, Arrow types, natural keys and input aliases.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;

/// The built-in tables, in the order commands list them.
pub const TABLE_NAMES: [&str; 5] = [
    "Update",
    "UpdateSummary",
    "UpdateRunProgress",
    "OfficeActivity",
    "Event",
];

const SCHEMA_FILES: [(&str, &str); 5] = [
    ("Update", include_str!("../schemas/Update.json")),
    (
        "UpdateSummary",
        include_str!("../schemas/UpdateSummary.json"),
    ),
    (
        "UpdateRunProgress",
        include_str!("../schemas/UpdateRunProgress.json"),
    ),
    (
        "OfficeActivity",
        include_str!("../schemas/OfficeActivity.json"),
    ),
    ("Event", include_str!("../schemas/Event.json")),
];

/// The column holding every input key a schema does not know.
pub const EXTRA_COLUMN: &str = "_extra";
pub const TIME_COLUMN: &str = "TimeGenerated";
pub const TYPE_COLUMN: &str = "Type";

/// Log Analytics type names, as the schema files spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Datetime,
    Bool,
    Int,
    Long,
    Real,
    Dynamic,
}

impl ColumnType {
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::String | ColumnType::Dynamic => DataType::Utf8,
            ColumnType::Datetime => {
                DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
            }
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Int => DataType::Int32,
            ColumnType::Long => DataType::Int64,
            ColumnType::Real => DataType::Float64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Datetime => "datetime",
            ColumnType::Bool => "bool",
            ColumnType::Int => "int",
            ColumnType::Long => "long",
            ColumnType::Real => "real",
            ColumnType::Dynamic => "dynamic",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    pub nullable: bool,
    pub description: String,
}

/// A natural key: each part is a list of alternatives, the first non-null one is used
/// (`SourceComputerId` or `Computer`). `All` means every column.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NaturalKey {
    Parts(Vec<Vec<String>>),
    All(String),
}

#[derive(Debug, Deserialize)]
struct SchemaFile {
    table: String,
    description: String,
    natural_key: NaturalKey,
    #[serde(default)]
    aliases: HashMap<String, String>,
    columns: Vec<Column>,
}

#[derive(Debug)]
pub struct TableSchema {
    pub name: String,
    pub description: String,
    pub columns: Vec<Column>,
    pub natural_key: NaturalKey,
    /// Input-only key names mapped to the column they fill (`PublishDate` → `PublishedDate`).
    pub aliases: HashMap<String, String>,
    arrow: SchemaRef,
    /// Column positions by name; ingest looks up every key a record's layout has not shown
    /// before, so this uses ahash rather than SipHash.
    index: HashMap<String, usize, ahash::RandomState>,
}

impl TableSchema {
    fn from_file(file: SchemaFile) -> TableSchema {
        let fields: Vec<Field> = file
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.ty.arrow_type(), c.nullable))
            .collect();
        let mut index = HashMap::with_capacity_and_hasher(
            file.columns.len(),
            ahash::RandomState::with_seeds(1, 2, 3, 4),
        );
        for (i, c) in file.columns.iter().enumerate() {
            index.insert(c.name.clone(), i);
        }
        TableSchema {
            name: file.table,
            description: file.description,
            natural_key: file.natural_key,
            aliases: file.aliases,
            arrow: Arc::new(Schema::new(fields)),
            columns: file.columns,
            index,
        }
    }

    pub fn arrow_schema(&self) -> SchemaRef {
        self.arrow.clone()
    }

    /// Position of a column by its exact (case-sensitive) name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Position of the column an input key fills: the column itself or an alias of it.
    pub fn input_index(&self, key: &str) -> Option<usize> {
        self.column_index(key).or_else(|| {
            self.aliases
                .get(key)
                .and_then(|target| self.column_index(target))
        })
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.column_index(name).map(|i| &self.columns[i])
    }

    pub fn time_index(&self) -> usize {
        self.column_index(TIME_COLUMN)
            .expect("every table has TimeGenerated")
    }

    pub fn extra_index(&self) -> usize {
        self.column_index(EXTRA_COLUMN)
            .expect("every table has _extra")
    }

    pub fn type_index(&self) -> usize {
        self.column_index(TYPE_COLUMN)
            .expect("every table has Type")
    }

    /// The column that alone is the natural key (OfficeActivity's `OfficeId`), if any: its
    /// values are all distinct.
    pub fn unique_key_index(&self) -> Option<usize> {
        match self.natural_key_indices().as_slice() {
            [part] if part.len() == 1 => Some(part[0]),
            _ => None,
        }
    }

    /// Natural-key alternatives as column positions.
    pub fn natural_key_indices(&self) -> Vec<Vec<usize>> {
        match &self.natural_key {
            NaturalKey::Parts(parts) => parts
                .iter()
                .map(|alts| {
                    alts.iter()
                        .map(|n| self.column_index(n).expect("natural key names a column"))
                        .collect()
                })
                .collect(),
            NaturalKey::All(_) => (0..self.columns.len()).map(|i| vec![i]).collect(),
        }
    }
}

/// All built-in tables.
#[derive(Debug)]
pub struct Catalog {
    tables: Vec<TableSchema>,
}

impl Catalog {
    /// The catalog built from the embedded schema files (parsed once per process).
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            let tables = SCHEMA_FILES
                .iter()
                .map(|(name, text)| {
                    let file: SchemaFile = serde_json::from_str(text)
                        .unwrap_or_else(|e| panic!("schemas/{name}.json is invalid: {e}"));
                    assert_eq!(&file.table, name, "schemas/{name}.json names another table");
                    TableSchema::from_file(file)
                })
                .collect();
            Catalog { tables }
        })
    }

    pub fn tables(&self) -> &[TableSchema] {
        &self.tables
    }

    pub fn get(&self, name: &str) -> Option<&TableSchema> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Table by name ignoring case (`Type=update` works as in the legacy language).
    pub fn get_ignore_case(&self, name: &str) -> Option<&TableSchema> {
        self.get(name).or_else(|| {
            self.tables
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(name))
        })
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_follows_the_type_rules() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.tables().len(), 5);
        for t in catalog.tables() {
            let schema = t.arrow_schema();
            // Standard columns every table must carry (spec §1).
            for name in [
                "TimeGenerated",
                "Type",
                "_extra",
                "TenantId",
                "SourceSystem",
            ] {
                assert!(t.column(name).is_some(), "{} lacks {name}", t.name);
            }
            let time = schema.field_with_name("TimeGenerated").unwrap();
            assert_eq!(
                time.data_type(),
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                "{}: timestamps are microseconds UTC, never nanoseconds",
                t.name
            );
            assert!(!time.is_nullable());
            assert_eq!(t.column("_extra").unwrap().ty, ColumnType::Dynamic);
            let mut seen = std::collections::HashSet::new();
            for c in &t.columns {
                assert!(
                    seen.insert(c.name.as_str()),
                    "{}: duplicate {}",
                    t.name,
                    c.name
                );
                assert!(
                    !c.description.is_empty(),
                    "{}.{} lacks a description",
                    t.name,
                    c.name
                );
                if c.ty == ColumnType::Datetime {
                    assert!(matches!(
                        c.ty.arrow_type(),
                        DataType::Timestamp(TimeUnit::Microsecond, Some(_))
                    ));
                }
            }
            let _ = t.natural_key_indices();
        }
    }

    #[test]
    fn casing_and_legacy_columns_are_kept() {
        let c = Catalog::builtin();
        assert!(c.get("Update").unwrap().column("UpdateID").is_some());
        assert!(c
            .get("UpdateRunProgress")
            .unwrap()
            .column("UpdateId")
            .is_some());
        assert!(c.get("Update").unwrap().column("OSVersion").is_some());
        assert!(c
            .get("UpdateSummary")
            .unwrap()
            .column("OsVersion")
            .is_some());
        assert!(c.get("UpdateSummary").unwrap().column("OSType").is_none());
        let update = c.get("Update").unwrap();
        assert_eq!(
            update.column("UpdateSeverity").unwrap().ty,
            ColumnType::String
        );
        assert_eq!(
            update.input_index("PublishDate"),
            update.column_index("PublishedDate")
        );
        let types: Vec<_> = c
            .get("Event")
            .unwrap()
            .columns
            .iter()
            .map(|c| c.ty)
            .collect();
        assert!(types.contains(&ColumnType::Int));
        assert_eq!(
            c.get("OfficeActivity")
                .unwrap()
                .column("CrossMailboxOperations")
                .unwrap()
                .ty,
            ColumnType::Bool
        );
    }
}
