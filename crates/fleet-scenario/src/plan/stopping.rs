//! The sequential stopping rule: when a plan has had enough replications (its intervals are
//! narrow enough, or it is clearly dominated by another plan, or clearly outside the
//! constraints), and the constraints themselves (`docs/risk.md`, "The stopping rule").

use serde::{Deserialize, Serialize};

use crate::plan::interval::{sign_test, Interval};
use crate::plan::outcome::{BadSummary, HealthySummary, Outcome};

/// How many replications a plan gets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoppingRule {
    /// The half-width the 95 % intervals of the probabilities must reach (0.01: ±1 pp).
    pub precision: f64,
    /// Replications of every plan in the first round; each round doubles them.
    pub min_replications: u32,
    /// The most replications of one plan.
    pub max_replications: u32,
    /// Whether a plan stops early when it is clearly dominated or outside the constraints
    /// (`false`: the naive grid × fixed replications).
    pub prune: bool,
}

impl Default for StoppingRule {
    fn default() -> Self {
        Self {
            precision: 0.01,
            min_replications: 100,
            max_replications: 10_000,
            prune: true,
        }
    }
}

impl StoppingRule {
    /// The replications of round `r` (from 0): `min · 2^r`, at most the maximum.
    pub fn replications(&self, round: u32) -> u32 {
        let n = u64::from(self.min_replications) << round.min(32);
        n.min(u64::from(self.max_replications)) as u32
    }
}

/// What the recommended plan minimises among those that meet the constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The blast radius (p90), then the false-stop probability, then the duration.
    #[default]
    Blast,
    /// The false-stop probability, then the blast radius, then the duration.
    FalseStop,
    /// The duration (p90), then the false-stop probability, then the blast radius.
    Duration,
}

impl Objective {
    /// `blast`, `false_stop` (or `false-stop`) or `duration`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "blast" => Some(Self::Blast),
            "false_stop" | "false-stop" => Some(Self::FalseStop),
            "duration" => Some(Self::Duration),
            _ => None,
        }
    }
}

/// The user's constraints on a plan.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Constraints {
    /// The largest acceptable false-stop probability: met when its 95 % interval lies below.
    pub max_false_stop: Option<f64>,
    /// The largest acceptable blast radius (p90 of the devices the bad operation reached).
    pub max_blast: Option<u32>,
    /// The longest acceptable healthy duration (p90), in ms.
    pub deadline_ms: Option<i64>,
    /// What the recommendation minimises.
    pub optimise: Objective,
}

/// Why a plan got no more replications (of one of its rollouts).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Done {
    /// Its interval reached the precision (and, with a false-stop constraint, lies on one side
    /// of it).
    Precise,
    /// It reached the most replications.
    MaxReplications,
    /// Another plan is clearly at least as good on every measure and better on one.
    Dominated {
        /// The index of that plan.
        by: usize,
    },
    /// It clearly misses a constraint.
    Infeasible {
        /// Which, and by how much.
        why: String,
    },
}

/// A plan's current estimates, for the rule's decisions.
pub(crate) struct Estimates<'a> {
    pub(crate) healthy_outcomes: &'a [Outcome],
    pub(crate) healthy: HealthySummary,
    pub(crate) bad: Option<BadSummary>,
}

impl Estimates<'_> {
    pub(crate) fn duration_p90_s(&self) -> Option<f64> {
        self.healthy.duration_s.map(|p| p.p90)
    }

    pub(crate) fn blast_p90(&self) -> Option<f64> {
        self.bad.as_ref().map(|b| b.received.p90)
    }
}

/// Whether a probability estimate is done: narrow enough, and, with a limit, clearly on one
/// side of it.
pub(crate) fn precise(interval: Interval, precision: f64, limit: Option<f64>) -> bool {
    interval.half_width() <= precision
        && limit.is_none_or(|l| interval.high <= l || interval.low > l)
}

/// Why the plan clearly misses a constraint, if it does: the lower end of an interval beyond
/// the limit.
pub(crate) fn infeasible(e: &Estimates<'_>, c: &Constraints) -> Option<String> {
    if let Some(limit) = c.max_false_stop {
        let low = e.healthy.false_stop_interval.low;
        if low > limit {
            return Some(format!(
                "false-stop probability at least {:.2}% > {:.2}%",
                100.0 * low,
                100.0 * limit
            ));
        }
    }
    if let (Some(limit), Some(i)) = (c.deadline_ms, e.healthy.duration_p90_interval_s) {
        if i.low * 1000.0 > limit as f64 {
            return Some(format!(
                "duration p90 at least {:.0} s > {:.0} s",
                i.low,
                limit as f64 / 1000.0
            ));
        }
    }
    if let (Some(limit), Some(b)) = (c.max_blast, &e.bad) {
        if b.received_p90_interval.low > f64::from(limit) {
            return Some(format!(
                "blast radius p90 at least {:.0} > {limit}",
                b.received_p90_interval.low
            ));
        }
    }
    None
}

