//! Integration tests of `fleetsim serve` over real HTTP on an ephemeral loopback port.

mod central;
mod common;
mod connections;
mod devices;
mod documents;
mod equivalence;
mod errors;
mod hub;
mod imported;
mod mqtt;
mod multiple;
mod observe;
mod openapi;
mod restart;
mod security;
mod store;
mod twins;
