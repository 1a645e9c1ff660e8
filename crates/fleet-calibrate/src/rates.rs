//! Outcome probabilities: Beta posteriors, and the empirical-Bayes prior that lets small
//! segments borrow strength from the pooled data.
//!
//! Each outcome (failure, rejection, time-out) is counted against the devices with a final
//! outcome of their own; its count in a segment is binomial (the marginal of the multinomial
//! of outcomes). With a Beta(a, b) prior the posterior is Beta(a + x, b + n - x); the interval
//! is its equal-tailed credible interval.
//!
//! - One segment, or the pooled data: the Jeffreys prior Beta(1/2, 1/2), whose intervals
//!   have close to nominal frequentist coverage.
//! - Three segments or more: an empirical-Bayes prior. Its mean is the pooled rate
//!   (Jeffreys-smoothed, `(X + 1/2) / (N + 1)`); its concentration `k = a + b` maximises the
//!   beta-binomial marginal likelihood of the segments' counts, searched on a grid in
//!   `ln k` over `[1, N]` (the prior never weighs more than all the data). Segments that
//!   differ get a weak prior (small `k`); segments alike get a strong one, so a segment of
//!   3 devices gets close to the pooled rate instead of 0 % or 100 %.

use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF};
use statrs::function::beta::ln_beta;

/// The Jeffreys prior.
pub(crate) const JEFFREYS: [f64; 2] = [0.5, 0.5];

/// One outcome's probability in one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateFit {
    /// Devices with this outcome.
    pub count: u64,
    /// Devices with a final outcome of their own (succeeded, failed, rejected, timed out).
    pub n: u64,
    /// The posterior mean.
    pub mean: f64,
    /// The lower end of the equal-tailed credible interval.
    pub lower: f64,
    /// The upper end.
    pub upper: f64,
    /// The posterior Beta(a, b).
    pub beta: [f64; 2],
    /// The prior Beta(a, b).
    pub prior: [f64; 2],
}

/// The posterior of `count` out of `n` under `prior`, with an interval at `level`.
pub(crate) fn fit(count: u64, n: u64, prior: [f64; 2], level: f64) -> RateFit {
    let a = prior[0] + count as f64;
    let b = prior[1] + (n - count.min(n)) as f64;
    let tail = (1.0 - level) / 2.0;
    let (lower, upper) = match Beta::new(a, b) {
        Ok(d) => (d.inverse_cdf(tail), d.inverse_cdf(1.0 - tail)),
        Err(_) => (0.0, 1.0),
    };
    RateFit {
        count,
        n,
        mean: a / (a + b),
        lower,
        upper,
        beta: [a, b],
        prior,
    }
}

/// The beta-binomial log marginal likelihood of the counts under Beta(a, b), without the
/// binomial coefficients (constant in a and b).
fn log_marginal(counts: &[(u64, u64)], a: f64, b: f64) -> f64 {
    let base = ln_beta(a, b);
    counts
        .iter()
        .map(|&(x, n)| ln_beta(a + x as f64, b + (n - x) as f64) - base)
        .sum()
}

/// The empirical-Bayes prior of the segments' `(count, n)` (see the module documentation),
/// or the Jeffreys prior with fewer than three segments or no data.
pub(crate) fn pooled_prior(counts: &[(u64, u64)]) -> [f64; 2] {
    let total_x: u64 = counts.iter().map(|c| c.0).sum();
    let total_n: u64 = counts.iter().map(|c| c.1).sum();
    if counts.len() < 3 || total_n < 2 {
        return JEFFREYS;
    }
    let mean = (total_x as f64 + 0.5) / (total_n as f64 + 1.0);
    let (lo, hi) = (0.0_f64, (total_n as f64).ln());
    let ll = |ln_k: f64| {
        let k = ln_k.exp();
        log_marginal(counts, k * mean, k * (1.0 - mean))
    };
    // A grid, then a finer grid around its best point: the likelihood is smooth in ln k.
    let mut best = lo;
    let mut step = (hi - lo) / 64.0;
    let mut centre = (lo + hi) / 2.0;
    let mut half = (hi - lo) / 2.0;
    for _ in 0..4 {
        let mut best_ll = f64::NEG_INFINITY;
        let mut x = (centre - half).max(lo);
        while x <= (centre + half).min(hi) + 1e-12 {
            let v = ll(x);
            if v > best_ll {
                best_ll = v;
                best = x;
            }
            x += step;
        }
        centre = best;
        half = 2.0 * step;
        step /= 16.0;
    }
    let k = best.exp();
    [k * mean, k * (1.0 - mean)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jeffreys_interval_matches_known_values() {
        // 10 of 100 under Jeffreys: Beta(10.5, 90.5), 95 % interval [0.0522, 0.1706]
        // (Brown, Cai and DasGupta 2001, table of Jeffreys intervals).
        let f = fit(10, 100, JEFFREYS, 0.95);
        assert!((f.lower - 0.0522).abs() < 5e-4, "{}", f.lower);
        assert!((f.upper - 0.1706).abs() < 5e-4, "{}", f.upper);
        assert!((f.mean - 10.5 / 101.0).abs() < 1e-12);
        let zero = fit(0, 50, JEFFREYS, 0.95);
        assert!(zero.lower < 1e-4 && zero.upper > 0.0 && zero.upper < 0.06, "{zero:?}");
    }

    #[test]
    fn alike_segments_pool_and_different_ones_do_not() {
        // Four segments at 5 %: a strong prior; a segment of 3 devices with 3 failures then
        // gets a rate near 5 %, not 100 %.
        let alike = [(50, 1000), (48, 1000), (52, 1000), (3, 3)];
        let p = pooled_prior(&alike);
        assert!(p[0] + p[1] > 200.0, "{p:?}");
        let small = fit(3, 3, p, 0.95);
        assert!(small.mean < 0.10, "{small:?}");
        // Segments at 1 %, 10 %, 30 %: a weak prior, each keeps its own rate.
        let different = [(10, 1000), (100, 1000), (300, 1000)];
        let p = pooled_prior(&different);
        assert!(p[0] + p[1] < 30.0, "{p:?}");
        let own = fit(300, 1000, p, 0.95);
        assert!((own.mean - 0.3).abs() < 0.01, "{own:?}");
        assert_eq!(pooled_prior(&[(1, 10), (2, 10)]), JEFFREYS);
    }
}
