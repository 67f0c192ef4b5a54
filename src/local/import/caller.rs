//! Acting with the credentials of the user who wrote a command: a file named in an import is
//! opened as that user, so nobody can make the daemon read a file they could not read.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::service::Caller;

/// The supplementary groups of the calling process, from `/proc/<pid>/status`.
fn caller_groups(pid: u32) -> Option<Vec<libc::gid_t>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Groups:"))?;
    Some(
        line.split_whitespace()
            .filter_map(|g| g.parse().ok())
            .collect(),
    )
}

/// Opens without blocking (a FIFO would otherwise hang the open) and without taking a
/// controlling terminal.
fn open_nonblocking(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// The calling thread's supplementary groups.
fn current_groups() -> io::Result<Vec<libc::gid_t>> {
    // SAFETY: getgroups with size 0 only returns the count.
    let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut groups = vec![0 as libc::gid_t; count as usize];
    // SAFETY: the buffer holds `count` entries.
    let got = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    groups.truncate(got as usize);
    Ok(groups)
}

/// Per-thread credential calls (raw system calls: glibc's wrappers would change every thread).
fn set_groups(groups: &[libc::gid_t]) -> bool {
    // SAFETY: the pointer and length describe a live slice.
    unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) == 0 }
}

fn set_fsgid(gid: libc::gid_t) -> libc::gid_t {
    // SAFETY: setfsgid takes a plain id and returns the previous one.
    unsafe { libc::syscall(libc::SYS_setfsgid, gid) as libc::gid_t }
}

fn set_fsuid(uid: libc::uid_t) -> libc::uid_t {
    // SAFETY: setfsuid takes a plain id and returns the previous one.
    unsafe { libc::syscall(libc::SYS_setfsuid, uid) as libc::uid_t }
}

/// Opens `path` for reading with the caller's filesystem credentials; refuses anything but a
/// regular file.
///
/// Credentials are per thread on Linux: this changes only the calling thread, checks that
/// each change took, and restores the thread's own credentials before returning.
pub fn open_as(caller: &Caller, path: &Path) -> io::Result<File> {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let file = if euid != 0 {
        // Without privilege the daemon cannot take on another user's identity; it only reads
        // for the user it runs as.
        if caller.uid != euid {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        open_nonblocking(path)?
    } else {
        let groups = caller_groups(caller.pid).unwrap_or_else(|| vec![caller.gid]);
        let saved_groups = current_groups()?;
        // -1 changes nothing and returns the current value.
        let saved_fsgid = set_fsgid(libc::gid_t::MAX);
        let saved_fsuid = set_fsuid(libc::uid_t::MAX);
        let switched = set_groups(&groups)
            && {
                set_fsgid(caller.gid);
                set_fsgid(libc::gid_t::MAX) == caller.gid
            }
            && {
                set_fsuid(caller.uid);
                set_fsuid(libc::uid_t::MAX) == caller.uid
            };
        let result = if switched {
            open_nonblocking(path)
        } else {
            Err(io::Error::from_raw_os_error(libc::EACCES))
        };
        set_fsuid(saved_fsuid);
        set_fsgid(saved_fsgid);
        if !set_groups(&saved_groups) {
            log::error!(
                "could not restore this thread's groups after reading as uid {}",
                caller.uid
            );
        }
        result?
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn another_user_cannot_open_a_private_file() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let secret = dir.path().join("secret.raw");
        std::fs::write(&secret, vec![0u8; 512]).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let nobody = Caller {
            uid: 65534,
            gid: 65534,
            pid: u32::MAX,
        };
        let e = open_as(&nobody, &secret).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
        // The thread's own credentials are back.
        assert!(File::open(&secret).is_ok());
        assert_eq!(set_fsuid(libc::uid_t::MAX), 0);
        assert_eq!(set_fsgid(libc::gid_t::MAX), unsafe { libc::getegid() });
        let public = dir.path().join("public.raw");
        std::fs::write(&public, vec![0u8; 512]).unwrap();
        std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(open_as(&nobody, &public).is_ok());
        let root = Caller {
            uid: 0,
            gid: 0,
            pid: std::process::id(),
        };
        assert!(open_as(&root, &secret).is_ok());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let me = Caller {
            uid: unsafe { libc::geteuid() },
            gid: unsafe { libc::getegid() },
            pid: std::process::id(),
        };
        let e = open_as(&me, &fifo).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let e = open_as(&me, dir.path()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }
}
