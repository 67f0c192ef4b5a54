//! The one error type of imagefs: an API error code, a message a person can act on, and the
//! errno the filesystem returns for it (the errno table of docs/SEMANTICS.md, "Errors").

mod code;

pub use code::Code;

use std::borrow::Cow;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A refusal or failure, as the image service would report it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// A [`Code`]'s text, or a code the real cloud sent that imagefs does not name.
    code: Cow<'static, str>,
    message: String,
    errno: i32,
}

impl Error {
    /// An error with an API code; its errno is the code's.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code: Cow::Borrowed(code.as_str()),
            message: message.into(),
            errno: code.errno(),
        }
    }

    /// An error whose errno is not the one its code implies (e.g. a missing local file is
    /// `ENOENT` although its code is a parameter error).
    pub fn with_errno(code: Code, message: impl Into<String>, errno: i32) -> Self {
        Error {
            code: Cow::Borrowed(code.as_str()),
            message: message.into(),
            errno,
        }
    }

    /// An error the real cloud answered with: its code is kept as sent, and its errno follows
    /// from the code's family when imagefs does not name the code.
    pub fn from_cloud(code: String, message: impl Into<String>) -> Self {
        let errno = errno_for_code(&code);
        Error {
            code: Cow::Owned(code),
            message: message.into(),
            errno,
        }
    }

    /// `InternalError`: the backend failed (EIO).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(Code::InternalError, message)
    }

    /// The code as the API spells it.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Whether this error carries `code`.
    pub fn is(&self, code: Code) -> bool {
        self.code == code.as_str()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn errno(&self) -> i32 {
        self.errno
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal(format!("local store: {e}"))
    }
}

/// A code's text against a named code: `error.code() == Code::InternalError`.
impl PartialEq<Code> for &str {
    fn eq(&self, code: &Code) -> bool {
        *self == code.as_str()
    }
}

impl PartialEq<Code> for String {
    fn eq(&self, code: &Code) -> bool {
        self == code.as_str()
    }
}

/// The errno of any code by its family (`*.NotFound` is `ENOENT`, `AuthFailure.*` is
/// `EACCES`, ...): the named codes' own errnos agree with it (tested), and codes the real
/// cloud sends that imagefs does not name get theirs from it.
pub fn errno_for_code(code: &str) -> i32 {
    if let Some(named) = Code::parse(code) {
        return named.errno();
    }
    errno_by_family(code)
}

