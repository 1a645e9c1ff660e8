//! [`ImportedFleet`]: the fleet an import read, with what the fleet file keeps besides it.

use std::io::Write;

use fleet_sim::Fleet;

use crate::error::Result;
pub use crate::fleet_file::Header;
use crate::record::Record;

/// What the fleet file keeps of each device besides its [`Fleet`] columns, in one order (the
/// order read while importing, then the fleet's).
#[derive(Debug, Default)]
pub(crate) struct Sides {
    display_names: Vec<Option<Box<str>>>,
    last_activity: Vec<Option<Box<str>>>,
    /// 0: not known; 1: connected; 2: disconnected.
    connection: Vec<u8>,
}

impl Sides {
    /// Appends one device's.
    pub(crate) fn push(&mut self, r: &Record<'_>) {
        self.display_names
            .push(r.display_name.as_deref().map(Box::from));
        self.last_activity
            .push(r.last_activity.as_deref().map(Box::from));
        self.connection.push(match r.connected {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        });
    }

    /// The same, entry `i` being entry `order[i]` of this.
    pub(crate) fn ordered(mut self, order: &[u32]) -> Self {
        let take = |v: &mut Vec<Option<Box<str>>>| -> Vec<Option<Box<str>>> {
            order.iter().map(|&p| v[p as usize].take()).collect()
        };
        Self {
            display_names: take(&mut self.display_names),
            last_activity: take(&mut self.last_activity),
            connection: order.iter().map(|&p| self.connection[p as usize]).collect(),
        }
    }
}

/// The fleet an import read: the devices sorted by id (each template they name an empty
/// template), the fleet file's header, and per device what the fleet file keeps besides.
#[derive(Debug)]
pub struct ImportedFleet {
    /// The devices.
    pub fleet: Fleet,
    /// The fleet file's header: the source format and files, the counts, the templates.
    pub header: Header,
    sides: Sides,
    skipped_samples: Vec<String>,
}

impl ImportedFleet {
    pub(crate) fn new(
        fleet: Fleet,
        header: Header,
        sides: Sides,
        skipped_samples: Vec<String>,
    ) -> Self {
        Self {
            fleet,
            header,
            sides,
            skipped_samples,
        }
    }

    /// Device `index`'s name for people, when the export gave one other than its id.
    pub fn display_name(&self, index: u32) -> Option<&str> {
        self.sides.display_names[index as usize].as_deref()
    }

    /// Device `index`'s last activity as the export recorded it (RFC 3339 text).
    pub fn last_activity(&self, index: u32) -> Option<&str> {
        self.sides.last_activity[index as usize].as_deref()
    }

    /// Whether device `index` was connected when exported; `None` where the export does not
    /// say (a device export, an IoT Central device list, `list-things`).
    pub fn connected(&self, index: u32) -> Option<bool> {
        match self.sides.connection[index as usize] {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        }
    }

    /// The errors of the first skipped records (`--skip-bad`; the header counts them all).
    pub fn skipped_samples(&self) -> &[String] {
        &self.skipped_samples
    }

    /// Writes the fleet file (see [`crate::fleet_file`]).
    pub fn write(&self, out: impl Write) -> Result<()> {
        crate::fleet_file::write(self, out)
    }
}
