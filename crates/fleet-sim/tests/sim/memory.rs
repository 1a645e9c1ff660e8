//! Memory: a million devices fit in far less than 150 MB.

use fleet_sim::*;
use serde_json::json;

use crate::common::*;

#[test]
fn a_million_devices_with_three_tags_fit_in_150_mb() {
    let mut spec = thermostats(1_000_000);
    spec.tags = serde_json::from_value(json!([
        {"name": "region", "values": [{"value": "eu"}, {"value": "us"}, {"value": "asia"}]},
        {"name": "firmware", "values": [{"value": "1.1", "weight": 9}, {"value": "1.2", "weight": 1}]},
        {"name": "ring", "values": [{"value": 0}, {"value": 1}, {"value": 2}, {"value": 3}]}
    ]))
    .unwrap();
    let fleet = Fleet::generate(&spec, &templates(), 1).unwrap();
    let bytes = fleet.heap_bytes();
    assert!(bytes < 150 * 1024 * 1024, "{bytes} bytes");
    // Column-wise: 2 (template) + 1 (flags) + 3 x 1 (tags) bytes per device.
    assert!(bytes < 7 * 1_000_000, "{bytes} bytes");
    assert_eq!(fleet.id(999_999).to_string(), "dev-999999");
    assert_eq!(fleet.index_of("dev-000042"), Some(42));
}

#[test]
fn a_property_job_adds_a_few_bytes_per_device() {
    let n = 100_000;
    let r = SimBuilder::reference_rollout(n, 1).build().unwrap().run();
    let per_device = r.fleet().heap_bytes() as f64 / f64::from(n);
    // Template, flags, desired and reported columns, two version columns: 2 + 1 + 1 + 1 + 2.
    assert!(per_device < 8.0, "{per_device} bytes per device");
}

#[test]
fn simulations_and_results_can_move_to_other_threads() {
    fn send<T: Send>() {}
    send::<Simulation>();
    send::<SimResult>();
    send::<SimBuilder>();
}
