//! Latency distributions fitted to the devices that answered.
//!
//! - Log-normal by maximum likelihood: `mu` and `sigma` are the mean and the (n-denominator)
//!   standard deviation of the log latencies; the median is `exp(mu)`. Intervals are exact
//!   under the model: the median's from Student's t, `exp(mu +- t * s / sqrt(n))`, and
//!   sigma's from the chi-square distribution of `(n - 1) s^2 / sigma^2` (`s` with the
//!   n - 1 denominator). Latencies below 1 ms are taken as 1 ms (the clock's resolution).
//! - Exponential (mean) and uniform (min, max) by maximum likelihood; fixed when every
//!   latency is the same.
//! - Goodness of fit: the Kolmogorov-Smirnov distance D of each fitted family, and its
//!   p-value by a parametric bootstrap (draw n latencies from the fitted model, refit, take
//!   D again; p = (1 + #{D* >= D}) / (B + 1)), which accounts for the fitted parameters
//!   (the textbook KS table does not). At most 2,000 latencies (a seeded random subset) enter
//!   the test. The family with the smallest D is chosen; when even its p-value is at most 0.01
//!   the empirical distribution (101 quantiles) is chosen instead (`--latency auto`).
//! - Devices that timed out never answered: they are not in the fit (they are the time-out
//!   probability). The fit reports how much of its own mass lies beyond the shortest time a
//!   timed-out device was waited for; when that is not small, some time-outs were slow
//!   answers and the fitted latency is too short.

use fleet_sim::Distribution;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution as _, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// Which latency distribution calibration writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyChoice {
    /// The family with the smallest KS distance, or the empirical distribution when none fits
    /// (bootstrap p-value at most 0.01).
    Auto,
    /// Log-normal.
    Lognormal,
    /// Exponential.
    Exponential,
    /// Uniform.
    Uniform,
    /// The empirical distribution (101 quantiles).
    Empirical,
}

/// One candidate family and its goodness of fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The fitted distribution.
    pub distribution: Distribution,
    /// The Kolmogorov-Smirnov distance between it and the latencies.
    pub ks_d: f64,
    /// The parametric-bootstrap p-value (`None` when no bootstrap draws were asked for).
    pub p_value: Option<f64>,
}

/// The latency fit of one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyFit {
    /// Devices that answered with a known latency.
    pub n: u64,
    /// Devices that timed out (not in the fit).
    pub timed_out: u64,
    /// The log-normal median, and its interval.
    pub median_ms: f64,
    /// The interval of the median.
    pub median_ms_interval: [f64; 2],
    /// The log-normal sigma (maximum likelihood).
    pub sigma: f64,
    /// The interval of sigma.
    pub sigma_interval: [f64; 2],
    /// Log-normal, exponential and uniform, in that order.
    pub candidates: Vec<Candidate>,
    /// The distribution written.
    pub chosen: Distribution,
    /// The quantiles at 0 %, 1 %, ..., 100 % (the empirical distribution).
    pub quantiles_ms: Vec<f64>,
    /// The fitted log-normal's probability beyond the shortest wait of a timed-out device.
    pub mass_beyond_timeout: Option<f64>,
    /// The median partially pooled with the other segments' (3 segments or more).
    pub pooled: Option<PooledMedian>,
}

/// A segment's log-normal median partially pooled with the other segments' (empirical Bayes
/// on the log scale; `docs/calibration.md`, "Partial pooling of latency").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PooledMedian {
    /// The pooled median.
    pub median_ms: f64,
    /// Its interval.
    pub median_ms_interval: [f64; 2],
    /// The weight of the segment's own estimate (1: its own; 0: the mean of all segments).
    pub own_weight: f64,
}

/// How to fit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) level: f64,
    pub(crate) choice: LatencyChoice,
    pub(crate) draws: u32,
    pub(crate) seed: u64,
}

/// The largest sample the goodness-of-fit test takes.
const GOF_MAX_N: usize = 2000;

