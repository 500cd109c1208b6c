//! The variational families: mean-field and full-rank Gaussians over the
//! unconstrained free variables, and independent groups of them (PyMC's
//! `pm.Group`); their draws, log q and exact moments.

use crate::model::{Model, RvKind};
use crate::transform::Transform;
use theon_tensor::{
    DType, DimArg, Error, RandomStream, Result, SliceSpec, Tensor, TensorType, Unused, Var,
    clone_replace_with, constant, function, shared,
};

/// 0.5 ln(2π)
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// A free variable as the approximation sees it.
#[derive(Clone, Debug)]
pub struct FreeVar {
    pub name: String,
    /// The unconstrained value's shape (the value's, except under the
    /// simplex transform: one entry fewer on the last axis).
    pub shape: Vec<usize>,
    pub size: usize,
    /// Offset in the flat unconstrained vector.
    pub offset: usize,
    pub transform: Option<Transform>,
    /// The model's placeholder for the constrained value.
    pub placeholder: Var,
}

/// The parameters of q.
#[derive(Clone, Debug)]
pub enum Family {
    /// Per variable: mu and rho (sigma = softplus(rho)).
    MeanField { mu: Vec<Var>, rho: Vec<Var> },
    /// Flat mu and the lower triangle of L (row-major), diagonal through softplus.
    FullRank { mu: Var, l_tril: Var, dim: usize },
    /// Independent blocks, each a family over some of the free variables
    /// (a full-rank block over the variables whose correlations matter,
    /// mean-field over the rest): q is the product of the blocks.
    Grouped(Vec<Group>),
}

/// One block of a grouped family.
#[derive(Clone, Debug)]
pub struct Group {
    /// The block's variables: positions in the approximation's free variables.
    pub vars: Vec<usize>,
    /// Those variables as the block sees them (offsets within the block).
    pub local: Vec<FreeVar>,
    pub family: Family,
}

impl Group {
    /// The block's position of free variable `k`, if it holds it.
    fn position(&self, k: usize) -> Option<usize> {
        self.vars.iter().position(|&v| v == k)
    }
}

/// The free variables of a model with their offsets.
pub fn free_vars(model: &Model) -> Vec<FreeVar> {
    let mut off = 0;
    model
        .entries()
        .into_iter()
        .filter_map(|r| match r.kind {
            RvKind::Free {
                shape, transform, ..
            } => {
                let shape = match &transform {
                    Some(t) => t.unconstrained_shape(&shape),
                    None => shape,
                };
                let size = shape.iter().product();
                let v = FreeVar {
                    name: r.name,
                    shape,
                    size,
                    offset: off,
                    transform,
                    placeholder: r.var,
                };
                off += size;
                Some(v)
            }
            RvKind::Observed { .. } => None,
        })
        .collect()
}

/// The model in unconstrained coordinates: a placeholder per free variable
/// for its unconstrained value, the constrained values and the summed
/// log-Jacobian as expressions of those placeholders. Transforms whose
/// bounds depend on earlier variables get those variables' constrained
/// values (in model order, which is the order they can depend on).
pub struct Unconstrained {
    pub u: Vec<Var>,
    pub x: Vec<Var>,
    pub log_jac: Var,
}

pub fn unconstrained(vars: &[FreeVar], dtype: DType) -> Result<Unconstrained> {
    let (mut us, mut xs) = (vec![], vec![]);
    let mut log_jac = Var::scalar_const(0.0, dtype);
    let mut known: Vec<(Var, Var)> = vec![];
    for v in vars {
        let u = Var::input(
            &format!("{}_unconstrained", v.name),
            TensorType::fixed(dtype, &v.shape),
        );
        let (x, lj) = match &v.transform {
            Some(t) => (t.forward(&u)?, t.log_jacobian(&u)?.sum()?),
            None => (u.clone(), Var::scalar_const(0.0, dtype)),
        };
        let mut both = clone_replace_with(&[x, lj], &known, Unused::Ignore)?;
        let lj = both.pop().expect("two expressions");
        let x = both.pop().expect("two expressions");
        log_jac = (log_jac + lj)?;
        known.push((v.placeholder.clone(), x.clone()));
        us.push(u);
        xs.push(x);
    }
    Ok(Unconstrained {
        u: us,
        x: xs,
        log_jac,
    })
}

