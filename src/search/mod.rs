//! The legacy OMS search language: `lexer` → `parser` (AST with positions) → `translate`
//! (SQL AST, rendered to text). Pure: it reads the schemas, never the store.

pub mod ast;
pub mod datemath;
pub mod dialect;
pub mod extend_fns;
pub mod lexer;
pub mod parser;
pub mod sql;
pub mod translate;

use std::fmt;

pub use translate::{closest, Options};

/// A search that cannot be translated: the message, and where in the search text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SearchError {
    pub search: String,
    /// Byte offset into `search`.
    pub position: usize,
    pub message: String,
}

impl SearchError {
    pub fn new(search: &str, position: usize, message: impl Into<String>) -> SearchError {
        SearchError {
            search: search.to_string(),
            position: position.min(search.len()),
            message: message.into(),
        }
    }

    /// 1-based character column.
    pub fn column(&self) -> usize {
        self.search[..self.position].chars().count() + 1
    }
}

impl fmt::Display for SearchError {
    /// `message at column N`, then the search and a caret under the position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} at column {}", self.message, self.column())?;
        writeln!(f, "  {}", self.search)?;
        write!(f, "  {}^", " ".repeat(self.column() - 1))
    }
}

/// A translated search.
#[derive(Debug, Clone)]
pub struct Translation {
    pub sql: String,
    /// Repairs and lenient matches the user should know about.
    pub warnings: Vec<String>,
}

/// Translate a legacy search to DataFusion SQL. `strict` refuses to repair malformed searches.
pub fn translate(
    search: &str,
    options: &Options,
    strict: bool,
) -> Result<Translation, SearchError> {
    let text = lexer::normalise(search);
    let (ast, repairs) = parser::Parser::new(&text, strict).parse()?;
    let mut t = translate::Translator::new(&text, options);
    let query = t.search(&ast)?;
    let mut warnings: Vec<String> = repairs
        .iter()
        .map(|r| {
            format!(
                "repaired the search: {} (column {})",
                r.message,
                text[..r.pos].chars().count() + 1
            )
        })
        .collect();
    warnings.extend(t.warnings);
    let sql = dialect::render(&query.to_string(), options.dialect)
        .map_err(|e| SearchError::new(search, 0, format!("rendering the SQL: {e}")))?;
    Ok(Translation { sql, warnings })
}
