//! A request's parameters: the JSON body of a TC3 POST, or a form (a GET's query, a v1 POST's
//! body). A form's names flatten the JSON the same request would carry as a body
//! (`Filters.0.Values.1=x` for `{"Filters": [{"Values": [_, "x"]}]}`) and its values are all
//! text; [`Params::read`] reads either into the action's request type, a form's values each
//! as the type its member asks for (see [`MEMBER_READINGS`]): `InstanceCount=3` is the number
//! 3, `ImageName=12345` the text "12345", `DryRun=True` (Python) and `DryRun=true` (Node.js)
//! the boolean. A form and the JSON body of the same request read alike.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde_json::Value;

use crate::error::{Code, Error, Result};
use crate::model::api::MEMBER_READINGS;

/// How deep a form's names may nest (the CVM API's members nest four deep at most).
const MAX_DEPTH: usize = 10;

/// A request's parameters, as sent.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Params {
    /// The JSON object of a POST body.
    Json(Value),
    /// Form parameters.
    Form(Form),
}

impl Params {
    /// The parameters as an action's request type (the message says why they do not read).
    pub(super) fn read<A: DeserializeOwned>(&self) -> std::result::Result<A, String> {
        match self {
            Params::Json(json) => A::deserialize(json).map_err(|e| e.to_string()),
            Params::Form(form) => A::deserialize(NodeReader(&form.root)).map_err(|e| e.0),
        }
    }
}

/// The `Name=value` pairs of a form (percent-encoded, `+` for a space), decoded.
pub(super) fn decode(encoded: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded).into_owned().collect()
}

/// Form parameters, their names split at each `.`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Form {
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A value.
    Text(String),
    /// Members by name; a list when every name is an index (`0`, `1`, ...).
    Members(BTreeMap<String, Node>),
}

fn malformed(message: String) -> Error {
    Error::new(Code::InvalidParameter, message)
}

impl Form {
    /// The form of `pairs`. A name given twice, both as a value and with members
    /// (`A=1&A.B=2`), with an empty part, or nested too deep is refused.
    pub(super) fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Form> {
        let mut root = BTreeMap::new();
        for (name, value) in pairs {
            let parts: Vec<&str> = name.split('.').collect();
            if parts.iter().any(|part| part.is_empty()) {
                return Err(malformed(format!(
                    "the parameter name `{name}` is malformed"
                )));
            }
            if parts.len() > MAX_DEPTH {
                return Err(malformed(format!(
                    "the parameter `{name}` nests more than {MAX_DEPTH} deep"
                )));
            }
            insert(&mut root, &parts, name, value)?;
        }
        Ok(Form {
            root: Node::Members(root),
        })
    }
}

/// Puts `value` at `path` (not empty) under `members`.
fn insert(
    members: &mut BTreeMap<String, Node>,
    path: &[&str],
    name: &str,
    value: &str,
) -> Result<()> {
    let conflict = || {
        malformed(format!(
            "the parameter `{name}` is given twice, or both as a value and with members"
        ))
    };
    match path {
        [] => Err(conflict()),
        [last] => {
            if members.contains_key(*last) {
                return Err(conflict());
            }
            members.insert(last.to_string(), Node::Text(value.to_string()));
            Ok(())
        }
        [first, rest @ ..] => {
            let child = members
                .entry(first.to_string())
                .or_insert_with(|| Node::Members(BTreeMap::new()));
            match child {
                Node::Members(inner) => insert(inner, rest, name, value),
                Node::Text(_) => Err(conflict()),
            }
        }
    }
}

/// Why a form does not read as the type asked for.
#[derive(Debug)]
struct ReadError(String);

impl Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl de::Error for ReadError {
    fn custom<T: Display>(message: T) -> ReadError {
        ReadError(message.to_string())
    }
}

/// The items of a list node in index order; `None` if the node is not a list.
fn list_items(members: &BTreeMap<String, Node>) -> Option<Vec<&Node>> {
    if members.is_empty() {
        return None;
    }
    let mut indexed = Vec::with_capacity(members.len());
    for (name, node) in members {
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        indexed.push((name.parse::<u64>().ok()?, node));
    }
    // Items are kept in index order; a missing index leaves no gap.
    indexed.sort_by_key(|(index, _)| *index);
    Some(indexed.into_iter().map(|(_, node)| node).collect())
}

/// Reads a node as whatever the type asks for.
#[derive(Clone, Copy)]
struct NodeReader<'de>(&'de Node);

impl<'de> NodeReader<'de> {
    fn text(self) -> std::result::Result<&'de str, ReadError> {
        match self.0 {
            Node::Text(text) => Ok(text),
            Node::Members(_) => Err(ReadError("expected a value, found members".into())),
        }
    }

    fn parsed<T: std::str::FromStr>(self, what: &str) -> std::result::Result<T, ReadError> {
        let text = self.text()?;
        text.parse()
            .map_err(|_| ReadError(format!("`{text}` is not {what}")))
    }
}

