//! Control files: a write to one is a command. Here: the framing (one write is one command,
//! all or nothing, UTF-8, one trailing newline dropped), the parsing of command texts, the
//! dispatch of each [`ControlFile`] to the node kind that carries it out, what a command
//! forgets and makes stale, and its outcome (what reading the file shows next, kept per
//! writer in `outcomes`, shown through `views`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use super::outcomes::{nearest, owners_of, Outcome, OutcomeBook, ProcTasks};
use super::{lock, Attr, ImageFs, Written, PER_INODE_MAX};
use crate::error::{Code, Error, Result};
use crate::fs::inode::{ControlFile, ImageFile, InstanceFile, Node, RegionFile};
use crate::model::api::read::{self, ReadError};
use crate::model::api::{self, Request};
use crate::model::tags::TaggedResource;
use crate::model::{
    CopySpec, CreateImageSpec, ExportSpec, ImageChanges, ImageId, ImageKind, ImportImageSpec,
    LaunchSpec, Tag,
};
use crate::service::Caller;

/// The longest command. The kernel hands a longer write(2) over in pieces, which would run as
/// separate commands; refusing it whole keeps every write one command, all or nothing.
const MAX_COMMAND: usize = 64 * 1024;

/// What control files' commands produced, and the writes each file took.
#[derive(Default)]
pub(super) struct CommandOutcomes {
    /// What the commands of files that show outcomes produced, and whose each is.
    book: Mutex<OutcomeBook>,
    /// Writes taken by each control file: part of its version, so a write always changes the
    /// file's mtime (the kernel then drops any page the write went through).
    writes: Mutex<HashMap<u64, u64>>,
}

impl CommandOutcomes {
    /// How many writes file `ino` took.
    pub(super) fn writes_taken(&self, ino: u64) -> u64 {
        lock(&self.writes).get(&ino).copied().unwrap_or(0)
    }

    fn count_write(&self, ino: u64) {
        let mut writes = lock(&self.writes);
        if writes.len() >= PER_INODE_MAX {
            writes.clear();
        }
        *writes.entry(ino).or_default() += 1;
    }
}

impl ControlFile {
    /// The file's permissions.
    pub(super) fn perm(self) -> u16 {
        match self {
            ControlFile::Unshare(..) => 0o200,
            ControlFile::Import(_)
            | ControlFile::Rename(..)
            | ControlFile::Describe(..)
            | ControlFile::Launch(..)
            | ControlFile::Share(..)
            | ControlFile::CopyTo(..)
            | ControlFile::Export(..)
            | ControlFile::CreateImage(..)
            | ControlFile::Reset(..)
            | ControlFile::ImageTags(..)
            | ControlFile::InstanceTags(..) => 0o644,
        }
    }

    /// Whether reading it shows the outcome of a command (else its current value, or nothing).
    pub(super) fn shows_outcome(self) -> bool {
        match self {
            ControlFile::Import(_)
            | ControlFile::Launch(..)
            | ControlFile::CopyTo(..)
            | ControlFile::Export(..)
            | ControlFile::CreateImage(..)
            | ControlFile::Reset(..) => true,
            ControlFile::Rename(..)
            | ControlFile::Describe(..)
            | ControlFile::Share(..)
            | ControlFile::Unshare(..)
            | ControlFile::ImageTags(..)
            | ControlFile::InstanceTags(..) => false,
        }
    }

