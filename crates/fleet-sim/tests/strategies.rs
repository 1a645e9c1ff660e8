//! The `proptest` feature's strategies give only fleets and behaviours the simulator accepts.

use fleet_sim::{strategy, SimBuilder};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn generated_fleets_and_fault_mixes_are_valid(
        fleet in strategy::fleet(1..=300),
        behaviour in strategy::behaviour(),
        commands in strategy::commands(6, 3_600_000),
    ) {
        fleet.validate().unwrap();
        behaviour.validate().unwrap();
        prop_assert!(commands.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
        prop_assert!(commands.iter().all(|(at, _)| (0..=3_600_000).contains(at)));
        let sim = SimBuilder::new(1)
            .templates(vec![strategy::template()])
            .fleet(fleet)
            .behaviour(behaviour)
            .build();
        prop_assert!(sim.is_ok(), "{:?}", sim.err());
    }
}
