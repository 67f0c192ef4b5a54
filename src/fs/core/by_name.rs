//! `regions/<r>/by-name/<kind>/`: a symlink named after each image, to its directory.
//!
//! A name that several images of the kind share, or that cannot be a file name (empty, `.`,
//! `..`, containing `/` or NUL), becomes `<name>.<ImageId>` with `/` and NUL replaced by `_`
//! (`image.<ImageId>` when nothing is left). Without a change feed the links of a kind are
//! computed from the whole kind (and kept for a moment); with one, each link is found from
//! the images that share its image's name, and listings are read a page at a time.

use std::collections::HashMap;
use std::sync::Arc;

use super::paging::{image_after, LINK_PAGE};
use super::{Attr, DirEntry, ImageFs};
use crate::error::Result;
use crate::fs::inode::{image_id, Node};
use crate::model::{ImageEntry, ImageId, ImageKind};

/// Whether an image's `by-name` link carries its ImageId: its name is shared by other
/// images of the kind (`same_name` counts them all), or cannot be a file name.
fn link_needs_suffix(e: &ImageEntry, same_name: usize) -> bool {
    !usable_link_name(&e.image_name) || same_name != 1
}

/// Whether a name can be a link's file name as it is (not empty, `.`, `..`, nor containing
/// `/` or NUL).
pub(super) fn usable_link_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// `<name>.<id>`, `/` and NUL replaced by `_` (`<fallback>.<id>` when nothing is left).
pub(super) fn suffixed_name(name: &str, fallback: &str, id: &str) -> String {
    let cleaned = name.replace(['/', '\0'], "_");
    let base = if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        fallback
    } else {
        &cleaned
    };
    format!("{base}.{id}")
}

/// `<name>.<ImageId>`, `/` and NUL replaced by `_` (`image.<ImageId>` when nothing is left).
fn suffixed_link(e: &ImageEntry) -> String {
    suffixed_name(&e.image_name, "image", e.image_id.as_str())
}

/// Where a link to image `id` of `kind` points, from `by-name/<kind>/`.
fn link_text(kind: ImageKind, id: &ImageId) -> String {
    format!("../../{}/{id}", kind.dir_name())
}

/// The `by-name` links of one kind in one region, and where each name is.
pub(super) struct LinkTable {
    list: Vec<(String, ImageEntry)>,
    index: HashMap<String, usize>,
}

/// The entry `name` of `by-name/`: a kind, or `instances`.
pub(super) fn kind_child(r: u8, name: &str) -> Option<Node> {
    if name == super::instance_by_name::DIR_NAME {
        return Some(Node::InstancesByName(r));
    }
    ImageKind::from_dir_name(name).map(|k| Node::ByNameKind(r, k))
}

impl ImageFs {
    pub(super) fn list_by_name(&self, r: u8) -> Result<Vec<DirEntry>> {
        let instances = super::instance_by_name::DIR_NAME;
        ImageKind::ALL
            .into_iter()
            .map(|k| self.entry(k.dir_name(), Node::ByNameKind(r, k)))
            .chain([self.entry(instances, Node::InstancesByName(r))])
            .collect()
    }

    /// A link's attributes, from the image it names.
    fn link_attr(&self, r: u8, kind: ImageKind, e: &ImageEntry) -> Attr {
        let node = Node::NameLink(r, kind, e.image_id.number());
        let target_len = link_text(kind, &e.image_id).len();
        self.attr(node, target_len as u64, Self::created(&e.created_time))
    }

    pub(super) fn list_links(&self, r: u8, kind: ImageKind) -> Result<Vec<DirEntry>> {
        Ok(self
            .link_names(r, kind)?
            .list
            .iter()
            .map(|(link, e)| DirEntry {
                name: link.clone(),
                attr: self.link_attr(r, kind, e),
                content: None,
            })
            .collect())
    }

