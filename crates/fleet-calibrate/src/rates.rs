//! Outcome probabilities: Beta posteriors, and the hierarchical prior that lets small
//! segments borrow strength from the pooled data.
//!
//! Each outcome (failure, rejection, time-out) is counted against the devices with a final
//! outcome of their own; its count in a segment is binomial (the marginal of the multinomial
//! of outcomes). With a Beta(a, b) prior the posterior is Beta(a + x, b + n - x); the interval
//! is the posterior's equal-tailed credible interval.
//!
//! - One segment, two, or the pooled data: the Jeffreys prior Beta(1/2, 1/2), whose intervals
//!   have close to nominal frequentist coverage.
//! - Three segments or more: partial pooling. The segments' rates are drawn from a common
//!   Beta with mean `m` and concentration `k` (its weight in devices). `m` is the pooled rate,
//!   Jeffreys-smoothed, `(X + 1/2) / (N + 1)`. `k` is not fixed at one estimate (with a few
//!   segments that over-shrinks an outlying one): it gets the prior `p(a, b) ~ (a + b)^(-5/2)`
//!   of Gelman et al. (Bayesian Data Analysis, 3rd ed., section 5.3; on `ln k`: `k^(-1/2)`)
//!   over a grid of 64 points in `[1, N]`, weighted by the beta-binomial marginal likelihood
//!   of every segment's counts. A segment's posterior is then the mixture, over that grid, of
//!   Beta(k m + x, k (1 - m) + n - x); its interval is the mixture's, found by bisection.
//!   Segments alike put the weight on large `k`: a segment of 3 devices gets close to the
//!   pooled rate instead of 0 % or 100 %. Segments that differ put it on small `k`: each keeps
//!   its own rate.
//!
//! Where a single Beta is needed (`{ beta = [a, b] }` for replications), the mixture is
//! replaced by the Beta with the same mean and variance.

use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF};
use statrs::function::beta::ln_beta;

/// The Jeffreys prior.
pub(crate) const JEFFREYS: [f64; 2] = [0.5, 0.5];

/// A prior: a mixture of Betas (one component for Jeffreys).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prior {
    /// (weight, [a, b]); the weights add up to 1.
    pub(crate) components: Vec<(f64, [f64; 2])>,
}

impl Prior {
    /// The Jeffreys prior.
    pub(crate) fn jeffreys() -> Self {
        Self {
            components: vec![(1.0, JEFFREYS)],
        }
    }

    /// The prior's weight in devices, `a + b` averaged over its components.
    pub(crate) fn devices(&self) -> f64 {
        self.components.iter().map(|(w, [a, b])| w * (a + b)).sum()
    }
}

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
    /// The posterior as one Beta(a, b) (moment-matched where it is a mixture).
    pub beta: [f64; 2],
    /// The prior's weight in devices (1 for Jeffreys).
    pub prior_devices: f64,
}

/// The posterior of `count` out of `n` under `prior`, with an interval at `level`.
pub(crate) fn fit(count: u64, n: u64, prior: &Prior, level: f64) -> RateFit {
    let x = count.min(n) as f64;
    let m = (n as f64) - x;
    let parts: Vec<(f64, Beta)> = prior
        .components
        .iter()
        .filter_map(|&(w, [a, b])| Beta::new(a + x, b + m).ok().map(|d| (w, d)))
        .collect();
    let moments = |k: usize| -> f64 {
        prior
            .components
            .iter()
            .map(|&(w, [a, b])| {
                let (a, b) = (a + x, b + m);
                let mean = a / (a + b);
                match k {
                    1 => w * mean,
                    _ => w * (mean * mean + a * b / ((a + b).powi(2) * (a + b + 1.0))),
                }
            })
            .sum()
    };
    let (mean, second) = (moments(1), moments(2));
    let var = (second - mean * mean).max(1e-300);
    let common = (mean * (1.0 - mean) / var - 1.0).max(1e-9);
    let tail = (1.0 - level) / 2.0;
    let cdf = |p: f64| parts.iter().map(|(w, d)| w * d.cdf(p)).sum::<f64>();
    let (lower, upper) = match parts.as_slice() {
        [(_, d)] => (d.inverse_cdf(tail), d.inverse_cdf(1.0 - tail)),
        _ => (bisect(&cdf, tail), bisect(&cdf, 1.0 - tail)),
    };
    RateFit {
        count,
        n,
        mean,
        lower,
        upper,
        beta: [mean * common, (1.0 - mean) * common],
        prior_devices: prior.devices(),
    }
}

