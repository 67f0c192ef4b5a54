//! An image's directory, `regions/<r>/<kind>/<ImageId>/`: its files, their contents, and
//! the commands written to them (`name`, `description`, `share`, `unshare`, `copy_to`,
//! `launch`).

use std::sync::Arc;

use super::commands::{list_values, parse_copy_to, parse_export, parse_launch, tags_text};
use super::{line, no_such, pretty_json, Attr, DirEntry, ImageFs, Invalidation, Rendered};
use crate::error::Result;
use crate::fs::inode::{image_id, ImageFile, Node, RegionFile};
use crate::model::tags::TaggedResource;
use crate::model::{AccountId, Image, ImageChanges, ImageId, ImageKind};

/// The entry `name` of an image's directory: one of the files its kind has.
pub(super) fn child(r: u8, kind: ImageKind, n: u64, name: &str) -> Option<Node> {
    let f = ImageFile::ALL
        .into_iter()
        .find(|f| f.name() == name && f.exists_for(kind))?;
    Some(Node::ImageFile(r, kind, n, f))
}

/// `share`: one account a line.
fn share_list(accounts: &[AccountId]) -> Vec<u8> {
    let mut out = String::new();
    for account in accounts {
        out.push_str(account.as_str());
        out.push('\n');
    }
    out.into_bytes()
}

impl ImageFs {
    pub(super) fn image_of(&self, r: u8, number: u64) -> Result<(String, ImageId)> {
        let region = self.region_name(r)?.to_string();
        let id = image_id(number).ok_or_else(|| no_such(format!("image #{number}")))?;
        Ok((region, id))
    }

    pub(super) fn image_dir_attr(
        &self,
        node: Node,
        r: u8,
        kind: ImageKind,
        n: u64,
    ) -> Result<Attr> {
        let (_, _, image) = self.image_record(r, kind, n)?;
        Ok(self.attr(node, 0, Self::created(&image.created_time)))
    }

    /// An image file's attributes (its size is its contents' length), with the contents they
    /// were taken from, in the epoch they were rendered in.
    pub(super) fn image_file_attr(
        &self,
        node: Node,
        r: u8,
        kind: ImageKind,
        n: u64,
        f: ImageFile,
    ) -> Result<(Attr, Option<Rendered>)> {
        let epoch = self.epoch();
        let (image, content) = self.image_file(r, kind, n, f)?;
        let mtime = Self::created(&image.created_time);
        let attr = self.versioned(node, &content, mtime);
        Ok((attr, Some((epoch, Arc::new(content)))))
    }

    /// An image's files with their contents: the image, its price and (for a custom image)
    /// its shares are read in one look.
    pub(super) fn list_image(&self, r: u8, kind: ImageKind, n: u64) -> Result<Vec<DirEntry>> {
        let epoch = self.epoch();
        let (region, id) = self.image_of(r, n)?;
        let (image, shares) = self.image_with_shares(r, kind, n)?;
        let mtime = Self::created(&image.created_time);
        let mut out = Vec::new();
        for f in ImageFile::ALL.into_iter().filter(|f| f.exists_for(kind)) {
            let child = Node::ImageFile(r, kind, n, f);
            let content =
                self.render_image_file(&region, kind, &id, f, &image, shares.as_deref())?;
            let attr = self.versioned(child, &content, mtime);
            out.push(DirEntry {
                name: f.name().to_string(),
                attr,
                content: Some((epoch, Arc::new(content))),
            });
        }
        Ok(out)
    }

    /// One file of an image, and the image. `share` is read with its image in one look
    /// (each share or unshare forgets both, so they are read again together).
    pub(super) fn image_file(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
        f: ImageFile,
    ) -> Result<(Arc<Image>, Vec<u8>)> {
        let (region, id) = self.image_of(r, n)?;
        if f == ImageFile::Share {
            if let (image, Some(shares)) = self.image_with_shares(r, kind, n)? {
                return Ok((image, share_list(&shares)));
            }
        }
        let (_, _, image) = self.image_record(r, kind, n)?;
        let content = self.render_image_file(&region, kind, &id, f, &image, None)?;
        Ok((image, content))
    }

