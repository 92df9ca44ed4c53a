//! Small constructors the grammar's actions call, including the checks that need a value
//! (assignment targets, tuple indexes, C field declarators).

use lalrpop_util::ParseError;

use crate::ast::*;
use crate::lex::Tok;
use crate::span::Span;

/// A syntax error found by a grammar action rather than by the parse tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub label: String,
    pub help: Option<String>,
    pub span: Span,
}

type ActionResult<'a, T> = Result<T, ParseError<usize, Tok<'a>, SyntaxError>>;

fn fail<'a, T>(message: &str, label: &str, help: Option<&str>, span: Span) -> ActionResult<'a, T> {
    Err(ParseError::User {
        error: SyntaxError {
            message: message.into(),
            label: label.into(),
            help: help.map(Into::into),
            span,
        },
    })
}

pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr, span: Span) -> Expr {
    Expr::new(
        ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    )
}

/// `e[i]`; on a bare map written with a space before `[` (`@m [k]`) it is the map's key.
pub fn index(expr: Expr, index: Expr, span: Span) -> Expr {
    match expr.kind {
        ExprKind::Map { name, keys } if keys.is_empty() => Expr::new(
            ExprKind::Map {
                name,
                keys: vec![index],
            },
            span,
        ),
        kind => Expr::new(
            ExprKind::Index {
                expr: Box::new(Expr::new(kind, expr.span)),
                index: Box::new(index),
            },
            span,
        ),
    }
}

pub fn update(target: Expr, increment: bool, prefix: bool, span: Span) -> Expr {
    Expr::new(
        ExprKind::Update {
            target: Box::new(target),
            increment,
            prefix,
        },
        span,
    )
}

pub fn assign<'a>(
    target: Expr,
    op: Option<BinaryOp>,
    value: Expr,
    span: Span,
) -> ActionResult<'a, Stmt> {
    // `_ = expr;` discards a value.
    let discard = matches!(&target.kind, ExprKind::Ident(n) if n == "_");
    let assignable = discard
        || matches!(
            target.kind,
            ExprKind::Var(_)
                | ExprKind::Map { .. }
                | ExprKind::Field { .. }
                | ExprKind::Index { .. }
        );
    if !assignable {
        return fail(
            "cannot assign to this expression",
            "not a variable or map",
            Some("assign to a scratch variable (`$x = ...`) or a map (`@m[key] = ...`)"),
            target.span,
        );
    }
    Ok(Stmt {
        kind: StmtKind::Assign { target, op, value },
        span,
    })
}

pub fn tuple_index<'a>(expr: Expr, index: u64, span: Span) -> ActionResult<'a, Expr> {
    match u32::try_from(index) {
        Ok(index) => Ok(Expr::new(
            ExprKind::TupleIndex {
                expr: Box::new(expr),
                index,
            },
            span,
        )),
        Err(_) => fail("tuple index out of range", "far too large", None, span),
    }
}

/// `unsigned int a, b;` (or `a:4, b:8;`) gives two fields: the last word of the first declarator is its name.
pub fn c_fields<'a>(
    words: Vec<(String, Span)>,
    array: Vec<u64>,
    bits: Option<u64>,
    more: Vec<(Ident, Option<u64>)>,
    span: Span,
) -> ActionResult<'a, Vec<CField>> {
    let Some(((name, name_span), type_words)) = words.split_last() else {
        return fail("expected a field", "empty declaration", None, span);
    };
    if type_words.is_empty() || name == "*" {
        return fail(
            "a field needs a type and a name",
            "expected `type name;`",
            Some("write the field as in C, e.g. `unsigned int nr_running;`"),
            span,
        );
    }
    let type_words: Vec<String> = type_words.iter().map(|(w, _)| w.clone()).collect();
    let mut fields = vec![CField {
        type_words: type_words.clone(),
        name: Ident {
            name: name.clone(),
            span: *name_span,
        },
        array,
        bits,
        span,
    }];
    fields.extend(more.into_iter().map(|(name, bits)| CField {
        type_words: type_words.clone(),
        name,
        array: Vec::new(),
        bits,
        span,
    }));
    Ok(fields)
}

/// `macro name(params) { stmts last }`: `last`, an expression with no `;` after it, is the
/// macro's value; any other statement there is just the body's last.
pub fn macro_def(
    name: Ident,
    params: Vec<Expr>,
    mut stmts: Vec<Stmt>,
    last: Option<Stmt>,
    body: Span,
    span: Span,
) -> Macro {
    let value = match last {
        Some(Stmt {
            kind: StmtKind::Expr(e),
            ..
        }) => Some(Box::new(e)),
        Some(other) => {
            stmts.push(other);
            None
        }
        None => None,
    };
    Macro {
        name,
        params,
        body: Block { stmts, span: body },
        value,
        span,
    }
}

/// A block used as a value whose last statement is an `if` with an `else`: the `if` is the
/// value (each branch's last expression). Any other block without a last expression is an
/// error, since it has no value.
pub fn block_ending_in_if<'a>(stmts: Vec<Stmt>, span: Span) -> ActionResult<'a, Expr> {
    let block = Block { stmts, span };
    match block.into_value() {
        Some(e) => Ok(e),
        None => fail(
            "this block has no value",
            "a block used as a value",
            Some("end it with an expression and no `;`, e.g. `{ let $a = 1; $a }`"),
            span,
        ),
    }
}
