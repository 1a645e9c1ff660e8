//! Latency and duration distributions.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{check_duration, Error, ErrorKind, Result};
use crate::rng::unit_f64;

/// A distribution of durations in milliseconds (device latency, reconnect time, crash downtime).
///
/// Written in a scenario with a `type` tag:
///
/// ```
/// use fleet_sim::Distribution;
///
/// let d: Distribution = serde_json::from_str(r#"{"type":"lognormal","median_ms":2000,"sigma":0.5}"#)?;
/// assert_eq!(d, Distribution::Lognormal { median_ms: 2000.0, sigma: 0.5 });
/// d.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Samples are rounded to whole milliseconds (virtual time is an integer) and are never negative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Always `ms`.
    Fixed {
        /// The duration.
        ms: f64,
    },
    /// Uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound.
        min_ms: f64,
        /// Upper bound, at least `min_ms`.
        max_ms: f64,
    },
    /// Exponential with mean `mean_ms` (memoryless waits).
    Exponential {
        /// The mean.
        mean_ms: f64,
    },
    /// Log-normal with median `median_ms` and shape `sigma` (the standard deviation of the
    /// logarithm): `median_ms * exp(sigma * Z)` with `Z` standard normal.
    Lognormal {
        /// The median, positive.
        median_ms: f64,
        /// The shape, positive.
        sigma: f64,
    },
    /// One of the measured samples, each equally likely.
    Empirical {
        /// The samples, at least one.
        samples_ms: Vec<f64>,
    },
}

impl Default for Distribution {
    /// Fixed 0 ms.
    fn default() -> Self {
        Self::Fixed { ms: 0.0 }
    }
}

impl Distribution {
    /// Checks the parameters: durations finite and not negative, `min_ms <= max_ms`,
    /// `sigma > 0`, `median_ms > 0`, at least one empirical sample. The error names the field.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Fixed { ms } => check_duration("ms", *ms),
            Self::Uniform { min_ms, max_ms } => {
                check_duration("min_ms", *min_ms)?;
                check_duration("max_ms", *max_ms)?;
                if min_ms > max_ms {
                    return Err(Error::at(
                        "max_ms",
                        ErrorKind::InvalidValue(format!("{max_ms} is below min_ms {min_ms}")),
                    ));
                }
                Ok(())
            }
            Self::Exponential { mean_ms } => check_duration("mean_ms", *mean_ms),
            Self::Lognormal { median_ms, sigma } => {
                check_duration("median_ms", *median_ms)?;
                if *median_ms <= 0.0 {
                    return Err(Error::at(
                        "median_ms",
                        ErrorKind::InvalidValue(format!(
                            "{median_ms}: the median must be positive"
                        )),
                    ));
                }
                if !(sigma.is_finite() && *sigma > 0.0) {
                    return Err(Error::at(
                        "sigma",
                        ErrorKind::InvalidValue(format!("{sigma}: sigma must be positive")),
                    ));
                }
                Ok(())
            }
            Self::Empirical { samples_ms } => {
                if samples_ms.is_empty() {
                    return Err(Error::at(
                        "samples_ms",
                        ErrorKind::InvalidValue("at least one sample is required".into()),
                    ));
                }
                for (i, s) in samples_ms.iter().enumerate() {
                    check_duration(&format!("samples_ms[{i}]"), *s)?;
                }
                Ok(())
            }
        }
    }

    /// The distribution in the form the simulator samples from (validated beforehand).
    pub(crate) fn compile(&self) -> Sampler {
        match self {
            Self::Fixed { ms } => Sampler::Fixed(round_ms(*ms)),
            Self::Uniform { min_ms, max_ms } => Sampler::Uniform {
                min_ms: *min_ms,
                span_ms: max_ms - min_ms,
            },
            Self::Exponential { mean_ms } => Sampler::Exponential { mean_ms: *mean_ms },
            Self::Lognormal { median_ms, sigma } => Sampler::Lognormal {
                median_ms: *median_ms,
                sigma: *sigma,
            },
            Self::Empirical { samples_ms } => {
                Sampler::Empirical(samples_ms.iter().map(|s| round_ms(*s)).collect())
            }
        }
    }
}

