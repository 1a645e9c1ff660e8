//! End-to-end tests of the `fleetsim` command line: one test binary, modules inside.

mod cli;
mod common;
mod import;
mod limits;
mod warnings;
