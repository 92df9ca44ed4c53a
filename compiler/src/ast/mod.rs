//! The syntax tree. Every node carries the byte span of the text it came from, so every later
//! phase can point a diagnostic at what the user wrote. `print` turns a tree back into text
//! that parses to the same tree (`-d ast`). The parser leaves every expression untyped;
//! resolve fills in what it learns about one (`Expr::kernel`), so the typed program lower
//! reads is this tree, not a table beside it.

mod print;
// Public: the runtime walks a script's expressions too (metrics name their labels from them).
pub mod visit;

pub use print::print_program;

use crate::lex::Directive;
use crate::span::Span;
use crate::types::KernelAccess;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub items: Vec<Item>,
    /// Preprocessor lines, in order (not part of the tree proper; kept for `-d ast` notes).
    pub directives: Vec<Directive>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Probe(Probe),
    Config(Config),
    Macro(Macro),
    Function(Function),
    Import(Import),
    CDefinition(CDefinition),
    MapDecl(MapDecl),
}

/// `let @name = lruhash(4096);` at the top level: a map with an explicit kind and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDecl {
    pub map: Ident,
    pub kind: Ident,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// The BPF map kinds a declaration may name, as bpftrace names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapDeclKind {
    Hash,
    LruHash,
    PercpuHash,
    PercpuLruHash,
}

impl MapDeclKind {
    pub const ALL: [MapDeclKind; 4] = [
        MapDeclKind::Hash,
        MapDeclKind::LruHash,
        MapDeclKind::PercpuHash,
        MapDeclKind::PercpuLruHash,
    ];

    pub fn from_name(name: &str) -> Option<MapDeclKind> {
        MapDeclKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            MapDeclKind::Hash => "hash",
            MapDeclKind::LruHash => "lruhash",
            MapDeclKind::PercpuHash => "percpuhash",
            MapDeclKind::PercpuLruHash => "percpulruhash",
        }
    }

    /// Per-CPU kinds hold aggregations (`count()`, `hist()`, ...); the others plain values.
    pub fn per_cpu(self) -> bool {
        matches!(self, MapDeclKind::PercpuHash | MapDeclKind::PercpuLruHash)
    }
}

