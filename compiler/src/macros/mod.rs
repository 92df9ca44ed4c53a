//! Macro expansion, the pass between parse and check: each call of a script's `macro` (and
//! each bare name of one without parameters) becomes a copy of the macro's body, and the
//! definitions leave the tree, so no later phase knows macros existed.
//!
//! The copy is hygienic, as in bpftrace: a `$x` parameter is the caller's variable and an
//! `@m` parameter the caller's map (the body may change both); a bare parameter `x` is the
//! argument expression, evaluated again wherever the body names it (a variable or map passed
//! there is read, never changed: it stands as `{ $v }`); every other variable of the body is
//! the body's own, renamed apart from the caller's (`$$inc_1_y`); a map the body names without
//! a parameter is an error. A call's value is the body's last expression when no `;` follows
//! it. Definitions are chosen by their parameters' kinds and number, the first that fits; a
//! call that fits none, a recursive call, a duplicate parameter or definition is a diagnostic
//! at the user's text. A call of a name no macro has is left for check (a builtin, or an
//! unknown function).
//!
//! The forms bpftrace's standard library defines as macros are spelled here too: `pid()` is
//! `pid` and `__builtin_pid` is `pid` for each builtin variable, unless a macro of the script
//! takes that name and arguments.

mod definitions;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::ast::visit::{walk_expr_mut, walk_stmt_mut, VisitorMut};
use crate::ast::{
    Block, Expr, ExprKind, Item, Program, Stmt, StmtKind, TypeBase, TypeName, TypeOf,
};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use tracebound_stdlib as stdlib;

use definitions::{bare_builtin, is_bare_map, Definition, Definitions, Lookup, Param};

/// The program with every macro expanded and the definitions removed.
pub fn expand(mut program: Program) -> Result<Program, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut probes: Vec<Item> = Vec::new();
    {
        let defs = Definitions::read(&program, &mut diags);
        let mut expander = Expander {
            defs: &defs,
            diags: &mut diags,
            chain: Vec::new(),
            call_sites: Vec::new(),
            expansions: 0,
            scope: None,
        };
        for item in &program.items {
            match item {
                Item::Macro(_) => {}
                Item::Probe(p) => {
                    let mut p = p.clone();
                    expander.probe(&mut p);
                    probes.push(Item::Probe(p));
                }
                other => probes.push(other.clone()),
            }
        }
    }
    if diags.iter().any(Diagnostic::is_error) {
        diags.sort_by_key(|d| d.span().start);
        return Err(diags);
    }
    program.items = probes;
    Ok(program)
}

/// What one expansion's body is rewritten with.
struct Scope {
    macro_name: String,
    /// Tells this expansion's own variables apart from every other's.
    id: usize,
    vars: HashMap<String, String>,
    maps: HashMap<String, String>,
    exprs: HashMap<String, Expr>,
}

impl Scope {
    /// The name of a variable the body makes for itself: `$` cannot start a name the user
    /// writes after `$`, so it cannot be one of the caller's (shown as `$$inc_1_y`).
    fn local(&self, name: &str) -> String {
        format!("${}_{}_{}", self.macro_name, self.id, name)
    }

    fn var(&self, name: &str) -> String {
        self.vars
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.local(name))
    }
}

struct Expander<'d, 'p> {
    defs: &'d Definitions<'p>,
    diags: &'d mut Vec<Diagnostic>,
    /// The macros being expanded, outermost first: a call of one of them is recursion.
    chain: Vec<&'p crate::ast::Macro>,
    /// The calls of those macros, outermost first.
    call_sites: Vec<Span>,
    expansions: usize,
    /// `None` in a probe's own code, which keeps its names.
    scope: Option<Scope>,
}

/// A call's expansion: the body's statements and its value.
struct Expansion {
    block: Block,
    value: Option<Expr>,
}

