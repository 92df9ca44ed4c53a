//! The generator of the differential test (`tests/e2e_differential.rs`): random, well-typed
//! `BEGIN` program bodies over the language tracebound and bpftrace 0.17 both accept, each
//! written twice: the text tracebound runs and the text bpftrace 0.17 runs. The two are the
//! same except where the current bpftrace release (the reference, see `docs/integers.md`)
//! changed a rule 0.17 had; there the 0.17 text says, in 0.17's language, what the current
//! release computes, so that the outputs must still agree byte for byte.
//!
//! What a program holds: scratch variables of every integer width and signedness (each
//! assigned a literal in range of its cast, reassigned only through the same cast), strings,
//! printf with every integer specifier (lengths, widths, flags) and `%s`/`%c`, integer
//! arithmetic (`+ - * / % & | ^ << >>`), unary `- ~ !`, casts, comparisons, `&&`/`||`,
//! ternaries, `if`/`else`, bounded `while`, `unroll`, division and modulo by zero, string
//! equality and `strncmp`, and maps keyed by tuples of integers and strings with
//! count/sum/min/max/avg/stats/hist/lhist, printed with `print(@m)`.
//!
//! The shapes it never makes, each because the two releases differ there (the rule and its
//! citation are in `docs/integers.md`; tracebound follows the current release, tested on its
//! own in `tests/differential/regressions/`):
//! - a comparison of a signed with an unsigned operand (0.17 compares unsigned, the current
//!   release signed): comparison operands are cast to one signedness;
//! - a comparison's, `&&`'s or `||`'s result used as an integer (0.17 gives it the operands'
//!   signedness, the current release makes it a `bool`): it is cast first;
//! - an operator whose operands are all literals (the current release folds those exactly,
//!   refusing overflow and division by zero; 0.17 computes them in 64 bits);
//! - a narrow signed unary result printed as it is (0.17 zero-extends `-(int8)$x` there, a
//!   0.17 bug): it is cast to `int64` first.
//!
//! Maps: bpftrace prints entries sorted by value, and equal values in hash order, so every
//! key of a map with several keys gets a value of its own (the generator knows the values);
//! an aggregation of computed values has a single key.

use std::fmt::Write;

/// splitmix64: a small, good, seeded generator (no crate needed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// An integer type of the language.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IntTy {
    pub bits: u32,
    pub signed: bool,
}

pub const INT_TYPES: [IntTy; 8] = [
    IntTy {
        bits: 8,
        signed: true,
    },
    IntTy {
        bits: 8,
        signed: false,
    },
    IntTy {
        bits: 16,
        signed: true,
    },
    IntTy {
        bits: 16,
        signed: false,
    },
    IntTy {
        bits: 32,
        signed: true,
    },
    IntTy {
        bits: 32,
        signed: false,
    },
    IntTy {
        bits: 64,
        signed: true,
    },
    IntTy {
        bits: 64,
        signed: false,
    },
];

impl IntTy {
    pub fn name(self) -> String {
        format!("{}int{}", if self.signed { "" } else { "u" }, self.bits)
    }

    fn min(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    fn max(self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }
}

/// One generated program: its body as tracebound runs it and as bpftrace 0.17 runs it.
#[derive(Clone, Debug)]
pub struct Program {
    pub id: usize,
    pub tb: String,
    pub bt: String,
}

/// An integer expression, in both texts, with what the generator needs to know of it.
#[derive(Clone)]
struct IntExpr {
    tb: String,
    bt: String,
    /// Made of literals only (the current release folds such operators).
    literal: bool,
    /// The width and signedness bpftrace 0.17 computes it in: a variable's or a cast's
    /// type, a unary operator's operand's, 64 bits for the rest.
    ty: IntTy,
    /// Its outermost operator is a unary `-` or `~`.
    unary: bool,
}

impl IntExpr {
    fn same(text: String, literal: bool, ty: IntTy) -> IntExpr {
        IntExpr {
            bt: text.clone(),
            tb: text,
            literal,
            ty,
            unary: false,
        }
    }
}

const I64: IntTy = IntTy {
    bits: 64,
    signed: true,
};

struct Var {
    name: String,
    ty: IntTy,
}

/// Writes one program; `id` makes its names unique in a batch.
struct Gen<'r> {
    rng: &'r mut Rng,
    id: usize,
    vars: Vec<Var>,
    strings: Vec<(String, String)>, // (name, value)
    tb: String,
    bt: String,
    names: usize,
    depth: usize,
}

