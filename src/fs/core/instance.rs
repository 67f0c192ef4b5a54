//! Instances: `regions/<r>/instances/`, an instance's directory and files, the commands
//! written to them (`create_image`, `reset`), and `rmdir` (terminating one).

use std::ffi::OsStr;
use std::sync::Arc;

use super::commands::{parse_create_image, tags_text};
use super::{line, no_such, pretty_json, Attr, DirEntry, ImageFs, Invalidation};
use crate::error::{Code, Error, Result};
use crate::fs::inode::{ControlFile, InstanceFile, Node, RegionFile};
use crate::model::tags::TaggedResource;
use crate::model::{ImageId, ImageKind, Instance, InstanceId};

/// The entry `name` of `instances/`: an instance, by its InstanceId.
pub(super) fn instances_child(r: u8, name: &str) -> Option<Node> {
    let id = InstanceId::parse(name).ok()?;
    Some(Node::InstanceDir(r, id.number()))
}

/// The entry `name` of an instance's directory.
pub(super) fn child(r: u8, n: u64, name: &str) -> Option<Node> {
    let f = InstanceFile::ALL.into_iter().find(|f| f.name() == name)?;
    Some(Node::InstanceFile(r, n, f))
}

fn render_instance_file(file: InstanceFile, instance: &Instance) -> Result<Vec<u8>> {
    match file {
        InstanceFile::Metadata => pretty_json(instance),
        InstanceFile::State => Ok(line(&instance.instance_state)),
        InstanceFile::Tags => Ok(tags_text(&instance.tags)),
        InstanceFile::CreateImage | InstanceFile::Reset => Ok(Vec::new()),
    }
}

impl ImageFs {
    fn instance_of(&self, r: u8, number: u64) -> Result<(String, InstanceId)> {
        let region = self.region_name(r)?.to_string();
        let id = InstanceId::from_number(number)
            .ok_or_else(|| no_such(format!("instance #{number}")))?;
        Ok((region, id))
    }

    pub(super) fn instance_dir_attr(&self, node: Node, r: u8, n: u64) -> Result<Attr> {
        let (region, id) = self.instance_of(r, n)?;
        let instance = self.service.instance(&region, &id)?;
        Ok(self.attr(node, 0, Self::created(&instance.created_time)))
    }

    pub(super) fn instance_file_attr(
        &self,
        node: Node,
        r: u8,
        n: u64,
        f: InstanceFile,
    ) -> Result<Attr> {
        let (region, id) = self.instance_of(r, n)?;
        let instance = self.service.instance(&region, &id)?;
        let mtime = Self::created(&instance.created_time);
        if node.control_file().is_some_and(ControlFile::shows_outcome) {
            return Ok(self.control_attr(node, mtime));
        }
        let content = render_instance_file(f, &instance)?;
        Ok(self.versioned(node, &content, mtime))
    }