impl<'p> Expander<'_, 'p> {
    /// The expansion `e` stands for, when it calls a macro (or names one without
    /// parameters); `None` when it is something else. Errors are reported and give `None`.
    /// `statement` when `e` stands as a statement.
    fn call(&mut self, e: &Expr, statement: bool) -> Option<Expansion> {
        let defs = self.defs;
        let (name, args, bare) = match &e.kind {
            ExprKind::Call { name, args } => (name.name.as_str(), args.as_slice(), false),
            ExprKind::Ident(n) => (n.as_str(), &[][..], true),
            _ => return None,
        };
        let def = match defs.lookup(name, args) {
            Lookup::Found(def) => def,
            Lookup::Absent => return None,
            // A builtin of this name and arity is what the user means (`cpu()` beside a
            // `macro cpu(x)`).
            Lookup::Mismatch(_) if stdlib::lookup(name).is_some() => return None,
            Lookup::Mismatch(closest) => {
                self.mismatch(e.span, name, args, bare, closest);
                return None;
            }
        };
        if let Some(at) = self.chain.iter().position(|m| std::ptr::eq(*m, def.item)) {
            let mut names: Vec<&str> = self.chain[at..]
                .iter()
                .map(|m| m.name.name.as_str())
                .collect();
            names.push(name);
            self.diags.push(
                Diagnostic::error(
                    format!("recursive macro call: {}", names.join(" > ")),
                    e.span,
                    "calls a macro that is being expanded",
                )
                .with_help("a macro cannot call itself, directly or through others"),
            );
            return None;
        }
        self.call_sites.push(e.span);
        let expansion = self.instantiate(def, args, statement);
        self.call_sites.pop();
        Some(expansion)
    }

    /// The body of `def` for these (already expanded) arguments, itself expanded; `statement`
    /// when the call stands as a statement, whose value is not needed.
    fn instantiate(&mut self, def: &Definition<'p>, args: &[Expr], statement: bool) -> Expansion {
        self.expansions += 1;
        let mut scope = Scope {
            macro_name: def.item.name.name.clone(),
            id: self.expansions,
            vars: HashMap::new(),
            maps: HashMap::new(),
            exprs: HashMap::new(),
        };
        for (param, arg) in def.params.iter().zip(args) {
            match (param, &arg.kind) {
                (Param::Var(p), ExprKind::Var(v)) => {
                    scope.vars.insert(p.clone(), v.clone());
                }
                (Param::Map(p), ExprKind::Map { name, .. }) => {
                    scope.maps.insert(p.clone(), name.name.clone());
                }
                (Param::Name(p), _) => {
                    scope.exprs.insert(p.clone(), value_of(arg));
                }
                _ => unreachable!("lookup found every argument of the parameter's kind"),
            }
        }
        let mut block = def.item.body.clone();
        let mut value = def.item.value.as_deref().cloned();
        // For its value, a body ending in `if c { a } else { b }` has that `if`'s.
        if value.is_none() && !statement {
            value = block.stmts.last().cloned().and_then(Stmt::into_value);
            if value.is_some() {
                block.stmts.pop();
            }
        }
        let outer = self.scope.replace(scope);
        self.chain.push(def.item);
        self.block(&mut block);
        if let Some(v) = &mut value {
            self.expr(v);
        }
        self.chain.pop();
        self.scope = outer;
        Expansion { block, value }
    }

    fn mismatch(
        &mut self,
        span: Span,
        name: &str,
        args: &[Expr],
        bare: bool,
        closest: &Definition,
    ) {
        let mut d = Diagnostic::error(
            format!("call to {name}() has arguments that do not match any definition"),
            span,
            if bare {
                "used without arguments".to_string()
            } else {
                format!("{} argument(s)", args.len())
            },
        );
        if closest.params.len() != args.len() {
            d = d.with_label(
                closest.item.span,
                format!(
                    "the closest definition of {name}() has a different number of arguments. \
                     Expected: {} but got {}",
                    closest.params.len(),
                    args.len()
                ),
            );
            self.diags.push(d);
            return;
        }
        for ((param, arg), written) in closest.params.iter().zip(args).zip(&closest.item.params) {
            let got = match &arg.kind {
                ExprKind::Var(_) => "a variable",
                _ if is_bare_map(arg) => "a map",
                _ => "an expression",
            };
            if matches!(param, Param::Var(_) | Param::Map(_)) && got != param.kind_word() {
                d = d
                    .with_label(
                        arg.span,
                        format!(
                            "{name}() expects {} for arg {} but got {got}",
                            param.kind_word(),
                            param.display()
                        ),
                    )
                    .with_label(written.span, "the argument in the closest definition");
            }
        }
        self.diags.push(d);
    }
}

