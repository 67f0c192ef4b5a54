//! Refusals, and the `errors` file: the log of this mount's refused and failed operations.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::sync::Mutex;
use std::time::SystemTime;

use super::{lock, ImageFs};
use crate::error::{Code, Error};
use crate::fs::inode::Node;
use crate::model::{format_api_time, ImageKind};

/// Lines kept in `errors`.
const ERROR_LOG_LINES: usize = 100;

struct ErrorLog {
    lines: VecDeque<String>,
    changed: SystemTime,
}

/// The recent refusals and failures of this mount, shown in `errors`.
pub(super) struct RefusalLog {
    log: Mutex<ErrorLog>,
}

impl RefusalLog {
    pub(super) fn new(now: SystemTime) -> Self {
        RefusalLog {
            log: Mutex::new(ErrorLog {
                lines: VecDeque::new(),
                changed: now,
            }),
        }
    }

    /// When the log last took a line (the mount's start before the first).
    pub(super) fn changed(&self) -> SystemTime {
        lock(&self.log).changed
    }

    /// `errors`: one entry a line, oldest first.
    pub(super) fn render(&self) -> Vec<u8> {
        let log = lock(&self.log);
        let mut out = Vec::new();
        for l in &log.lines {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        }
        out
    }

    fn push(&self, entry: String, now: SystemTime) {
        let mut log = lock(&self.log);
        if log.lines.len() == ERROR_LOG_LINES {
            log.lines.pop_front();
        }
        log.lines.push_back(entry);
        log.changed = now;
    }
}

impl ImageFs {
    /// Refuses a change to the tree (mkdir, rmdir, rename, chmod, ...) on `node`, or on the
    /// entry `name` in it, recording why in `errors`.
    pub fn refuse(&self, operation: &str, node: Node, name: Option<&OsStr>) -> Error {
        let mut path = self.path(node);
        if let Some(name) = name {
            if !path.ends_with('/') {
                path.push('/');
            }
            path.push_str(&name.to_string_lossy());
        }
        let error = self.refuse_error(operation, node, &path);
        self.record(operation, &path, &error);
        error
    }

    pub(super) fn refuse_error(&self, operation: &str, node: Node, path: &str) -> Error {
        let changes_contents = matches!(operation, "write" | "setattr");
        let (code, message) = match node {
            Node::KindDir(_, ImageKind::Shared)
            | Node::ImageDir(_, ImageKind::Shared, _)
            | Node::ImageFile(_, ImageKind::Shared, _, _) => (
                Code::UnsupportedOperationSharedImageModifyUnsupported,
                format!(
                    "cannot {operation} {path}: an image shared with you can only be launched or copied into your custom images; its owner changes it"
                ),
            ),
            Node::ImageFile(_, kind @ (ImageKind::Public | ImageKind::Marketplace), _, _)
                if changes_contents =>
            {
                (
                    Code::UnsupportedOperation,
                    format!("{path} is read-only: {kind} images cannot be modified"),
                )
            }
            Node::ByNameKind(_, kind) if operation == "unlink" => (
                Code::UnsupportedOperation,
                format!("cannot remove {path}: {kind} images cannot be deleted (only custom images, through their by-name link or their directory)"),
            ),
            Node::KindDir(_, kind) if operation == "rmdir" => (
                Code::UnsupportedOperation,
                format!("cannot remove {path}: {kind} images cannot be deleted"),
            ),
            Node::Root
            | Node::AccountJson
            | Node::Errors
            | Node::Regions
            | Node::Region(_)
            | Node::RegionFile(..)
            | Node::KindDir(..)
            | Node::ImageDir(..)
            | Node::ImageFile(..)
            | Node::InstancesDir(_)
            | Node::InstanceDir(..)
            | Node::InstanceFile(..)
            | Node::ByName(_)
            | Node::ByNameKind(..)
            | Node::NameLink(..) => {
                if changes_contents {
                    (Code::UnsupportedOperation, format!("{path} is read-only"))
                } else {
                    (
                        Code::UnsupportedOperation,
                        format!(
                            "cannot {operation} {path}: the tree's entries come from the image service"
                        ),
                    )
                }
            }
        };
        Error::new(code, message)
    }

    /// Appends a failed operation to `errors`.
    pub fn record(&self, operation: &str, path: &str, error: &Error) {
        let now = SystemTime::now();
        // One line per entry, whatever names a user chose: control characters are escaped.
        let clean = |text: &str| -> String {
            text.chars()
                .flat_map(|c| {
                    if c.is_control() {
                        c.escape_default().collect::<Vec<_>>()
                    } else {
                        vec![c]
                    }
                })
                .collect()
        };
        let entry = format!(
            "{} {operation} {} {} {}",
            format_api_time(now),
            clean(path),
            error.code(),
            clean(error.message())
        );
        log::info!("refused: {entry}");
        self.refusals.push(entry, now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cat, fs, walk};
    use super::*;
    use crate::service::Caller;

    #[test]
    fn writes_are_refused_and_recorded() {
        let (_dir, fs) = fs();
        let name = walk(&fs, "regions/ap-guangzhou/public/img-9qabwvbn/name").expect("test value");
        let caller = Caller {
            uid: 0,
            gid: 0,
            pid: 0,
        };
        let e = fs.write(name.ino, b"x\n", &caller).unwrap_err();
        assert_eq!(e.errno(), libc::EPERM);
        assert_eq!(e.code(), Code::UnsupportedOperation);
        let errors = cat(&fs, "errors").expect("test value");
        assert_eq!(errors.lines().count(), 1);
        assert!(
            errors.contains(
                " write /regions/ap-guangzhou/public/img-9qabwvbn/name UnsupportedOperation "
            ),
            "{errors}"
        );
        let dir = walk(&fs, "regions/ap-guangzhou/custom").expect("test value");
        let node = Node::from_ino(dir.ino).expect("test value");
        assert_eq!(
            fs.refuse("mkdir", node, Some(OsStr::new("x"))).errno(),
            libc::EPERM
        );
        assert_eq!(cat(&fs, "errors").expect("test value").lines().count(), 2);
    }

    #[test]
    fn the_error_log_keeps_the_newest_lines() {
        let (_dir, fs) = fs();
        let error = Error::new(Code::UnsupportedOperation, "no");
        for i in 0..(ERROR_LOG_LINES + 5) {
            fs.record("write", &format!("/f{i}"), &error);
        }
        let errors = cat(&fs, "errors").expect("test value");
        assert_eq!(errors.lines().count(), ERROR_LOG_LINES);
        assert!(errors
            .lines()
            .last()
            .expect("test value")
            .contains(&format!("/f{}", ERROR_LOG_LINES + 4)));
        assert!(!errors.contains(" /f4 "));
    }
}
