//! The engines a search's SQL is written for: DataFusion (omslake's own), Apache Spark and
//! DuckDB. The translator builds one SQL tree, asking the dialect where the engines differ in
//! what a construct means (time buckets, epoch arithmetic, integer division, unions of
//! tables with different columns); [`render`] then writes the tree's text in the engine's
//! lexical form (identifier quotes, string escapes, function names).

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Word};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// Apache DataFusion, as `omslake sql` runs it.
    #[default]
    Datafusion,
    /// Apache Spark SQL (Databricks, Synapse, Fabric), session time zone UTC.
    Spark,
    /// DuckDB, session time zone UTC.
    Duckdb,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Datafusion => "DataFusion",
            Dialect::Spark => "Spark",
            Dialect::Duckdb => "DuckDB",
        }
    }
}

/// Function names that differ, with the same arguments and meaning.
fn rename(dialect: Dialect, function: &str) -> Option<&'static str> {
    match (dialect, function.to_ascii_lowercase().as_str()) {
        (Dialect::Spark, "strpos") => Some("instr"),
        (Dialect::Duckdb, "regexp_like") => Some("regexp_matches"),
        _ => None,
    }
}

/// DataFusion SQL text (as the translator renders it) in `dialect`'s lexical form:
/// - Spark quotes identifiers with backticks, and reads a backslash in a string literal as an
///   escape, so literal backslashes are doubled; its `VARCHAR` needs a length, `STRING` not;
/// - DuckDB's `TIMESTAMP` has no time zone: instants are `TIMESTAMPTZ`.
pub fn render(sql: &str, dialect: Dialect) -> Result<String, String> {
    if dialect == Dialect::Datafusion {
        return Ok(sql.to_string());
    }
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(sql.len() + 16);
    for (i, token) in tokens.iter().enumerate() {
        let next_is_paren = tokens[i + 1..]
            .iter()
            .find(|t| !matches!(t, Token::Whitespace(_)))
            .is_some_and(|t| *t == Token::LParen);
        match token {
            Token::Word(Word {
                value,
                quote_style: Some('"'),
                ..
            }) => match dialect {
                Dialect::Spark => {
                    out.push('`');
                    out.push_str(&value.replace('`', "``"));
                    out.push('`');
                }
                _ => out.push_str(&token.to_string()),
            },
            Token::Word(Word {
                value,
                quote_style: None,
                ..
            }) => {
                let upper = value.to_ascii_uppercase();
                match (dialect, upper.as_str()) {
                    (_, _) if next_is_paren && rename(dialect, value).is_some() => {
                        out.push_str(rename(dialect, value).expect("checked"))
                    }
                    (Dialect::Spark, "VARCHAR") if !next_is_paren => out.push_str("STRING"),
                    (Dialect::Duckdb, "TIMESTAMP") if !next_is_paren => out.push_str("TIMESTAMPTZ"),
                    _ => out.push_str(value),
                }
            }
            Token::SingleQuotedString(s) if dialect == Dialect::Spark => {
                out.push('\'');
                out.push_str(&s.replace('\\', "\\\\").replace('\'', "\\'"));
                out.push('\'');
            }
            // The tokenizer gives a literal's value; write it back with its quotes doubled.
            Token::SingleQuotedString(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_quotes_and_escapes() {
        let sql = r#"SELECT "Computer" AS "a`b", strpos("x", 'it''s \_') FROM "Update" WHERE CAST(1 AS VARCHAR) <> 'x'"#;
        assert_eq!(
            render(sql, Dialect::Spark).unwrap(),
            r#"SELECT `Computer` AS `a``b`, instr(`x`, 'it\'s \\_') FROM `Update` WHERE CAST(1 AS STRING) <> 'x'"#
        );
        assert_eq!(
            render("SELECT regexp_like(\"x\", 'a') FROM t WHERE t > CAST('2024-01-01T00:00:00Z' AS TIMESTAMP)", Dialect::Duckdb).unwrap(),
            "SELECT regexp_matches(\"x\", 'a') FROM t WHERE t > CAST('2024-01-01T00:00:00Z' AS TIMESTAMPTZ)"
        );
        assert_eq!(
            render("SELECT 'O''Brien'", Dialect::Duckdb).unwrap(),
            "SELECT 'O''Brien'"
        );
        assert_eq!(
            render("SELECT 'O''Brien'", Dialect::Spark).unwrap(),
            "SELECT 'O\\'Brien'"
        );
    }
}
