//! End-to-end tests of the `fleetsim` command line: one test binary, modules inside.

mod calibrate;
mod cli;
mod common;
mod limits;
mod warnings;
