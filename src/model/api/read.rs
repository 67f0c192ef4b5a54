//! Reading a request strictly, as the cloud does: every member is of its type in the API
//! reference, a member the action does not have is refused with `UnknownParameter`, one of
//! another type with `InvalidParameter`, a required one that is missing with
//! `MissingParameter`, each naming the member as the API spells it (`Placement.Zone`,
//! `Filters.1.Values`); `null` is a member not sent. The messages follow the cloud's own
//! ("The parameter `Bogus` is not recognized.", "The value type of parameter `Limit` is not
//! valid.", "The request is missing a required parameter `ImageId`.").
//!
//! A JSON request (an API body, or a filesystem control file's JSON command) is read by
//! [`read_json`]; `imagefs serve` reads a form (all text) with its own reader into the same
//! types, with the same [`ReadError`]s and [`refusal`]s. Either way a request that reads is
//! then checked for members imagefs cannot honour ([`Request::unsupported`]).

use std::fmt::{self, Display};

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, Expected, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::error::{Code, Error, Result};

/// A request type, read strictly.
pub trait Request: DeserializeOwned {
    /// The first member given that asks for something imagefs does not emulate (by its name in
    /// the API: `LaunchTemplate`, `DataDisks.0.Encrypt`), or `None`. Such a member is refused
    /// with `UnsupportedOperation` rather than ignored: a rehearsal must not pass where the
    /// cloud would do something else.
    fn unsupported(&self) -> Option<String> {
        None
    }
}

/// Why a request does not read as its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// A member the type does not have, as sent.
    Unknown(String),
    /// A required member that was not sent (or sent as `null`).
    Missing(String),
    /// A value that is not of the member's type.
    Type { expected: String, found: String },
    /// A form's empty value where a number, boolean, list or object is asked for: the member
    /// counts as not sent (the Node.js SDK sends `Name=` for a member it has no value for).
    Empty,
    /// Anything else the reading reports.
    Other(String),
}

impl Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Unknown(name) => write!(f, "unknown member `{name}`"),
            ReadError::Missing(name) => write!(f, "missing member `{name}`"),
            ReadError::Type { expected, found } => write!(f, "expected {expected}, got {found}"),
            ReadError::Empty => f.write_str("an empty value"),
            ReadError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ReadError {}

impl de::Error for ReadError {
    fn custom<T: Display>(message: T) -> Self {
        ReadError::Other(message.to_string())
    }

    fn invalid_type(found: Unexpected<'_>, expected: &dyn Expected) -> Self {
        ReadError::Type {
            expected: plain_expected(&expected.to_string()),
            found: plain_found(&found),
        }
    }

    fn invalid_value(found: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::invalid_type(found, expected)
    }

    fn invalid_length(len: usize, expected: &dyn Expected) -> Self {
        ReadError::Type {
            expected: plain_expected(&expected.to_string()),
            found: format!("{len} items"),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        ReadError::Type {
            expected: format!("one of {}", expected.join(", ")),
            found: format!("{variant:?}"),
        }
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        ReadError::Unknown(field.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        ReadError::Missing(field.to_string())
    }

    fn duplicate_field(field: &'static str) -> Self {
        ReadError::Other(format!("`{field}` is given twice"))
    }
}

/// What serde's visitors expect, in the API's words (`i64` is an integer, a sequence a list,
/// `struct Placement` an object).
fn plain_expected(expected: &str) -> String {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match expected {
        e if e.strip_prefix('i').is_some_and(digits) => "an integer".to_string(),
        e if e.strip_prefix('u').is_some_and(digits) => "a non-negative integer".to_string(),
        e if e.strip_prefix('f').is_some_and(digits) => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        e if e.starts_with("struct ") || e == "a map" => "an object".to_string(),
        other => other.to_string(),
    }
}

/// What came instead, as JSON would show it.
fn plain_found(found: &Unexpected<'_>) -> String {
    match found {
        Unexpected::Bool(b) => b.to_string(),
        Unexpected::Unsigned(n) => n.to_string(),
        Unexpected::Signed(n) => n.to_string(),
        Unexpected::Float(n) => n.to_string(),
        Unexpected::Char(c) => format!("{:?}", c.to_string()),
        Unexpected::Str(s) => format!("{s:?}"),
        Unexpected::Unit | Unexpected::Option => "null".to_string(),
        Unexpected::Seq => "a list".to_string(),
        Unexpected::Map => "an object".to_string(),
        other => other.to_string(),
    }
}

/// A member's name in the API's notation: `Placement.Zone`, `Filters.1.Values`.
pub fn member_name<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// The refusal of a request that does not read: `path` names where the reading stopped.
pub fn refusal(path: &str, error: ReadError) -> Error {
    let within = |member: &str| {
        // An unknown member's path already ends with it; a missing one's ends at its object.
        if path == member || path.ends_with(&format!(".{member}")) {
            path.to_string()
        } else {
            member_name([path, member])
        }
    };
    match error {
        ReadError::Unknown(member) => Error::new(
            Code::UnknownParameter,
            format!("The parameter `{}` is not recognized.", within(&member)),
        ),
        ReadError::Missing(member) => Error::new(
            Code::MissingParameter,
            format!(
                "The request is missing a required parameter `{}`.",
                within(&member)
            ),
        ),
        ReadError::Type { expected, found } if path.is_empty() => Error::new(
            Code::InvalidParameter,
            format!("The request is not valid: expected {expected}, got {found}."),
        ),
        ReadError::Type { expected, found } => Error::new(
            Code::InvalidParameter,
            format!(
                "The value type of parameter `{path}` is not valid: expected {expected}, got {found}."
            ),
        ),
        ReadError::Empty => Error::new(
            Code::InvalidParameter,
            format!("The value of parameter `{path}` is empty."),
        ),
        ReadError::Other(message) => Error::new(
            Code::InvalidParameter,
            format!("The parameter `{path}` is not valid: {message}."),
        ),
    }
}

/// The request, unless it asks for something imagefs cannot honour.
pub fn supported<T: Request>(request: T) -> Result<T> {
    match request.unsupported() {
        None => Ok(request),
        Some(member) => Err(Error::new(
            Code::UnsupportedOperation,
            format!(
                "The parameter `{member}` asks for something imagefs does not emulate; leave it out."
            ),
        )),
    }
}

/// Reads a JSON request (an object) strictly, then checks it asks for nothing imagefs cannot
/// honour.
pub fn read_json<T: Request>(json: &Value) -> Result<T> {
    let request = serde_path_to_error::deserialize(JsonReader(json)).map_err(|e| {
        let path = path_name(e.path());
        refusal(&path, e.into_inner())
    })?;
    supported(request)
}

/// A JSON path as the API names it: members by name, list items by their index.
pub(crate) fn path_name(path: &serde_path_to_error::Path) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|segment| match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => "?".to_string(),
        })
        .collect();
    member_name(parts.iter().map(String::as_str))
}

