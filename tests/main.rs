//! End-to-end tests of the `fleetsim` command line: one test binary, modules inside.

mod action;
mod calibrate;
mod check;
mod cli;
mod common;
mod container;
mod deploy;
mod docs;
mod habits;
mod import;
mod limits;
mod plan;
mod sharding;
mod warnings;
