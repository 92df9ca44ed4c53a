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

/// One of the field declarators after the first: `*name[2][3] : 4`.
pub type CDeclarator = (u32, Ident, Vec<u64>, Option<u64>);

/// `unsigned int a, *b, c[4];` (or `a:4, b:8;`) gives a field each: the last word of the first
/// declarator is its name, the `*`s ending its words are its own, and the others take the
/// words before them and their own `*`s, as in C.
pub fn c_fields<'a>(
    words: Vec<(String, Span)>,
    array: Vec<u64>,
    bits: Option<u64>,
    more: Vec<CDeclarator>,
    span: Span,
) -> ActionResult<'a, Vec<CField>> {
    let Some(((name, name_span), type_words)) = words.split_last() else {
        return fail("expected a field", "empty declaration", None, span);
    };
    let tagged = matches!(
        type_words.last().map(|(w, _)| w.as_str()),
        Some("struct" | "union" | "enum")
    );
    if type_words.is_empty() || name == "*" || tagged {
        return fail(
            "a field needs a type and a name",
            "expected `type name;`",
            Some("write the field as in C, e.g. `unsigned int nr_running;`"),
            span,
        );
    }
    let type_words: Vec<String> = type_words.iter().map(|(w, _)| w.clone()).collect();
    let base_len = type_words.len() - type_words.iter().rev().take_while(|w| *w == "*").count();
    let base = &type_words[..base_len];
    let mut fields = vec![CField {
        type_words: type_words.clone(),
        defined: None,
        name: Ident {
            name: name.clone(),
            span: *name_span,
        },
        array,
        bits,
        span,
    }];
    fields.extend(more.into_iter().map(|(stars, name, array, bits)| {
        let mut words = base.to_vec();
        words.extend((0..stars).map(|_| "*".to_string()));
        CField {
            type_words: words,
            defined: None,
            name,
            array,
            bits,
            span,
        }
    }));
    Ok(fields)
}

/// `struct Bar { int x; } bar, *p;`: the first field holds the definition, the others name
/// it (or, for an anonymous one, hold a copy). No declarator at all is an anonymous member
/// (`union { int a; long b; };`), which only a struct or union can be.
pub fn nested_fields<'a>(
    def: CDefinition,
    declarators: Vec<CDeclarator>,
    span: Span,
) -> ActionResult<'a, Vec<CField>> {
    if declarators.is_empty() {
        if def.kind == Aggregate::Enum || def.name.is_some() {
            return fail(
                "a field needs a name",
                "this defines a type but no field",
                Some("name the field after the `}`, e.g. `} flags;`"),
                span,
            );
        }
        return Ok(vec![CField {
            type_words: Vec::new(),
            defined: Some(Box::new(def)),
            name: Ident {
                name: String::new(),
                span,
            },
            array: Vec::new(),
            bits: None,
            span,
        }]);
    }
    let mut fields = Vec::new();
    for (i, (stars, name, array, bits)) in declarators.into_iter().enumerate() {
        let stars = (0..stars).map(|_| "*".to_string());
        let (type_words, defined) = match &def.name {
            Some(n) if i > 0 => {
                let mut w = vec![aggregate_keyword(def.kind).to_string(), n.name.clone()];
                w.extend(stars);
                (w, None)
            }
            _ => (stars.collect(), Some(Box::new(def.clone()))),
        };
        fields.push(CField {
            type_words,
            defined,
            name,
            array,
            bits,
            span,
        });
    }
    Ok(fields)
}

/// `__attribute__((packed, aligned(8)))`: the layout attributes clang honours for a
/// definition; any other is refused, since its effect on the layout is not known here.
pub fn c_attributes<'a>(
    word: &str,
    items: Vec<(Ident, Option<u64>)>,
    span: Span,
) -> ActionResult<'a, Vec<CAttribute>> {
    if word != "__attribute__" {
        return fail(
            "expected `__attribute__((...))` or the next item after a definition",
            "unexpected word",
            None,
            span,
        );
    }
    items
        .into_iter()
        .map(|(name, value)| match (name.name.trim_matches('_'), value) {
            ("packed", None) => Ok(CAttribute::Packed),
            ("aligned", None) => Ok(CAttribute::Aligned(16)),
            ("aligned", Some(n)) if n.is_power_of_two() => Ok(CAttribute::Aligned(n)),
            ("aligned", Some(_)) => fail(
                "the alignment must be a power of two",
                "not a power of two",
                None,
                name.span,
            ),
            _ => fail(
                "only the `packed` and `aligned` attributes are supported on a definition",
                "unsupported attribute",
                None,
                name.span,
            ),
        })
        .collect()
}

/// A type name in a cast or declaration: a fixed-width C integer typedef (`uint64_t`,
/// `__u32`, `size_t`) is the script's integer of that width (`uint64`), so that the checker
/// and everything after treat the two alike; other names are typedefs for resolve to find.
pub fn named_type(name: &str) -> TypeBase {
    match fixed_width_integer(name) {
        Some((size, signed)) => {
            TypeBase::Builtin(format!("{}int{}", if signed { "" } else { "u" }, size * 8))
        }
        None => TypeBase::Named(name.to_string()),
    }
}

pub fn aggregate_keyword(kind: Aggregate) -> &'static str {
    match kind {
        Aggregate::Struct => "struct",
        Aggregate::Union => "union",
        Aggregate::Enum => "enum",
    }
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
