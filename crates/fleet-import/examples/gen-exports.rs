//! Writes sample exports of one seeded model fleet in every format `fleetsim import` reads.
//!
//! ```text
//! cargo run -p fleet-import --example gen-exports -- DIR [--devices N] [--seed S]
//! ```
//!
//! The files (`iothub-twins.json`, `devices.txt`, `central-devices.json` with
//! `central-properties.json`, `aws-search-index.json`, `aws-list-things.json`,
//! `hawkbit-targets.json`) describe the same devices; `fleet_import::sample` says which facts
//! each carries. Defaults: 1,000 devices, seed 42.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use fleet_import::sample::{self, Export};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gen-exports: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let usage = "usage: gen-exports DIR [--devices N] [--seed S]";
    let mut dir: Option<PathBuf> = None;
    let (mut devices, mut seed) = (1000u32, 42u64);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value; {usage}"))
        };
        match arg.as_str() {
            "--devices" => {
                let v = value("--devices")?;
                devices = v
                    .parse()
                    .map_err(|_| format!("--devices {v:?}: not a count"))?;
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed {v:?}: not a number"))?;
            }
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}; {usage}")),
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            _ => return Err(format!("one directory only; {usage}")),
        }
    }
    let dir = dir.ok_or(usage)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let model = sample::model(seed, devices);
    for export in Export::ALL {
        let path = dir.join(export.file_name());
        let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        sample::write(export, &model, seed, &mut BufWriter::new(file))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
