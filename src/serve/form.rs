//! A request's parameters: the JSON body of a TC3 POST, or a form (a GET's query, a v1 POST's
//! body). A form's names flatten the JSON the same request would carry as a body
//! (`Filters.0.Values.1=x` for `{"Filters": [{"Values": [_, "x"]}]}`; a list's items are
//! taken in index order, from `.0` or `.1` as the docs show both) and its values are all
//! text; [`Params::read`] reads either strictly into the action's request type, a form's
//! values each as the type its member asks for: `InstanceCount=3` is the number 3,
//! `ImageName=12345` the text "12345", `DryRun=True` (Python) and `DryRun=true` (Node.js) the
//! boolean. A form and the JSON body of the same request read alike, and are refused alike
//! (`model::api::read`), the member named as the form named it.

use std::collections::BTreeMap;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::error::{Code, Error, Result};
use crate::model::api::read::{self, member_name, ReadError, Request};

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
    /// The parameters as an action's request type, or the refusal naming the member that
    /// does not read.
    pub(super) fn read<A: Request>(&self) -> Result<A> {
        match self {
            Params::Json(json) => read::read_json(json),
            Params::Form(form) => form.read(),
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
    pairs: Vec<(String, String)>,
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
        let mut kept = Vec::new();
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
            kept.push((name.to_string(), value.to_string()));
        }
        Ok(Form {
            pairs: kept,
            root: Node::Members(root),
        })
    }

    /// Reads the form as `A`. An empty value where a number, boolean, list or object is asked
    /// for is a member not sent: it is left out and the form read again (at most once per
    /// value, so this ends).
    fn read<A: Request>(&self) -> Result<A> {
        let mut form = self.clone();
        loop {
            let refused = match serde_path_to_error::deserialize(NodeReader(&form.root)) {
                Ok(request) => return read::supported(request),
                Err(refused) => refused,
            };
            let name = form.name_of(refused.path().iter());
            match refused.into_inner() {
                ReadError::Empty if form.pairs.iter().any(|(n, _)| *n == name) => {
                    form = form.without(&name)?;
                }
                error => return Err(read::refusal(&name, error)),
            }
        }
    }

    /// The form without the value named `name`.
    fn without(&self, name: &str) -> Result<Form> {
        Form::new(
            self.pairs
                .iter()
                .filter(|(n, _)| n != name)
                .map(|(n, v)| (n.as_str(), v.as_str())),
        )
    }

    /// The name a path through the form was sent under: a list's items are named by the
    /// indices the form gave them (`ImageIds.1` for the first of a list sent from `.1`).
    fn name_of<'a>(&self, path: impl Iterator<Item = &'a Segment>) -> String {
        let mut node = Some(&self.root);
        let mut parts: Vec<String> = Vec::new();
        for segment in path {
            let (part, next) = match (segment, node) {
                (Segment::Map { key }, Some(Node::Members(members))) => {
                    (key.clone(), members.get(key))
                }
                (Segment::Seq { index }, Some(Node::Members(members))) => {
                    match list_items(members).and_then(|items| items.into_iter().nth(*index)) {
                        Some((sent, item)) => (sent.to_string(), Some(item)),
                        None => (index.to_string(), None),
                    }
                }
                (Segment::Map { key }, _) => (key.clone(), None),
                (Segment::Seq { index }, _) => (index.to_string(), None),
                (Segment::Enum { variant }, _) => (variant.clone(), None),
                (Segment::Unknown, _) => ("?".to_string(), None),
            };
            parts.push(part);
            node = next;
        }
        member_name(parts.iter().map(String::as_str))
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

/// The items of a list node in index order, each with the index it was sent under; `None` if
/// the node is not a list.
fn list_items(members: &BTreeMap<String, Node>) -> Option<Vec<(&str, &Node)>> {
    if members.is_empty() {
        return None;
    }
    let mut indexed = Vec::with_capacity(members.len());
    for (name, node) in members {
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        indexed.push((name.parse::<u64>().ok()?, name.as_str(), node));
    }
    // Items are kept in index order; a missing index leaves no gap.
    indexed.sort_by_key(|(index, _, _)| *index);
    Some(
        indexed
            .into_iter()
            .map(|(_, name, node)| (name, node))
            .collect(),
    )
}

fn type_error(expected: &str, found: String) -> ReadError {
    ReadError::Type {
        expected: expected.to_string(),
        found,
    }
}

/// Reads a node as whatever the type asks for.
#[derive(Clone, Copy)]
struct NodeReader<'de>(&'de Node);

