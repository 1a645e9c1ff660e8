//! What the command-line tests share: running the binary, reading its output, writing files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `fleetsim` with `args` in the repository root.
pub fn fleetsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the fleetsim binary runs")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the scenario");
    path
}

/// Runs `fleetsim` with `args` and checks that it refuses them as bad input: exit code 2, no
/// panic, and `needle` in the message on standard error. Returns that message, for callers
/// that check more of it (further needles, where it starts).
pub fn assert_refused(args: &[&str], needle: &str) -> String {
    let out = fleetsim(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: {err:?} should contain {needle:?}"
    );
    err
}
