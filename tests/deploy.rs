//! `deploy/kubernetes/`: the manifests parse and say what matters (an Indexed Job whose
//! completions equal its SHARDS, the index from JOB_COMPLETION_INDEX, one claim and one RUN
//! folder for shards and merge), pass `yamllint --strict` when it can be had, and their shell
//! commands, run here one per index and then merged, print the unsharded report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn manifest(name: &str) -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("the manifest exists");
    let mut docs = YamlLoader::load_from_str(&text).expect("the manifest is YAML");
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

/// The only container of a Job.
fn container(job: &Yaml) -> &Yaml {
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_vec()
        .unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

fn env(container: &Yaml) -> BTreeMap<String, String> {
    container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| {
            let value = e["value"].as_str().expect("env values are quoted strings");
            (e["name"].as_str().unwrap().to_string(), value.to_string())
        })
        .collect()
}

/// The `/bin/sh -c` script of a container.
fn script(container: &Yaml) -> String {
    let command: Vec<&str> = container["command"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(command[..2], ["/bin/sh", "-c"]);
    command[2].to_string()
}

fn claim(job: &Yaml) -> String {
    let volumes = job["spec"]["template"]["spec"]["volumes"].as_vec().unwrap();
    let parts = volumes
        .iter()
        .find(|v| v["name"].as_str() == Some("parts"))
        .unwrap();
    parts["persistentVolumeClaim"]["claimName"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_manifests_say_what_matters() {
    let shards = manifest("shards.yaml");
    let merge = manifest("merge.yaml");
    let volume = manifest("volume.yaml");
    assert_eq!(shards["kind"].as_str(), Some("Job"));
    assert_eq!(shards["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = shards["spec"]["completions"].as_i64().unwrap();
    let shard_env = env(container(&shards));
    assert_eq!(
        shard_env["SHARDS"],
        completions.to_string(),
        "completions = N"
    );
    assert!(shards["spec"]["parallelism"].as_i64().unwrap() <= completions);
    assert_eq!(
        shards["spec"]["template"]["spec"]["restartPolicy"].as_str(),
        Some("Never")
    );
    let run = script(container(&shards));
    assert!(
        run.contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\""),
        "{run}"
    );
    assert!(
        run.contains("--partial-out \"/parts/$RUN/part-$JOB_COMPLETION_INDEX.json\""),
        "{run}"
    );
    assert_eq!(merge["kind"].as_str(), Some("Job"));
    assert_eq!(
        merge["spec"]["backoffLimit"].as_i64(),
        Some(0),
        "no retry of a verdict"
    );
    assert!(script(container(&merge)).contains("fleetsim merge /parts/$RUN/part-*.json"));
    assert_eq!(
        env(container(&merge))["RUN"],
        shard_env["RUN"],
        "one folder"
    );
    assert_eq!(volume["kind"].as_str(), Some("PersistentVolumeClaim"));
    let name = volume["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        (claim(&shards), claim(&merge)),
        (name.to_string(), name.to_string())
    );
    assert_eq!(
        volume["spec"]["accessModes"][0].as_str(),
        Some("ReadWriteMany")
    );
}

/// The script with the pod's paths moved under `root`.
fn local(script: &str, root: &Path) -> String {
    let root = root.to_str().unwrap();
    script
        .replace("/parts/", &format!("{root}/parts/"))
        .replace(
            "/scenario/scenario.toml",
            &format!("{root}/scenario/scenario.toml"),
        )
}

fn sh(script: &str, vars: &BTreeMap<String, String>) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_fleetsim")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .envs(vars)
        .env("PATH", path)
        .output()
        .expect("sh runs")
}

#[test]
fn the_jobs_commands_run_here_give_the_unsharded_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("scenario")).unwrap();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/threshold-second-batch.toml");
    let scenario = root.join("scenario/scenario.toml");
    std::fs::copy(&example, &scenario).unwrap();
    std::fs::create_dir(root.join("parts")).unwrap();

    let shards = manifest("shards.yaml");
    let mut vars = env(container(&shards));
    vars.insert("REPLICATIONS".into(), "11".into());
    vars.insert("THREADS".into(), "1".into());
    let n: u32 = vars["SHARDS"].parse().unwrap();
    let run = local(&script(container(&shards)), root);
    for index in 0..n {
        vars.insert("JOB_COMPLETION_INDEX".into(), index.to_string());
        let out = sh(&run, &vars);
        assert!(
            out.status.success(),
            "part {index}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let merge = manifest("merge.yaml");
    let out = sh(
        &local(&script(container(&merge)), root),
        &env(container(&merge)),
    );
    let folder: PathBuf = root.join("parts").join(&vars["RUN"]);
    let merged = std::fs::read_to_string(folder.join("report.json")).unwrap();
    assert!(folder.join("report.html").exists());

    let whole = crate::common::fleetsim(&[
        "run",
        scenario.to_str().unwrap(),
        "--replications",
        "11",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), whole.status.code(), "the same verdict");
    let steady = |text: &str| {
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["wall_s"] = 0.into();
        v["events_per_s"] = 0.into();
        v
    };
    assert_eq!(
        steady(&merged),
        steady(&String::from_utf8_lossy(&whole.stdout))
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("11 replications"),
        "text in the log"
    );
}

/// `yamllint` on the PATH, else installed from PyPI into the target folder; `None` (and a
/// loud message) when neither works.
fn yamllint() -> Option<Command> {
    if Command::new("yamllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(Command::new("yamllint"));
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("yamllint");
    let python = |target: &Path| {
        let mut c = Command::new("python3");
        c.env("PYTHONPATH", target).args(["-m", "yamllint"]);
        c
    };
    if !python(&target)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let install = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&target)
            .arg("yamllint")
            .output();
        match install {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!(
                    "SKIPPED yamllint: `pip install yamllint` failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                return None;
            }
            Err(e) => {
                eprintln!("SKIPPED yamllint: no python3 to install it with ({e})");
                return None;
            }
        }
    }
    Some(python(&target))
}

#[test]
fn the_manifests_pass_yamllint_strict() {
    let Some(mut lint) = yamllint() else {
        eprintln!("SKIPPED: the manifests were only parsed, not linted");
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let out = lint.arg("--strict").arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
