//! Writes the per-device results of a simulated job as IoT Hub, IoT Central and AWS IoT export
//! them: test data from a known model.
//!
//! ```text
//! cargo run -p fleet-calibrate --example gen-results -- DIR [SCENARIO] [SEED] [JOB]
//! ```
//!
//! SCENARIO defaults to `examples/calibration-model.toml`, SEED to the scenario's seed, JOB
//! (the job exported) to the scenario's first. The files go to DIR/hub, DIR/central and DIR/aws.

use std::path::PathBuf;
use std::process::ExitCode;

use fleet_calibrate::{synth, Platform};
use fleet_scenario::Scenario;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: gen-results DIR [SCENARIO] [SEED] [JOB]");
        return ExitCode::from(2);
    };
    let scenario_path = args.get(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/calibration-model.toml"),
        PathBuf::from,
    );
    match run(&dir, &scenario_path, args.get(2), args.get(3)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(
    dir: &std::path::Path,
    scenario: &std::path::Path,
    seed: Option<&String>,
    job: Option<&String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Scenario::load(scenario)?;
    let seed = match seed {
        Some(s) => s.parse()?,
        None => scenario.file.seed,
    };
    let result = synth::simulate(&scenario, seed)?;
    let index = match job {
        None => 0,
        Some(id) => result
            .jobs
            .iter()
            .position(|j| &j.id == id)
            .ok_or_else(|| format!("the scenario has no job {id:?}"))?,
    };
    let job = synth::SimulatedJob::of(&result, index)?;
    for (platform, sub) in [
        (Platform::Hub, "hub"),
        (Platform::Central, "central"),
        (Platform::Aws, "aws"),
    ] {
        for f in synth::write(&job, platform, &dir.join(sub))? {
            println!("{}", f.display());
        }
    }
    Ok(())
}