/// Fits `latencies_ms` (at least 2); `waits_ms` are the times timed-out devices were waited.
pub(crate) fn fit(latencies_ms: &[f64], waits_ms: &[f64], s: Settings) -> Option<LatencyFit> {
    let n = latencies_ms.len();
    if n < 2 {
        return None;
    }
    let mut sorted: Vec<f64> = latencies_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mu, sd_mle) = log_moments(&sorted);
    let (median_ms_interval, sigma_interval) = intervals(mu, sd_mle, n, s.level);
    let lognormal = Family::Lognormal { mu, sigma: sd_mle };
    let families = [
        lognormal,
        Family::exponential(&sorted),
        Family::uniform(&sorted),
    ];
    let gof_sample = subsample(&sorted, s.seed);
    let candidates: Vec<Candidate> = families
        .iter()
        .enumerate()
        .map(|(i, f)| {
            candidate(
                *f,
                &gof_sample,
                s.draws,
                s.seed.wrapping_add(i as u64 * 7919),
            )
        })
        .collect();
    let quantiles_ms: Vec<f64> = (0..=100)
        .map(|k| quantile(&sorted, k as f64 / 100.0))
        .collect();
    let chosen = choose(&sorted, &candidates, &quantiles_ms, s.choice);
    let mass_beyond_timeout = waits_ms
        .iter()
        .copied()
        .reduce(f64::min)
        .map(|t| 1.0 - lognormal.cdf(t));
    Some(LatencyFit {
        n: n as u64,
        timed_out: waits_ms.len() as u64,
        median_ms: mu.exp(),
        median_ms_interval,
        sigma: sd_mle,
        sigma_interval,
        candidates,
        chosen,
        quantiles_ms,
        mass_beyond_timeout,
        pooled: None,
    })
}

fn log_moments(sorted: &[f64]) -> (f64, f64) {
    let n = sorted.len() as f64;
    let logs = sorted.iter().map(|x| x.max(1.0).ln());
    let mu = logs.clone().sum::<f64>() / n;
    let var = logs.map(|l| (l - mu).powi(2)).sum::<f64>() / n;
    (mu, var.sqrt())
}

/// The exact intervals of the median and sigma of a log-normal sample.
fn intervals(mu: f64, sd_mle: f64, n: usize, level: f64) -> ([f64; 2], [f64; 2]) {
    let df = (n - 1) as f64;
    let s = sd_mle * (n as f64 / df).sqrt();
    let tail = (1.0 - level) / 2.0;
    let t = StudentsT::new(0.0, 1.0, df).map_or(1.96, |d| d.inverse_cdf(1.0 - tail));
    let half = t * s / (n as f64).sqrt();
    let median = [(mu - half).exp(), (mu + half).exp()];
    let sigma = match ChiSquared::new(df) {
        Ok(c) => [
            (df * s * s / c.inverse_cdf(1.0 - tail)).sqrt(),
            (df * s * s / c.inverse_cdf(tail)).sqrt(),
        ],
        Err(_) => [0.0, f64::INFINITY],
    };
    (median, sigma)
}

