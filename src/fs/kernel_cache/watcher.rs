//! The watcher thread: follows the backend's change feed and wakes pollers.

use std::sync::mpsc::Sender;
use std::time::Duration;

use super::notifier::KernelNote;
use super::Watches;
use crate::fs::core::{ImageFs, Invalidation};

/// How often the watcher asks the backend what changed, and looks at polled files.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// Drops what the kernel holds of things changed elsewhere and wakes pollers whose file
/// changed, from a thread of its own; ends when the filesystem is gone.
pub struct Watcher {
    pub(super) fs: std::sync::Weak<ImageFs>,
    pub(super) watches: std::sync::Weak<Watches>,
    pub(super) notes: Sender<KernelNote>,
}

impl Watcher {
    pub fn run(self) {
        // Each batch is sent twice, a tick apart: a reply rendered just before a change may
        // reach the kernel just after the first invalidation.
        let mut previous: Vec<Invalidation> = Vec::new();
        loop {
            std::thread::sleep(WATCH_INTERVAL);
            let (Some(fs), Some(watches)) = (self.fs.upgrade(), self.watches.upgrade()) else {
                return;
            };
            let current = match fs.changes() {
                Ok(invalidations) => invalidations,
                Err(e) => {
                    log::warn!("reading the store's changes: {e}");
                    Vec::new()
                }
            };
            let mut batch = std::mem::replace(&mut previous, current.clone());
            batch.retain(|i| *i != Invalidation::Everything);
            batch.extend(current);
            if !batch.is_empty() && self.notes.send(KernelNote::Apply(batch)).is_err() {
                return;
            }
            let pending: Vec<(u64, fuser::PollNotifier)> =
                std::mem::take(&mut *watches.lock().unwrap_or_else(|p| p.into_inner()));
            let mut still = Vec::new();
            for (ino, poller) in pending {
                // Changed, or gone: either way the poller wakes.
                match fs.changed_since_seen(ino) {
                    Ok(false) => still.push((ino, poller)),
                    _ => {
                        if let Err(e) = poller.notify() {
                            log::debug!("poll notification for inode {ino:#x}: {e}");
                        }
                    }
                }
            }
            watches
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(still);
        }
    }
}
