//! What the kernel says is mounted, and unmounting.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub source: String,
}

/// Undoes the octal escapes (`\040` for a space) of mountinfo fields.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(v) = u8::try_from(value) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fs_type = right.next()?;
            let source = right.next().unwrap_or("");
            Some(MountEntry {
                mount_point: PathBuf::from(unescape(mount_point)),
                fs_type: fs_type.to_string(),
                source: unescape(source),
            })
        })
        .collect()
}

/// The mount at exactly `path`, if any (the last one, which is the visible one).
pub fn mount_at(path: &Path) -> io::Result<Option<MountEntry>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text)
        .into_iter()
        .rfind(|m| m.mount_point == path))
}

/// Whether a mount entry is an imagefs mount.
pub fn is_imagefs(entry: &MountEntry) -> bool {
    entry.fs_type == "fuse.imagefs" || entry.source == "imagefs"
}

/// How long a mount has to answer `account.json` before it is taken for one that hangs.
const ACCOUNT_READ_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The imagefs mounts the kernel lists that act as `account` on the local store at `store`
/// (from each mount's `account.json`). A mount that cannot be read (another user's, a
/// stale one, one that does not answer in time) is left out.
pub fn mounts_of(store: &Path, account: &str) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
    parse_mountinfo(&text)
        .into_iter()
        .filter(is_imagefs)
        .filter(|m| {
            read_account(&m.mount_point).is_some_and(|(id, mounted_store)| {
                let mounted_store = std::fs::canonicalize(&mounted_store).unwrap_or(mounted_store);
                id == account && mounted_store == store
            })
        })
        .map(|m| m.mount_point)
        .collect()
}

/// A mount's account and local store, from its `account.json`, read on a thread of its own
/// so that a mount that hangs cannot hang the caller.
fn read_account(mount_point: &Path) -> Option<(String, PathBuf)> {
    let file = mount_point.join("account.json");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let read = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        // The receiver may have stopped waiting.
        let _ = send.send(read);
    });
    let value = receive.recv_timeout(ACCOUNT_READ_LIMIT).ok()??;
    let id = value.get("AccountId")?.as_str()?.to_string();
    let store = PathBuf::from(value.get("Store")?.as_str()?);
    Some((id, store))
}

/// Unmounts `path`; `lazy` detaches it even while files in it are open.
pub fn unmount(path: &Path, lazy: bool) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    // SAFETY: c_path is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::umount2(c_path.as_ptr(), flags) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EPERM) {
        // Unprivileged users unmount through the setuid helper.
        return fusermount_unmount(path, lazy);
    }
    Err(err)
}

/// Takes a mount down whatever state it is in: aborts its FUSE connection (pending requests
/// fail) and detaches it. For a stale mount whose daemon died, or one that hangs.
pub fn force_unmount(path: &Path) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: c_path is a valid NUL-terminated string that outlives the calls.
    let forced = unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_FORCE) };
    if forced == 0 {
        return Ok(());
    }
    // SAFETY: as above.
    let detached = unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) };
    if detached == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EPERM) {
        return fusermount_unmount(path, true);
    }
    Err(err)
}

/// Whether the mount at `path` has lost its daemon ("Transport endpoint is not connected").
pub fn is_stale(path: &Path) -> bool {
    matches!(std::fs::metadata(path), Err(e) if e.raw_os_error() == Some(libc::ENOTCONN))
}

fn fusermount_unmount(path: &Path, lazy: bool) -> io::Result<()> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        "fusermount3 or fusermount not found",
    );
    for helper in ["fusermount3", "fusermount"] {
        let mut cmd = std::process::Command::new(helper);
        cmd.arg(if lazy { "-uz" } else { "-u" }).arg(path);
        match cmd.status() {
            Ok(status) if status.success() => return Ok(()),
            Ok(status) => {
                return Err(io::Error::other(format!("{helper} -u failed ({status})")));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = "36 35 98:0 / /mnt1 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    90 25 0:52 / /tmp/my\\040images rw,nosuid,nodev shared:1 - fuse.imagefs imagefs rw,user_id=0\n";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].mount_point, PathBuf::from("/mnt1"));
        assert_eq!(mounts[0].fs_type, "ext3");
        assert_eq!(mounts[1].mount_point, PathBuf::from("/tmp/my images"));
        assert!(is_imagefs(&mounts[1]));
        assert!(!is_imagefs(&mounts[0]));
    }
}