pub fn generate(rng: &mut Rng, id: usize) -> Program {
    let mut g = Gen {
        rng,
        id,
        vars: Vec::new(),
        strings: Vec::new(),
        tb: String::new(),
        bt: String::new(),
        names: 0,
        depth: 1,
    };
    g.program();
    Program {
        id,
        tb: g.tb,
        bt: g.bt,
    }
}

/// The types of one aggregation's values: all signed, all unsigned and narrow, or (sums only)
/// all uint64, whose totals from 2^63 up both print unsigned (docs/integers.md
/// "Aggregations"). min, max, avg and stats of unsigned values beyond int64 compare and divide
/// signed in 0.17 (the current release, and tracebound, unsigned), so those get narrow
/// unsigned values only. `max` takes no negative value: 0.17's max() starts at 0 (a 0.17 bug).
const SIGNED: [IntTy; 4] = [INT_TYPES[0], INT_TYPES[2], INT_TYPES[4], INT_TYPES[6]];
const NON_NEGATIVE: [IntTy; 3] = [INT_TYPES[1], INT_TYPES[3], INT_TYPES[5]];
const UINT64: [IntTy; 1] = [INT_TYPES[7]];
/// `min` takes values of 32 bits at most: 0.17's min() loses the others (`min(5000000000)`
/// makes no entry, `min(-2^63)` is ignored), a 0.17 bug.
const NARROW: [IntTy; 5] = [
    INT_TYPES[0],
    INT_TYPES[1],
    INT_TYPES[2],
    INT_TYPES[3],
    INT_TYPES[4],
];

const SPECS: [&str; 15] = [
    "d", "u", "x", "X", "o", "ld", "lu", "lld", "llu", "lx", "hd", "hu", "hhd", "hhu", "hx",
];
const WIDTHS: [&str; 7] = ["", "", "", "5", "-5", "08", "-20"];
const WORDS: [&str; 10] = [
    "",
    "a",
    "ab",
    "abc",
    "abd",
    "hello",
    "help",
    "tracebound",
    "x y",
    "zzzzzzzzzzzz",
];

