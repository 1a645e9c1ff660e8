//! Shrinking a failing case: toward the simplest case (fewer devices, smaller rates, fewer
//! faults, earlier commands) while the same expectation still fails.
//!
//! The case's seed is kept: only the variables move. Passes go over the variables that matter
//! in the case, structural ones first (optional parts and entries toward absent, `one_of`
//! toward the first value), then numbers toward their `min`, until a whole pass changes
//! nothing. A number is searched on an interval `(lo, hi]`, `hi` failing and `lo` passing
//! (first `min` is tried): [`WIDTH`] candidates spread over the interval are run at once (on
//! every core) and the smallest failing one becomes `hi`. Whole numbers end at the exact
//! boundary (`hi - lo = 1`); reals when the interval is at most [`FLOAT_TOLERANCE`] of the
//! range, and then take the shortest decimal in `(lo, hi]` if it still fails (`0.025`, not
//! `0.025001`). The candidates depend only on the results, never on the thread count, so the
//! same failing case always shrinks to the same case.
//!
//! Cost: about `log_(WIDTH+1)(range)` rounds of [`WIDTH`] simulations per number and pass,
//! bounded by the evaluation budget.

use super::case::{Case, Pick};
use super::space::{Domain, Space};
use super::Property;
use crate::error::Result;

/// Candidates run at once on a number's interval (fixed, so that results do not depend on
/// the thread count).
pub(crate) const WIDTH: usize = 4;

/// A real variable's interval is narrowed to this share of its range.
pub const FLOAT_TOLERANCE: f64 = 1.0 / 1024.0;

/// At most this many passes over the variables.
const MAX_PASSES: usize = 16;

/// What a shrink did.
#[derive(Debug, Clone)]
pub(crate) struct Shrunk {
    pub case: Case,
    /// Moves that kept the failure (accepted simplifications).
    pub steps: u64,
    /// Cases run while shrinking.
    pub evaluations: u64,
    /// Candidates that were not valid scenarios (not taken).
    pub invalid: u64,
}

pub(crate) struct Shrinker<'a> {
    pub space: &'a Space,
    pub property: &'a dyn Property,
    /// The expectation that must keep failing.
    pub target: usize,
    pub threads: usize,
    /// The most cases to run.
    pub budget: u64,
    pub progress: &'a mut dyn FnMut(u64, u64),
    pub evaluations: u64,
    pub invalid: u64,
    pub steps: u64,
    /// Per variable: a value below the current one known to pass, from its last search (a
    /// later pass tries the minimum, then searches only above it).
    pub floors: Vec<Option<f64>>,
}

impl Shrinker<'_> {
    /// Which of `cases` still fail the target expectation.
    fn fails(&mut self, cases: Vec<Case>) -> Result<Vec<bool>> {
        let room = self.budget.saturating_sub(self.evaluations) as usize;
        let cases: Vec<Case> = cases.into_iter().take(room).collect();
        let (property, target) = (self.property, self.target);
        let out = crate::parallel::map_indexed(
            cases.len(),
            self.threads,
            &|i| Ok(property.evaluate(&cases[i]).map(|v| !v[target].held).ok()),
            &mut |_| {},
        )?;
        self.evaluations += cases.len() as u64;
        (self.progress)(self.evaluations, self.budget);
        self.invalid += out.iter().filter(|o| o.is_none()).count() as u64;
        Ok(out.into_iter().map(|o| o == Some(true)).collect())
    }

    fn spent(&self) -> bool {
        self.evaluations >= self.budget
    }

    /// Shrinks `case`, which fails the target expectation.
    pub fn shrink(mut self, case: Case) -> Result<Shrunk> {
        let mut best = case.normalised(self.space);
        let n = self.space.variables.len();
        let structural = |v: &usize| {
            !matches!(
                self.space.variables[*v].domain,
                Domain::Int { .. } | Domain::Float { .. }
            )
        };
        let order: Vec<usize> = (0..n)
            .filter(structural)
            .chain((0..n).filter(|v| !structural(v)))
            .collect();
        for _ in 0..MAX_PASSES {
            let mut changed = false;
            for &v in &order {
                if self.spent() {
                    break;
                }
                if !best.active(self.space, v) {
                    continue;
                }
                if let Some(c) = self.shrink_variable(&best, v)? {
                    best = c.normalised(self.space);
                    changed = true;
                }
            }
            if !changed || self.spent() {
                break;
            }
        }
        Ok(Shrunk {
            case: best,
            steps: self.steps,
            evaluations: self.evaluations,
            invalid: self.invalid,
        })
    }

    /// A simpler value of variable `v` that keeps the failure, if one is found.
    fn shrink_variable(&mut self, case: &Case, v: usize) -> Result<Option<Case>> {
        let with = |pick: Pick| {
            let mut c = case.clone();
            c.picks[v] = pick;
            c
        };
        match (&self.space.variables[v].domain, case.picks[v]) {
            (_, Pick::Choice(0)) => Ok(None),
            (_, Pick::Choice(c)) => {
                let candidates: Vec<Case> = (0..c).map(|j| with(Pick::Choice(j))).collect();
                let fails = self.fails(candidates.clone())?;
                Ok(self.first_failing(candidates, &fails))
            }
            (Domain::Int { min, .. }, Pick::Int(hi)) => {
                let at = |x: f64| with(Pick::Int(x as i64));
                let found = self.bisect(v, *min as f64, hi as f64, true, 1.0, &at)?;
                Ok(found.map(|x| with(Pick::Int(x as i64))))
            }
            (Domain::Float { min, max }, Pick::Float(hi)) => {
                let tolerance = (max - min) * FLOAT_TOLERANCE;
                let found =
                    self.bisect(v, *min, hi, false, tolerance, &|x| with(Pick::Float(x)))?;
                Ok(found.map(|x| with(Pick::Float(x))))
            }
            _ => Ok(None),
        }
    }

    fn first_failing(&mut self, candidates: Vec<Case>, fails: &[bool]) -> Option<Case> {
        let found = candidates
            .into_iter()
            .zip(fails)
            .find(|(_, f)| **f)
            .map(|(c, _)| c);
        self.steps += u64::from(found.is_some());
        found
    }

    /// Searches `[min, hi)` for a smaller failing value, down to an interval of `tolerance`
    /// (whole numbers when `whole`, to the exact boundary): the smallest failing value found,
    /// if it is below `hi`. Reals then take the shortest decimal that still fails.
    fn bisect(
        &mut self,
        v: usize,
        min: f64,
        hi: f64,
        whole: bool,
        tolerance: f64,
        at: &dyn Fn(f64) -> Case,
    ) -> Result<Option<f64>> {
        let (mut lo, mut cur, mut moved) = (None::<f64>, hi, false);
        if let Some(floor) = self.floors[v].filter(|&f| f < hi && f > min) {
            // Searched before: the minimum may fail now that other variables moved; if not,
            // search above the floor only.
            if self.fails(vec![at(min)])?[0] {
                self.steps += 1;
                return Ok(Some(min));
            }
            lo = Some(floor);
        }
        let found = self.narrow(min, &mut lo, &mut cur, &mut moved, whole, tolerance, at)?;
        self.floors[v] = lo;
        if found.is_some() {
            return Ok(found);
        }
        if let (Some(l), false) = (lo, whole) {
            let simple = shortest_decimal(l, cur);
            if simple < cur && !self.spent() && self.fails(vec![at(simple)])?[0] {
                self.steps += 1;
                return Ok(Some(simple));
            }
        }
        Ok(moved.then_some(cur))
    }
}

