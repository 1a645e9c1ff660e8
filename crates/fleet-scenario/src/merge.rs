//! `fleetsim merge`: partial result files of either kind, told apart by their `"kind"` field
//! (a sharded replicated run, `fleetsim-partial`, or a sharded plan sweep,
//! `fleetsim-plan-partial`), combined into the report one machine would have made.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::plan::{merge_plans, PlanPartial, PlanReport};
use crate::replicate::{merge, Partial, ReplicationReport};

/// One partial result file.
#[derive(Debug, Clone)]
pub enum PartialFile {
    /// A part of a replicated run.
    Replications(Box<Partial>),
    /// A part of a plan sweep.
    Plans(Box<PlanPartial>),
}

/// The report of merged parts.
#[derive(Debug, Clone)]
pub enum Merged {
    /// A replicated run's report.
    Replications(Box<ReplicationReport>),
    /// A plan sweep's report.
    Plans(Box<PlanReport>),
}

#[derive(Deserialize)]
struct Kind {
    kind: Option<String>,
}

impl PartialFile {
    /// Reads a partial result file of either kind; errors name the file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Io(e)).with_file(path))?;
        let kind = serde_json::from_str::<Kind>(&text)
            .ok()
            .and_then(|k| k.kind);
        match kind.as_deref() {
            Some(crate::plan::partial::KIND) => {
                PlanPartial::read(path).map(|p| Self::Plans(Box::new(p)))
            }
            _ => Partial::read(path).map(|p| Self::Replications(Box::new(p))),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Replications(_) => "a replicated run (fleetsim run --shard)",
            Self::Plans(_) => "a plan sweep (fleetsim plan --shard)",
        }
    }
}

/// Merges parts that are all of one kind (any order).
pub fn merge_files(parts: Vec<PartialFile>) -> Result<Merged> {
    if let Some(first) = parts.first() {
        if let Some(other) = parts.iter().find(|p| p.kind() != first.kind()) {
            return Err(Error::new(ErrorKind::Partial(format!(
                "parts of {} and of {} cannot be merged together",
                first.kind(),
                other.kind()
            ))));
        }
    }
    match parts.first() {
        Some(PartialFile::Plans(_)) => {
            let plans = parts.into_iter().filter_map(|p| match p {
                PartialFile::Plans(p) => Some(*p),
                PartialFile::Replications(_) => None,
            });
            merge_plans(plans.collect()).map(|r| Merged::Plans(Box::new(r)))
        }
        _ => {
            let runs = parts.into_iter().filter_map(|p| match p {
                PartialFile::Replications(p) => Some(*p),
                PartialFile::Plans(_) => None,
            });
            merge(runs.collect()).map(|r| Merged::Replications(Box::new(r)))
        }
    }
}
