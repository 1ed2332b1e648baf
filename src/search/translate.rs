//! Legacy search AST → SQL AST (spec §4). Pure: needs the schemas and the options only.

use sqlparser::ast::{
    BinaryOperator as B, Expr as SqlExpr, GroupByExpr, JoinConstraint, JoinOperator, LimitClause,
    Offset, OffsetRows, OrderBy, OrderByExpr, OrderByKind, Query, SelectItem, SetExpr, TableFactor,
    WindowSpec, WindowType,
};

use super::ast::*;
use super::datemath;
use super::dialect::Dialect;
use super::extend_fns;
use super::lexer::Op;
use super::sql::{self, col};
use super::SearchError;
use crate::schema::{Catalog, ColumnType, TableSchema};

#[derive(Debug, Clone)]
pub struct Options {
    /// The instant `NOW` stands for, in microseconds (one per search).
    pub now_micros: i64,
    /// Compare strings exactly instead of ignoring case.
    pub case_sensitive: bool,
    /// The engine the SQL is for.
    pub dialect: Dialect,
}

type Columns = Vec<(String, ColumnType)>;

/// Joins a record's text columns for free-text search; removed from search terms.
const FREE_TEXT_SEPARATOR: char = '\u{1f}';

pub struct Translator<'a> {
    text: &'a str,
    opts: &'a Options,
    pub warnings: Vec<String>,
    /// Translating an aggregate's argument (where a window such as `scale` cannot go).
    in_aggregate: bool,
}

/// A column type as the schemas and the reference name it.
fn type_name(t: ColumnType) -> &'static str {
    match t {
        ColumnType::String => "a string",
        ColumnType::Datetime => "a datetime",
        ColumnType::Bool => "a bool",
        ColumnType::Int => "an int",
        ColumnType::Long => "a long",
        ColumnType::Real => "a real",
        ColumnType::Dynamic => "a dynamic",
    }
}

/// The query being built: one SELECT that commands fill in until one needs a new level.
struct Stage {
    from: From,
    /// `x IN (key query)` of the filter, read as a join instead (see [`Stage::finish`]).
    semi_join: Option<(SqlExpr, Query)>,
    selection: Vec<SqlExpr>,
    projection: Option<Vec<SelectItem>>,
    group_by: Vec<SqlExpr>,
    distinct: bool,
    order: Vec<OrderByExpr>,
    limit: Option<u64>,
    offset: Option<u64>,
    /// Columns this SELECT reads (its FROM).
    input: Columns,
    /// Columns it returns.
    output: Columns,
}

enum From {
    Table(String),
    Query(Box<Query>),
}

impl Stage {
    fn over(from: From, columns: Columns, order: Vec<OrderByExpr>) -> Stage {
        Stage {
            from,
            semi_join: None,
            selection: vec![],
            projection: None,
            group_by: vec![],
            distinct: false,
            order,
            limit: None,
            offset: None,
            input: columns.clone(),
            output: columns,
        }
    }

    /// Is this SELECT still plain (no projection, grouping, distinct or limit)?
    fn plain(&self) -> bool {
        self.projection.is_none()
            && self.group_by.is_empty()
            && !self.distinct
            && self.limit.is_none()
            && self.offset.is_none()
    }

    fn finish(mut self) -> Query {
        if let From::Table(table) = &self.from {
            if let Some((target, keys)) = self.semi_join.take() {
                let table = table.clone();
                return self.finish_semi_join(table, target, keys);
            }
        }
        let mut q = match &self.from {
            From::Table(_) => sql::template("SELECT * FROM t"),
            From::Query(_) => sql::template("SELECT * FROM (SELECT 1) AS t"),
        };
        {
            let s = sql::select_mut(&mut q);
            match (self.from, &mut s.from[0].relation) {
                (From::Table(name), TableFactor::Table { name: n, .. }) => {
                    *n = sqlparser::ast::ObjectName::from(vec![sql::ident(&name)])
                }
                (
                    From::Query(query),
                    TableFactor::Derived {
                        subquery, alias, ..
                    },
                ) => {
                    *subquery = query;
                    if let Some(a) = alias {
                        a.name = sql::ident("q");
                    }
                }
                _ => unreachable!("template shapes"),
            }
            if let Some(p) = self.projection {
                s.projection = p;
            }
            s.selection = sql::and(self.selection);
            if !self.group_by.is_empty() {
                s.group_by = GroupByExpr::Expressions(self.group_by, vec![]);
            }
            if self.distinct {
                s.distinct = Some(sqlparser::ast::Distinct::Distinct);
            }
        }
        if !self.order.is_empty() {
            q.order_by = Some(OrderBy {
                kind: OrderByKind::Expressions(self.order),
                interpolate: None,
            });
        }
        if self.limit.is_some() || self.offset.is_some() {
            q.limit_clause = Some(LimitClause::LimitOffset {
                limit: self.limit.map(|n| sql::int(n as i64)),
                offset: self.offset.map(|n| Offset {
                    value: sql::int(n as i64),
                    rows: OffsetRows::None,
                }),
                limit_by: vec![],
            });
        }
        q
    }

    /// `… FROM t WHERE x IN (SELECT k …) AND rest` as
    /// `SELECT "_t".* FROM (SELECT DISTINCT k AS "_key" …) AS "_in" JOIN t AS "_t" ON "_in"."_key" = x WHERE rest`.
    ///
    /// The same rows: the keys are distinct, so each row of `t` meets at most one, and a NULL
    /// `x` meets none, as it fails `IN`. DataFusion builds a join's hash table from its left
    /// input and has no row counts to swap the sides by (statistics are off, see
    /// `query::table`); as `IN` it builds from the large outer table and probes with the keys.
    /// Listing the keys first makes the small side the build side (q3 of issue 5 measured in
    /// bench/NOTES.md). `"_t".*` keeps the key column out of the result; the other column
    /// names are unambiguous, as `"_in"` has only `"_key"`.
    fn finish_semi_join(mut self, table: String, target: SqlExpr, mut keys: Query) -> Query {
        {
            let k = sql::select_mut(&mut keys);
            k.distinct = Some(sqlparser::ast::Distinct::Distinct);
            let key = match k.projection.pop() {
                Some(SelectItem::UnnamedExpr(e)) => e,
                other => unreachable!("IN key query projects one expression, not {other:?}"),
            };
            k.projection = vec![sql::aliased(key, "_key")];
        }
        self.from = From::Table("t".into());
        let mut q = self.finish();
        let mut shape = sql::template(
            r#"SELECT "_t".* FROM (SELECT 1) AS "_in" JOIN t AS "_t" ON "_in"."_key" = 1"#,
        );
        let s = sql::select_mut(&mut q);
        let t = sql::select_mut(&mut shape);
        let all = t.projection[0].clone();
        for item in &mut s.projection {
            if matches!(item, SelectItem::Wildcard(_)) {
                *item = all.clone();
            }
        }
        if let TableFactor::Derived { subquery, .. } = &mut t.from[0].relation {
            **subquery = keys;
        }
        let join = &mut t.from[0].joins[0];
        if let TableFactor::Table { name, .. } = &mut join.relation {
            *name = sqlparser::ast::ObjectName::from(vec![sql::ident(&table)]);
        }
        if let JoinOperator::Join(JoinConstraint::On(SqlExpr::BinaryOp { right, .. }))
        | JoinOperator::Inner(JoinConstraint::On(SqlExpr::BinaryOp { right, .. })) =
            &mut join.join_operator
        {
            **right = target;
        }
        s.from = std::mem::take(&mut t.from);
        q
    }

