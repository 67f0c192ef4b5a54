//! An image kind's directory, `regions/<r>/<kind>/`: the images of that kind, listed whole
//! or a page at a time, and custom images deleted by `rmdir`.

use std::ffi::OsStr;

use super::paging::{image_after, LISTING_PAGE};
use super::{no_such, DirEntry, ImageFs};
use crate::error::Result;
use crate::fs::inode::{Node, RegionFile};
use crate::model::{ImageEntry, ImageId, ImageKind};

/// The entry `name` of a kind's directory: an image, by its ImageId.
pub(super) fn child(r: u8, kind: ImageKind, name: &str) -> Option<Node> {
    let id = ImageId::parse(name).ok()?;
    Some(Node::ImageDir(r, kind, id.number()))
}

impl ImageFs {
    /// An image's directory as its kind's listing shows it.
    fn image_dir_entry(&self, r: u8, kind: ImageKind, image: &ImageEntry) -> DirEntry {
        let child = Node::ImageDir(r, kind, image.image_id.number());
        DirEntry {
            name: image.image_id.to_string(),
            attr: self.attr(child, 0, Self::created(&image.created_time)),
            content: None,
        }
    }

    pub(super) fn list_kind(&self, r: u8, kind: ImageKind) -> Result<Vec<DirEntry>> {
        let images = self.service.list_images(self.region_name(r)?, kind)?;
        Ok(images
            .iter()
            .map(|image| self.image_dir_entry(r, kind, image))
            .collect())
    }

    /// The images that follow the readdir cookie `offset`, read from the backend a page
    /// at a time, each with its cookie: its ImageId's number (+3).
    pub(super) fn kind_page(
        &self,
        r: u8,
        kind: ImageKind,
        offset: u64,
    ) -> Result<Vec<(u64, DirEntry)>> {
        let after = image_after(offset)?;
        let page = self.service.list_images_after(
            self.region_name(r)?,
            kind,
            after.as_ref(),
            LISTING_PAGE,
        )?;
        self.note_order(r, kind, page.iter().map(|e| e.image_id.number()));
        Ok(page
            .iter()
            .map(|image| {
                let number = image.image_id.number();
                (number + 3, self.image_dir_entry(r, kind, image))
            })
            .collect())
    }

    /// `rmdir` of a custom image: DeleteImages. Returns the inodes it made stale.
    pub(super) fn delete_image(&self, r: u8, name: &OsStr, path: &str) -> Result<Vec<u64>> {
        let region = self.region_name(r)?;
        let text = name.to_str().ok_or_else(|| no_such(path))?;
        let id = ImageId::parse(text).map_err(|_| no_such(path))?;
        self.service.delete_image(region, &id)?;
        Ok(vec![Node::RegionFile(r, RegionFile::QuotaJson).ino()])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{two_mounts, walk};
    use super::*;
    use crate::local::store::Store;

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
}
