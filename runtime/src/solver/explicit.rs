//! What the two explicit Runge–Kutta methods ([`super::Dopri5`],
//! [`super::Dop853`]) share: Hairer's stiffness counting and the
//! bookkeeping of dense-output samples.

use super::dopri5::Outcome;

/// Steps at the stability boundary (without six others in a row) that
/// declare stiffness.
const STIFF_STEPS: u32 = 15;
/// Steps off the boundary in a row that clear the count.
const NONSTIFF_STEPS: u32 = 6;
/// While no step has counted as stiff, the test runs on one accepted step
/// in this many (Hairer's `NSTIFF`, 1000 in DOPRI5 and DOP853; shorter
/// here because a subject's run is a few hundred steps and the automatic
/// solver should switch early); once one has, on every step until the
/// count clears. Declaring stiffness is delayed by at most this many
/// steps less one; the test itself was 5% of a non-stiff integration.
const TEST_EVERY: u32 = 10;

/// Hairer's stiffness test (DOPRI5's `IASTI`/`NONSTI`): an accepted step
/// whose `h·|λ|` estimate exceeds the method's threshold counts as stiff;
/// 15 such steps declare stiffness, six steps below it in a row reset the
/// count.
#[derive(Debug, Clone)]
pub(super) struct StiffnessTest {
    threshold: f64,
    stiff: u32,
    nonstiff: u32,
    /// Accepted steps since the last test, while none counts as stiff.
    since: u32,
}

impl StiffnessTest {
    /// `threshold`: `h·|λ|` near where the method's stability region
    /// crosses the negative real axis.
    pub fn new(threshold: f64) -> Self {
        StiffnessTest {
            threshold,
            stiff: 0,
            nonstiff: 0,
            since: 0,
        }
    }

    pub fn reset(&mut self) {
        self.stiff = 0;
        self.nonstiff = 0;
        self.since = 0;
    }

    /// Whether the accepted step just taken should be tested (see
    /// [`TEST_EVERY`]).
    pub fn due(&mut self) -> bool {
        if self.stiff > 0 {
            return true;
        }
        self.since += 1;
        if self.since >= TEST_EVERY {
            self.since = 0;
            true
        } else {
            false
        }
    }

    /// Records an accepted step with `h·|λ|` ≈ `h * sqrt(num / den)`
    /// (0 when `den` is 0); true when stiffness is declared, after which
    /// the count starts again.
    pub fn record(&mut self, h: f64, num: f64, den: f64) -> bool {
        let h_lambda = if den > 0.0 {
            h * (num / den).sqrt()
        } else {
            0.0
        };
        if h_lambda > self.threshold {
            self.nonstiff = 0;
            self.stiff += 1;
            if self.stiff >= STIFF_STEPS {
                self.stiff = 0;
                return true;
            }
        } else {
            self.nonstiff += 1;
            if self.nonstiff >= NONSTIFF_STEPS {
                self.stiff = 0;
            }
        }
        false
    }
}

/// Samples requested from an `integrate_dense` call and how many are
/// written so far.
pub(super) struct Dense<'a> {
    pub times: &'a [f64],
    pub out: &'a mut [f64],
    pub written: usize,
}

impl<'a> Dense<'a> {
    pub fn new(times: &'a [f64], out: &'a mut [f64]) -> Self {
        Dense {
            times,
            out,
            written: 0,
        }
    }

    /// Whether the next sample falls in a step ending at `end` (`last`: the
    /// step ends the interval, so every remaining sample does).
    pub fn wants(&self, end: f64, last: bool) -> bool {
        self.times
            .get(self.written)
            .is_some_and(|&s| last || s <= end)
    }

    /// The sample a step of `h` from `t` should end on instead, if any:
    /// the next sample, when the step would reach it shortened to no less
    /// than `fraction · h` or lengthened to no more than `stretch · h`
    /// (such a step costs less than the continuous extension would); or
    /// when it lies earlier in the step but the sample after it is one
    /// such step further on, so that the steps from there on fall on the
    /// samples (a regular grid about a step apart).
    pub fn landing(&self, t: f64, h: f64, fraction: f64, stretch: f64) -> Option<f64> {
        let &s = self.times.get(self.written)?;
        let fits = |span: f64| span >= fraction * h && span <= stretch * h;
        let span = s - t;
        if span <= 0.0 || span > stretch * h {
            return None;
        }
        let aligns = || {
            self.times
                .get(self.written + 1)
                .is_some_and(|&next| fits(next - s))
        };
        (fits(span) || aligns()).then_some(s)
    }

    /// Writes the accepted step's end state `y` (the step ended on the
    /// sample time `end`) for every remaining sample at `end`.
    pub fn take_endpoint(&mut self, end: f64, y: &[f64]) {
        while let Some((_, row)) = self.next_sample(end, false, y.len()) {
            row.copy_from_slice(y);
        }
    }

    /// The next sample in the step just accepted, which ends at `end`
    /// (every remaining one when `last`): its time and the `n`-state row
    /// its solution goes in, counted as written. (A loop over these rather
    /// than a callback per sample: the callback was compiled once for all
    /// state counts, with run-time lengths, and cost about 240 instructions
    /// more per sample on issue 6's workload.)
    #[inline(always)]
    pub fn next_sample(&mut self, end: f64, last: bool, n: usize) -> Option<(f64, &mut [f64])> {
        if !self.wants(end, last) {
            return None;
        }
        let s = self.times[self.written];
        let row = self.out.get_mut(self.written * n..(self.written + 1) * n)?;
        self.written += 1;
        Some((s, row))
    }

    /// The result of the integration that ended with `outcome` at state
    /// `y`: when `t1` was reached, samples at or after it (rounding) take
    /// the end state and all count as written.
    pub fn finish(self, outcome: Outcome, y: &[f64]) -> (Outcome, usize) {
        if outcome != Outcome::Reached {
            return (outcome, self.written);
        }
        let n = y.len();
        for row in self
            .out
            .chunks_mut(n.max(1))
            .take(self.times.len())
            .skip(self.written)
        {
            row.copy_from_slice(y);
        }
        (outcome, self.times.len())
    }
}

/// The stage vectors named, each cut to the first `n` states: with `n` a
/// constant (the methods' small-system copies), the loops over them index
/// without bounds checks. (A macro: a generic function building an array of
/// all the slices was not inlined and cost 4% of issue 6's ODE workload.)
macro_rules! trim {
    ($n:expr; $($k:expr),+ $(,)?) => {
        ($(&$k[..$n]),+)
    };
}
pub(super) use trim;