/// Type 7 quantile (linear between order statistics) of a sorted sample.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// A seeded random subset of at most [`GOF_MAX_N`] latencies, sorted.
fn subsample(sorted: &[f64], seed: u64) -> Vec<f64> {
    if sorted.len() <= GOF_MAX_N {
        return sorted.to_vec();
    }
    let mut v = sorted.to_vec();
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x5ab5);
    for i in 0..GOF_MAX_N {
        let j = i + (rng.next_u64() % (v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(GOF_MAX_N);
    v.sort_by(f64::total_cmp);
    v
}

fn choose(sorted: &[f64], c: &[Candidate], q: &[f64], choice: LatencyChoice) -> Distribution {
    let empirical = || Distribution::Empirical {
        samples_ms: q.iter().map(|x| x.round()).collect(),
    };
    if sorted.first() == sorted.last() {
        return Distribution::Fixed { ms: sorted[0] };
    }
    match choice {
        LatencyChoice::Lognormal => c[0].distribution.clone(),
        LatencyChoice::Exponential => c[1].distribution.clone(),
        LatencyChoice::Uniform => c[2].distribution.clone(),
        LatencyChoice::Empirical => empirical(),
        LatencyChoice::Auto => {
            let best = c
                .iter()
                .min_by(|a, b| a.ks_d.total_cmp(&b.ks_d))
                .expect("three candidates");
            match best.p_value {
                Some(p) if p <= 0.01 => empirical(),
                _ => best.distribution.clone(),
            }
        }
    }
}

/// A fitted parametric family.
#[derive(Debug, Clone, Copy)]
enum Family {
    Lognormal { mu: f64, sigma: f64 },
    Exponential { mean: f64 },
    Uniform { min: f64, max: f64 },
}

impl Family {
    fn exponential(sorted: &[f64]) -> Self {
        Self::Exponential {
            mean: (sorted.iter().sum::<f64>() / sorted.len() as f64).max(1e-9),
        }
    }

    fn uniform(sorted: &[f64]) -> Self {
        Self::Uniform {
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }

    /// The same family fitted to another sample.
    fn refit(self, sorted: &[f64]) -> Self {
        match self {
            Self::Lognormal { .. } => {
                let (mu, sigma) = log_moments(sorted);
                Self::Lognormal { mu, sigma }
            }
            Self::Exponential { .. } => Self::exponential(sorted),
            Self::Uniform { .. } => Self::uniform(sorted),
        }
    }

    fn cdf(self, x: f64) -> f64 {
        match self {
            Self::Lognormal { mu, sigma } => {
                let z = (x.max(1.0).ln() - mu) / sigma.max(1e-12);
                Normal::new(0.0, 1.0).map_or(0.5, |n| n.cdf(z))
            }
            Self::Exponential { mean } => 1.0 - (-x.max(0.0) / mean).exp(),
            Self::Uniform { min, max } if max > min => ((x - min) / (max - min)).clamp(0.0, 1.0),
            Self::Uniform { min, .. } => f64::from(u8::from(x >= min)),
        }
    }

    /// One draw, rounded to whole milliseconds like the latencies the platforms record.
    fn sample(self, rng: &mut Pcg64Mcg) -> f64 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let x = match self {
            Self::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Self::Exponential { mean } => -mean * (1.0 - u).ln(),
            Self::Uniform { min, max } => min + (max - min) * u,
        };
        x.round().max(0.0)
    }

    fn distribution(self) -> Distribution {
        match self {
            Self::Lognormal { mu, sigma } => Distribution::Lognormal {
                median_ms: mu.exp(),
                sigma: sigma.max(1e-6),
            },
            Self::Exponential { mean } => Distribution::Exponential { mean_ms: mean },
            Self::Uniform { min, max } => Distribution::Uniform {
                min_ms: min,
                max_ms: max,
            },
        }
    }
}

/// The Kolmogorov-Smirnov distance between a sorted sample and a CDF.
fn ks_distance(sorted: &[f64], f: Family) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let c = f.cdf(*x);
            ((i + 1) as f64 / n - c).max(c - i as f64 / n)
        })
        .fold(0.0, f64::max)
}

