//! Building blocks of the SQL AST (sqlparser's). User values enter SQL only through these
//! constructors, as escaped literal or quoted-identifier nodes; sqlparser renders the text.

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, OrderByExpr, OrderByOptions, Query,
    SelectItem, SetExpr, TimezoneInfo, UnaryOperator, Value,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// A quoted identifier: `"Computer"` (quotes inside are doubled by the renderer).
pub fn ident(name: &str) -> Ident {
    Ident::with_quote('"', name)
}

pub fn col(name: &str) -> Expr {
    Expr::Identifier(ident(name))
}

pub fn string(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_string()).into())
}

/// A number literal from an already-parsed number (never from raw user text).
pub fn int(n: i64) -> Expr {
    Expr::Value(Value::Number(n.to_string(), false).into())
}

pub fn float(f: f64) -> Expr {
    let text = if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    };
    Expr::Value(Value::Number(text, false).into())
}

pub fn boolean(b: bool) -> Expr {
    Expr::Value(Value::Boolean(b).into())
}

pub fn null() -> Expr {
    Expr::Value(Value::Null.into())
}

/// `CAST('2024-03-01T00:00:00Z' AS TIMESTAMP)`: an instant, folded from date math.
pub fn timestamp(micros: i64) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(string(&crate::time::format_micros(micros))),
        data_type: DataType::Timestamp(None, TimezoneInfo::None),
        array: false,
        format: None,
    }
}

pub fn func(name: &str, args: Vec<Expr>) -> Expr {
    call(
        name,
        args.into_iter()
            .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
            .collect(),
        false,
    )
}

pub fn count_star() -> Expr {
    call(
        "count",
        vec![FunctionArg::Unnamed(FunctionArgExpr::Wildcard)],
        false,
    )
}

pub fn count_distinct(arg: Expr) -> Expr {
    call(
        "count",
        vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))],
        true,
    )
}

fn call(name: &str, args: Vec<FunctionArg>, distinct: bool) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: distinct.then_some(sqlparser::ast::DuplicateTreatment::Distinct),
            args,
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

pub fn binop(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}

/// Parenthesise an expression that would otherwise bind wrongly inside AND/NOT/arithmetic:
/// OR chains and arithmetic; comparisons, calls and literals need no parentheses.
pub fn nested(e: Expr) -> Expr {
    match e {
        Expr::BinaryOp {
            op: BinaryOperator::Or | BinaryOperator::And,
            ..
        }
        | Expr::BinaryOp {
            op:
                BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Divide
                | BinaryOperator::Modulo,
            ..
        } => Expr::Nested(Box::new(e)),
        e => e,
    }
}

/// Conjunction; OR parts come parenthesised (see [`or`]).
pub fn and(parts: Vec<Expr>) -> Option<Expr> {
    parts
        .into_iter()
        .reduce(|a, b| binop(a, BinaryOperator::And, b))
}

/// Disjunction, parenthesised as a whole (so it can stand inside AND) when it has two parts
/// or more; AND parts inside it are parenthesised.
pub fn or(parts: Vec<Expr>) -> Option<Expr> {
    let n = parts.len();
    let e = parts
        .into_iter()
        .map(|p| match p {
            p @ Expr::BinaryOp {
                op: BinaryOperator::And,
                ..
            } => Expr::Nested(Box::new(p)),
            p => p,
        })
        .reduce(|a, b| binop(a, BinaryOperator::Or, b))?;
    Some(if n > 1 { Expr::Nested(Box::new(e)) } else { e })
}

pub fn not(e: Expr) -> Expr {
    let e = match e {
        e @ (Expr::BinaryOp { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::InList { .. }
        | Expr::InSubquery { .. }
        | Expr::Between { .. }) => Expr::Nested(Box::new(e)),
        e => e,
    };
    Expr::UnaryOp {
        op: UnaryOperator::Not,
        expr: Box::new(e),
    }
}

pub fn is_null(e: Expr) -> Expr {
    Expr::IsNull(Box::new(e))
}

pub fn is_not_null(e: Expr) -> Expr {
    Expr::IsNotNull(Box::new(e))
}

/// `expr [NOT] ILIKE 'pattern' ESCAPE '\'` (LIKE when case-sensitive).
pub fn like(e: Expr, pattern: &str, case_sensitive: bool, negated: bool) -> Expr {
    let pattern = Box::new(string(pattern));
    let escape_char = Some(Value::SingleQuotedString("\\".into()).into());
    if case_sensitive {
        Expr::Like {
            negated,
            any: false,
            expr: Box::new(e),
            pattern,
            escape_char,
        }
    } else {
        Expr::ILike {
            negated,
            any: false,
            expr: Box::new(e),
            pattern,
            escape_char,
        }
    }
}

pub fn order(e: Expr, descending: bool) -> OrderByExpr {
    OrderByExpr {
        expr: e,
        options: OrderByOptions {
            asc: Some(!descending),
            nulls_first: Some(false),
        },
        with_fill: None,
    }
}

pub fn item(e: Expr) -> SelectItem {
    SelectItem::UnnamedExpr(e)
}

pub fn aliased(e: Expr, alias: &str) -> SelectItem {
    SelectItem::ExprWithAlias {
        expr: e,
        alias: ident(alias),
    }
}

/// Parse SQL that is a constant of this module (a skeleton the builder then fills in).
pub fn template(sql: &str) -> Query {
    let mut statements = Parser::parse_sql(&GenericDialect {}, sql).expect("template SQL parses");
    match statements.pop() {
        Some(sqlparser::ast::Statement::Query(q)) => *q,
        _ => unreachable!("template is a query"),
    }
}

/// The SELECT inside a template query.
pub fn select_mut(q: &mut Query) -> &mut sqlparser::ast::Select {
    match q.body.as_mut() {
        SetExpr::Select(s) => s,
        _ => unreachable!("template body is a SELECT"),
    }
}

/// An expression from a fixed template in which `$0`…`$9` stand for already-built
/// expressions. The template is ours; the arguments are rendered by sqlparser, so user text
/// still enters only as escaped nodes, and the text inserted is not scanned again.
pub fn expr_template(template: &str, args: &[&Expr]) -> Expr {
    let mut text = String::with_capacity(template.len() + 32 * args.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(i)) => {
                chars.next();
                text.push('(');
                text.push_str(&args[i as usize].to_string());
                text.push(')');
            }
            _ => text.push(c),
        }
    }
    Parser::new(&GenericDialect {})
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_expr())
        .expect("template expression parses")
}
