//! End-to-end tests of the `fleetsim` command line: one test binary, modules inside.

mod calibrate;
mod check;
mod cli;
mod common;
mod deploy;
mod docs;
mod import;
mod limits;
mod plan;
mod sharding;
mod warnings;