/// `f` fitted to all the latencies; `sorted` the test's sample (a subset of them when there
/// are many): the distance is to the family refitted to that sample, as in the bootstrap, so
/// that both sides account for the estimation alike.
fn candidate(f: Family, sorted: &[f64], draws: u32, seed: u64) -> Candidate {
    let d = ks_distance(sorted, f.refit(sorted));
    let p_value = (draws > 0).then(|| {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut sample = vec![0.0; sorted.len()];
        let at_least = (0..draws)
            .filter(|_| {
                for x in &mut sample {
                    *x = f.sample(&mut rng);
                }
                sample.sort_by(f64::total_cmp);
                ks_distance(&sample, f.refit(&sample)) >= d
            })
            .count();
        (1 + at_least) as f64 / f64::from(draws + 1)
    });
    Candidate {
        distribution: f.distribution(),
        ks_d: d,
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lognormal_sample(n: usize, median: f64, sigma: f64, seed: u64) -> Vec<f64> {
        let f = Family::Lognormal {
            mu: median.ln(),
            sigma,
        };
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        (0..n).map(|_| f.sample(&mut rng)).collect()
    }

    fn settings(draws: u32) -> Settings {
        Settings {
            level: 0.95,
            choice: LatencyChoice::Auto,
            draws,
            seed: 1,
        }
    }

    #[test]
    fn lognormal_data_choose_lognormal_and_exponential_data_do_not() {
        let x = lognormal_sample(1500, 2000.0, 0.5, 3);
        let f = fit(&x, &[], settings(99)).unwrap();
        assert!(
            matches!(f.chosen, Distribution::Lognormal { .. }),
            "{:?}",
            f.chosen
        );
        assert!(f.candidates[0].p_value.unwrap() > 0.01);
        assert!(
            f.candidates[1].p_value.unwrap() <= 0.02,
            "{:?}",
            f.candidates[1]
        );
        let e = Family::Exponential { mean: 800.0 };
        let mut rng = Pcg64Mcg::seed_from_u64(4);
        let y: Vec<f64> = (0..1500).map(|_| e.sample(&mut rng)).collect();
        let g = fit(&y, &[], settings(99)).unwrap();
        assert!(
            matches!(g.chosen, Distribution::Exponential { .. }),
            "{:?}",
            g.chosen
        );
    }

    /// More latencies than the test takes: the test's sample is a subset, and the distance is
    /// taken to the family refitted to it (not to the fit of all of them, which would make
    /// every large sample look worse than its bootstrap).
    #[test]
    fn a_large_lognormal_sample_keeps_the_lognormal() {
        for seed in 0..5 {
            let x = lognormal_sample(20_000, 2000.0, 0.5, 100 + seed);
            let f = fit(&x, &[], settings(99)).unwrap();
            assert!(
                matches!(f.chosen, Distribution::Lognormal { .. }),
                "{seed}: {:?}",
                f.candidates[0]
            );
            assert!((f.median_ms - 2000.0).abs() < 20.0 && (f.sigma - 0.5).abs() < 0.01);
        }
    }

    /// The bootstrap test rejects a true log-normal at its stated rate: p <= 0.01 in about 1 %
    /// of samples (at most 3 of 60 here; the expected count is 0.6).
    #[test]
    fn a_true_lognormal_is_rarely_rejected() {
        let rejected = (0..60)
            .filter(|seed| {
                let x = lognormal_sample(300, 1500.0, 0.7, 1000 + seed);
                let f = fit(&x, &[], settings(99)).unwrap();
                !matches!(f.chosen, Distribution::Lognormal { .. })
            })
            .count();
        assert!(rejected <= 3, "{rejected} of 60");
    }

    #[test]
    fn bimodal_data_get_the_empirical_distribution() {
        let mut x = lognormal_sample(800, 500.0, 0.1, 5);
        x.extend(lognormal_sample(800, 20_000.0, 0.1, 6));
        let f = fit(&x, &[], settings(99)).unwrap();
        let Distribution::Empirical { samples_ms } = &f.chosen else {
            panic!("{:?}", f.chosen)
        };
        assert_eq!(samples_ms.len(), 101);
        assert!(
            samples_ms[25] < 600.0 && samples_ms[75] > 15_000.0,
            "{samples_ms:?}"
        );
    }

    #[test]
    fn timeouts_beyond_the_bulk_leave_little_mass() {
        let x = lognormal_sample(500, 2000.0, 0.5, 7);
        let f = fit(&x, &[30_000.0, 30_001.0], settings(0)).unwrap();
        assert!(f.mass_beyond_timeout.unwrap() < 1e-4);
        assert_eq!(f.timed_out, 2);
        assert!(f.candidates.iter().all(|c| c.p_value.is_none()));
        let same = fit(&[700.0, 700.0, 700.0], &[], settings(0)).unwrap();
        assert_eq!(same.chosen, Distribution::Fixed { ms: 700.0 });
        assert!(fit(&[1.0], &[], settings(0)).is_none());
    }
}
