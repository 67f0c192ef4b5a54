//! Whose a control file's outcome is. A command's outcome belongs to the thread that wrote
//! it, to that thread's process, and to the process's parent (the shell that ran
//! `cmd > file`). A reader is shown the nearest one: its own thread's, its process's, its
//! parent's, grandparent's, ... and else the file's last outcome, whoever wrote it. So
//! `echo 1 > launch && cat launch` shows what that `echo` made while other scripts write the
//! same file (`echo` is a builtin: the writer is the shell, `cat` its child), the way the
//! kernel's transaction files (`simple_transaction_get` in fs/libfs.c) answer a request to
//! whoever wrote it.
//!
//! Threads and processes are known by their ID and their start time (`/proc/<id>/stat`), so
//! an ID the kernel hands out again never inherits a stranger's outcome. The book is bounded
//! ([`OWNED_MAX`] entries of owners, [`FILES_MAX`] files) and an owner's entry expires after
//! [`OWNED_LIFE`], so memory cannot grow with the processes that come and go.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Entries of owners (thread, process or parent, per file) kept at most, across all files.
pub(super) const OWNED_MAX: usize = 4096;

/// How long an owner's outcome is kept after its command.
pub(super) const OWNED_LIFE: Duration = Duration::from_secs(3600);

/// Files whose outcomes are kept at most; past it, the one whose last command is oldest is
/// forgotten.
const FILES_MAX: usize = 100_000;

/// Ancestors looked through at most (a loop in `/proc` would otherwise never end).
const ANCESTRY_MAX: usize = 64;

/// What one command produced, shown when its file is read. A refused command produced
/// nothing: its outcome is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Unique among the outcomes of a mount.
    pub serial: u64,
    pub content: Arc<[u8]>,
    /// When the command ran; distinct for every outcome of a mount (it is the mtime of the
    /// views that show the outcome, and a new one makes the kernel drop their pages).
    pub at: SystemTime,
}

/// Whom an outcome belongs to: a thread or a process, with its start time (clock ticks
/// since boot), which a recycled ID does not share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Owner {
    Thread { tid: u32, start: u64 },
    Process { pid: u32, start: u64 },
}

/// What the system says of a task (a thread, or a process's main thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Task {
    /// The parent process (of the thread's process, for a thread); 0 for init.
    pub parent: u32,
    /// Start time, in clock ticks since boot.
    pub start: u64,
}

/// Where threads and processes are looked up: `/proc`, or a made-up table in tests.
pub(super) trait Tasks {
    /// The process (thread group) of thread `tid`.
    fn process_of(&self, tid: u32) -> Option<u32>;
    /// Thread or process `id`.
    fn task(&self, id: u32) -> Option<Task>;
}

/// The running system's tasks, from `/proc`.
pub(super) struct ProcTasks;

impl Tasks for ProcTasks {
    fn process_of(&self, tid: u32) -> Option<u32> {
        // Most writers and readers are a process's main thread, whose ID is the process's:
        // `pidfd_open` takes only those, and costs far less than the kernel's rendering of
        // `status` (signal masks, memory, ...), which is read for other threads.
        if leads_its_process(tid) {
            return Some(tid);
        }
        let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("Tgid:"))
            .and_then(|value| value.trim().parse().ok())
    }

    fn task(&self, id: u32) -> Option<Task> {
        parse_stat(&std::fs::read_to_string(format!("/proc/{id}/stat")).ok()?)
    }
}

/// Whether thread `tid` is its process's main thread (`pidfd_open` refuses other threads).
fn leads_its_process(tid: u32) -> bool {
    let Ok(tid) = libc::pid_t::try_from(tid) else {
        return false;
    };
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1; the
    // descriptor is ours, closed at once.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, 0) };
    match libc::c_int::try_from(fd) {
        Ok(fd) if fd >= 0 => {
            // SAFETY: `fd` was just opened here and is closed once.
            unsafe { libc::close(fd) };
            true
        }
        _ => false,
    }
}

