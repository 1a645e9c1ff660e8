//! The readers of each export format: one record's JSON text to a [`Parsed`] record. One file
//! per platform; the field-by-field mapping of each is in its module documentation and in
//! `docs/import.md`. Fields a format has that are not listed (fields newer API versions add)
//! are ignored, so exports from newer versions import.

mod aws;
pub(crate) mod central;
mod hawkbit;
mod hub;

use crate::error::Result;
use crate::format::Format;
use crate::record::Parsed;
use crate::stream::RawRecord;

/// Reads one record of `format`.
pub(crate) fn parse(format: Format, raw: RawRecord<'_>) -> Result<Parsed<'_>> {
    match format {
        Format::HubTwins => hub::twin(raw),
        Format::HubExport => hub::export(raw),
        Format::Central => central::device(raw),
        Format::Aws => aws::thing(raw),
        Format::Hawkbit => hawkbit::target(raw),
    }
}
