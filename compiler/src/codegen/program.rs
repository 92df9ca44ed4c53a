//! A probe's function together with its callbacks: how the 512-byte stack is shared along the
//! call chain, where each callback's part of the scratch value lies, and the order the loader
//! lays the callbacks out in (which the instruction→span table must follow).

use super::emit::{emit_in, EmitError, Emitted, Frame, ScratchMap, STACK_LIMIT};
use crate::ir::Function;
use crate::span::Span;

/// The verifier rounds each frame of a call chain up to 32 bytes and limits their sum to 512.
const FRAME_ALIGN: u32 = 32;

/// A function and its callbacks, emitted.
#[derive(Clone, Debug)]
pub struct EmittedTree {
    pub code: Emitted,
    /// The function's callbacks, indexed as `Inst::FuncRef` names them.
    pub callbacks: Vec<EmittedTree>,
    /// Bytes of the scratch value this function and its callbacks use, from its base.
    pub scratch_size: u32,
}

impl EmittedTree {
    /// The span of every instruction as the loaded program has them.
    pub fn linked_spans(&self) -> Vec<Span> {
        let mut spans = self.code.spans.clone();
        for callee in self.callees_in_link_order() {
            spans.extend(&callee.code.spans);
        }
        spans
    }

    /// Every callback below this function in the order the loader lays them out: aya appends
    /// a callback after its caller at its first reference, then the callback's own callbacks.
    pub fn callees_in_link_order(&self) -> Vec<&EmittedTree> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for &(_, n) in &self.code.func_relocations {
            if seen.contains(&n) {
                continue;
            }
            seen.push(n);
            let callee = &self.callbacks[n];
            out.push(callee);
            out.extend(callee.callees_in_link_order());
        }
        out
    }
}

/// Emits a probe's function and its callbacks. A function with callbacks first tries the whole
/// stack, then less (moving more of its slots to the scratch map) until its callbacks fit in
/// what it leaves.
pub fn emit_program(
    f: &Function,
    scratch_map: Option<ScratchMap>,
) -> Result<EmittedTree, EmitError> {
    emit_tree(f, scratch_map, STACK_LIMIT, 0)
}

fn emit_tree(
    f: &Function,
    scratch_map: Option<ScratchMap>,
    stack_limit: u32,
    scratch_base: u32,
) -> Result<EmittedTree, EmitError> {
    let mut limit = stack_limit;
    loop {
        let frame = Frame {
            scratch_map,
            stack_limit: limit,
            scratch_base,
        };
        let attempt = emit_in(f, frame).and_then(|code| {
            let left =
                stack_limit.saturating_sub(code.stack_size.max(1).next_multiple_of(FRAME_ALIGN));
            let mut callee_base = scratch_base + code.scratch_size;
            let mut scratch_size = code.scratch_size;
            let mut callbacks = Vec::new();
            for callback in &f.callbacks {
                let tree = emit_tree(callback, scratch_map, left, callee_base)?;
                // Callbacks never run at the same time: they may share the space after ours,
                // but keeping them apart costs little and keeps nested ones simple.
                callee_base += tree.scratch_size;
                scratch_size += tree.scratch_size;
                callbacks.push(tree);
            }
            Ok(EmittedTree {
                code,
                callbacks,
                scratch_size,
            })
        });
        match attempt {
            Err(EmitError::StackTooLarge { .. }) if !f.callbacks.is_empty() && limit > 128 => {
                limit -= 128;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Inst, Operand};

    fn function_with_slot(name: &str, bytes: u32) -> Function {
        let mut f = Function {
            name: name.into(),
            ..Function::default()
        };
        let slot = f.new_slot(bytes);
        let s = Span::new(0, 1);
        f.insts = vec![
            (
                Inst::Store {
                    addr: crate::ir::Addr::Slot(slot, 0),
                    value: Operand::Imm(1),
                    size: crate::insn::Size::DW,
                },
                s,
            ),
            (Inst::Return(Operand::Imm(0)), s),
        ];
        f
    }

    #[test]
    fn a_callback_gets_what_its_caller_leaves_and_the_caller_gives_way() {
        let mut main = function_with_slot("main", 400);
        let r = main.new_vreg();
        main.insts.insert(0, (Inst::FuncRef(r, 0), Span::new(0, 1)));
        main.callbacks.push(function_with_slot("cb", 200));
        // 400 + 200 > 512: one of the slots moves to the scratch map.
        let tree = emit_program(
            &main,
            Some(ScratchMap {
                index: 9,
                by_cpu: false,
            }),
        )
        .unwrap();
        let main_frame = tree.code.stack_size.next_multiple_of(FRAME_ALIGN);
        let cb_frame = tree.callbacks[0]
            .code
            .stack_size
            .next_multiple_of(FRAME_ALIGN);
        assert!(
            main_frame + cb_frame <= STACK_LIMIT,
            "{main_frame} + {cb_frame}"
        );
        assert!(tree.scratch_size >= 200);
        let callback_scratch = tree.callbacks[0].scratch_size;
        assert_eq!(tree.scratch_size, tree.code.scratch_size + callback_scratch);
        assert_eq!(
            tree.linked_spans().len(),
            tree.code.insns.len() + tree.callbacks[0].code.insns.len()
        );
        // Without a scratch map it cannot fit.
        assert!(emit_program(&main, None).is_err());
    }
}