/// The parent and start time in a `/proc/<id>/stat` line.
fn parse_stat(stat: &str) -> Option<Task> {
    // `pid (comm) state ppid ...`: the command name may hold spaces and parentheses, so
    // fields are counted from the last `)`. After it come field 3 (state), field 4 (ppid),
    // ..., field 22 (starttime).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Task {
        parent: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Whom a command written by thread `tid` belongs to: the thread, its process, and the
/// process's parent. Empty when the thread cannot be looked up (a request of the kernel's
/// own, a process hidden from this one): then only the file's last outcome records it.
pub(super) fn owners_of(tasks: &dyn Tasks, tid: u32) -> Vec<Owner> {
    let mut owners = Vec::with_capacity(3);
    let Some((pid, thread)) = (tid != 0)
        .then(|| tasks.process_of(tid).zip(tasks.task(tid)))
        .flatten()
    else {
        return owners;
    };
    owners.push(Owner::Thread {
        tid,
        start: thread.start,
    });
    let process = if pid == tid {
        Some(thread)
    } else {
        tasks.task(pid)
    };
    let Some(process) = process else {
        return owners;
    };
    owners.push(Owner::Process {
        pid,
        start: process.start,
    });
    if process.parent != 0 {
        if let Some(parent) = tasks.task(process.parent) {
            owners.push(Owner::Process {
                pid: process.parent,
                start: parent.start,
            });
        }
    }
    owners
}

/// The first of a reader's owners, nearest first, for which `find` finds something: thread
/// `tid`, its process, then the process's parent, grandparent, ... up to init.
pub(super) fn nearest<T>(
    tasks: &dyn Tasks,
    tid: u32,
    mut find: impl FnMut(Owner) -> Option<T>,
) -> Option<T> {
    if tid == 0 {
        return None;
    }
    let pid = tasks.process_of(tid)?;
    let thread = tasks.task(tid)?;
    if let Some(found) = find(Owner::Thread {
        tid,
        start: thread.start,
    }) {
        return Some(found);
    }
    let (mut id, mut task) = (pid, if pid == tid { thread } else { tasks.task(pid)? });
    for _ in 0..ANCESTRY_MAX {
        if let Some(found) = find(Owner::Process {
            pid: id,
            start: task.start,
        }) {
            return Some(found);
        }
        if task.parent == 0 {
            break;
        }
        id = task.parent;
        task = tasks.task(id)?;
    }
    None
}

/// One file's outcomes: its last, and each owner's.
struct FileOutcomes {
    last: Outcome,
    by_owner: HashMap<Owner, (Outcome, Instant)>,
}

/// The outcomes of the commands written to control files through this mount.
#[derive(Default)]
pub(super) struct OutcomeBook {
    /// By the file's inode number.
    files: HashMap<u64, FileOutcomes>,
    /// Entries of owners, over all files.
    owned: usize,
    serial: u64,
    last_at: Option<SystemTime>,
}

impl OutcomeBook {
    /// Whether file `ino` shows outcomes now (a command was written to it and is kept).
    pub(super) fn has_outcomes(&self, ino: u64) -> bool {
        self.files.contains_key(&ino)
    }

    /// Whether some owner's outcome of file `ino` is kept (else every reader sees its last).
    pub(super) fn has_owners(&self, ino: u64) -> bool {
        self.files
            .get(&ino)
            .is_some_and(|file| !file.by_owner.is_empty())
    }

    /// The outcome of the last command written to file `ino`.
    pub(super) fn last(&self, ino: u64) -> Option<Outcome> {
        self.files.get(&ino).map(|file| file.last.clone())
    }

    /// The outcome of `owner`'s last command to file `ino`, unless it expired.
    pub(super) fn owned(&self, ino: u64, owner: Owner, now: Instant) -> Option<Outcome> {
        let (outcome, at) = self.files.get(&ino)?.by_owner.get(&owner)?;
        (now.saturating_duration_since(*at) < OWNED_LIFE).then(|| outcome.clone())
    }

    /// Records a command written to file `ino` that produced `content` (empty when it was
    /// refused), as the file's last and as each of `owners`'s own.
    pub(super) fn record(
        &mut self,
        ino: u64,
        owners: &[Owner],
        content: Vec<u8>,
        now: Instant,
    ) -> Outcome {
        let outcome = self.next_outcome(content);
        if !self.files.contains_key(&ino) && self.files.len() >= FILES_MAX {
            self.forget_oldest_file();
        }
        let fresh = || FileOutcomes {
            last: outcome.clone(),
            by_owner: HashMap::new(),
        };
        self.files.entry(ino).or_insert_with(fresh).last = outcome.clone();
        for &owner in owners {
            let known = self
                .files
                .get(&ino)
                .is_some_and(|file| file.by_owner.contains_key(&owner));
            if !known && self.owned >= OWNED_MAX {
                self.make_room(now);
            }
            if let Some(file) = self.files.get_mut(&ino) {
                if file
                    .by_owner
                    .insert(owner, (outcome.clone(), now))
                    .is_none()
                {
                    self.owned += 1;
                }
            }
        }
        outcome
    }

    fn next_outcome(&mut self, content: Vec<u8>) -> Outcome {
        self.serial += 1;
        let mut at = SystemTime::now();
        if let Some(last) = self.last_at.filter(|&last| at <= last) {
            at = last + Duration::from_nanos(1);
        }
        self.last_at = Some(at);
        Outcome {
            serial: self.serial,
            content: content.into(),
            at,
        }
    }

    /// Drops the expired entries of owners and, if that freed none, the oldest.
    fn make_room(&mut self, now: Instant) {
        let before = self.owned;
        for file in self.files.values_mut() {
            file.by_owner
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < OWNED_LIFE);
        }
        self.owned = self.files.values().map(|f| f.by_owner.len()).sum();
        if self.owned < before {
            return;
        }
        let oldest = self
            .files
            .iter()
            .flat_map(|(&ino, file)| file.by_owner.iter().map(move |(&o, (_, at))| (*at, ino, o)))
            .min_by_key(|&(at, _, _)| at);
        if let Some((_, ino, owner)) = oldest {
            if let Some(file) = self.files.get_mut(&ino) {
                file.by_owner.remove(&owner);
                self.owned -= 1;
            }
        }
    }

    fn forget_oldest_file(&mut self) {
        let oldest = self
            .files
            .iter()
            .min_by_key(|(_, file)| file.last.at)
            .map(|(&ino, _)| ino);
        if let Some(file) = oldest.and_then(|ino| self.files.remove(&ino)) {
            self.owned -= file.by_owner.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up process tree: id -> (process, parent, start).
    struct Table(HashMap<u32, (u32, u32, u64)>);

    impl Tasks for Table {
        fn process_of(&self, tid: u32) -> Option<u32> {
            self.0.get(&tid).map(|&(pid, _, _)| pid)
        }
        fn task(&self, id: u32) -> Option<Task> {
            self.0
                .get(&id)
                .map(|&(_, parent, start)| Task { parent, start })
        }
    }

    /// init (1) - shell (100) - script shell (200, threads 201 and 202) - cat (300).
    fn tree() -> Table {
        Table(HashMap::from([
            (1, (1, 0, 1)),
            (100, (100, 1, 10)),
            (200, (200, 100, 20)),
            (201, (200, 100, 21)),
            (202, (200, 100, 22)),
            (300, (300, 200, 30)),
        ]))
    }

    fn process(pid: u32, start: u64) -> Owner {
        Owner::Process { pid, start }
    }

    #[test]
    fn stat_lines_are_read_after_the_command_name() {
        let line = "4242 (a (b) c) S 4200 4242 4242 0 -1 4194560 99 0 0 0 0 0 0 0 20 0 1 0 \
                    123456 1000 200 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Task {
                parent: 4200,
                start: 123456
            })
        );
        assert_eq!(parse_stat("4242 (truncated) S 1"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn this_process_is_found_in_proc() {
        let tasks = ProcTasks;
        let pid = std::process::id();
        assert_eq!(tasks.process_of(pid), Some(pid));
        // Another thread of this process: not its main thread, yet of this process.
        let (leads, process) = std::thread::spawn(|| {
            // SAFETY: gettid takes nothing and cannot fail.
            let tid = u32::try_from(unsafe { libc::gettid() }).expect("tid");
            (leads_its_process(tid), ProcTasks.process_of(tid))
        })
        .join()
        .expect("thread");
        assert!(!leads);
        assert_eq!(process, Some(pid));
        assert!(leads_its_process(pid));
        assert_eq!(tasks.process_of(u32::MAX), None);
        let owners = owners_of(&tasks, pid);
        assert!(
            matches!(owners.as_slice(), [Owner::Thread { .. }, Owner::Process { pid: p, .. }, Owner::Process { .. }] if *p == pid),
            "{owners:?}"
        );
        let mine = owners[1];
        assert_eq!(
            nearest(&tasks, pid, |o| (o == mine).then_some(o)),
            Some(mine)
        );
    }

    #[test]
    fn a_command_belongs_to_its_thread_its_process_and_the_parent() {
        let owners = owners_of(&tree(), 201);
        assert_eq!(
            owners,
            vec![
                Owner::Thread {
                    tid: 201,
                    start: 21
                },
                process(200, 20),
                process(100, 10)
            ]
        );
        assert!(owners_of(&tree(), 0).is_empty());
        assert!(owners_of(&tree(), 999).is_empty());
    }

    #[test]
    fn readers_look_from_their_thread_up_to_init() {
        let mut asked = Vec::new();
        let found = nearest(&tree(), 300, |o| {
            asked.push(o);
            None::<()>
        });
        assert_eq!(found, None);
        assert_eq!(
            asked,
            vec![
                Owner::Thread {
                    tid: 300,
                    start: 30
                },
                process(300, 30),
                process(200, 20),
                process(100, 10),
                process(1, 1)
            ]
        );
        // The nearest wins: cat reads what its shell wrote, not what the login shell did.
        let found = nearest(&tree(), 300, |o| {
            matches!(o, Owner::Process { pid: 200 | 100, .. }).then_some(o)
        });
        assert_eq!(found, Some(process(200, 20)));
    }

    #[test]
    fn the_nearest_owner_with_an_outcome_is_shown_else_the_last() {
        let now = Instant::now();
        let mut book = OutcomeBook::default();
        let mine = book.record(7, &owners_of(&tree(), 200), b"ins-mine\n".to_vec(), now);
        let theirs = book.record(7, &[process(500, 50)], b"ins-theirs\n".to_vec(), now);
        let shown = |tid| nearest(&tree(), tid, |o| book.owned(7, o, now)).or_else(|| book.last(7));
        assert_eq!(shown(300), Some(mine.clone()), "cat, child of the writer");
        assert_eq!(shown(202), Some(mine), "another thread of the writer");
        assert_eq!(
            shown(1),
            Some(theirs.clone()),
            "no command of its own: the last"
        );
        assert_eq!(book.last(7), Some(theirs));
        assert!(!book.has_outcomes(8));
    }

    #[test]
    fn a_refused_command_hides_the_earlier_outcome_of_its_owner() {
        let now = Instant::now();
        let mut book = OutcomeBook::default();
        let owner = process(200, 20);
        book.record(7, &[owner], b"img-1\n".to_vec(), now);
        let refused = book.record(7, &[owner], Vec::new(), now);
        assert_eq!(book.owned(7, owner, now), Some(refused.clone()));
        assert!(refused.content.is_empty());
        assert_eq!(book.last(7), Some(refused));
    }

    #[test]
    fn a_recycled_id_does_not_inherit_an_outcome() {
        let now = Instant::now();
        let mut book = OutcomeBook::default();
        book.record(7, &[process(200, 20)], b"ins-old\n".to_vec(), now);
        // The same pid, started later: another process.
        assert_eq!(book.owned(7, process(200, 99), now), None);
        let reused = Table(HashMap::from([(200, (200, 1, 99)), (1, (1, 0, 1))]));
        assert_eq!(nearest(&reused, 200, |o| book.owned(7, o, now)), None);
    }

    #[test]
    fn owners_outcomes_expire() {
        let now = Instant::now();
        let mut book = OutcomeBook::default();
        let owner = process(200, 20);
        let kept = book.record(7, &[owner], b"ins-1\n".to_vec(), now);
        let almost = now + OWNED_LIFE - Duration::from_secs(1);
        assert_eq!(book.owned(7, owner, almost), Some(kept.clone()));
        assert_eq!(book.owned(7, owner, now + OWNED_LIFE), None);
        // The file's last outcome stays.
        assert_eq!(book.last(7), Some(kept));
    }

    #[test]
    fn owners_entries_are_bounded_expired_and_oldest_first() {
        let start = Instant::now();
        let mut book = OutcomeBook::default();
        for i in 0..OWNED_MAX as u32 {
            let at = start + Duration::from_millis(u64::from(i));
            book.record(u64::from(i % 3), &[process(i + 2, 0)], vec![b'x'], at);
        }
        assert_eq!(book.owned, OWNED_MAX);
        // Full: the oldest entry goes.
        let later = start + Duration::from_secs(10);
        book.record(0, &[process(1, 0)], vec![b'y'], later);
        assert_eq!(book.owned, OWNED_MAX);
        assert_eq!(book.owned(0, process(2, 0), later), None, "the oldest");
        assert!(book.owned(1, process(3, 0), later).is_some());
        // Once they expired, all of them go at once.
        let much_later = start + OWNED_LIFE + Duration::from_secs(20);
        book.record(0, &[process(1, 1)], vec![b'z'], much_later);
        assert_eq!(book.owned, 1);
        // Writing again as the same owner takes no room.
        book.record(0, &[process(1, 1)], vec![b'w'], much_later);
        assert_eq!(book.owned, 1);
    }

    #[test]
    fn outcomes_are_distinct_in_serial_and_time() {
        let now = Instant::now();
        let mut book = OutcomeBook::default();
        let a = book.record(1, &[], Vec::new(), now);
        let b = book.record(1, &[], Vec::new(), now);
        assert!(b.serial > a.serial);
        assert!(b.at > a.at);
    }
}