    /// Its name in its directory.
    fn file_name(self) -> &'static str {
        match self {
            ControlFile::Import(_) => RegionFile::Import.name(),
            ControlFile::Rename(..) => ImageFile::Name.name(),
            ControlFile::Describe(..) => ImageFile::Description.name(),
            ControlFile::Launch(..) => ImageFile::Launch.name(),
            ControlFile::Share(..) => ImageFile::Share.name(),
            ControlFile::Unshare(..) => ImageFile::Unshare.name(),
            ControlFile::CopyTo(..) => ImageFile::CopyTo.name(),
            ControlFile::Export(..) => ImageFile::Export.name(),
            ControlFile::CreateImage(..) => InstanceFile::CreateImage.name(),
            ControlFile::Reset(..) => InstanceFile::Reset.name(),
            ControlFile::ImageTags(..) => ImageFile::Tags.name(),
            ControlFile::InstanceTags(..) => InstanceFile::Tags.name(),
        }
    }

    /// Whether `setattr` may truncate it: `echo >` truncates the file before it writes.
    fn accepts_truncate(self) -> bool {
        match self {
            ControlFile::Import(_)
            | ControlFile::Rename(..)
            | ControlFile::Describe(..)
            | ControlFile::Launch(..)
            | ControlFile::Share(..)
            | ControlFile::Unshare(..)
            | ControlFile::CopyTo(..)
            | ControlFile::Export(..)
            | ControlFile::CreateImage(..)
            | ControlFile::Reset(..)
            | ControlFile::ImageTags(..)
            | ControlFile::InstanceTags(..) => true,
        }
    }

    /// Whether its command may add, remove or rename images or instances, and so change
    /// the listings of its region and of the regions it names.
    fn changes_listings(self) -> bool {
        match self {
            ControlFile::Import(_)
            | ControlFile::Rename(..)
            | ControlFile::Launch(..)
            | ControlFile::CopyTo(..)
            | ControlFile::CreateImage(..) => true,
            ControlFile::Describe(..)
            | ControlFile::Share(..)
            | ControlFile::Unshare(..)
            | ControlFile::Reset(..)
            | ControlFile::ImageTags(..)
            | ControlFile::InstanceTags(..)
            | ControlFile::Export(..) => false,
        }
    }
}

/// The text of one command: UTF-8, with one trailing newline removed.
pub(super) fn command_text(data: &[u8]) -> Result<&str> {
    let text = std::str::from_utf8(data)
        .map_err(|_| Error::new(Code::InvalidParameter, "a command must be UTF-8 text"))?;
    Ok(match text.strip_suffix('\n') {
        Some(line) => line.strip_suffix('\r').unwrap_or(line),
        None => text,
    })
}

/// A JSON command: the request of the file's action, read as `imagefs serve` reads the
/// action's JSON body (the same members, types and refusals).
pub(super) fn json_command<T: Request>(text: &str, what: &str) -> Result<T> {
    api::read_json(&json_text(text, what)?)
}

/// A JSON command's text as JSON.
fn json_text(text: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            Code::InvalidParameter,
            format!("{what}: not a valid JSON request: {e}"),
        )
    })
}

/// The values of a list command (`share`, `unshare`, `copy_to`): separated by whitespace or
/// commas.
pub(super) fn list_values(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|v| !v.is_empty())
        .collect()
}

/// `tags`: `key=value` lines, each split at its first `=` (so a key holding `=` cannot be
/// written here); empty lines are skipped, and a lone newline is no tags. The rules of keys
/// and values are the backend's.
fn parse_tags(text: &str) -> Result<Vec<Tag>> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((key, value)) => Ok(Tag {
                key: key.to_string(),
                value: value.to_string(),
            }),
            None => Err(Error::new(
                Code::InvalidParameter,
                format!(
                    "tags takes key=value lines; `{}` has no `=`",
                    l.chars().take(40).collect::<String>()
                ),
            )),
        })
        .collect()
}

/// What a `tags` file shows: `key=value` lines in key order.
pub(super) fn tags_text(tags: &[Tag]) -> Vec<u8> {
    let mut tags: Vec<&Tag> = tags.iter().collect();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    tags.iter()
        .map(|t| format!("{}={}\n", t.key, t.value))
        .collect::<String>()
        .into_bytes()
}

/// `launch`: a count, or a JSON RunInstances request (its image is the file's). Either may
/// leave out the `Placement`: the backend then launches into the region's first available
/// zone (the API itself requires one).
pub(super) fn parse_launch(text: &str) -> Result<LaunchSpec> {
    let text = text.trim();
    if text.starts_with('{') {
        return json_command(text, "launch");
    }
    if text.is_empty() {
        return Err(Error::new(
            Code::InvalidParameter,
            "launch takes a count (1 to 500) or a JSON RunInstances spec; nothing was written",
        ));
    }
    let count: i64 = text.parse().map_err(|_| {
        Error::new(
            Code::InvalidParameterValue,
            format!(
                "launch takes a count (1 to 500) or a JSON RunInstances spec, not `{}`",
                text.chars().take(40).collect::<String>()
            ),
        )
    })?;
    Ok(LaunchSpec {
        instance_count: Some(count),
        ..LaunchSpec::default()
    })
}

