//! An imported fleet: a scenario's `[fleet] file`, a fleetsim fleet file (written by
//! `fleetsim import`, read by `fleet-import`), loaded once with the scenario.
//!
//! The templates the fleet's devices name are the scenario's `templates`; a template the
//! scenario does not define becomes an **empty template** (no properties, commands or cloud
//! properties): its devices are selected by `$template` as on the real hub, and a job cannot
//! write to them (a job names a template that the scenario must define). A warning
//! (`template_not_defined`) lists such templates with their device counts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fleet_import::FleetFile;
use fleet_sim::{Fleet, TemplateSpec};

use crate::error::{Error, Result};

/// A loaded fleet file.
#[derive(Debug, Clone)]
pub struct ImportedFleet {
    /// The fleet file, as the scenario names it, resolved against the scenario's directory.
    pub path: PathBuf,
    /// The fleet (shared: each simulation starts from a copy).
    pub fleet: Arc<Fleet>,
    /// The templates the fleet names that the scenario does not define (each an empty
    /// template), with their numbers of devices, in template order.
    pub undefined_templates: Vec<(String, u32)>,
}

/// Loads the fleet file `name` (relative to `base`, the scenario's directory) with the
/// scenario's `templates`. Errors are about `fleet.file` and carry the fleet file's own file,
/// line and field.
pub(crate) fn load(name: &str, base: &Path, templates: &[TemplateSpec]) -> Result<ImportedFleet> {
    let path = base.join(name);
    let invalid = |e: fleet_import::Error| Error::invalid("fleet.file", e.to_string());
    let file = FleetFile::read(&path).map_err(invalid)?;
    let mut all = templates.to_vec();
    let undefined: Vec<String> = file
        .header
        .templates
        .iter()
        .filter(|id| !templates.iter().any(|t| &t.id == *id))
        .cloned()
        .collect();
    all.extend(undefined.iter().map(|id| TemplateSpec {
        id: id.clone(),
        ..Default::default()
    }));
    let fleet = file.build(&all).map_err(invalid)?;
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for i in 0..fleet.len() {
        if let Some(t) = fleet.template(i) {
            *counts.entry(t.id.as_str()).or_default() += 1;
        }
    }
    let undefined_templates = undefined
        .into_iter()
        .map(|id| {
            let n = counts.get(id.as_str()).copied().unwrap_or(0);
            (id, n)
        })
        .collect();
    Ok(ImportedFleet {
        path,
        fleet: Arc::new(fleet),
        undefined_templates,
    })
}