    /// Like the kind's own directory: a page at a time (with a change feed), each link
    /// named from the images that share its image's name.
    pub(super) fn links_page(
        &self,
        r: u8,
        kind: ImageKind,
        offset: u64,
    ) -> Result<Vec<(u64, DirEntry)>> {
        let region = self.region_name(r)?;
        let after = image_after(offset)?;
        let page = self
            .service
            .list_images_after(region, kind, after.as_ref(), LINK_PAGE)?;
        let names: Vec<&str> = page.iter().map(|e| e.image_name.as_str()).collect();
        let counts = self.service.name_counts(region, kind, &names)?;
        page.iter()
            .map(|e| {
                let same_name = counts.get(&e.image_name).copied().unwrap_or(0);
                let entry = DirEntry {
                    name: self.link_counted(region, kind, e, same_name)?,
                    attr: self.link_attr(r, kind, e),
                    content: None,
                };
                Ok((e.image_id.number() + 3, entry))
            })
            .collect()
    }

    /// The link `name` in `by-name/<kind>/`, if there is one.
    pub(super) fn lookup_link(&self, r: u8, kind: ImageKind, name: &str) -> Result<Option<Attr>> {
        let entry = if self.watches_changes() {
            self.link_target(self.region_name(r)?, kind, name)?
        } else {
            let table = self.link_names(r, kind)?;
            table
                .index
                .get(name)
                .and_then(|&i| table.list.get(i))
                .map(|(_, e)| e.clone())
        };
        Ok(entry.map(|e| self.link_attr(r, kind, &e)))
    }

    pub(super) fn name_link_attr(
        &self,
        node: Node,
        r: u8,
        kind: ImageKind,
        n: u64,
    ) -> Result<Attr> {
        let (_, id, image) = self.image_record(r, kind, n)?;
        let target = link_text(kind, &id);
        Ok(self.attr(
            node,
            target.len() as u64,
            Self::created(&image.created_time),
        ))
    }

    /// Where link `n` of `by-name/<kind>/` points: the image's directory.
    pub(super) fn link_text_of(&self, r: u8, kind: ImageKind, n: u64) -> Result<String> {
        let (_, id, _) = self.image_record(r, kind, n)?;
        Ok(link_text(kind, &id))
    }

    /// The symlinks of `by-name/<kind>/` computed from the whole kind (see the module's
    /// documentation for how they are named).
    fn link_names(&self, r: u8, kind: ImageKind) -> Result<Arc<LinkTable>> {
        self.recent.links.get_or((r, kind), || {
            let list = self.compute_link_names(r, kind)?;
            let index = list
                .iter()
                .enumerate()
                .map(|(i, (link, _))| (link.clone(), i))
                .collect();
            Ok(LinkTable { list, index })
        })
    }

    fn compute_link_names(&self, r: u8, kind: ImageKind) -> Result<Vec<(String, ImageEntry)>> {
        let entries = self.service.list_images(self.region_name(r)?, kind)?;
        let mut count: HashMap<&str, usize> = HashMap::new();
        for e in &entries {
            *count.entry(e.image_name.as_str()).or_default() += 1;
        }
        let needs_suffix = |e: &ImageEntry| link_needs_suffix(e, count[e.image_name.as_str()]);
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
    fn link_of(&self, region: &str, kind: ImageKind, e: &ImageEntry) -> Result<String> {
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
        e: &ImageEntry,
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
    ) -> Result<Option<ImageEntry>> {
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
    fn link_target(&self, region: &str, kind: ImageKind, name: &str) -> Result<Option<ImageEntry>> {
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
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;
    use crate::local::store::Store;
    use crate::local::LocalService;
    use crate::service::ImageService;

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
        let service = LocalService::open(store.clone(), None).expect("service");
        let ids: Vec<String> = service
            .list_images("ap-guangzhou", ImageKind::Custom)
            .expect("ids")
            .into_iter()
            .map(|e| e.image_id.as_str().to_string())
            .collect();
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
            let id = crate::model::ImageId::parse(id).expect("an image ID");
            crate::local::set_image_name(&store, &id, name).expect("rename");
        }
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
        assert!(fs.recent.links.get(&(r, ImageKind::Custom)).is_none());
    }
}
