//! Views: a reader's own inode for a control file's outcome.
//!
//! Files are not opened (see the adapter's `open`), so the kernel reads them through its page
//! cache: one per inode, shared by every process. Two processes reading one inode could not
//! be shown two outcomes, and a write lands in that cache before the command runs, so a
//! reader could see the written bytes over the previous outcome (`1\ns-i2gxxn62`). Hence a
//! lookup of a control file that shows outcomes, once it has one, answers with an inode of
//! the looking-up thread's own: a view, showing the outcome that thread is to see
//! (`outcomes`). A view's contents change only through a write to the view itself (it then
//! shows that write's outcome, as the kernel's transaction files answer on the descriptor
//! the request was written to), so the pages the kernel keeps of it are never another
//! outcome's. Its name is looked up again on every path walk (a TTL of zero): a thread never
//! uses another's view, and a thread's next open shows its newest outcome.
//!
//! The kernel forgets a view once no name or open file holds it (`forget`); past
//! [`VIEWS_MAX`] the least recently looked up goes first.

use std::collections::HashMap;
use std::sync::Mutex;

use super::outcomes::Outcome;
use super::{lock, Attr, ImageFs};
use crate::error::{Code, Error, Result};
use crate::fs::inode::{view_ino, view_serial, Node};
use crate::service::Caller;

/// Views kept at most.
pub(super) const VIEWS_MAX: usize = 4096;

struct View {
    file: Node,
    /// The thread it was made for.
    reader: u32,
    outcome: Outcome,
    /// Lookups the kernel holds (it forgets them all before it drops the inode).
    lookups: u64,
    /// When it was last looked up, in lookups of the table.
    used: u64,
}

#[derive(Default)]
struct ViewTable {
    views: HashMap<u64, View>,
    /// Each thread's view of each file: (file's inode, thread) -> serial.
    by_reader: HashMap<(u64, u32), u64>,
    serial: u64,
    lookups: u64,
}

#[derive(Default)]
pub(super) struct Views {
    table: Mutex<ViewTable>,
}

impl Views {
    /// The view of `file` for thread `reader` that shows `outcome`, counted as one more
    /// lookup the kernel holds: the one the thread had if it shows this outcome (a path walk
    /// then keeps its name and pages), else a new one.
    fn resolve(&self, file: Node, reader: u32, outcome: Outcome) -> u64 {
        let mut table = lock(&self.table);
        table.lookups += 1;
        let used = table.lookups;
        if let Some(&serial) = table.by_reader.get(&(file.ino(), reader)) {
            if let Some(view) = table.views.get_mut(&serial) {
                if view.outcome.serial == outcome.serial {
                    view.lookups += 1;
                    view.used = used;
                    return serial;
                }
            }
        }
        if table.views.len() >= VIEWS_MAX {
            table.evict_least_used();
        }
        table.serial += 1;
        let serial = table.serial;
        table.views.insert(
            serial,
            View {
                file,
                reader,
                outcome,
                lookups: 1,
                used,
            },
        );
        table.by_reader.insert((file.ino(), reader), serial);
        serial
    }

    /// The file view `serial` is of, and the outcome it shows.
    fn get(&self, serial: u64) -> Option<(Node, Outcome)> {
        lock(&self.table)
            .views
            .get(&serial)
            .map(|view| (view.file, view.outcome.clone()))
    }

    /// A command was written through view `serial`: from now on it shows its outcome.
    pub(super) fn written(&self, serial: u64, outcome: Outcome) {
        if let Some(view) = lock(&self.table).views.get_mut(&serial) {
            view.outcome = outcome;
        }
    }

    /// The kernel dropped `lookups` of its lookups of view `serial`.
    fn forget(&self, serial: u64, lookups: u64) {
        let mut table = lock(&self.table);
        let gone = match table.views.get_mut(&serial) {
            Some(view) => {
                view.lookups = view.lookups.saturating_sub(lookups);
                view.lookups == 0
            }
            None => false,
        };
        if gone {
            table.remove(serial);
        }
    }
}

impl ViewTable {
    fn remove(&mut self, serial: u64) {
        if let Some(view) = self.views.remove(&serial) {
            let key = (view.file.ino(), view.reader);
            if self.by_reader.get(&key) == Some(&serial) {
                self.by_reader.remove(&key);
            }
        }
    }

    fn evict_least_used(&mut self) {
        let least = self
            .views
            .iter()
            .min_by_key(|(_, view)| view.used)
            .map(|(&serial, _)| serial);
        if let Some(serial) = least {
            self.remove(serial);
        }
    }
}

