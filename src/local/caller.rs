//! Acting with the credentials of the user who wrote a command: a file named in an import is
//! opened as that user, so nobody can make the daemon read a file they could not read.

use std::fs::File;
use std::io;
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

/// Opens `path` for reading with the caller's filesystem credentials.
///
/// Credentials are per thread on Linux: the raw system calls below change only the calling
/// thread (glibc's wrappers would change every thread), and are restored before returning.
pub fn open_as(caller: &Caller, path: &Path) -> io::Result<File> {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        // Without privilege the daemon cannot take on another user's identity; it only reads
        // for the user it runs as.
        if caller.uid != euid {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        return File::open(path);
    }
    let groups = caller_groups(caller.pid).unwrap_or_else(|| vec![caller.gid]);
    let mut saved_groups = vec![0 as libc::gid_t; 256];
    // SAFETY: getgroups writes at most len entries into the buffer.
    let saved_len =
        unsafe { libc::getgroups(saved_groups.len() as i32, saved_groups.as_mut_ptr()) };
    if saved_len < 0 {
        return Err(io::Error::last_os_error());
    }
    saved_groups.truncate(saved_len as usize);
    // SAFETY: per-thread credential changes with valid arguments; every change is undone
    // below whatever the open returns.
    unsafe {
        libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr());
        libc::syscall(libc::SYS_setfsgid, caller.gid);
        libc::syscall(libc::SYS_setfsuid, caller.uid);
    }
    let result = File::open(path);
    // SAFETY: as above, restoring the daemon's own credentials.
    unsafe {
        libc::syscall(libc::SYS_setfsuid, 0);
        libc::syscall(libc::SYS_setfsgid, 0);
        libc::syscall(
            libc::SYS_setgroups,
            saved_groups.len(),
            saved_groups.as_ptr(),
        );
    }
    result
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
        // The daemon's own credentials are back.
        assert!(File::open(&secret).is_ok());
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
}