/// The initial point in unconstrained space, per free variable.
pub fn unconstrained_init(model: &Model, vars: &[FreeVar]) -> Result<Vec<Tensor>> {
    let init = model.initial_point()?;
    let dt = model.dtype();
    // Transforms may depend on other variables (hierarchical bounds): give
    // every placeholder its initial value, then evaluate.
    let values: Vec<(Var, Var)> = vars
        .iter()
        .zip(&init)
        .map(|(v, (_, t))| (v.placeholder.clone(), constant(t.cast(dt))))
        .collect();
    vars.iter()
        .zip(&init)
        .map(|(v, (_, t))| {
            let Some(tr) = &v.transform else {
                return Ok(t.cast(dt));
            };
            let u = tr.backward(&constant(t.cast(dt)))?;
            let u = clone_replace_with(&[u], &values, Unused::Ignore)?.remove(0);
            let out = function(theon_tensor::NO_INPUTS, &[&u])?
                .call::<Tensor>(&[])?
                .remove(0);
            if out.to_f64_vec().iter().any(|x| !x.is_finite()) {
                return Err(Error::value(format!(
                    "the initial value of '{}' is on the edge of its support",
                    v.name
                )));
            }
            Ok(out)
        })
        .collect()
}

/// The inverse of softplus, ln(e^x - 1), without overflow for large x.
fn softplus_inv(x: f64) -> f64 {
    x + (-(-x).exp_m1()).ln()
}

impl Family {
    /// Mean-field q at `init` with every sigma `start_sigma` (PyMC's start
    /// is rho = 0, sigma = softplus(0) = ln 2).
    pub fn mean_field(
        vars: &[FreeVar],
        init: &[Tensor],
        dtype: DType,
        start_sigma: Option<f64>,
    ) -> Family {
        let rho0 = start_sigma.map_or(0.0, softplus_inv);
        let mu = vars
            .iter()
            .zip(init)
            .map(|(v, t)| shared(&format!("mu_{}", v.name), t.cast(dtype)))
            .collect();
        let rho = vars
            .iter()
            .map(|v| {
                shared(
                    &format!("rho_{}", v.name),
                    Tensor::full(rho0, dtype, &v.shape),
                )
            })
            .collect();
        Family::MeanField { mu, rho }
    }

    /// Full-rank q at `init` with L = start_sigma * I (PyMC starts at L = I).
    /// The diagonal of L is softplus of its raw entries, so it stays positive.
    pub fn full_rank(
        vars: &[FreeVar],
        init: &[Tensor],
        dtype: DType,
        start_sigma: Option<f64>,
    ) -> Result<Family> {
        Family::full_rank_named(vars, init, dtype, start_sigma, "")
    }

    /// `full_rank` with its shared variables' names suffixed by `tag`.
    fn full_rank_named(
        vars: &[FreeVar],
        init: &[Tensor],
        dtype: DType,
        start_sigma: Option<f64>,
        tag: &str,
    ) -> Result<Family> {
        let dim: usize = vars.iter().map(|v| v.size).sum();
        let flat: Vec<f64> = init.iter().flat_map(|t| t.to_f64_vec()).collect();
        let raw = softplus_inv(start_sigma.unwrap_or(1.0));
        let tril: Vec<f64> = (0..dim)
            .flat_map(|i| (0..=i).map(move |j| if i == j { raw } else { 0.0 }))
            .collect();
        Ok(Family::FullRank {
            mu: shared(&format!("mu{tag}"), Tensor::vector(flat).cast(dtype)),
            l_tril: shared(&format!("L_tril{tag}"), Tensor::vector(tril).cast(dtype)),
            dim,
        })
    }

