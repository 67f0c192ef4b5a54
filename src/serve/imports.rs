//! Imports: ImportImage from a file under `--import-dir`, and DescribeImportImageOs.

use std::path::{Path, PathBuf};

use super::Context;
use crate::error::{Code, Error, Result};
use crate::model::api::{
    DescribeImportImageOsRequest, DescribeImportImageOsResponse, ImportImageRequest,
    ImportImageResponse,
};
use crate::model::ImportImageSpec;
use crate::service::{Caller, ImageService};

pub(super) fn describe_import_image_os(
    cx: &Context,
    _request: DescribeImportImageOsRequest,
) -> Result<DescribeImportImageOsResponse> {
    let region = cx.region()?;
    Ok(cx.service.import_os(region)?.into())
}

pub(super) fn import_image(
    cx: &Context,
    request: ImportImageRequest,
) -> Result<ImportImageResponse> {
    let region = cx.region()?;
    let spec = ImportImageSpec::from(request);
    // The file is opened here, confined to the import directory; the backend reads it
    // through this very descriptor, and names it as the client did.
    let file = open_beneath(cx.settings.import_dir.as_deref(), &spec.image_url)?;
    let spec = ImportImageSpec {
        opened: Some(PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&file)
        ))),
        ..spec
    };
    // SAFETY: these id calls cannot fail.
    let caller = unsafe {
        Caller {
            uid: libc::geteuid(),
            gid: libc::getegid(),
            pid: std::process::id(),
        }
    };
    let image = cx.service.import_image(region, &spec, &caller)?;
    Ok(ImportImageResponse {
        image_id: image.map(|id| id.to_string()),
    })
}

/// Opens the local file an ImportImage names, which must lie under `--import-dir`. Every
/// component is resolved inside that directory by the kernel (`openat2` with
/// `RESOLVE_BENEATH`): no `..`, absolute path or symlink leads out, and nothing can be swapped
/// between a check and the open. A file that is missing and one that is outside get the same
/// answer, so the server reveals nothing about paths outside the directory.
fn open_beneath(dir: Option<&Path>, url: &str) -> Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let refuse = |m: String| Error::new(Code::InvalidParameterInvalidParameterUrlError, m);
    let dir = dir.ok_or_else(|| {
        refuse("this server imports no files: start it with --import-dir DIR".into())
    })?;
    let not_found = || {
        Error::with_errno(
            Code::InvalidParameterInvalidParameterUrlError,
            format!("{url}: no such file under the import directory"),
            libc::ENOENT,
        )
    };
    let base = dir
        .canonicalize()
        .map_err(|e| refuse(format!("import directory {}: {e}", dir.display())))?;
    let named = url.strip_prefix("file://").unwrap_or(url);
    let relative = match Path::new(named).strip_prefix(&base) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) if Path::new(named).is_absolute() => return Err(not_found()),
        Err(_) => PathBuf::from(named),
    };
    let relative =
        std::ffi::CString::new(relative.as_os_str().as_encoded_bytes()).map_err(|_| not_found())?;
    let directory = std::fs::File::open(&base)
        .map_err(|e| refuse(format!("import directory {}: {e}", base.display())))?;
    // SAFETY: open_how is plain data; zeroed is a valid value to fill in.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    use std::os::fd::AsRawFd;
    // SAFETY: valid descriptor, NUL-terminated path and a correctly sized open_how.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            directory.as_raw_fd(),
            relative.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(not_found());
    }
    // SAFETY: the kernel just returned this descriptor, owned by nothing else.
    Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_stay_under_the_import_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("disk.raw"), b"disk").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("escape.raw")).unwrap();
        assert!(open_beneath(Some(dir.path()), "disk.raw").is_ok());
        let inside = dir.path().canonicalize().unwrap().join("disk.raw");
        assert!(open_beneath(Some(dir.path()), inside.to_str().unwrap()).is_ok());
        for url in [
            "../../etc/passwd",
            "escape.raw",
            "/etc/passwd",
            "missing.raw",
        ] {
            let e = open_beneath(Some(dir.path()), url).unwrap_err();
            assert_eq!(
                e.code(),
                Code::InvalidParameterInvalidParameterUrlError,
                "{url}"
            );
            assert_eq!(e.errno(), libc::ENOENT, "{url}");
        }
        let e = open_beneath(None, "disk.raw").unwrap_err();
        assert!(e.message().contains("--import-dir"), "{e}");
    }
}