impl Gen<'_> {
    fn fresh(&mut self, kind: &str) -> String {
        self.names += 1;
        format!("p{}{}{}", self.id, kind, self.names)
    }

    fn line(&mut self, tb: &str, bt: &str) {
        let pad = "  ".repeat(self.depth);
        let _ = writeln!(self.tb, "{pad}{tb}");
        let _ = writeln!(self.bt, "{pad}{bt}");
    }

    fn both(&mut self, text: &str) {
        self.line(text, text);
    }

    fn program(&mut self) {
        for _ in 0..self.rng.range(2, 4) {
            self.declare_int();
        }
        for _ in 0..self.rng.range(0, 2) {
            let name = format!("${}", self.fresh("s"));
            let value = self.rng.pick(&WORDS).to_string();
            self.both(&format!("{name} = \"{value}\";"));
            self.strings.push((name, value));
        }
        for _ in 0..self.rng.range(2, 4) {
            self.statement(2);
        }
    }

    fn declare_int(&mut self) {
        let ty = *self.rng.pick(&INT_TYPES);
        let name = format!("${}", self.fresh("v"));
        let value = self.literal_in(ty);
        self.both(&format!("{name} = ({}){value};", ty.name()));
        self.vars.push(Var { name, ty });
    }

    /// A literal in range of `ty`, as text (negative ones parenthesized).
    fn literal_in(&mut self, ty: IntTy) -> String {
        let v = self.value_in(ty);
        // The smallest int64 is written as a computation: its magnitude is no literal.
        if v == i64::MIN as i128 {
            return "(-9223372036854775807 - 1)".to_string();
        }
        if v < 0 {
            format!("({v})")
        } else {
            format!("{v}")
        }
    }

    /// A value in range of `ty`, often one of its edges.
    fn value_in(&mut self, ty: IntTy) -> i128 {
        let v: i128 = match self.rng.below(6) {
            0 => ty.min(),
            1 => ty.max(),
            2 => self.rng.range(-3, 3) as i128,
            3 => self.rng.range(-300, 300) as i128,
            _ => {
                let span = (ty.max() - ty.min()) as u128 + 1;
                ty.min() + (self.rng.next() as u128 % span) as i128
            }
        };
        v.clamp(ty.min(), ty.max())
    }

    fn statement(&mut self, budget: u32) {
        let kinds = if budget == 0 { 4 } else { 9 };
        match self.rng.below(kinds) {
            0 | 1 => self.printf_ints(),
            2 => self.printf_strings(),
            3 => self.reassign(),
            4 => self.if_else(budget - 1),
            5 => self.while_loop(),
            6 => self.unroll(),
            7 => self.division_by_zero(),
            _ => self.map(),
        }
    }

    /// An integer expression of at most `depth` operators; `operand_of_literal` when the
    /// other operand of its operator is a literal (then this one must not be).
    fn int(&mut self, depth: u32, not_literal: bool) -> IntExpr {
        if depth == 0 || self.rng.chance(25) {
            return self.leaf(not_literal);
        }
        match self.rng.below(20) {
            0..=1 => {
                let ty = *self.rng.pick(&INT_TYPES);
                let inner = self.int(depth - 1, true);
                cast(ty, &inner)
            }
            2..=3 => {
                let inner = self.int(depth - 1, true);
                let op = *self.rng.pick(&["-", "~"]);
                IntExpr {
                    tb: format!("{op}{}", paren(&inner.tb)),
                    bt: format!("{op}{}", paren(&inner.bt)),
                    literal: false,
                    ty: inner.ty,
                    unary: true,
                }
            }
            4 => {
                let inner = self.int(depth - 1, true);
                let ty = *self.rng.pick(&INT_TYPES);
                IntExpr {
                    tb: format!("({})(!{})", ty.name(), paren(&inner.tb)),
                    bt: format!("({})(!{})", ty.name(), paren(&inner.bt)),
                    literal: false,
                    ty,
                    unary: false,
                }
            }
            5..=6 => self.comparison(depth - 1),
            7 => {
                let a = self.int(depth - 1, false);
                let b = self.int(depth - 1, a.literal);
                let op = *self.rng.pick(&["&&", "||"]);
                let ty = *self.rng.pick(&INT_TYPES);
                IntExpr {
                    tb: format!("({})({} {op} {})", ty.name(), a.tb, b.tb),
                    bt: format!("({})({} {op} {})", ty.name(), a.bt, b.bt),
                    literal: false,
                    ty,
                    unary: false,
                }
            }
            8 => {
                let c = self.int(depth - 1, true);
                let ty = *self.rng.pick(&INT_TYPES);
                let a = self.int(depth - 1, false);
                let b = self.int(depth - 1, false);
                // The current release types a ternary as its arms' type, 0.17 as a 64-bit
                // value: the 0.17 text casts it to the arms' type again.
                let (a, b) = (cast(ty, &a), cast(ty, &b));
                IntExpr {
                    tb: format!("({} ? {} : {})", c.tb, a.tb, b.tb),
                    bt: format!("({})({} ? {} : {})", ty.name(), c.bt, a.bt, b.bt),
                    literal: false,
                    ty,
                    unary: false,
                }
            }
            9..=10 => {
                // `/` and `%` by a divisor that is never zero (zero has its own statement).
                let a = self.int(depth - 1, false);
                let b = self.int(depth - 1, true);
                let op = *self.rng.pick(&["/", "%"]);
                IntExpr {
                    tb: format!("({} {op} ({} | 1))", a.tb, b.tb),
                    bt: format!("({} {op} ({} | 1))", a.bt, b.bt),
                    literal: false,
                    ty: I64,
                    unary: false,
                }
            }
            11 => {
                // Shifts by less than the width (more is undefined in both).
                let a = self.int(depth - 1, false);
                let op = *self.rng.pick(&["<<", ">>"]);
                let (tb, bt) = if a.literal || self.rng.chance(50) {
                    let n = self.rng.range(0, 63);
                    if a.literal {
                        let b = self.int(depth - 1, true);
                        (
                            format!("({} {op} ({} & 63))", a.tb, b.tb),
                            format!("({} {op} ({} & 63))", a.bt, b.bt),
                        )
                    } else {
                        (
                            format!("({} {op} {n})", a.tb),
                            format!("({} {op} {n})", a.bt),
                        )
                    }
                } else {
                    let b = self.int(depth - 1, true);
                    (
                        format!("({} {op} ({} & 63))", a.tb, b.tb),
                        format!("({} {op} ({} & 63))", a.bt, b.bt),
                    )
                };
                IntExpr {
                    tb,
                    bt,
                    literal: false,
                    ty: I64,
                    unary: false,
                }
            }
            _ => {
                let a = self.int(depth - 1, false);
                let b = self.int(depth - 1, a.literal);
                let op = *self
                    .rng
                    .pick(&["+", "-", "*", "&", "|", "^", "+", "-", "*"]);
                IntExpr {
                    tb: format!("({} {op} {})", a.tb, b.tb),
                    bt: format!("({} {op} {})", a.bt, b.bt),
                    literal: false,
                    ty: I64,
                    unary: false,
                }
            }
        }
    }

    fn leaf(&mut self, not_literal: bool) -> IntExpr {
        if (not_literal || self.rng.chance(60)) && !self.vars.is_empty() {
            let i = self.rng.below(self.vars.len() as u64) as usize;
            let v = &self.vars[i];
            return IntExpr::same(v.name.clone(), false, v.ty);
        }
        if self.rng.chance(40) {
            let ty = *self.rng.pick(&INT_TYPES);
            let v = self.literal_in(ty);
            return IntExpr::same(format!("({}){v}", ty.name()), true, ty);
        }
        let ty = *self.rng.pick(&[
            I64,
            I64,
            IntTy {
                bits: 32,
                signed: true,
            },
        ]);
        let v = self.literal_in(ty);
        IntExpr::same(v, true, I64)
    }

    /// A comparison of operands cast to one signedness, its result cast to an integer.
    fn comparison(&mut self, depth: u32) -> IntExpr {
        let a = self.int(depth, false);
        let b = self.int(depth, a.literal);
        let signed = self.rng.chance(50);
        let pick = |g: &mut Gen, signed: bool| {
            let widths = [8, 16, 32, 64, 64];
            IntTy {
                bits: *g.rng.pick(&widths),
                signed,
            }
        };
        let (a, b) = (cast(pick(self, signed), &a), cast(pick(self, signed), &b));
        let op = *self.rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
        let ty = *self.rng.pick(&INT_TYPES);
        IntExpr {
            tb: format!("({})({} {op} {})", ty.name(), a.tb, b.tb),
            bt: format!("({})({} {op} {})", ty.name(), a.bt, b.bt),
            literal: false,
            ty,
            unary: false,
        }
    }

    /// An expression as a printf argument or a value: a narrow signed unary result cast to
    /// int64 first (see the module's comment).
    fn value(&mut self, depth: u32) -> IntExpr {
        let e = self.int(depth, false);
        if e.unary && e.ty.signed && e.ty.bits < 64 {
            cast(I64, &e)
        } else {
            e
        }
    }

    fn printf_ints(&mut self) {
        let n = self.rng.range(1, 3);
        let mut fmt = format!("{}:", self.fresh("f"));
        let (mut tb_args, mut bt_args) = (String::new(), String::new());
        for _ in 0..n {
            let e = self.value(3);
            if self.rng.chance(8) {
                // A printable character from any value.
                fmt.push_str(" %c");
                let _ = write!(tb_args, ", (({}) & 63) + 32", e.tb);
                let _ = write!(bt_args, ", (({}) & 63) + 32", e.bt);
            } else {
                let spec = *self.rng.pick(&SPECS);
                let width = *self.rng.pick(&WIDTHS);
                let _ = write!(fmt, " [%{width}{spec}]");
                let _ = write!(tb_args, ", {}", e.tb);
                let _ = write!(bt_args, ", {}", e.bt);
            }
        }
        self.line(
            &format!("printf(\"{fmt}\\n\"{tb_args});"),
            &format!("printf(\"{fmt}\\n\"{bt_args});"),
        );
    }

    /// A string expression: a variable, a literal, or a ternary of them.
    fn string(&mut self) -> (String, String) {
        let simple = |g: &mut Gen| -> String {
            if !g.strings.is_empty() && g.rng.chance(60) {
                let i = g.rng.below(g.strings.len() as u64) as usize;
                g.strings[i].0.clone()
            } else {
                format!("\"{}\"", g.rng.pick(&WORDS))
            }
        };
        if self.rng.chance(20) {
            let c = self.int(2, true);
            let (a, b) = (simple(self), simple(self));
            (
                format!("({} ? {a} : {b})", c.tb),
                format!("({} ? {a} : {b})", c.bt),
            )
        } else {
            let s = simple(self);
            (s.clone(), s)
        }
    }

    fn printf_strings(&mut self) {
        let mut fmt = format!("{}:", self.fresh("f"));
        let (mut tb_args, mut bt_args) = (String::new(), String::new());
        for _ in 0..self.rng.range(1, 3) {
            match self.rng.below(4) {
                0 => {
                    let (a, b) = (self.string(), self.string());
                    let op = *self.rng.pick(&["==", "!="]);
                    fmt.push_str(" %d");
                    let _ = write!(tb_args, ", {} {op} {}", a.0, b.0);
                    let _ = write!(bt_args, ", {} {op} {}", a.1, b.1);
                }
                1 => {
                    let (a, b) = (self.string(), self.string());
                    let n = self.rng.range(0, 12);
                    fmt.push_str(" %d");
                    let _ = write!(tb_args, ", strncmp({}, {}, {n})", a.0, b.0);
                    let _ = write!(bt_args, ", strncmp({}, {}, {n})", a.1, b.1);
                }
                _ => {
                    let s = self.string();
                    let width = *self.rng.pick(&["", "", "12", "-12", ".2", "5.1"]);
                    let _ = write!(fmt, " [%{width}s]");
                    let _ = write!(tb_args, ", {}", s.0);
                    let _ = write!(bt_args, ", {}", s.1);
                }
            }
        }
        self.line(
            &format!("printf(\"{fmt}\\n\"{tb_args});"),
            &format!("printf(\"{fmt}\\n\"{bt_args});"),
        );
    }

    fn reassign(&mut self) {
        if self.vars.is_empty() {
            return self.printf_ints();
        }
        let i = self.rng.below(self.vars.len() as u64) as usize;
        let (name, ty) = (self.vars[i].name.clone(), self.vars[i].ty);
        let e = cast(ty, &self.int(3, false));
        self.line(
            &format!("{name} = {};", e.tb),
            &format!("{name} = {};", e.bt),
        );
    }

    fn if_else(&mut self, budget: u32) {
        let c = self.condition();
        self.line(&format!("if ({}) {{", c.0), &format!("if ({}) {{", c.1));
        self.depth += 1;
        self.statement(budget);
        self.depth -= 1;
        if self.rng.chance(60) {
            self.both("} else {");
            self.depth += 1;
            self.statement(budget);
            self.depth -= 1;
        }
        self.both("}");
    }

    /// A condition: an integer, or a comparison of one signedness.
    fn condition(&mut self) -> (String, String) {
        let e = if self.rng.chance(50) {
            self.comparison(2)
        } else {
            self.int(2, true)
        };
        (e.tb, e.bt)
    }

    fn while_loop(&mut self) {
        let i = format!("${}", self.fresh("w"));
        let n = self.rng.range(0, 4);
        self.both(&format!("{i} = 0;"));
        self.both(&format!("while ({i} < {n}) {{"));
        self.depth += 1;
        self.vars.push(Var {
            name: i.clone(),
            ty: I64,
        });
        self.printf_ints();
        self.vars.pop();
        self.both(&format!("{i}++;"));
        self.depth -= 1;
        self.both("}");
    }

    fn unroll(&mut self) {
        let n = self.rng.range(1, 3);
        self.both(&format!("unroll({n}) {{"));
        self.depth += 1;
        self.statement(0);
        self.depth -= 1;
        self.both("}");
    }

    /// `e / $zero` and `e % $zero`: the current release makes both 1 (and warns), where
    /// 0.17 leaves them to LLVM (undefined behaviour), so the 0.17 text prints 1.
    fn division_by_zero(&mut self) {
        let z = format!("${}", self.fresh("z"));
        let ty = *self.rng.pick(&INT_TYPES);
        self.both(&format!("{z} = ({})0;", ty.name()));
        let e = self.int(2, false);
        let op = *self.rng.pick(&["/", "%"]);
        let f = self.fresh("f");
        self.line(
            &format!("printf(\"{f}: %d\\n\", {} {op} {z});", paren(&e.tb)),
            &format!("printf(\"{f}: %d\\n\", 1);"),
        );
    }

    /// `hist(X)` or `lhist(X, min, max, step)`, `X` standing for the value.
    fn histogram_call(&mut self, log2: bool) -> String {
        if log2 {
            return "hist(X)".to_string();
        }
        let (lo, hi) = (self.rng.range(0, 10), self.rng.range(11, 400));
        let step = self.rng.range(1, 50.min(hi - lo));
        format!("lhist(X, {lo}, {hi}, {step})")
    }

    /// A map keyed by tuples (or one key), filled, printed and cleared.
    fn map(&mut self) {
        let name = format!("@{}", self.fresh("m"));
        let key_types: Vec<Option<IntTy>> = (0..self.rng.range(0, 3))
            .map(|_| {
                if self.rng.chance(30) {
                    None
                } else {
                    Some(*self.rng.pick(&INT_TYPES))
                }
            })
            .collect();
        let keys = if key_types.is_empty() {
            1
        } else {
            self.rng.range(1, 4) as usize
        };
        let key_text: Vec<String> = (0..keys)
            .map(|k| {
                if key_types.is_empty() {
                    return String::new();
                }
                let parts: Vec<String> = key_types
                    .iter()
                    .enumerate()
                    .map(|(j, t)| match t {
                        // Keys differ in their first part (k); the rest is random.
                        Some(t) if j == 0 => format!("({}){}", t.name(), k + 1),
                        // bpftrace 0.17 prints a uint64 key from 2^63 up as negative.
                        Some(t) => {
                            let v = self.value_in(*t);
                            let v = if *t == INT_TYPES[7] {
                                v.min(i64::MAX as i128)
                            } else {
                                v.max(i64::MIN as i128 + 1)
                            };
                            format!("({}){}", t.name(), signed_text(v as i64))
                        }
                        None if j == 0 => format!("\"k{k}\""),
                        None => format!("\"{}\"", self.rng.pick(&WORDS)),
                    })
                    .collect();
                format!("[{}]", parts.join(", "))
            })
            .collect();
        // Distinct values per key, known here; computed values only with one key.
        let mut distinct: Vec<i64> = Vec::new();
        let mut fresh_value = |rng: &mut Rng| loop {
            let v = rng.range(-1000, 1000);
            if !distinct.contains(&v) {
                distinct.push(v);
                return v;
            }
        };
        let kind = self.rng.below(8);
        // One map, one set of lhist bounds (bpftrace refuses two).
        let params = self.histogram_call(kind == 6);
        for (k, key) in key_text.iter().enumerate() {
            match kind {
                0 => self.both(&format!("unroll({}) {{ {name}{key} = count(); }}", k + 1)),
                1..=5 => {
                    let agg = ["sum", "min", "max", "avg", "stats"][kind as usize - 1];
                    if keys == 1 {
                        let types = if agg == "min" {
                            &NARROW[..]
                        } else if agg == "sum" && self.rng.chance(30) {
                            &UINT64[..]
                        } else if agg == "max" || self.rng.chance(30) {
                            &NON_NEGATIVE[..]
                        } else {
                            &SIGNED[..]
                        };
                        for _ in 0..self.rng.range(1, 3) {
                            let t = *self.rng.pick(types);
                            let e = cast(t, &self.value(3));
                            self.line(
                                &format!("{name}{key} = {agg}({});", e.tb),
                                &format!("{name}{key} = {agg}({});", e.bt),
                            );
                        }
                    } else {
                        let v = fresh_value(self.rng);
                        let v = if agg == "max" { v.abs() } else { v };
                        self.both(&format!("{name}{key} = {agg}({});", signed_text(v)));
                    }
                }
                _ => {
                    // Key k has k + 1 values, so totals differ.
                    // hist() of values from 2^31 up is wrong in 0.17 (all in [2G, 4G)).
                    let ty = if kind == 6 { INT_TYPES[4] } else { I64 };
                    for _ in 0..=k {
                        let e = cast(ty, &self.value(3));
                        self.line(
                            &format!("{name}{key} = {};", params.replace("X", &e.tb)),
                            &format!("{name}{key} = {};", params.replace("X", &e.bt)),
                        );
                    }
                }
            }
        }
        self.both(&format!("print({name});"));
        self.both(&format!("clear({name});"));
    }
}

