//! Prints a tree as script text. The output parses back to the same tree (spans aside):
//! parentheses are added exactly where precedence needs them, `#define`s are already
//! substituted, and every simple statement ends in `;`.

use std::fmt::Write;

use super::*;

pub fn print_program(program: &Program) -> String {
    let mut p = Printer::default();
    for (i, item) in program.items.iter().enumerate() {
        if i > 0 {
            p.out.push('\n');
        }
        p.item(item);
    }
    p.out
}

#[derive(Default)]
struct Printer {
    out: String,
    indent: usize,
}

/// Binding strength, weakest first; a child weaker than its slot needs parentheses.
mod prec {
    /// First in a statement, where a bare `{` would open a block statement: block and `if`
    /// expressions there are parenthesised.
    pub const STMT: u8 = 1;
    pub const TERNARY: u8 = 1;
    pub const UNARY: u8 = 12;
    pub const POSTFIX: u8 = 13;
    pub const PRIMARY: u8 = 14;
}

fn binary_prec(op: BinaryOp) -> u8 {
    use BinaryOp::*;
    match op {
        Or => 2,
        And => 3,
        BitOr => 4,
        BitXor => 5,
        BitAnd => 6,
        Eq | Ne => 7,
        Lt | Le | Gt | Ge => 8,
        Shl | Shr => 9,
        Add | Sub => 10,
        Mul | Div | Rem => 11,
    }
}

fn expr_prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Ternary { .. } => prec::TERNARY,
        ExprKind::Block { .. } | ExprKind::IfElse { .. } => 0,
        ExprKind::Binary { op, .. } => binary_prec(*op),
        ExprKind::Unary { .. } | ExprKind::Cast { .. } => prec::UNARY,
        ExprKind::Update { prefix: true, .. } => prec::UNARY,
        ExprKind::Update { prefix: false, .. }
        | ExprKind::Field { .. }
        | ExprKind::Index { .. }
        | ExprKind::TupleIndex { .. } => prec::POSTFIX,
        _ => prec::PRIMARY,
    }
}