/// The integer deserializers: each parses the text as its type.
macro_rules! integers {
    ($($method:ident $visit:ident $type:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, ReadError> {
            visitor.$visit(self.parsed::<$type>("an integer")?)
        }
    )*};
}

impl<'de> Deserializer<'de> for NodeReader<'de> {
    type Error = ReadError;

    fn deserialize_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        match self.0 {
            Node::Text(text) => visitor.visit_borrowed_str(text),
            Node::Members(members) => match list_items(members) {
                Some(items) => visitor.visit_seq(Items(items.into_iter())),
                None => visitor.visit_map(Entries {
                    entries: members.iter(),
                    value: None,
                }),
            },
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        let text = self.text()?;
        if text.eq_ignore_ascii_case("true") {
            visitor.visit_bool(true)
        } else if text.eq_ignore_ascii_case("false") {
            visitor.visit_bool(false)
        } else {
            Err(ReadError(format!("`{text}` is not true or false")))
        }
    }

    integers! {
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        let number: f64 = self.parsed("a number")?;
        if !number.is_finite() {
            return Err(ReadError("a number must be finite".into()));
        }
        visitor.visit_f64(number)
    }

    fn deserialize_char<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        visitor.visit_borrowed_str(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_str(visitor)
    }

    /// A member that is in the form is there: absent members are not in it.
    fn deserialize_option<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        match self.text()? {
            "" => visitor.visit_unit(),
            text => Err(ReadError(format!("`{text}` is not empty"))),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        if name == MEMBER_READINGS {
            visitor.visit_seq(Readings {
                node: self.0,
                next: 0,
            })
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        match self.0 {
            Node::Members(members) => match list_items(members) {
                Some(items) => visitor.visit_seq(Items(items.into_iter())),
                None => Err(ReadError(
                    "expected a list (`Name.0`, `Name.1`, ...)".into(),
                )),
            },
            Node::Text(text) => Err(ReadError(format!(
                "expected a list (`Name.0`, `Name.1`, ...), found `{text}`"
            ))),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        match self.0 {
            Node::Members(members) => visitor.visit_map(Entries {
                entries: members.iter(),
                value: None,
            }),
            Node::Text(text) => Err(ReadError(format!(
                "expected members (`Name.Member`), found `{text}`"
            ))),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_map(visitor)
    }

    /// Only unit variants, named by the text.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        visitor.visit_enum(BorrowedStrDeserializer::new(self.text()?))
    }

    fn deserialize_identifier<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        visitor.visit_unit()
    }
}