impl VisitorMut for Expander<'_, '_> {
    fn stmt(&mut self, s: &mut Stmt) {
        if let Some(scope) = &self.scope {
            match &mut s.kind {
                StmtKind::Let { var, .. } if scope.vars.contains_key(&var.name) => {
                    self.diags.push(Diagnostic::error(
                        format!("variable declaration shadows macro arg `${}`", var.name),
                        var.span,
                        "the macro's parameter",
                    ));
                }
                StmtKind::Let { var, .. } | StmtKind::For { var, .. } => {
                    var.name = scope.var(&var.name)
                }
                _ => {}
            }
        }
        if let StmtKind::Let { ty: Some(ty), .. } = &mut s.kind {
            self.type_name(ty);
        }
        if let StmtKind::Expr(e) = &mut s.kind {
            if let Some(block) = self.rewrite(e, true) {
                s.kind = StmtKind::Block(block);
            }
        } else {
            walk_stmt_mut(self, s);
        }
        // `{ stmts; v }` as a statement is the block with `v` its last statement.
        if let StmtKind::Expr(Expr {
            kind: ExprKind::Block { block, value },
            ..
        }) = &mut s.kind
        {
            let mut block = std::mem::replace(
                block,
                Block {
                    stmts: Vec::new(),
                    span: s.span,
                },
            );
            let value = std::mem::replace(value.as_mut(), Expr::new(ExprKind::Int(0), s.span));
            block.stmts.push(Stmt {
                span: value.span,
                kind: StmtKind::Expr(value),
            });
            s.kind = StmtKind::Block(block);
        }
        hoist_aggregation(s);
    }

    fn expr(&mut self, e: &mut Expr) {
        if let Some(block) = self.rewrite(e, false) {
            unreachable!("an expression rewritten for its value is no block: {block:?}");
        }
    }
}

impl Expander<'_, '_> {
    /// Rewrites `e` where it stands: for its value, or as a statement, where a macro call
    /// becomes the block returned.
    fn rewrite(&mut self, e: &mut Expr, statement: bool) -> Option<Block> {
        match &mut e.kind {
            ExprKind::Ident(n) => {
                let arg = self
                    .scope
                    .as_ref()
                    .and_then(|s| s.exprs.get(n.as_str()).cloned());
                if let Some(arg) = arg {
                    *e = arg;
                    return None;
                }
            }
            ExprKind::Var(n) => {
                if let Some(scope) = &self.scope {
                    *n = scope.var(n);
                }
                return None;
            }
            ExprKind::Map { name, .. } => {
                if let Some(scope) = &self.scope {
                    match scope.maps.get(&name.name) {
                        Some(caller) => name.name = caller.clone(),
                        None => self.diags.push(
                            Diagnostic::error(
                                format!(
                                    "unhygienic access to map: `@{}`. Maps must be passed into \
                                     the macro as arguments",
                                    name.name
                                ),
                                name.span,
                                format!("not a parameter of `{}`", scope.macro_name),
                            )
                            .with_help(format!(
                                "add `@{}` to the macro's parameters and pass the map in",
                                name.name
                            )),
                        ),
                    }
                }
                walk_expr_mut(self, e);
                return None;
            }
            ExprKind::Call { args, .. } => {
                for a in args {
                    self.expr(a);
                }
            }
            ExprKind::Cast { ty, .. }
            | ExprKind::SizeofType(ty)
            | ExprKind::Offsetof { ty, .. } => {
                self.type_name(ty);
                walk_expr_mut(self, e);
                return None;
            }
            ExprKind::Typeof(t) => {
                match t.as_mut() {
                    TypeOf::Type(ty) => self.type_name(ty),
                    TypeOf::Expr(inner) => self.expr(inner),
                }
                return None;
            }
            _ => {
                walk_expr_mut(self, e);
                return None;
            }
        }
        let Some(Expansion { mut block, value }) = self.call(e, statement) else {
            builtin_spelling(e);
            e.expanded_from = self.call_sites.iter().rev().copied().collect();
            return None;
        };

        match (value, statement) {
            (Some(v), true) => {
                block.stmts.push(Stmt {
                    span: v.span,
                    kind: StmtKind::Expr(v),
                });
                Some(block)
            }
            (None, true) => Some(block),
            (Some(v), false) if block.stmts.is_empty() => {
                *e = v;
                None
            }
            (Some(v), false) => {
                block.span = e.span;
                *e = Expr::new(
                    ExprKind::Block {
                        block,
                        value: Box::new(v),
                    },
                    e.span,
                );
                None
            }
            (None, false) => {
                self.diags.push(
                    Diagnostic::error("this macro call has no value", e.span, "used as a value")
                        .with_label(block.span, "the macro's body does not end in an expression")
                        .with_help(
                            "end the body with an expression and no `;`, e.g. `{ $x += 1; $x }`",
                        ),
                );
                None
            }
        }
    }
}

