//! Fields that may be absent, `null`, or a value, with the three kept apart.
//!
//! serde reads both an absent field and a `null` into `Option::None`, so a document with
//! `"startTime": null` would be written back without the field. A field of type
//! `Option<Nullable<T>>` keeps the difference: `None` is absent, `Some(Nullable::Null)` is `null`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JSON value that may be `null`. Used as `Option<Nullable<T>>` for fields where absent and
/// `null` must both survive a round trip (IoT Hub `startTime`, a merge patch's removals).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Nullable<T> {
    /// The field is present with the value `null`.
    Null,
    /// The field is present with a value.
    Value(T),
}

impl<T> Nullable<T> {
    /// The value, if not null.
    pub fn as_option(&self) -> Option<&T> {
        match self {
            Self::Null => None,
            Self::Value(v) => Some(v),
        }
    }

    /// The value, if not null.
    pub fn into_option(self) -> Option<T> {
        match self {
            Self::Null => None,
            Self::Value(v) => Some(v),
        }
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

impl<T> From<Option<T>> for Nullable<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Self::Value)
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_none(),
            Self::Value(v) => v.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Self::from)
    }
}

/// `deserialize_with` for an `Option<T>` field that must read a present `null` as `Some(..)`:
/// with `#[serde(default)]`, an absent field is `None` and a present one (even `null`) is
/// `Some(T::deserialize(..))`. For `Option<serde_json::Value>` this keeps `"value": null` apart
/// from no `value`; for `Option<Nullable<T>>` it keeps `null` apart from absent.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