/// A view the kernel still names but this mount forgot ([`VIEWS_MAX`] newer views came).
fn stale_view(ino: u64) -> Error {
    Error::with_errno(
        Code::ResourceNotFound,
        format!("control file view {ino:#x} is no longer known; open the file again"),
        libc::ESTALE,
    )
}

impl ImageFs {
    /// What a lookup of control file `file` by `reader` answers, if it is a file that shows
    /// outcomes and has one: the reader's view. `None`: the file's own node (no outcome yet,
    /// or a file that shows its current value).
    pub(super) fn view_for(&self, file: Node, reader: Option<&Caller>) -> Option<Attr> {
        let tid = reader.map_or(0, |caller| caller.pid);
        let outcome = self.shown_outcome(file, tid)?;
        let serial = self.views.resolve(file, tid, outcome.clone());
        Some(self.view_attr(file, serial, &outcome))
    }

    fn view_attr(&self, file: Node, serial: u64, outcome: &Outcome) -> Attr {
        Attr {
            ino: view_ino(serial),
            ..self.attr(file, outcome.content.len() as u64, outcome.at)
        }
    }

    /// The view inode `ino` names, if it names one: its file and the outcome it shows.
    pub(super) fn view(&self, ino: u64) -> Option<Result<(Node, Outcome)>> {
        let serial = view_serial(ino)?;
        Some(self.views.get(serial).ok_or_else(|| stale_view(ino)))
    }

    /// A view's attributes.
    pub(super) fn view_getattr(&self, ino: u64) -> Option<Result<Attr>> {
        let serial = view_serial(ino)?;
        Some(
            self.view(ino)?
                .map(|(file, outcome)| self.view_attr(file, serial, &outcome)),
        )
    }

    /// The kernel dropped `lookups` lookups of inode `ino` (only views are counted: every
    /// other inode number names its node for the life of the mount).
    pub fn forget(&self, ino: u64, lookups: u64) {
        if let Some(serial) = view_serial(ino) {
            self.views.forget(serial, lookups);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::SystemTime;

    fn outcome(serial: u64) -> Outcome {
        Outcome {
            serial,
            content: Arc::from(&b"ins-1\n"[..]),
            at: SystemTime::UNIX_EPOCH,
        }
    }

    const LAUNCH: Node = Node::ImageFile(
        0,
        crate::model::ImageKind::Public,
        1,
        crate::fs::inode::ImageFile::Launch,
    );

    #[test]
    fn a_thread_keeps_its_view_while_its_outcome_stands() {
        let views = Views::default();
        let first = views.resolve(LAUNCH, 42, outcome(1));
        assert_eq!(views.resolve(LAUNCH, 42, outcome(1)), first);
        assert_ne!(
            views.resolve(LAUNCH, 43, outcome(1)),
            first,
            "another thread"
        );
        let newer = views.resolve(LAUNCH, 42, outcome(2));
        assert_ne!(newer, first, "a new outcome is a new inode");
        assert_eq!(views.get(first).map(|(_, o)| o.serial), Some(1));
    }

    #[test]
    fn a_write_through_a_view_shows_its_outcome_there() {
        let views = Views::default();
        let view = views.resolve(LAUNCH, 42, outcome(1));
        views.written(view, outcome(5));
        assert_eq!(views.get(view).map(|(_, o)| o.serial), Some(5));
        // The writer's next lookup finds it again.
        assert_eq!(views.resolve(LAUNCH, 42, outcome(5)), view);
    }

    #[test]
    fn views_go_when_the_kernel_forgets_them() {
        let views = Views::default();
        let view = views.resolve(LAUNCH, 42, outcome(1));
        views.resolve(LAUNCH, 42, outcome(1));
        views.forget(view, 1);
        assert!(views.get(view).is_some(), "one lookup still held");
        views.forget(view, 1);
        assert!(views.get(view).is_none());
        assert_ne!(views.resolve(LAUNCH, 42, outcome(1)), view);
        views.forget(12345, 3);
    }

    #[test]
    fn views_are_bounded_least_recently_used_first() {
        let views = Views::default();
        let first = views.resolve(LAUNCH, 0, outcome(1));
        for reader in 1..VIEWS_MAX as u32 {
            views.resolve(LAUNCH, reader, outcome(1));
        }
        // Looked up again: now the most recent.
        assert_eq!(views.resolve(LAUNCH, 0, outcome(1)), first);
        let second = views.resolve(LAUNCH, 1, outcome(1));
        views.resolve(LAUNCH, 1_000_000, outcome(1));
        let table = lock(&views.table);
        assert_eq!(table.views.len(), VIEWS_MAX);
        assert!(table.views.contains_key(&first));
        assert!(table.views.contains_key(&second));
        assert!(
            !table.views.contains_key(&(first + 2)),
            "the least used went"
        );
    }
}