/// The `q` quantile of a CDF on [0, 1].
fn bisect(cdf: &dyn Fn(f64) -> f64, q: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
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

/// Points of the grid in `ln k`.
const GRID: usize = 64;

/// The hierarchical prior of the segments' `(count, n)` (see the module documentation), or
/// the Jeffreys prior with fewer than three segments or fewer than two devices.
pub(crate) fn pooled_prior(counts: &[(u64, u64)]) -> Prior {
    let total_x: u64 = counts.iter().map(|c| c.0).sum();
    let total_n: u64 = counts.iter().map(|c| c.1).sum();
    if counts.len() < 3 || total_n < 2 {
        return Prior::jeffreys();
    }
    let mean = (total_x as f64 + 0.5) / (total_n as f64 + 1.0);
    let hi = (total_n as f64).ln();
    let grid: Vec<(f64, [f64; 2])> = (0..GRID)
        .map(|i| {
            let k = (hi * i as f64 / (GRID - 1) as f64).exp();
            let ab = [k * mean, k * (1.0 - mean)];
            (log_marginal(counts, ab[0], ab[1]), ab)
        })
        .collect();
    let best = grid.iter().map(|g| g.0).fold(f64::NEG_INFINITY, f64::max);
    let kept: Vec<(f64, [f64; 2])> = grid
        .into_iter()
        .map(|(ll, ab)| ((ll - best).exp() * (ab[0] + ab[1]).powf(-0.5), ab))
        .filter(|(w, _)| *w > 1e-9)
        .collect();
    let total: f64 = kept.iter().map(|c| c.0).sum();
    Prior {
        components: kept.into_iter().map(|(w, ab)| (w / total, ab)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jeffreys_interval_matches_known_values() {
        // 10 of 100 under Jeffreys: Beta(10.5, 90.5), 95 % interval [0.0522, 0.1706]
        // (Brown, Cai and DasGupta 2001, table of Jeffreys intervals).
        let f = fit(10, 100, &Prior::jeffreys(), 0.95);
        assert!((f.lower - 0.0522).abs() < 5e-4, "{}", f.lower);
        assert!((f.upper - 0.1706).abs() < 5e-4, "{}", f.upper);
        assert!((f.mean - 10.5 / 101.0).abs() < 1e-12);
        assert!((f.beta[0] - 10.5).abs() < 1e-6 && (f.beta[1] - 90.5).abs() < 1e-6);
        let zero = fit(0, 50, &Prior::jeffreys(), 0.95);
        assert!(
            zero.lower < 1e-4 && zero.upper > 0.0 && zero.upper < 0.06,
            "{zero:?}"
        );
    }

    #[test]
    fn alike_segments_pool_and_different_ones_do_not() {
        // Four segments at 5 %: the weight goes to large k; a segment of 3 devices with 3
        // failures then gets a rate near 5 %, not 100 %.
        let alike = [(50, 1000), (48, 1000), (52, 1000), (3, 3)];
        let p = pooled_prior(&alike);
        assert!(p.devices() > 100.0, "{}", p.devices());
        let small = fit(3, 3, &p, 0.95);
        assert!(small.mean < 0.15, "{small:?}");
        // Segments at 1 %, 10 %, 30 %: the weight goes to small k, each keeps its own rate.
        let different = [(10, 1000), (100, 1000), (300, 1000)];
        let p = pooled_prior(&different);
        assert!(p.devices() < 30.0, "{}", p.devices());
        let own = fit(300, 1000, &p, 0.95);
        assert!((own.mean - 0.3).abs() < 0.01, "{own:?}");
        assert!(own.lower < 0.3 && own.upper > 0.3);
        assert_eq!(pooled_prior(&[(1, 10), (2, 10)]), Prior::jeffreys());
    }

    #[test]
    fn a_mixture_interval_lies_between_its_components() {
        let p = Prior {
            components: vec![(0.5, [1.0, 99.0]), (0.5, [10.0, 990.0])],
        };
        let f = fit(5, 100, &p, 0.95);
        let a = fit(
            5,
            100,
            &Prior {
                components: vec![(1.0, [1.0, 99.0])],
            },
            0.95,
        );
        let b = fit(
            5,
            100,
            &Prior {
                components: vec![(1.0, [10.0, 990.0])],
            },
            0.95,
        );
        assert!(f.mean > b.mean.min(a.mean) && f.mean < b.mean.max(a.mean));
        assert!(f.lower >= a.lower.min(b.lower) - 1e-9 && f.upper <= a.upper.max(b.upper) + 1e-9);
    }
}
