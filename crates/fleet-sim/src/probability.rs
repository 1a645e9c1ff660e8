//! [`Probability`]: a behaviour rule's rate, fixed, or drawn per simulation from a Beta
//! posterior (parameter uncertainty in replications).

use rand_distr::{Beta, Distribution as _};
use serde::{Deserialize, Serialize};

use crate::error::{check_probability, Error, ErrorKind, Result};
use crate::rng::{self, Purpose};

/// A probability of a behaviour rule (`failure_probability`, `reject_probability`,
/// `crash_probability`): a number in `[0, 1]`, or a Beta distribution over it.
///
/// `{ beta = [a, b] }` says that the rate is not known exactly: each simulation (each
/// replication, with its own seed) draws the rule's rate once from Beta(a, b), before any
/// device's fate, from a stream keyed by (seed, rule index, field, `Posterior`): the same seed
/// draws the same rate, and replications spread over what the history does not pin down.
/// `fleetsim calibrate --posterior` writes these from the fitted posteriors.
///
/// ```
/// use fleet_sim::{BehaviourRule, Probability};
///
/// let rule: BehaviourRule = serde_json::from_str(r#"{"failure_probability": {"beta": [3, 97]}}"#)?;
/// assert_eq!(rule.failure_probability, Some(Probability::Beta { beta: [3.0, 97.0] }));
/// assert!((rule.failure_probability.unwrap().point() - 0.03).abs() < 1e-12);
/// let fixed: BehaviourRule = serde_json::from_str(r#"{"failure_probability": 0.02}"#)?;
/// assert_eq!(fixed.failure_probability, Some(Probability::Value(0.02)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Probability {
    /// A fixed probability in `[0, 1]`.
    Value(f64),
    /// Drawn per simulation from Beta(`beta[0]`, `beta[1]`); both parameters positive.
    Beta {
        /// The shape parameters `[a, b]` (a posterior: successes + prior, failures + prior).
        beta: [f64; 2],
    },
}

impl From<f64> for Probability {
    fn from(p: f64) -> Self {
        Self::Value(p)
    }
}

impl Probability {
    /// The value, or the mean `a / (a + b)` of the Beta distribution.
    pub fn point(self) -> f64 {
        match self {
            Self::Value(p) => p,
            Self::Beta { beta: [a, b] } => a / (a + b),
        }
    }

    /// Checks a value in `[0, 1]`, or both Beta parameters finite and positive; the error
    /// names `field` (`failure_probability.beta`).
    pub fn validate(self, field: &str) -> Result<()> {
        match self {
            Self::Value(p) => check_probability(field, p),
            Self::Beta { beta } => {
                if beta.iter().all(|x| x.is_finite() && *x > 0.0) {
                    Ok(())
                } else {
                    Err(Error::at(
                        format!("{field}.beta"),
                        ErrorKind::InvalidValue(format!(
                            "{beta:?}: both Beta parameters must be positive"
                        )),
                    ))
                }
            }
        }
    }

    /// The probability one simulation uses: the value, or a draw from the Beta distribution
    /// keyed by (seed, rule, field).
    pub(crate) fn draw(self, seed: u64, rule: usize, field: u32) -> f64 {
        match self {
            Self::Value(p) => p,
            Self::Beta { beta: [a, b] } => {
                let mut stream = rng::stream(seed, rule as u64, field, Purpose::Posterior);
                // Validated: both parameters are positive and finite.
                Beta::new(a, b).map_or(a / (a + b), |d| d.sample(&mut stream))
            }
        }
    }
}

/// The `{ beta = [a, b] }` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BetaTable {
    beta: [f64; 2],
}

impl<'de> Deserialize<'de> for Probability {
    /// A number, or a table `{ beta = [a, b] }`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Probability;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a probability: a number in [0, 1] or { beta = [a, b] }")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Probability, E> {
                Ok(Probability::Value(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Probability, E> {
                Ok(Probability::Value(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Probability, E> {
                Ok(Probability::Value(v as f64))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Probability, A::Error> {
                let t = BetaTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Probability::Beta { beta: t.beta })
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_beta_and_repeat_per_seed() {
        let p = Probability::Beta {
            beta: [20.0, 180.0],
        };
        let draws: Vec<f64> = (0..4000u64).map(|seed| p.draw(seed, 0, 0)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        // Beta(20, 180): mean 0.1, sd 0.0212; the mean of 4000 draws is within 0.0011 (3 sd).
        assert!((mean - 0.1).abs() < 0.0011, "{mean}");
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!((var.sqrt() - 0.0212).abs() < 0.0015, "{}", var.sqrt());
        assert_eq!(p.draw(7, 0, 0), p.draw(7, 0, 0));
        assert_ne!(p.draw(7, 0, 0), p.draw(8, 0, 0));
        assert_ne!(p.draw(7, 0, 0), p.draw(7, 1, 0));
        assert_ne!(p.draw(7, 0, 0), p.draw(7, 0, 1));
        assert_eq!(Probability::Value(0.25).draw(7, 0, 0), 0.25);
    }

    #[test]
    fn parses_and_validates_with_the_field() {
        let bad: Probability = serde_json::from_str(r#"{"beta": [0, 3]}"#).unwrap();
        let e = bad.validate("failure_probability").unwrap_err();
        assert_eq!(e.field(), Some("failure_probability.beta"));
        let e = serde_json::from_str::<Probability>(r#"{"alpha": [1, 3]}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `alpha`"), "{e}");
        let e = serde_json::from_str::<Probability>(r#""high""#).unwrap_err();
        assert!(
            e.to_string()
                .contains("a number in [0, 1] or { beta = [a, b] }"),
            "{e}"
        );
        assert_eq!(
            serde_json::from_str::<Probability>("1").unwrap(),
            Probability::Value(1.0)
        );
        assert!(Probability::Value(1.5).validate("p").is_err());
    }
}
