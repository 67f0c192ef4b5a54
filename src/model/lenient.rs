//! Reading the API's JSON leniently, as imagefs always has: a request member of the wrong
//! type is kept as sent for the server to ignore or refuse in its own words (lenient until
//! typed requests land), and an answer's member of the wrong type reads as a missing one.
//! A request sent as a form (all text) is read the same way, each value as the type its
//! member asks for (see [`MEMBER_READINGS`]).

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// A member as sent: absent (or `null`), of the API's type, or of another type. Lenient until
/// typed requests land: today the server ignores some members of the wrong type and refuses
/// others with its own error, in its own order, so a request is read whole and each handler
/// decides.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Lenient<T> {
    /// Not sent, or sent as `null`.
    #[default]
    Absent,
    /// Sent with the API's type.
    Valid(T),
    /// Sent with another type: the JSON as it came.
    Invalid(Value),
}

impl<T> Lenient<T> {
    /// For `skip_serializing_if`: an absent member is not sent.
    pub fn is_absent(&self) -> bool {
        matches!(self, Lenient::Absent)
    }

    /// A member to send: absent when there is no value.
    pub fn optional(value: Option<T>) -> Lenient<T> {
        value.map_or(Lenient::Absent, Lenient::Valid)
    }

    /// The value, if the member was sent with the API's type.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Lenient::Valid(v) => Some(v),
            _ => None,
        }
    }

    /// The value, or the JSON as it came (`null` when absent).
    pub fn into_result(self) -> std::result::Result<T, Value> {
        match self {
            Lenient::Valid(v) => Ok(v),
            Lenient::Absent => Err(Value::Null),
            Lenient::Invalid(raw) => Err(raw),
        }
    }

    /// Reads a member of a JSON object (for types that take only objects).
    pub fn take(map: &mut Map<String, Value>, name: &str) -> Lenient<T>
    where
        T: DeserializeOwned,
    {
        Lenient::from_value(map.remove(name).unwrap_or(Value::Null))
    }

    /// Reads a member from its JSON.
    pub fn from_value(value: Value) -> Lenient<T>
    where
        T: DeserializeOwned,
    {
        if value.is_null() {
            return Lenient::Absent;
        }
        match T::deserialize(&value) {
            Ok(v) => Lenient::Valid(v),
            Err(_) => Lenient::Invalid(value),
        }
    }
}

impl<T> From<T> for Lenient<T> {
    fn from(value: T) -> Lenient<T> {
        Lenient::Valid(value)
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Absent => serializer.serialize_none(),
            Lenient::Valid(v) => v.serialize(serializer),
            Lenient::Invalid(raw) => raw.serialize(serializer),
        }
    }
}

/// The name under which a [`Lenient`] member asks its deserializer for itself. JSON answers as
/// for any newtype, and the member is read from its JSON. A format whose values are all text
/// (a form's `Name=value` pairs: `crate::serve::form`) cannot say from the text alone what a
/// value is (`3` may be a number or a name): it answers with a sequence of two readings, the
/// member read as the type the member asks for, then the member as sent (`null` when it can be
/// taken as not sent).
pub const MEMBER_READINGS: &str = "$imagefs::Lenient";

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(MEMBER_READINGS, MemberVisitor(PhantomData))
    }
}

struct MemberVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for MemberVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a request member")
    }

    /// JSON: the member is read from its JSON.
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        member: D,
    ) -> Result<Self::Value, D::Error> {
        Ok(Lenient::from_value(Value::deserialize(member)?))
    }

    /// Text: the member's two readings (see [`MEMBER_READINGS`]).
    fn visit_seq<A: SeqAccess<'de>>(self, mut readings: A) -> Result<Self::Value, A::Error> {
        let typed = readings
            .next_element_seed(Attempt::<T>(PhantomData))?
            .flatten();
        let sent: Value = readings.next_element()?.unwrap_or(Value::Null);
        Ok(match typed {
            Some(value) => Lenient::Valid(value),
            None if sent.is_null() => Lenient::Absent,
            None => Lenient::Invalid(sent),
        })
    }
}

/// Reads a `T` if it can: a reading that fails is `None`, not an error.
struct Attempt<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Attempt<T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        Ok(T::deserialize(deserializer).ok())
    }
}

/// An answer's member of the wrong type reads as missing (its default).
pub(crate) fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(&value).unwrap_or_default())
}

/// An answer's list that it must have: `None` when it is missing or not a list; items that
/// cannot be read are left out.
pub(crate) fn some_items<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(list) => Some(
            list.iter()
                .filter_map(|item| T::deserialize(item).ok())
                .collect(),
        ),
        _ => None,
    })
}

/// An answer's list of objects: what is not a list reads as an empty one, and items that are
/// not JSON objects or cannot be read are left out (serde would read a struct from an array,
/// member by member).
pub(crate) fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(list) => list
            .iter()
            .filter(|item| item.is_object())
            .filter_map(|item| T::deserialize(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_absent_valid_or_kept_as_sent() {
        assert_eq!(Lenient::<String>::from_value(Value::Null), Lenient::Absent);
        assert_eq!(
            Lenient::<String>::from_value(json!("x")),
            Lenient::Valid("x".to_string())
        );
        assert_eq!(
            Lenient::<String>::from_value(json!(5)),
            Lenient::Invalid(json!(5))
        );
        // Numbers read as serde_json's as_u64 / as_i64 / as_bool do.
        assert_eq!(
            Lenient::<u64>::from_value(json!(-1)),
            Lenient::Invalid(json!(-1))
        );
        assert_eq!(
            Lenient::<u64>::from_value(json!(2.0)),
            Lenient::Invalid(json!(2.0))
        );
        assert_eq!(Lenient::<i64>::from_value(json!(-1)), Lenient::Valid(-1));
        assert_eq!(
            Lenient::<bool>::from_value(json!("true")),
            Lenient::Invalid(json!("true"))
        );
        assert_eq!(
            Lenient::<Vec<String>>::from_value(json!(["a", 1])),
            Lenient::Invalid(json!(["a", 1]))
        );
    }

    #[test]
    fn members_serialize_as_their_value() {
        #[derive(Serialize)]
        struct Request {
            #[serde(skip_serializing_if = "Lenient::is_absent")]
            a: Lenient<u64>,
            #[serde(skip_serializing_if = "Lenient::is_absent")]
            b: Lenient<u64>,
        }
        let sent = serde_json::to_value(Request {
            a: 5.into(),
            b: Lenient::Absent,
        })
        .unwrap();
        assert_eq!(sent, json!({"a": 5}));
    }

    #[test]
    fn answers_read_leniently() {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default, deserialize_with = "or_default")]
            count: u64,
            #[serde(default, deserialize_with = "some_items")]
            ids: Option<Vec<u64>>,
            #[serde(default, deserialize_with = "objects")]
            tags: Vec<Map<String, Value>>,
        }
        let a: Answer = serde_json::from_value(json!({
            "count": "many", "ids": 7, "tags": [{"k": 1}, [1], 3]
        }))
        .unwrap();
        assert_eq!(a.count, 0);
        assert_eq!(a.ids, None);
        assert_eq!(a.tags.len(), 1);
        let b: Answer = serde_json::from_value(json!({"ids": [1, "x", 2]})).unwrap();
        assert_eq!(b.ids, Some(vec![1, 2]));
        assert!(b.tags.is_empty());
    }
}