    /// Start a new SELECT over this one's result, keeping its order where the columns allow.
    fn wrap(mut self) -> Stage {
        let output = self.output.clone();
        let order: Vec<OrderByExpr> = self
            .order
            .iter()
            .filter(|o| matches!(&o.expr, SqlExpr::Identifier(i) if output.iter().any(|(n, _)| *n == i.value)))
            .cloned()
            .collect();
        let keep = if order.len() == self.order.len() {
            order
        } else {
            vec![]
        };
        // Order inside a subquery means nothing unless it chooses the rows a LIMIT keeps.
        if self.limit.is_none() && self.offset.is_none() {
            self.order.clear();
        }
        Stage::over(From::Query(Box::new(self.finish())), output, keep)
    }
}

/// Find a column: exact name, else a unique case-insensitive match (with a warning).
fn find<'c>(columns: &'c Columns, name: &str) -> Option<&'c (String, ColumnType)> {
    columns.iter().find(|(n, _)| n == name).or_else(|| {
        let mut it = columns.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        match (it.next(), it.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    })
}

/// Up to three of `names` closest to `want` (ignoring case), for "did you mean" hints.
pub fn closest<'c>(names: impl Iterator<Item = &'c str>, want: &str) -> Vec<&'c str> {
    let want = want.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = names
        .map(|n| (edit_distance(&n.to_ascii_lowercase(), &want), n))
        .collect();
    scored.sort();
    let best = scored.first().map_or(usize::MAX, |s| s.0);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= best.max(1) && *d <= 3 + want.len() / 3)
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn columns_of(t: &TableSchema) -> Columns {
    t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect()
}

/// Wildcard value (`*`) → LIKE pattern with `%`, `_` and `\` taken literally.
fn like_pattern(text: &str, surround: bool) -> String {
    let mut p = String::new();
    if surround {
        p.push('%');
    }
    for c in text.chars() {
        match c {
            '%' | '_' | '\\' => {
                p.push('\\');
                p.push(c);
            }
            '*' => p.push('%'),
            c => p.push(c),
        }
    }
    if surround {
        p.push('%');
    }
    p
}

fn comparison_op(op: Op) -> B {
    match op {
        Op::Eq => B::Eq,
        Op::Ne => B::NotEq,
        Op::Lt => B::Lt,
        Op::Gt => B::Gt,
        Op::Le => B::LtEq,
        Op::Ge => B::GtEq,
    }
}

impl<'a> Translator<'a> {
    pub fn new(text: &'a str, opts: &'a Options) -> Translator<'a> {
        Translator {
            text,
            opts,
            warnings: Vec::new(),
            in_aggregate: false,
        }
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> SearchError {
        SearchError::new(self.text, pos, msg)
    }

