//! Integration tests of `fleetsim serve` over real HTTP on an ephemeral loopback port.

mod central;
mod common;
mod equivalence;
mod errors;
mod hub;
mod restart;
mod security;
