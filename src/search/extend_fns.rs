//! The Extend functions whose SQL is more than a call: `ms` (epoch milliseconds) and `scale`
//! (min-max scaling over the result), and calendar buckets of several months or years for
//! `measure … interval`. Reference §6.5 and §6.9.

use sqlparser::ast::Expr as SqlExpr;

use super::sql::expr_template;

/// Milliseconds since the epoch of a stored datetime (microseconds), as a long.
pub fn epoch_ms(datetime: &SqlExpr) -> SqlExpr {
    expr_template("CAST($0 AS BIGINT) / 1000", &[datetime])
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
pub fn month_bucket(datetime: &SqlExpr, months: u64) -> SqlExpr {
    let months = super::sql::int(i64::try_from(months).unwrap_or(i64::MAX));
    let index = expr_template(
        "((CAST(date_part('year', $0) AS BIGINT) * 12 + CAST(date_part('month', $0) AS BIGINT) - 1) / $1) * $1",
        &[datetime, &months],
    );
    expr_template(
        "arrow_cast(make_date($0 / 12, $0 % 12 + 1, 1), 'Timestamp(Microsecond, Some(\"UTC\"))')",
        &[&index],
    )
}
