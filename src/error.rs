//! The one error type of imagefs: an API error code, a message a person can act on, and the
//! errno the filesystem returns for it (DESIGN.md section 3).

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A refusal or failure, as the image service would report it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    code: String,
    message: String,
    errno: i32,
}

impl Error {
    /// An error with an API code; its errno follows from the code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        let errno = errno_for_code(&code);
        Error {
            code,
            message: message.into(),
            errno,
        }
    }

    /// An error whose errno is not the one its code implies (e.g. a missing local file is
    /// `ENOENT` although its code is a parameter error).
    pub fn with_errno(code: impl Into<String>, message: impl Into<String>, errno: i32) -> Self {
        Error {
            code: code.into(),
            message: message.into(),
            errno,
        }
    }

    /// `InternalError`: the backend failed (EIO).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new("InternalError", message)
    }

    pub fn code(&self) -> &str {
        &self.code
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

/// The errno table of DESIGN.md section 3, keyed by API error code.
pub fn errno_for_code(code: &str) -> i32 {
    let (head, tail) = match code.split_once('.') {
        Some((h, t)) => (h, t),
        None => (code, ""),
    };
    match (head, tail) {
        ("InvalidAccountIs", "YourSelf") | ("FailedOperation", "AccountIsYourSelf") => libc::EINVAL,
        (_, "NotFound") | ("ResourceNotFound", _) => libc::ENOENT,
        (_, "Duplicate") | ("FailedOperation", "AccountAlreadyExists") => libc::EEXIST,
        (_, "IncorrectState") | (_, "InShared") | (_, "InvalidImageState") => libc::EBUSY,
        ("MutexOperation", _) | ("ResourceInUse", _) => libc::EBUSY,
        ("ImageQuotaLimitExceeded", _) | ("OverQuota", _) => libc::EDQUOT,
        ("LimitExceeded", _) => libc::EDQUOT,
        ("RequestLimitExceeded", _) => libc::EAGAIN,
        ("UnsupportedOperation", t) if t.starts_with("InstanceState") => libc::EBUSY,
        ("OperationDenied", "InstanceOperationInProgress") => libc::EBUSY,
        ("FailedOperation", "BYOLImageShareFailed") => libc::EPERM,
        ("AuthFailure", _) => libc::EACCES,
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
        | ("InvalidZone", _)
        | ("InvalidFilter", _)
        | ("InvalidFilterValue", _)
        | ("MissingParameter", _)
        | ("UnknownParameter", _)
        | ("InvalidRegion", _)
        | ("FailedOperation", "NotMasterAccount") => libc::EINVAL,
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
            ("InvalidParameterValue.InvalidImageState", libc::EBUSY),
            ("AuthFailure.SignatureFailure", libc::EACCES),
            ("InternalError", libc::EIO),
        ];
        for (code, errno) in cases {
            assert_eq!(errno_for_code(code), errno, "{code}");
            assert_eq!(Error::new(code, "m").errno(), errno, "{code}");
        }
    }

    #[test]
    fn display_shows_code_and_message() {
        let e = Error::new("InvalidImageId.NotFound", "no image img-00000000");
        assert_eq!(
            e.to_string(),
            "InvalidImageId.NotFound: no image img-00000000"
        );
    }
}
