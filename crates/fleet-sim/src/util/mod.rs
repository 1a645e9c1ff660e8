//! Crate-private machinery: interned value columns, the event queues and a batch's runs.

pub(crate) mod column;
pub mod queue;
pub(crate) mod runs;
pub(crate) mod series;
