//! The Log Analytics query API response (`{"tables":[{"columns":[…],"rows":[[…],…]}]}`):
//! rows are positional, their values named by their table's `columns`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::coerce::InValue;
use super::shape::{floor_char_boundary, Item, Location};

#[derive(Deserialize)]
struct QueryTable<'a> {
    #[serde(default)]
    columns: Vec<QueryColumn>,
    #[serde(borrow, default)]
    rows: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct QueryColumn {
    name: String,
}

/// Every row of the response's `tables`, in order, numbered from 0 across the tables.
pub fn rows<'a>(text: &'a str, tables: &'a RawValue, f: &mut impl FnMut(Item<'a>)) {
    let parsed: Result<Vec<QueryTable<'a>>, _> = serde_json::from_str(tables.get());
    let tables = match parsed {
        Ok(t) => t,
        Err(e) => {
            f(Item {
                location: Location::Record(0),
                raw: &text[..floor_char_boundary(text, 256)],
                fields: Err(format!("query API response: bad \"tables\": {e}")),
            });
            return;
        }
    };
    let mut index = 0u64;
    for table in &tables {
        for row in &table.rows {
            let fields = row_values(row.get(), table.columns.len()).map(|values| {
                (table.columns.iter().zip(values))
                    .map(|(c, v)| (Cow::Owned(c.name.clone()), InValue::Raw(v.get())))
                    .collect()
            });
            f(Item {
                location: Location::Record(index),
                raw: row.get(),
                fields,
            });
            index += 1;
        }
    }
}

/// The values of a query API row, checked against the number of its table's columns.
fn row_values(row: &str, columns: usize) -> Result<Vec<&RawValue>, String> {
    match serde_json::from_str::<Vec<&RawValue>>(row) {
        Err(e) => Err(format!("query API row is not an array: {e}")),
        Ok(values) if values.len() != columns => Err(format!(
            "query API row has {} values for {} columns",
            values.len(),
            columns
        )),
        Ok(values) => Ok(values),
    }
}

/// Row `record` of a query API response cut in pieces (see `array_pieces`), its values
/// named by its table's `columns`.
pub fn row<'a>(raw: &'a str, columns: &'a [String], record: u64) -> Item<'a> {
    row_keyed(raw, columns, record, |c| Cow::Borrowed(c.as_str()))
}

/// [`row`] with keys of its own, for columns that do not live as long as the text.
pub fn row_owning_keys<'a>(raw: &'a str, columns: &[String], record: u64) -> Item<'a> {
    row_keyed(raw, columns, record, |c| Cow::Owned(c.clone()))
}

fn row_keyed<'a, 'c>(
    raw: &'a str,
    columns: &'c [String],
    record: u64,
    key: impl Fn(&'c String) -> Cow<'a, str>,
) -> Item<'a> {
    let fields = row_values(raw, columns.len()).map(|values| {
        (columns.iter().zip(values))
            .map(|(c, v)| (key(c), InValue::Raw(v.get())))
            .collect()
    });
    Item {
        location: Location::Record(record),
        raw,
        fields,
    }
}

/// The names of a query API table's `columns`, as the whole-file reader takes them; `None`
/// when it would not take them.
pub fn column_names(json: &str) -> Option<Vec<String>> {
    let columns: Vec<QueryColumn> = serde_json::from_str(json).ok()?;
    Some(columns.into_iter().map(|c| c.name).collect())
}