    /// A full-rank block over each of `blocks` (lists of positions in
    /// `vars`, disjoint), and one block over the remaining variables,
    /// full-rank when `rest_full_rank`, else mean-field.
    pub fn grouped(
        vars: &[FreeVar],
        init: &[Tensor],
        dtype: DType,
        start_sigma: Option<f64>,
        blocks: &[Vec<usize>],
        rest_full_rank: bool,
    ) -> Result<Family> {
        let mut taken = vec![false; vars.len()];
        for &k in blocks.iter().flatten() {
            if k >= vars.len() || std::mem::replace(&mut taken[k], true) {
                return Err(Error::value(format!(
                    "grouped approximation: free variable {k} is out of range or in two groups"
                )));
            }
        }
        let rest: Vec<usize> = (0..vars.len()).filter(|&k| !taken[k]).collect();
        let local_of = |ks: &[usize]| -> (Vec<FreeVar>, Vec<Tensor>) {
            let mut off = 0;
            let local = ks
                .iter()
                .map(|&k| {
                    let v = FreeVar {
                        offset: off,
                        ..vars[k].clone()
                    };
                    off += v.size;
                    v
                })
                .collect();
            (local, ks.iter().map(|&k| init[k].clone()).collect())
        };
        let mut groups = vec![];
        for (g, ks) in blocks.iter().enumerate().filter(|(_, ks)| !ks.is_empty()) {
            let (local, init) = local_of(ks);
            let family =
                Family::full_rank_named(&local, &init, dtype, start_sigma, &format!("_group{g}"))?;
            groups.push(Group {
                vars: ks.clone(),
                local,
                family,
            });
        }
        if !rest.is_empty() {
            let (local, init) = local_of(&rest);
            let family = if rest_full_rank {
                Family::full_rank_named(&local, &init, dtype, start_sigma, "_rest")?
            } else {
                Family::mean_field(&local, &init, dtype, start_sigma)
            };
            groups.push(Group {
                vars: rest,
                local,
                family,
            });
        }
        Ok(Family::Grouped(groups))
    }

