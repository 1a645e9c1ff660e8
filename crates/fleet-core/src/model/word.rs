//! Words of a closed vocabulary (`type`, `status`, `recurrence`) and the spelling they were read in.
//!
//! The specifications and the how-to documents sometimes spell the same thing two ways
//! (`property` / `PropertyJobData`, `complete` / `completed`, `cancelled` / `canceled`). Input
//! accepts both. A vocabulary type itself always writes the specification's word; wrapping it in
//! a [`Word`] also remembers which spelling was read, so that a document is written back exactly
//! as it came.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// Which of a word's accepted spellings a [`Word`] is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Spelling {
    /// The specification's word (`property`, `complete`, `cancelled`). The default, and what
    /// values built in code are written with.
    #[default]
    Spec,
    /// The other accepted word (`PropertyJobData`, `completed`, `canceled`). A member without an
    /// alternate word is written with its specification's word.
    Alternate,
}

/// A closed set of words: the members of an enum that is read and written as a JSON string.
pub trait Vocabulary: Copy + Eq + fmt::Debug + Sized + 'static {
    /// Every member, in declaration order.
    const ALL: &'static [Self];
    /// Every accepted word, for error messages.
    const WORDS: &'static [&'static str];
    /// The specification's word for this member.
    fn spec_word(self) -> &'static str;
    /// The other accepted word, if the member has one.
    fn alternate_word(self) -> Option<&'static str>;

    /// The member spelt `word` (case-sensitively) and the spelling used.
    fn parse_word(word: &str) -> Option<(Self, Spelling)> {
        Self::ALL.iter().find_map(|&m| {
            if m.spec_word() == word {
                Some((m, Spelling::Spec))
            } else if m.alternate_word() == Some(word) {
                Some((m, Spelling::Alternate))
            } else {
                None
            }
        })
    }
}

/// A member of vocabulary `V` together with the spelling it is written with.
///
/// Equality compares the spelling too; compare [`Word::value`]s to ignore it.
///
/// ```
/// use fleet_core::model::{DataType, Spelling, Word};
///
/// let read: Word<DataType> = serde_json::from_str("\"PropertyJobData\"").unwrap();
/// assert_eq!(read.value(), DataType::Property);
/// assert_eq!(read.spelling(), Spelling::Alternate);
/// assert_eq!(serde_json::to_string(&read).unwrap(), "\"PropertyJobData\"");
/// // Built in code: the specification's spelling.
/// assert_eq!(serde_json::to_string(&Word::new(DataType::Property)).unwrap(), "\"property\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Word<V> {
    value: V,
    spelling: Spelling,
}

impl<V: Vocabulary> Word<V> {
    /// `value`, written with the specification's word.
    pub fn new(value: V) -> Self {
        Self {
            value,
            spelling: Spelling::Spec,
        }
    }

    /// `value`, written with `spelling` (the specification's word if it has no alternate).
    pub fn with_spelling(value: V, spelling: Spelling) -> Self {
        let spelling = match value.alternate_word() {
            Some(_) => spelling,
            None => Spelling::Spec,
        };
        Self { value, spelling }
    }

    /// The word `word` (either spelling), or `None` if it is not a word of `V`.
    pub fn parse(word: &str) -> Option<Self> {
        V::parse_word(word).map(|(value, spelling)| Self { value, spelling })
    }

    /// The member.
    pub fn value(self) -> V {
        self.value
    }

    /// The spelling it is written with.
    pub fn spelling(self) -> Spelling {
        self.spelling
    }

    /// The word as written.
    pub fn as_str(self) -> &'static str {
        match self.spelling {
            Spelling::Alternate => self
                .value
                .alternate_word()
                .unwrap_or_else(|| self.value.spec_word()),
            Spelling::Spec => self.value.spec_word(),
        }
    }
}

impl<V: Vocabulary> From<V> for Word<V> {
    fn from(value: V) -> Self {
        Self::new(value)
    }
}

impl<V: Vocabulary> fmt::Display for Word<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<V: Vocabulary> Serialize for Word<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de, V: Vocabulary> Deserialize<'de> for Word<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WordVisitor<V>(PhantomData<V>);

        impl<V: Vocabulary> Visitor<'_> for WordVisitor<V> {
            type Value = Word<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "one of the strings {:?}", V::WORDS)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Word<V>, E> {
                Word::parse(s).ok_or_else(|| E::unknown_variant(s, V::WORDS))
            }
        }

        deserializer.deserialize_str(WordVisitor(PhantomData))
    }
}

/// Declares a vocabulary enum: each member with its specification's word and optionally an
/// alternate word (`Complete = "complete" | "completed"`). The enum reads either word and writes
/// the specification's; wrap it in [`Word`] to keep the spelling read.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $spec:literal $(| $alt:literal)?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $crate::model::Vocabulary for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            const WORDS: &'static [&'static str] = &[$($spec, $($alt,)?)+];

            fn spec_word(self) -> &'static str {
                match self {
                    $(Self::$variant => $spec,)+
                }
            }

            fn alternate_word(self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => $crate::model::word::vocabulary!(@alt $($alt)?),)+
                }
            }
        }

        impl $name {
            /// The specification's word for this member.
            pub fn as_str(self) -> &'static str {
                <Self as $crate::model::Vocabulary>::spec_word(self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Error;

            /// Reads either spelling; an unknown word is [`crate::ErrorKind::InvalidValue`].
            fn from_str(s: &str) -> $crate::Result<Self> {
                <Self as $crate::model::Vocabulary>::parse_word(s)
                    .map(|(member, _)| member)
                    .ok_or_else(|| {
                        $crate::Error::new($crate::ErrorKind::InvalidValue(format!(
                            "unknown word {s:?}, expected one of {:?}",
                            <Self as $crate::model::Vocabulary>::WORDS
                        )))
                    })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                $crate::model::Word::<Self>::deserialize(deserializer).map($crate::model::Word::value)
            }
        }
    };
    (@alt) => {
        None
    };
    (@alt $alt:literal) => {
        Some($alt)
    };
}

pub(crate) use vocabulary;