/// `ms` rounded half away from zero to whole milliseconds, clamped to
/// `[0, MAX_VIRTUAL_MS]` (NaN to 0): exactly `ms.round().max(0.0).min(MAX) as i64`, without
/// the call to the C library's `round` that `f64::round` is on x86-64 (one per latency draw).
/// The clamp comes first, so the truncation is exact (`MAX_VIRTUAL_MS < 2^53`) and so is the
/// fraction `x - t`; a NaN stays NaN through the clamp and the cast makes it 0.
#[inline]
pub(crate) fn round_ms(ms: f64) -> i64 {
    const MAX: f64 = crate::MAX_VIRTUAL_MS as f64;
    let x = ms.clamp(0.0, MAX);
    let t = x as i64;
    if x - t as f64 >= 0.5 {
        t + 1
    } else {
        t
    }
}

/// A compiled [`Distribution`]: parameters pre-computed, samples in whole milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sampler {
    Fixed(i64),
    Uniform { min_ms: f64, span_ms: f64 },
    Exponential { mean_ms: f64 },
    Lognormal { median_ms: f64, sigma: f64 },
    Empirical(Box<[i64]>),
}

impl Sampler {
    /// One sample in whole milliseconds, never negative. Draws 0 (fixed), 1 (uniform,
    /// exponential, empirical) or usually 1 (log-normal: the ziggurat) values from `rng`.
    #[inline(always)]
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        match self {
            Self::Fixed(ms) => *ms,
            Self::Uniform { min_ms, span_ms } => {
                round_ms(min_ms + span_ms * unit_f64(rng.next_u64()))
            }
            Self::Exponential { mean_ms } => {
                // Inverse transform; 1 - u is in (0, 1], so the log is finite.
                round_ms(-mean_ms * (1.0 - unit_f64(rng.next_u64())).ln())
            }
            Self::Lognormal { median_ms, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                round_ms(median_ms * (sigma * z).exp())
            }
            Self::Empirical(samples) => {
                let i = (unit_f64(rng.next_u64()) * samples.len() as f64) as usize;
                samples[i.min(samples.len() - 1)]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Purpose};

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (Distribution::Fixed { ms: -1.0 }, "ms"),
            (
                Distribution::Uniform {
                    min_ms: 5.0,
                    max_ms: 1.0,
                },
                "max_ms",
            ),
            (Distribution::Exponential { mean_ms: f64::NAN }, "mean_ms"),
            (
                Distribution::Lognormal {
                    median_ms: 10.0,
                    sigma: 0.0,
                },
                "sigma",
            ),
            (
                Distribution::Lognormal {
                    median_ms: 0.0,
                    sigma: 1.0,
                },
                "median_ms",
            ),
            (Distribution::Empirical { samples_ms: vec![] }, "samples_ms"),
            (
                Distribution::Empirical {
                    samples_ms: vec![1.0, -2.0],
                },
                "samples_ms[1]",
            ),
        ];
        for (d, field) in cases {
            assert_eq!(d.validate().unwrap_err().field(), Some(field), "{d:?}");
        }
    }

    #[test]
    fn round_ms_is_round_then_clamp() {
        let reference = |ms: f64| ms.round().max(0.0).min(crate::MAX_VIRTUAL_MS as f64) as i64;
        let max = crate::MAX_VIRTUAL_MS as f64;
        let mut cases = vec![
            0.0,
            -0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            -0.5,
            -0.4,
            -1e300,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            max,
            max - 0.5,
            max - 0.49,
            max + 0.5,
            4_503_599_627_370_495.5,
            9e15,
        ];
        let mut r = stream(1, 2, 3, Purpose::Operation);
        for _ in 0..100_000 {
            let u = unit_f64(rand::Rng::next_u64(&mut r));
            cases.push(u * 10_000.0);
            cases.push((u * 40.0).exp());
            cases.push((u * 20_000.0).round() / 2.0);
        }
        for ms in cases {
            assert_eq!(round_ms(ms), reference(ms), "{ms:?}");
        }
    }

    #[test]
    fn lognormal_median_is_close() {
        let s = Distribution::Lognormal {
            median_ms: 2000.0,
            sigma: 0.5,
        }
        .compile();
        let mut v: Vec<i64> = (0..10_001u64)
            .map(|d| s.sample(&mut stream(7, d, 0, Purpose::Operation)))
            .collect();
        v.sort_unstable();
        let median = v[5000];
        assert!((1900..2100).contains(&median), "{median}");
    }

    #[test]
    fn exponential_mean_is_close() {
        let s = Distribution::Exponential { mean_ms: 1000.0 }.compile();
        let n: u32 = 20_000;
        let sum: i64 = (0..u64::from(n))
            .map(|d| s.sample(&mut stream(7, d, 0, Purpose::Operation)))
            .sum();
        let mean = sum as f64 / f64::from(n);
        assert!((950.0..1050.0).contains(&mean), "{mean}");
    }
}
