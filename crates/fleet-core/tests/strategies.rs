//! The `proptest` feature's strategies give only valid jobs, in every dialect.
#![cfg(feature = "proptest")]

use std::collections::BTreeSet;

use fleet_core::model::{JobDefinition, Validate};
use fleet_core::strategy::{self, Dialect};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

proptest! {
    #[test]
    fn every_generated_job_passes_the_models_validation(job in strategy::job("g")) {
        let def = JobDefinition::from_value(job.json.clone())
            .unwrap_or_else(|e| panic!("{e}: {}", job.json));
        def.validate().unwrap_or_else(|e| panic!("{e}: {}", job.json));
        let dialect = match def {
            JobDefinition::Central(_) => Dialect::Central,
            JobDefinition::Hub(_) => Dialect::Hub,
            JobDefinition::Aws(_) => Dialect::Aws,
            JobDefinition::Hawkbit(_) => Dialect::Hawkbit,
            JobDefinition::Scheduled(_) => panic!("not generated"),
        };
        prop_assert_eq!(dialect, job.dialect, "the model reads the dialect it was made as");
        let run = def.run_builder().unwrap().build(30).unwrap();
        prop_assert_eq!(run.counts().total, 30);
    }
}

#[test]
fn the_strategy_covers_every_dialect() {
    let mut runner = TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let job = strategy::job("g").new_tree(&mut runner).unwrap().current();
        seen.insert(job.dialect);
    }
    let all: BTreeSet<Dialect> = [
        Dialect::Central,
        Dialect::Hub,
        Dialect::Aws,
        Dialect::Hawkbit,
    ]
    .into();
    assert_eq!(seen, all);
}
