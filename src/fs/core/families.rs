//! `regions/<r>/families/`: a symlink named after each family of the account's custom
//! images, to the directory of the image the family stands for now (DescribeImageFromFamily:
//! its newest usable image that is not deprecated). The kernel looks a family's link up on
//! every path walk (see the adapter's entry TTLs), so `families/web/metadata.json` follows the
//! family as images are made, deprecated and deleted.

use super::{Attr, DirEntry, ImageFs};
use crate::error::Result;
use crate::fs::inode::{image_id, Node};
use crate::model::{ImageId, ImageKind};

/// Where a family's link points, from `families/`.
fn link_text(id: &ImageId) -> String {
    format!("../{}/{id}", ImageKind::Custom.dir_name())
}

impl ImageFs {
    fn family_link(&self, r: u8, id: &ImageId, created_time: &str) -> Attr {
        let node = Node::FamilyLink(r, id.number());
        self.attr(
            node,
            link_text(id).len() as u64,
            Self::created(created_time),
        )
    }

    /// The families that stand for an image, each a link.
    pub(super) fn list_families(&self, r: u8) -> Result<Vec<DirEntry>> {
        let region = self.region_name(r)?.to_string();
        let mut out = Vec::new();
        for (family, id) in self.service.families(&region)? {
            let (_, _, image) = self.image_record(r, ImageKind::Custom, id.number())?;
            out.push(DirEntry {
                attr: self.family_link(r, &id, &image.created_time),
                name: family,
                content: None,
            });
        }
        Ok(out)
    }

    /// The link `name` in `families/`, if the family stands for an image now.
    pub(super) fn lookup_family(&self, r: u8, name: &str) -> Result<Option<Attr>> {
        let region = self.region_name(r)?;
        Ok(self
            .service
            .image_from_family(region, name)?
            .map(|image| self.family_link(r, &image.image_id, &image.created_time)))
    }

    /// A family link's attributes, from the image it points to.
    pub(super) fn family_link_attr(&self, r: u8, n: u64) -> Result<Attr> {
        let (_, id, image) = self.image_record(r, ImageKind::Custom, n)?;
        Ok(self.family_link(r, &id, &image.created_time))
    }

    /// Where a family link points: the custom image's directory.
    pub(super) fn family_link_text(&self, r: u8, n: u64) -> Result<String> {
        let (_, id, _) = self.image_record(r, ImageKind::Custom, n)?;
        Ok(link_text(&id))
    }
}

/// The image number of a family link, for the path of messages.
pub(super) fn linked_image(n: u64) -> String {
    image_id(n).map_or_else(|| format!("#{n}"), |id| id.to_string())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use std::sync::Arc;

    use super::super::test_support::{cat, walk};
    use super::*;
    use crate::local::store::Store;
    use crate::local::LocalService;
    use crate::model::{CreateImageSpec, ImageChanges, LaunchSpec};

    /// `families/<family>` is the family's image now: it appears when an image joins, moves
    /// back when the newest is deprecated, and goes when the family stands for nothing.
    #[test]
    fn a_family_link_points_at_the_familys_image_now() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(&dir.path().join("s.db"), None).expect("store"));
        let service = LocalService::open(store, None)
            .expect("service")
            .with_transition_delay(Some(std::time::Duration::ZERO));
        let fs = ImageFs::new(Arc::new(service)).expect("fs");
        let service = fs.service.clone();
        let gz = "ap-guangzhou";
        let make = |name: &str| {
            let instance = service
                .run_instances(
                    gz,
                    ImageKind::Public,
                    &ImageId::parse("img-9qabwvbn").expect("id"),
                    &LaunchSpec::default(),
                )
                .expect("launch")[0]
                .clone();
            let spec = CreateImageSpec {
                image_name: name.into(),
                image_family: Some("web".into()),
                ..CreateImageSpec::default()
            };
            service
                .create_image(gz, &instance, &spec)
                .expect("create")
                .expect("an image")
        };
        let families = walk(&fs, "regions/ap-guangzhou/families").expect("families");
        assert!(fs.list(families.ino).expect("list").is_empty());
        let old = make("web-1");
        let new = make("web-2");
        let names: Vec<String> = fs
            .list(families.ino)
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["web".to_string()]);
        let link = fs.lookup(families.ino, OsStr::new("web")).expect("web");
        assert_eq!(
            fs.readlink(link.ino).expect("readlink"),
            format!("../custom/{new}")
        );
        let deprecate = ImageChanges {
            deprecated: Some(true),
            ..ImageChanges::default()
        };
        service
            .modify_image(gz, &new, &deprecate)
            .expect("deprecate");
        fs.recent.forget_all();
        let link = fs.lookup(families.ino, OsStr::new("web")).expect("web");
        assert_eq!(
            fs.readlink(link.ino).expect("readlink"),
            format!("../custom/{old}")
        );
        assert!(cat(
            &fs,
            &format!("regions/ap-guangzhou/custom/{new}/metadata.json")
        )
        .expect("metadata")
        .contains("\"ImageDeprecated\": true"));
        service
            .modify_image(gz, &old, &deprecate)
            .expect("deprecate");
        assert!(fs.lookup(families.ino, OsStr::new("web")).is_err());
        assert!(fs.lookup(families.ino, OsStr::new("../x")).is_err());
    }
}
