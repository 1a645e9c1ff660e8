//! `fleetsim completions`, `fleetsim man` and `--version`: generated from the clap definitions,
//! so they name every subcommand that `--help` does.

use std::process::Command;

use crate::common::*;

/// The subcommands `--help` lists (the lines of its "Commands:" section).
fn subcommands() -> Vec<String> {
    let help = stdout(&fleetsim(&["--help"]));
    let commands = help.split("Commands:").nth(1).expect("a Commands section");
    commands
        .lines()
        .skip(1) // the rest of the "Commands:" line
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn completion_scripts_cover_every_subcommand_and_bash_parses_its_own() {
    let names = subcommands();
    assert!(
        names.len() >= 6 && names.contains(&"serve".to_string()),
        "{names:?}"
    );
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = fleetsim(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell}: no {name}");
        }
    }
    let bash = stdout(&fleetsim(&["completions", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fleetsim.bash", &bash);
    let checked = Command::new("bash").arg("-n").arg(&path).status();
    match checked {
        Ok(status) => assert!(status.success(), "bash -n refused the script"),
        Err(e) => eprintln!("SKIPPED: bash -n (no bash here: {e})"),
    }
    assert_refused(&["completions", "tcsh"], "tcsh");
}

#[test]
fn the_manual_page_has_a_section_per_subcommand() {
    let out = fleetsim(&["man"]);
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "{}",
        &page[..80]
    );
    let names = subcommands();
    // One title for fleetsim, one per subcommand.
    assert_eq!(page.matches("\n.TH ").count(), 1 + names.len(), "{names:?}");
    for name in &names {
        assert!(
            page.contains(&format!("fleetsim\\-{name}")),
            "no page for {name}"
        );
    }
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let version = stdout(&fleetsim(&["--version"]));
    let expected = format!("fleetsim {}", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    let head = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match head {
        Ok(out) if out.status.success() => {
            let rev = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(
                version.contains(&format!("({rev}")),
                "{version} lacks {rev}"
            );
        }
        _ => eprintln!("SKIPPED: the commit check (not a git checkout, or no git)"),
    }
}