impl<'de> NodeReader<'de> {
    /// The node's text, where a value of `what` is asked for.
    fn text(self, what: &str) -> std::result::Result<&'de str, ReadError> {
        match self.0 {
            Node::Text(text) => Ok(text),
            Node::Members(_) => Err(type_error(what, "members (`Name.Member=...`)".into())),
        }
    }

    /// The node's text, not empty (an empty one is a member not sent).
    fn value(self, what: &str) -> std::result::Result<&'de str, ReadError> {
        match self.text(what)? {
            "" => Err(ReadError::Empty),
            text => Ok(text),
        }
    }

    fn parsed<T: std::str::FromStr>(self, what: &str) -> std::result::Result<T, ReadError> {
        let text = self.value(what)?;
        text.parse()
            .map_err(|_| type_error(what, format!("{text:?}")))
    }

    fn members(self, what: &str) -> std::result::Result<&'de BTreeMap<String, Node>, ReadError> {
        match self.0 {
            Node::Members(members) => Ok(members),
            Node::Text(text) if text.is_empty() => Err(ReadError::Empty),
            Node::Text(text) => Err(type_error(what, format!("{text:?}"))),
        }
    }
}

/// The integer deserializers: each parses the text as its type.
macro_rules! integers {
    ($($method:ident $visit:ident $type:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, ReadError> {
            visitor.$visit(self.parsed::<$type>($what)?)
        }
    )*};
}

