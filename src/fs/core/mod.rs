//! The filesystem's logic, free of FUSE: which nodes exist, their attributes, their contents,
//! the commands control files take, and what is refused. The FUSE adapter only translates;
//! tests drive this directly.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::inode::{image_id, ImageFile, InstanceFile, Node, RegionFile, MAX_REGIONS};
use crate::error::{Error, Result};
use crate::model::{
    format_api_time, parse_api_time, AccountId, CreateImageSpec, ImageId, ImageKind,
    ImportImageSpec, InstanceId, LaunchSpec, Region,
};
use crate::service::{Caller, ImageService};

/// Lines kept in `errors`.
const ERROR_LOG_LINES: usize = 100;

/// The longest command. The kernel hands a longer write(2) over in pieces, which would run as
/// separate commands; refusing it whole keeps every write one command, all or nothing.
const MAX_COMMAND: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    File,
    Symlink,
}

/// What `stat` shows of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: EntryKind,
    pub size: u64,
    pub perm: u16,
    pub mtime: SystemTime,
}

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

/// A listing and when it was taken.
type Listing = (Instant, Arc<Vec<DirEntry>>);

/// An image directory's listing made before the reader asked for it (see
/// [`ImageFs::prepare_following`]).
struct Prepared {
    made: Instant,
    /// [`ImageFs::cache_state`] before the listing was made: if it moved since, something
    /// the listing shows may have changed.
    state: [u64; 5],
    entries: Arc<Vec<DirEntry>>,
}

/// Listings made ahead kept at once (the reader takes each within moments).
const PREPARED_MAX: usize = 16;

/// What the kernel must forget because the backend changed underneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A file's or directory's attributes and cached contents.
    Inode(u64),
    /// The name `name` in directory `parent` (an image or instance that may be gone).
    Entry { parent: u64, name: String },
    /// Anything: the change feed lost track.
    Everything,
}

/// Images read from the backend per readdir request of an image kind's directory: a little
/// more than one READDIRPLUS reply holds (about 190).
const LISTING_PAGE: usize = 256;

/// How long a listing serves the rest of a readdir pass over an unopened directory.
const PASS_LIFETIME: Duration = Duration::from_secs(5);

/// Unopened directories whose listing is kept at once.
const PASSES_MAX: usize = 64;

/// Links named for one request of a `by-name/<kind>/` listing: about what the kernel's
/// 4 KiB readdirplus buffer holds (each link costs a look at the images sharing its name,
/// and what does not fit is named again for the next request).
const LINK_PAGE: usize = 32;

/// Maps kept per inode hold at most this many entries; past it they start over, so memory
/// stays bounded whatever a user walks.
const PER_INODE_MAX: usize = 100_000;

/// The recent refusals and failures of this mount, shown in `errors`.
struct ErrorLog {
    lines: VecDeque<String>,
    changed: SystemTime,
}

/// How long a record read from the backend serves further requests. One `cat` or `ls -l`
/// makes several (lookup, getattr, open) that need the same record; well under the kernel's
/// one-second TTL, so changes made elsewhere still show within about a second.
const RECENT: Duration = Duration::from_millis(500);

/// Images read with a missed one when misses come in order: enough to spare most reads of
/// a glob's lookups, few enough to cost little when the order was chance.
const READ_AHEAD: usize = 64;

/// How soon after the previous miss one counts as following it.
const IN_ORDER_WITHIN: Duration = Duration::from_millis(50);

/// Records kept at most; past this the cache starts over (memory stays bounded).
const RECENT_MAX: usize = 4096;

type ImageKey = (u8, ImageKind, u64);

/// An image, with the accounts it is shared with when they were read with it.
type ImageAndShares = (
    Arc<crate::model::Image>,
    Option<Vec<crate::model::AccountId>>,
);

/// Records read within the last [`RECENT`], by key (an image, or a kind of images).
struct Recent<V, K = ImageKey> {
    entries: Mutex<HashMap<K, (Instant, Arc<V>)>>,
    /// Bumped by every clear: a record loaded before a clear is not put back after it.
    generation: AtomicU64,
}

impl<V, K: std::hash::Hash + Eq> Recent<V, K> {
    fn new() -> Self {
        Recent {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn get_or(&self, key: K, load: impl FnOnce() -> Result<V>) -> Result<Arc<V>> {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        // Loaded without the lock held: a backend call never blocks other requests here.
        let generation = self.generation();
        let value = Arc::new(load()?);
        self.put(key, value.clone(), generation);
        Ok(value)
    }

    /// The record, if read recently.
    fn get(&self, key: &K) -> Option<Arc<V>> {
        lock(&self.entries)
            .get(key)
            .filter(|(at, _)| at.elapsed() < RECENT)
            .map(|(_, value)| value.clone())
    }

    /// Where the cache stands before a record is loaded, for [`Recent::put`].
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps a record loaded when the cache stood at `generation`, unless something was
    /// forgotten since (the record may predate the change that caused it).
    fn put(&self, key: K, value: Arc<V>, generation: u64) {
        let mut entries = lock(&self.entries);
        if self.generation.load(Ordering::Acquire) == generation {
            if entries.len() >= RECENT_MAX {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    fn forget(&self, key: &K) {
        let mut entries = lock(&self.entries);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    fn clear(&self) {
        let mut entries = lock(&self.entries);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// Whether an image's `by-name` link carries its ImageId: its name is shared by other
/// images of the kind (`same_name` counts them all), or cannot be a file name.
fn link_needs_suffix(e: &crate::model::ImageEntry, same_name: usize) -> bool {
    let name = e.image_name.as_str();
    let usable = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0']);
    !usable || same_name != 1
}

/// `<name>.<ImageId>`, `/` and NUL replaced by `_` (`image.<ImageId>` when nothing is left).
fn suffixed_link(e: &crate::model::ImageEntry) -> String {
    let cleaned = e.image_name.replace(['/', '\0'], "_");
    let base = if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "image".to_string()
    } else {
        cleaned
    };
    format!("{base}.{}", e.image_id)
}

/// The `by-name` links of one kind in one region, and where each name is.
struct LinkTable {
    list: Vec<(String, crate::model::ImageEntry)>,
    index: HashMap<String, usize>,
}

/// The filesystem: one account's view of an image service.
pub struct ImageFs {
    /// `by-name` tables computed within the last [`RECENT`]: each lookup of a link would
    /// otherwise list the whole kind.
    links: Recent<LinkTable, (u8, ImageKind)>,
    epoch: AtomicU64,
    images: Recent<crate::model::Image>,
    prices: Recent<crate::model::Price>,
    /// The last image missed in each kind's recent records, and when (see `in_order`).
    misses: Mutex<HashMap<(u8, ImageKind), (u64, Instant)>>,
    /// Share lists of custom images read recently (forgotten by every share and unshare).
    shares: Recent<Vec<crate::model::AccountId>>,
    service: Arc<dyn ImageService>,
    regions: Vec<Region>,
    mounted_at: SystemTime,
    errors: Mutex<ErrorLog>,
    /// What each control file's last command produced, shown when it is read.
    outcomes: Mutex<HashMap<u64, (Vec<u8>, SystemTime)>>,
    /// Directory listings taken at opendir, by handle.
    handles: Mutex<HashMap<u64, Arc<Vec<DirEntry>>>>,
    /// Listings of directories read without opening, by inode, for the pass under way.
    passes: Mutex<HashMap<u64, Listing>>,
    next_handle: AtomicU64,
    /// Writes taken by each control file: part of its version, so a write always changes the
    /// file's mtime (the kernel then drops any page the write went through).
    writes: Mutex<HashMap<u64, u64>>,
    /// A hash of what each file last showed a reader, for poll.
    seen: Mutex<HashMap<u64, u64>>,
    /// Where this mount is in the backend's change feed (`None`: the backend has none).
    feed: Mutex<Option<crate::service::ChangeCursor>>,
    /// Image directories' listings made ahead of the reader, by inode.
    prepared: Mutex<HashMap<u64, Prepared>>,
    /// The image that follows each image of a kind in ImageId order, as last read: where a
    /// reader going through a kind's directories in order (`grep -r`, `find`) goes next.
    following: Mutex<HashMap<ImageKey, u64>>,
    /// Moves as every write begins and as it ends: a listing made meanwhile may miss its
    /// effect (a write that fails changes no record, but still versions its file).
    write_marks: AtomicU64,
    /// The directory whose listing was made ahead last (see `prepare_following`).
    last_prepared: Mutex<Option<u64>>,
    /// Listings made ahead, and those a reader's request found ready (for the counts the
    /// daemon logs).
    listed_ahead: AtomicU64,
    found_ready: AtomicU64,
}

fn no_such(what: impl std::fmt::Display) -> Error {
    Error::with_errno(
        "ResourceNotFound",
        format!("{what} does not exist"),
        libc::ENOENT,
    )
}

/// `share`: one account a line.
fn share_list(accounts: &[crate::model::AccountId]) -> Vec<u8> {
    let mut out = String::new();
    for account in accounts {
        out.push_str(account.as_str());
        out.push('\n');
    }
    out.into_bytes()
}

fn content_hash(content: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut h);
    h.finish()
}

fn remember(map: &Mutex<HashMap<u64, u64>>, key: u64, value: u64) {
    let mut map = lock(map);
    if map.len() >= PER_INODE_MAX {
        map.clear();
    }
    map.insert(key, value);
}

fn stale_handle() -> Error {
    Error::with_errno("InvalidParameter", "unknown file handle", libc::EBADF)
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single insert or push: a poisoned map is still valid.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The text of one command: UTF-8, with one trailing newline removed.
fn command_text(data: &[u8]) -> Result<&str> {
    let text = std::str::from_utf8(data)
        .map_err(|_| Error::new("InvalidParameter", "a command must be UTF-8 text"))?;
    Ok(match text.strip_suffix('\n') {
        Some(line) => line.strip_suffix('\r').unwrap_or(line),
        None => text,
    })
}

fn json_command<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            "InvalidParameter",
            format!("{what}: not a valid JSON request: {e}"),
        )
    })
}

/// The values of a list command (`share`, `unshare`, `copy_to`): separated by whitespace or
/// commas.
fn list_values(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|v| !v.is_empty())
        .collect()
}

/// `launch`: a count, or a JSON RunInstances spec.
fn parse_launch(text: &str) -> Result<LaunchSpec> {
    let text = text.trim();
    if text.starts_with('{') {
        return json_command(text, "launch");
    }
    if text.is_empty() {
        return Err(Error::new(
            "InvalidParameter",
            "launch takes a count (1 to 100) or a JSON RunInstances spec; nothing was written",
        ));
    }
    let count: i64 = text.parse().map_err(|_| {
        Error::new(
            "InvalidParameterValue",
            format!(
                "launch takes a count (1 to 100) or a JSON RunInstances spec, not `{}`",
                text.chars().take(40).collect::<String>()
            ),
        )
    })?;
    Ok(LaunchSpec {
        instance_count: Some(count),
        ..LaunchSpec::default()
    })
}

/// `create_image`: an image name (the whole text, spaces included), or a JSON CreateImage spec.
fn parse_create_image(text: &str) -> Result<CreateImageSpec> {
    // JSON only when the text starts with `{`: any other text, spaces first included, is a name.
    if text.starts_with('{') {
        return json_command(text, "create_image");
    }
    Ok(CreateImageSpec {
        image_name: text.to_string(),
        ..CreateImageSpec::default()
    })
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
            links: Recent::new(),
            epoch: AtomicU64::new(0),
            images: Recent::new(),
            prices: Recent::new(),
            shares: Recent::new(),
            misses: Mutex::new(HashMap::new()),
            service,
            regions,
            mounted_at: now,
            errors: Mutex::new(ErrorLog {
                lines: VecDeque::new(),
                changed: now,
            }),
            outcomes: Mutex::new(HashMap::new()),
            handles: Mutex::new(HashMap::new()),
            passes: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
            writes: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            feed: Mutex::new(feed),
            prepared: Mutex::new(HashMap::new()),
            following: Mutex::new(HashMap::new()),
            write_marks: AtomicU64::new(0),
            last_prepared: Mutex::new(None),
            listed_ahead: AtomicU64::new(0),
            found_ready: AtomicU64::new(0),
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
        }
    }