/// Whether plan `b` clearly dominates plan `a`: no worse on every measure and significantly
/// better on one. False stops are compared on the seeds both ran (common random numbers): `b`
/// is no worse when it stopped falsely alone on no more seeds than `a` alone, and better when
/// the exact sign test on those seeds says so at 2.5 %. Quantiles (duration and blast radius
/// p90) are no worse when `b`'s estimate is at most `a`'s, and better when `b`'s 95 % interval
/// lies wholly below `a`'s.
pub(crate) fn dominates(b: &Estimates<'_>, a: &Estimates<'_>) -> bool {
    let m = a.healthy_outcomes.len().min(b.healthy_outcomes.len());
    let (mut a_only, mut b_only) = (0u32, 0u32);
    for (x, y) in a.healthy_outcomes[..m].iter().zip(&b.healthy_outcomes[..m]) {
        a_only += u32::from(x.stopped && !y.stopped);
        b_only += u32::from(y.stopped && !x.stopped);
    }
    let stops = (
        b_only <= a_only,
        a_only > b_only && sign_test(a_only, a_only + b_only) <= 0.025,
    );
    let duration = match (
        b.healthy.duration_p90_interval_s,
        a.healthy.duration_p90_interval_s,
    ) {
        (Some(bi), Some(ai)) => (b.duration_p90_s() <= a.duration_p90_s(), bi.high < ai.low),
        (Some(_), None) => (true, true),
        (None, Some(_)) => (false, false),
        (None, None) => (true, false),
    };
    let blast = match (&b.bad, &a.bad) {
        (Some(bb), Some(ab)) => (
            bb.received.p90 <= ab.received.p90,
            bb.received_p90_interval.high < ab.received_p90_interval.low,
        ),
        _ => (true, false),
    };
    let all = [stops, duration, blast];
    all.iter().all(|m| m.0) && all.iter().any(|m| m.1)
}

/// Whether the plan meets every constraint (for the recommendation).
pub(crate) fn feasible(e: &Estimates<'_>, c: &Constraints) -> bool {
    let stops = c
        .max_false_stop
        .is_none_or(|l| e.healthy.false_stop_interval.high <= l);
    let deadline = c
        .deadline_ms
        .is_none_or(|l| e.duration_p90_s().is_some_and(|d| d * 1000.0 <= l as f64));
    let blast = c
        .max_blast
        .is_none_or(|l| e.blast_p90().is_none_or(|b| b <= f64::from(l)));
    stops && deadline && blast
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::outcome;

    fn outcomes(stops: &[bool], duration_s: i64, received: u32) -> Vec<Outcome> {
        stops
            .iter()
            .map(|&stopped| Outcome {
                stopped,
                stop_batch: stopped.then_some(1),
                duration_ms: Some(duration_s * 1000),
                received,
                failed: 0,
                cohort_hit: false,
            })
            .collect()
    }

    fn estimates(h: &[Outcome], b: &[Outcome]) -> Estimates<'static> {
        let h: &'static [Outcome] = Box::leak(h.to_vec().into_boxed_slice());
        Estimates {
            healthy_outcomes: h,
            healthy: outcome::healthy(h),
            bad: Some(outcome::bad(b)),
        }
    }

    #[test]
    fn rounds_double_up_to_the_maximum() {
        let rule = StoppingRule {
            min_replications: 100,
            max_replications: 1000,
            ..StoppingRule::default()
        };
        let n: Vec<u32> = (0..6).map(|r| rule.replications(r)).collect();
        assert_eq!(n, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn a_limit_inside_the_interval_keeps_sampling() {
        let i = Interval {
            low: 0.005,
            high: 0.02,
        };
        assert!(precise(i, 0.01, None));
        assert!(!precise(i, 0.01, Some(0.01)));
        assert!(precise(i, 0.01, Some(0.03)));
        assert!(precise(i, 0.01, Some(0.001)));
        assert!(!precise(i, 0.005, None));
    }

    /// With common seeds, a plan that stops falsely on 30 more of 400 seeds than another (and
    /// never alone) is dominated; one that is faster is not.
    #[test]
    fn domination_is_paired_on_common_seeds() {
        let calm: Vec<bool> = (0..400).map(|i| i % 100 == 0).collect();
        let jumpy: Vec<bool> = (0..400).map(|i| i % 100 == 0 || i % 13 == 0).collect();
        let bad = outcomes(&[true; 400], 10, 50);
        let good = estimates(&outcomes(&calm, 100, 0), &bad);
        let worse = estimates(&outcomes(&jumpy, 100, 0), &bad);
        assert!(dominates(&good, &worse));
        assert!(!dominates(&worse, &good));
        // Faster: no longer dominated (a trade-off).
        let faster = estimates(&outcomes(&jumpy, 50, 0), &bad);
        assert!(!dominates(&good, &faster));
        // Identical plans do not dominate each other.
        assert!(!dominates(
            &good,
            &estimates(&outcomes(&calm, 100, 0), &bad)
        ));
    }

    #[test]
    fn constraints() {
        let none = vec![false; 400];
        let bad = outcomes(&[true; 400], 10, 50);
        let e = estimates(&outcomes(&none, 3600, 0), &bad);
        let mut c = Constraints {
            max_false_stop: Some(0.01),
            max_blast: Some(50),
            deadline_ms: Some(3_600_000),
            optimise: Objective::Blast,
        };
        assert!(feasible(&e, &c));
        assert_eq!(infeasible(&e, &c), None);
        c.max_blast = Some(49);
        assert!(!feasible(&e, &c));
        assert!(infeasible(&e, &c).unwrap().contains("blast radius"));
        c.max_blast = None;
        c.deadline_ms = Some(3_599_000);
        assert!(!feasible(&e, &c));
        let jumpy: Vec<bool> = (0..400).map(|i| i % 10 == 0).collect();
        let e = estimates(&outcomes(&jumpy, 60, 0), &bad);
        assert!(infeasible(&e, &c).unwrap().contains("false-stop"));
    }
}
