//! Handing file contents to the kernel's page cache before it reads them.

use fuser::INodeNo;

use crate::fs::core::{Attr, EntryKind, ImageFs, Rendered};
use crate::fs::inode::Node;

/// Largest file handed to the kernel ahead of a read.
const PREFILL_MAX: usize = 64 * 1024;

/// `FUSE_NOTIFY_STORE`, from the kernel's FUSE protocol (`enum fuse_notify_code`).
const FUSE_NOTIFY_STORE: i32 = 4;

/// Hands file contents to the kernel's page cache (`FUSE_NOTIFY_STORE`) through a
/// descriptor of the session's own. Unlike fuser's notifier it reports ENOENT: the kernel
/// does not know the inode *yet* when the reply that names it (a lookup's, a listing's) is
/// still being taken in by the process that asked, and the store is worth another try.
/// Invalidations, where ENOENT means nothing to do, go through fuser's notifier.
pub struct PageStore {
    device: std::os::fd::OwnedFd,
    pub(super) notifier: fuser::Notifier,
}

impl PageStore {
    /// Shares the session's `/dev/fuse` descriptor (a duplicate: same connection).
    pub fn new(
        session: std::os::fd::BorrowedFd<'_>,
        notifier: fuser::Notifier,
    ) -> std::io::Result<PageStore> {
        Ok(PageStore {
            device: session.try_clone_to_owned()?,
            notifier,
        })
    }

    /// Stores `data` as the whole contents of file `ino`, from offset 0.
    fn store(&self, ino: u64, data: &[u8]) -> std::io::Result<()> {
        let size = u32::try_from(data.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
        // struct fuse_notify_store_out { u64 nodeid; u64 offset; u32 size; u32 padding }
        let mut args = [0u8; 24];
        args[0..8].copy_from_slice(&ino.to_ne_bytes());
        args[16..20].copy_from_slice(&size.to_ne_bytes());
        self.notify(FUSE_NOTIFY_STORE, &args, data)
    }

    fn notify(&self, code: i32, args: &[u8], data: &[u8]) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let len = u32::try_from(16 + args.len() + data.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
        // struct fuse_out_header { u32 len; i32 error (here the notify code); u64 unique (0) }
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&len.to_ne_bytes());
        head[4..8].copy_from_slice(&code.to_ne_bytes());
        let parts = [
            libc::iovec {
                iov_base: head.as_ptr() as *mut libc::c_void,
                iov_len: head.len(),
            },
            libc::iovec {
                iov_base: args.as_ptr() as *mut libc::c_void,
                iov_len: args.len(),
            },
            libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            },
        ];
        // SAFETY: the iovecs point at live buffers of the given lengths, which the kernel
        // only reads; the descriptor is ours until drop.
        let written = unsafe { libc::writev(self.device.as_raw_fd(), parts.as_ptr(), 3) };
        if written < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// Stores a file's contents, rendered in `epoch` (rendered afresh if a change came since),
/// in the kernel's page cache. Should a change come while the store is under way, the
/// pages are dropped again: they may predate it. Returns what the kernel said.
pub(super) fn store_contents(
    fs: &ImageFs,
    pages: &PageStore,
    ino: u64,
    rendered: &mut Option<Rendered>,
) -> std::io::Result<()> {
    let (epoch, data) = match rendered.as_ref() {
        Some((epoch, data)) if *epoch == fs.epoch() => (*epoch, data.clone()),
        _ => {
            let epoch = fs.epoch();
            let data = std::sync::Arc::new(
                fs.contents(ino)
                    .map_err(|e| std::io::Error::from_raw_os_error(e.errno()))?,
            );
            *rendered = Some((epoch, data.clone()));
            (epoch, data)
        }
    };
    if data.is_empty() || data.len() > PREFILL_MAX {
        return Ok(());
    }
    pages.store(ino, &data)?;
    if fs.epoch() != epoch {
        // From 0, length 0: every page (the attributes go too).
        pages.notifier.inval_inode(INodeNo(ino), 0, 0)?;
    }
    Ok(())
}

/// Whether a file is worth handing to the kernel before it reads it: not empty, not
/// `errors` (it changes with every refusal of this mount), not a view (its reader reads it
/// once, just after the lookup that made it).
pub(crate) fn prefillable(attr: &Attr) -> bool {
    attr.kind == EntryKind::File
        && attr.size > 0
        && attr.size <= PREFILL_MAX as u64
        && attr.ino != Node::Errors.ino()
        && Node::from_ino(attr.ino).is_some()
}