/// `create_image`: an image name (the whole text, spaces included), or a JSON CreateImage
/// request (its instance is the file's).
pub(super) fn parse_create_image(text: &str) -> Result<CreateImageSpec> {
    // JSON only when the text starts with `{`: any other text, spaces first included, is a name.
    if text.starts_with('{') {
        return json_command(text, "create_image");
    }
    Ok(CreateImageSpec {
        image_name: text.to_string(),
        ..CreateImageSpec::default()
    })
}

/// `copy_to` of `image`: region IDs separated by whitespace or commas, or a JSON SyncImages
/// request without `ImageIds` (the image is the file's: `ImageIds` is refused as a member the
/// command does not have).
pub(super) fn parse_copy_to(text: &str, image: &ImageId) -> Result<CopySpec> {
    let text = text.trim();
    if !text.starts_with('{') {
        return Ok(CopySpec {
            image_ids: vec![image.to_string()],
            destination_regions: list_values(text).into_iter().map(str::to_owned).collect(),
            ..CopySpec::default()
        });
    }
    read_for_image(text, "copy_to", image)
}

/// A JSON request about the file's image, read with `ImageIds` set to it: `ImageIds` is
/// refused as a member the command does not have.
fn read_for_image<T: api::Request>(text: &str, file: &str, image: &ImageId) -> Result<T> {
    let mut json = json_text(text, file)?;
    if let Some(members) = json.as_object_mut() {
        if members.get("ImageIds").is_some_and(|v| !v.is_null()) {
            return Err(read::refusal("", ReadError::Unknown("ImageIds".into())));
        }
        members.insert("ImageIds".into(), vec![image.to_string()].into());
    }
    api::read_json(&json)
}

/// `export` of `image`: `BUCKET FORMAT [PREFIX]` (whitespace between), or a JSON ExportImages
/// request without `ImageIds` (the image is the file's).
pub(super) fn parse_export(text: &str, image: &ImageId) -> Result<ExportSpec> {
    let text = text.trim();
    if !text.starts_with('{') {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [bucket, format, prefix @ ..] = words.as_slice() else {
            return Err(Error::new(
                Code::InvalidParameterValue,
                "export takes `BUCKET FORMAT [PREFIX]` (FORMAT: RAW, QCOW2, VHD or VMDK) or a JSON ExportImages request without ImageIds",
            ));
        };
        if prefix.len() > 1 {
            return Err(Error::new(
                Code::InvalidParameterValueInvalidFileNamePrefixList,
                "export takes one file name prefix, after the bucket and the format",
            ));
        }
        return Ok(ExportSpec {
            bucket_name: bucket.to_string(),
            image_ids: Some(vec![image.to_string()]),
            export_format: Some(format.to_string()),
            file_name_prefix_list: prefix.first().map(|p| vec![p.to_string()]),
            ..ExportSpec::default()
        });
    }
    read_for_image(text, "export", image)
}

/// The members an `import` request requires, as the API spells them.
const IMPORT_REQUIRED: [&str; 5] = [
    "ImageUrl",
    "ImageName",
    "OsType",
    "OsVersion",
    "Architecture",
];

/// What an `import` request looks like, for refusals that teach it.
const IMPORT_EXAMPLE: &str = r#"{"ImageUrl":"/srv/disk.qcow2","ImageName":"my-disk","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64"}"#;

