//! The parsed form of a legacy search, with byte positions for error messages.

use super::lexer::Op;

#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub filter: Filter,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub text: String,
    pub pos: usize,
}

/// A value as written: interpretation (number, bool, date, wildcard) depends on the column.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub quoted: bool,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `*` or an empty filter.
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        field: Name,
        op: Op,
        value: Value,
    },
    Range {
        field: Name,
        low: Value,
        high: Value,
    },
    Contains {
        field: Name,
        text: Value,
    },
    Regex {
        field: Name,
        pattern: Value,
    },
    InList {
        field: Name,
        values: Vec<Value>,
        negated: bool,
    },
    InSearch {
        field: Name,
        search: Box<Search>,
        negated: bool,
        pos: usize,
    },
    FreeText(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AggFunc {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    StdDev,
    Percentile(u8),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub func: AggFunc,
    /// The function name as written (`Count`, `pct95`), for output naming.
    pub written: String,
    pub arg: Option<Expr>,
    pub alias: Option<Name>,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub count: u64,
    pub unit: super::datemath::Unit,
    pub pos: usize,
}

/// Expressions of `where`, `Extend` and aggregate arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Field(Name),
    Literal(Value),
    Call { name: Name, args: Vec<Expr> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: Name,
    /// `None` when not written: ascending, except `TimeGenerated` descending.
    pub descending: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Measure {
        aggregates: Vec<Aggregate>,
        by: Vec<Name>,
        interval: Option<Interval>,
        pos: usize,
    },
    Select {
        fields: Vec<Name>,
        pos: usize,
    },
    Distinct {
        fields: Vec<Name>,
        pos: usize,
    },
    Dedup {
        field: Name,
        pos: usize,
    },
    Sort {
        keys: Vec<SortKey>,
        pos: usize,
    },
    Top {
        count: u64,
        pos: usize,
    },
    Skip {
        count: u64,
        pos: usize,
    },
    Where {
        filter: Filter,
        pos: usize,
    },
    Extend {
        expr: Expr,
        alias: Name,
        pos: usize,
    },
    /// `join inner|outer|left LeftField (right search) RightField`
    Join {
        kind: JoinKind,
        left: Name,
        search: Box<Search>,
        right: Name,
        pos: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    /// Full outer join.
    Outer,
    Left,
}