/// `(ty)(e)` in both texts. bpftrace 0.17 widens by the target's signedness
/// (`(int64)(uint16)65535` is -1); the current release, like C, by the source's, so the 0.17
/// text widens to 64 bits of the source's signedness first.
fn cast(ty: IntTy, e: &IntExpr) -> IntExpr {
    let t = ty.name();
    let bt = if e.ty.bits < ty.bits && e.ty.signed != ty.signed {
        let wide = if e.ty.signed { "int64" } else { "uint64" };
        format!("({t})(({wide})({}))", e.bt)
    } else {
        format!("({t})({})", e.bt)
    };
    IntExpr {
        tb: format!("({t})({})", e.tb),
        bt,
        literal: false,
        ty,
        unary: false,
    }
}

fn signed_text(v: i64) -> String {
    if v < 0 {
        format!("({v})")
    } else {
        v.to_string()
    }
}

fn paren(s: &str) -> String {
    if s.starts_with('(') && s.ends_with(')') {
        s.to_string()
    } else {
        format!("({s})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_programs() {
        let a: Vec<String> = (0..20).map(|i| generate(&mut Rng::new(7), i).tb).collect();
        let b: Vec<String> = (0..20).map(|i| generate(&mut Rng::new(7), i).tb).collect();
        assert_eq!(a, b);
    }
}