/// A list's items.
struct Items<'de>(std::vec::IntoIter<&'de Node>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = ReadError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, ReadError> {
        self.0
            .next()
            .map(|node| seed.deserialize(NodeReader(node)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// Members, by name.
struct Entries<'de> {
    entries: std::collections::btree_map::Iter<'de, String, Node>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = ReadError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, ReadError> {
        match self.entries.next() {
            Some((name, node)) => {
                self.value = Some(node);
                seed.deserialize(BorrowedStrDeserializer::new(name))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, ReadError> {
        match self.value.take() {
            Some(node) => seed.deserialize(NodeReader(node)),
            None => Err(ReadError("a member's value was asked for twice".into())),
        }
    }
}

/// A member's two readings (see [`MEMBER_READINGS`]): as the type asks, then as sent, where an
/// empty value is a member not sent (the Node.js SDK sends `Name=` for a member it has no value
/// for) unless text was asked for.
struct Readings<'de> {
    node: &'de Node,
    next: u8,
}

impl<'de> SeqAccess<'de> for Readings<'de> {
    type Error = ReadError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, ReadError> {
        self.next = self.next.saturating_add(1);
        match self.next {
            1 => seed.deserialize(NodeReader(self.node)).map(Some),
            2 => match self.node {
                Node::Text(text) if text.is_empty() => {
                    seed.deserialize(().into_deserializer()).map(Some)
                }
                node => seed.deserialize(NodeReader(node)).map(Some),
            },
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::api::{
        DescribeImagesRequest, Filter, ImportImageRequest, Lenient, ModifyImageAttributeRequest,
        RunInstancesRequest, SyncImagesRequest,
    };
    use serde_json::json;

    fn form(query: &str) -> Params {
        let pairs = decode(query.as_bytes());
        Params::Form(Form::new(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap())
    }

    /// The JSON body a form stands for, as the action's request type reads it.
    fn as_json<A: DeserializeOwned + serde::Serialize>(query: &str) -> Value {
        serde_json::to_value(form(query).read::<A>().unwrap()).unwrap()
    }

    #[test]
    fn a_form_reads_as_the_json_body_of_the_same_request() {
        // As the Python SDK sends a GET: booleans as True/False, a space as `+`.
        let query = "Filters.0.Name=image-type&Filters.0.Values.0=PUBLIC_IMAGE&Filters.0.Values.1=a+b%26c%3Dd%2F%C3%A9%27~&Limit=10";
        let body = json!({"Filters": [{"Name": "image-type", "Values": ["PUBLIC_IMAGE", "a b&c=d/é'~"]}], "Limit": 10});
        assert_eq!(as_json::<DescribeImagesRequest>(query), body);
        assert_eq!(
            form(query).read::<DescribeImagesRequest>().unwrap(),
            Params::Json(body).read::<DescribeImagesRequest>().unwrap()
        );
        assert_eq!(
            as_json::<RunInstancesRequest>(
                "ImageId=img-9qabwvbn&InstanceCount=3&Placement.Zone=ap-guangzhou-3"
            ),
            json!({"ImageId": "img-9qabwvbn", "InstanceCount": 3, "Placement": {"Zone": "ap-guangzhou-3"}})
        );
        // Node.js sends booleans as true/false.
        assert_eq!(
            as_json::<SyncImagesRequest>(
                "ImageIds.0=img-1&DestinationRegions.0=ap-shanghai&DestinationRegions.1=ap-beijing&ImageSetRequired=True"
            ),
            json!({"ImageIds": ["img-1"], "DestinationRegions": ["ap-shanghai", "ap-beijing"], "ImageSetRequired": true})
        );
        assert_eq!(
            as_json::<ImportImageRequest>("DryRun=false&Force=TRUE"),
            json!({"DryRun": false, "Force": true})
        );
    }

    #[test]
    fn text_members_stay_text() {
        assert_eq!(
            as_json::<ModifyImageAttributeRequest>(
                "ImageId=img-1&ImageName=12345&ImageDescription=true"
            ),
            json!({"ImageId": "img-1", "ImageName": "12345", "ImageDescription": "true"})
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_kept_as_sent() {
        let run: RunInstancesRequest = form("InstanceCount=three&Placement=ap-guangzhou-3")
            .read()
            .unwrap();
        assert_eq!(run.instance_count, Lenient::Invalid(json!("three")));
        assert_eq!(run.placement, Lenient::Invalid(json!("ap-guangzhou-3")));
        let images: DescribeImagesRequest =
            form("ImageIds=img-1&Limit=-1&Filters.0.Name=a&Filters.x=1")
                .read()
                .unwrap();
        assert_eq!(images.image_ids, Lenient::Invalid(json!("img-1")));
        assert_eq!(images.limit, Lenient::Invalid(json!("-1")));
        assert_eq!(
            images.filters,
            Lenient::Invalid(json!({"0": {"Name": "a"}, "x": "1"}))
        );
        // An empty value is a member not sent, unless it is text.
        let run: RunInstancesRequest = form("InstanceCount=&InstanceName=").read().unwrap();
        assert_eq!(run.instance_count, Lenient::Absent);
        assert_eq!(run.instance_name, Lenient::Valid(String::new()));
    }

    #[test]
    fn lists_are_read_in_index_order() {
        let images: DescribeImagesRequest = form("ImageIds.10=c&ImageIds.2=b&ImageIds.0=a")
            .read()
            .unwrap();
        assert_eq!(
            images.image_ids,
            Lenient::Valid(vec!["a".into(), "b".into(), "c".into()])
        );
        let filtered: DescribeImagesRequest =
            form("Filters.1.Name=b&Filters.0.Name=a&Filters.0.Values.0=x")
                .read()
                .unwrap();
        let filters = filtered.filters.valid().unwrap();
        assert_eq!(
            filters[0],
            Lenient::Valid(Filter::new("a", vec!["x".into()]))
        );
        assert_eq!(
            filters[1].valid().unwrap().name,
            Lenient::Valid("b".to_string())
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        for query in [
            "A=1&A=2",
            "A=1&A.B=2",
            "A.B=2&A=1",
            "A..B=1",
            ".A=1",
            "A.=1",
            "=1",
            "a.a.a.a.a.a.a.a.a.a.a=1",
        ] {
            let pairs = decode(query.as_bytes());
            let refused = Form::new(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            assert_eq!(
                refused.unwrap_err().code(),
                Code::InvalidParameter,
                "{query}"
            );
        }
        assert!(Form::new([("a.a.a.a.a.a.a.a.a.a", "1")]).is_ok());
    }

    #[test]
    fn an_empty_form_reads_as_an_empty_request() {
        assert_eq!(as_json::<DescribeImagesRequest>(""), json!({}));
        assert_eq!(
            form("")
                .read::<crate::model::api::DescribeRegionsRequest>()
                .unwrap(),
            crate::model::api::DescribeRegionsRequest {}
        );
    }
}
