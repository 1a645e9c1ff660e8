//! Stamps `fleetsim --version` with the git commit it was built from, when there is one.
//!
//! `FLEETSIM_VERSION` is the crate version, then ` (<short hash>)` when `git` can read the
//! checkout, with `+dirty` when tracked files differ from the commit. A build from a source
//! archive (no `.git`) or without `git` says the version alone: nothing fails.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let stamped = match git(&["rev-parse", "--short=7", "HEAD"]) {
        Some(rev) if !rev.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!("{version} ({rev}{})", if dirty { "+dirty" } else { "" })
        }
        _ => version.to_string(),
    };
    println!("cargo:rustc-env=FLEETSIM_VERSION={stamped}");
    // Rebuild when the commit or the index changes (not on every build). Paths as git gives
    // them: in a linked worktree `.git` is a file and these live elsewhere.
    let mut watched = vec!["HEAD".to_string(), "index".to_string()];
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(head);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