/// Reads a JSON value as whatever the type asks for, refusing what JSON would let serde take
/// by accident: an object is read only from a JSON object (serde reads a struct from a list,
/// member by member), and a member sent as `null` is a member not sent.
#[derive(Clone, Copy)]
pub(crate) struct JsonReader<'de>(pub &'de Value);

impl<'de> JsonReader<'de> {
    fn unexpected(self) -> Unexpected<'de> {
        match self.0 {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Unexpected::Unsigned(u),
                (None, Some(i)) => Unexpected::Signed(i),
                (None, None) => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Unexpected::Str(s),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }
}

impl<'de> Deserializer<'de> for JsonReader<'de> {
    type Error = ReadError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                (None, None) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(JsonItems(items.iter())),
            Value::Object(members) => visitor.visit_map(JsonMembers {
                members: members.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(JsonItems(items.iter())),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Object(members) => visitor.visit_map(JsonMembers {
                members: members.iter(),
                value: None,
            }),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        visitor.visit_newtype_struct(self)
    }

    /// Only unit variants, named by a string.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct identifier
    }
}

/// A JSON list's items.
struct JsonItems<'de>(std::slice::Iter<'de, Value>);

impl<'de> SeqAccess<'de> for JsonItems<'de> {
    type Error = ReadError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ReadError> {
        self.0
            .next()
            .map(|item| seed.deserialize(JsonReader(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// A JSON object's members, those sent as `null` left out.
struct JsonMembers<'de> {
    members: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for JsonMembers<'de> {
    type Error = ReadError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ReadError> {
        for (name, value) in self.members.by_ref() {
            if value.is_null() {
                continue;
            }
            self.value = Some(value);
            return seed
                .deserialize(BorrowedStrDeserializer::new(name))
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ReadError> {
        match self.value.take() {
            Some(value) => seed.deserialize(JsonReader(value)),
            None => Err(ReadError::Other(
                "a member's value was asked for twice".into(),
            )),
        }
    }
}

/// Whether a member asks for something: sent, and not empty or `false`. (`Encrypt: false`
/// and `KmsKeyId: ""` ask for nothing; the Node.js SDK sends `KmsKeyId=` for a member it has
/// no value for.)
pub(crate) trait Given {
    fn given(&self) -> bool;
}

impl Given for bool {
    fn given(&self) -> bool {
        *self
    }
}

impl Given for String {
    fn given(&self) -> bool {
        !self.is_empty()
    }
}

impl Given for i64 {
    fn given(&self) -> bool {
        true
    }
}

impl Given for u64 {
    fn given(&self) -> bool {
        true
    }
}

impl<T> Given for Vec<T> {
    fn given(&self) -> bool {
        !self.is_empty()
    }
}

impl<T: Given> Given for Option<T> {
    fn given(&self) -> bool {
        self.as_ref().is_some_and(Given::given)
    }
}

/// The name of the first member in `members` that is given.
pub(crate) fn first_given(members: &[(&str, bool)]) -> Option<String> {
    members
        .iter()
        .find(|(_, given)| *given)
        .map(|(name, _)| name.to_string())
}

/// The first unsupported member of the items of a list member, named with its index
/// (`DataDisks.1.Encrypt`).
pub(crate) fn first_in_list<T>(
    list: &Option<Vec<T>>,
    name: &str,
    unsupported: impl Fn(&T) -> Option<String>,
) -> Option<String> {
    list.iter().flatten().enumerate().find_map(|(i, item)| {
        unsupported(item).map(|member| member_name([name, &i.to_string(), &member]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Inner {
        zone: String,
        project_id: Option<i64>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Sample {
        name: String,
        count: Option<i64>,
        limit: Option<u64>,
        dry_run: Option<bool>,
        ids: Option<Vec<String>>,
        inner: Option<Inner>,
        items: Option<Vec<Inner>>,
    }

    impl Request for Sample {
        fn unsupported(&self) -> Option<String> {
            first_given(&[("DryRun", self.dry_run.given())]).or_else(|| {
                first_in_list(&self.items, "Items", |item| {
                    first_given(&[("ProjectId", item.project_id.given())])
                })
            })
        }
    }

    fn refused(json: Value) -> (String, String) {
        let e = read_json::<Sample>(&json).unwrap_err();
        (e.code().to_string(), e.message().to_string())
    }

    fn code(code: Code) -> String {
        code.as_str().to_string()
    }

    #[test]
    fn members_are_read_as_their_types() {
        let sample: Sample = read_json(&json!({
            "Name": "x", "Count": -3, "Limit": 5, "Ids": ["a"], "Inner": {"Zone": "z", "ProjectId": null},
            "DryRun": false, "Items": null
        }))
        .unwrap();
        assert_eq!(sample.count, Some(-3));
        assert_eq!(sample.limit, Some(5));
        assert_eq!(sample.inner.unwrap().project_id, None);
        assert_eq!(sample.items, None);
    }

    #[test]
    fn refusals_name_the_member_and_use_the_clouds_codes() {
        assert_eq!(
            refused(json!({"Name": "x", "Bogus": 1})),
            (
                code(Code::UnknownParameter),
                "The parameter `Bogus` is not recognized.".into()
            )
        );
        assert_eq!(
            refused(json!({"Name": "x", "Inner": {"Zone": "z", "Rack": 1}})),
            (
                code(Code::UnknownParameter),
                "The parameter `Inner.Rack` is not recognized.".into()
            )
        );
        assert_eq!(
            refused(json!({"Count": 1})),
            (
                code(Code::MissingParameter),
                "The request is missing a required parameter `Name`.".into()
            )
        );
        // `null` is a member not sent, required or not.
        assert_eq!(refused(json!({"Name": null})).0, Code::MissingParameter);
        assert_eq!(
            refused(json!({"Name": "x", "Items": [{"Zone": "a"}, {"ProjectId": 1}]})).1,
            "The request is missing a required parameter `Items.1.Zone`."
        );
        assert_eq!(
            refused(json!({"Name": "x", "Count": "3"})),
            (
                code(Code::InvalidParameter),
                "The value type of parameter `Count` is not valid: expected an integer, got \"3\"."
                    .into()
            )
        );
        for (sent, expected) in [
            (json!({"Name": 12345}), "a string"),
            (json!({"Name": "x", "Limit": -1}), "a non-negative integer"),
            (json!({"Name": "x", "Count": 2.5}), "an integer"),
            (
                serde_json::from_str(r#"{"Name": "x", "Count": 99999999999999999999}"#).unwrap(),
                "an integer",
            ),
            (json!({"Name": "x", "DryRun": "true"}), "a boolean"),
            (json!({"Name": "x", "Ids": "a"}), "a list"),
            (json!({"Name": "x", "Ids": ["a", 1]}), "a string"),
            (json!({"Name": "x", "Inner": ["z"]}), "an object"),
        ] {
            let (code, message) = refused(sent.clone());
            assert_eq!(code, Code::InvalidParameter, "{sent}");
            assert!(message.contains(expected), "{sent}: {message}");
        }
        assert_eq!(
            refused(json!({"Name": "x", "Ids": ["a", null]})).1,
            "The value type of parameter `Ids.1` is not valid: expected a string, got null."
        );
        assert_eq!(
            refused(json!(["x"])).1,
            "The request is not valid: expected an object, got a list."
        );
    }

    #[test]
    fn members_imagefs_cannot_honour_are_refused_by_name() {
        assert!(read_json::<Sample>(&json!({"Name": "x", "DryRun": false})).is_ok());
        let e = read_json::<Sample>(&json!({"Name": "x", "DryRun": true})).unwrap_err();
        assert_eq!(e.code(), Code::UnsupportedOperation);
        assert!(e.message().contains("`DryRun`"), "{e}");
        let e = read_json::<Sample>(
            &json!({"Name": "x", "Items": [{"Zone": "a"}, {"Zone": "b", "ProjectId": 0}]}),
        )
        .unwrap_err();
        assert!(e.message().contains("`Items.1.ProjectId`"), "{e}");
    }

    #[test]
    fn names_are_dotted() {
        assert_eq!(
            member_name(["", "Filters", "1", "Values"]),
            "Filters.1.Values"
        );
        assert_eq!(plain_expected("u64"), "a non-negative integer");
        assert_eq!(plain_expected("struct Placement"), "an object");
    }
}
