//! Crate-private machinery: interned value columns and the event queues.

pub(crate) mod column;
pub mod queue;
pub(crate) mod series;
