//! Refusals, and the `errors` file: the log of this mount's refused and failed operations.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::{lock, ImageFs};
use crate::error::{Code, Error};
use crate::fs::inode::Node;
use crate::model::{format_api_time, ImageKind};

/// Lines kept in `errors`.
const ERROR_LOG_LINES: usize = 100;

/// How soon after the last line's latest refusal an identical one is counted on that line.
const FOLD_WITHIN: Duration = Duration::from_secs(2);

/// One line of `errors`: the first refusal it stands for, and how many it stands for.
struct Line {
    text: String,
    operation: String,
    code: String,
    parent: String,
    /// The path of the latest refusal counted here, and when it came.
    latest: String,
    last: SystemTime,
    count: u64,
    /// A tree change's line, which later ones may fold onto (a command's never is).
    foldable: bool,
}

impl Line {
    /// Whether a refusal of `operation` with `code` on `path` (in `parent`) at `now` is
    /// counted on this line: the same operation, code and parent directory, another entry
    /// than the latest one counted (the same file refused twice is two commands), within
    /// `FOLD_WITHIN` of this line's latest refusal.
    fn folds(
        &self,
        operation: &str,
        code: &str,
        path: &str,
        parent: &str,
        now: SystemTime,
    ) -> bool {
        self.foldable
            && self.operation == operation
            && self.code == code
            && self.parent == parent
            && self.latest != path
            && now
                .duration_since(self.last)
                .is_ok_and(|d| d <= FOLD_WITHIN)
    }
}

/// What a refusal is compared by when lines are folded.
struct Refusal<'a> {
    operation: &'a str,
    code: &'a str,
    path: &'a str,
}

struct ErrorLog {
    lines: VecDeque<Line>,
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
            out.extend_from_slice(l.text.as_bytes());
            if l.count > 1 {
                out.extend_from_slice(format!(" (x{})", l.count).as_bytes());
            }
            out.push(b'\n');
        }
        out
    }

    /// Adds a refusal: counted on the last line when `fold` allows and it folds there (see
    /// `Line::folds`), a new line otherwise.
    fn push(&self, entry: String, refusal: Refusal<'_>, fold: bool, now: SystemTime) {
        let Refusal {
            operation,
            code,
            path,
        } = refusal;
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        let mut log = lock(&self.log);
        log.changed = now;
        if let Some(last) = log.lines.back_mut() {
            if fold && last.folds(operation, code, path, parent, now) {
                last.count += 1;
                last.last = now;
                last.latest = path.to_string();
                return;
            }
        }
        if log.lines.len() == ERROR_LOG_LINES {
            log.lines.pop_front();
        }
        log.lines.push_back(Line {
            text: entry,
            operation: operation.to_string(),
            code: code.to_string(),
            parent: parent.to_string(),
            latest: path.to_string(),
            last: now,
            count: 1,
            foldable: fold,
        });
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
        // Tree changes fold: `rm -r` of an image's directory is one line, not one a file.
        self.log(operation, &path, &error, true);
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
            Node::ByNameKind(_, ImageKind::Custom) if operation == "unlink" => (
                Code::UnsupportedOperation,
                format!("cannot remove {path}: a by-name link goes with its image; to delete the image, rmdir the directory the link points to (readlink shows it)"),
            ),
            Node::InstancesByName(_) | Node::InstanceNameDir(..) if operation == "unlink" => (
                Code::UnsupportedOperation,
                format!("cannot remove {path}: a by-name link goes with its instance; to terminate the instance, rmdir the directory the link points to (readlink shows it)"),
            ),
            Node::InstancesByName(_) if operation == "rmdir" => (
                Code::UnsupportedOperation,
                format!("cannot remove {path}: the directory of a name several instances share goes with them; to terminate one, rmdir the directory its link points to (ls -l shows them)"),
            ),
            Node::ByNameKind(_, kind) if operation == "unlink" => (
                Code::UnsupportedOperation,
                format!("cannot remove {path}: {kind} images cannot be deleted"),
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
            | Node::NameLink(..)
            | Node::Families(_)
            | Node::FamilyLink(..)
            | Node::InstancesByName(_)
            | Node::InstanceNameLink(..)
            | Node::InstanceNameDir(..)
            | Node::InstanceNameDirLink(..) => {
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

    /// Appends a failed operation to `errors` (a refused command: a line of its own).
    pub fn record(&self, operation: &str, path: &str, error: &Error) {
        self.log(operation, path, error, false);
    }

    fn log(&self, operation: &str, path: &str, error: &Error, fold: bool) {
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
        let code = error.code().to_string();
        let refusal = Refusal {
            operation,
            code: &code,
            path,
        };
        self.refusals.push(entry, refusal, fold, now);
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
            fs.record("write", &format!("/d{i}/f{i}"), &error);
        }
        let errors = cat(&fs, "errors").expect("test value");
        assert_eq!(errors.lines().count(), ERROR_LOG_LINES);
        assert!(errors
            .lines()
            .last()
            .expect("test value")
            .contains(&format!("/f{}", ERROR_LOG_LINES + 4)));
        assert!(!errors.contains(" /d4/f4 "));
    }

    #[test]
    fn identical_refusals_in_one_directory_fold_into_one_line() {
        let log = RefusalLog::new(SystemTime::UNIX_EPOCH);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let push = |operation: &str, code: &str, path: &str, fold: bool, at: SystemTime| {
            let refusal = Refusal {
                operation,
                code,
                path,
            };
            log.push(format!("{operation} {path}"), refusal, fold, at);
        };
        let code = Code::UnsupportedOperation.as_str();
        for (i, name) in ["name", "state", "launch"].iter().enumerate() {
            let at = t0 + Duration::from_millis(900 * i as u64);
            push("unlink", code, &format!("/r/img-1/{name}"), true, at);
        }
        // Another operation, code or directory, the same file again, a command's refusal
        // (no folding), or a pause past 2 s: new lines.
        let t1 = t0 + Duration::from_millis(1900);
        push("rmdir", code, "/r/img-1", true, t1);
        push("unlink", code, "/r/img-2/a", true, t1);
        push("unlink", "Other", "/r/img-2/b", true, t1);
        push("unlink", "Other", "/r/img-2/c", true, t1);
        push("unlink", "Other", "/r/img-2/c", true, t1);
        push("write", code, "/r/img-2/share", false, t1);
        push("write", code, "/r/img-2/state", false, t1);
        push("write", code, "/r/img-2/name", true, t1);
        let late = t1 + FOLD_WITHIN + Duration::from_millis(1);
        push("write", code, "/r/img-2/x", true, late);
        push("write", code, "/r/img-2/y", true, late + FOLD_WITHIN * 2);
        let text = String::from_utf8(log.render()).expect("UTF-8");
        assert_eq!(
            text,
            "unlink /r/img-1/name (x3)\nrmdir /r/img-1\nunlink /r/img-2/a\nunlink /r/img-2/b (x2)\n\
             unlink /r/img-2/c\nwrite /r/img-2/share\nwrite /r/img-2/state\n\
             write /r/img-2/name\nwrite /r/img-2/x\n\
             write /r/img-2/y\n"
        );
        assert_eq!(log.changed(), late + FOLD_WITHIN * 2);
    }
}