    pub(super) fn list_instances(&self, r: u8) -> Result<Vec<DirEntry>> {
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

    /// An instance's files, with the contents of those that are not control files.
    pub(super) fn list_instance(&self, r: u8, n: u64) -> Result<Vec<DirEntry>> {
        let epoch = self.epoch();
        let (region, id) = self.instance_of(r, n)?;
        let instance = self.service.instance(&region, &id)?;
        let mtime = Self::created(&instance.created_time);
        let mut out = Vec::new();
        for f in InstanceFile::ALL {
            let child = Node::InstanceFile(r, n, f);
            let (attr, content) = if child.control_file().is_some_and(ControlFile::shows_outcome) {
                (self.control_attr(child, mtime), None)
            } else {
                let content = render_instance_file(f, &instance)?;
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

    pub(super) fn render_instance(
        &self,
        node: Node,
        r: u8,
        n: u64,
        f: InstanceFile,
    ) -> Result<Vec<u8>> {
        if node.control_file().is_some_and(ControlFile::shows_outcome) {
            // Existence first: a control file of a vanished instance is gone too. Its
            // outcomes are shown through views.
            self.attr_of(node)?;
            return Ok(Vec::new());
        }
        let (region, id) = self.instance_of(r, n)?;
        let instance = self.service.instance(&region, &id)?;
        render_instance_file(f, &instance)
    }

    /// `create_image`: CreateImage from the instance. Shows the new image.
    pub(super) fn create_image(
        &self,
        r: u8,
        n: u64,
        text: &str,
        stale: &mut Vec<u64>,
    ) -> Result<Vec<u8>> {
        let (region, id) = self.instance_of(r, n)?;
        let spec = parse_create_image(text)?;
        let Some(image) = self.service.create_image(&region, &id, &spec)? else {
            return Ok(line("dry run: the image would be accepted"));
        };
        stale.push(Node::RegionFile(r, RegionFile::QuotaJson).ino());
        Ok(line(image.as_str()))
    }

    /// `tags` of an instance: its whole set of tags.
    pub(super) fn set_instance_tags(
        &self,
        r: u8,
        n: u64,
        text: &str,
        continued: bool,
        stale: &mut Vec<u64>,
    ) -> Result<()> {
        let (region, id) = self.instance_of(r, n)?;
        let metadata = Node::InstanceFile(r, n, InstanceFile::Metadata);
        self.write_tags(
            &TaggedResource::instance(&region, &id),
            text,
            continued,
            metadata,
            stale,
        )
    }

    /// `reset`: ResetInstance from the image written. Shows that image.
    pub(super) fn reset_instance(
        &self,
        r: u8,
        n: u64,
        text: &str,
        stale: &mut Vec<u64>,
    ) -> Result<Vec<u8>> {
        let (region, id) = self.instance_of(r, n)?;
        let image = self.image_by_id_or_name(&region, text)?;
        self.service.reset_instance(&region, &id, &image)?;
        stale.extend(
            [InstanceFile::Metadata, InstanceFile::State]
                .map(|f| Node::InstanceFile(r, n, f).ino()),
        );
        Ok(line(image.as_str()))
    }

    /// The image `text` names for `reset`: an image ID, or the name of an image the account
    /// can use in the region. Its own custom image of that name first (the cloud keeps those
    /// names unique per account and region); else the one public, marketplace or shared image
    /// carrying it. A name several of those share is refused with their IDs.
    fn image_by_id_or_name(&self, region: &str, text: &str) -> Result<ImageId> {
        if let Ok(id) = ImageId::parse(text.trim()) {
            return Ok(id);
        }
        let custom = self.service.images_named(region, ImageKind::Custom, text)?;
        let found = if custom.is_empty() {
            let mut others = Vec::new();
            for kind in [ImageKind::Public, ImageKind::Marketplace, ImageKind::Shared] {
                others.extend(self.service.images_named(region, kind, text)?);
            }
            others
        } else {
            custom
        };
        match found.as_slice() {
            [] => Err(Error::new(
                Code::InvalidImageIdMalformed,
                format!(
                    "`{text}` is neither an image ID (img- followed by 8 lowercase letters or \
                     digits) nor the name of an image the account can use in {region}"
                ),
            )),
            [only] => Ok(only.image_id.clone()),
            several => {
                let ids: Vec<&str> = several.iter().map(|e| e.image_id.as_str()).collect();
                Err(Error::new(
                    Code::InvalidParameterValue,
                    format!(
                        "{} images of {region} are named `{text}`: {}; write the ID of the one meant",
                        ids.len(),
                        ids.join(", ")
                    ),
                ))
            }
        }
    }

    /// `rmdir` of an instance: TerminateInstances. The directory stays while the instance is
    /// TERMINATING (or, PREPAID, SHUTDOWN in the recycle bin), as the cloud's listings keep
    /// it: what the kernel holds of its files is made stale, so `state` says so at once.
    pub(super) fn terminate_instance(&self, r: u8, name: &OsStr, path: &str) -> Result<Vec<u64>> {
        let region = self.region_name(r)?;
        let text = name.to_str().ok_or_else(|| no_such(path))?;
        let id = InstanceId::parse(text).map_err(|_| no_such(path))?;
        self.service.terminate_instance(region, &id)?;
        let n = id.number();
        let mut stale = vec![Node::InstanceDir(r, n).ino()];
        stale.extend(InstanceFile::ALL.map(|f| Node::InstanceFile(r, n, f).ino()));
        Ok(stale)
    }

    /// What the kernel must drop of an instance changed elsewhere: its name in
    /// `instances/`, its directory and its files.
    pub(super) fn instance_changed(r: u8, id: &InstanceId, out: &mut Vec<Invalidation>) {
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
}
