//! Running a round of a sweep on every core: the replications each active plan still needs,
//! as (plan, rollout, replication) items, their outcomes stored by index.

use crate::error::{Error, ErrorKind, Result};
use crate::plan::outcome::Outcome;
use crate::plan::PlanState;
use crate::run::simulate;
use crate::scenario::Scenario;

/// The scenarios of one plan: its healthy rollout and, with a bad fault, its bad one.
pub(crate) struct Arms {
    /// The plan for people, for errors.
    pub(crate) label: String,
    pub(crate) healthy: Scenario,
    pub(crate) bad: Option<Scenario>,
}

/// One simulation of a round: replication `replication` of plan `plan`'s healthy or bad
/// rollout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    /// The plan's index among the plans swept.
    pub(crate) plan: usize,
    pub(crate) bad: bool,
    pub(crate) replication: u32,
}

/// The items that bring every open rollout of every plan to `n` replications, in plan order.
pub(crate) fn items(states: &[PlanState], n: u32) -> Vec<Item> {
    let mut out = Vec::new();
    for (plan, s) in states.iter().enumerate() {
        if s.healthy_done.is_none() {
            let from = s.healthy.len() as u32;
            out.extend((from..n).map(|replication| Item {
                plan,
                bad: false,
                replication,
            }));
        }
        if s.has_bad && s.bad_done.is_none() {
            let from = s.bad.len() as u32;
            out.extend((from..n).map(|replication| Item {
                plan,
                bad: true,
                replication,
            }));
        }
    }
    out
}

/// Runs `items` on `threads` threads; the outcomes come back in item order. `progress(done)`
/// is called from the calling thread as items finish.
pub(crate) fn run(
    arms: &[Arms],
    items: &[Item],
    seed_first: u64,
    job: &str,
    threads: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<Outcome>> {
    crate::parallel::map_indexed(
        items.len(),
        threads,
        &|i| run_one(arms, items[i], seed_first, job),
        progress,
    )
}

fn run_one(arms: &[Arms], item: Item, seed_first: u64, job: &str) -> Result<Outcome> {
    let state = &arms[item.plan];
    let scenario = match item.bad {
        false => &state.healthy,
        true => state.bad.as_ref().expect("a bad item has a bad scenario"),
    };
    let seed = seed_first.wrapping_add(u64::from(item.replication));
    let result = simulate(scenario, seed, &mut |_| {})?;
    Outcome::of(&result, job).ok_or_else(|| {
        Error::new(ErrorKind::Invalid(format!(
            "job {job:?} is not in the result of plan {}",
            state.label
        )))
    })
}

/// Appends each outcome to its plan's rollout (items come in replication order per rollout).
pub(crate) fn store(states: &mut [PlanState], items: &[Item], outcomes: Vec<Outcome>) {
    for (item, o) in items.iter().zip(outcomes) {
        let s = &mut states[item.plan];
        let v = if item.bad { &mut s.bad } else { &mut s.healthy };
        debug_assert_eq!(v.len() as u32, item.replication);
        v.push(o);
    }
}