    /// One file of `image`; `share` from `shares` when they were read with the image.
    fn render_image_file(
        &self,
        region: &str,
        kind: ImageKind,
        id: &ImageId,
        file: ImageFile,
        image: &Image,
        shares: Option<&[AccountId]>,
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
                            .recent
                            .prices
                            .get_or(key, || self.service.price(region, kind, id))?,
                    ),
                    None => pretty_json(&self.service.price(region, kind, id)?),
                }
            }
            ImageFile::Share => match (shares, self.region_index(region)) {
                (Some(shares), _) => Ok(share_list(shares)),
                (None, Some(r)) => Ok(share_list(
                    &self.recent.shares.get_or((r, kind, id.number()), || {
                        self.service.share_accounts(region, id)
                    })?,
                )),
                (None, None) => Ok(share_list(&self.service.share_accounts(region, id)?)),
            },
            ImageFile::Tags => Ok(tags_text(&image.tags)),
            // Their outcomes are shown through views.
            ImageFile::Unshare | ImageFile::Launch | ImageFile::CopyTo | ImageFile::Export => {
                Ok(Vec::new())
            }
        }
    }

    /// `name` or `description` of a custom image: ModifyImageAttribute.
    pub(super) fn modify_image(
        &self,
        r: u8,
        n: u64,
        changes: &ImageChanges,
        stale: &mut Vec<u64>,
    ) -> Result<()> {
        let (region, id) = self.image_of(r, n)?;
        self.service.modify_image(&region, &id, changes)?;
        stale.push(Node::ImageFile(r, ImageKind::Custom, n, ImageFile::Metadata).ino());
        Ok(())
    }

    /// `tags` of a custom image: its whole set of tags.
    pub(super) fn set_image_tags(
        &self,
        r: u8,
        n: u64,
        text: &str,
        continued: bool,
        stale: &mut Vec<u64>,
    ) -> Result<()> {
        let (region, id) = self.image_of(r, n)?;
        let metadata = Node::ImageFile(r, ImageKind::Custom, n, ImageFile::Metadata);
        self.write_tags(
            &TaggedResource::image(&region, &id),
            text,
            continued,
            metadata,
            stale,
        )
    }

    /// `share` (`share` true) or `unshare` of a custom image: accounts separated by
    /// whitespace or commas.
    pub(super) fn share_image(
        &self,
        r: u8,
        n: u64,
        text: &str,
        share: bool,
        stale: &mut Vec<u64>,
    ) -> Result<()> {
        let (region, id) = self.image_of(r, n)?;
        let accounts = list_values(text)
            .into_iter()
            .map(AccountId::parse)
            .collect::<Result<Vec<_>>>()?;
        if share {
            self.service.share_image(&region, &id, &accounts)?;
        } else {
            self.service.unshare_image(&region, &id, &accounts)?;
        }
        stale.push(Node::ImageFile(r, ImageKind::Custom, n, ImageFile::Share).ino());
        Ok(())
    }

    /// `copy_to`: regions separated by whitespace or commas, or a SyncImages request as JSON
    /// (`DestinationRegions`, `ImageName`, `DryRun`, ...). Shows each copy, `<region>
    /// <ImageId>` a line, or that a dry run passed. The source's own files go stale too: a
    /// custom image shows SYNCING while copied.
    pub(super) fn copy_to(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
        text: &str,
        stale: &mut Vec<u64>,
    ) -> Result<Vec<u8>> {
        let (region, id) = self.image_of(r, n)?;
        let request = parse_copy_to(text, &id)?;
        let copies = self.service.sync_images(&region, kind, &id, &request)?;
        if request.dry_run == Some(true) {
            return Ok(line("dry run: the copy would be accepted"));
        }
        stale.extend(
            ImageFile::ALL
                .into_iter()
                .filter(|f| f.exists_for(kind))
                .map(|f| Node::ImageFile(r, kind, n, f).ino()),
        );
        let mut out = String::new();
        for (target, image) in copies {
            if let Some(t) = self.region_index(&target) {
                stale.push(Node::RegionFile(t, RegionFile::QuotaJson).ino());
            }
            out.push_str(&format!("{target} {image}\n"));
        }
        Ok(out.into_bytes())
    }

    /// `export` of a custom image: ExportImages. Shows the files written, one a line (the
    /// image is EXPORTING until they are in place), or that a dry run passed.
    pub(super) fn export(
        &self,
        r: u8,
        n: u64,
        text: &str,
        stale: &mut Vec<u64>,
    ) -> Result<Vec<u8>> {
        let (region, id) = self.image_of(r, n)?;
        let spec = parse_export(text, &id)?;
        let Some(task) = self.service.export_images(&region, &spec)? else {
            return Ok(line("dry run: the export would be accepted"));
        };
        stale.extend(
            ImageFile::ALL
                .into_iter()
                .filter(|f| f.exists_for(ImageKind::Custom))
                .map(|f| Node::ImageFile(r, ImageKind::Custom, n, f).ino()),
        );
        Ok(task.files.iter().flat_map(|f| line(f)).collect())
    }

    /// `launch`: RunInstances. Shows the new instances, one a line, or that a dry run passed.
    pub(super) fn launch(&self, r: u8, kind: ImageKind, n: u64, text: &str) -> Result<Vec<u8>> {
        let (region, id) = self.image_of(r, n)?;
        let spec = parse_launch(text)?;
        let ids = self.service.run_instances(&region, kind, &id, &spec)?;
        if spec.dry_run == Some(true) {
            return Ok(line("dry run: the launch would be accepted"));
        }
        let mut out = String::new();
        for id in ids {
            out.push_str(id.as_str());
            out.push('\n');
        }
        Ok(out.into_bytes())
    }

    /// Forgets what was read of an image changed elsewhere, and says what the kernel must
    /// drop of it: under every kind, its name in the kind's directory, the directory, and
    /// its files.
    pub(super) fn image_changed(&self, r: u8, id: &ImageId, out: &mut Vec<Invalidation>) {
        let n = id.number();
        for kind in ImageKind::ALL {
            self.recent.forget_image(&(r, kind, n));
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
}
