//! Reading a request's members as the server always has (lenient until typed requests land):
//! a string member of another type reads as not given, a list must be a list of strings, and a
//! page is at most 100 long.

use serde_json::Value;

use crate::error::{Code, Error, Result};
use crate::model::api::Lenient;

/// A string member; one of another type reads as not given.
pub(super) fn string(member: Lenient<String>) -> Option<String> {
    member.into_result().ok()
}

/// A string member that must be given (one of another type is not).
pub(super) fn required(member: Lenient<String>, name: &str) -> Result<String> {
    string(member).ok_or_else(|| Error::new(Code::MissingParameter, format!("{name} is required")))
}

/// A boolean member (`DryRun`, `ImageSetRequired`): not given reads as false; one of another
/// type is refused, so that a dry run sent as `"true"` never runs for real.
pub(super) fn flag(member: &Lenient<bool>, name: &str) -> Result<bool> {
    match member {
        Lenient::Absent => Ok(false),
        Lenient::Valid(value) => Ok(*value),
        Lenient::Invalid(sent) => Err(Error::new(
            Code::InvalidParameter,
            format!("{name} must be a boolean (true or false), not {sent}"),
        )),
    }
}

/// A list of strings; not given reads as empty.
pub(super) fn string_list(member: Lenient<Vec<String>>, name: &str) -> Result<Vec<String>> {
    match member {
        Lenient::Absent => Ok(Vec::new()),
        Lenient::Valid(list) => Ok(list),
        Lenient::Invalid(Value::Array(_)) => Err(Error::new(
            Code::InvalidParameter,
            format!("{name} must be a list of strings"),
        )),
        Lenient::Invalid(_) => Err(Error::new(
            Code::InvalidParameter,
            format!("{name} must be a list"),
        )),
    }
}

/// A list of IDs, each read with `parse` in order (the first bad one is the error).
pub(super) fn id_list<T>(
    member: Lenient<Vec<String>>,
    name: &str,
    parse: fn(&str) -> Result<T>,
) -> Result<Vec<T>> {
    string_list(member, name)?
        .iter()
        .map(|id| parse(id))
        .collect()
}

/// `Offset` (default 0) and `Limit` (default 20, at most 100); a number that is not a
/// non-negative integer reads as not given.
pub(super) fn page(offset: &Lenient<u64>, limit: &Lenient<u64>) -> Result<(usize, usize)> {
    let offset = offset.valid().copied().unwrap_or(0) as usize;
    let limit = limit.valid().copied().unwrap_or(20) as usize;
    if limit > 100 {
        return Err(Error::new(
            Code::InvalidParameterValueInvalidParameterValueLimit,
            "Limit is at most 100",
        ));
    }
    Ok((offset, limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageId;
    use serde_json::json;

    fn member<T: serde::de::DeserializeOwned>(v: Value) -> Lenient<T> {
        Lenient::from_value(v)
    }

    #[test]
    fn strings_of_another_type_read_as_not_given() {
        assert_eq!(string(member(json!("a"))), Some("a".to_string()));
        assert_eq!(string(member(json!(1))), None);
        assert_eq!(string(member(Value::Null)), None);
        let e = required(member(json!(["x"])), "ImageId").unwrap_err();
        assert_eq!(e.code(), Code::MissingParameter);
        assert_eq!(e.message(), "ImageId is required");
    }

    #[test]
    fn flags_are_booleans_or_not_given() {
        assert!(!flag(&member(Value::Null), "DryRun").unwrap());
        assert!(flag(&member(json!(true)), "DryRun").unwrap());
        assert!(!flag(&member(json!(false)), "DryRun").unwrap());
        for sent in [json!("true"), json!(1), json!([true])] {
            let e = flag(&member(sent.clone()), "DryRun").unwrap_err();
            assert_eq!(e.code(), Code::InvalidParameter, "{sent}");
            assert!(e.message().starts_with("DryRun must be a boolean"), "{e}");
        }
    }

    #[test]
    fn lists_must_be_lists_of_strings() {
        assert!(string_list(member(Value::Null), "ImageIds")
            .unwrap()
            .is_empty());
        assert_eq!(
            string_list(member(json!(["a", "b"])), "ImageIds").unwrap(),
            ["a", "b"]
        );
        let e = string_list(member(json!(["a", 1])), "ImageIds").unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (
                Code::InvalidParameter.as_str(),
                "ImageIds must be a list of strings"
            )
        );
        let e = string_list(member(json!("a")), "ImageIds").unwrap_err();
        assert_eq!(e.message(), "ImageIds must be a list");
        let e = id_list(
            member(json!(["img-9qabwvbn", "bad"])),
            "ImageIds",
            ImageId::parse,
        )
        .unwrap_err();
        assert_eq!(e.code(), Code::InvalidImageIdMalformed);
    }

    #[test]
    fn pages_default_and_are_bounded() {
        assert_eq!(
            page(&member(Value::Null), &member(Value::Null)).unwrap(),
            (0, 20)
        );
        assert_eq!(
            page(&member(json!(-5)), &member(json!("7"))).unwrap(),
            (0, 20)
        );
        assert_eq!(
            page(&member(json!(40)), &member(json!(100))).unwrap(),
            (40, 100)
        );
        assert_eq!(
            page(&member(Value::Null), &member(json!(101)))
                .unwrap_err()
                .code(),
            Code::InvalidParameterValueInvalidParameterValueLimit
        );
    }
}