fn errno_by_family(code: &str) -> i32 {
    let (head, tail) = match code.split_once('.') {
        Some((h, t)) => (h, t),
        None => (code, ""),
    };
    match (head, tail) {
        ("InvalidAccountIs", "YourSelf") | ("FailedOperation", "AccountIsYourSelf") => libc::EINVAL,
        (_, "NotFound") | ("ResourceNotFound", _) => libc::ENOENT,
        ("InvalidParameterValue", "InvalidBucketPermissionForExport") => libc::EACCES,
        (_, "Duplicate") | ("FailedOperation", "AccountAlreadyExists") => libc::EEXIST,
        (_, "IncorrectState") | (_, "InShared") | (_, "InvalidImageState") => libc::EBUSY,
        ("MutexOperation", _) | ("ResourceInUse", _) => libc::EBUSY,
        ("ImageQuotaLimitExceeded", _) | ("OverQuota", _) => libc::EDQUOT,
        // Too many tags on a resource; but too many in one request is a malformed request.
        ("InvalidParameterValue", "TagQuotaLimitExceeded") => libc::EDQUOT,
        ("LimitExceeded", "ResourceNumPerRequest" | "TagNumPerRequest") => libc::EINVAL,
        ("LimitExceeded", _) => libc::EDQUOT,
        ("RequestLimitExceeded", _) => libc::EAGAIN,
        ("ResourceInsufficient", _) | ("ResourcesSoldOut", _) => libc::ENOSPC,
        ("UnsupportedOperation", t) if t.starts_with("InstanceState") => libc::EBUSY,
        ("OperationDenied", "InstanceOperationInProgress") => libc::EBUSY,
        ("FailedOperation", "BYOLImageShareFailed") => libc::EPERM,
        // A receiver's change of an image shared with it, whatever the action's code.
        ("InvalidParameterValue", "InvalidImageIdIsShared") => libc::EPERM,
        // The tag service's refusal to tag a resource of another owner.
        ("AuthFailure", "UnauthorizedOperation") => libc::EPERM,
        ("AuthFailure", _) => libc::EACCES,
        // `InvalidParameterValue.BucketNotFound`, `InvalidParameter.SnapshotNotFound`, ...
        (_, t) if t.ends_with("NotFound") => libc::ENOENT,
        ("UnsupportedOperation", _) | ("UnauthorizedOperation", _) | ("OperationDenied", _) => {
            libc::EPERM
        }
        ("InvalidParameter", _)
        | ("InvalidParameterValue", _)
        | ("InvalidImageId", _)
        | ("InvalidImageName", _)
        | ("InvalidImageOsType", _)
        | ("InvalidImageOsVersion", _)
        | ("InvalidAccountId", _)
        | ("InvalidInstanceId", _)
        | ("InvalidInstanceType", _)
        | ("InvalidInstanceName", _)
        | ("InvalidZone", _)
        | ("InvalidClientToken", _)
        | ("InvalidPeriod", _)
        | ("InvalidPassword", _)
        | ("InvalidKeyPairId", _)
        | ("InvalidParameterCombination", _)
        | ("InvalidSgId", _)
        | ("InvalidHostId", _)
        | ("InvalidFilter", _)
        | ("InvalidFilterValue", _)
        | ("MissingParameter", _)
        | ("UnknownParameter", _)
        | ("InvalidRegion", _)
        | ("FailedOperation", "NotMasterAccount")
        | ("FailedOperation", "IllegalTagKey" | "IllegalTagValue" | "TagKeyReserved") => {
            libc::EINVAL
        }
        _ => libc::EIO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_design_errno_table() {
        let cases = [
            ("InvalidImageId.Malformed", libc::EINVAL),
            ("InvalidParameterValue.TooLarge", libc::EINVAL),
            ("InvalidAccountIs.YourSelf", libc::EINVAL),
            ("InvalidImageId.NotFound", libc::ENOENT),
            ("InvalidRegion.NotFound", libc::ENOENT),
            ("InvalidAccountId.NotFound", libc::ENOENT),
            (
                "UnsupportedOperation.SharedImageModifyUnsupported",
                libc::EPERM,
            ),
            ("UnauthorizedOperation.ImageNotBelongToAccount", libc::EPERM),
            ("UnsupportedOperation", libc::EPERM),
            ("ImageQuotaLimitExceeded", libc::EDQUOT),
            ("OverQuota", libc::EDQUOT),
            ("InvalidImageName.Duplicate", libc::EEXIST),
            ("FailedOperation.AccountAlreadyExists", libc::EEXIST),
            ("InvalidImageId.IncorrectState", libc::EBUSY),
            ("InvalidImageId.InShared", libc::EBUSY),
            ("RequestLimitExceeded", libc::EAGAIN),
            ("InvalidInstanceId.NotFound", libc::ENOENT),
            ("InvalidInstanceId.Malformed", libc::EINVAL),
            ("UnsupportedOperation.InstanceStatePending", libc::EBUSY),
            ("OperationDenied.InstanceOperationInProgress", libc::EBUSY),
            ("InvalidParameterValue.InvalidImageIdIsShared", libc::EPERM),
            ("UnknownParameter", libc::EINVAL),
            ("InvalidInstanceName.TooLong", libc::EINVAL),
            ("InvalidParameterValue.InvalidImageState", libc::EBUSY),
            ("AuthFailure.SignatureFailure", libc::EACCES),
            ("InternalError", libc::EIO),
        ];
        for (code, errno) in cases {
            assert_eq!(errno_for_code(code), errno, "{code}");
            if let Some(named) = Code::parse(code) {
                assert_eq!(Error::new(named, "m").errno(), errno, "{code}");
            }
        }
    }

    #[test]
    fn every_named_code_has_the_errno_of_its_family() {
        for code in Code::ALL {
            assert_eq!(code.errno(), errno_by_family(code.as_str()), "{code}");
            assert_eq!(Code::parse(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn a_cloud_code_keeps_its_text_and_gets_its_family_errno() {
        let e = Error::from_cloud("ResourceInUse.Whatever".into(), "busy");
        assert_eq!(e.code(), "ResourceInUse.Whatever");
        assert_eq!(e.errno(), libc::EBUSY);
        assert!(!e.is(Code::InternalError));
    }

    #[test]
    fn display_shows_code_and_message() {
        let e = Error::new(Code::InvalidImageIdNotFound, "no image img-00000000");
        assert_eq!(
            e.to_string(),
            "InvalidImageId.NotFound: no image img-00000000"
        );
        assert!(e.is(Code::InvalidImageIdNotFound));
        assert!(e.code() == Code::InvalidImageIdNotFound);
    }
}