impl MapDecl {
    /// The declared kind and size, when the declaration is well formed (check reports it
    /// otherwise).
    pub fn kind_and_size(&self) -> Option<(MapDeclKind, u64)> {
        let kind = MapDeclKind::from_name(&self.kind.name)?;
        match self.args.as_slice() {
            [Expr {
                kind: ExprKind::Int(n),
                ..
            }] => Some((kind, *n)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub attach_points: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Block,
    /// `{ ... }` or the mission's `< ... >`.
    pub angle_body: bool,
    pub span: Span,
}

/// An attach point exactly as written; `parse::attach` splits it into provider and parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachPoint {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub entries: Vec<ConfigEntry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `macro name(params) { body }`: expanded at each call site (`macros::expand`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Macro {
    pub name: Ident,
    pub params: Vec<Expr>,
    pub body: Block,
    /// The body's last expression when no `;` follows it: the macro's value. It is not in
    /// `body.stmts`.
    pub value: Option<Box<Expr>>,
    pub span: Span,
}

/// `fn name($a: type, ...): type { body }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: Ident,
    pub params: Vec<(Ident, TypeName)>,
    pub returns: Option<TypeName>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

/// A C `struct`/`union`/`enum` definition written in the script, as older tools do for
/// kernels without BTF; also one written inside a struct as a field's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CDefinition {
    pub kind: Aggregate,
    /// `None` for an anonymous one (`enum { A, B }`, `struct { int x; } y;` in a struct).
    pub name: Option<Ident>,
    pub body: CBody,
    /// `__attribute__((packed, aligned(8)))` after the closing brace.
    pub attributes: Vec<CAttribute>,
    pub span: Span,
}

impl CDefinition {
    /// This definition and every one written inside it, innermost first (the order a C
    /// compiler completes them in).
    pub fn with_nested(&self) -> Vec<&CDefinition> {
        let mut out = Vec::new();
        if let CBody::Fields(fields) = &self.body {
            for f in fields {
                if let Some(d) = &f.defined {
                    out.extend(d.with_nested());
                }
            }
        }
        out.push(self);
        out
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CBody {
    /// A struct's or union's fields.
    Fields(Vec<CField>),
    /// An enum's enumerators, with their explicit values.
    Enumerators(Vec<(Ident, Option<Expr>)>),
}

/// What a definition's `__attribute__((...))` asks of its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CAttribute {
    /// No padding: every member at alignment 1.
    Packed,
    /// At least this alignment in bytes (`aligned` alone is the target's largest, 16).
    Aligned(u64),
}

/// A field as written: its type's words (`unsigned`, `int`, `*`, `struct`, `x`) and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CField {
    /// With `defined`, only the `*`s after the definition.
    pub type_words: Vec<String>,
    /// A struct, union or enum defined in place as this field's type
    /// (`struct Bar { int x; } bar;`).
    pub defined: Option<Box<CDefinition>>,
    /// Empty for an anonymous member (`union { int a; long b; };`), whose members are read
    /// as the enclosing struct's.
    pub name: Ident,
    /// `[N]` after the name, outermost first (`int y[2][3]` is `[2, 3]`).
    pub array: Vec<u64>,
    /// `: N` after the name.
    pub bits: Option<u64>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Struct,
    Union,
    Enum,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

impl Block {
    /// The block as an expression, `{ stmts; v }`, when it ends in one: an expression
    /// statement, an `if` with an `else` whose branches do (`{ if c { a } else { b } }`), or
    /// a block that does (`{ let $a = 1; { $a } }`).
    pub fn into_value(mut self) -> Option<Expr> {
        let last = self.stmts.pop()?;
        let value = match last.kind {
            StmtKind::Expr(e) => e,
            StmtKind::If { .. } => last.into_value()?,
            StmtKind::Block(inner) => inner.into_value()?,
            _ => return None,
        };
        let span = self.span;
        Some(Expr::new(
            ExprKind::Block {
                block: self,
                value: Box::new(value),
            },
            span,
        ))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    Expr(Expr),
    /// `target = value`, or `target op= value` when `op` is set.
    Assign {
        target: Expr,
        op: Option<BinaryOp>,
        value: Expr,
    },
    Let {
        var: Ident,
        ty: Option<TypeName>,
        value: Option<Expr>,
    },
    If {
        cond: Expr,
        then: Block,
        /// `else { }` is a `Block` statement; `else if` is an `If` statement.
        otherwise: Option<Box<Stmt>>,
    },
    While {
        cond: Expr,
        body: Block,
    },
    Unroll {
        count: Expr,
        body: Block,
    },
    For {
        var: Ident,
        iter: ForIter,
        body: Block,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    Block(Block),
}

impl Stmt {
    /// An `if`/`else` statement whose branches end in expressions, as an `if` expression.
    pub fn into_value(self) -> Option<Expr> {
        let StmtKind::If {
            cond,
            then,
            otherwise: Some(otherwise),
        } = self.kind
        else {
            return None;
        };
        let otherwise = match otherwise.kind {
            StmtKind::Block(b) => b.into_value()?,
            StmtKind::If { .. } => otherwise.into_value()?,
            _ => return None,
        };
        Some(Expr::new(
            ExprKind::IfElse {
                cond: Box::new(cond),
                then: Box::new(then.into_value()?),
                otherwise: Box::new(otherwise),
            },
            self.span,
        ))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForIter {
    Map(Expr),
    Range(Expr, Expr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// How this expression reads kernel-typed memory (a member, deref or index of a BTF
    /// type, or a `sizeof`/`offsetof`/enumerator constant): `None` out of the parser, filled
    /// by `resolve::kernel_types` for the expressions that have one.
    pub kernel: Option<Box<KernelAccess>>,
    /// For a builtin call that macro expansion copied out of a macro's body: the calls that
    /// expanded it, innermost first (`errorf` prints them as "expanded from"). Empty
    /// elsewhere.
    pub expanded_from: Vec<Span>,
}

impl Expr {
    /// An untyped expression, as the parser builds it.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span,
            kernel: None,
            expanded_from: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Int(u64),
    Str(String),
    Bool(bool),
    /// A bare name: a builtin (`pid`, `comm`), an enum constant, a macro parameter.
    Ident(String),
    /// `$name`.
    Var(String),
    /// `$1`, `$2`, ...
    Positional(u32),
    /// `$#`.
    PositionalCount,
    /// `@name`, `@name[k]`, `@name[k1, k2]`; the name is empty for `@`.
    Map {
        name: Ident,
        keys: Vec<Expr>,
    },
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `x++`, `--x` and friends.
    Update {
        target: Box<Expr>,
        increment: bool,
        prefix: bool,
    },
    Cast {
        ty: TypeName,
        expr: Box<Expr>,
    },
    /// `e.field` or `e->field`.
    Field {
        expr: Box<Expr>,
        field: Ident,
        arrow: bool,
    },
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// `t.0`.
    TupleIndex {
        expr: Box<Expr>,
        index: u32,
    },
    Tuple(Vec<Expr>),
    /// `(a = 1, b = 2)`: a tuple whose fields have names, read as `.a`.
    Record(Vec<(Ident, Expr)>),
    SizeofType(TypeName),
    SizeofExpr(Box<Expr>),
    Offsetof {
        ty: TypeName,
        field: Vec<Ident>,
    },
    /// `offsetof(*curtask, comm)`: the type is the expression's.
    OffsetofExpr {
        expr: Box<Expr>,
        field: Vec<Ident>,
    },
    /// `if c { a } else { b }` used as a value; both branches are block expressions.
    IfElse {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `{ stmts; value }` used as a value.
    Block {
        block: Block,
        value: Box<Expr>,
    },
    /// `typeof(T)` or `typeof(e)` where a value would stand: a macro's argument, or
    /// `sizeof`'s operand. `type_of::eliminate` replaces every one after macro expansion.
    Typeof(Box<TypeOf>),
}

/// What `typeof(...)` names: a type as written, or the type of an expression, which is
/// never evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeOf {
    Type(TypeName),
    Expr(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
    BitNot,
    Deref,
    AddrOf,
    Plus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

impl BinaryOp {
    /// A comparison, `&&` or `||`: its value is a `bool` in the current release.
    pub fn yields_bool(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge | And | Or)
    }

    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Mul => "*",
            Div => "/",
            Rem => "%",
            Add => "+",
            Sub => "-",
            Shl => "<<",
            Shr => ">>",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Eq => "==",
            Ne => "!=",
            BitAnd => "&",
            BitXor => "^",
            BitOr => "|",
            And => "&&",
            Or => "||",
        }
    }
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
            UnaryOp::BitNot => "~",
            UnaryOp::Deref => "*",
            UnaryOp::AddrOf => "&",
            UnaryOp::Plus => "+",
        }
    }
}

/// A type as written in a cast, `let`, `sizeof` or `offsetof`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeName {
    pub base: TypeBase,
    /// How many `*` follow.
    pub pointers: u32,
    /// `[N]` or `[]` after the type, as in `(int8[4])`.
    pub array: Option<ArraySize>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArraySize {
    Fixed(u64),
    /// `[]`: the size comes from the value, as in `(int8[])"abc"`.
    Inferred,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeBase {
    /// `uint32`, `string`, `bool`, ...
    Builtin(String),
    Aggregate(Aggregate, String),
    /// A typedef name, allowed where it cannot be mistaken for a value (`let`, `fn`).
    Named(String),
    /// `typeof(...)` as a type (`(typeof(x)*)p`, `let $y: typeof(x)`): gone after
    /// `type_of::eliminate`, which merges it with the pointers and array written after it.
    Typeof(Box<TypeOf>),
}

/// A fixed-width C integer typedef's size in bytes and signedness: `uint8_t`, `int32_t`,
/// `__u16`, `s64`, `size_t`. The kernel's BTF and the C library agree on these, so a cast
/// or declaration may use them with or without BTF.
pub fn fixed_width_integer(name: &str) -> Option<(u32, bool)> {
    match name {
        "size_t" | "uintptr_t" => return Some((8, false)),
        "ssize_t" | "intptr_t" | "ptrdiff_t" => return Some((8, true)),
        _ => {}
    }
    let name = name.trim_start_matches("__");
    let (signed, digits) = if let Some(d) = name.strip_prefix("uint") {
        (false, d.strip_suffix("_t")?)
    } else if let Some(d) = name.strip_prefix("int") {
        (true, d.strip_suffix("_t")?)
    } else if let Some(d) = name.strip_prefix('u') {
        (false, d)
    } else if let Some(d) = name.strip_prefix('s') {
        (true, d)
    } else {
        return None;
    };
    match digits {
        "8" => Some((1, signed)),
        "16" => Some((2, signed)),
        "32" => Some((4, signed)),
        "64" => Some((8, signed)),
        _ => None,
    }
}