impl Shrinker<'_> {
    /// Narrows `(lo, cur]` (`lo` unknown: `[min, cur]`) to `tolerance`: `Some(min)` when the
    /// minimum itself fails.
    #[allow(clippy::too_many_arguments)]
    fn narrow(
        &mut self,
        min: f64,
        lo: &mut Option<f64>,
        cur: &mut f64,
        moved: &mut bool,
        whole: bool,
        tolerance: f64,
        at: &dyn Fn(f64) -> Case,
    ) -> Result<Option<f64>> {
        while !self.spent() && lo.is_none_or(|l| *cur - l > tolerance) {
            let points = candidates(min, *lo, *cur, whole);
            if points.is_empty() {
                break;
            }
            let fails = self.fails(points.iter().map(|&x| at(x)).collect())?;
            match points.iter().zip(&fails).position(|(_, f)| *f) {
                // The minimum itself fails (it is the first point while `lo` is unknown).
                Some(0) if lo.is_none() => {
                    self.steps += 1;
                    return Ok(Some(min));
                }
                Some(i) => {
                    *cur = points[i];
                    *moved = true;
                    self.steps += 1;
                    *lo = Some(if i == 0 {
                        lo.unwrap_or(min)
                    } else {
                        points[i - 1]
                    });
                }
                None => *lo = points.last().copied(),
            }
        }
        Ok(None)
    }
}

/// The points to try on `(lo, hi)`, or `[min, hi)` while `min` has not been tried: `min` and
/// [`WIDTH`] - 1 more, else [`WIDTH`] spread evenly; whole numbers rounded, deduplicated.
fn candidates(min: f64, lo: Option<f64>, hi: f64, whole: bool) -> Vec<f64> {
    let (start, mut points, count) = match lo {
        None => (min, vec![min], WIDTH - 1),
        Some(l) => (l, Vec::new(), WIDTH),
    };
    for j in 1..=count {
        let x = start + (hi - start) * j as f64 / (count + 1) as f64;
        let x = if whole { x.round() } else { x };
        if x > start && x < hi && points.last().is_none_or(|&p| x > p) {
            points.push(x);
        }
    }
    points
}

/// The number with the fewest significant decimal digits in `(lo, hi]`.
pub(crate) fn shortest_decimal(lo: f64, hi: f64) -> f64 {
    for digits in -15..=17 {
        let scale = 10f64.powi(digits);
        let x = ((lo * scale).floor() + 1.0) / scale;
        if x > lo && x <= hi {
            return x;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::{candidates, shortest_decimal};

    #[test]
    fn shortest_decimals() {
        assert_eq!(shortest_decimal(0.02499, 0.02505), 0.025);
        assert_eq!(shortest_decimal(0.02, 0.03), 0.03);
        assert_eq!(shortest_decimal(1234.5, 1299.0), 1240.0);
        assert_eq!(shortest_decimal(39.2, 40.7), 40.0);
        assert_eq!(shortest_decimal(-0.5, 0.25), 0.0);
    }

    #[test]
    fn candidates_try_the_minimum_first_and_stay_inside() {
        assert_eq!(
            candidates(10.0, None, 100.0, true),
            vec![10.0, 33.0, 55.0, 78.0]
        );
        assert_eq!(
            candidates(10.0, Some(33.0), 55.0, true),
            vec![37.0, 42.0, 46.0, 51.0]
        );
        assert_eq!(candidates(10.0, Some(40.0), 42.0, true), vec![41.0]);
        assert!(candidates(10.0, Some(40.0), 41.0, true).is_empty());
        let f = candidates(0.0, Some(0.0), 1.0, false);
        assert_eq!(f, vec![0.2, 0.4, 0.6, 0.8]);
    }
}
