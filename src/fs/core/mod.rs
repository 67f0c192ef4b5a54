//! The filesystem's logic, free of FUSE: which nodes exist, their attributes, their contents,
//! the commands control files take, and what is refused. The FUSE adapter only translates;
//! tests drive this directly.
//!
//! Here: [`ImageFs`], its constructor, and the entry points that go by node kind (attributes,
//! lookup, listing, contents, reads, writes, `rmdir`, `readlink`), each a dispatcher to the
//! module of the node's kind:
//!
//! - `root`: `/`, `account.json`, `errors`, `regions/`;
//! - `region`: `regions/<r>/` and the region's files (`import` among them);
//! - `kind_dir`: `regions/<r>/<kind>/`, the images of a kind;
//! - `image`: an image's directory and files, and the commands written to them;
//! - `instance`: `instances/`, an instance's directory and files, and their commands;
//! - `by_name`: `regions/<r>/by-name/` and its links;
//! - `instance_by_name`: `regions/<r>/by-name/instances/`, its links and its names'
//!   directories.
//!
//! The mechanisms have a module each, which owns their state (a field of [`ImageFs`]):
//!
//! - `attributes`: what `stat` shows (permissions, versioned mtimes);
//! - `recent`: records read moments ago, serving the requests that follow (`recent`);
//! - `read_ahead`: images read, and image directories listed, ahead of a reader that goes
//!   through a kind in order (`read_ahead`, `listing_ahead`);
//! - `paging`: listings kept across the readdir requests of a pass or a handle (`paging`);
//! - `commands`: control files: a write's framing, command parsing, what a command makes
//!   stale and forgets, and its outcome (`commands`);
//! - `outcomes`: whose each outcome is, and which one a reader is shown (in `commands`);
//! - `views`: the inodes through which readers are shown their outcomes (`views`);
//! - `change_feed`: the backend's changes, as what the kernel must drop (`feed`);
//! - `poll`: what each file last showed a reader (`seen`);
//! - `refusals`: the `errors` file's log of refusals and failures (`refusals`).

mod attributes;
mod by_name;
mod change_feed;
mod commands;
mod families;
mod image;
mod instance;
mod instance_by_name;
mod kind_dir;
mod outcomes;
mod paging;
mod poll;
mod read_ahead;
mod recent;
mod refusals;
mod region;
mod root;
#[cfg(test)]
mod test_support;
mod views;

use std::ffi::OsStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;

use super::inode::{image_id, view_serial, Node, MAX_REGIONS};
use crate::error::{Code, Error, Result};
use crate::model::{ImageKind, InstanceId, Region};
use crate::service::{Caller, ImageService};

pub use attributes::{Attr, EntryKind};
pub use change_feed::Invalidation;

use change_feed::ChangeFeed;
use commands::CommandOutcomes;
use paging::Paging;
use poll::Seen;
use read_ahead::{ListingAhead, ReadAhead};
use recent::RecentRecords;
use refusals::RefusalLog;
use views::Views;

/// One entry of a directory listing, with its attributes (for readdirplus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub attr: Attr,
    /// A file's contents as rendered for the listing, with the [`ImageFs::epoch`] they
    /// were rendered in (for an image's or instance's files).
    pub content: Option<Rendered>,
}

/// Contents rendered in an epoch (see [`ImageFs::epoch`]).
pub type Rendered = (u64, Arc<Vec<u8>>);

/// What the kernel must drop after a command.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Inodes whose attributes and contents the command made stale.
    pub stale: Vec<u64>,
    /// Names (directory inode, name) the kernel must look up again.
    pub names: Vec<(u64, String)>,
}

/// Maps kept per inode hold at most this many entries; past it they start over, so memory
/// stays bounded whatever a user walks.
const PER_INODE_MAX: usize = 100_000;

