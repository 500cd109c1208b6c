//! Shared variables: named tensors that live outside any function call.
//!
//! Functions read them and may update them (the `updates` of `function`);
//! users get and set them between calls. A random stream's state is a shared
//! variable too (an `RngState`), advanced once per call.
//!
//! The value can change only through `set_value` (checked against the
//! variable's type) and through the call protocol: compiled code, which
//! bakes static dims in, can trust that the value fits the type.

use crate::lock::{CallGuard, CallLock};
use crate::types::TensorType;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use theon_runtime::random::RngState;
use theon_runtime::{DType, Error, Result, Tensor};

static NEXT_SHARED: AtomicU64 = AtomicU64::new(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedKind {
    Value,
    /// The state of a random stream (`RngState`).
    RandomState,
}

struct SharedInner {
    id: u64,
    name: String,
    ty: TensorType,
    kind: SharedKind,
    value: CallLock<Tensor>,
}

/// A handle to a shared variable; clones refer to the same storage.
#[derive(Clone)]
pub struct SharedVar(Arc<SharedInner>);

impl SharedVar {
    /// A shared variable whose static shape is the value's shape (the usual
    /// case for parameters: the compiler can specialize on it).
    pub fn new(name: impl Into<String>, value: Tensor) -> SharedVar {
        let ty = TensorType::fixed(value.dtype(), value.shape());
        SharedVar::with_type(name, value, ty).expect("a value fits its own type")
    }

    /// A shared variable whose dims are unknown at build time except those
    /// listed in `fixed_axes` (e.g. data whose row count changes with `set_value`).
    pub fn resizable(name: impl Into<String>, value: Tensor, fixed_axes: &[usize]) -> SharedVar {
        let shape = value
            .shape()
            .iter()
            .enumerate()
            .map(|(a, &d)| fixed_axes.contains(&a).then_some(d))
            .collect::<theon_runtime::Dims<_>>();
        let ty = TensorType::new(value.dtype(), shape);
        SharedVar::with_type(name, value, ty).expect("a value fits a looser type")
    }

    /// A shared variable with an explicit static type.
    pub fn with_type(name: impl Into<String>, value: Tensor, ty: TensorType) -> Result<SharedVar> {
        let name = name.into();
        check_fits(&name, &ty, &value)?;
        Ok(SharedVar::make(name, ty, SharedKind::Value, value))
    }

    /// The state of a random stream, seeded.
    pub fn random_state(name: impl Into<String>, seed: u64) -> SharedVar {
        let value = RngState::new(seed).to_tensor();
        SharedVar::make(
            name.into(),
            TensorType::fixed(DType::I64, &[RngState::LEN]),
            SharedKind::RandomState,
            value,
        )
    }

    fn make(name: String, ty: TensorType, kind: SharedKind, value: Tensor) -> SharedVar {
        let id = NEXT_SHARED.fetch_add(1, Ordering::Relaxed);
        SharedVar(Arc::new(SharedInner {
            id,
            name,
            ty,
            kind,
            value: CallLock::new(value),
        }))
    }

    pub fn id(&self) -> u64 {
        self.0.id
    }
    pub fn name(&self) -> &str {
        &self.0.name
    }
    pub fn ty(&self) -> &TensorType {
        &self.0.ty
    }
    pub fn kind(&self) -> SharedKind {
        self.0.kind
    }
    pub fn is_random_state(&self) -> bool {
        self.0.kind == SharedKind::RandomState
    }

    /// A copy of the current value (an error only when a function using
    /// this variable is running on this thread, e.g. inside a custom op).
    pub fn get_value(&self) -> Result<Tensor> {
        Ok(self.lock(!crate::lock::inside_call())?.clone())
    }

    /// Replace the value; dtype, rank and static dims must fit the type.
    pub fn set_value(&self, value: Tensor) -> Result<()> {
        check_fits(&self.0.name, &self.0.ty, &value)?;
        *self.lock(!crate::lock::inside_call())? = value;
        Ok(())
    }

    /// The state of a random stream.
    pub fn rng_state(&self) -> Result<RngState> {
        self.expect_random_state()?;
        RngState::from_tensor(&*self.lock(!crate::lock::inside_call())?)
    }

    /// Set the state of a random stream (to replay or skip calls).
    pub fn set_rng_state(&self, state: RngState) -> Result<()> {
        self.expect_random_state()?;
        *self.lock(!crate::lock::inside_call())? = state.to_tensor();
        Ok(())
    }

    /// Reseed a random stream (counter back to 0).
    pub fn seed(&self, seed: u64) -> Result<()> {
        self.set_rng_state(RngState::new(seed))
    }

    fn expect_random_state(&self) -> Result<()> {
        if !self.is_random_state() {
            return Err(Error::value(format!(
                "shared variable '{}' is not a random stream",
                self.name()
            )));
        }
        Ok(())
    }

    /// Lock the storage (the call protocol holds this during a call;
    /// `wait` as `CallLock::lock`). Not public: a `&mut Tensor` could
    /// replace the value with one that does not fit the type compiled code
    /// was specialized for.
    pub(crate) fn lock(&self, wait: bool) -> Result<CallGuard<'_, Tensor>> {
        self.0
            .value
            .lock(wait, &|| format!("shared variable '{}'", self.0.name))
    }
}

fn check_fits(name: &str, ty: &TensorType, value: &Tensor) -> Result<()> {
    if value.dtype() != ty.dtype {
        return Err(Error::dtype(format!(
            "shared variable '{name}' has dtype {}, got a value of dtype {}",
            ty.dtype,
            value.dtype()
        )));
    }
    if !ty.fits(value.shape()) {
        return Err(Error::shape(format!(
            "shared variable '{name}' has type {ty}, got a value of shape {}",
            crate::types::fmt_shape(value.shape())
        )));
    }
    Ok(())
}

impl PartialEq for SharedVar {
    fn eq(&self, o: &Self) -> bool {
        self.0.id == o.0.id
    }
}
impl Eq for SharedVar {}
impl Hash for SharedVar {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.id.hash(h)
    }
}
impl PartialOrd for SharedVar {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for SharedVar {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.id.cmp(&o.0.id)
    }
}
impl fmt::Debug for SharedVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedVar({}: {})", self.0.name, self.0.ty)
    }
}
