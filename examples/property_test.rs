//! A property test of a rollout plan in a few lines of Rust, with fleetsim's proptest
//! strategies (features `proptest` of fleet-core and fleet-sim; docs/check.md):
//!
//! "For every IoT Central job my automation builds (batches of at most 5 %), every fleet and
//! every fault mix, a stop sent as the job starts keeps it to its first batch: at most 5 % of
//! the fleet (rounded up) ever receives the operation."
//!
//!   cargo test --example property_test

fn main() {
    println!("a property test: run it with `cargo test --example property_test`");
}

#[cfg(test)]
mod tests {
    use fleet_core::strategy::central_job;
    use fleet_scenario::{run, Format, RunOptions, Scenario};
    use fleet_sim::strategy::{behaviour, fleet, template};
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn a_stop_at_the_start_keeps_the_job_to_its_first_batch(
            fleet in fleet(1..=2_000),
            behaviour in behaviour(),
            mut job in central_job("every-device"),
            batch_percent in 1u32..=5,
            seed in any::<u64>(),
        ) {
            // The automation's rule: batches of at most 5 %.
            job["batch"] = json!({"type": "percentage", "value": batch_percent});
            job["id"] = json!("rollout");
            let scenario = json!({
                "seed": seed,
                "fleet": fleet,
                "templates": [template()],
                "groups": [{"id": "every-device"}],
                "behaviour": behaviour,
                "jobs": [{"json": job.to_string(), "commands": [{"at_s": 0, "command": "stop"}]}],
            });
            let scenario = Scenario::from_str(&scenario.to_string(), Format::Json).unwrap();
            let report = run(&scenario, RunOptions::default(), &mut |_, _| {}).unwrap();
            let c = report.result.job("rollout").unwrap().counts;
            let reached = c.total - c.pending - c.cancelled;
            let first_batch = (u64::from(batch_percent) * u64::from(c.total)).div_ceil(100).max(1);
            prop_assert!(u64::from(reached) <= first_batch, "{reached} of {} reached", c.total);
        }
    }
}
