//! [`OdeSolver`]: the solver a simulation holds, choosing between an
//! explicit method (DOP853 or Dopri5) and Rodas per [`Method`].

use super::{Dop853, Dopri5, Method, Outcome, Rodas, SolverError, SolverOptions, SolverStats};

/// The explicit method of an [`OdeSolver`]. One per solver, so the size
/// difference of the variants costs nothing worth a box.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
enum Explicit {
    Dop853(Dop853),
    Dopri5(Dopri5),
}

impl Explicit {
    fn new(n: usize, opts: SolverOptions) -> Self {
        match opts.method {
            Method::Dopri5 => Explicit::Dopri5(Dopri5::new(n, opts)),
            _ => Explicit::Dop853(Dop853::new(n, opts)),
        }
    }

    fn reset(&mut self) {
        match self {
            Explicit::Dop853(s) => s.reset(),
            Explicit::Dopri5(s) => s.reset(),
        }
    }

    fn stats(&self) -> SolverStats {
        match self {
            Explicit::Dop853(s) => s.stats(),
            Explicit::Dopri5(s) => s.stats(),
        }
    }

    fn integrate<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<(), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        match self {
            Explicit::Dop853(s) => s.integrate(f, t0, t1, y),
            Explicit::Dopri5(s) => s.integrate(f, t0, t1, y),
        }
    }

    fn integrate_detect_stiff<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<Outcome, SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        match self {
            Explicit::Dop853(s) => s.integrate_detect_stiff(f, t0, t1, y),
            Explicit::Dopri5(s) => s.integrate_detect_stiff(f, t0, t1, y),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn integrate_dense<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
        times: &[f64],
        out: &mut [f64],
        detect_stiff: bool,
    ) -> Result<(Outcome, usize), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        match self {
            Explicit::Dop853(s) => s.integrate_dense(f, t0, t1, y, times, out, detect_stiff),
            Explicit::Dopri5(s) => s.integrate_dense(f, t0, t1, y, times, out, detect_stiff),
        }
    }
}

/// Integrates one interval at a time with the method [`SolverOptions::method`]
/// asks for. With [`Method::Auto`] it starts with [`Dop853`] and, once
/// its stiffness test fires, finishes that interval and every later one
/// with [`Rodas`], until [`OdeSolver::reset`] (one subject = one reset).
/// The explicit method running out of steps ([`SolverError::TooManySteps`]) or step size
/// ([`SolverError::StepSizeTooSmall`]) before the test fires also hands the
/// rest of the interval over to Rodas; other errors are returned.
#[derive(Debug, Clone)]
pub struct OdeSolver {
    method: Method,
    explicit: Explicit,
    stiff: Rodas,
    use_stiff: bool,
    switches: u64,
}

impl OdeSolver {
    /// A solver for `n` states.
    pub fn new(n: usize, opts: SolverOptions) -> Self {
        OdeSolver {
            method: opts.method,
            explicit: Explicit::new(n, opts),
            stiff: Rodas::new(n, opts),
            use_stiff: opts.method == Method::Stiff,
            switches: 0,
        }
    }

    /// Forgets step-size history and, for [`Method::Auto`], returns to the
    /// explicit method: the next integration starts as if new.
    pub fn reset(&mut self) {
        self.explicit.reset();
        self.stiff.reset();
        self.use_stiff = self.method == Method::Stiff;
    }

    /// Counters since construction, both methods together
    /// (`stiff_switches` counts the hand-overs from the explicit method to Rodas).
    pub fn stats(&self) -> SolverStats {
        let mut s = self.explicit.stats();
        s.add(&self.stiff.stats());
        s.stiff_switches += self.switches;
        s
    }

    /// Counters of each method since construction: `(explicit, Rodas)`.
    pub fn stats_by_method(&self) -> (SolverStats, SolverStats) {
        (self.explicit.stats(), self.stiff.stats())
    }

    /// Whether the next interval will be integrated with Rodas.
    pub fn is_stiff(&self) -> bool {
        self.use_stiff
    }

    /// Advances `y` from `t0` to exactly `t1` like [`OdeSolver::integrate`]
    /// and writes the solution at each of `times` (sorted, within
    /// `(t0, t1]`) into `out` (`times.len() × n`, row by row). The
    /// explicit method reports them from its continuous extension without
    /// stopping at them ([`Dop853::integrate_dense`]); Rodas, which has none here,
    /// integrates from sample to sample. Not for the estimation runner,
    /// whose records must stay on the steps they always took.
    #[allow(clippy::too_many_arguments)]
    pub fn integrate_dense<F, J>(
        &mut self,
        f: &mut F,
        jac: &mut J,
        t0: f64,
        t1: f64,
        y: &mut [f64],
        times: &[f64],
        out: &mut [f64],
    ) -> Result<(), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
        J: FnMut(f64, &[f64], &mut [f64]),
    {
        let (t, from) = if self.use_stiff || self.method == Method::Stiff {
            (t0, 0)
        } else {
            let detect = self.method == Method::Auto;
            match self
                .explicit
                .integrate_dense(f, t0, t1, y, times, out, detect)
            {
                Ok((Outcome::Reached, _)) => return Ok(()),
                Ok((Outcome::Stiff { t }, written)) => (t, written),
                Err(SolverError::TooManySteps { t } | SolverError::StepSizeTooSmall { t })
                    if detect =>
                {
                    (t, times.partition_point(|&s| s <= t))
                }
                Err(e) => return Err(e),
            }
        };
        if !self.use_stiff {
            self.use_stiff = true;
            self.switches += 1;
        }
        let n = y.len();
        let mut at = t;
        for (s, row) in times.iter().zip(out.chunks_mut(n.max(1))).skip(from) {
            self.stiff.integrate(f, jac, at, *s, y)?;
            row.copy_from_slice(y);
            at = at.max(*s);
        }
        self.stiff.integrate(f, jac, at, t1, y)
    }

    /// Advances `y` from `t0` to exactly `t1` (`t1 ≥ t0`; nothing happens
    /// when `t1 ≤ t0`). `f(t, y, dydt)` is the right-hand side; `jac(t, y, J)`
    /// writes `∂f/∂y` column-major (`J[j·n + i] = ∂f_i/∂y_j`) and is called
    /// only by the stiff method.
    pub fn integrate<F, J>(
        &mut self,
        f: &mut F,
        jac: &mut J,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<(), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
        J: FnMut(f64, &[f64], &mut [f64]),
    {
        if self.use_stiff {
            return self.stiff.integrate(f, jac, t0, t1, y);
        }
        match self.method {
            Method::Explicit | Method::Dopri5 => self.explicit.integrate(f, t0, t1, y),
            Method::Stiff => self.stiff.integrate(f, jac, t0, t1, y),
            Method::Auto => {
                let t = match self.explicit.integrate_detect_stiff(f, t0, t1, y) {
                    Ok(Outcome::Reached) => return Ok(()),
                    Ok(Outcome::Stiff { t }) => t,
                    // The explicit method leaves `y` at the `t` it reports for these two:
                    // a step-size collapse or a step budget exhausted before
                    // the test could fire are stiffness too.
                    Err(SolverError::TooManySteps { t } | SolverError::StepSizeTooSmall { t }) => t,
                    Err(e) => return Err(e),
                };
                self.use_stiff = true;
                self.switches += 1;
                self.stiff.integrate(f, jac, t, t1, y)
            }
        }
    }
}
