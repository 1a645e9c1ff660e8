//! Tests of fleet-query: syntax and errors, semantics, a compiled store, and fuzzing.

mod errors;
mod fuzz;
mod semantics;
mod store;
mod syntax;
