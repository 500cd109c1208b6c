//! Optimizers as update expressions (PyMC's `pymc.variational.updates`).

use theon_tensor::{DType, Error, Result, Tensor, Var, shared, where_};

#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// PyMC's default: adagrad over a window of the last `n_win` squared
    /// gradients, `p -= lr g / sqrt(sum window + eps)`.
    AdagradWindow {
        learning_rate: f64,
        epsilon: f64,
        n_win: usize,
    },
    /// Adam (Kingma & Ba) with bias correction folded into the step size.
    Adam {
        learning_rate: f64,
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    },
    Sgd {
        learning_rate: f64,
    },
    /// Classical or Nesterov momentum.
    Momentum {
        learning_rate: f64,
        momentum: f64,
        nesterov: bool,
    },
    /// `inner` with every parameter step scaled by gamma^t at step t
    /// (exponential learning-rate decay; exact for Adam, SGD and adagrad,
    /// whose steps are linear in the learning rate; for momentum the
    /// velocity keeps the undecayed rate).
    Decayed {
        inner: Box<Optimizer>,
        gamma: f64,
    },
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::adagrad_window()
    }
}

impl Optimizer {
    /// learning rate 1e-3, epsilon 0.1, window 10 (PyMC's defaults).
    pub fn adagrad_window() -> Optimizer {
        Optimizer::AdagradWindow {
            learning_rate: 1e-3,
            epsilon: 0.1,
            n_win: 10,
        }
    }
    pub fn adam() -> Optimizer {
        Optimizer::Adam {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
    pub fn sgd(learning_rate: f64) -> Optimizer {
        Optimizer::Sgd { learning_rate }
    }
    pub fn momentum(learning_rate: f64, momentum: f64) -> Optimizer {
        Optimizer::Momentum {
            learning_rate,
            momentum,
            nesterov: false,
        }
    }
    /// The same optimizer with its steps decaying by `gamma` per step
    /// (`gamma = (final / initial)^(1 / steps)` decays the learning rate
    /// from its value to `final` over `steps`).
    pub fn with_decay(self, gamma: f64) -> Optimizer {
        Optimizer::Decayed {
            inner: Box::new(self),
            gamma,
        }
    }

    /// The same optimizer with another learning rate.
    pub fn with_learning_rate(self, lr: f64) -> Optimizer {
        match self {
            Optimizer::Decayed { inner, gamma } => Optimizer::Decayed {
                inner: Box::new(inner.with_learning_rate(lr)),
                gamma,
            },
            Optimizer::AdagradWindow { epsilon, n_win, .. } => Optimizer::AdagradWindow {
                learning_rate: lr,
                epsilon,
                n_win,
            },
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
                ..
            } => Optimizer::Adam {
                learning_rate: lr,
                beta1,
                beta2,
                epsilon,
            },
            Optimizer::Sgd { .. } => Optimizer::Sgd { learning_rate: lr },
            Optimizer::Momentum {
                momentum, nesterov, ..
            } => Optimizer::Momentum {
                learning_rate: lr,
                momentum,
                nesterov,
            },
        }
    }

    /// Parse `adagrad_window`, `adam`, `sgd`, `momentum` with default parameters.
    pub fn from_name(name: &str) -> Result<Optimizer> {
        Ok(match name {
            "adagrad_window" => Optimizer::adagrad_window(),
            "adam" => Optimizer::adam(),
            "sgd" => Optimizer::sgd(1e-3),
            "momentum" => Optimizer::momentum(1e-3, 0.9),
            other => {
                return Err(Error::value(format!(
                    "unknown optimizer '{other}' (adagrad_window, adam, sgd, momentum)"
                )));
            }
        })
    }

    fn check(&self) -> Result<()> {
        let bad = |what: &str, v: f64| Error::value(format!("optimizer: {what} = {v} is invalid"));
        match *self {
            Optimizer::AdagradWindow {
                learning_rate,
                epsilon,
                n_win,
            } => {
                if !(learning_rate > 0.0) || !(epsilon >= 0.0) || n_win == 0 {
                    return Err(bad(
                        "adagrad_window parameters (lr, eps, n_win)",
                        learning_rate,
                    ));
                }
            }
            Optimizer::Adam {
                learning_rate,
                beta1,
                beta2,
                epsilon,
            } => {
                if !(learning_rate > 0.0)
                    || !(0.0..1.0).contains(&beta1)
                    || !(0.0..1.0).contains(&beta2)
                    || !(epsilon >= 0.0)
                {
                    return Err(bad(
                        "adam parameters (lr, beta1, beta2, eps)",
                        learning_rate,
                    ));
                }
            }
            Optimizer::Sgd { learning_rate } => {
                if !(learning_rate > 0.0) {
                    return Err(bad("learning_rate", learning_rate));
                }
            }
            Optimizer::Decayed { ref inner, gamma } => {
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(bad("decay gamma (0 < gamma <= 1)", gamma));
                }
                inner.check()?;
            }
            Optimizer::Momentum {
                learning_rate,
                momentum,
                ..
            } => {
                if !(learning_rate > 0.0) || !(0.0..1.0).contains(&momentum) {
                    return Err(bad("momentum parameters (lr, momentum)", learning_rate));
                }
            }
        }
        Ok(())
    }

