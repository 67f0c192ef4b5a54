//! Reading the API's answers leniently, as imagefs always has: an answer's member of the wrong
//! type reads as a missing one, and an item of a list that cannot be read is left out or kept
//! as sent (where paging must count it). Requests are read strictly: see `api::read`.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// An item of an answer's list: read as the API's type, or kept as sent when it cannot be
/// (paging still counts it; the reader says why it is not shown).
#[derive(Debug, Clone, PartialEq)]
pub enum Lenient<T> {
    /// Read as the API's type.
    Valid(T),
    /// Of another shape: the JSON as it came.
    Invalid(Value),
}

impl<T> Lenient<T> {
    /// The item, if it read as the API's type.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Lenient::Valid(v) => Some(v),
            Lenient::Invalid(_) => None,
        }
    }

    /// The item, or the JSON as it came.
    pub fn into_result(self) -> std::result::Result<T, Value> {
        match self {
            Lenient::Valid(v) => Ok(v),
            Lenient::Invalid(raw) => Err(raw),
        }
    }

    /// Reads an item from its JSON.
    pub fn from_value(value: Value) -> Lenient<T>
    where
        T: DeserializeOwned,
    {
        match T::deserialize(&value) {
            Ok(v) => Lenient::Valid(v),
            Err(_) => Lenient::Invalid(value),
        }
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Valid(v) => v.serialize(serializer),
            Lenient::Invalid(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Lenient::from_value(Value::deserialize(deserializer)?))
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
    use serde_json::{json, Map};

    #[test]
    fn items_are_read_or_kept_as_sent() {
        assert_eq!(
            Lenient::<String>::from_value(json!("x")),
            Lenient::Valid("x".to_string())
        );
        assert_eq!(
            Lenient::<String>::from_value(json!(5)),
            Lenient::Invalid(json!(5))
        );
        assert_eq!(
            serde_json::to_value(Lenient::<u64>::Invalid(json!("7"))).unwrap(),
            json!("7")
        );
        assert_eq!(
            serde_json::to_value(Lenient::Valid(7u64)).unwrap(),
            json!(7)
        );
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