impl Printer {
    fn line_start(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Probe(p) => {
                let points: Vec<&str> = p.attach_points.iter().map(|a| a.text.as_str()).collect();
                self.out.push_str(&points.join(",\n"));
                if let Some(pred) = &p.predicate {
                    self.out.push_str(" /");
                    self.expr(pred, 0);
                    self.out.push('/');
                }
                self.out.push(' ');
                if p.angle_body {
                    self.out.push_str("<\n");
                    self.indent += 1;
                    self.stmts(&p.body.stmts);
                    self.indent -= 1;
                    self.out.push_str(">\n");
                } else {
                    self.block(&p.body);
                    self.out.push('\n');
                }
            }
            Item::Config(c) => {
                self.out.push_str("config = {\n");
                for e in &c.entries {
                    let _ = write!(self.out, "  {} = ", e.key.name);
                    self.expr(&e.value, 0);
                    self.out.push_str(";\n");
                }
                self.out.push_str("}\n");
            }
            Item::Macro(m) => {
                let _ = write!(self.out, "macro {}(", m.name.name);
                self.comma_list(&m.params);
                self.out.push_str(") {\n");
                self.indent += 1;
                self.stmts(&m.body.stmts);
                if let Some(value) = &m.value {
                    self.line_start();
                    self.expr(value, prec::STMT);
                    self.out.push('\n');
                }
                self.indent -= 1;
                self.out.push_str("}\n");
            }
            Item::Function(f) => {
                let _ = write!(self.out, "fn {}(", f.name.name);
                for (i, (name, ty)) in f.params.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    let _ = write!(self.out, "${}: ", name.name);
                    self.type_name(ty);
                }
                self.out.push(')');
                if let Some(ty) = &f.returns {
                    self.out.push_str(": ");
                    self.type_name(ty);
                }
                self.out.push(' ');
                self.block(&f.body);
                self.out.push('\n');
            }
            Item::Import(i) => {
                self.out.push_str("import ");
                self.string(&i.path);
                self.out.push_str(";\n");
            }
            Item::MapDecl(m) => {
                let _ = write!(self.out, "let @{} = {}(", m.map.name, m.kind.name);
                self.comma_list(&m.args);
                self.out.push_str(");\n");
            }
            Item::CDefinition(d) => {
                self.c_definition(d, 0);
                self.out.push_str(";\n");
            }
        }
    }

    /// A C definition at `depth` levels of nesting; the caller ends it (`;` or a field name).
    fn c_definition(&mut self, d: &CDefinition, depth: usize) {
        let pad = "  ".repeat(depth + 1);
        self.out.push_str(aggregate_word(d.kind));
        if let Some(n) = &d.name {
            let _ = write!(self.out, " {}", n.name);
        }
        self.out.push_str(" {\n");
        match &d.body {
            CBody::Fields(fields) => {
                for f in fields {
                    self.out.push_str(&pad);
                    if let Some(inner) = &f.defined {
                        self.c_definition(inner, depth + 1);
                        self.out.push(' ');
                    }
                    let _ = write!(self.out, "{} {}", f.type_words.join(" "), f.name.name);
                    for n in &f.array {
                        let _ = write!(self.out, "[{n}]");
                    }
                    if let Some(b) = f.bits {
                        let _ = write!(self.out, " : {b}");
                    }
                    self.out.push_str(";\n");
                }
            }
            CBody::Enumerators(values) => {
                for (name, value) in values {
                    let _ = write!(self.out, "{pad}{}", name.name);
                    if let Some(v) = value {
                        self.out.push_str(" = ");
                        self.expr(v, prec::TERNARY);
                    }
                    self.out.push_str(",\n");
                }
            }
        }
        let _ = write!(self.out, "{}}}", "  ".repeat(depth));
        for a in &d.attributes {
            match a {
                CAttribute::Packed => self.out.push_str(" __attribute__((packed))"),
                CAttribute::Aligned(n) => {
                    let _ = write!(self.out, " __attribute__((aligned({n})))");
                }
            }
        }
    }

    fn block(&mut self, block: &Block) {
        self.out.push_str("{\n");
        self.indent += 1;
        self.stmts(&block.stmts);
        self.indent -= 1;
        self.line_start();
        self.out.push('}');
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.line_start();
            self.stmt(s);
            self.out.push('\n');
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.expr(e, prec::STMT);
                self.out.push(';');
            }
            StmtKind::Assign { target, op, value } => {
                self.expr(target, prec::POSTFIX);
                let _ = write!(self.out, " {}= ", op.map_or("", BinaryOp::symbol));
                self.expr(value, 0);
                self.out.push(';');
            }
            StmtKind::Let { var, ty, value } => {
                let _ = write!(self.out, "let ${}", var.name);
                if let Some(ty) = ty {
                    self.out.push_str(": ");
                    self.type_name(ty);
                }
                if let Some(v) = value {
                    self.out.push_str(" = ");
                    self.expr(v, 0);
                }
                self.out.push(';');
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.out.push_str("if (");
                self.expr(cond, 0);
                self.out.push_str(") ");
                self.block(then);
                if let Some(other) = otherwise {
                    self.out.push_str(" else ");
                    self.stmt(other);
                }
            }
            StmtKind::While { cond, body } => {
                self.out.push_str("while (");
                self.expr(cond, 0);
                self.out.push_str(") ");
                self.block(body);
            }
            StmtKind::Unroll { count, body } => {
                self.out.push_str("unroll (");
                self.expr(count, 0);
                self.out.push_str(") ");
                self.block(body);
            }
            StmtKind::For { var, iter, body } => {
                let _ = write!(self.out, "for (${} : ", var.name);
                match iter {
                    ForIter::Map(m) => self.expr(m, 0),
                    ForIter::Range(a, b) => {
                        self.expr(a, prec::UNARY);
                        self.out.push_str("..");
                        self.expr(b, prec::UNARY);
                    }
                }
                self.out.push_str(") ");
                self.block(body);
            }
            StmtKind::Break => self.out.push_str("break;"),
            StmtKind::Continue => self.out.push_str("continue;"),
            StmtKind::Return(v) => {
                self.out.push_str("return");
                if let Some(v) = v {
                    self.out.push(' ');
                    self.expr(v, 0);
                }
                self.out.push(';');
            }
            StmtKind::Block(b) => self.block(b),
        }
    }

    fn comma_list(&mut self, exprs: &[Expr]) {
        for (i, e) in exprs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.expr(e, prec::TERNARY);
        }
    }

    /// Prints `e`, in parentheses when it binds more weakly than `min`.
    fn expr(&mut self, e: &Expr, min: u8) {
        let parens = expr_prec(e) < min;
        if parens {
            self.out.push('(');
        }
        self.expr_bare(e);
        if parens {
            self.out.push(')');
        }
    }

    fn expr_bare(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(n) => {
                let _ = write!(self.out, "{n}");
            }
            ExprKind::Str(s) => self.string(s),
            ExprKind::Bool(b) => {
                let _ = write!(self.out, "{b}");
            }
            ExprKind::Ident(n) => self.out.push_str(n),
            ExprKind::Var(n) => {
                let _ = write!(self.out, "${n}");
            }
            ExprKind::Positional(n) => {
                let _ = write!(self.out, "${n}");
            }
            ExprKind::PositionalCount => self.out.push_str("$#"),
            ExprKind::Map { name, keys } => {
                let _ = write!(self.out, "@{}", name.name);
                if !keys.is_empty() {
                    self.out.push('[');
                    self.comma_list(keys);
                    self.out.push(']');
                }
            }
            ExprKind::Call { name, args } => {
                let _ = write!(self.out, "{}(", name.name);
                self.comma_list(args);
                self.out.push(')');
            }
            ExprKind::Unary { op, expr } => {
                self.out.push_str(op.symbol());
                // `- -x` must not print as `--x`, which is a decrement.
                let min = if matches!(expr.kind, ExprKind::Unary { .. } | ExprKind::Update { .. }) {
                    prec::PRIMARY
                } else {
                    prec::UNARY
                };
                self.expr(expr, min);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let p = binary_prec(*op);
                self.expr(lhs, p);
                let _ = write!(self.out, " {} ", op.symbol());
                self.expr(rhs, p + 1);
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, prec::TERNARY + 1);
                self.out.push_str(" ? ");
                self.expr(then, prec::TERNARY);
                self.out.push_str(" : ");
                self.expr(otherwise, prec::TERNARY);
            }
            ExprKind::Update {
                target,
                increment,
                prefix,
            } => {
                let op = if *increment { "++" } else { "--" };
                if *prefix {
                    self.out.push_str(op);
                    self.expr(target, prec::PRIMARY);
                } else {
                    self.expr(target, prec::POSTFIX);
                    self.out.push_str(op);
                }
            }
            ExprKind::Cast { ty, expr } => {
                self.out.push('(');
                self.type_name(ty);
                self.out.push(')');
                self.expr(expr, prec::UNARY);
            }
            ExprKind::Field { expr, field, arrow } => {
                self.expr(expr, prec::POSTFIX);
                self.out.push_str(if *arrow { "->" } else { "." });
                self.out.push_str(&field.name);
            }
            ExprKind::Index { expr, index } => {
                self.expr(expr, prec::POSTFIX);
                self.out.push('[');
                self.expr(index, 0);
                self.out.push(']');
            }
            ExprKind::TupleIndex { expr, index } => {
                self.expr(expr, prec::POSTFIX);
                let _ = write!(self.out, ".{index}");
            }
            ExprKind::Tuple(items) => {
                self.out.push('(');
                self.comma_list(items);
                if items.len() == 1 {
                    self.out.push(',');
                }
                self.out.push(')');
            }
            ExprKind::Record(fields) => {
                self.out.push('(');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    let _ = write!(self.out, "{} = ", name.name);
                    self.expr(value, prec::TERNARY);
                }
                self.out.push(')');
            }
            ExprKind::SizeofType(ty) => {
                self.out.push_str("sizeof(");
                self.type_name(ty);
                self.out.push(')');
            }
            ExprKind::SizeofExpr(e) => {
                self.out.push_str("sizeof(");
                self.expr(e, 0);
                self.out.push(')');
            }
            ExprKind::Offsetof { ty, field } => {
                self.out.push_str("offsetof(");
                self.type_name(ty);
                self.out.push_str(", ");
                let path: Vec<&str> = field.iter().map(|f| f.name.as_str()).collect();
                self.out.push_str(&path.join("."));
                self.out.push(')');
            }
            ExprKind::OffsetofExpr { expr, field } => {
                self.out.push_str("offsetof(");
                self.expr(expr, 0);
                self.out.push_str(", ");
                let path: Vec<&str> = field.iter().map(|f| f.name.as_str()).collect();
                self.out.push_str(&path.join("."));
                self.out.push(')');
            }
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                self.out.push_str("if (");
                self.expr(cond, 0);
                self.out.push_str(") ");
                self.expr(then, 0);
                self.out.push_str(" else ");
                self.expr(otherwise, 0);
            }
            ExprKind::Block { block, value } => {
                self.out.push_str("{\n");
                self.indent += 1;
                self.stmts(&block.stmts);
                self.line_start();
                self.expr(value, prec::STMT);
                self.out.push('\n');
                self.indent -= 1;
                self.line_start();
                self.out.push('}');
            }
            ExprKind::Typeof(t) => self.type_of(t),
        }
    }

    fn type_of(&mut self, t: &TypeOf) {
        self.out.push_str("typeof(");
        match t {
            TypeOf::Type(ty) => self.type_name(ty),
            TypeOf::Expr(e) => self.expr(e, 0),
        }
        self.out.push(')');
    }

    fn type_name(&mut self, ty: &TypeName) {
        match &ty.base {
            TypeBase::Builtin(n) | TypeBase::Named(n) => self.out.push_str(n),
            TypeBase::Aggregate(k, n) => {
                let _ = write!(self.out, "{} {}", aggregate_word(*k), n);
            }
            TypeBase::Typeof(t) => self.type_of(t),
        }
        if ty.pointers > 0 {
            self.out.push(' ');
            for _ in 0..ty.pointers {
                self.out.push('*');
            }
        }
        match ty.array {
            Some(ArraySize::Fixed(n)) => {
                let _ = write!(self.out, "[{n}]");
            }
            Some(ArraySize::Inferred) => self.out.push_str("[]"),
            None => {}
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\t' => self.out.push_str("\\t"),
                '\r' => self.out.push_str("\\r"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(self.out, "\\x{:02x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

fn aggregate_word(kind: Aggregate) -> &'static str {
    match kind {
        Aggregate::Struct => "struct",
        Aggregate::Union => "union",
        Aggregate::Enum => "enum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    /// The tree's debug form with every span blanked, so trees from different texts compare.
    fn shape(program: &Program) -> String {
        let text = format!("{:?}", program.items);
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find("Span { start: ") {
            out.push_str(&rest[..at]);
            let end = rest[at..].find('}').map_or(rest.len(), |e| at + e + 1);
            out.push_str("Span");
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    fn round_trip(source: &str) {
        let first = parse(source).unwrap_or_else(|d| panic!("{}", d.message));
        let printed = print_program(&first);
        let second = parse(&printed)
            .unwrap_or_else(|d| panic!("printed text does not parse: {}\n{printed}", d.message));
        assert_eq!(shape(&first), shape(&second), "printed:\n{printed}");
    }

    #[test]
    fn precedence_and_forms_survive_printing() {
        round_trip(
            "k:f /a - (b - c) == 1/ { @[(1, 2)] = count(); $x = -(-1); $y = (a ? b : c) ? d : e; \
             $z = a ?: b; if (x) { } else if y { } else { } for $kv : @m { } \
             $c = (struct task_struct *)curtask; $s = sizeof(struct s); $t = $t2.0.1; \
             $b = { let $w = 1; $w + 1 }; $v = if (1) { 2 } else { 3 }; _ = f(); \
             @h = hist(x, 2); unroll(3) { $i++; } --$j; $q = *$p; $a = (int8[])\"x\"; }",
        );
    }

    #[test]
    fn every_construct_script_round_trips() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/scripts/constructs");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).expect("construct scripts") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "bt") {
                round_trip(&std::fs::read_to_string(&path).expect("read script"));
                count += 1;
            }
        }
        assert!(count >= 25, "only {count} construct scripts found");
    }
}