    /// The symlinks of `by-name/<kind>/`: each image's name, made unique and usable as a file
    /// name. A name that several images of the kind share, or that cannot be a file name
    /// (empty, `.`, `..`, containing `/` or NUL), becomes `<name>.<ImageId>` with `/` and NUL
    /// replaced by `_` (`image.<ImageId>` when nothing is left).
    fn link_names(&self, r: u8, kind: ImageKind) -> Result<Arc<LinkTable>> {
        self.links.get_or((r, kind), || {
            let list = self.compute_link_names(r, kind)?;
            let index = list
                .iter()
                .enumerate()
                .map(|(i, (link, _))| (link.clone(), i))
                .collect();
            Ok(LinkTable { list, index })
        })
    }

    fn compute_link_names(
        &self,
        r: u8,
        kind: ImageKind,
    ) -> Result<Vec<(String, crate::model::ImageEntry)>> {
        let entries = self.service.list_images(self.region_name(r)?, kind)?;
        let mut count: HashMap<&str, usize> = HashMap::new();
        for e in &entries {
            *count.entry(e.image_name.as_str()).or_default() += 1;
        }
        let needs_suffix =
            |e: &crate::model::ImageEntry| link_needs_suffix(e, count[e.image_name.as_str()]);
        // Suffixed names first; a plain name that would equal one of them is suffixed too, so
        // no two links share a name whatever names images are given.
        let taken: std::collections::HashSet<String> = entries
            .iter()
            .filter(|e| needs_suffix(e))
            .map(suffixed_link)
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            let link = if needs_suffix(e) || taken.contains(&e.image_name) {
                suffixed_link(e)
            } else {
                e.image_name.clone()
            };
            out.push((link, e.clone()));
        }
        Ok(out)
    }

    /// The link of one image in `by-name/<kind>/`, by the rule of [`ImageFs::link_names`],
    /// found from the images that share its name rather than from the whole kind (with a
    /// change feed, where listings are read a page at a time).
    fn link_of(
        &self,
        region: &str,
        kind: ImageKind,
        e: &crate::model::ImageEntry,
    ) -> Result<String> {
        let same_name = self.same_name(region, kind, &e.image_name)?;
        self.link_counted(region, kind, e, same_name)
    }

    /// How many images of the kind are named `name`.
    fn same_name(&self, region: &str, kind: ImageKind, name: &str) -> Result<usize> {
        Ok(self
            .service
            .name_counts(region, kind, &[name])?
            .get(name)
            .copied()
            .unwrap_or(0))
    }

    /// [`ImageFs::link_of`], given how many images of the kind carry the image's name.
    fn link_counted(
        &self,
        region: &str,
        kind: ImageKind,
        e: &crate::model::ImageEntry,
        same_name: usize,
    ) -> Result<String> {
        if link_needs_suffix(e, same_name) || self.is_suffixed_link(region, kind, &e.image_name)? {
            Ok(suffixed_link(e))
        } else {
            Ok(e.image_name.clone())
        }
    }

    /// Whether `name` is the suffixed link of an image that needs one (its name is shared or
    /// unusable): an image whose own name is `name` must then be suffixed too.
    fn is_suffixed_link(&self, region: &str, kind: ImageKind, name: &str) -> Result<bool> {
        let Some(image) = self.image_suffixed_as(region, kind, name)? else {
            return Ok(false);
        };
        let same_name = self.same_name(region, kind, &image.image_name)?;
        Ok(link_needs_suffix(&image, same_name))
    }

    /// The image whose suffixed form (`<name>.<ImageId>`) is `name`, if any.
    fn image_suffixed_as(
        &self,
        region: &str,
        kind: ImageKind,
        name: &str,
    ) -> Result<Option<crate::model::ImageEntry>> {
        let Some(id) = name
            .rsplit_once('.')
            .and_then(|(_, id)| ImageId::parse(id).ok())
        else {
            return Ok(None);
        };
        let before = id.number().checked_sub(1).and_then(image_id);
        Ok(self
            .service
            .list_images_after(region, kind, before.as_ref(), 1)?
            .into_iter()
            .find(|e| e.image_id == id && suffixed_link(e) == name))
    }

    /// The image a `by-name/<kind>/` link names, found without listing the kind.
    fn link_target(
        &self,
        region: &str,
        kind: ImageKind,
        name: &str,
    ) -> Result<Option<crate::model::ImageEntry>> {
        if let Some(image) = self.image_suffixed_as(region, kind, name)? {
            if self.link_of(region, kind, &image)? == name {
                return Ok(Some(image));
            }
        }
        let named = self.service.images_named(region, kind, name)?;
        match named.as_slice() {
            // The only one carrying the name: its count is known.
            [only] if self.link_counted(region, kind, only, 1)? == name => Ok(Some(only.clone())),
            _ => Ok(None),
        }
    }

    /// Where a `by-name` symlink points: the image's directory.
    pub fn readlink(&self, ino: u64) -> Result<String> {
        match self.node(ino)? {
            Node::NameLink(r, kind, n) => {
                let (_, id, _) = self.image_record(r, kind, n)?;
                Ok(format!("../../{}/{id}", kind.dir_name()))
            }
            node => Err(Error::with_errno(
                "InvalidParameter",
                format!("{} is not a symlink", self.path(node)),
                libc::EINVAL,
            )),
        }
    }

    fn image_of(&self, r: u8, number: u64) -> Result<(String, ImageId)> {
        let region = self.region_name(r)?.to_string();
        let id = image_id(number).ok_or_else(|| no_such(format!("image #{number}")))?;
        Ok((region, id))
    }

    /// The image as this account sees it under `kind`, read recently or now. A reader that
    /// goes through a directory in order (a shell's glob looking up `*/metadata.json`)
    /// gets the images that follow read with this one.
    fn image_record(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
    ) -> Result<(String, ImageId, Arc<crate::model::Image>)> {
        let (region, id) = self.image_of(r, n)?;
        let key = (r, kind, n);
        if let Some(image) = self.images.get(&key) {
            return Ok((region, id, image));
        }
        let generation = self.images.generation();
        let (backwards, count) = match self.in_order(r, kind, n) {
            Some(backwards) => (backwards, READ_AHEAD),
            None => (false, 1),
        };
        let mut found = None;
        for image in self
            .service
            .images_from(&region, kind, &id, backwards, count)?
        {
            let number = image.image_id.number();
            let image = Arc::new(image);
            if number == n {
                found = Some(image.clone());
            }
            self.images.put((r, kind, number), image, generation);
        }
        match found {
            Some(image) => Ok((region, id, image)),
            None => Err(no_such(format!("{region}/{}/{id}", kind.dir_name()))),
        }
    }

    /// Notes a miss of image `n` of a kind. When it follows the previous miss there moments
    /// later, in ImageId order, says which way (`true`: backwards).
    fn in_order(&self, r: u8, kind: ImageKind, n: u64) -> Option<bool> {
        let mut misses = lock(&self.misses);
        let previous = misses.insert((r, kind), (n, Instant::now()));
        if misses.len() > PER_INODE_MAX {
            misses.clear();
        }
        previous
            .filter(|(last, at)| *last != n && at.elapsed() < IN_ORDER_WITHIN)
            .map(|(last, _)| n < last)
    }

    /// An image, for listing its directory, with the accounts it is shared with when it is
    /// a custom image not read recently: then its record, price and shares are read in one
    /// look (and the first two kept for the reads that follow).
    fn image_with_shares(&self, r: u8, kind: ImageKind, n: u64) -> Result<ImageAndShares> {
        let key = (r, kind, n);
        if let Some(image) = self.images.get(&key) {
            let shares = self.shares.get(&key).map(|s| s.as_ref().clone());
            return Ok((image, shares));
        }
        // Directories listed in order (`grep -r`, `find`) get the next ones read with this.
        let (backwards, count) = match self.in_order(r, kind, n) {
            Some(backwards) => (backwards, READ_AHEAD),
            None => (false, 1),
        };
        self.read_views(r, kind, n, backwards, count)
    }

    /// Reads image `n` of a kind with its price and shares, and the `count - 1` images that
    /// follow it (or precede it, `backwards`), keeping them all with the recent records.
    fn read_views(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
        backwards: bool,
        count: usize,
    ) -> Result<ImageAndShares> {
        let (region, id) = self.image_of(r, n)?;
        let (images_at, prices_at, shares_at) = (
            self.images.generation(),
            self.prices.generation(),
            self.shares.generation(),
        );
        let mut found = None;
        let views = self
            .service
            .image_views_from(&region, kind, &id, backwards, count)?;
        if !backwards {
            self.note_order(r, kind, views.iter().map(|v| v.image.image_id.number()));
        }
        for view in views {
            let key = (r, kind, view.image.image_id.number());
            let image = Arc::new(view.image);
            self.images.put(key, image.clone(), images_at);
            self.prices.put(key, Arc::new(view.price), prices_at);
            if let Some(shares) = &view.shares {
                self.shares.put(key, Arc::new(shares.clone()), shares_at);
            }
            if key.2 == n {
                found = Some((image, view.shares));
            }
        }
        found.ok_or_else(|| no_such(format!("{region}/{}/{id}", kind.dir_name())))
    }

    /// Forgets recently read records: after a command, every read shows its effect.
    fn forget_recent(&self) {
        self.images.clear();
        self.prices.clear();
        self.shares.clear();
        self.links.clear();
        // After the records are gone: contents rendered in the new epoch come from records
        // read after the change.
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn instance_of(&self, r: u8, number: u64) -> Result<(String, InstanceId)> {
        let region = self.region_name(r)?.to_string();
        let id = InstanceId::from_number(number)
            .ok_or_else(|| no_such(format!("instance #{number}")))?;
        Ok((region, id))
    }

    fn perm(node: Node) -> u16 {
        match node {
            // Directories whose entries the user may remove.
            Node::KindDir(_, ImageKind::Custom) | Node::InstancesDir(_) => 0o755,
            Node::NameLink(..) => 0o777,
            n if n.is_dir() => 0o555,
            Node::ImageFile(_, _, _, ImageFile::Unshare) => 0o200,
            n if n.is_control() => 0o644,
            _ => 0o444,
        }
    }

    fn attr(&self, node: Node, size: u64, mtime: SystemTime) -> Attr {
        Attr {
            ino: node.ino(),
            kind: if node.is_dir() {
                EntryKind::Directory
            } else if matches!(node, Node::NameLink(..)) {
                EntryKind::Symlink
            } else {
                EntryKind::File
            },
            size,
            perm: Self::perm(node),
            mtime,
        }
    }

    /// A file's attributes: its size, and an mtime in the second of `base` whose nanoseconds
    /// are a version of the contents (and of the writes the file took). Whenever the contents
    /// change, so does the mtime, and the kernel drops the pages it cached of the old ones.
    fn versioned(&self, node: Node, content: &[u8], base: SystemTime) -> Attr {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        content.hash(&mut h);
        lock(&self.writes)
            .get(&node.ino())
            .copied()
            .unwrap_or(0)
            .hash(&mut h);
        let secs = base
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let nanos = u32::try_from(h.finish() % 1_000_000_000).unwrap_or(0);
        let mtime = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
        self.attr(node, content.len() as u64, mtime)
    }

    fn created(time: &str) -> SystemTime {
        parse_api_time(time).unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The attributes of a node, checking that it exists.
    pub fn getattr(&self, ino: u64) -> Result<Attr> {
        let node = self.node(ino)?;
        self.attr_of(node)
    }

    /// A control file's attributes: its size is the last outcome's.
    fn control_attr(&self, node: Node, fallback_mtime: SystemTime) -> Attr {
        let outcome = lock(&self.outcomes).get(&node.ino()).cloned();
        match outcome {
            Some((content, when)) => self.versioned(node, &content, when),
            None => self.versioned(node, &[], fallback_mtime),
        }
    }

    fn attr_of(&self, node: Node) -> Result<Attr> {
        self.attr_and_content(node).map(|(attr, _)| attr)
    }

    /// A node's attributes and, for an image's file (whose size is its contents' length),
    /// the contents they were taken from, in the epoch they were rendered in.
    fn attr_and_content(&self, node: Node) -> Result<(Attr, Option<Rendered>)> {
        if let Node::ImageFile(r, kind, n, f) = node {
            let epoch = self.epoch();
            let (image, content) = self.image_file(r, kind, n, f)?;
            let mtime = Self::created(&image.created_time);
            let attr = self.versioned(node, &content, mtime);
            return Ok((attr, Some((epoch, Arc::new(content)))));
        }
        Ok((self.attr_without_content(node)?, None))
    }

    fn attr_without_content(&self, node: Node) -> Result<Attr> {
        match node {
            Node::ImageDir(r, kind, n) => {
                let (_, _, image) = self.image_record(r, kind, n)?;
                Ok(self.attr(node, 0, Self::created(&image.created_time)))
            }
            Node::ImageFile(..) => self.attr_and_content(node).map(|(attr, _)| attr),
            Node::InstanceDir(r, n) => {
                let (region, id) = self.instance_of(r, n)?;
                let instance = self.service.instance(&region, &id)?;
                Ok(self.attr(node, 0, Self::created(&instance.created_time)))
            }
            Node::InstanceFile(r, n, f) => {
                let (region, id) = self.instance_of(r, n)?;
                let instance = self.service.instance(&region, &id)?;
                let mtime = Self::created(&instance.created_time);
                if node.is_control() {
                    return Ok(self.control_attr(node, mtime));
                }
                let content = Self::render_instance_file(f, &instance)?;
                Ok(self.versioned(node, &content, mtime))
            }
            Node::NameLink(r, kind, n) => {
                let (_, id, image) = self.image_record(r, kind, n)?;
                let target = format!("../../{}/{id}", kind.dir_name());
                Ok(self.attr(
                    node,
                    target.len() as u64,
                    Self::created(&image.created_time),
                ))
            }
            Node::ByName(_) | Node::ByNameKind(..) => Ok(self.attr(node, 0, self.mounted_at)),
            Node::RegionFile(_, RegionFile::Import) => Ok(self.control_attr(node, self.mounted_at)),
            Node::Errors => {
                let changed = lock(&self.errors).changed;
                let content = self.render(node)?;
                Ok(self.versioned(node, &content, changed))
            }
            Node::AccountJson | Node::RegionFile(..) => {
                let content = self.render(node)?;
                Ok(self.versioned(node, &content, self.mounted_at))
            }
            Node::Root
            | Node::Regions
            | Node::Region(_)
            | Node::KindDir(..)
            | Node::InstancesDir(_) => Ok(self.attr(node, 0, self.mounted_at)),
        }
    }

    fn not_a_directory(&self, node: Node) -> Error {
        Error::with_errno(
            "InvalidParameter",
            format!("{} is not a directory", self.path(node)),
            libc::ENOTDIR,
        )
    }

    /// The entry `name` in directory `parent`.
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr> {
        self.lookup_with_content(parent, name).map(|(attr, _)| attr)
    }

    /// [`ImageFs::lookup`], with the contents of an image's file as rendered for its size.
    pub fn lookup_with_content(
        &self,
        parent: u64,
        name: &OsStr,
    ) -> Result<(Attr, Option<Rendered>)> {
        let parent = self.node(parent)?;
        let missing = || no_such(format!("{}/{}", self.path(parent), name.to_string_lossy()));
        let name = name.to_str().ok_or_else(missing)?;
        let child = match parent {
            Node::Root => match name {
                "account.json" => Node::AccountJson,
                "errors" => Node::Errors,
                "regions" => Node::Regions,
                _ => return Err(missing()),
            },
            Node::Regions => Node::Region(self.region_index(name).ok_or_else(missing)?),
            Node::Region(r) => {
                if let Some(f) = RegionFile::ALL.into_iter().find(|f| f.name() == name) {
                    Node::RegionFile(r, f)
                } else if let Some(k) = ImageKind::from_dir_name(name) {
                    Node::KindDir(r, k)
                } else if name == "instances" {
                    Node::InstancesDir(r)
                } else if name == "by-name" {
                    Node::ByName(r)
                } else {
                    return Err(missing());
                }
            }
            Node::ByName(r) => {
                Node::ByNameKind(r, ImageKind::from_dir_name(name).ok_or_else(missing)?)
            }
            Node::ByNameKind(r, k) => {
                let entry = if self.watches_changes() {
                    self.link_target(self.region_name(r)?, k, name)?
                        .ok_or_else(missing)?
                } else {
                    let table = self.link_names(r, k)?;
                    table
                        .index
                        .get(name)
                        .and_then(|&i| table.list.get(i))
                        .map(|(_, e)| e.clone())
                        .ok_or_else(missing)?
                };
                let link = Node::NameLink(r, k, entry.image_id.number());
                let target = format!("../../{}/{}", k.dir_name(), entry.image_id);
                let attr = self.attr(
                    link,
                    target.len() as u64,
                    Self::created(&entry.created_time),
                );
                return Ok((attr, None));
            }
            Node::KindDir(r, k) => {
                let id = ImageId::parse(name).map_err(|_| missing())?;
                Node::ImageDir(r, k, id.number())
            }
            Node::ImageDir(r, k, n) => {
                let f = ImageFile::ALL
                    .into_iter()
                    .find(|f| f.name() == name && f.exists_for(k))
                    .ok_or_else(missing)?;
                Node::ImageFile(r, k, n, f)
            }
            Node::InstancesDir(r) => {
                let id = InstanceId::parse(name).map_err(|_| missing())?;
                Node::InstanceDir(r, id.number())
            }
            Node::InstanceDir(r, n) => {
                let f = InstanceFile::ALL
                    .into_iter()
                    .find(|f| f.name() == name)
                    .ok_or_else(missing)?;
                Node::InstanceFile(r, n, f)
            }
            _ => return Err(self.not_a_directory(parent)),
        };
        self.attr_and_content(child).map_err(|e| {
            if e.errno() == libc::ENOENT {
                missing()
            } else {
                e
            }
        })
    }

    /// The entries of a directory, with their attributes, in a stable order.
    pub fn list(&self, ino: u64) -> Result<Vec<DirEntry>> {
        let node = self.node(ino)?;
        let entry = |name: &str, node: Node| -> Result<DirEntry> {
            Ok(DirEntry {
                name: name.to_string(),
                attr: self.attr_of(node)?,
                content: None,
            })
        };
        match node {
            Node::Root => Ok(vec![
                entry("account.json", Node::AccountJson)?,
                entry("errors", Node::Errors)?,
                entry("regions", Node::Regions)?,
            ]),
            Node::Regions => (0..self.regions.len())
                .map(|i| {
                    let r = u8::try_from(i).map_err(|_| no_such("region"))?;
                    entry(&self.regions[i].region, Node::Region(r))
                })
                .collect(),
            Node::Region(r) => {
                let mut out = Vec::new();
                for f in RegionFile::ALL {
                    out.push(entry(f.name(), Node::RegionFile(r, f))?);
                }
                for k in ImageKind::ALL {
                    out.push(entry(k.dir_name(), Node::KindDir(r, k))?);
                }
                out.push(entry("instances", Node::InstancesDir(r))?);
                out.push(entry("by-name", Node::ByName(r))?);
                Ok(out)
            }
            Node::ByName(r) => ImageKind::ALL
                .into_iter()
                .map(|k| entry(k.dir_name(), Node::ByNameKind(r, k)))
                .collect(),
            Node::ByNameKind(r, k) => Ok(self
                .link_names(r, k)?
                .list
                .iter()
                .map(|(link, e)| {
                    let node = Node::NameLink(r, k, e.image_id.number());
                    let target_len = format!("../../{}/{}", k.dir_name(), e.image_id).len();
                    DirEntry {
                        name: link.clone(),
                        attr: self.attr(node, target_len as u64, Self::created(&e.created_time)),
                        content: None,
                    }
                })
                .collect()),
            Node::KindDir(r, kind) => {
                let images = self.service.list_images(self.region_name(r)?, kind)?;
                Ok(images
                    .into_iter()
                    .map(|image| {
                        let child = Node::ImageDir(r, kind, image.image_id.number());
                        DirEntry {
                            name: image.image_id.to_string(),
                            attr: self.attr(child, 0, Self::created(&image.created_time)),
                            content: None,
                        }
                    })
                    .collect())
            }
            Node::ImageDir(r, kind, n) => {
                let epoch = self.epoch();
                let (region, id) = self.image_of(r, n)?;
                let (image, shares) = self.image_with_shares(r, kind, n)?;
                let mtime = Self::created(&image.created_time);
                let mut out = Vec::new();
                for f in ImageFile::ALL.into_iter().filter(|f| f.exists_for(kind)) {
                    let child = Node::ImageFile(r, kind, n, f);
                    let content = match (f, &shares) {
                        (ImageFile::Share, Some(shares)) => share_list(shares),
                        _ => self.render_image_file(&region, kind, &id, f, &image)?,
                    };
                    let attr = self.versioned(child, &content, mtime);
                    out.push(DirEntry {
                        name: f.name().to_string(),
                        attr,
                        content: Some((epoch, Arc::new(content))),
                    });
                }
                Ok(out)
            }
            Node::InstancesDir(r) => {
                let instances = self.service.list_instances(self.region_name(r)?)?;
                Ok(instances
                    .into_iter()
                    .map(|i| {
                        let child = Node::InstanceDir(r, i.instance_id.number());
                        DirEntry {
                            name: i.instance_id.to_string(),
                            attr: self.attr(child, 0, Self::created(&i.created_time)),
                            content: None,
                        }
                    })
                    .collect())
            }
            Node::InstanceDir(r, n) => {
                let epoch = self.epoch();
                let (region, id) = self.instance_of(r, n)?;
                let instance = self.service.instance(&region, &id)?;
                let mtime = Self::created(&instance.created_time);
                let mut out = Vec::new();
                for f in InstanceFile::ALL {
                    let child = Node::InstanceFile(r, n, f);
                    let (attr, content) = if child.is_control() {
                        (self.control_attr(child, mtime), None)
                    } else {
                        let content = Self::render_instance_file(f, &instance)?;
                        let attr = self.versioned(child, &content, mtime);
                        (attr, Some((epoch, Arc::new(content))))
                    };
                    out.push(DirEntry {
                        name: f.name().to_string(),
                        attr,
                        content,
                    });
                }
                Ok(out)
            }
            _ => Err(self.not_a_directory(node)),
        }
    }

    /// The contents of a file node, as `cat` shows them now.
    pub fn render(&self, node: Node) -> Result<Vec<u8>> {
        if node.is_control() && !matches!(node, Node::ImageFile(..)) {
            // Existence first: a control file of a vanished instance is gone too.
            self.attr_of(node)?;
            return Ok(self.outcome(node));
        }
        match node {
            Node::AccountJson => pretty_json(&self.service.account()?),
            Node::Errors => {
                let log = lock(&self.errors);
                let mut out = Vec::new();
                for l in &log.lines {
                    out.extend_from_slice(l.as_bytes());
                    out.push(b'\n');
                }
                Ok(out)
            }
            Node::RegionFile(r, f) => {
                let region = self.region(r)?;
                match f {
                    RegionFile::RegionJson => pretty_json(region),
                    RegionFile::QuotaJson => pretty_json(&self.service.quota(&region.region)?),
                    RegionFile::ImportOsJson => {
                        pretty_json(&self.service.import_os(&region.region)?)
                    }
                    RegionFile::Import => Ok(Vec::new()),
                }
            }
            Node::ImageFile(r, kind, n, f) => Ok(self.image_file(r, kind, n, f)?.1),
            Node::InstanceFile(r, n, f) => {
                let (region, id) = self.instance_of(r, n)?;
                let instance = self.service.instance(&region, &id)?;
                Self::render_instance_file(f, &instance)
            }
            _ => Err(Error::with_errno(
                "InvalidParameter",
                format!("{} is a directory", self.path(node)),
                libc::EISDIR,
            )),
        }
    }

    /// One file of an image, and the image. `share` is read with its image in one look
    /// (each share or unshare forgets both, so they are read again together).
    fn image_file(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
        f: ImageFile,
    ) -> Result<(Arc<crate::model::Image>, Vec<u8>)> {
        let (region, id) = self.image_of(r, n)?;
        if f == ImageFile::Share {
            if let (image, Some(shares)) = self.image_with_shares(r, kind, n)? {
                return Ok((image, share_list(&shares)));
            }
        }
        let (_, _, image) = self.image_record(r, kind, n)?;
        let content = self.render_image_file(&region, kind, &id, f, &image)?;
        Ok((image, content))
    }

    fn render_image_file(
        &self,
        region: &str,
        kind: ImageKind,
        id: &ImageId,
        file: ImageFile,
        image: &crate::model::Image,
    ) -> Result<Vec<u8>> {
        match file {
            ImageFile::Metadata => pretty_json(image),
            ImageFile::Name => Ok(line(&image.image_name)),
            ImageFile::Description => Ok(line(&image.image_description)),
            ImageFile::State => Ok(line(image.image_state.as_str())),
            ImageFile::Price => {
                let key = self.region_index(region).map(|r| (r, kind, id.number()));
                match key {
                    Some(key) => pretty_json(
                        &*self
                            .prices
                            .get_or(key, || self.service.price(region, kind, id))?,
                    ),
                    None => pretty_json(&self.service.price(region, kind, id)?),
                }
            }
            ImageFile::Share => match self.region_index(region) {
                Some(r) => Ok(share_list(
                    &self.shares.get_or((r, kind, id.number()), || {
                        self.service.share_accounts(region, id)
                    })?,
                )),
                None => Ok(share_list(&self.service.share_accounts(region, id)?)),
            },
            ImageFile::Unshare => Ok(Vec::new()),
            ImageFile::Launch | ImageFile::CopyTo => {
                let node = self
                    .region_index(region)
                    .map(|r| Node::ImageFile(r, kind, id.number(), file));
                Ok(node.map(|n| self.outcome(n)).unwrap_or_default())
            }
        }
    }

    /// What the last command written to a control file produced.
    fn outcome(&self, node: Node) -> Vec<u8> {
        lock(&self.outcomes)
            .get(&node.ino())
            .map(|(content, _)| content.clone())
            .unwrap_or_default()
    }

    fn render_instance_file(
        file: InstanceFile,
        instance: &crate::model::Instance,
    ) -> Result<Vec<u8>> {
        match file {
            InstanceFile::Metadata => pretty_json(instance),
            InstanceFile::State => Ok(line(&instance.instance_state)),
            InstanceFile::CreateImage | InstanceFile::Reset => Ok(Vec::new()),
        }
    }

    /// Opens a directory: its listing is taken now, so a `readdir` sequence is consistent.
    pub fn opendir(&self, ino: u64) -> Result<u64> {
        let entries = Arc::new(self.list(ino)?);
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(fh, entries);
        Ok(fh)
    }

    /// The listing a readdir at `offset` continues: the one taken by `opendir`, or, for a
    /// directory read without opening (`fh` 0), one taken at offset 0 and kept for the
    /// following requests of the same pass.
    pub fn dir_entries(&self, ino: u64, fh: u64, offset: u64) -> Result<Arc<Vec<DirEntry>>> {
        if fh != 0 {
            return lock(&self.handles)
                .get(&fh)
                .cloned()
                .ok_or_else(stale_handle);
        }
        if offset > 0 {
            if let Some((at, entries)) = lock(&self.passes).get(&ino) {
                if at.elapsed() < PASS_LIFETIME {
                    return Ok(entries.clone());
                }
            }
        }
        let entries = match self.take_prepared(ino) {
            Some(entries) => {
                self.found_ready.fetch_add(1, Ordering::Relaxed);
                entries
            }
            None => Arc::new(self.list(ino)?),
        };
        let mut passes = lock(&self.passes);
        if passes.len() >= PASSES_MAX {
            passes.retain(|_, (at, _)| at.elapsed() < PASS_LIFETIME);
            if passes.len() >= PASSES_MAX {
                passes.clear();
            }
        }
        passes.insert(ino, (Instant::now(), entries.clone()));
        Ok(entries)
    }

    /// The entries of a directory that follow the readdir cookie `offset`, each with its
    /// own cookie (1 and 2 are `.` and `..`, so entries start at 3). An image kind's
    /// directory read without opening is read from the backend a page at a time, its cookies
    /// the ImageIds' numbers (+3): a directory of a million images is never held whole.
    /// Other directories continue the listing `dir_entries` keeps.
    pub fn dir_page(&self, ino: u64, fh: u64, offset: u64) -> Result<Vec<(u64, DirEntry)>> {
        if fh == 0 {
            if let Node::KindDir(r, kind) = self.node(ino)? {
                let after = offset
                    .checked_sub(3)
                    .map(|n| image_id(n).ok_or_else(|| no_such(format!("image #{n}"))))
                    .transpose()?;
                let page = self.service.list_images_after(
                    self.region_name(r)?,
                    kind,
                    after.as_ref(),
                    LISTING_PAGE,
                )?;
                self.note_order(r, kind, page.iter().map(|e| e.image_id.number()));
                return Ok(page
                    .into_iter()
                    .map(|image| {
                        let number = image.image_id.number();
                        let child = Node::ImageDir(r, kind, number);
                        let entry = DirEntry {
                            name: image.image_id.to_string(),
                            attr: self.attr(child, 0, Self::created(&image.created_time)),
                            content: None,
                        };
                        (number + 3, entry)
                    })
                    .collect());
            }
        }
        if fh == 0 && self.watches_changes() {
            if let Node::ByNameKind(r, kind) = self.node(ino)? {
                // Like the kind's own directory: a page at a time, each link named from the
                // images that share its image's name.
                let region = self.region_name(r)?;
                let after = offset
                    .checked_sub(3)
                    .map(|n| image_id(n).ok_or_else(|| no_such(format!("image #{n}"))))
                    .transpose()?;
                let page =
                    self.service
                        .list_images_after(region, kind, after.as_ref(), LINK_PAGE)?;
                let names: Vec<&str> = page.iter().map(|e| e.image_name.as_str()).collect();
                let counts = self.service.name_counts(region, kind, &names)?;
                return page
                    .iter()
                    .map(|e| {
                        let number = e.image_id.number();
                        let node = Node::NameLink(r, kind, number);
                        let target_len = format!("../../{}/{}", kind.dir_name(), e.image_id).len();
                        let same_name = counts.get(&e.image_name).copied().unwrap_or(0);
                        let entry = DirEntry {
                            name: self.link_counted(region, kind, e, same_name)?,
                            attr: self.attr(
                                node,
                                target_len as u64,
                                Self::created(&e.created_time),
                            ),
                            content: None,
                        };
                        Ok((number + 3, entry))
                    })
                    .collect();
            }
        }
        let entries = self.dir_entries(ino, fh, offset)?;
        let skip = usize::try_from(offset.saturating_sub(2)).unwrap_or(usize::MAX);
        Ok(entries
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, e)| (i as u64 + 3, e.clone()))
            .collect())
    }

    /// Ends the readdir pass over an unopened directory `ino` (its last request was
    /// answered): its listing is dropped by that request's handler, after the answer.
    pub fn end_pass(&self, ino: u64) {
        let listing = lock(&self.passes).remove(&ino);
        drop(listing);
    }

    /// Remembers which image follows which in a kind, from images read in ImageId order.
    fn note_order(&self, r: u8, kind: ImageKind, numbers: impl Iterator<Item = u64>) {
        let mut following = lock(&self.following);
        let mut previous = None;
        for n in numbers {
            if let Some(p) = previous {
                if following.len() >= RECENT_MAX {
                    following.clear();
                }
                following.insert((r, kind, p), n);
            }
            previous = Some(n);
        }
    }

    /// Where the records a listing is made from stand: a listing made before any of these
    /// moved may show something that has changed since.
    fn cache_state(&self) -> [u64; 5] {
        [
            self.epoch(),
            self.write_marks.load(Ordering::Acquire),
            self.images.generation(),
            self.prices.generation(),
            self.shares.generation(),
        ]
    }

    /// Lists, ahead of the reader, the image directory that follows the image directory
    /// `ino` whose listing the reader just finished, when the reader goes through the kind
    /// in order and the next image was read with this one (`grep -r` and `find` list each
    /// directory, read its files, then list the next). The listing is made while the reader
    /// is busy with the files, so its request finds it ready; it serves only while nothing
    /// changed (as a listing made at that request would show the same).
    pub fn prepare_following(&self, ino: u64) {
        if !self.watches_changes() {
            return;
        }
        let Ok(Node::ImageDir(r, kind, n)) = self.node(ino) else {
            return;
        };
        // A reader that took the listing made for it goes in order: the images ahead of it
        // are read now (not when it asks) if they are not at hand. Any other reader's next
        // directory is listed only if its image was read already (with a read-ahead).
        let in_order = lock(&self.last_prepared).take() == Some(ino);
        let following = |n| lock(&self.following).get(&(r, kind, n)).copied();
        let next = match following(n) {
            Some(next) if self.images.get(&(r, kind, next)).is_some() => next,
            _ if in_order => {
                if self.read_views(r, kind, n, false, READ_AHEAD + 1).is_err() {
                    return;
                }
                match following(n) {
                    Some(next) => next,
                    None => return,
                }
            }
            _ => return,
        };
        let next_ino = Node::ImageDir(r, kind, next).ino();
        if lock(&self.prepared).contains_key(&next_ino) {
            return;
        }
        let state = self.cache_state();
        let made = Instant::now();
        let Ok(entries) = self.list(next_ino) else {
            return;
        };
        let mut prepared = lock(&self.prepared);
        if prepared.len() >= PREPARED_MAX {
            prepared.clear();
        }
        prepared.insert(
            next_ino,
            Prepared {
                made,
                state,
                entries: Arc::new(entries),
            },
        );
        drop(prepared);
        *lock(&self.last_prepared) = Some(next_ino);
        self.listed_ahead.fetch_add(1, Ordering::Relaxed);
    }

    /// `listed-ahead=.. ready=..`: image directories listed ahead of the reader so far, and
    /// how many of them its requests found ready.
    pub fn ahead_summary(&self) -> String {
        format!(
            "listed-ahead={} ready={}",
            self.listed_ahead.load(Ordering::Relaxed),
            self.found_ready.load(Ordering::Relaxed)
        )
    }

    /// The listing made ahead for `ino`, if nothing changed since it was made.
    fn take_prepared(&self, ino: u64) -> Option<Arc<Vec<DirEntry>>> {
        let prepared = lock(&self.prepared).remove(&ino)?;
        (prepared.made.elapsed() < RECENT && prepared.state == self.cache_state())
            .then_some(prepared.entries)
    }

    /// Forgets a directory handle.
    pub fn releasedir(&self, fh: u64) {
        lock(&self.handles).remove(&fh);
    }

    /// Reads a file: its contents now. Files are not opened (the kernel keeps what it read
    /// in its page cache until the contents change), so each read renders afresh.
    pub fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        if node.is_dir() {
            return Err(Error::with_errno(
                "InvalidParameter",
                format!("{} is a directory", self.path(node)),
                libc::EISDIR,
            ));
        }
        let content = self.render(node)?;
        if offset == 0 {
            remember(&self.seen, ino, content_hash(&content));
        }
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(content.len());
        let end = start.saturating_add(size as usize).min(content.len());
        Ok(content[start..end].to_vec())
    }

    /// Bumped whenever this mount learns of a change (its own commands, the change feed):
    /// contents rendered in the current epoch are still the present.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
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

    /// Whether a file now shows other contents than it last showed a reader (for poll: a
    /// `state` file signals a change). The first question sets the baseline.
    pub fn changed_since_seen(&self, ino: u64) -> Result<bool> {
        let node = self.node(ino)?;
        // A fresh look, not the recent-record cache: a poller wants the store's present.
        if let Node::ImageFile(r, kind, n, _) = node {
            self.images.forget(&(r, kind, n));
            self.shares.forget(&(r, kind, n));
        }
        let now = content_hash(&self.render(node)?);
        let mut seen = lock(&self.seen);
        match seen.get(&ino) {
            Some(&before) => Ok(before != now),
            None => {
                if seen.len() >= PER_INODE_MAX {
                    seen.clear();
                }
                seen.insert(ino, now);
                Ok(false)
            }
        }
    }

    /// A write to a file: one command, carried out now. Returns the inodes whose cached
    /// attributes and contents the command made stale. A refusal is recorded in `errors`.
    pub fn write(&self, ino: u64, data: &[u8], caller: &Caller) -> Result<Vec<u64>> {
        let node = self.node(ino)?;
        self.write_marks.fetch_add(1, Ordering::AcqRel);
        let result = self.write_node(node, data, caller);
        self.write_marks.fetch_add(1, Ordering::AcqRel);
        result
    }

    fn write_node(&self, node: Node, data: &[u8], caller: &Caller) -> Result<Vec<u64>> {
        let ino = node.ino();
        {
            let mut writes = lock(&self.writes);
            if writes.len() >= PER_INODE_MAX {
                writes.clear();
            }
            *writes.entry(ino).or_default() += 1;
        }
        let result = if node.is_control() {
            self.command(node, data, caller)
        } else if node.is_dir() {
            Err(Error::with_errno(
                "InvalidParameter",
                format!("{} is a directory", self.path(node)),
                libc::EISDIR,
            ))
        } else {
            Err(self.refuse_error("write", node, &self.path(node)))
        };
        if result.is_ok() {
            if let Node::ImageFile(r, kind, n, ImageFile::Share | ImageFile::Unshare) = node {
                // The share list is all such a command changes here (the image it names is
                // unchanged; other accounts see the change through the journal).
                self.shares.forget(&(r, kind, n));
                self.epoch.fetch_add(1, Ordering::AcqRel);
            } else {
                self.forget_recent();
            }
        }
        match result {
            Ok((outcome, mut stale)) => {
                let mut regions: std::collections::BTreeSet<u8> = stale
                    .iter()
                    .filter_map(|&i| Node::from_ino(i).and_then(|n| n.region()))
                    .collect();
                regions.extend(node.region());
                // Commands that add, remove or rename images or instances change listings.
                let lists_change = !matches!(
                    node,
                    Node::ImageFile(
                        ..,
                        ImageFile::Share | ImageFile::Unshare | ImageFile::Description
                    ) | Node::InstanceFile(_, _, InstanceFile::Reset)
                );
                for r in regions.into_iter().filter(|_| lists_change) {
                    stale.extend(Self::listing_dirs(r));
                }
                if let Some(outcome) = outcome {
                    lock(&self.outcomes).insert(node.ino(), (outcome, SystemTime::now()));
                }
                Ok(stale)
            }
            Err(error) => {
                self.record("write", &self.path(node), &error);
                Err(error)
            }
        }
    }

    /// The directories of a region whose listings commands and changes elsewhere alter.
    fn listing_dirs(r: u8) -> Vec<u64> {
        let mut dirs: Vec<u64> = ImageKind::ALL
            .into_iter()
            .flat_map(|k| [Node::KindDir(r, k).ino(), Node::ByNameKind(r, k).ino()])
            .collect();
        dirs.push(Node::InstancesDir(r).ino());
        dirs
    }

    /// Whether the backend reports every change (then the kernel may cache for long, and
    /// [`ImageFs::changes`] says what to drop).
    pub fn watches_changes(&self) -> bool {
        lock(&self.feed).is_some()
    }

    /// What the kernel must drop because of changes made since the last call by anyone
    /// (another mount, the server, a transition reaching its end, this mount). Records read
    /// recently are forgotten first, so what the kernel reads next is the present.
    pub fn changes(&self) -> Result<Vec<Invalidation>> {
        let Some(cursor) = *lock(&self.feed) else {
            return Ok(Vec::new());
        };
        let Some(changes) = self.service.changes(Some(cursor))? else {
            return Ok(Vec::new());
        };
        *lock(&self.feed) = Some(changes.cursor);
        if changes.everything {
            self.forget_recent();
            let mut out = vec![Invalidation::Everything];
            for r in 0..self.regions.len() {
                let r = u8::try_from(r).unwrap_or(u8::MAX);
                out.extend(Self::listing_dirs(r).into_iter().map(Invalidation::Inode));
            }
            return Ok(out);
        }
        if !changes.images.is_empty() {
            self.links.clear();
        }
        let mut out = Vec::new();
        let mut regions = std::collections::BTreeSet::new();
        for (region, id) in &changes.images {
            let Some(r) = self.region_index(region) else {
                continue;
            };
            regions.insert(r);
            let n = id.number();
            for kind in ImageKind::ALL {
                self.images.forget(&(r, kind, n));
                self.prices.forget(&(r, kind, n));
                self.shares.forget(&(r, kind, n));
                out.push(Invalidation::Entry {
                    parent: Node::KindDir(r, kind).ino(),
                    name: id.to_string(),
                });
                out.push(Invalidation::Inode(Node::ImageDir(r, kind, n).ino()));
                for f in ImageFile::ALL.into_iter().filter(|f| f.exists_for(kind)) {
                    out.push(Invalidation::Inode(Node::ImageFile(r, kind, n, f).ino()));
                }
            }
        }
        for (region, id) in &changes.instances {
            let Some(r) = self.region_index(region) else {
                continue;
            };
            regions.insert(r);
            let n = id.number();
            out.push(Invalidation::Entry {
                parent: Node::InstancesDir(r).ino(),
                name: id.to_string(),
            });
            out.push(Invalidation::Inode(Node::InstanceDir(r, n).ino()));
            for f in InstanceFile::ALL {
                out.push(Invalidation::Inode(Node::InstanceFile(r, n, f).ino()));
            }
        }
        if !changes.images.is_empty() || !changes.instances.is_empty() {
            // After the records are forgotten (see `forget_recent`).
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        for r in regions {
            out.push(Invalidation::Inode(
                Node::RegionFile(r, RegionFile::QuotaJson).ino(),
            ));
            out.extend(Self::listing_dirs(r).into_iter().map(Invalidation::Inode));
        }
        if !out.is_empty() {
            out.push(Invalidation::Inode(Node::AccountJson.ino()));
        }
        Ok(out)
    }

    /// Carries out the command written to a control file: its outcome (what reading the file
    /// shows next, for files that show outcomes) and the inodes it made stale.
    fn command(
        &self,
        node: Node,
        data: &[u8],
        caller: &Caller,
    ) -> Result<(Option<Vec<u8>>, Vec<u64>)> {
        if data.len() > MAX_COMMAND {
            return Err(Error::new(
                "InvalidParameterValue.TooLarge",
                format!(
                    "a command is at most {} KiB; this write has {} bytes",
                    MAX_COMMAND / 1024,
                    data.len()
                ),
            ));
        }
        let text = command_text(data)?;
        let mut stale = vec![node.ino()];
        let outcome = match node {
            Node::ImageFile(
                r,
                ImageKind::Custom,
                n,
                f @ (ImageFile::Name | ImageFile::Description),
            ) => {
                let (region, id) = self.image_of(r, n)?;
                let (name, description) = match f {
                    ImageFile::Name => (Some(text), None),
                    _ => (None, Some(text)),
                };
                self.service.modify_image(&region, &id, name, description)?;
                stale.push(Node::ImageFile(r, ImageKind::Custom, n, ImageFile::Metadata).ino());
                return Ok((None, stale));
            }
            Node::ImageFile(
                r,
                ImageKind::Custom,
                n,
                f @ (ImageFile::Share | ImageFile::Unshare),
            ) => {
                let (region, id) = self.image_of(r, n)?;
                let accounts = list_values(text)
                    .into_iter()
                    .map(AccountId::parse)
                    .collect::<Result<Vec<_>>>()?;
                if f == ImageFile::Share {
                    self.service.share_image(&region, &id, &accounts)?;
                } else {
                    self.service.unshare_image(&region, &id, &accounts)?;
                }
                stale.push(Node::ImageFile(r, ImageKind::Custom, n, ImageFile::Share).ino());
                return Ok((None, stale));
            }
            Node::ImageFile(r, kind, n, ImageFile::CopyTo) => {
                let (region, id) = self.image_of(r, n)?;
                let destinations: Vec<String> =
                    list_values(text).into_iter().map(str::to_owned).collect();
                let copies = self
                    .service
                    .sync_images(&region, kind, &id, &destinations)?;
                let mut out = String::new();
                for (target, image) in copies {
                    if let Some(t) = self.region_index(&target) {
                        stale.push(Node::RegionFile(t, RegionFile::QuotaJson).ino());
                    }
                    out.push_str(&format!("{target} {image}\n"));
                }
                out.into_bytes()
            }
            Node::ImageFile(r, kind, n, ImageFile::Launch) => {
                let (region, id) = self.image_of(r, n)?;
                let spec = parse_launch(text)?;
                let ids = self.service.run_instances(&region, kind, &id, &spec)?;
                let mut out = String::new();
                for id in ids {
                    out.push_str(id.as_str());
                    out.push('\n');
                }
                out.into_bytes()
            }
            Node::InstanceFile(r, n, InstanceFile::CreateImage) => {
                let (region, id) = self.instance_of(r, n)?;
                let spec = parse_create_image(text)?;
                let image = self.service.create_image(&region, &id, &spec)?;
                stale.push(Node::RegionFile(r, RegionFile::QuotaJson).ino());
                line(image.as_str())
            }
            Node::InstanceFile(r, n, InstanceFile::Reset) => {
                let (region, id) = self.instance_of(r, n)?;
                let image = ImageId::parse(text.trim())?;
                self.service.reset_instance(&region, &id, &image)?;
                stale.extend(
                    [InstanceFile::Metadata, InstanceFile::State]
                        .map(|f| Node::InstanceFile(r, n, f).ino()),
                );
                line(image.as_str())
            }
            Node::RegionFile(r, RegionFile::Import) => {
                let region = self.region_name(r)?.to_string();
                let spec: ImportImageSpec = json_command(text, "import")?;
                stale.push(Node::RegionFile(r, RegionFile::QuotaJson).ino());
                match self.service.import_image(&region, &spec, caller)? {
                    Some(image) => line(image.as_str()),
                    None => line("dry run: the import would be accepted"),
                }
            }
            _ => return Err(self.refuse_error("write", node, &self.path(node))),
        };
        Ok((Some(outcome), stale))
    }

    /// `rmdir name` in `parent`: terminating an instance or deleting a custom image; anything
    /// else is refused. Returns the inodes whose cached attributes it made stale.
    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<Vec<u64>> {
        let parent_node = self.node(parent)?;
        let path = format!("{}/{}", self.path(parent_node), name.to_string_lossy());
        let result = match parent_node {
            Node::InstancesDir(r) => (|| {
                let region = self.region_name(r)?;
                let text = name.to_str().ok_or_else(|| no_such(&path))?;
                let id = InstanceId::parse(text).map_err(|_| no_such(&path))?;
                self.service
                    .terminate_instance(region, &id)
                    .map(|()| Vec::new())
            })(),
            Node::KindDir(r, ImageKind::Custom) => (|| {
                let region = self.region_name(r)?;
                let text = name.to_str().ok_or_else(|| no_such(&path))?;
                let id = ImageId::parse(text).map_err(|_| no_such(&path))?;
                self.service.delete_image(region, &id)?;
                Ok(vec![Node::RegionFile(r, RegionFile::QuotaJson).ino()])
            })(),
            _ => return Err(self.refuse("rmdir", parent_node, Some(name))),
        };
        match &result {
            Ok(_) => self.forget_recent(),
            Err(e) => self.record("rmdir", &path, e),
        }
        let mut stale = result?;
        if let Some(r) = parent_node.region() {
            stale.extend(Self::listing_dirs(r));
        }
        Ok(stale)
    }

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

    fn refuse_error(&self, operation: &str, node: Node, path: &str) -> Error {
        let shared = matches!(
            node,
            Node::KindDir(_, ImageKind::Shared)
                | Node::ImageDir(_, ImageKind::Shared, _)
                | Node::ImageFile(_, ImageKind::Shared, _, _)
        );
        let (code, message) = match (operation, node) {
            (_, _) if shared => (
                "UnsupportedOperation.SharedImageModifyUnsupported",
                format!(
                    "cannot {operation} {path}: an image shared with you can only be launched or copied into your custom images; its owner changes it"
                ),
            ),
            ("write" | "setattr", Node::ImageFile(_, kind @ (ImageKind::Public | ImageKind::Marketplace), _, _)) => (
                "UnsupportedOperation",
                format!("{path} is read-only: {kind} images cannot be modified"),
            ),
            ("write" | "setattr", _) => ("UnsupportedOperation", format!("{path} is read-only")),
            ("rmdir", Node::KindDir(_, kind)) => (
                "UnsupportedOperation",
                format!("cannot remove {path}: {kind} images cannot be deleted"),
            ),
            _ => (
                "UnsupportedOperation",
                format!(
                    "cannot {operation} {path}: the tree's entries come from the image service"
                ),
            ),
        };
        Error::new(code, message)
    }

    /// Whether `setattr` may truncate this node: `echo >` truncates control files first.
    pub fn accepts_truncate(&self, ino: u64) -> bool {
        Node::from_ino(ino).is_some_and(|n| n.is_control())
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
        let mut log = lock(&self.errors);
        if log.lines.len() == ERROR_LOG_LINES {
            log.lines.pop_front();
        }
        log.lines.push_back(entry);
        log.changed = now;
    }

    /// The node of an inode number, for the adapter's refusals.
    pub fn node_of(&self, ino: u64) -> Result<Node> {
        self.node(ino)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::store::Store;
    use crate::local::LocalService;

    /// With a change feed, `by-name/<kind>/` is listed a page at a time and each link found
    /// from the images sharing its image's name: the links are those the whole-kind table
    /// gives (shared names, unusable names, a name equal to another image's suffixed link),
    /// and each looks up to its image.
    #[test]
    fn by_name_pages_and_lookups_agree_with_the_whole_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(&dir.path().join("s.db"), None).expect("store"));
        let owner = crate::model::AccountId::parse("100000000001").expect("account");
        crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 0, 8)
            .expect("images");
        let ids: Vec<String> = store
            .with_conn(|c| {
                let mut stmt = c.prepare(
                    "SELECT image_id FROM images WHERE kind = 'CUSTOM' ORDER BY image_id",
                )?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .expect("ids");
        let names = [
            "alpha".to_string(),
            "dup".to_string(),
            "dup".to_string(),
            String::new(),
            "x/y".to_string(),
            format!("dup.{}", ids[1]),
            "..".to_string(),
            "omega".to_string(),
        ];
        for (id, name) in ids.iter().zip(&names) {
            store
                .with_tx(|c| {
                    c.execute(
                        "UPDATE images SET image_name = ?1 WHERE image_id = ?2",
                        [name, id],
                    )?;
                    Ok(())
                })
                .expect("rename");
        }
        let service = LocalService::open(store, None).expect("service");
        let fs = ImageFs::new(Arc::new(service)).expect("fs");
        assert!(fs.watches_changes());
        let r = fs.region_index("ap-guangzhou").expect("region");
        let mut whole: Vec<(String, u64)> = fs
            .compute_link_names(r, ImageKind::Custom)
            .expect("table")
            .into_iter()
            .map(|(link, e)| (link, e.image_id.number()))
            .collect();
        whole.sort();
        assert!(whole.contains(&(
            format!("dup.{}.{}", ids[1], ids[5]),
            ImageId::parse(&ids[5]).expect("id").number()
        )));
        let dir_ino = Node::ByNameKind(r, ImageKind::Custom).ino();
        let mut paged: Vec<(String, u64)> = fs
            .dir_page(dir_ino, 0, 0)
            .expect("page")
            .into_iter()
            .map(|(_, e)| match Node::from_ino(e.attr.ino) {
                Some(Node::NameLink(_, _, n)) => (e.name, n),
                other => panic!("not a link: {other:?}"),
            })
            .collect();
        paged.sort();
        assert_eq!(paged, whole);
        for (link, n) in &whole {
            let attr = fs.lookup(dir_ino, OsStr::new(link)).expect("lookup");
            assert_eq!(
                attr.ino,
                Node::NameLink(r, ImageKind::Custom, *n).ino(),
                "{link}"
            );
        }
        for name in ["dup", "", "x/y", "..", "nothing"] {
            assert!(fs.lookup(dir_ino, OsStr::new(name)).is_err(), "{name:?}");
        }
        // Nothing built a table of the whole kind.
        assert!(fs.links.get(&(r, ImageKind::Custom)).is_none());
    }

    fn fs() -> (tempfile::TempDir, ImageFs) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(&dir.path().join("s.db"), None).expect("store"));
        let service = LocalService::open(store, None).expect("service");
        (dir, ImageFs::new(Arc::new(service)).expect("fs"))
    }

    fn walk(fs: &ImageFs, path: &str) -> Result<Attr> {
        let mut attr = fs.getattr(Node::ROOT_INO)?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            attr = fs.lookup(attr.ino, OsStr::new(part))?;
        }
        Ok(attr)
    }

    fn cat(fs: &ImageFs, path: &str) -> Result<String> {
        let attr = walk(fs, path)?;
        let data = fs.read(attr.ino, 0, u32::MAX)?;
        assert_eq!(attr.size, data.len() as u64, "{path}");
        Ok(String::from_utf8(data).expect("utf-8"))
    }

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

    /// A store with one custom image of the default account, and two filesystems on it: the
    /// one under test and "another mount" of the same account.
    fn two_mounts() -> (tempfile::TempDir, ImageFs, ImageFs, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(&dir.path().join("s.db"), None).expect("store"));
        let owner = store.default_account().expect("account");
        crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 0, 1).expect("image");
        let open = || {
            let service = LocalService::open(store.clone(), None)
                .expect("service")
                .with_transition_delay(Some(Duration::from_millis(50)));
            ImageFs::new(Arc::new(service)).expect("fs")
        };
        let (this, other) = (open(), open());
        let custom = walk(&this, "regions/ap-guangzhou/custom").expect("custom");
        let image = this.list(custom.ino).expect("list")[0].name.clone();
        (dir, this, other, image)
    }

    fn caller() -> Caller {
        Caller {
            uid: 0,
            gid: 0,
            pid: 0,
        }
    }

    #[test]
    fn a_file_mtime_versions_its_contents_and_writes() {
        let (_dir, fs, _other, image) = two_mounts();
        let name = walk(&fs, &format!("regions/ap-guangzhou/custom/{image}/name")).expect("name");
        let dir = walk(&fs, &format!("regions/ap-guangzhou/custom/{image}")).expect("dir");
        let second = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
        };
        // The version lives in the nanoseconds: `ls -l` still shows CreatedTime.
        assert_eq!(second(name.mtime), second(dir.mtime));
        fs.write(name.ino, b"renamed\n", &caller()).expect("rename");
        let renamed = fs.getattr(name.ino).expect("getattr");
        assert_ne!(renamed.mtime, name.mtime);
        assert_eq!(second(renamed.mtime), second(dir.mtime));
        // The same contents again: the write still shows, so a page it went through is dropped.
        fs.write(name.ino, b"renamed\n", &caller())
            .expect("rename again");
        assert_ne!(fs.getattr(name.ino).expect("getattr").mtime, renamed.mtime);
        // Reading changes nothing.
        let now = fs.getattr(name.ino).expect("getattr");
        cat(&fs, &format!("regions/ap-guangzhou/custom/{image}/name")).expect("cat");
        assert_eq!(fs.getattr(name.ino).expect("getattr"), now);
    }

    #[test]
    fn changes_made_elsewhere_say_what_to_drop_and_show_at_once() {
        let (_dir, fs, other, image) = two_mounts();
        assert!(fs.watches_changes());
        let path = format!("regions/ap-guangzhou/custom/{image}/name");
        assert_eq!(cat(&fs, &path).expect("cat").trim_end(), "synthetic-0");
        assert!(fs.changes().expect("changes").is_empty(), "nothing changed");
        let name = walk(&other, &path).expect("name");
        other
            .write(name.ino, b"elsewhere\n", &caller())
            .expect("rename elsewhere");
        let drop = fs.changes().expect("changes");
        let metadata = walk(
            &fs,
            &format!("regions/ap-guangzhou/custom/{image}/metadata.json"),
        )
        .expect("metadata");
        let custom = walk(&fs, "regions/ap-guangzhou/custom").expect("custom");
        let quota = walk(&fs, "regions/ap-guangzhou/quota.json").expect("quota");
        for wanted in [
            Invalidation::Inode(metadata.ino),
            Invalidation::Inode(name.ino),
            Invalidation::Inode(quota.ino),
            Invalidation::Entry {
                parent: custom.ino,
                name: image.clone(),
            },
        ] {
            assert!(drop.contains(&wanted), "{wanted:?} in {drop:?}");
        }
        // The record read moments ago is forgotten: the next read is the present.
        assert_eq!(cat(&fs, &path).expect("cat").trim_end(), "elsewhere");
        assert!(fs.changes().expect("changes").is_empty(), "reported once");
    }

    #[test]
    fn a_transition_reaching_its_end_is_a_change() {
        let (_dir, fs, other, image) = two_mounts();
        let launch = walk(
            &other,
            &format!("regions/ap-guangzhou/custom/{image}/launch"),
        )
        .expect("launch");
        other.write(launch.ino, b"1\n", &caller()).expect("launch");
        let launched = fs.changes().expect("changes");
        let instance = launched
            .iter()
            .find_map(|i| match i {
                Invalidation::Entry { name, .. } if name.starts_with("ins-") => Some(name.clone()),
                _ => None,
            })
            .expect("the new instance is named");
        // Nothing is written when the instance starts running, yet its state changes.
        std::thread::sleep(Duration::from_millis(120));
        let state = walk(
            &fs,
            &format!("regions/ap-guangzhou/instances/{instance}/state"),
        )
        .expect("state");
        assert!(
            fs.changes()
                .expect("changes")
                .contains(&Invalidation::Inode(state.ino)),
            "the end of the transition is reported"
        );
        assert_eq!(
            cat(
                &fs,
                &format!("regions/ap-guangzhou/instances/{instance}/state")
            )
            .expect("cat")
            .trim_end(),
            "RUNNING"
        );
    }

    #[test]
    fn a_reader_far_behind_is_told_everything_changed() {
        let (dir, fs, _other, _image) = two_mounts();
        let store = Store::open(&dir.path().join("s.db"), None).expect("store");
        let owner = store.default_account().expect("account");
        crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 1, 10_001)
            .expect("images");
        assert_eq!(
            fs.changes().expect("changes").first(),
            Some(&Invalidation::Everything)
        );
        assert!(
            fs.changes().expect("changes").is_empty(),
            "then in step again"
        );
    }

    #[test]
    fn an_image_directory_is_read_a_page_at_a_time_and_whole() {
        let (dir, fs, _other, _image) = two_mounts();
        let store = Store::open(&dir.path().join("s.db"), None).expect("store");
        let owner = store.default_account().expect("account");
        crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 1, 1199)
            .expect("images");
        let custom = walk(&fs, "regions/ap-guangzhou/custom").expect("custom");
        let whole: Vec<String> = fs
            .list(custom.ino)
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(whole.len(), 1200);
        let (mut paged, mut offset, mut requests) = (Vec::new(), 2, 0);
        loop {
            let page = fs.dir_page(custom.ino, 0, offset).expect("page");
            let Some((last, _)) = page.last() else { break };
            assert!(page.len() <= LISTING_PAGE);
            offset = *last;
            paged.extend(page.into_iter().map(|(_, e)| e.name));
            requests += 1;
        }
        assert_eq!(paged, whole, "every image once, in order");
        assert_eq!(requests, 1200usize.div_ceil(LISTING_PAGE));
    }

    /// Reads an image directory as `grep -r` does (listing, the request past its end, then
    /// the files), with what the adapter does once that last request is answered.
    fn read_through(fs: &ImageFs, ino: u64) -> Vec<DirEntry> {
        let page = fs.dir_page(ino, 0, 0).expect("listing");
        let end = page.last().map(|(cookie, _)| *cookie).expect("files");
        assert!(fs.dir_page(ino, 0, end).expect("end").is_empty());
        fs.end_pass(ino);
        fs.prepare_following(ino);
        page.into_iter().map(|(_, entry)| entry).collect()
    }

    #[test]
    fn the_next_image_directory_is_listed_ahead_and_only_while_nothing_changed() {
        let (dir, fs, other, _image) = two_mounts();
        let store = Store::open(&dir.path().join("s.db"), None).expect("store");
        let owner = store.default_account().expect("account");
        crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 1, 7)
            .expect("images");
        fs.changes().expect("in step with the feed");
        let custom = walk(&fs, "regions/ap-guangzhou/custom").expect("custom");
        let dirs: Vec<(String, u64)> = fs
            .dir_page(custom.ino, 0, 0)
            .expect("custom")
            .into_iter()
            .map(|(_, e)| (e.name, e.attr.ino))
            .collect();
        assert_eq!(dirs.len(), 8);
        let prepared = |ino: u64| lock(&fs.prepared).contains_key(&ino);

        // The first two in order: the reader goes in order, so the third is listed ahead,
        // and what it is served is what a listing made now shows.
        read_through(&fs, dirs[0].1);
        assert!(
            !prepared(dirs[1].1),
            "one directory says nothing of the order"
        );
        read_through(&fs, dirs[1].1);
        assert!(prepared(dirs[2].1));
        assert_eq!(
            read_through(&fs, dirs[2].1),
            fs.list(dirs[2].1).expect("list")
        );
        assert!(!prepared(dirs[2].1), "taken");
        assert!(prepared(dirs[3].1));

        // Renamed elsewhere after it was listed ahead: the watcher's look makes the listing
        // made ahead stale, and the reader sees the new name.
        let name = walk(
            &other,
            &format!("regions/ap-guangzhou/custom/{}/name", dirs[3].0),
        )
        .expect("name");
        other
            .write(name.ino, b"renamed-elsewhere\n", &caller())
            .expect("rename");
        fs.changes().expect("changes");
        let listed = read_through(&fs, dirs[3].1);
        let name = listed.iter().find(|e| e.name == "name").expect("name");
        assert_eq!(
            name.content.as_ref().map(|(_, c)| c.as_slice()),
            Some(&b"renamed-elsewhere\n"[..])
        );
        assert!(prepared(dirs[4].1), "the reader still goes in order");

        // A write refused after it was listed ahead changes no record, but versions the
        // file it went to: the listing shows the file as it is now.
        let launch = walk(
            &fs,
            &format!("regions/ap-guangzhou/custom/{}/launch", dirs[4].0),
        )
        .expect("launch");
        assert!(fs.write(launch.ino, b"many\n", &caller()).is_err());
        let listed = read_through(&fs, dirs[4].1);
        let launch_listed = listed.iter().find(|e| e.name == "launch").expect("launch");
        assert_eq!(launch_listed.attr, fs.getattr(launch.ino).expect("getattr"));
        assert_ne!(launch_listed.attr.mtime, launch.mtime);

        // A reader out of order costs no read of the store: the next directory is listed
        // ahead only when its image was read already.
        std::thread::sleep(RECENT);
        read_through(&fs, dirs[0].1);
        assert!(!prepared(dirs[1].1));
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
        assert_eq!(e.code(), "UnsupportedOperation");
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
        let error = Error::new("UnsupportedOperation", "no");
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