    /// `(shared variable, new value)` pairs that take one step.
    pub fn updates(&self, params: &[Var], grads: &[Var]) -> Result<Vec<(Var, Var)>> {
        self.check()?;
        if let Optimizer::Decayed { inner, gamma } = self {
            let mut ups = inner.updates(params, grads)?;
            let dt = params
                .first()
                .map_or(theon_tensor::DType::F64, |p| p.dtype());
            let scale = shared("lr_decay", Tensor::scalar(1.0).cast(dt));
            for (p, new) in ups.iter_mut() {
                if params.iter().any(|q| q.same(p)) {
                    *new = (&*p + &(&scale * &(&*new - &*p)?)?)?;
                }
            }
            ups.push((scale.clone(), (&scale * *gamma)?));
            return Ok(ups);
        }
        let mut ups = Vec::new();
        // Adam's step counter and bias-corrected step size, one per dtype
        // for all parameters (as PyMC's `adam`: one counter per optimizer).
        let mut adam_steps: Vec<(DType, Var)> = vec![];
        for (k, (p, g)) in params.iter().zip(grads).enumerate() {
            let shape: Vec<usize> = p
                .ty()
                .static_shape()
                .ok_or_else(|| Error::shape("optimizer: parameters need static shapes"))?;
            let zeros = |name: &str, extra: &[usize]| {
                let mut s = extra.to_vec();
                s.extend_from_slice(&shape);
                shared(&format!("{name}_{k}"), Tensor::zeros(p.dtype(), &s))
            };
            match *self {
                Optimizer::AdagradWindow {
                    learning_rate,
                    epsilon,
                    n_win,
                } => {
                    // The window is (n_win, ...shape); slot i takes g^2 (a set, written as where).
                    let win = zeros("accu", &[n_win]);
                    let i = shared(&format!("i_{k}"), Tensor::scalar(0i64));
                    let slots = theon_tensor::constant(
                        Tensor::arange_i64(n_win as i64).reshape(
                            &std::iter::once(n_win)
                                .chain(std::iter::repeat_n(1, shape.len()))
                                .collect::<Vec<_>>(),
                        )?,
                    );
                    let here = slots.equal(&i)?;
                    let new_win = where_(&here, g.square().expand_dims(0)?, &win)?;
                    let accu = new_win.sum_axes(&[0], false)?;
                    let step = ((g * learning_rate)? / (accu + epsilon)?.sqrt())?;
                    ups.push((p.clone(), (p - &step)?));
                    ups.push((win, new_win));
                    let next = (&i + 1)?;
                    ups.push((i.clone(), where_(&next.lt(n_win as i64)?, &next, 0i64)?));
                }
                Optimizer::Adam {
                    learning_rate,
                    beta1,
                    beta2,
                    epsilon,
                } => {
                    let m = zeros("adam_m", &[]);
                    let v = zeros("adam_v", &[]);
                    let dtype = p.dtype();
                    let a = match adam_steps.iter().find(|(d, _)| *d == dtype) {
                        Some((_, a)) => a.clone(),
                        None => {
                            let name = format!("adam_t_{}", adam_steps.len());
                            let t = shared(&name, Tensor::scalar(0.0).cast(dtype));
                            let t1 = (&t + 1.0)?;
                            let c1 = (1.0 - (Var::scalar_const(beta1, dtype).pow(&t1))?)?;
                            let c2 = (1.0 - (Var::scalar_const(beta2, dtype).pow(&t1))?)?;
                            let a = ((c2.sqrt() / c1)? * learning_rate)?;
                            ups.push((t, t1));
                            adam_steps.push((dtype, a.clone()));
                            a
                        }
                    };
                    let m1 = ((&m * beta1)? + (g * (1.0 - beta1))?)?;
                    let v1 = ((&v * beta2)? + (g.square() * (1.0 - beta2))?)?;
                    let step = ((a * &m1)? / (v1.sqrt() + epsilon)?)?;
                    ups.push((p.clone(), (p - &step)?));
                    ups.push((m, m1));
                    ups.push((v, v1));
                }
                Optimizer::Sgd { learning_rate } => {
                    ups.push((p.clone(), (p - &(g * learning_rate)?)?))
                }
                Optimizer::Momentum {
                    learning_rate,
                    momentum,
                    nesterov,
                } => {
                    let vel = zeros("velocity", &[]);
                    let v1 = ((&vel * momentum)? - (g * learning_rate)?)?;
                    let p1 = if nesterov {
                        ((p + &(&v1 * momentum)?)? - (g * learning_rate)?)?
                    } else {
                        (p + &v1)?
                    };
                    ups.push((p.clone(), p1));
                    ups.push((vel, v1));
                }
                // Returned before the loop; kept as an error, not a panic.
                Optimizer::Decayed { .. } => {
                    return Err(Error::value(
                        "optimizer: a decayed optimizer is expanded first",
                    ));
                }
            }
        }
        Ok(ups)
    }
}
