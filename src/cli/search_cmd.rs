//! `omslake search` and `omslake translate`: the legacy language through its SQL.

use std::path::Path;

use omslake::search::dialect::Dialect;
use omslake::search::{self, Options, Translation};

use super::{sql_cmd, CmdResult, Failure, LanguageArgs, OutputArgs, EXIT_USAGE};

/// `NOW` for date math: `$OMSLAKE_NOW` (RFC 3339) when set, else the clock.
pub fn now_micros() -> Result<i64, Failure> {
    match std::env::var("OMSLAKE_NOW") {
        Ok(text) => omslake::time::parse_datetime(&text).map_err(|_| {
            Failure::new(
                EXIT_USAGE,
                format!("OMSLAKE_NOW={text:?} is not an RFC 3339 time"),
            )
        }),
        Err(_) => Ok(chrono::Utc::now().timestamp_micros()),
    }
}

pub fn translated(text: &str, lang: &LanguageArgs) -> Result<Translation, Failure> {
    translated_for(text, lang, Dialect::Datafusion)
}

fn translated_for(
    text: &str,
    lang: &LanguageArgs,
    dialect: Dialect,
) -> Result<Translation, Failure> {
    let options = Options {
        now_micros: now_micros()?,
        case_sensitive: lang.case_sensitive,
        dialect,
    };
    let t = search::translate(text, &options, lang.strict)
        .map_err(|e| Failure::new(EXIT_USAGE, format!("search: {e}")))?;
    for w in &t.warnings {
        eprintln!("omslake: warning: {w}");
    }
    Ok(t)
}

pub fn translate(text: &str, lang: &LanguageArgs, dialect: Dialect) -> CmdResult {
    println!("{}", translated_for(text, lang, dialect)?.sql);
    Ok(0)
}

pub async fn search(
    store: &Path,
    text: &str,
    out: &OutputArgs,
    show_sql: bool,
    lang: &LanguageArgs,
) -> CmdResult {
    let t = translated(text, lang)?;
    if show_sql {
        eprintln!("{}", t.sql);
    }
    let engine = sql_cmd::open_engine(store, out)?;
    sql_cmd::execute(&engine, &t.sql, out).await?;
    Ok(0)
}