impl Expander<'_, '_> {
    /// A type as written in the body: a bare parameter's name there is the type its
    /// argument names (`typeof(uint8)` passed to `a` makes `(a*)p` a `(uint8*)p`), or, for
    /// an argument that is a value, that value's type (`typeof(x)` with `x` bound to `1`).
    fn type_name(&mut self, ty: &mut TypeName) {
        match &mut ty.base {
            TypeBase::Named(n) => {
                let arg = self
                    .scope
                    .as_ref()
                    .and_then(|s| s.exprs.get(n.as_str()).cloned());
                if let Some(arg) = arg {
                    ty.base = TypeBase::Typeof(Box::new(match arg.kind {
                        ExprKind::Typeof(t) => *t,
                        _ => TypeOf::Expr(arg),
                    }));
                }
            }
            TypeBase::Typeof(t) => match t.as_mut() {
                TypeOf::Type(inner) => self.type_name(inner),
                TypeOf::Expr(e) => self.expr(e),
            },
            TypeBase::Builtin(_) | TypeBase::Aggregate(..) => {}
        }
    }
}

/// bpftrace's standard library spells each builtin variable as a call too (`pid()`) and as
/// `__builtin_pid`; both are the variable.
/// `@m = { stmts; avg($x) }` is `{ stmts; @m = avg($x) }`: an aggregation is a map's update,
/// so the block's value assigned to a map (what a macro ending in an aggregation expands to)
/// is the assignment at the block's end. Not where the map's key names a variable the block
/// declares, which the assignment inside would read as the block's own.
fn hoist_aggregation(s: &mut Stmt) {
    let StmtKind::Assign {
        target,
        op: None,
        value,
    } = &mut s.kind
    else {
        return;
    };
    let ExprKind::Block { block, value: last } = &value.kind else {
        return;
    };
    if !matches!(target.kind, ExprKind::Map { .. }) || !ends_in_aggregation(last) {
        return;
    }
    let declared: Vec<&str> = block
        .stmts
        .iter()
        .filter_map(|st| match &st.kind {
            StmtKind::Let { var, .. } => Some(var.name.as_str()),
            _ => None,
        })
        .collect();
    let mut shadowed = false;
    crate::ast::visit::expr(target, &mut |e| {
        shadowed |= matches!(&e.kind, ExprKind::Var(v) if declared.contains(&v.as_str()));
    });
    if shadowed {
        return;
    }
    let target = target.clone();
    let ExprKind::Block { mut block, value } = std::mem::replace(&mut value.kind, ExprKind::Int(0))
    else {
        unreachable!("matched a block above")
    };
    let mut assign = Stmt {
        span: s.span,
        kind: StmtKind::Assign {
            target,
            op: None,
            value: *value,
        },
    };
    hoist_aggregation(&mut assign);
    block.stmts.push(assign);
    s.kind = StmtKind::Block(block);
}

/// Whether `e` is an aggregation call, or a block whose value ends in one.
fn ends_in_aggregation(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Call { name, .. } => {
            stdlib::lookup(&name.name).is_some_and(|b| b.kind == stdlib::Kind::Aggregation)
        }
        ExprKind::Block { value, .. } => ends_in_aggregation(value),
        _ => false,
    }
}

fn builtin_spelling(e: &mut Expr) {
    let name = match &e.kind {
        // `pid()` where `pid` has no call form of its own.
        ExprKind::Call { name, args }
            if args.is_empty()
                && stdlib::lookup(&name.name).is_some_and(|b| b.kind == stdlib::Kind::Variable) =>
        {
            name.name.clone()
        }
        ExprKind::Ident(n) => match n.strip_prefix("__builtin_") {
            Some(rest) if bare_builtin(rest) => rest.to_string(),
            _ => return,
        },
        _ => return,
    };
    e.kind = ExprKind::Ident(name);
}

/// A bare parameter stands for its argument's value: a variable or map passed there is read
/// through a block, so the body cannot assign it (bpftrace writes it `{ $v }`).
fn value_of(arg: &Expr) -> Expr {
    match &arg.kind {
        ExprKind::Var(_) | ExprKind::Map { .. } => Expr::new(
            ExprKind::Block {
                block: Block {
                    stmts: Vec::new(),
                    span: arg.span,
                },
                value: Box::new(arg.clone()),
            },
            arg.span,
        ),
        _ => arg.clone(),
    }
}
