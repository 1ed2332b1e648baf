//! Recursive-descent parser for the legacy search language (reference §1–§6).
//!
//! Precedence (spec §4): NOT binds tightest, then OR, then AND (explicit or implicit):
//! `A OR B C` is `(A OR B) AND C`, the reverse of SQL.

use super::ast::*;
use super::datemath::Unit;
use super::lexer::{Cursor, Op};
use super::SearchError;

/// A repair applied to a malformed search (announced as a warning, refused with `--strict`).
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    pub pos: usize,
    pub message: String,
}

const MAX_DEPTH: usize = 64;

pub struct Parser<'a> {
    cur: Cursor<'a>,
    strict: bool,
    pub repairs: Vec<Repair>,
    depth: usize,
}

/// Where a filter ends: the whole search, a parenthesis or a subsearch.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    Top,
    Paren,
    Braces,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str, strict: bool) -> Parser<'a> {
        Parser {
            cur: Cursor::new(text),
            strict,
            repairs: Vec::new(),
            depth: 0,
        }
    }

    pub fn parse(mut self) -> Result<(Search, Vec<Repair>), SearchError> {
        let search = self.search(Context::Top)?;
        if !self.cur.at_end() {
            let at = self.cur.pos();
            return Err(self
                .cur
                .error(at, format!("unexpected {}", self.cur.describe_next())));
        }
        Ok((search, self.repairs))
    }

    fn repair(&mut self, pos: usize, message: String) -> Result<(), SearchError> {
        if self.strict {
            return Err(self
                .cur
                .error(pos, format!("{message} (--strict refuses to repair it)")));
        }
        self.repairs.push(Repair { pos, message });
        Ok(())
    }

    /// One level deeper into the search; bounded so hostile input cannot exhaust the stack.
    fn enter(&mut self) -> Result<(), SearchError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let at = self.cur.pos();
            return Err(self.cur.error(
                at,
                format!("the search is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn search(&mut self, ctx: Context) -> Result<Search, SearchError> {
        self.enter()?;
        let filter = self.filter(ctx, true)?;
        let mut commands = Vec::new();
        while self.cur.eat("|") {
            commands.push(self.command(ctx)?);
        }
        self.depth -= 1;
        Ok(Search { filter, commands })
    }

    /// True at the end of the current filter.
    fn at_stop(&mut self, ctx: Context) -> bool {
        match self.cur.peek() {
            None | Some('|') => true,
            Some(')') => ctx == Context::Paren,
            Some('}') => ctx == Context::Braces,
            _ => false,
        }
    }

    fn filter(&mut self, ctx: Context, free_text: bool) -> Result<Filter, SearchError> {
        let mut parts = Vec::new();
        loop {
            if self.at_stop(ctx) {
                break;
            }
            if !parts.is_empty() {
                self.cur.skip_ws();
                let at = self.cur.pos();
                if self.cur.eat_keyword("AND") || self.cur.eat("&&") {
                    if self.at_stop(ctx) {
                        return Err(self
                            .cur
                            .error(at, "dangling AND: expected a search term after it"));
                    }
                } else if self.cur.rest().starts_with('&') {
                    // The documented Ubuntu search ends its filter with a stray '&' (reference
                    // Q2): the one dangling operator that is repaired rather than refused.
                    self.cur.eat("&");
                    if self.at_stop(ctx) {
                        self.repair(at, "dropped a dangling '&' at the end of the filter".into())?;
                        break;
                    }
                    return Err(self.cur.error(at, "unexpected '&' (write AND or &&)"));
                }
            }
            parts.push(self.or_expr(ctx, free_text)?);
        }
        Ok(match parts.len() {
            0 => Filter::All,
            1 => parts.pop().expect("one part"),
            _ => Filter::And(parts),
        })
    }

    fn or_expr(&mut self, ctx: Context, free_text: bool) -> Result<Filter, SearchError> {
        let mut parts = vec![self.not_expr(ctx, free_text)?];
        loop {
            self.cur.skip_ws();
            let at = self.cur.pos();
            if !(self.cur.eat_keyword("OR") || self.cur.eat("||")) {
                break;
            }
            if self.at_stop(ctx) {
                return Err(self
                    .cur
                    .error(at, "dangling OR: expected a search term after it"));
            }
            parts.push(self.not_expr(ctx, free_text)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Filter::Or(parts)
        })
    }

    fn not_expr(&mut self, ctx: Context, free_text: bool) -> Result<Filter, SearchError> {
        self.cur.skip_ws();
        let bang = self.cur.rest().starts_with('!') && !self.cur.rest().starts_with("!=");
        if self.cur.eat_keyword("NOT") || (bang && self.cur.eat("!")) {
            if self.at_stop(ctx) {
                let at = self.cur.pos();
                return Err(self.cur.error(at, "expected a search term after NOT"));
            }
            self.enter()?;
            let inner = self.not_expr(ctx, free_text)?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.primary(ctx, free_text)
    }

    fn primary(&mut self, ctx: Context, free_text: bool) -> Result<Filter, SearchError> {
        self.cur.skip_ws();
        let at = self.cur.pos();
        if self.cur.eat("(") {
            self.enter()?;
            let inner = self.filter(Context::Paren, free_text)?;
            self.depth -= 1;
            if !self.cur.eat(")") {
                if self.at_stop(ctx) && ctx == Context::Top {
                    self.repair(
                        at,
                        "closed the parenthesis opened here, which the search leaves open".into(),
                    )?;
                } else {
                    let here = self.cur.pos();
                    return Err(self.cur.error(
                        here,
                        format!(
                            "expected ')' to close the '(' at column {}, found {}",
                            at + 1,
                            self.cur.describe_next()
                        ),
                    ));
                }
            }
            return Ok(inner);
        }
        match self.cur.peek() {
            Some('"') | Some('\'') => {
                let (text, pos) = self.cur.quoted()?;
                return self.free_text(
                    Value {
                        text,
                        quoted: true,
                        pos,
                    },
                    free_text,
                );
            }
            Some('*')
                if self.cur.rest()[1..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == '|' || c == ')' || c == '}') =>
            {
                self.cur.eat("*");
                return Ok(Filter::All);
            }
            Some(c) if ")}]=,&!<>:".contains(c) => {
                let what = match c {
                    ')' => "unbalanced ')'".to_string(),
                    '}' => "unexpected '}'".to_string(),
                    _ => format!("unexpected '{c}'"),
                };
                return Err(self.cur.error(
                    at,
                    format!("{what}: expected a search term (field=value, a word or \"a phrase\")"),
                ));
            }
            _ => {}
        }
        let Some((word, pos)) = self.cur.word() else {
            return Err(self.cur.error(
                at,
                format!("expected a search term, found {}", self.cur.describe_next()),
            ));
        };
        let name = Name {
            text: word.clone(),
            pos,
        };
        // field NOT IN {…} / field IN {…}
        let save = self.cur.pos();
        let negated = self.cur.eat_keyword("NOT");
        if self.cur.eat_keyword("IN") {
            check_field_name(&self.cur, &name)?;
            return self.in_clause(name, negated);
        }
        if negated {
            self.cur_reset(save);
        }
        if let Some((op, _)) = self.cur.op() {
            check_field_name(&self.cur, &name)?;
            return self.comparison(name, op);
        }
        self.free_text(
            Value {
                text: word,
                quoted: false,
                pos,
            },
            free_text,
        )
    }

    fn cur_reset(&mut self, pos: usize) {
        self.cur.reset(pos);
    }

    fn free_text(&self, value: Value, allowed: bool) -> Result<Filter, SearchError> {
        if !allowed {
            return Err(self.cur.error(
                value.pos,
                format!(
                    "expected field op value in 'where', found the word {:?}",
                    value.text
                ),
            ));
        }
        Ok(Filter::FreeText(value))
    }

    fn comparison(&mut self, field: Name, op: Op) -> Result<Filter, SearchError> {
        self.cur.skip_ws();
        if op == Op::Eq && self.cur.eat("[") {
            let low = self.value(true)?;
            self.cur
                .expect("..", "'..' between the bounds of a range")?;
            let high = self.value(true)?;
            self.cur.expect("]", "']' to close the range")?;
            return Ok(Filter::Range { field, low, high });
        }
        let value = self.value(false)?;
        if !value.quoted && op == Op::Eq && self.cur.rest().starts_with('(') {
            let func = value.text.to_ascii_lowercase();
            if func == "contains" || func == "regex" {
                self.cur.eat("(");
                let (text, pos) = self.cur.quoted()?;
                self.cur
                    .expect(")", &format!("')' to close {}(", value.text))?;
                let arg = Value {
                    text,
                    quoted: true,
                    pos,
                };
                return Ok(if func == "contains" {
                    Filter::Contains { field, text: arg }
                } else {
                    Filter::Regex {
                        field,
                        pattern: arg,
                    }
                });
            }
            return Err(self.cur.error(
                value.pos,
                format!(
                    "unknown value function {:?} (expected contains(\"…\") or RegEx(\"…\"))",
                    value.text
                ),
            ));
        }
        Ok(Filter::Compare { field, op, value })
    }

    /// A value after an operator or inside a list.
    fn value(&mut self, in_range: bool) -> Result<Value, SearchError> {
        match self.cur.peek() {
            Some('"') | Some('\'') => {
                let (text, pos) = self.cur.quoted()?;
                Ok(Value {
                    text,
                    quoted: true,
                    pos,
                })
            }
            _ => match self.cur.unquoted_value(in_range) {
                Some((text, pos)) => Ok(Value {
                    text,
                    quoted: false,
                    pos,
                }),
                None => {
                    let at = self.cur.pos();
                    Err(self.cur.error(
                        at,
                        format!("expected a value, found {}", self.cur.describe_next()),
                    ))
                }
            },
        }
    }

    fn in_clause(&mut self, field: Name, negated: bool) -> Result<Filter, SearchError> {
        self.cur.skip_ws();
        let open = self.cur.pos();
        if self.cur.rest().starts_with('$') {
            return Err(self.cur.error(open, "computer groups ($ComputerGroups[…]) are not supported: omslake has no saved-search registry"));
        }
        self.cur.expect("{", "'{' after IN")?;
        if self.cur.peek() == Some('}') {
            return Err(self
                .cur
                .error(open, "empty {} after IN: give a list of values or a search"));
        }
        // A list is values separated by commas; anything else is a subsearch.
        let save = self.cur.pos();
        if let Ok(first) = self.value(false) {
            if matches!(self.cur.peek(), Some(',') | Some('}')) {
                let mut values = vec![first];
                while self.cur.eat(",") {
                    values.push(self.value(false)?);
                }
                self.cur.expect("}", "'}' to close the IN list")?;
                return Ok(Filter::InList {
                    field,
                    values,
                    negated,
                });
            }
        }
        self.cur_reset(save);
        let search = self.search(Context::Braces)?;
        if !self.cur.eat("}") {
            let at = self.cur.pos();
            return Err(self.cur.error(
                at,
                format!(
                    "expected '}}' to close the subsearch opened at column {}, found {}",
                    open + 1,
                    self.cur.describe_next()
                ),
            ));
        }
        Ok(Filter::InSearch {
            field,
            search: Box::new(search),
            negated,
            pos: open,
        })
    }

    fn command(&mut self, ctx: Context) -> Result<Command, SearchError> {
        self.cur.skip_ws();
        let pos = self.cur.pos();
        let (name, _) = self.cur.ident("a command after '|'")?;
        let cmd = match name.to_ascii_lowercase().as_str() {
            "measure" => self.measure(pos)?,
            "select" => Command::Select { fields: self.field_list("a field to select")?, pos },
            "distinct" => Command::Distinct { fields: self.field_list("a field after Distinct")?, pos },
            "dedup" => Command::Dedup { field: self.name("a field after Dedup")?, pos },
            "sort" => {
                let mut keys = Vec::new();
                loop {
                    let field = self.name("a field to sort by")?;
                    let descending = if self.cur.eat_keyword("desc") { Some(true) } else if self.cur.eat_keyword("asc") { Some(false) } else { None };
                    keys.push(SortKey { field, descending });
                    if !self.cur.eat(",") {
                        break;
                    }
                }
                Command::Sort { keys, pos }
            }
            "top" | "limit" => Command::Top { count: self.cur.integer("a row count")?.0, pos },
            "skip" => Command::Skip { count: self.cur.integer("a row count")?.0, pos },
            "where" => {
                let filter = self.filter(ctx, false)?;
                if filter == Filter::All {
                    return Err(self.cur.error(pos, "'where' needs a condition"));
                }
                Command::Where { filter, pos }
            }
            "extend" => {
                let expr = self.expr()?;
                if !self.cur.eat_keyword("as") {
                    let at = self.cur.pos();
                    return Err(self.cur.error(at, format!("expected AS and a name after the Extend expression, found {}", self.cur.describe_next())));
                }
                Command::Extend { expr, alias: self.name("a name after AS")?, pos }
            }
            "join" => {
                let (kind_text, kind_pos) = self.cur.ident("inner, outer or left after join")?;
                let kind = match kind_text.to_ascii_lowercase().as_str() {
                    "inner" => JoinKind::Inner,
                    "outer" => JoinKind::Outer,
                    "left" => JoinKind::Left,
                    _ => return Err(self.cur.error(kind_pos, format!("expected inner, outer or left after join, found '{kind_text}'"))),
                };
                let left = self.name("the field of the left side to join on")?;
                let open = self.cur.expect("(", "'(' before the search to join with")?;
                let search = self.search(Context::Paren)?;
                if !self.cur.eat(")") {
                    let at = self.cur.pos();
                    return Err(self.cur.error(at, format!("expected ')' to close the join search opened at column {}, found {}", open + 1, self.cur.describe_next())));
                }
                let right = self.name("the field of the joined search to join on")?;
                Command::Join { kind, left, search: Box::new(search), right, pos }
            }
            "project" | "summarize" | "take" | "render" | "union" | "search" | "let" | "extend=" => {
                return Err(self.cur.error(pos, format!("'{name}' is a KQL operator, not a legacy search command (legacy: measure, select, sort, top, …)")))
            }
            _ => {
                return Err(self.cur.error(pos, format!(
                    "unknown command '{name}' (expected measure, select, Distinct, Dedup, sort, top, limit, skip, where or Extend)"
                )))
            }
        };
        Ok(cmd)
    }

    fn name(&mut self, what: &str) -> Result<Name, SearchError> {
        let (text, pos) = self.cur.ident(what)?;
        Ok(Name { text, pos })
    }

    fn field_list(&mut self, what: &str) -> Result<Vec<Name>, SearchError> {
        let mut out = vec![self.name(what)?];
        while self.cur.eat(",") {
            out.push(self.name(what)?);
        }
        Ok(out)
    }

    fn measure(&mut self, pos: usize) -> Result<Command, SearchError> {
        let mut aggregates = Vec::new();
        loop {
            aggregates.push(self.aggregate()?);
            if !self.cur.eat(",") {
                break;
            }
        }
        let mut by = Vec::new();
        if self.cur.eat_keyword("by") {
            self.cur.skip_ws();
            let at = self.cur.pos();
            if self.at_stop(Context::Top)
                || self.cur.at_keyword("interval")
                || self.cur.peek() == Some('}')
            {
                return Err(self.cur.error(at, "'by' needs at least one field"));
            }
            by = self.field_list("a field after 'by'")?;
        }
        let mut interval = None;
        self.cur.skip_ws();
        let ipos = self.cur.pos();
        if self.cur.eat_keyword("interval") {
            let (count, _) = self.cur.integer("an interval length, e.g. 1HOUR")?;
            let (unit_text, upos) = self.cur.ident("an interval unit, e.g. HOUR")?;
            let unit = Unit::parse(&unit_text).ok_or_else(|| {
                self.cur.error(upos, format!("unknown interval unit {unit_text:?} (use MILLISECOND, SECOND, MINUTE, HOUR, DAY, MONTH or YEAR)"))
            })?;
            if count == 0 {
                return Err(self.cur.error(ipos, "an interval must be longer than 0"));
            }
            interval = Some(Interval {
                count,
                unit,
                pos: ipos,
            });
        }
        Ok(Command::Measure {
            aggregates,
            by,
            interval,
            pos,
        })
    }

    fn aggregate(&mut self) -> Result<Aggregate, SearchError> {
        let (written, pos) = self.cur.ident("an aggregate function, e.g. count()")?;
        let lower = written.to_ascii_lowercase();
        let func = match lower.as_str() {
            "count" => AggFunc::Count,
            "countdistinct" => AggFunc::CountDistinct,
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "stddev" => AggFunc::StdDev,
            _ => {
                let digits = lower
                    .strip_prefix("percentile")
                    .or_else(|| lower.strip_prefix("pct"));
                match digits.and_then(|d| d.parse::<u8>().ok()).filter(|p| (1..=99).contains(p)) {
                    Some(p) => AggFunc::Percentile(p),
                    None => {
                        return Err(self.cur.error(pos, format!(
                            "unknown aggregate function '{written}' (expected count, countdistinct, sum, avg, min, max, stddev, percentileNN or pctNN)"
                        )))
                    }
                }
            }
        };
        self.cur.expect("(", &format!("'(' after {written}"))?;
        let arg = if self.cur.peek() == Some(')') {
            None
        } else {
            Some(self.expr()?)
        };
        self.cur.expect(")", &format!("')' to close {written}("))?;
        if arg.is_none() && func != AggFunc::Count {
            return Err(self.cur.error(pos, format!("{written}() needs a field")));
        }
        let alias = if self.cur.eat_keyword("as") {
            Some(self.name("a name after AS")?)
        } else {
            None
        };
        Ok(Aggregate {
            func,
            written: lower,
            arg,
            alias,
            pos,
        })
    }

    /// `field`, `literal` or `function(expr, …)` (Extend and aggregate arguments).
    fn expr(&mut self) -> Result<Expr, SearchError> {
        self.enter()?;
        let out = match self.cur.peek() {
            Some('"') | Some('\'') => {
                let (text, pos) = self.cur.quoted()?;
                Expr::Literal(Value {
                    text,
                    quoted: true,
                    pos,
                })
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '.' => {
                let (text, pos) = self.cur.unquoted_value(false).ok_or_else(|| {
                    let at = self.cur.pos();
                    self.cur.error(at, "expected a number")
                })?;
                Expr::Literal(Value {
                    text,
                    quoted: false,
                    pos,
                })
            }
            // Date math such as `NOW-1DAY` (an argument of `ms`) is one value, not a name.
            _ if self
                .cur
                .rest()
                .get(..3)
                .is_some_and(|p| p.eq_ignore_ascii_case("NOW"))
                && !self.cur.rest()[3..]
                    .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '(') =>
            {
                let (text, pos) = self.cur.unquoted_value(false).expect("starts with NOW");
                Expr::Literal(Value {
                    text,
                    quoted: false,
                    pos,
                })
            }
            _ => {
                let name = self.name("a field, a number or a function")?;
                if self.cur.rest().starts_with('(') {
                    self.cur.eat("(");
                    let mut args = Vec::new();
                    if self.cur.peek() != Some(')') {
                        loop {
                            args.push(self.expr()?);
                            if !self.cur.eat(",") {
                                break;
                            }
                        }
                    }
                    self.cur
                        .expect(")", &format!("')' to close {}(", name.text))?;
                    Expr::Call { name, args }
                } else {
                    Expr::Field(name)
                }
            }
        };
        self.depth -= 1;
        Ok(out)
    }
}

fn check_field_name(cur: &Cursor<'_>, name: &Name) -> Result<(), SearchError> {
    let ok = name
        .text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(cur.error(name.pos, format!("{:?} is not a field name", name.text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Search {
        Parser::new(s, false)
            .parse()
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }

    fn names(f: &Filter) -> String {
        match f {
            Filter::All => "*".into(),
            Filter::And(v) => format!("and({})", v.iter().map(names).collect::<Vec<_>>().join(",")),
            Filter::Or(v) => format!("or({})", v.iter().map(names).collect::<Vec<_>>().join(",")),
            Filter::Not(x) => format!("not({})", names(x)),
            Filter::Compare { field, value, .. } => format!("{}{}", field.text, value.text),
            Filter::FreeText(v) => v.text.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn precedence_is_not_then_or_then_and() {
        assert_eq!(names(&parse("A OR B C").filter), "and(or(A,B),C)");
        assert_eq!(
            names(&parse("a=1 OR b=2 AND c=3").filter),
            "and(or(a1,b2),c3)"
        );
        assert_eq!(
            names(&parse("a=1 or b=2 && c=3 || d=4").filter),
            "and(or(a1,b2),or(c3,d4))"
        );
        assert_eq!(names(&parse("NOT a=1 OR b=2").filter), "or(not(a1),b2)");
        assert_eq!(
            names(&parse("!(a=1 b=2) c=3").filter),
            "and(not(and(a1,b2)),c3)"
        );
        assert_eq!(names(&parse("NOT(a=1)").filter), "not(a1)");
        assert_eq!(names(&parse("(a=1)(b=2)").filter), "and(a1,b2)");
    }

    #[test]
    fn values_operators_and_functions() {
        let s = parse(
            r#"Type:Update Computer = "A \"q\" \\b" x!=y EventID:[1..5] C=contains("z") R=RegEx("@a@") T>NOW-1DAY/DAY K=%*"#,
        );
        let Filter::And(parts) = s.filter else {
            panic!()
        };
        assert_eq!(parts.len(), 8);
        assert!(
            matches!(&parts[1], Filter::Compare { value, .. } if value.text == "A \"q\" \\b" && value.quoted)
        );
        assert!(matches!(&parts[2], Filter::Compare { op: Op::Ne, .. }));
        assert!(
            matches!(&parts[3], Filter::Range { low, high, .. } if low.text == "1" && high.text == "5")
        );
        assert!(matches!(&parts[4], Filter::Contains { .. }));
        assert!(matches!(&parts[5], Filter::Regex { .. }));
        assert!(
            matches!(&parts[6], Filter::Compare { op: Op::Gt, value, .. } if value.text == "NOW-1DAY/DAY")
        );
    }

    #[test]
    fn in_lists_subsearches_and_commands() {
        let s = parse("Type=Event Computer IN {Type=Update | Distinct Computer} EventID NOT IN {1,2} | measure count() as N, avg(EventID) by Computer, Source interval 1hour | sort N desc | top 10 | skip 5");
        let Filter::And(parts) = &s.filter else {
            panic!()
        };
        assert!(
            matches!(&parts[1], Filter::InSearch { negated: false, search, .. } if search.commands.len() == 1)
        );
        assert!(
            matches!(&parts[2], Filter::InList { negated: true, values, .. } if values.len() == 2)
        );
        assert_eq!(s.commands.len(), 4);
        assert!(
            matches!(&s.commands[0], Command::Measure { aggregates, by, interval: Some(_), .. } if aggregates.len() == 2 && by.len() == 2)
        );
    }

    #[test]
    fn documented_malformed_searches_are_repaired_or_refused() {
        let (_, repairs) = Parser::new(r#"Type=Update (Classification="Security Updates" OR Classification="Critical Updates""#, false).parse().unwrap();
        assert_eq!(repairs.len(), 1);
        let (_, repairs) = Parser::new(
            "Type=Update and OSName = Ubuntu &| measure count() by Computer",
            false,
        )
        .parse()
        .unwrap();
        assert!(repairs[0].message.contains("dangling '&'"));
        assert!(Parser::new(
            "Type=Update and OSName = Ubuntu &| measure count() by Computer",
            true
        )
        .parse()
        .is_err());
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            ("Type=Update Computer=\"abc", 21, "unterminated"),
            (
                "Type=Update | measure count() by",
                32,
                "'by' needs at least one field",
            ),
            (
                "Type=Update | measure count() by | top 1",
                33,
                "'by' needs at least one field",
            ),
            ("Type=Update Computer IN {}", 24, "empty {}"),
            ("Type=Update OR", 12, "dangling OR"),
            ("Type=Update | frobnicate", 14, "unknown command"),
            ("Type=Update | measure mean(x)", 22, "unknown aggregate"),
            ("Type=Update a=1)", 15, "unbalanced ')'"),
            ("Type=Update (a=1 | top 1", 12, "parenthesis"),
        ];
        for (text, pos, msg) in cases {
            let strict = text.contains("(a=1 |");
            let err = Parser::new(text, strict).parse().unwrap_err();
            assert!(err.message.contains(msg), "{text}: {}", err.message);
            assert_eq!(err.position, pos, "{text}: {}", err.message);
        }
    }
}
