//! What the handlers make of a request's members once it reads (its types are checked by
//! `model::api::read`): lists of IDs, and pages.

use crate::error::{Code, Error, Result};

/// A list of IDs, each read with `parse` in order (the first bad one is the error).
pub(super) fn ids<T>(list: &[String], parse: fn(&str) -> Result<T>) -> Result<Vec<T>> {
    list.iter().map(|id| parse(id)).collect()
}

/// The most items a page holds.
const MAX_LIMIT: u64 = 100;

/// `Offset` (default 0) and `Limit` (default 20, at most 100). A `Limit` over 100 is refused
/// with `over_limit`, the code the action lists for it.
pub(super) fn page(
    offset: Option<u64>,
    limit: Option<u64>,
    over_limit: Code,
) -> Result<(usize, usize)> {
    let limit = limit.unwrap_or(20);
    if limit > MAX_LIMIT {
        return Err(Error::new(
            over_limit,
            format!("The value `{limit}` specified in the parameter `Limit` is not valid: a page holds at most {MAX_LIMIT} items."),
        ));
    }
    let offset = usize::try_from(offset.unwrap_or(0)).unwrap_or(usize::MAX);
    Ok((offset, limit as usize))
}

/// `Offset` and `Limit` as DescribeInstances has them (int64): negative ones are refused with
/// `InvalidParameterValue`, as a `Limit` over 100 is.
pub(super) fn signed_page(offset: Option<i64>, limit: Option<i64>) -> Result<(usize, usize)> {
    let non_negative = |value: Option<i64>, name: &str| -> Result<Option<u64>> {
        value
            .map(|v| {
                u64::try_from(v).map_err(|_| {
                    Error::new(
                        Code::InvalidParameterValue,
                        format!("The value `{v}` specified in the parameter `{name}` is not valid: it cannot be negative."),
                    )
                })
            })
            .transpose()
    };
    page(
        non_negative(offset, "Offset")?,
        non_negative(limit, "Limit")?,
        Code::InvalidParameterValue,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageId;

    #[test]
    fn ids_are_parsed_in_order() {
        assert_eq!(
            ids(&["img-9qabwvbn".to_string()], ImageId::parse)
                .unwrap()
                .len(),
            1
        );
        let e = ids(
            &["img-9qabwvbn".to_string(), "bad".to_string()],
            ImageId::parse,
        )
        .unwrap_err();
        assert_eq!(e.code(), Code::InvalidImageIdMalformed);
    }

    #[test]
    fn pages_default_and_are_bounded() {
        let limit = Code::InvalidParameterValueInvalidParameterValueLimit;
        assert_eq!(page(None, None, limit).unwrap(), (0, 20));
        assert_eq!(page(Some(40), Some(100), limit).unwrap(), (40, 100));
        assert_eq!(page(None, Some(101), limit).unwrap_err().code(), limit);
        assert_eq!(signed_page(Some(3), Some(0)).unwrap(), (3, 0));
        for (offset, limit) in [(Some(-1), None), (None, Some(-5)), (None, Some(101))] {
            assert_eq!(
                signed_page(offset, limit).unwrap_err().code(),
                Code::InvalidParameterValue,
                "{offset:?} {limit:?}"
            );
        }
    }
}
