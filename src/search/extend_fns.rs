//! The Extend functions whose SQL is more than a call: `ms` (epoch milliseconds) and `scale`
//! (min-max scaling over the result), and calendar buckets of several months or years for
//! `measure … interval`. Reference §6.5 and §6.9.

use sqlparser::ast::Expr as SqlExpr;

use super::dialect::Dialect;
use super::sql::expr_template;
use crate::schema::ColumnType;

/// Microseconds since the epoch of a datetime, as a long.
fn epoch_micros(dialect: Dialect, datetime: &SqlExpr) -> SqlExpr {
    match dialect {
        Dialect::Datafusion => expr_template("CAST($0 AS BIGINT)", &[datetime]),
        Dialect::Spark => expr_template("unix_micros($0)", &[datetime]),
        Dialect::Duckdb => expr_template("epoch_us($0)", &[datetime]),
    }
}

/// `a / b` of two longs, rounded towards zero, as a long (`/` is a float division in Spark
/// and DuckDB).
fn int_div(dialect: Dialect, a: &SqlExpr, b: &SqlExpr) -> SqlExpr {
    match dialect {
        Dialect::Datafusion => expr_template("$0 / $1", &[a, b]),
        Dialect::Spark => expr_template("div($0, $1)", &[a, b]),
        Dialect::Duckdb => expr_template("$0 // $1", &[a, b]),
    }
}

/// Milliseconds since the epoch of a stored datetime (microseconds), as a long.
pub fn epoch_ms(dialect: Dialect, datetime: &SqlExpr) -> SqlExpr {
    int_div(
        dialect,
        &epoch_micros(dialect, datetime),
        &super::sql::int(1000),
    )
}

/// The start of the `width_micros` bucket holding `datetime`, counted from the epoch (what
/// DataFusion's `date_bin` with origin 1970-01-01 gives), for the engines without it.
pub fn fixed_bucket(dialect: Dialect, datetime: &SqlExpr, width_micros: i64) -> SqlExpr {
    let micros = epoch_micros(dialect, datetime);
    let width = super::sql::int(width_micros);
    match dialect {
        Dialect::Spark => expr_template("timestamp_micros($0 - pmod($0, $1))", &[&micros, &width]),
        _ => expr_template(
            "make_timestamptz($0 - ((($0 % $1) + $1) % $1))",
            &[&micros, &width],
        ),
    }
}

/// A null of a column type, for a table that lacks the column in a union.
pub fn typed_null(ty: ColumnType) -> SqlExpr {
    let name = match ty {
        ColumnType::String | ColumnType::Dynamic => "STRING",
        ColumnType::Datetime => "TIMESTAMP",
        ColumnType::Bool => "BOOLEAN",
        ColumnType::Int => "INT",
        ColumnType::Long => "BIGINT",
        ColumnType::Real => "DOUBLE",
    };
    expr_template(&format!("CAST(NULL AS {name})"), &[])
}

/// `ms(a, b)`: `ms(a) - ms(b)`, as Solr computes it from millisecond dates.
pub fn difference(a_ms: &SqlExpr, b_ms: &SqlExpr) -> SqlExpr {
    expr_template("$0 - $1", &[a_ms, b_ms])
}

/// `scale(x, lo, hi)`: x mapped linearly so that the smallest value of the result becomes `lo`
/// and the largest `hi` (Solr's ScaleFloatFunction); every value is `lo` when all are equal,
/// and a null stays null.
pub fn scale(x: &SqlExpr, lo: &SqlExpr, hi: &SqlExpr) -> SqlExpr {
    expr_template(
        "CASE WHEN $0 IS NULL THEN NULL \
         WHEN max(CAST($0 AS DOUBLE)) OVER () = min(CAST($0 AS DOUBLE)) OVER () THEN CAST($1 AS DOUBLE) \
         ELSE CAST($1 AS DOUBLE) + (CAST($0 AS DOUBLE) - min(CAST($0 AS DOUBLE)) OVER ()) \
         * (CAST($2 AS DOUBLE) - CAST($1 AS DOUBLE)) \
         / (max(CAST($0 AS DOUBLE)) OVER () - min(CAST($0 AS DOUBLE)) OVER ()) END",
        &[x, lo, hi],
    )
}

/// The start of the calendar bucket of `months` months holding `datetime`: months are counted
/// from January of year 0, so 3 months are quarters (Jan, Apr, Jul, Oct), 12 are years and
/// 120 decades. The result keeps the stored type (microseconds, UTC).
pub fn month_bucket(dialect: Dialect, datetime: &SqlExpr, months: u64) -> SqlExpr {
    let months = super::sql::int(i64::try_from(months).unwrap_or(i64::MAX));
    let month = expr_template(
        "CAST(date_part('year', $0) AS BIGINT) * 12 + CAST(date_part('month', $0) AS BIGINT) - 1",
        &[datetime],
    );
    let index = expr_template("$0 * $1", &[&int_div(dialect, &month, &months), &months]);
    let year = int_div(dialect, &index, &super::sql::int(12));
    let start = expr_template("make_date($0, $1 % 12 + 1, 1)", &[&year, &index]);
    match dialect {
        Dialect::Datafusion => expr_template(
            "arrow_cast($0, 'Timestamp(Microsecond, Some(\"UTC\"))')",
            &[&start],
        ),
        Dialect::Spark => expr_template("CAST($0 AS TIMESTAMP)", &[&start]),
        Dialect::Duckdb => expr_template("CAST($0 AS TIMESTAMPTZ)", &[&start]),
    }
}