/// The filesystem: one account's view of an image service.
pub struct ImageFs {
    service: Arc<dyn ImageService>,
    regions: Vec<Region>,
    mounted_at: SystemTime,
    /// Records read moments ago, and the epoch contents are rendered in.
    recent: RecentRecords,
    /// Where readers going through a kind in order are, and go next.
    read_ahead: ReadAhead,
    /// Image directories listed before the reader asks for them.
    listing_ahead: ListingAhead,
    /// Listings kept for the readdir requests that continue them.
    paging: Paging,
    /// What control files' commands produced, and the writes each file took.
    commands: CommandOutcomes,
    /// The inodes readers are shown their outcomes through.
    views: Views,
    /// Where this mount is in the backend's change feed.
    feed: ChangeFeed,
    /// What each file last showed a reader, for poll.
    seen: Seen,
    /// The recent refusals and failures of this mount, shown in `errors`.
    refusals: RefusalLog,
}

fn no_such(what: impl std::fmt::Display) -> Error {
    Error::with_errno(
        Code::ResourceNotFound,
        format!("{what} does not exist"),
        libc::ENOENT,
    )
}

fn pretty_json(value: &impl Serialize) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::internal(format!("cannot render JSON: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

fn line(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 1);
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    out
}

/// `size` bytes of `content` from `offset`, as much of them as there is.
fn slice(content: &[u8], offset: u64, size: u32) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(content.len());
    let end = start.saturating_add(size as usize).min(content.len());
    &content[start..end]
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single insert or push: a poisoned map is still valid.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl ImageFs {
    pub fn new(service: Arc<dyn ImageService>) -> Result<ImageFs> {
        let regions = service.regions()?;
        if regions.len() > MAX_REGIONS {
            return Err(Error::internal(format!(
                "the backend offers {} regions; imagefs shows at most {MAX_REGIONS}",
                regions.len()
            )));
        }
        let now = SystemTime::now();
        let feed = service.changes(None)?.map(|c| c.cursor);
        Ok(ImageFs {
            recent: RecentRecords::new(),
            read_ahead: ReadAhead::default(),
            listing_ahead: ListingAhead::default(),
            paging: Paging::new(),
            commands: CommandOutcomes::default(),
            views: Views::default(),
            feed: ChangeFeed::new(feed),
            seen: Seen::default(),
            refusals: RefusalLog::new(now),
            service,
            regions,
            mounted_at: now,
        })
    }

    fn region(&self, index: u8) -> Result<&Region> {
        self.regions
            .get(usize::from(index))
            .ok_or_else(|| no_such(format!("region #{index}")))
    }

    fn region_name(&self, index: u8) -> Result<&str> {
        Ok(self.region(index)?.region.as_str())
    }

    fn region_index(&self, name: &str) -> Option<u8> {
        self.regions
            .iter()
            .position(|r| r.region == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    fn node(&self, ino: u64) -> Result<Node> {
        let node = Node::from_ino(ino).ok_or_else(|| no_such(format!("inode {ino}")))?;
        if let Some(r) = node.region() {
            self.region(r)?;
        }
        Ok(node)
    }

    /// The node of an inode number (for a view, its control file's), for the adapter's
    /// refusals.
    pub fn node_of(&self, ino: u64) -> Result<Node> {
        match self.view(ino) {
            Some(view) => view.map(|(file, _)| file),
            None => self.node(ino),
        }
    }

    /// The node's path inside the mount, for messages and `errors`.
    pub fn path(&self, node: Node) -> String {
        let region = |r: u8| {
            self.regions
                .get(usize::from(r))
                .map(|x| x.region.as_str())
                .unwrap_or("?")
        };
        let image = |n: u64| image_id(n).map(|i| i.to_string()).unwrap_or_default();
        let instance = |n: u64| {
            InstanceId::from_number(n)
                .map(|i| i.to_string())
                .unwrap_or_default()
        };
        match node {
            Node::Root => "/".into(),
            Node::AccountJson => "/account.json".into(),
            Node::Errors => "/errors".into(),
            Node::Regions => "/regions".into(),
            Node::Region(r) => format!("/regions/{}", region(r)),
            Node::RegionFile(r, f) => format!("/regions/{}/{}", region(r), f.name()),
            Node::KindDir(r, k) => format!("/regions/{}/{}", region(r), k.dir_name()),
            Node::ImageDir(r, k, n) => {
                format!("/regions/{}/{}/{}", region(r), k.dir_name(), image(n))
            }
            Node::ImageFile(r, k, n, f) => format!(
                "/regions/{}/{}/{}/{}",
                region(r),
                k.dir_name(),
                image(n),
                f.name()
            ),
            Node::InstancesDir(r) => format!("/regions/{}/instances", region(r)),
            Node::InstanceDir(r, n) => format!("/regions/{}/instances/{}", region(r), instance(n)),
            Node::InstanceFile(r, n, f) => format!(
                "/regions/{}/instances/{}/{}",
                region(r),
                instance(n),
                f.name()
            ),
            Node::ByName(r) => format!("/regions/{}/by-name", region(r)),
            Node::ByNameKind(r, k) => format!("/regions/{}/by-name/{}", region(r), k.dir_name()),
            Node::NameLink(r, k, n) => {
                format!(
                    "/regions/{}/by-name/{}/({})",
                    region(r),
                    k.dir_name(),
                    image(n)
                )
            }
            Node::Families(r) => format!("/regions/{}/families", region(r)),
            Node::FamilyLink(r, n) => format!(
                "/regions/{}/families/({})",
                region(r),
                families::linked_image(n)
            ),
            Node::InstancesByName(r) => format!("/regions/{}/by-name/instances", region(r)),
            Node::InstanceNameLink(r, n) => {
                format!("/regions/{}/by-name/instances/({})", region(r), instance(n))
            }
            Node::InstanceNameDir(r, n) => format!(
                "/regions/{}/by-name/instances/{}",
                region(r),
                self.instance_name_dir_name(r, n)
            ),
            Node::InstanceNameDirLink(r, n) => format!(
                "/regions/{}/by-name/instances/{}/{}",
                region(r),
                self.instance_name_dir_name(r, n),
                instance(n)
            ),
        }
    }

    fn not_a_directory(&self, node: Node) -> Error {
        Error::with_errno(
            Code::InvalidParameter,
            format!("{} is not a directory", self.path(node)),
            libc::ENOTDIR,
        )
    }

    fn is_a_directory(&self, node: Node) -> Error {
        Error::with_errno(
            Code::InvalidParameter,
            format!("{} is a directory", self.path(node)),
            libc::EISDIR,
        )
    }

    /// The attributes of a node (or a view), checking that it exists.
    pub fn getattr(&self, ino: u64) -> Result<Attr> {
        if let Some(attr) = self.view_getattr(ino) {
            return attr;
        }
        let node = self.node(ino)?;
        self.attr_of(node)
    }

    fn attr_of(&self, node: Node) -> Result<Attr> {
        self.attr_and_content(node).map(|(attr, _)| attr)
    }

    /// A node's attributes and, for an image's file (whose size is its contents' length),
    /// the contents they were taken from, in the epoch they were rendered in.
    fn attr_and_content(&self, node: Node) -> Result<(Attr, Option<Rendered>)> {
        let attr = match node {
            // There as long as the mount is.
            Node::Root
            | Node::Regions
            | Node::Region(_)
            | Node::KindDir(..)
            | Node::InstancesDir(_)
            | Node::ByName(_)
            | Node::ByNameKind(..)
            | Node::Families(_)
            | Node::InstancesByName(_) => self.attr(node, 0, self.mounted_at),
            Node::AccountJson => self.account_attr()?,
            Node::Errors => self.errors_attr()?,
            Node::RegionFile(_, f) => self.region_file_attr(node, f)?,
            Node::ImageDir(r, kind, n) => self.image_dir_attr(node, r, kind, n)?,
            Node::ImageFile(r, kind, n, f) => return self.image_file_attr(node, r, kind, n, f),
            Node::InstanceDir(r, n) => self.instance_dir_attr(node, r, n)?,
            Node::InstanceFile(r, n, f) => self.instance_file_attr(node, r, n, f)?,
            Node::NameLink(r, kind, n) => self.name_link_attr(node, r, kind, n)?,
            Node::FamilyLink(r, n) => self.family_link_attr(r, n)?,
            Node::InstanceNameLink(r, n) | Node::InstanceNameDirLink(r, n) => {
                self.instance_name_link_attr(node, r, n)?
            }
            Node::InstanceNameDir(r, n) => self.instance_name_dir_attr(node, r, n)?,
        };
        Ok((attr, None))
    }

    /// The entry `name` in directory `parent`, as a reader with no command of its own finds
    /// it.
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr> {
        self.lookup_with_content(parent, name, None)
            .map(|(attr, _)| attr)
    }

    /// The entry `name` in directory `parent` as `caller` finds it (a control file with
    /// outcomes is found as the caller's view), with the contents of an image's file as
    /// rendered for its size.
    pub fn lookup_with_content(
        &self,
        parent: u64,
        name: &OsStr,
        caller: Option<&Caller>,
    ) -> Result<(Attr, Option<Rendered>)> {
        let parent = self.node(parent)?;
        let missing = || no_such(format!("{}/{}", self.path(parent), name.to_string_lossy()));
        let name = name.to_str().ok_or_else(missing)?;
        let child = match parent {
            Node::Root => root::child(name),
            Node::Regions => self.region_index(name).map(Node::Region),
            Node::Region(r) => region::child(r, name),
            Node::KindDir(r, kind) => kind_dir::child(r, kind, name),
            Node::ImageDir(r, kind, n) => image::child(r, kind, n, name),
            Node::InstancesDir(r) => instance::instances_child(r, name),
            Node::InstanceDir(r, n) => instance::child(r, n, name),
            Node::ByName(r) => by_name::kind_child(r, name),
            // A link's attributes come from the image it was found by.
            Node::ByNameKind(r, kind) => {
                let attr = self.lookup_link(r, kind, name)?.ok_or_else(missing)?;
                return Ok((attr, None));
            }
            Node::Families(r) => {
                let attr = self.lookup_family(r, name)?.ok_or_else(missing)?;
                return Ok((attr, None));
            }
            Node::InstancesByName(r) => {
                let attr = self.lookup_instance_link(r, name)?.ok_or_else(missing)?;
                return Ok((attr, None));
            }
            Node::InstanceNameDir(r, n) => {
                let attr = self
                    .lookup_in_instance_name_dir(r, n, name)?
                    .ok_or_else(missing)?;
                return Ok((attr, None));
            }
            Node::AccountJson
            | Node::Errors
            | Node::RegionFile(..)
            | Node::ImageFile(..)
            | Node::InstanceFile(..)
            | Node::NameLink(..)
            | Node::FamilyLink(..)
            | Node::InstanceNameLink(..)
            | Node::InstanceNameDirLink(..) => return Err(self.not_a_directory(parent)),
        };
        let child = child.ok_or_else(missing)?;
        let found = self.attr_and_content(child).map_err(|e| {
            if e.errno() == libc::ENOENT {
                missing()
            } else {
                e
            }
        })?;
        Ok(match self.view_for(child, caller) {
            Some(view) => (view, None),
            None => found,
        })
    }

    /// The entries of a directory, with their attributes, in a stable order.
    pub fn list(&self, ino: u64) -> Result<Vec<DirEntry>> {
        let node = self.node(ino)?;
        match node {
            Node::Root => self.list_root(),
            Node::Regions => self.list_regions(),
            Node::Region(r) => self.list_region(r),
            Node::KindDir(r, kind) => self.list_kind(r, kind),
            Node::ImageDir(r, kind, n) => self.list_image(r, kind, n),
            Node::InstancesDir(r) => self.list_instances(r),
            Node::InstanceDir(r, n) => self.list_instance(r, n),
            Node::ByName(r) => self.list_by_name(r),
            Node::ByNameKind(r, kind) => self.list_links(r, kind),
            Node::Families(r) => self.list_families(r),
            Node::InstancesByName(r) => self.list_instance_links(r),
            Node::InstanceNameDir(r, n) => self.list_instance_name_dir(r, n),
            Node::AccountJson
            | Node::Errors
            | Node::RegionFile(..)
            | Node::ImageFile(..)
            | Node::InstanceFile(..)
            | Node::NameLink(..)
            | Node::FamilyLink(..)
            | Node::InstanceNameLink(..)
            | Node::InstanceNameDirLink(..) => Err(self.not_a_directory(node)),
        }
    }

    /// An entry of a listing: `node`, named `name`, with its attributes.
    fn entry(&self, name: &str, node: Node) -> Result<DirEntry> {
        Ok(DirEntry {
            name: name.to_string(),
            attr: self.attr_of(node)?,
            content: None,
        })
    }

    /// Where a `by-name` symlink points: the image's directory.
    pub fn readlink(&self, ino: u64) -> Result<String> {
        match self.node(ino)? {
            Node::NameLink(r, kind, n) => self.link_text_of(r, kind, n),
            Node::FamilyLink(r, n) => self.family_link_text(r, n),
            Node::InstanceNameLink(r, n) => self.instance_link_text(r, n, false),
            Node::InstanceNameDirLink(r, n) => self.instance_link_text(r, n, true),
            node @ (Node::Root
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
            | Node::Families(_)
            | Node::InstancesByName(_)
            | Node::InstanceNameDir(..)) => Err(Error::with_errno(
                Code::InvalidParameter,
                format!("{} is not a symlink", self.path(node)),
                libc::EINVAL,
            )),
        }
    }

    /// The contents of a file node, as `cat` shows them now.
    pub fn render(&self, node: Node) -> Result<Vec<u8>> {
        match node {
            Node::AccountJson => self.render_account(),
            Node::Errors => Ok(self.refusals.render()),
            Node::RegionFile(r, f) => self.render_region_file(node, r, f),
            Node::ImageFile(r, kind, n, f) => Ok(self.image_file(r, kind, n, f)?.1),
            Node::InstanceFile(r, n, f) => self.render_instance(node, r, n, f),
            Node::Root
            | Node::Regions
            | Node::Region(_)
            | Node::KindDir(..)
            | Node::ImageDir(..)
            | Node::InstancesDir(_)
            | Node::InstanceDir(..)
            | Node::ByName(_)
            | Node::ByNameKind(..)
            | Node::NameLink(..)
            | Node::Families(_)
            | Node::FamilyLink(..)
            | Node::InstancesByName(_)
            | Node::InstanceNameLink(..)
            | Node::InstanceNameDir(..)
            | Node::InstanceNameDirLink(..) => Err(self.is_a_directory(node)),
        }
    }

    /// Reads a file: its contents now, or the outcome a view shows. Files are not opened
    /// (the kernel keeps what it read in its page cache until the contents change), so each
    /// read renders afresh.
    pub fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        if let Some(view) = self.view(ino) {
            return Ok(slice(&view?.1.content, offset, size).to_vec());
        }
        let node = self.node(ino)?;
        if node.is_dir() {
            return Err(self.is_a_directory(node));
        }
        let content = self.render(node)?;
        if offset == 0 {
            self.seen.remember(ino, &content);
        }
        Ok(slice(&content, offset, size).to_vec())
    }

    /// Bumped whenever this mount learns of a change (its own commands, the change feed):
    /// contents rendered in the current epoch are still the present.
    pub fn epoch(&self) -> u64 {
        self.recent.epoch()
    }

    /// A file's contents now, for handing to the kernel before it reads them (unlike
    /// [`ImageFs::read`], not what a reader saw).
    pub fn contents(&self, ino: u64) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        if node.is_dir() {
            return Ok(Vec::new());
        }
        self.render(node)
    }

    /// A write at the start of a file (or a view of one): one command, carried out now.
    /// Returns what the kernel must drop. A refusal is recorded in `errors`.
    pub fn write(&self, ino: u64, data: &[u8], caller: &Caller) -> Result<Written> {
        self.write_at(ino, data, 0, caller)
    }

    /// [`ImageFs::write`] at `offset`: where it matters (`tags`), a write past the start
    /// continues what the writes before it on the same open file began.
    pub fn write_at(&self, ino: u64, data: &[u8], offset: u64, caller: &Caller) -> Result<Written> {
        let (node, view) = match self.view(ino) {
            Some(view) => (view?.0, view_serial(ino)),
            None => (self.node(ino)?, None),
        };
        self.listing_ahead.note_write();
        let result = self.write_node(node, data, offset, caller, view);
        self.listing_ahead.note_write();
        result
    }

    /// `rmdir name` in `parent`: terminating an instance or deleting a custom image; anything
    /// else is refused. Returns the inodes whose cached attributes it made stale.
    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<Vec<u64>> {
        let parent_node = self.node(parent)?;
        let path = format!("{}/{}", self.path(parent_node), name.to_string_lossy());
        let result = match parent_node {
            Node::InstancesDir(r) => self.terminate_instance(r, name, &path),
            Node::KindDir(r, ImageKind::Custom) => self.delete_image(r, name, &path),
            Node::Root
            | Node::AccountJson
            | Node::Errors
            | Node::Regions
            | Node::Region(_)
            | Node::RegionFile(..)
            | Node::KindDir(..)
            | Node::ImageDir(..)
            | Node::ImageFile(..)
            | Node::InstanceDir(..)
            | Node::InstanceFile(..)
            | Node::ByName(_)
            | Node::ByNameKind(..)
            | Node::NameLink(..)
            | Node::Families(_)
            | Node::FamilyLink(..) => return Err(self.refuse("rmdir", parent_node, Some(name))),
            Node::InstancesByName(_)
            | Node::InstanceNameLink(..)
            | Node::InstanceNameDir(..)
            | Node::InstanceNameDirLink(..) => {
                return Err(self.refuse("rmdir", parent_node, Some(name)))
            }
        };
        match &result {
            Ok(_) => self.recent.forget_all(),
            Err(e) => self.record("rmdir", &path, e),
        }
        let mut stale = result?;
        if let Some(r) = parent_node.region() {
            stale.extend(Self::listing_dirs(r));
        }
        Ok(stale)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{cat, fs, walk};
    use super::*;

    #[test]
    fn paths_resolve_to_their_contents() {
        let (_dir, fs) = fs();
        assert_eq!(
            cat(&fs, "regions/ap-guangzhou/public/img-9qabwvbn/state").expect("test value"),
            "NORMAL\n"
        );
        let account = cat(&fs, "account.json").expect("test value");
        assert!(
            account.contains("\"AccountId\": \"100000000001\""),
            "{account}"
        );
        let region = walk(&fs, "regions/ap-guangzhou").expect("test value");
        assert_eq!(region.kind, EntryKind::Directory);
        assert_eq!(
            fs.path(Node::from_ino(region.ino).expect("test value")),
            "/regions/ap-guangzhou"
        );
    }

    #[test]
    fn reads_honour_offset_and_size() {
        let (_dir, fs) = fs();
        let attr = walk(&fs, "regions/ap-guangzhou/public/img-9qabwvbn/state").expect("test value");
        assert_eq!(fs.read(attr.ino, 1, 3).expect("test value"), b"ORM");
        assert_eq!(fs.read(attr.ino, 100, 3).expect("test value"), b"");
        assert_eq!(
            fs.read(attr.ino, u64::MAX, u32::MAX).expect("test value"),
            b""
        );
        let dir = walk(&fs, "regions/ap-guangzhou/public").expect("test value");
        assert_eq!(fs.read(dir.ino, 0, 1).unwrap_err().errno(), libc::EISDIR);
    }

    #[test]
    fn listings_carry_the_attributes_lookup_gives() {
        let (_dir, fs) = fs();
        let image = walk(&fs, "regions/ap-guangzhou/public/img-9qabwvbn").expect("test value");
        for entry in fs.list(image.ino).expect("test value") {
            let looked_up = fs
                .lookup(image.ino, OsStr::new(&entry.name))
                .expect("test value");
            assert_eq!(entry.attr, looked_up, "{}", entry.name);
        }
        let public = walk(&fs, "regions/ap-guangzhou/public").expect("test value");
        let entries = fs.list(public.ino).expect("test value");
        let centos = entries
            .iter()
            .find(|e| e.name == "img-9qabwvbn")
            .expect("test value");
        assert_eq!(centos.attr, image);
    }

    #[test]
    fn unknown_names_and_bad_inodes_are_enoent() {
        let (_dir, fs) = fs();
        for path in [
            "nope",
            "regions/nowhere",
            "regions/ap-guangzhou/public/img-zzzzzzzz",
            "regions/ap-guangzhou/public/../public",
            "regions/ap-guangzhou/custom/img-9qabwvbn",
        ] {
            assert_eq!(walk(&fs, path).unwrap_err().errno(), libc::ENOENT, "{path}");
        }
        assert_eq!(fs.getattr(0).unwrap_err().errno(), libc::ENOENT);
        assert_eq!(
            fs.getattr(Node::Region(63).ino()).unwrap_err().errno(),
            libc::ENOENT
        );
        let file = walk(&fs, "account.json").expect("test value");
        assert_eq!(
            fs.lookup(file.ino, OsStr::new("x")).unwrap_err().errno(),
            libc::ENOTDIR
        );
    }
}