/// `import`: a JSON ImportImage request. A text that is not JSON, or an object without some
/// required members, is refused naming every required member (the missing ones) and an
/// example, not one member at a time.
pub(super) fn parse_import(text: &str) -> Result<ImportImageSpec> {
    let teach = format!(
        "import takes one JSON ImportImage request with the members {} (OsType, OsVersion and \
         Architecture as import-os.json lists them), e.g. {IMPORT_EXAMPLE}",
        IMPORT_REQUIRED.join(", ")
    );
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(
            Code::InvalidParameter,
            format!("import: not a valid JSON request: {e}; {teach}"),
        )
    })?;
    if let Some(members) = json.as_object() {
        let missing: Vec<&str> = IMPORT_REQUIRED
            .iter()
            .copied()
            .filter(|m| members.get(*m).is_none_or(serde_json::Value::is_null))
            .collect();
        if !missing.is_empty() {
            return Err(Error::new(
                Code::MissingParameter,
                format!(
                    "The request is missing the required parameters {}; {teach}",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    api::read_json::<api::ImportImageRequest>(&json).map(ImportImageSpec::from)
}

/// What a command produced: its outcome (what reading the file shows next, for files that
/// show outcomes) and the inodes it made stale.
type Done = (Option<Vec<u8>>, Vec<u64>);

impl ImageFs {
    /// Whether `setattr` may truncate this node: `echo >` truncates control files first.
    pub fn accepts_truncate(&self, ino: u64) -> bool {
        self.node_of(ino)
            .ok()
            .and_then(Node::control_file)
            .is_some_and(ControlFile::accepts_truncate)
    }

    /// A write to `node`: the command of a control file, refused anywhere else (and recorded
    /// in `errors` when it fails); `view`: the view it was written through. Returns what the
    /// command made stale.
    pub(super) fn write_node(
        &self,
        node: Node,
        data: &[u8],
        offset: u64,
        caller: &Caller,
        view: Option<u64>,
    ) -> Result<Written> {
        self.commands.count_write(node.ino());
        let Some(control) = node.control_file() else {
            let error = if node.is_dir() {
                self.is_a_directory(node)
            } else {
                self.refuse_error("write", node, &self.path(node))
            };
            self.record("write", &self.path(node), &error);
            return Err(error);
        };
        let result = self.command(control, data, offset, caller);
        let first_outcome = control.shows_outcome()
            && self.keep_outcome(node, result.as_ref().ok().map(|(o, _)| o), caller, view);
        match result {
            Ok((_, stale)) => {
                let mut written = Written {
                    stale: self.command_done(node, control, stale),
                    names: Vec::new(),
                };
                if first_outcome {
                    // Its name was handed out as the file's own node, for long: from now on
                    // each lookup is to find the looker's view.
                    written
                        .names
                        .push((node.parent().ino(), control.file_name().to_string()));
                }
                Ok(written)
            }
            Err(error) => {
                self.record("write", &self.path(node), &error);
                Err(error)
            }
        }
    }

    /// Keeps what a command to a file that shows outcomes produced (`None`: it was refused,
    /// and produced nothing), for its writer and for the file's next readers, and shows it
    /// through the view it was written through. Returns whether it is the file's first.
    fn keep_outcome(
        &self,
        node: Node,
        outcome: Option<&Option<Vec<u8>>>,
        caller: &Caller,
        view: Option<u64>,
    ) -> bool {
        let owners = owners_of(&ProcTasks, caller.pid);
        let mut book = lock(&self.commands.book);
        let first = !book.has_outcomes(node.ino());
        if first && outcome.is_none() {
            // Nothing to hide: the file shows no outcome to anyone yet.
            return false;
        }
        let content = outcome.cloned().flatten().unwrap_or_default();
        let kept = book.record(node.ino(), &owners, content, Instant::now());
        drop(book);
        if let Some(view) = view {
            self.views.written(view, kept);
        }
        first
    }

    /// The outcome thread `tid` is shown of control file `file`: its own thread's, its
    /// process's or its nearest ancestor's, else the file's last. `None` when the file shows
    /// no outcome (it shows a value, or no command was written to it).
    pub(super) fn shown_outcome(&self, file: Node, tid: u32) -> Option<Outcome> {
        if !file.control_file().is_some_and(ControlFile::shows_outcome) {
            return None;
        }
        let ino = file.ino();
        {
            let book = lock(&self.commands.book);
            if !book.has_owners(ino) {
                return book.last(ino);
            }
        }
        let now = Instant::now();
        nearest(&ProcTasks, tid, |owner| {
            lock(&self.commands.book).owned(ino, owner, now)
        })
        .or_else(|| lock(&self.commands.book).last(ino))
    }

    /// Whether a lookup of file `ino` now answers with views (so its name must not be cached).
    pub fn shows_views(&self, ino: u64) -> bool {
        Node::from_ino(ino)
            .and_then(Node::control_file)
            .is_some_and(ControlFile::shows_outcome)
            && lock(&self.commands.book).has_outcomes(ino)
    }

    /// Carries out the command written to a control file.
    fn command(
        &self,
        control: ControlFile,
        data: &[u8],
        offset: u64,
        caller: &Caller,
    ) -> Result<Done> {
        if data.len() > MAX_COMMAND {
            return Err(Error::new(
                Code::InvalidParameterValueTooLarge,
                format!(
                    "a command is at most {} KiB; this write has {} bytes",
                    MAX_COMMAND / 1024,
                    data.len()
                ),
            ));
        }
        let text = command_text(data)?;
        let mut stale = vec![control.node().ino()];
        let outcome = match control {
            ControlFile::Import(r) => Some(self.import(r, text, caller, &mut stale)?),
            ControlFile::Rename(r, n) => {
                self.modify_image(r, n, &ImageChanges::name(text), &mut stale)?;
                None
            }
            ControlFile::Describe(r, n) => {
                self.modify_image(r, n, &ImageChanges::description(text), &mut stale)?;
                None
            }
            ControlFile::Launch(r, kind, n) => Some(self.launch(r, kind, n, text)?),
            ControlFile::Share(r, n) => {
                self.share_image(r, n, text, true, &mut stale)?;
                None
            }
            ControlFile::Unshare(r, n) => {
                self.share_image(r, n, text, false, &mut stale)?;
                None
            }
            ControlFile::CopyTo(r, kind, n) => Some(self.copy_to(r, kind, n, text, &mut stale)?),
            ControlFile::Export(r, n) => Some(self.export(r, n, text, &mut stale)?),
            ControlFile::CreateImage(r, n) => Some(self.create_image(r, n, text, &mut stale)?),
            ControlFile::Reset(r, n) => Some(self.reset_instance(r, n, text, &mut stale)?),
            ControlFile::ImageTags(r, n) => {
                self.set_image_tags(r, n, text, offset > 0, &mut stale)?;
                None
            }
            ControlFile::InstanceTags(r, n) => {
                self.set_instance_tags(r, n, text, offset > 0, &mut stale)?;
                None
            }
        };
        Ok((outcome, stale))
    }

    /// `tags` of a custom image or an instance: its whole set of tags (a write at the start
    /// of the file), or more of them (`continued`: a write past the start), which its
    /// `metadata` (metadata.json) shows.
    pub(super) fn write_tags(
        &self,
        resource: &TaggedResource,
        text: &str,
        continued: bool,
        metadata: Node,
        stale: &mut Vec<u64>,
    ) -> Result<()> {
        let tags = parse_tags(text)?;
        if !continued {
            self.service.set_tags(resource, &tags)?;
        } else if !tags.is_empty() {
            // A shell writes a multi-line `printf` or a heredoc a line at a time, and `>>`
            // appends: lines written past the start add to the set, a key already held
            // taking the new value.
            self.service.modify_resource_tags(resource, &tags, &[])?;
        }
        stale.push(metadata.ino());
        Ok(())
    }

    /// After a command succeeded: forgets the records it changed, and adds the listings it
    /// changed to what it made stale.
    fn command_done(&self, node: Node, control: ControlFile, mut stale: Vec<u64>) -> Vec<u64> {
        self.forget_after(control);
        let mut regions: std::collections::BTreeSet<u8> = stale
            .iter()
            .filter_map(|&i| Node::from_ino(i).and_then(|n| n.region()))
            .collect();
        regions.extend(node.region());
        let lists_change = control.changes_listings();
        for r in regions.into_iter().filter(|_| lists_change) {
            stale.extend(Self::listing_dirs(r));
        }
        stale
    }

    /// Forgets the recent records a command may have changed: every read then shows it.
    fn forget_after(&self, control: ControlFile) {
        match control {
            ControlFile::Share(r, n) | ControlFile::Unshare(r, n) => {
                // The share list is all such a command changes here (the image it names is
                // unchanged; other accounts see the change through the journal).
                self.recent.shares.forget(&(r, ImageKind::Custom, n));
                self.recent.next_epoch();
            }
            ControlFile::Import(_)
            | ControlFile::Rename(..)
            | ControlFile::Describe(..)
            | ControlFile::Launch(..)
            | ControlFile::CopyTo(..)
            | ControlFile::Export(..)
            | ControlFile::CreateImage(..)
            | ControlFile::Reset(..)
            | ControlFile::ImageTags(..)
            | ControlFile::InstanceTags(..) => self.recent.forget_all(),
        }
    }

    /// The attributes of the node of a control file that shows outcomes: empty. Once it has
    /// outcomes, readers find them in their views.
    pub(super) fn control_attr(&self, node: Node, fallback_mtime: SystemTime) -> Attr {
        self.versioned(node, &[], fallback_mtime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `import` names every required member at once, with an example, when the text is not
    /// JSON or leaves members out.
    #[test]
    fn import_refusals_teach_every_required_member() {
        let not_json = parse_import("disk.qcow2").unwrap_err();
        assert_eq!(not_json.code(), Code::InvalidParameter);
        assert!(not_json
            .message()
            .starts_with("import: not a valid JSON request: expected value at line 1 column 1"));
        for member in IMPORT_REQUIRED {
            assert!(
                not_json.message().contains(member),
                "{}",
                not_json.message()
            );
        }
        assert!(not_json.message().contains(IMPORT_EXAMPLE));
        // The example itself is accepted.
        parse_import(IMPORT_EXAMPLE).expect("the example reads");
        let partial = parse_import(r#"{"ImageUrl":"/d.qcow2","OsType":"CentOS"}"#).unwrap_err();
        assert_eq!(partial.code(), Code::MissingParameter);
        assert!(
            partial.message().contains(
                "missing the required parameters `ImageName`, `OsVersion`, `Architecture`"
            ),
            "{}",
            partial.message()
        );
    }

    /// `copy_to` takes regions, or a SyncImages request as JSON whose image is the file's,
    /// read as `imagefs serve` reads SyncImages.
    #[test]
    fn copy_to_takes_regions_or_sync_images_json() {
        let image = ImageId::parse("img-9qabwvbn").expect("an image ID");
        let regions = |list: &[&str]| list.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_copy_to("ap-shanghai, ap-beijing\n", &image).expect("regions"),
            CopySpec {
                image_ids: regions(&["img-9qabwvbn"]),
                destination_regions: regions(&["ap-shanghai", "ap-beijing"]),
                ..CopySpec::default()
            }
        );
        assert_eq!(
            parse_copy_to(
                r#" {"DestinationRegions": ["ap-shanghai"], "ImageName": "web sh", "DryRun": true}"#,
                &image
            )
            .expect("SyncImages JSON"),
            CopySpec {
                image_ids: regions(&["img-9qabwvbn"]),
                destination_regions: regions(&["ap-shanghai"]),
                image_name: Some("web sh".into()),
                dry_run: Some(true),
                ..CopySpec::default()
            }
        );
        for (refused, code, member) in [
            (
                r#"{"ImageName": "x"}"#,
                Code::MissingParameter,
                "DestinationRegions",
            ),
            (
                r#"{"DestinationRegions": "ap-shanghai"}"#,
                Code::InvalidParameter,
                "DestinationRegions",
            ),
            (
                r#"{"DestinationRegions": [], "ImageIds": ["img-9qabwvbn"]}"#,
                Code::UnknownParameter,
                "ImageIds",
            ),
            (
                r#"{"DestinationRegions": ["ap-shanghai"], "Encrypt": true}"#,
                Code::UnsupportedOperation,
                "Encrypt",
            ),
            ("{", Code::InvalidParameter, "copy_to"),
        ] {
            let e = parse_copy_to(refused, &image).unwrap_err();
            assert_eq!(e.code(), code, "{refused}");
            assert!(e.message().contains(member), "{refused}: {e}");
        }
        // `null` is a member not given, `ImageIds` too.
        assert!(parse_copy_to(r#"{"DestinationRegions": [], "ImageIds": null}"#, &image).is_ok());
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
            let _ = parse_import(&text);
            let _ = json_command::<LaunchSpec>(&text, "launch");
            let _ = json_command::<CreateImageSpec>(&text, "create_image");
        }
    }
}
