//! Whole numbers that a document may write with a fraction (`68.0`).
//!
//! JSON does not tell `68` and `68.0` apart (both are the number 68, and JSON Schema's
//! `integer` admits both), so the integer fields of the models (`responseTimeoutInSeconds`,
//! `maxExecutionTimeInSeconds`, a schedule end's `occurrences`, ...) read either and write `68`.
//! A number with a fraction (`68.5`) or outside the field's range is an error naming the field,
//! as before.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// An integer of type `T` read from a JSON integer or a whole float.
struct Whole<T>(T);

impl<'de, T> Deserialize<'de> for Whole<T>
where
    T: TryFrom<i64> + TryFrom<u64>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WholeVisitor<T>(PhantomData<T>);

        impl<T: TryFrom<i64> + TryFrom<u64>> Visitor<'_> for WholeVisitor<T> {
            type Value = Whole<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a whole number that fits {}", std::any::type_name::<T>())
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Whole<T>, E> {
                T::try_from(v)
                    .map(Whole)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Whole<T>, E> {
                T::try_from(v)
                    .map(Whole)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Whole<T>, E> {
                // Within ±2^63 every whole f64 converts to i64 exactly.
                let whole = v.fract() == 0.0 && v.abs() < 9.2e18;
                if !whole {
                    return Err(E::invalid_type(de::Unexpected::Float(v), &self));
                }
                self.visit_i64(v as i64)
            }
        }

        deserializer.deserialize_any(WholeVisitor(PhantomData))
    }
}

/// `deserialize_with` for an `Option<T>` integer field (with `#[serde(default)]`): `null` is
/// `None`, `68` and `68.0` are `Some(68)`.
pub(crate) fn option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    Option::<Whole<T>>::deserialize(deserializer).map(|o| o.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Doc {
        #[serde(default, deserialize_with = "super::option")]
        seconds: Option<i64>,
        #[serde(default, deserialize_with = "super::option")]
        count: Option<u32>,
    }

    fn read(json: &str) -> Result<Doc, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_floats_are_integers_and_fractions_are_not() {
        let d = read(r#"{"seconds": 68.0, "count": 2.0}"#).unwrap();
        assert_eq!((d.seconds, d.count), (Some(68), Some(2)));
        let d = read(r#"{"seconds": -5, "count": null}"#).unwrap();
        assert_eq!((d.seconds, d.count), (Some(-5), None));
        assert_eq!(read("{}").unwrap().seconds, None);
        assert!(read(r#"{"seconds": 68.5}"#).unwrap_err().contains("68.5"));
        assert!(read(r#"{"count": -1}"#).is_err());
        assert!(read(r#"{"count": 4294967296.0}"#).is_err());
        assert!(read(r#"{"seconds": 1e300}"#).is_err());
        assert!(read(r#"{"seconds": "5"}"#).is_err());
    }
}