const LIST: &str = "a list (`Name.0`, `Name.1`, ...)";
const OBJECT: &str = "an object (`Name.Member`)";

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
        let text = self.value("a boolean")?;
        if text.eq_ignore_ascii_case("true") {
            visitor.visit_bool(true)
        } else if text.eq_ignore_ascii_case("false") {
            visitor.visit_bool(false)
        } else {
            Err(type_error("a boolean", format!("{text:?}")))
        }
    }

    integers! {
        deserialize_i8 visit_i8 i8, "an integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_u8 visit_u8 u8, "a non-negative integer";
        deserialize_u16 visit_u16 u16, "a non-negative integer";
        deserialize_u32 visit_u32 u32, "a non-negative integer";
        deserialize_u64 visit_u64 u64, "a non-negative integer";
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
            return Err(type_error("a finite number", number.to_string()));
        }
        visitor.visit_f64(number)
    }

    fn deserialize_char<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        self.deserialize_str(visitor)
    }

    /// Text is taken as it came, empty included.
    fn deserialize_str<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        visitor.visit_borrowed_str(self.text("a string")?)
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
        match self.text("nothing")? {
            "" => visitor.visit_unit(),
            text => Err(type_error("nothing", format!("{text:?}"))),
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
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, ReadError> {
        match list_items(self.members(LIST)?) {
            Some(items) => visitor.visit_seq(Items(items.into_iter())),
            None => Err(type_error(LIST, "members that are not indices".into())),
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
        visitor.visit_map(Entries {
            entries: self.members(OBJECT)?.iter(),
            value: None,
        })
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
        visitor.visit_enum(BorrowedStrDeserializer::new(self.value("a name")?))
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
struct Items<'de>(std::vec::IntoIter<(&'de str, &'de Node)>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = ReadError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, ReadError> {
        self.0
            .next()
            .map(|(_, node)| seed.deserialize(NodeReader(node)))
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
            None => Err(de::Error::invalid_type(
                Unexpected::Other("a member read twice"),
                &"a member's value",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::api::{
        DescribeImagesRequest, DescribeRegionsRequest, Filter, ImportImageRequest,
        ModifyImageAttributeRequest, RunInstancesRequest, SyncImagesRequest,
    };
    use serde_json::json;

    fn form(query: &str) -> Params {
        let pairs = decode(query.as_bytes());
        Params::Form(Form::new(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap())
    }

    /// The JSON body a form stands for, as the action's request type reads it.
    fn as_json<A: Request + serde::Serialize>(query: &str) -> Value {
        serde_json::to_value(form(query).read::<A>().unwrap()).unwrap()
    }

    /// The code and message of a form's refusal.
    fn refused<A: Request + std::fmt::Debug>(query: &str) -> (String, String) {
        let e = form(query).read::<A>().unwrap_err();
        (e.code().to_string(), e.message().to_string())
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
                "ImageId=img-9qabwvbn&InstanceCount=3&Placement.Zone=ap-guangzhou-3&DataDisks.0.DiskSize=50&LoginSettings.KeyIds.0=skey-1"
            ),
            json!({"ImageId": "img-9qabwvbn", "InstanceCount": 3, "Placement": {"Zone": "ap-guangzhou-3"},
                   "DataDisks": [{"DiskSize": 50}], "LoginSettings": {"KeyIds": ["skey-1"]}})
        );
        // Node.js sends booleans as true/false.
        assert_eq!(
            as_json::<SyncImagesRequest>(
                "ImageIds.0=img-1&DestinationRegions.0=ap-shanghai&DestinationRegions.1=ap-beijing&ImageSetRequired=True"
            ),
            json!({"ImageIds": ["img-1"], "DestinationRegions": ["ap-shanghai", "ap-beijing"], "ImageSetRequired": true})
        );
        assert_eq!(
            as_json::<ImportImageRequest>(
                "DryRun=false&Force=TRUE&ImageName=n&ImageUrl=u&OsType=CentOS&OsVersion=7&Architecture=x86_64"
            ),
            json!({"DryRun": false, "Force": true, "ImageName": "n", "ImageUrl": "u", "OsType": "CentOS", "OsVersion": "7", "Architecture": "x86_64"})
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
    fn values_of_the_wrong_type_are_refused_by_name() {
        assert_eq!(
            refused::<RunInstancesRequest>("InstanceCount=three"),
            (
                Code::InvalidParameter.as_str().to_string(),
                "The value type of parameter `InstanceCount` is not valid: expected an integer, got \"three\".".into()
            )
        );
        let (code, message) = refused::<RunInstancesRequest>("Placement=ap-guangzhou-3");
        assert_eq!(code, Code::InvalidParameter);
        assert!(message.contains("`Placement`"), "{message}");
        assert_eq!(
            refused::<DescribeImagesRequest>("Limit=-1").0,
            Code::InvalidParameter
        );
        assert_eq!(
            refused::<DescribeImagesRequest>("ImageIds=img-1").0,
            Code::InvalidParameter
        );
        assert_eq!(
            refused::<SyncImagesRequest>(
                "ImageIds.0=img-1&DestinationRegions.0=ap-beijing&DryRun=yes"
            )
            .0,
            Code::InvalidParameter
        );
        // A list's items are named as the form named them.
        let (_, message) = refused::<DescribeImagesRequest>(
            "Filters.1.Name=a&Filters.1.Values.1=x&Filters.2.Name=b&Filters.2.Values.1.Deep=y",
        );
        assert!(message.contains("`Filters.2.Values.1`"), "{message}");
        let (_, message) = refused::<DescribeImagesRequest>("Filters.0.Name=a&Filters.x=1");
        assert!(message.contains("`Filters`"), "{message}");
        let (code, message) = refused::<DescribeImagesRequest>("Filters.3.Name=a");
        assert_eq!(code, Code::MissingParameter);
        assert!(message.contains("`Filters.3.Values`"), "{message}");
        assert_eq!(
            refused::<DescribeImagesRequest>("Bogus=1"),
            (
                Code::UnknownParameter.as_str().to_string(),
                "The parameter `Bogus` is not recognized.".to_string()
            )
        );
        assert_eq!(
            refused::<RunInstancesRequest>("Placement.Zone=z&Placement.Floor=2").1,
            "The parameter `Placement.Floor` is not recognized."
        );
        assert_eq!(
            refused::<DescribeRegionsRequest>("Limit=1").0,
            Code::UnknownParameter
        );
        let (code, message) =
            refused::<RunInstancesRequest>("LaunchTemplate.LaunchTemplateId=lt-1");
        assert_eq!(code, Code::UnsupportedOperation);
        assert!(message.contains("`LaunchTemplate`"), "{message}");
    }

    #[test]
    fn an_empty_value_is_a_member_not_sent_unless_it_is_text() {
        let run: RunInstancesRequest =
            form("InstanceCount=&InstanceName=&DryRun=&Placement=&DataDisks=")
                .read()
                .unwrap();
        assert_eq!(run.instance_count, None);
        assert_eq!(run.dry_run, None);
        assert_eq!(run.placement, None);
        assert_eq!(run.data_disks, None);
        assert_eq!(run.instance_name, Some(String::new()));
        // An empty KmsKeyId asks for no key.
        let sync: SyncImagesRequest =
            form("ImageIds.0=img-1&DestinationRegions.0=ap-beijing&KmsKeyId=&Encrypt=false")
                .read()
                .unwrap();
        assert_eq!(sync.kms_key_id, Some(String::new()));
        // A required list sent empty is missing.
        assert_eq!(
            refused::<SyncImagesRequest>("ImageIds=&DestinationRegions.0=ap-beijing").0,
            Code::MissingParameter
        );
    }

    #[test]
    fn lists_are_read_in_index_order_from_any_first_index() {
        let images: DescribeImagesRequest = form("ImageIds.10=c&ImageIds.2=b&ImageIds.1=a")
            .read()
            .unwrap();
        assert_eq!(
            images.image_ids,
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        let filtered: DescribeImagesRequest =
            form("Filters.1.Name=b&Filters.1.Values.0=y&Filters.0.Name=a&Filters.0.Values.0=x")
                .read()
                .unwrap();
        let filters = filtered.filters.unwrap();
        assert_eq!(filters[0], Filter::new("a", vec!["x".into()]));
        assert_eq!(filters[1].name, "b");
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
            form("").read::<DescribeRegionsRequest>().unwrap(),
            DescribeRegionsRequest {}
        );
    }
}
