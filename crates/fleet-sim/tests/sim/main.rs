//! Integration tests of fleet-sim: one test binary, one module per concern.

mod cohorts;
mod common;
mod conversion;
mod determinism;
mod faults;
mod hub;
mod limits;
mod memory;
mod multiple;
mod operations;
mod policies;
mod props;
mod query;
mod reruns;
mod schedules;
mod validation;