    /// What a user calls this family.
    pub fn describe(&self) -> String {
        match self {
            Family::MeanField { .. } => "mean-field".into(),
            Family::FullRank { .. } => "full-rank".into(),
            Family::Grouped(groups) => {
                let parts: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        let names: Vec<&str> = g.local.iter().map(|v| v.name.as_str()).collect();
                        format!("{} over {}", g.family.describe(), names.join(", "))
                    })
                    .collect();
                format!("grouped [{}]", parts.join("; "))
            }
        }
    }

    /// The group holding free variable `k` and its position there.
    fn group_of(groups: &[Group], k: usize) -> Result<(&Group, usize)> {
        groups
            .iter()
            .find_map(|g| g.position(k).map(|i| (g, i)))
            .ok_or_else(|| Error::value(format!("no group holds free variable {k}")))
    }

    /// Mean of q for free variable `k` (unconstrained space, exact).
    pub fn mean_of(&self, vars: &[FreeVar], k: usize) -> Result<Tensor> {
        let v = &vars[k];
        match self {
            Family::MeanField { mu, .. } => mu[k].get_value(),
            Family::FullRank { mu, .. } => {
                let flat = mu.get_value()?.to_f64_vec();
                Tensor::new(flat[v.offset..v.offset + v.size].to_vec(), &v.shape)
            }
            Family::Grouped(groups) => {
                let (g, i) = Family::group_of(groups, k)?;
                g.family.mean_of(&g.local, i)
            }
        }
    }

    /// Standard deviation of q for free variable `k` (unconstrained, exact).
    pub fn std_of(&self, vars: &[FreeVar], k: usize) -> Result<Tensor> {
        let v = &vars[k];
        match self {
            Family::MeanField { rho, .. } => {
                let r = rho[k].get_value()?.to_f64_vec();
                let sd: Vec<f64> = r
                    .iter()
                    .map(|x| theon_runtime::Float::softplus(*x))
                    .collect();
                Tensor::new(sd, &v.shape)
            }
            Family::FullRank { l_tril, dim, .. } => {
                let lv = Family::l_values(l_tril, *dim)?;
                let sd: Vec<f64> = (v.offset..v.offset + v.size)
                    .map(|i| {
                        (0..*dim)
                            .map(|j| lv[i * dim + j] * lv[i * dim + j])
                            .sum::<f64>()
                            .sqrt()
                    })
                    .collect();
                Tensor::new(sd, &v.shape)
            }
            Family::Grouped(groups) => {
                let (g, i) = Family::group_of(groups, k)?;
                g.family.std_of(&g.local, i)
            }
        }
    }

    /// The covariance of q in unconstrained space over `vars`' flat order.
    pub fn covariance(&self, vars: &[FreeVar]) -> Result<Tensor> {
        let d: usize = vars.iter().map(|v| v.size).sum();
        match self {
            Family::FullRank { l_tril, dim, .. } => {
                let l = Family::l_matrix(l_tril, *dim)?;
                let llt = l.matmul(&l.t())?;
                Ok(function(theon_tensor::NO_INPUTS, &[&llt])?
                    .call::<Tensor>(&[])?
                    .remove(0))
            }
            Family::MeanField { .. } => {
                let mut cov = vec![0.0; d * d];
                for (k, v) in vars.iter().enumerate() {
                    let sd = self.std_of(vars, k)?.to_f64_vec();
                    for (i, s) in sd.iter().enumerate() {
                        let at = v.offset + i;
                        cov[at * d + at] = s * s;
                    }
                }
                Tensor::new(cov, &[d, d])
            }
            Family::Grouped(groups) => {
                let mut cov = vec![0.0; d * d];
                for g in groups {
                    let block = g.family.covariance(&g.local)?.to_f64_vec();
                    // Where each of the block's flat entries sits in `vars`' order.
                    let to: Vec<usize> = g
                        .vars
                        .iter()
                        .flat_map(|&k| vars[k].offset..vars[k].offset + vars[k].size)
                        .collect();
                    let n = to.len();
                    for (a, &i) in to.iter().enumerate() {
                        for (b, &j) in to.iter().enumerate() {
                            cov[i * d + j] = block[a * n + b];
                        }
                    }
                }
                Tensor::new(cov, &[d, d])
            }
        }
    }

    /// L's entries (row-major, dim x dim) as they are now.
    fn l_values(l_tril: &Var, dim: usize) -> Result<Vec<f64>> {
        let l = Family::l_matrix(l_tril, dim)?;
        Ok(function(theon_tensor::NO_INPUTS, &[&l])?
            .call::<Tensor>(&[])?
            .remove(0)
            .to_f64_vec())
    }

    /// The shared parameters, in update order.
    pub fn params(&self) -> Vec<Var> {
        match self {
            Family::MeanField { mu, rho } => mu.iter().chain(rho).cloned().collect(),
            Family::FullRank { mu, l_tril, .. } => vec![mu.clone(), l_tril.clone()],
            Family::Grouped(groups) => groups.iter().flat_map(|g| g.family.params()).collect(),
        }
    }

    /// Set mean-field sigmas (for tests and warm starts).
    pub fn set_sigma(&self, k: usize, sigma: &Tensor) -> Result<()> {
        match self {
            Family::MeanField { rho, .. } => {
                let r: Vec<f64> = sigma.to_f64_vec().into_iter().map(softplus_inv).collect();
                rho[k].set_value(Tensor::new(r, sigma.shape())?.cast(rho[k].dtype()))
            }
            Family::FullRank { .. } => Err(Error::value(
                "set_sigma: a full-rank approximation has no per-variable sigma",
            )),
            Family::Grouped(groups) => {
                let (g, i) = Family::group_of(groups, k)?;
                g.family.set_sigma(i, sigma)
            }
        }
    }

    /// L (dim x dim) from the lower-triangle vector.
    pub fn l_matrix(l_tril: &Var, dim: usize) -> Result<Var> {
        // Gather the triangle into a square (upper entries read a zero appended at the end).
        let n_tril = dim * (dim + 1) / 2;
        let mut index = vec![n_tril as i64; dim * dim];
        let mut k = 0;
        for i in 0..dim {
            for j in 0..=i {
                index[i * dim + j] = k;
                k += 1;
            }
        }
        let padded = Var::concatenate(&[l_tril.clone(), Var::zeros([1], l_tril.dtype())?], 0)?;
        let raw = padded
            .take(&constant(Tensor::vector(index)), 0)?
            .reshape([dim as i64, dim as i64])?;
        let eye: Vec<bool> = (0..dim * dim).map(|p| p / dim == p % dim).collect();
        Var::where_(
            &constant(Tensor::new(eye, &[dim, dim])?),
            raw.softplus(),
            &raw,
        )
    }

    /// The log-diagonal of L (what log q needs).
    fn log_diag(l_tril: &Var, dim: usize) -> Result<Var> {
        let diag: Vec<i64> = (0..dim as i64).map(|i| i * (i + 1) / 2 + i).collect();
        Ok(l_tril
            .take(&constant(Tensor::vector(diag)), 0)?
            .softplus()
            .log())
    }

    /// Reparameterized draws of every free variable (unconstrained), and
    /// the log density of q at them. `size` None: one unbatched draw;
    /// Some(n): a leading axis of n draws (logq per draw, shape (n,)).
    pub fn draw(
        &self,
        vars: &[FreeVar],
        rng: &RandomStream,
        size: Option<&Var>,
        deterministic: bool,
    ) -> Result<(Vec<Var>, Var)> {
        let dt = self.params()[0].dtype();
        let lead = |shape: &[usize]| -> Vec<DimArg> {
            let mut s: Vec<DimArg> = size.iter().map(|n| DimArg::from(*n)).collect();
            s.extend(shape.iter().map(|&d| DimArg::from(d)));
            s
        };
        let sum_event = |t: Var, event_rank: usize| -> Result<Var> {
            let r = t.rank() as i64;
            let axes: Vec<i64> = (r - event_rank as i64..r).collect();
            t.sum_axes(&axes, false)
        };
        match self {
            Family::MeanField { mu, rho } => {
                let mut us = vec![];
                let mut logq: Option<Var> = None;
                for (k, v) in vars.iter().enumerate() {
                    let sigma = rho[k].softplus();
                    if deterministic {
                        us.push(match size {
                            Some(_) => mu[k]
                                .expand_dims(0)?
                                .broadcast_to(lead(&v.shape).as_slice())?,
                            None => mu[k].clone(),
                        });
                        continue;
                    }
                    let eps = rng.normal(lead(&v.shape).as_slice(), dt)?;
                    us.push((&mu[k] + (&sigma * &eps)?)?);
                    // log q = sum(-eps^2/2 - ln sqrt(2 pi) - ln sigma)   (PyMC's form)
                    let term = (((eps.square() * -0.5)? - HALF_LN_2PI)? - sigma.log())?;
                    let term = sum_event(term, v.shape.len())?;
                    logq = Some(match logq {
                        None => term,
                        Some(q) => (q + term)?,
                    });
                }
                let logq = logq.unwrap_or_else(|| Var::scalar_const(0.0, dt));
                Ok((us, logq))
            }
            Family::FullRank { mu, l_tril, dim } => {
                let dim = *dim;
                let l = Family::l_matrix(l_tril, dim)?;
                let (z, logq) = if deterministic {
                    let z = match size {
                        Some(_) => mu.expand_dims(0)?.broadcast_to(lead(&[dim]).as_slice())?,
                        None => mu.clone(),
                    };
                    (z, Var::scalar_const(0.0, dt))
                } else {
                    let eps = rng.normal(lead(&[dim]).as_slice(), dt)?;
                    let z = (eps.matmul(&l.t())? + mu)?;
                    let quad = sum_event(((eps.square() * -0.5)? - HALF_LN_2PI)?, 1)?;
                    (z, (quad - Family::log_diag(l_tril, dim)?.sum()?)?)
                };
                let mut us = vec![];
                for v in vars {
                    let spec = SliceSpec::range(v.offset as i64, (v.offset + v.size) as i64);
                    let piece = match size {
                        Some(_) => z.slice(&[SliceSpec::FULL, spec])?,
                        None => z.slice(&[spec])?,
                    };
                    us.push(piece.reshape(lead(&v.shape).as_slice())?);
                }
                Ok((us, logq))
            }
            Family::Grouped(groups) => {
                let mut us: Vec<Option<Var>> = vec![None; vars.len()];
                let mut logq: Option<Var> = None;
                for g in groups {
                    let (draws, q) = g.family.draw(&g.local, rng, size, deterministic)?;
                    for (&k, u) in g.vars.iter().zip(draws) {
                        us[k] = Some(u);
                    }
                    logq = Some(match logq {
                        None => q,
                        Some(acc) => (acc + q)?,
                    });
                }
                let us = us
                    .into_iter()
                    .enumerate()
                    .map(|(k, u)| {
                        u.ok_or_else(|| Error::value(format!("no group holds free variable {k}")))
                    })
                    .collect::<Result<_>>()?;
                Ok((us, logq.unwrap_or_else(|| Var::scalar_const(0.0, dt))))
            }
        }
    }
}
