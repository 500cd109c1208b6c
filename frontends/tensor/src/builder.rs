//! `function()`: compile expressions into a callable.

use std::borrow::Borrow;
use theon_compiler::{CompileOptions, Function, FunctionSpec, Mode, Result, Var};

/// The inputs of a function that takes none: `function(NO_INPUTS, &[&y])`
/// (a bare `&[]` has no element type to infer).
pub const NO_INPUTS: &[&Var] = &[];

/// Compile `outputs` as a function of `inputs`.
pub fn function<I: Borrow<Var>, O: Borrow<Var>>(inputs: &[I], outputs: &[O]) -> Result<Function> {
    compile(inputs, outputs).build()
}

/// Start a function with options: updates, givens, mode, name.
pub fn compile<I: Borrow<Var>, O: Borrow<Var>>(inputs: &[I], outputs: &[O]) -> FunctionBuilder {
    FunctionBuilder {
        inputs: inputs.iter().map(|v| v.borrow().clone()).collect(),
        outputs: outputs.iter().map(|v| v.borrow().clone()).collect(),
        updates: vec![],
        givens: vec![],
        options: CompileOptions::default(),
    }
}

/// Options for `function` (Theano's `updates=`, `givens=`, `mode=`).
#[must_use]
pub struct FunctionBuilder {
    inputs: Vec<Var>,
    outputs: Vec<Var>,
    updates: Vec<(Var, Var)>,
    givens: Vec<(Var, Var)>,
    options: CompileOptions,
}

impl FunctionBuilder {
    /// New values for shared variables, written after the outputs are computed.
    pub fn updates(mut self, updates: &[(&Var, &Var)]) -> Self {
        self.updates
            .extend(updates.iter().map(|(a, b)| ((*a).clone(), (*b).clone())));
        self
    }
    /// One update.
    pub fn update(mut self, shared: &Var, value: &Var) -> Self {
        self.updates.push((shared.clone(), value.clone()));
        self
    }
    /// Substitutions applied to the outputs and updates before compiling.
    pub fn givens(mut self, givens: &[(&Var, &Var)]) -> Self {
        self.givens
            .extend(givens.iter().map(|(a, b)| ((*a).clone(), (*b).clone())));
        self
    }
    pub fn mode(mut self, mode: Mode) -> Self {
        self.options.mode = mode;
        self
    }
    /// Which rewrites run (`Rewrites::None` compiles the graph as written).
    pub fn rewrites(mut self, rewrites: theon_compiler::Rewrites) -> Self {
        self.options.rewrites = rewrites;
        self
    }
    pub fn name(mut self, name: &str) -> Self {
        self.options.name = Some(name.to_string());
        self
    }
    /// Any compile option.
    pub fn options(mut self, options: CompileOptions) -> Self {
        self.options = options;
        self
    }
    pub fn build(self) -> Result<Function> {
        Function::compile(FunctionSpec {
            inputs: &self.inputs,
            outputs: &self.outputs,
            updates: &self.updates,
            givens: &self.givens,
            options: self.options,
        })
    }
}
