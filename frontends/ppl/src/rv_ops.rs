//! Arithmetic on random variables as on any expression: `&a + &b` for two
//! `Rv`s, and `Rv`s mixed with `Var`s and numbers (an `Rv` is its
//! expression; the result is an ordinary `Var`).

use crate::model::Rv;
use std::ops::{Add, Div, Mul, Sub};
use theon_tensor::{Result, Var};

macro_rules! rv_ops {
    ($($trait:ident $method:ident),*) => {$(
        impl $trait<&Rv> for &Rv {
            type Output = Result<Var>;
            fn $method(self, rhs: &Rv) -> Result<Var> {
                $trait::$method(&**self, &**rhs)
            }
        }
        impl $trait<&Var> for &Rv {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                $trait::$method(&**self, rhs)
            }
        }
        impl $trait<&Rv> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: &Rv) -> Result<Var> {
                $trait::$method(self, &**rhs)
            }
        }
        impl $trait<Var> for &Rv {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                $trait::$method(&**self, rhs)
            }
        }
        impl $trait<&Rv> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: &Rv) -> Result<Var> {
                $trait::$method(self, &**rhs)
            }
        }
        impl $trait<f64> for &Rv {
            type Output = Result<Var>;
            fn $method(self, rhs: f64) -> Result<Var> {
                $trait::$method(&**self, rhs)
            }
        }
        impl $trait<&Rv> for f64 {
            type Output = Result<Var>;
            fn $method(self, rhs: &Rv) -> Result<Var> {
                $trait::$method(self, &**rhs)
            }
        }
        impl $trait<Result<Var>> for &Rv {
            type Output = Result<Var>;
            fn $method(self, rhs: Result<Var>) -> Result<Var> {
                $trait::$method(&**self, rhs)
            }
        }
        impl $trait<&Rv> for Result<Var> {
            type Output = Result<Var>;
            fn $method(self, rhs: &Rv) -> Result<Var> {
                $trait::$method(self, &**rhs)
            }
        }
    )*};
}

rv_ops!(Add add, Sub sub, Mul mul, Div div);

impl std::ops::Neg for &Rv {
    type Output = Var;
    fn neg(self) -> Var {
        -&**self
    }
}
