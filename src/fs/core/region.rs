//! A region's directory, `regions/<r>/`, and its files (`region.json`, `quota.json`,
//! `import-os.json`, and `import`, whose command is ImportImage).

use super::commands::parse_import;
use super::{line, pretty_json, Attr, DirEntry, ImageFs, Invalidation};
use crate::error::Result;
use crate::fs::inode::{Node, RegionFile};
use crate::model::ImageKind;
use crate::service::Caller;

/// The entry `name` of region `r`'s directory.
pub(super) fn child(r: u8, name: &str) -> Option<Node> {
    if let Some(f) = RegionFile::ALL.into_iter().find(|f| f.name() == name) {
        Some(Node::RegionFile(r, f))
    } else if let Some(k) = ImageKind::from_dir_name(name) {
        Some(Node::KindDir(r, k))
    } else if name == "instances" {
        Some(Node::InstancesDir(r))
    } else if name == "by-name" {
        Some(Node::ByName(r))
    } else if name == "families" {
        Some(Node::Families(r))
    } else {
        None
    }
}

impl ImageFs {
    pub(super) fn list_region(&self, r: u8) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for f in RegionFile::ALL {
            out.push(self.entry(f.name(), Node::RegionFile(r, f))?);
        }
        for k in ImageKind::ALL {
            out.push(self.entry(k.dir_name(), Node::KindDir(r, k))?);
        }
        out.push(self.entry("instances", Node::InstancesDir(r))?);
        out.push(self.entry("by-name", Node::ByName(r))?);
        out.push(self.entry("families", Node::Families(r))?);
        Ok(out)
    }

    pub(super) fn region_file_attr(&self, node: Node, f: RegionFile) -> Result<Attr> {
        match f {
            RegionFile::Import => Ok(self.control_attr(node, self.mounted_at)),
            RegionFile::RegionJson | RegionFile::QuotaJson | RegionFile::ImportOsJson => {
                let content = self.render(node)?;
                Ok(self.versioned(node, &content, self.mounted_at))
            }
        }
    }

    pub(super) fn render_region_file(&self, node: Node, r: u8, f: RegionFile) -> Result<Vec<u8>> {
        if node.is_control() {
            // Existence first, as for every control file. Its outcomes are shown through
            // views.
            self.attr_of(node)?;
            return Ok(Vec::new());
        }
        let region = self.region(r)?;
        match f {
            RegionFile::RegionJson => pretty_json(region),
            RegionFile::QuotaJson => pretty_json(&self.service.quota(&region.region)?),
            RegionFile::ImportOsJson => pretty_json(&self.service.import_os(&region.region)?),
            RegionFile::Import => Ok(Vec::new()),
        }
    }

    /// `import`: a JSON ImportImage spec. Shows the new image, or that a dry run passed.
    pub(super) fn import(
        &self,
        r: u8,
        text: &str,
        caller: &Caller,
        stale: &mut Vec<u64>,
    ) -> Result<Vec<u8>> {
        let region = self.region_name(r)?.to_string();
        let spec = parse_import(text)?;
        stale.push(Node::RegionFile(r, RegionFile::QuotaJson).ino());
        Ok(match self.service.import_image(&region, &spec, caller)? {
            Some(image) => line(image.as_str()),
            None => line("dry run: the import would be accepted"),
        })
    }

    /// The directories of a region whose listings commands and changes elsewhere alter.
    pub(super) fn listing_dirs(r: u8) -> Vec<u64> {
        let mut dirs: Vec<u64> = ImageKind::ALL
            .into_iter()
            .flat_map(|k| [Node::KindDir(r, k).ino(), Node::ByNameKind(r, k).ino()])
            .collect();
        dirs.push(Node::InstancesDir(r).ino());
        dirs.push(Node::Families(r).ino());
        dirs.push(Node::InstancesByName(r).ino());
        dirs
    }

    /// What the kernel must drop of a region where images or instances changed: its quota
    /// and its listings.
    pub(super) fn region_changed(r: u8, out: &mut Vec<Invalidation>) {
        out.push(Invalidation::Inode(
            Node::RegionFile(r, RegionFile::QuotaJson).ino(),
        ));
        out.extend(Self::listing_dirs(r).into_iter().map(Invalidation::Inode));
    }
}
