//! The Pareto set of plans over (duration, false-stop probability, blast radius), and the
//! recommended plan for the user's constraints.

use crate::plan::stopping::{feasible, Constraints, Estimates, Objective};

/// The measures a plan is judged by, each to minimise: the healthy duration's p90 (infinite
/// when no healthy run finished), the false-stop probability, the blast radius's p90 (0 when
/// no bad rollout was stated).
pub(crate) fn measures(e: &Estimates<'_>) -> [f64; 3] {
    [
        e.duration_p90_s().unwrap_or(f64::INFINITY),
        e.healthy.false_stop_probability,
        e.blast_p90().unwrap_or(0.0),
    ]
}

/// Whether measures `b` dominate `a`: at most as large everywhere, smaller somewhere.
fn dominates(b: &[f64; 3], a: &[f64; 3]) -> bool {
    b.iter().zip(a).all(|(x, y)| x <= y) && b.iter().zip(a).any(|(x, y)| x < y)
}

/// The indices of the plans no other plan dominates, in index order (equal plans are all
/// kept).
pub fn pareto_set(measures: &[[f64; 3]]) -> Vec<usize> {
    (0..measures.len())
        .filter(|&i| !measures.iter().any(|m| dominates(m, &measures[i])))
        .collect()
}

/// The recommended plan: among the plans that meet every constraint, the smallest by the
/// objective (ties broken by the other measures, then by index). `None` when no plan meets
/// them.
pub(crate) fn recommend(estimates: &[Estimates<'_>], c: &Constraints) -> Option<usize> {
    let order = match c.optimise {
        Objective::Blast => [2, 1, 0],
        Objective::FalseStop => [1, 2, 0],
        Objective::Duration => [0, 1, 2],
    };
    let key = |i: usize| {
        let m = measures(&estimates[i]);
        order.map(|k| m[k])
    };
    (0..estimates.len())
        .filter(|&i| feasible(&estimates[i], c))
        .min_by(|&a, &b| {
            let (ka, kb) = (key(a), key(b));
            ka.iter()
                .zip(&kb)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(a.cmp(&b))
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_small_front() {
        let m = [
            [100.0, 0.01, 500.0],
            [200.0, 0.01, 100.0],
            [200.0, 0.02, 500.0], // dominated by 0 and 1
            [50.0, 0.30, 20.0],
            [100.0, 0.01, 500.0], // equal to 0: kept
        ];
        assert_eq!(pareto_set(&m), vec![0, 1, 3, 4]);
    }

    proptest! {
        /// No member of the set is dominated by any plan, and every plan outside it is
        /// dominated by a member.
        #[test]
        fn the_set_is_exactly_the_undominated(
            m in prop::collection::vec(prop::array::uniform3(0u8..6), 1..30)
        ) {
            let m: Vec<[f64; 3]> = m.iter().map(|a| a.map(f64::from)).collect();
            let set = pareto_set(&m);
            for i in 0..m.len() {
                let dominated = m.iter().any(|o| dominates(o, &m[i]));
                prop_assert_eq!(set.contains(&i), !dominated);
                if !set.contains(&i) {
                    prop_assert!(set.iter().any(|&s| dominates(&m[s], &m[i])));
                }
            }
        }
    }
}