    fn unknown_field(&self, name: &Name, columns: &Columns, place: &str) -> SearchError {
        let near = closest(columns.iter().map(|(n, _)| n.as_str()), &name.text);
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", near.join(", "))
        };
        self.err(
            name.pos,
            format!("unknown field '{}' in {place}{hint}", name.text),
        )
    }

    fn resolve(
        &mut self,
        name: &Name,
        columns: &Columns,
        place: &str,
    ) -> Result<(String, ColumnType), SearchError> {
        match find(columns, &name.text) {
            Some((n, t)) => {
                if *n != name.text {
                    self.warnings.push(format!(
                        "field '{}' matched column '{n}' (names are case-sensitive)",
                        name.text
                    ));
                }
                Ok((n.clone(), *t))
            }
            None => Err(self.unknown_field(name, columns, place)),
        }
    }

    /// Translate a whole search to a SQL query.
    pub fn search(&mut self, s: &Search) -> Result<Query, SearchError> {
        let stage = self.stage(s)?;
        if self.opts.dialect != Dialect::Datafusion {
            // Columns of several tables that differ only in case (`OSVersion`, `OsVersion`):
            // these engines cannot return both under their names.
            let mut seen: Vec<&str> = Vec::new();
            for (n, _) in &stage.output {
                if let Some(other) = seen.iter().find(|o| o.eq_ignore_ascii_case(n)) {
                    return Err(self.err(
                        0,
                        format!(
                            "the result has columns {other} and {n}, which differ only in case; {} names columns ignoring case and cannot return both: select the columns you need (| select …) or add Type=<table>",
                            self.opts.dialect.name()
                        ),
                    ));
                }
                seen.push(n);
            }
        }
        Ok(stage.finish())
    }

    /// A search as a stage still open to more commands (a join's right side needs its columns).
    fn stage(&mut self, s: &Search) -> Result<Stage, SearchError> {
        let catalog = Catalog::builtin();
        let (tables, filter) = self.tables(s, catalog)?;
        let mut stage = if tables.len() == 1 {
            let t = tables[0];
            let columns = columns_of(t);
            let mut st = Stage::over(From::Table(t.name.clone()), columns.clone(), vec![]);
            if let Some(w) = self.filter(&filter, &columns, &t.name)? {
                let mut parts = Vec::new();
                conjuncts(w, &mut parts);
                let semi: Vec<usize> = (0..parts.len())
                    .filter(|&i| matches!(parts[i], SqlExpr::InSubquery { negated: false, .. }))
                    .collect();
                // One IN subsearch becomes a join; with more, each stays an IN.
                if let [i] = semi[..] {
                    if let SqlExpr::InSubquery { expr, subquery, .. } = parts.remove(i) {
                        st.semi_join = Some((*expr, *subquery));
                    }
                }
                st.selection.extend(sql::and(parts));
            }
            st
        } else {
            self.union(&tables, &filter)?
        };
        if stage.output.iter().any(|(n, _)| n == "TimeGenerated") {
            stage.order = vec![sql::order(col("TimeGenerated"), true)];
        }
        for c in &s.commands {
            stage = self.command(stage, c)?;
        }
        Ok(stage)
    }

    /// The tables a search reads, and its filter without the `Type=` terms that chose them.
    fn tables(
        &mut self,
        s: &Search,
        catalog: &'static Catalog,
    ) -> Result<(Vec<&'static TableSchema>, Filter), SearchError> {
        let conjuncts = match &s.filter {
            Filter::And(parts) => parts.clone(),
            Filter::All => vec![],
            f => vec![f.clone()],
        };
        let type_names = |f: &Filter| -> Option<Vec<Value>> {
            let one = |f: &Filter| match f {
                Filter::Compare {
                    field,
                    op: Op::Eq,
                    value,
                } if field.text.eq_ignore_ascii_case("Type") => Some(vec![value.clone()]),
                _ => None,
            };
            match f {
                Filter::Or(parts) => parts
                    .iter()
                    .map(one)
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.concat()),
                f => one(f),
            }
        };
        let mut chosen: Option<Vec<&'static TableSchema>> = None;
        let mut rest = Vec::new();
        for c in conjuncts {
            match type_names(&c) {
                Some(values) => {
                    let mut set = Vec::new();
                    for v in values {
                        let t = catalog.get_ignore_case(&v.text).ok_or_else(|| {
                            let names: Vec<&str> =
                                catalog.tables().iter().map(|t| t.name.as_str()).collect();
                            self.err(
                                v.pos,
                                format!(
                                    "unknown table '{}' (tables: {})",
                                    v.text,
                                    names.join(", ")
                                ),
                            )
                        })?;
                        if !set.iter().any(|x: &&TableSchema| x.name == t.name) {
                            set.push(t);
                        }
                    }
                    chosen = Some(match chosen {
                        None => set,
                        Some(prev) => prev
                            .into_iter()
                            .filter(|t| set.iter().any(|x| x.name == t.name))
                            .collect(),
                    });
                }
                None => rest.push(c),
            }
        }
        let filter = match rest.len() {
            0 => Filter::All,
            1 => rest.pop().expect("one"),
            _ => Filter::And(rest),
        };
        if let Some(tables) = chosen {
            if tables.is_empty() {
                return Err(self.err(0, "the Type terms of this search exclude every table"));
            }
            return Ok((tables, filter));
        }
        // No Type: every table that has all the fields the search names.
        let mut fields = Vec::new();
        collect_fields(&filter, &mut fields);
        for c in &s.commands {
            match c {
                Command::Measure { .. } | Command::Extend { .. } => break,
                Command::Select { fields: f, .. } | Command::Distinct { fields: f, .. } => {
                    fields.extend(f.iter().cloned())
                }
                Command::Dedup { field, .. } => fields.push(field.clone()),
                Command::Sort { keys, .. } => fields.extend(keys.iter().map(|k| k.field.clone())),
                _ => {}
            }
        }
        let tables: Vec<&'static TableSchema> = catalog
            .tables()
            .iter()
            .filter(|t| {
                fields
                    .iter()
                    .all(|f| find(&columns_of(t), &f.text).is_some())
            })
            .collect();
        if tables.is_empty() {
            let all: Columns = catalog.tables().iter().flat_map(columns_of).collect();
            let missing = fields
                .iter()
                .find(|f| find(&all, &f.text).is_none())
                .unwrap_or(&fields[0]);
            if find(&all, &missing.text).is_none() {
                return Err(self.unknown_field(missing, &all, "any table"));
            }
            return Err(self.err(
                missing.pos,
                "no table has all the fields this search names; add Type=<table>",
            ));
        }
        Ok((tables, filter))
    }

    fn union(
        &mut self,
        tables: &[&'static TableSchema],
        filter: &Filter,
    ) -> Result<Stage, SearchError> {
        let mut columns: Columns = Vec::new();
        for t in tables {
            for c in columns_of(t) {
                if !columns.iter().any(|(n, _)| *n == c.0) {
                    columns.push(c);
                }
            }
        }
        let mut parts = Vec::new();
        // Spark has no UNION BY NAME, and DuckDB's matches names ignoring case (it would merge
        // `OSVersion` and `OsVersion`): both get every column listed, in one order.
        let by_name = self.opts.dialect == Dialect::Datafusion;
        for t in tables {
            let mut st = Stage::over(From::Table(t.name.clone()), columns_of(t), vec![]);
            // Fields a table lacks read as null there (as in the schemaless legacy store).
            if let Some(w) = self.filter_lenient(filter, &columns_of(t), &columns, &t.name)? {
                st.selection.push(w);
            }
            if !by_name {
                st.projection = Some(
                    columns
                        .iter()
                        .map(|(n, ty)| match t.column(n) {
                            Some(_) => sql::item(col(n)),
                            None => sql::aliased(extend_fns::typed_null(*ty), n),
                        })
                        .collect(),
                );
            }
            parts.push(st.finish());
        }
        let mut q = sql::template("SELECT * FROM (SELECT 1 UNION ALL BY NAME SELECT 2) AS t");
        let mut bodies: Vec<SetExpr> = parts.into_iter().map(|p| *p.body).collect();
        let mut set = bodies.remove(0);
        for b in bodies {
            set = SetExpr::SetOperation {
                op: sqlparser::ast::SetOperator::Union,
                set_quantifier: match by_name {
                    true => sqlparser::ast::SetQuantifier::AllByName,
                    false => sqlparser::ast::SetQuantifier::All,
                },
                left: Box::new(set),
                right: Box::new(b),
            };
        }
        {
            let s = sql::select_mut(&mut q);
            if let TableFactor::Derived {
                subquery, alias, ..
            } = &mut s.from[0].relation
            {
                *subquery.body = set;
                if let Some(a) = alias {
                    a.name = sql::ident("u");
                }
            }
        }
        Ok(Stage::over(From::Query(Box::new(q)), columns, vec![]))
    }

    fn filter(
        &mut self,
        f: &Filter,
        columns: &Columns,
        table: &str,
    ) -> Result<Option<SqlExpr>, SearchError> {
        self.filter_lenient(f, columns, columns, table)
    }

    /// Translate a filter over `columns`; a field only in `known` (another table of a union)
    /// reads as null.
    fn filter_lenient(
        &mut self,
        f: &Filter,
        columns: &Columns,
        known: &Columns,
        table: &str,
    ) -> Result<Option<SqlExpr>, SearchError> {
        Ok(match f {
            Filter::All => None,
            Filter::And(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    if let Some(e) = self.filter_lenient(p, columns, known, table)? {
                        out.push(e);
                    }
                }
                sql::and(out)
            }
            Filter::Or(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    match self.filter_lenient(p, columns, known, table)? {
                        Some(e) => out.push(e),
                        None => return Ok(None), // `x OR *` is everything
                    }
                }
                sql::or(out)
            }
            Filter::Not(inner) => match self.filter_lenient(inner, columns, known, table)? {
                // NOT matches where the inner condition is false or null.
                Some(e) => Some(sql::not(sql::func(
                    "coalesce",
                    vec![e, sql::boolean(false)],
                ))),
                None => Some(sql::boolean(false)),
            },
            Filter::FreeText(v) => Some(self.free_text(v, columns)),
            Filter::Compare { field, op, value } => {
                let (c, ty) = match self.field(field, columns, known, table)? {
                    Some(x) => x,
                    None => return Ok(Some(sql::boolean(*op == Op::Ne))),
                };
                Some(self.compare(&c, ty, *op, value)?)
            }
            Filter::Range { field, low, high } => {
                let Some((c, ty)) = self.field(field, columns, known, table)? else {
                    return Ok(Some(sql::boolean(false)));
                };
                let (lo, hi) = (self.typed(ty, low)?, self.typed(ty, high)?);
                Some(SqlExpr::Between {
                    expr: Box::new(col(&c)),
                    negated: false,
                    low: Box::new(lo),
                    high: Box::new(hi),
                })
            }
            Filter::Contains { field, text } => {
                let Some((c, _)) = self.field(field, columns, known, table)? else {
                    return Ok(Some(sql::boolean(false)));
                };
                Some(sql::binop(
                    sql::func("strpos", vec![col(&c), sql::string(&text.text)]),
                    B::Gt,
                    sql::int(0),
                ))
            }
            Filter::Regex { field, pattern } => {
                let Some((c, _)) = self.field(field, columns, known, table)? else {
                    return Ok(Some(sql::boolean(false)));
                };
                let re = lucene_regex(&pattern.text).map_err(|m| self.err(pattern.pos, m))?;
                Some(sql::func("regexp_like", vec![col(&c), sql::string(&re)]))
            }
            Filter::InList {
                field,
                values,
                negated,
            } => {
                let Some((c, ty)) = self.field(field, columns, known, table)? else {
                    return Ok(Some(sql::boolean(*negated)));
                };
                let fold = self.folds(ty);
                let mut list = Vec::new();
                for v in values {
                    list.push(if fold {
                        sql::string(&v.text.to_lowercase())
                    } else {
                        self.typed(ty, v)?
                    });
                }
                let target = fold_case(col(&c), fold);
                let test = SqlExpr::InList {
                    expr: Box::new(target),
                    list,
                    negated: *negated,
                };
                Some(if *negated { or_missing(&c, test) } else { test })
            }
            Filter::InSearch {
                field,
                search,
                negated,
                pos,
            } => {
                let Some((c, ty)) = self.field(field, columns, known, table)? else {
                    return Ok(Some(sql::boolean(*negated)));
                };
                let key = in_key(search).ok_or_else(|| {
                    self.err(*pos, "the search inside {…} must end with '| Distinct <field>' or '| measure … by <field>' to give the values IN compares with")
                })?;
                let mut inner = self.search(search)?;
                inner.order_by = None;
                let fold = self.folds(ty);
                let mut q = sql::template("SELECT k FROM (SELECT 1) AS s WHERE k IS NOT NULL");
                {
                    let s = sql::select_mut(&mut q);
                    let k = col(&key);
                    s.projection = vec![sql::item(fold_case(k.clone(), fold))];
                    if let TableFactor::Derived { subquery, .. } = &mut s.from[0].relation {
                        **subquery = inner;
                    }
                    s.selection = Some(sql::is_not_null(k));
                }
                let target = fold_case(col(&c), fold);
                let test = SqlExpr::InSubquery {
                    expr: Box::new(target),
                    subquery: Box::new(q),
                    negated: *negated,
                };
                Some(if *negated { or_missing(&c, test) } else { test })
            }
        })
    }

    /// Resolve a filter field; `None` when only another table of a union has it.
    fn field(
        &mut self,
        name: &Name,
        columns: &Columns,
        known: &Columns,
        table: &str,
    ) -> Result<Option<(String, ColumnType)>, SearchError> {
        match find(columns, &name.text) {
            Some(_) => self.resolve(name, columns, table).map(Some),
            None if find(known, &name.text).is_some() => Ok(None),
            None => Err(self.unknown_field(name, columns, table)),
        }
    }

    /// Case-insensitive comparison applies to string-like columns unless --case-sensitive.
    fn folds(&self, ty: ColumnType) -> bool {
        !self.opts.case_sensitive && matches!(ty, ColumnType::String | ColumnType::Dynamic)
    }

    fn compare(
        &mut self,
        c: &str,
        ty: ColumnType,
        op: Op,
        value: &Value,
    ) -> Result<SqlExpr, SearchError> {
        let column = col(c);
        let positive = match ty {
            ColumnType::String | ColumnType::Dynamic
                if !value.quoted && value.text.contains('*') && matches!(op, Op::Eq | Op::Ne) =>
            {
                let test = sql::like(
                    column.clone(),
                    &like_pattern(&value.text, false),
                    self.opts.case_sensitive,
                    false,
                );
                if op == Op::Ne {
                    return Ok(
                        sql::or(vec![sql::is_null(column), sql::not(test)]).expect("two parts")
                    );
                }
                return Ok(test);
            }
            ColumnType::String | ColumnType::Dynamic
                if matches!(op, Op::Eq | Op::Ne) && self.folds(ty) =>
            {
                sql::binop(
                    sql::func("lower", vec![column.clone()]),
                    B::Eq,
                    sql::string(&value.text.to_lowercase()),
                )
            }
            _ => sql::binop(column.clone(), B::Eq, self.typed(ty, value)?),
        };
        Ok(match op {
            Op::Eq => positive,
            // `!=` also matches records where the field is missing (spec §4).
            Op::Ne => {
                let SqlExpr::BinaryOp { left, right, .. } = positive else {
                    unreachable!()
                };
                sql::or(vec![
                    sql::is_null(column),
                    SqlExpr::BinaryOp {
                        left,
                        op: B::NotEq,
                        right,
                    },
                ])
                .expect("two parts")
            }
            _ => {
                let SqlExpr::BinaryOp { left, right, .. } = positive else {
                    unreachable!()
                };
                SqlExpr::BinaryOp {
                    left,
                    op: comparison_op(op),
                    right,
                }
            }
        })
    }

    /// A value as a literal of the column's type.
    fn typed(&self, ty: ColumnType, v: &Value) -> Result<SqlExpr, SearchError> {
        match ty {
            ColumnType::String | ColumnType::Dynamic => Ok(sql::string(&v.text)),
            ColumnType::Int | ColumnType::Long => match v.text.trim().parse::<i64>() {
                Ok(n) => Ok(sql::int(n)),
                Err(_) => v
                    .text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(sql::float)
                    .ok_or_else(|| {
                        self.err(v.pos, format!("expected a number, found {:?}", v.text))
                    }),
            },
            ColumnType::Real => v
                .text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(sql::float)
                .ok_or_else(|| self.err(v.pos, format!("expected a number, found {:?}", v.text))),
            ColumnType::Bool => match v.text.to_ascii_lowercase().as_str() {
                "true" => Ok(sql::boolean(true)),
                "false" => Ok(sql::boolean(false)),
                _ => Err(self.err(v.pos, format!("expected true or false, found {:?}", v.text))),
            },
            ColumnType::Datetime => datemath::evaluate(&v.text, self.opts.now_micros)
                .map(sql::timestamp)
                .map_err(|m| self.err(v.pos, m)),
        }
    }

    /// Free text: one pattern match over the table's string columns joined by a separator
    /// no term can contain (a flat expression, however many columns a table has).
    fn free_text(&self, v: &Value, columns: &Columns) -> SqlExpr {
        let text: String = v
            .text
            .chars()
            .filter(|&c| c != FREE_TEXT_SEPARATOR)
            .collect();
        let mut args = vec![sql::string(&FREE_TEXT_SEPARATOR.to_string())];
        args.extend(
            columns
                .iter()
                .filter(|(n, t)| *t == ColumnType::String && n != "Type")
                .map(|(n, _)| col(n)),
        );
        if args.len() == 1 {
            return sql::boolean(false);
        }
        sql::like(
            sql::func("concat_ws", args),
            &like_pattern(&text, true),
            self.opts.case_sensitive,
            false,
        )
    }

    /// `select` / `Distinct`: project the named fields of the current rows.
    fn project(
        &mut self,
        stage: Stage,
        fields: &[Name],
        place: &str,
    ) -> Result<Stage, SearchError> {
        let mut st = if stage.plain() { stage } else { stage.wrap() };
        let mut items = Vec::new();
        let mut out = Vec::new();
        for f in fields {
            let (n, t) = self.resolve(f, &st.output, place)?;
            items.push(sql::item(col(&n)));
            out.push((n, t));
        }
        st.projection = Some(items);
        st.output = out;
        Ok(st)
    }

    fn command(&mut self, stage: Stage, c: &Command) -> Result<Stage, SearchError> {
        match c {
            Command::Select { fields, .. } => {
                self.project(stage, fields, "the rows before 'select'")
            }
            Command::Distinct { fields, .. } => {
                let mut st = self.project(stage, fields, "the rows before 'Distinct'")?;
                st.order = st
                    .output
                    .iter()
                    .map(|(n, _)| sql::order(col(n), false))
                    .collect();
                st.distinct = true;
                Ok(st)
            }
            Command::Measure {
                aggregates,
                by,
                interval,
                ..
            } => self.measure(stage, aggregates, by, interval.as_ref()),
            Command::Sort { keys, .. } => {
                let mut st = if stage.limit.is_some() || stage.offset.is_some() {
                    stage.wrap()
                } else {
                    stage
                };
                let visible = if st.group_by.is_empty() && !st.distinct {
                    st.input.clone()
                } else {
                    st.output.clone()
                };
                let mut order = Vec::new();
                for k in keys {
                    let cols = if find(&st.output, &k.field.text).is_some() {
                        &st.output
                    } else {
                        &visible
                    };
                    let (n, _) = self.resolve(&k.field, cols, "the rows before 'sort'")?;
                    let desc = k.descending.unwrap_or(n == "TimeGenerated");
                    order.push(sql::order(col(&n), desc));
                }
                st.order = order;
                Ok(st)
            }
            Command::Top { count, .. } => {
                let mut st = stage;
                st.limit = Some(st.limit.map_or(*count, |l| l.min(*count)));
                Ok(st)
            }
            Command::Skip { count, .. } => {
                // Paging: `top N | skip M` and `skip M | top N` are both LIMIT N OFFSET M.
                let mut st = stage;
                st.offset = Some(*count);
                Ok(st)
            }
            Command::Where { filter, .. } => {
                let mut st = if stage.plain() { stage } else { stage.wrap() };
                let cols = st.output.clone();
                if let Some(e) = self.filter(filter, &cols, "the rows before 'where'")? {
                    st.selection.push(e);
                }
                Ok(st)
            }
            Command::Dedup { field, .. } => {
                let st = if stage.plain() { stage } else { stage.wrap() };
                let (n, _) = self.resolve(field, &st.output, "the rows before 'Dedup'")?;
                let order = st.order.clone();
                let output = st.output.clone();
                // Number the rows of each value in the current order; keep the first.
                let mut inner =
                    sql::template("SELECT *, row_number() AS \"__rn\" FROM (SELECT 1) AS d");
                {
                    let s = sql::select_mut(&mut inner);
                    if let SelectItem::ExprWithAlias {
                        expr: SqlExpr::Function(f),
                        ..
                    } = &mut s.projection[1]
                    {
                        f.over = Some(WindowType::WindowSpec(WindowSpec {
                            window_name: None,
                            partition_by: vec![col(&n)],
                            order_by: if order.is_empty() {
                                vec![sql::order(col("TimeGenerated"), true)]
                            } else {
                                order.clone()
                            },
                            window_frame: None,
                        }));
                    }
                    if let TableFactor::Derived { subquery, .. } = &mut s.from[0].relation {
                        let mut base = st;
                        base.order = vec![];
                        **subquery = base.finish();
                    }
                }
                let mut outer = Stage::over(From::Query(Box::new(inner)), output.clone(), order);
                outer
                    .selection
                    .push(sql::binop(col("__rn"), B::Eq, sql::int(1)));
                outer.projection = Some(match self.opts.dialect {
                    // Spark has no `* EXCLUDE`: the columns, named.
                    Dialect::Spark => output.iter().map(|(n, _)| sql::item(col(n))).collect(),
                    _ => sql::select_mut(&mut sql::template("SELECT * EXCLUDE (\"__rn\") FROM t"))
                        .projection
                        .clone(),
                });
                outer.output = output;
                Ok(outer)
            }
            Command::Join {
                kind,
                left,
                search,
                right,
                ..
            } => self.join(stage, *kind, left, search, right),
            Command::Extend { expr, alias, .. } => {
                let mut st = if stage.plain() { stage } else { stage.wrap() };
                let e = self.expr(expr, &st.output)?;
                let mut items = vec![SelectItem::Wildcard(Default::default())];
                items.push(sql::aliased(e, &alias.text));
                st.projection = Some(items);
                st.output.push((alias.text.clone(), ColumnType::Real));
                Ok(st)
            }
        }
    }

    /// `join`: the right search's columns come back with the suffix `_joined` (reference §6.10).
    fn join(
        &mut self,
        left_stage: Stage,
        kind: JoinKind,
        left: &Name,
        search: &Search,
        right: &Name,
    ) -> Result<Stage, SearchError> {
        let (lf, _) = self.resolve(left, &left_stage.output, "the rows before 'join'")?;
        let right_stage = self.stage(search)?;
        let (rf, _) = self.resolve(right, &right_stage.output, "the joined search")?;
        let left_cols = left_stage.output.clone();
        let right_cols = right_stage.output.clone();
        let order: Vec<OrderByExpr> = left_stage.order.clone();
        let unordered = |mut st: Stage| {
            if st.limit.is_none() && st.offset.is_none() {
                st.order.clear();
            }
            st.finish()
        };
        let (lq, rq) = (unordered(left_stage), unordered(right_stage));
        let template = match kind {
            JoinKind::Inner => "SELECT l.*, r.x AS y FROM (SELECT 1) AS l INNER JOIN (SELECT 1) AS r ON l.a = r.b",
            JoinKind::Outer => "SELECT l.*, r.x AS y FROM (SELECT 1) AS l FULL OUTER JOIN (SELECT 1) AS r ON l.a = r.b",
            JoinKind::Left => "SELECT l.*, r.x AS y FROM (SELECT 1) AS l LEFT JOIN (SELECT 1) AS r ON l.a = r.b",
        };
        let mut q = sql::template(template);
        let mut output = left_cols.clone();
        {
            let s = sql::select_mut(&mut q);
            s.projection.truncate(1);
            for (n, t) in &right_cols {
                let name = format!("{n}_joined");
                s.projection.push(sql::aliased(
                    SqlExpr::CompoundIdentifier(vec![
                        sqlparser::ast::Ident::new("r"),
                        sql::ident(n),
                    ]),
                    &name,
                ));
                output.push((name, *t));
            }
            let twj = &mut s.from[0];
            if let TableFactor::Derived { subquery, .. } = &mut twj.relation {
                **subquery = lq;
            }
            let join = &mut twj.joins[0];
            if let TableFactor::Derived { subquery, .. } = &mut join.relation {
                **subquery = rq;
            }
            let on = sql::binop(
                SqlExpr::CompoundIdentifier(vec![sqlparser::ast::Ident::new("l"), sql::ident(&lf)]),
                B::Eq,
                SqlExpr::CompoundIdentifier(vec![sqlparser::ast::Ident::new("r"), sql::ident(&rf)]),
            );
            use sqlparser::ast::{JoinConstraint, JoinOperator};
            match &mut join.join_operator {
                JoinOperator::Join(JoinConstraint::On(e))
                | JoinOperator::Inner(JoinConstraint::On(e))
                | JoinOperator::Left(JoinConstraint::On(e))
                | JoinOperator::LeftOuter(JoinConstraint::On(e))
                | JoinOperator::FullOuter(JoinConstraint::On(e)) => *e = on,
                other => unreachable!("template join {other:?}"),
            }
        }
        let keep: Vec<OrderByExpr> = order
            .into_iter()
            .filter(|o| matches!(&o.expr, SqlExpr::Identifier(i) if left_cols.iter().any(|(n, _)| *n == i.value)))
            .collect();
        Ok(Stage::over(From::Query(Box::new(q)), output, keep))
    }

    fn measure(
        &mut self,
        stage: Stage,
        aggregates: &[Aggregate],
        by: &[Name],
        interval: Option<&Interval>,
    ) -> Result<Stage, SearchError> {
        let mut st = if stage.plain() { stage } else { stage.wrap() };
        let cols = st.output.clone();
        let mut items = Vec::new();
        let mut groups = Vec::new();
        let mut out: Columns = Vec::new();
        let mut bucketed = false;
        for f in by {
            let (n, t) = self.resolve(f, &cols, "the rows before 'measure'")?;
            let expr = match interval {
                Some(iv) if t == ColumnType::Datetime && !bucketed => {
                    bucketed = true;
                    self.bucket(&n, iv)?
                }
                _ => col(&n),
            };
            items.push(if matches!(expr, SqlExpr::Identifier(_)) {
                sql::item(expr.clone())
            } else {
                sql::aliased(expr.clone(), &n)
            });
            groups.push(expr);
            out.push((n, t));
        }
        if let Some(iv) = interval {
            if !bucketed {
                if find(&cols, "TimeGenerated").is_none() {
                    return Err(self.err(
                        iv.pos,
                        "interval needs a TimeGenerated (or datetime 'by') field",
                    ));
                }
                let e = self.bucket("TimeGenerated", iv)?;
                items.push(sql::aliased(e.clone(), "TimeGenerated"));
                groups.push(e);
                out.push(("TimeGenerated".into(), ColumnType::Datetime));
            }
        }
        let unaliased = aggregates.iter().filter(|a| a.alias.is_none()).count();
        let mut first_agg = None;
        for a in aggregates {
            self.check_aggregate_type(a, &cols)?;
            self.in_aggregate = true;
            let arg = a.arg.as_ref().map(|e| self.expr(e, &cols)).transpose();
            self.in_aggregate = false;
            let arg = arg?;
            let arg_text = a.arg.as_ref().map(expr_text).unwrap_or_default();
            let e = match (&a.func, arg) {
                (AggFunc::Count, None) => sql::count_star(),
                (AggFunc::Count, Some(x)) => sql::func("count", vec![x]),
                (AggFunc::CountDistinct, Some(x)) => sql::count_distinct(x),
                (AggFunc::Sum, Some(x)) => sql::func("sum", vec![x]),
                (AggFunc::Avg, Some(x)) => sql::func("avg", vec![x]),
                (AggFunc::Min, Some(x)) => sql::func("min", vec![x]),
                (AggFunc::Max, Some(x)) => sql::func("max", vec![x]),
                (AggFunc::StdDev, Some(x)) => sql::func("stddev", vec![x]),
                (AggFunc::Percentile(p), Some(x)) => sql::func(
                    match self.opts.dialect {
                        Dialect::Datafusion => "approx_percentile_cont",
                        Dialect::Spark => "percentile_approx",
                        Dialect::Duckdb => "approx_quantile",
                    },
                    vec![x, sql::float(f64::from(*p) / 100.0)],
                ),
                (_, None) => return Err(self.err(a.pos, format!("{}() needs a field", a.written))),
            };
            let name = match &a.alias {
                Some(alias) => alias.text.clone(),
                None if unaliased == 1 && aggregates.len() == 1 => "AggregatedValue".to_string(),
                None => format!("{}({arg_text})", a.written),
            };
            if out.iter().any(|(n, _)| *n == name) {
                return Err(self.err(
                    a.pos,
                    format!("two measure columns would both be named {name:?}; add 'as <name>'"),
                ));
            }
            let ty = match a.func {
                AggFunc::Count | AggFunc::CountDistinct => ColumnType::Long,
                AggFunc::Min | AggFunc::Max => a
                    .arg
                    .as_ref()
                    .and_then(|e| match e {
                        Expr::Field(f) => find(&cols, &f.text).map(|c| c.1),
                        _ => None,
                    })
                    .unwrap_or(ColumnType::Real),
                _ => ColumnType::Real,
            };
            items.push(sql::aliased(e, &name));
            first_agg.get_or_insert(name.clone());
            out.push((name, ty));
        }
        // Default order (spec §4): interval → bucket desc; else first aggregate desc, keys asc.
        st.order = if interval.is_some() {
            let bucket = if bucketed {
                by.iter().find_map(|f| {
                    find(&cols, &f.text)
                        .filter(|c| c.1 == ColumnType::Datetime)
                        .map(|c| c.0.clone())
                })
            } else {
                Some("TimeGenerated".into())
            };
            bucket
                .into_iter()
                .map(|b| sql::order(col(&b), true))
                .collect()
        } else {
            let mut o = vec![sql::order(
                col(first_agg.as_deref().expect("measure has an aggregate")),
                true,
            )];
            o.extend(
                out.iter()
                    .take(by.len())
                    .map(|(n, _)| sql::order(col(n), false)),
            );
            o
        };
        st.projection = Some(items);
        st.group_by = groups;
        st.output = out;
        Ok(st)
    }

    /// `sum`, `avg`, `stddev` and percentiles need numbers (reference §6.5); `min`/`max` also
    /// take strings and datetimes. Said here, with the field and its type, rather than as
    /// DataFusion's planning error.
    fn check_aggregate_type(&self, a: &Aggregate, cols: &Columns) -> Result<(), SearchError> {
        let numeric_only = matches!(
            a.func,
            AggFunc::Sum | AggFunc::Avg | AggFunc::StdDev | AggFunc::Percentile(_)
        );
        let Some(Expr::Field(f)) = &a.arg else {
            return Ok(());
        };
        match find(cols, &f.text) {
            Some((name, ty))
                if numeric_only
                    && !matches!(ty, ColumnType::Int | ColumnType::Long | ColumnType::Real) =>
            {
                Err(self.err(
                    f.pos,
                    format!(
                        "{}({name}) needs a numeric field, but {name} is {}: use count, countdistinct, min or max",
                        a.written,
                        type_name(*ty)
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// `date_bin(INTERVAL 'N unit', "f", TIMESTAMP '1970-01-01')`, or `date_trunc` for 1 month/year.
    fn bucket(&self, field: &str, iv: &Interval) -> Result<SqlExpr, SearchError> {
        match iv.unit.micros() {
            Some(m) if self.opts.dialect != Dialect::Datafusion => {
                let width = (m as u64)
                    .checked_mul(iv.count)
                    .and_then(|w| i64::try_from(w).ok())
                    .ok_or_else(|| self.err(iv.pos, "interval too long"))?;
                Ok(extend_fns::fixed_bucket(
                    self.opts.dialect,
                    &col(field),
                    width,
                ))
            }
            Some(_) => Ok(sql::func(
                "date_bin",
                vec![
                    SqlExpr::Interval(sqlparser::ast::Interval {
                        value: Box::new(sql::string(&format!(
                            "{} {}",
                            iv.count,
                            iv.unit.sql_name()
                        ))),
                        leading_field: None,
                        leading_precision: None,
                        last_field: None,
                        fractional_seconds_precision: None,
                    }),
                    col(field),
                    sql::timestamp(0),
                ],
            )),
            None if iv.count == 1 => Ok(sql::func(
                "date_trunc",
                vec![sql::string(iv.unit.sql_name()), col(field)],
            )),
            None => {
                let per = if iv.unit == datemath::Unit::Year {
                    12
                } else {
                    1
                };
                let months = iv
                    .count
                    .checked_mul(per)
                    .filter(|m| *m <= 1_200_000)
                    .ok_or_else(|| self.err(iv.pos, "interval too long (at most 100000 years)"))?;
                Ok(extend_fns::month_bucket(
                    self.opts.dialect,
                    &col(field),
                    months,
                ))
            }
        }
    }

    /// Extend / aggregate-argument expressions: fields, numbers, strings and the function
    /// table of reference §6.9.
    fn expr(&mut self, e: &Expr, cols: &Columns) -> Result<SqlExpr, SearchError> {
        Ok(match e {
            Expr::Field(n) => col(&self.resolve(n, cols, "the rows before this expression")?.0),
            Expr::Literal(v) if v.quoted => sql::string(&v.text),
            Expr::Literal(v) => match v.text.parse::<i64>() {
                Ok(n) => sql::int(n),
                Err(_) => v
                    .text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(sql::float)
                    .ok_or_else(|| {
                        self.err(v.pos, format!("expected a number, found {:?}", v.text))
                    })?,
            },
            Expr::Call { name, args } if name.text.eq_ignore_ascii_case("ms") => {
                self.ms(name, args, cols)?
            }
            Expr::Call { name, args } => {
                let mut a = Vec::new();
                for x in args {
                    a.push(self.expr(x, cols)?);
                }
                self.function(name, a)?
            }
        })
    }

    /// `ms()` (now), `ms(a)` (milliseconds since the epoch), `ms(a, b)` (`ms(a) - ms(b)`), where
    /// each argument is a datetime field or a date (`NOW-1DAY`, `2024-01-01T00:00:00Z`).
    fn ms(&mut self, name: &Name, args: &[Expr], cols: &Columns) -> Result<SqlExpr, SearchError> {
        let mut dates = Vec::new();
        for a in args {
            dates.push(match self.ms_argument(a, cols)? {
                Ok(column) => extend_fns::epoch_ms(self.opts.dialect, &column),
                Err(micros) => sql::int(micros.div_euclid(1000)),
            });
        }
        Ok(match dates.as_slice() {
            [] => sql::int(self.opts.now_micros.div_euclid(1000)),
            [a] => a.clone(),
            [a, b] => extend_fns::difference(a, b),
            _ => {
                return Err(self.err(
                    name.pos,
                    format!("ms() takes 0 to 2 arguments, got {}", args.len()),
                ))
            }
        })
    }

    /// An argument of `ms`: a datetime column (`Ok`), or a date folded to its microseconds
    /// (`Err`).
    fn ms_argument(
        &mut self,
        a: &Expr,
        cols: &Columns,
    ) -> Result<Result<SqlExpr, i64>, SearchError> {
        let as_date =
            |text: &str, pos: usize| -> Option<Result<Result<SqlExpr, i64>, SearchError>> {
                datemath::looks_like_date(text).then(|| {
                    datemath::evaluate(text, self.opts.now_micros)
                        .map(Err)
                        .map_err(|m| self.err(pos, m))
                })
            };
        match a {
            Expr::Field(n) if find(cols, &n.text).is_none() => as_date(&n.text, n.pos)
                .unwrap_or_else(|| {
                    Err(self.unknown_field(n, cols, "the rows before this expression"))
                }),
            Expr::Field(n) => match self.resolve(n, cols, "the rows before this expression")? {
                (column, ColumnType::Datetime) => Ok(Ok(col(&column))),
                (column, ty) => Err(self.err(
                    n.pos,
                    format!(
                        "ms() needs datetime fields or dates; {column} is {}",
                        type_name(ty)
                    ),
                )),
            },
            Expr::Literal(v) => as_date(&v.text, v.pos).unwrap_or_else(|| {
                Err(self.err(
                    v.pos,
                    format!("ms() needs datetime fields or dates, found {:?}", v.text),
                ))
            }),
            Expr::Call { name, .. } => Err(self.err(
                name.pos,
                "ms() needs datetime fields or dates, not a function",
            )),
        }
    }

    fn function(&self, name: &Name, a: Vec<SqlExpr>) -> Result<SqlExpr, SearchError> {
        let lower = name.text.to_ascii_lowercase();
        let arity = |n: std::ops::RangeInclusive<usize>| -> Result<(), SearchError> {
            if n.contains(&a.len()) {
                Ok(())
            } else {
                Err(self.err(
                    name.pos,
                    format!(
                        "{}() takes {} argument(s), got {}",
                        name.text,
                        if n.start() == n.end() {
                            n.start().to_string()
                        } else {
                            format!("{} to {}", n.start(), n.end())
                        },
                        a.len()
                    ),
                ))
            }
        };
        let fold = |op: B, a: Vec<SqlExpr>| {
            sql::nested(
                a.into_iter()
                    .map(sql::nested)
                    .reduce(|x, y| sql::binop(x, op.clone(), y))
                    .expect("arity checked"),
            )
        };
        // Functions that map one-to-one onto a SQL function: (legacy, SQL, arity).
        const SIMPLE: &[(&str, &str, usize)] = &[
            ("abs", "abs", 1),
            ("acos", "acos", 1),
            ("asin", "asin", 1),
            ("atan", "atan", 1),
            ("cbrt", "cbrt", 1),
            ("ceil", "ceil", 1),
            ("cos", "cos", 1),
            ("cosh", "cosh", 1),
            ("exp", "exp", 1),
            ("floor", "floor", 1),
            ("ln", "ln", 1),
            ("sin", "sin", 1),
            ("sinh", "sinh", 1),
            ("sqrt", "sqrt", 1),
            ("tan", "tan", 1),
            ("tanh", "tanh", 1),
            ("log", "log10", 1),
            ("deg", "degrees", 1),
            ("rad", "radians", 1),
            ("rint", "round", 1),
            ("atan2", "atan2", 2),
            ("pow", "power", 2),
        ];
        if let Some((_, sql_name, n)) = SIMPLE.iter().find(|(legacy, _, _)| *legacy == lower) {
            arity(*n..=*n)?;
            return Ok(sql::func(sql_name, a));
        }
        Ok(match lower.as_str() {
            "sum" | "add" => {
                arity(2..=64)?;
                fold(B::Plus, a)
            }
            "product" | "mul" => {
                arity(2..=64)?;
                fold(B::Multiply, a)
            }
            "sub" => {
                arity(2..=2)?;
                fold(B::Minus, a)
            }
            "div" => {
                arity(2..=2)?;
                let mut it = a.into_iter();
                let (x, y) = (it.next().expect("2"), it.next().expect("2"));
                let x = SqlExpr::Cast { kind: sqlparser::ast::CastKind::Cast, expr: Box::new(x), data_type: sqlparser::ast::DataType::Double(sqlparser::ast::ExactNumberInfo::None), array: false, format: None };
                sql::nested(sql::binop(x, B::Divide, sql::nested(y)))
            }
            "mod" => {
                arity(2..=2)?;
                fold(B::Modulo, a)
            }
            "max" => {
                arity(2..=64)?;
                sql::func("greatest", a)
            }
            "min" => {
                arity(2..=64)?;
                sql::func("least", a)
            }
            "linear" => {
                arity(3..=3)?;
                let mut it = a.into_iter();
                let (x, m, c) = (it.next().expect("3"), it.next().expect("3"), it.next().expect("3"));
                sql::nested(sql::binop(sql::binop(sql::nested(m), B::Multiply, sql::nested(x)), B::Plus, sql::nested(c)))
            }
            "hypo" => {
                arity(2..=2)?;
                let mut it = a.into_iter();
                let (x, y) = (it.next().expect("2"), it.next().expect("2"));
                sql::func("sqrt", vec![sql::binop(sql::binop(sql::nested(x.clone()), B::Multiply, sql::nested(x)), B::Plus, sql::binop(sql::nested(y.clone()), B::Multiply, sql::nested(y)))])
            }
            "recip" => {
                arity(4..=4)?;
                let mut it = a.into_iter();
                let (x, m, a2, b) = (it.next().expect("4"), it.next().expect("4"), it.next().expect("4"), it.next().expect("4"));
                let denominator = sql::binop(sql::binop(sql::nested(m), B::Multiply, sql::nested(x)), B::Plus, sql::nested(b));
                let numerator = SqlExpr::Cast { kind: sqlparser::ast::CastKind::Cast, expr: Box::new(a2), data_type: sqlparser::ast::DataType::Double(sqlparser::ast::ExactNumberInfo::None), array: false, format: None };
                sql::nested(sql::binop(numerator, B::Divide, sql::nested(denominator)))
            }
            "and" | "or" => {
                arity(2..=64)?;
                fold(if lower == "and" { B::And } else { B::Or }, a)
            }
            "not" => {
                arity(1..=1)?;
                sql::not(a.into_iter().next().expect("1"))
            }
            "def" => {
                arity(2..=2)?;
                sql::func("coalesce", a)
            }
            "exists" => {
                arity(1..=1)?;
                sql::is_not_null(a.into_iter().next().expect("1"))
            }
            "scale" => {
                arity(3..=3)?;
                if self.in_aggregate {
                    return Err(self.err(name.pos, "scale() scales the whole result, so it cannot be aggregated: Extend it first, then measure the new field"));
                }
                extend_fns::scale(&a[0], &a[1], &a[2])
            }
            "map" => {
                arity(4..=5)?;
                let mut it = a.into_iter();
                let (x, lo, hi, target) = (it.next().expect("4"), it.next().expect("4"), it.next().expect("4"), it.next().expect("4"));
                let default = it.next().unwrap_or_else(|| x.clone());
                case(SqlExpr::Between { expr: Box::new(x), negated: false, low: Box::new(lo), high: Box::new(hi) }, target, default)
            }
            "if" => {
                arity(3..=3)?;
                let mut it = a.into_iter();
                let (t, x, y) = (it.next().expect("3"), it.next().expect("3"), it.next().expect("3"));
                // Solr truthiness: 0, false and the empty string are false.
                let text = SqlExpr::Cast { kind: sqlparser::ast::CastKind::Cast, expr: Box::new(t), data_type: sqlparser::ast::DataType::Varchar(None), array: false, format: None };
                let falsy = ["", "0", "0.0", "false"].iter().map(|s| sql::string(s)).collect();
                let cond = SqlExpr::InList { expr: Box::new(sql::func("coalesce", vec![text, sql::string("")])), list: falsy, negated: true };
                case(cond, x, y)
            }
            _ => {
                return Err(self.err(name.pos, format!(
                    "unknown or unsupported function '{}' (supported: abs, acos, add, and, asin, atan, atan2, cbrt, ceil, cos, cosh, def, deg, div, exists, exp, floor, hypo, if, linear, ln, log, map, max, min, mod, ms, mul, not, or, pow, product, rad, recip, rint, scale, sin, sinh, sqrt, sub, sum, tan, tanh)",
                    name.text
                )))
            }
        })
    }
}

fn case(condition: SqlExpr, then: SqlExpr, otherwise: SqlExpr) -> SqlExpr {
    let mut q = sql::template("SELECT CASE WHEN true THEN 1 ELSE 2 END FROM t");
    let s = sql::select_mut(&mut q);
    match &mut s.projection[0] {
        SelectItem::UnnamedExpr(SqlExpr::Case {
            conditions,
            else_result,
            ..
        }) => {
            conditions[0].condition = condition;
            conditions[0].result = then;
            *else_result = Some(Box::new(otherwise));
        }
        _ => unreachable!("template shape"),
    }
    match s.projection.remove(0) {
        SelectItem::UnnamedExpr(e) => e,
        _ => unreachable!("template shape"),
    }
}

/// `lower(e)` when comparing without case, else `e`.
fn fold_case(e: SqlExpr, fold: bool) -> SqlExpr {
    if fold {
        sql::func("lower", vec![e])
    } else {
        e
    }
}

/// Negations also match records where the field is missing (spec §4).
fn or_missing(column: &str, test: SqlExpr) -> SqlExpr {
    sql::or(vec![sql::is_null(col(column)), test]).expect("two parts")
}

/// The top-level AND terms of `e`.
fn conjuncts(e: SqlExpr, out: &mut Vec<SqlExpr>) {
    match e {
        SqlExpr::BinaryOp {
            left,
            op: B::And,
            right,
        } => {
            conjuncts(*left, out);
            conjuncts(*right, out);
        }
        SqlExpr::Nested(inner) if matches!(*inner, SqlExpr::BinaryOp { op: B::And, .. }) => {
            conjuncts(*inner, out)
        }
        e => out.push(e),
    }
}

/// The output column an `IN {…}` subsearch provides.
fn in_key(s: &Search) -> Option<String> {
    match s.commands.last()? {
        Command::Distinct { fields, .. } if fields.len() == 1 => Some(fields[0].text.clone()),
        Command::Measure { by, .. } if !by.is_empty() => Some(by[0].text.clone()),
        Command::Select { fields, .. } if fields.len() == 1 => Some(fields[0].text.clone()),
        _ => None,
    }
}

fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Field(n) => n.text.clone(),
        Expr::Literal(v) => v.text.clone(),
        Expr::Call { name, args } => format!(
            "{}({})",
            name.text.to_ascii_lowercase(),
            args.iter().map(expr_text).collect::<Vec<_>>().join(",")
        ),
    }
}

fn collect_fields(f: &Filter, out: &mut Vec<Name>) {
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().for_each(|x| collect_fields(x, out)),
        Filter::Not(x) => collect_fields(x, out),
        Filter::Compare { field, .. }
        | Filter::Range { field, .. }
        | Filter::Contains { field, .. }
        | Filter::Regex { field, .. }
        | Filter::InList { field, .. }
        | Filter::InSearch { field, .. } => out.push(field.clone()),
        Filter::All | Filter::FreeText(_) => {}
    }
}

/// Lucene regular expression (whole-value match) → Rust regex: `@` is any string; `&`, `#`,
/// `~` and `<n-m>` have no Rust equivalent and are refused.
fn lucene_regex(p: &str) -> Result<String, String> {
    let mut out = String::from("^(?:");
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => return Err("regex ends with a lone backslash".into()),
            },
            '@' => out.push_str(".*"),
            '&' | '#' | '~' | '<' => {
                return Err(format!("the Lucene regex operator '{c}' is not supported"))
            }
            c => out.push(c),
        }
    }
    out.push_str(")$");
    Ok(out)
}