#[cfg(test)]
mod parser_properties {
    //! The command parsers take any bytes without panicking, and keep what they promise.

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn command_text_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            match command_text(&bytes) {
                Ok(text) => {
                    let original = std::str::from_utf8(&bytes).expect("test value");
                    prop_assert!(original.starts_with(text));
                    prop_assert!(original.len() - text.len() <= 2);
                }
                Err(e) => prop_assert_eq!(e.errno(), libc::EINVAL),
            }
        }

        #[test]
        fn only_one_trailing_newline_is_dropped(text in "[^\r\n]{0,40}", newlines in 0usize..4) {
            let written = format!("{text}{}", "\n".repeat(newlines));
            let parsed = command_text(written.as_bytes()).expect("test value");
            let expected = format!("{text}{}", "\n".repeat(newlines.saturating_sub(1)));
            prop_assert_eq!(parsed, expected.as_str());
        }

        #[test]
        fn launch_counts_round_trip(n in any::<i64>(), pad in "[ \t]{0,3}") {
            let spec = parse_launch(&format!("{pad}{n}{pad}")).expect("test value");
            prop_assert_eq!(spec.instance_count, Some(n));
        }

        #[test]
        fn launch_never_panics(text in any::<String>()) {
            if let Err(e) = parse_launch(&text) {
                prop_assert_eq!(e.errno(), libc::EINVAL);
            }
        }

        #[test]
        fn create_image_takes_the_whole_text_as_a_name(name in "[^{\n][^\n]{0,70}") {
            let spec = parse_create_image(&name).expect("test value");
            prop_assert_eq!(spec.image_name, name);
        }

        #[test]
        fn create_image_never_panics(text in any::<String>()) {
            if let Err(e) = parse_create_image(&text) {
                prop_assert_eq!(e.errno(), libc::EINVAL);
            }
        }

        #[test]
        fn list_values_split_on_whitespace_and_commas(
            values in proptest::collection::vec("[a-z0-9-]{1,12}", 0..20),
            separators in proptest::collection::vec("[ ,\t\n]{1,3}", 20),
        ) {
            let mut text = String::new();
            for (value, sep) in values.iter().zip(separators.iter()) {
                text.push_str(value);
                text.push_str(sep);
            }
            let parsed: Vec<String> = list_values(&text).into_iter().map(str::to_owned).collect();
            prop_assert_eq!(parsed, values);
        }

        #[test]
        fn json_commands_never_panic(text in any::<String>()) {
            let _ = json_command::<ImportImageSpec>(&text, "import");
            let _ = json_command::<LaunchSpec>(&text, "launch");
        }
    }
}
