//! Lexer for the legacy search language. The language is context-sensitive (a value after `=`
//! may hold `:` or `-`, a field name may not), so the parser drives a cursor and asks for the
//! kind of token it expects: a word, a value, a quoted string, a symbol.

use super::SearchError;

/// Typographic quotes pasted from documents become ASCII quotes before lexing.
pub fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => '"',
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{00A0}' => ' ',
            c => c,
        })
        .collect()
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        }
    }
}

/// Characters that end an unquoted word in the filter.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || "|(){}[],=\"!<>:&".contains(c)
}

/// Characters that end an unquoted value (after an operator): `:` and `-` are allowed inside.
fn ends_value(c: char) -> bool {
    c.is_whitespace() || "|(){},\"".contains(c)
}

pub struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Cursor<'a> {
        Cursor { text, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Go back to an earlier position (the parser backtracks over `{ value, … }` lists).
    pub fn reset(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    pub fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Next non-space character, without consuming it.
    pub fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    pub fn error(&self, at: usize, message: impl Into<String>) -> SearchError {
        SearchError::new(self.text, at, message)
    }

    /// Consume `s` if the input continues with it (after spaces).
    pub fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, s: &str, what: &str) -> Result<usize, SearchError> {
        self.skip_ws();
        let at = self.pos;
        if self.eat(s) {
            Ok(at)
        } else {
            Err(self.error(
                at,
                format!("expected {what}, found {}", self.describe_next()),
            ))
        }
    }

    /// Consume a keyword (whole word, any case).
    pub fn eat_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        if rest.len() >= kw.len()
            && rest.is_char_boundary(kw.len())
            && rest[..kw.len()].eq_ignore_ascii_case(kw)
            && rest[kw.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_')
        {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    /// Is the next token this keyword? (does not consume)
    pub fn at_keyword(&mut self, kw: &str) -> bool {
        let save = self.pos;
        let yes = self.eat_keyword(kw);
        self.pos = save;
        yes
    }

    /// An unquoted word of the filter (field name, keyword, free-text term).
    pub fn word(&mut self) -> Option<(String, usize)> {
        self.skip_ws();
        let start = self.pos;
        let len: usize = self
            .rest()
            .chars()
            .take_while(|&c| !ends_word(c))
            .map(char::len_utf8)
            .sum();
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some((self.text[start..self.pos].to_string(), start))
    }

    /// A field or alias name: `[A-Za-z_][A-Za-z0-9_]*`.
    pub fn ident(&mut self, what: &str) -> Result<(String, usize), SearchError> {
        self.skip_ws();
        let start = self.pos;
        let len: usize = self
            .rest()
            .chars()
            .enumerate()
            .take_while(|(i, c)| {
                c.is_ascii_alphabetic() || *c == '_' || (*i > 0 && c.is_ascii_digit())
            })
            .map(|(_, c)| c.len_utf8())
            .sum();
        if len == 0 {
            return Err(self.error(
                start,
                format!("expected {what}, found {}", self.describe_next()),
            ));
        }
        self.pos += len;
        Ok((self.text[start..self.pos].to_string(), start))
    }

    /// A comparison operator, if one comes next.
    pub fn op(&mut self) -> Option<(Op, usize)> {
        self.skip_ws();
        let at = self.pos;
        for (s, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            (":", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.rest().starts_with(s) {
                self.pos += s.len();
                return Some((op, at));
            }
        }
        None
    }

    /// A double-quoted string (`\"` and `\\` escapes) at the cursor.
    pub fn quoted(&mut self) -> Result<(String, usize), SearchError> {
        self.skip_ws();
        let start = self.pos;
        let quote = self
            .rest()
            .chars()
            .next()
            .filter(|&c| c == '"' || c == '\'');
        let Some(quote) = quote else {
            return Err(self.error(
                start,
                format!("expected a quoted string, found {}", self.describe_next()),
            ));
        };
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\' | '\''))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok((out, start));
                }
                c => out.push(c),
            }
        }
        Err(self.error(start, "unterminated quoted string (missing closing \")"))
    }

    /// An unquoted value after an operator: runs to a space, `|`, `)`, `}` or `,`.
    pub fn unquoted_value(&mut self, stop_at_range: bool) -> Option<(String, usize)> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let mut len = 0;
        for (i, c) in rest.char_indices() {
            if ends_value(c) || (stop_at_range && (c == ']' || rest[i..].starts_with(".."))) {
                break;
            }
            len = i + c.len_utf8();
        }
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some((self.text[start..self.pos].to_string(), start))
    }

    /// An unsigned integer (for `top`, `skip`).
    pub fn integer(&mut self, what: &str) -> Result<(u64, usize), SearchError> {
        self.skip_ws();
        let start = self.pos;
        let len = self.rest().chars().take_while(char::is_ascii_digit).count();
        let digits = &self.rest()[..len];
        match digits.parse::<u64>() {
            Ok(n) => {
                self.pos += len;
                Ok((n, start))
            }
            Err(_) => Err(self.error(
                start,
                format!(
                    "expected {what} (a whole number), found {}",
                    self.describe_next()
                ),
            )),
        }
    }

    /// How the next token looks, for error messages.
    pub fn describe_next(&self) -> String {
        let rest = self.rest().trim_start();
        match rest.chars().next() {
            None => "the end of the search".into(),
            Some(first) => {
                let word: String = rest
                    .chars()
                    .take(12)
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                format!(
                    "'{}'",
                    if word.is_empty() {
                        first.to_string()
                    } else {
                        word
                    }
                )
            }
        }
    }
}
