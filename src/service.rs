//! The one seam between the filesystem and a backend.
//!
//! A service is bound to one account: every call answers as that account sees the cloud.
//! The filesystem decides which files exist for which kind of image and parses what is
//! written to them; every rule of the image service (visibility, quotas, names, states,
//! prices) lives behind this trait.

use crate::error::Result;
use crate::model::tags::TaggedResource;
use crate::model::{
    AccountId, AccountInfo, CopySpec, CreateImageSpec, ExportSpec, ExportTask, Image, ImageChanges,
    ImageEntry, ImageId, ImageKind, ImportImageOs, ImportImageSpec, Instance, InstanceEntry,
    InstanceId, LaunchSpec, Price, Quota, Region, Tag,
};

/// The user on whose behalf a command runs (from the FUSE request), for backends that touch
/// local files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

/// Where a reader of a backend's change feed is; opaque outside the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeCursor {
    pub seq: i64,
    pub at_ms: i64,
}

/// What changed since a cursor: images and instances (by region) whose contents may differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Where the next call continues.
    pub cursor: ChangeCursor,
    /// The feed no longer reaches back to the cursor: anything may have changed.
    pub everything: bool,
    pub images: Vec<(String, ImageId)>,
    pub instances: Vec<(String, InstanceId)>,
}

/// What an image's directory shows (see [`ImageService::image_view`]).
#[derive(Debug, Clone)]
pub struct ImageView {
    pub image: Image,
    pub price: Price,
    /// For a custom image: the accounts it is shared with.
    pub shares: Option<Vec<AccountId>>,
}

pub trait ImageService: Send + Sync {
    /// The images and instances changed since `since` by anyone (this service, another mount,
    /// the server, a transition reaching its end), so caches can drop exactly those;
    /// `since: None` asks for a starting cursor. `Ok(None)`: the backend cannot tell, and
    /// nothing may be cached for long.
    fn changes(&self, _since: Option<ChangeCursor>) -> Result<Option<Changes>> {
        Ok(None)
    }

    /// Who this service acts as (`account.json`).
    fn account(&self) -> Result<AccountInfo>;

    /// The regions the backend offers (DescribeRegions).
    fn regions(&self) -> Result<Vec<Region>>;

    /// The images of one kind this account sees in a region, ordered by ImageId.
    fn list_images(&self, region: &str, kind: ImageKind) -> Result<Vec<ImageEntry>>;

    /// How many of those images carry each of `names` (names no image carries are left
    /// out): what `by-name/` needs to name a page of links without listing the kind.
    fn name_counts(
        &self,
        region: &str,
        kind: ImageKind,
        names: &[&str],
    ) -> Result<std::collections::HashMap<String, usize>> {
        let mut counts = std::collections::HashMap::new();
        for e in self.list_images(region, kind)? {
            if names.contains(&e.image_name.as_str()) {
                *counts.entry(e.image_name).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// Those images named `name`, ordered by ImageId (what `by-name/` needs to name one
    /// image's link without listing the kind).
    fn images_named(&self, region: &str, kind: ImageKind, name: &str) -> Result<Vec<ImageEntry>> {
        Ok(self
            .list_images(region, kind)?
            .into_iter()
            .filter(|e| e.image_name == name)
            .collect())
    }

    /// At most `limit` of those images, the ones after `after` in ImageId order (a page of
    /// a listing read as the kernel asks for it).
    fn list_images_after(
        &self,
        region: &str,
        kind: ImageKind,
        after: Option<&ImageId>,
        limit: usize,
    ) -> Result<Vec<ImageEntry>> {
        Ok(self
            .list_images(region, kind)?
            .into_iter()
            .filter(|e| after.is_none_or(|a| e.image_id > *a))
            .take(limit)
            .collect())
    }

    /// One image as this account sees it under `kind`; `InvalidImageId.NotFound` if it is not
    /// visible there.
    fn image(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Image>;

    /// [`ImageService::image`] of `first` and, where the backend can read them in the same
    /// look, of the images that follow it in ImageId order (that precede it, `backwards`),
    /// `limit` in all: what a reader going through a directory in order asks for next (a
    /// shell's glob looks its names up last first). The first is `first`, or the error
    /// [`ImageService::image`] gives for it.
    fn images_from(
        &self,
        region: &str,
        kind: ImageKind,
        first: &ImageId,
        backwards: bool,
        limit: usize,
    ) -> Result<Vec<Image>> {
        let _ = (backwards, limit);
        Ok(vec![self.image(region, kind, first)?])
    }

    /// [`ImageService::images_from`] for [`ImageService::image_view`]: each image with its
    /// price and share list (what listing image directories in order asks for next).
    fn image_views_from(
        &self,
        region: &str,
        kind: ImageKind,
        first: &ImageId,
        backwards: bool,
        limit: usize,
    ) -> Result<Vec<ImageView>> {
        let _ = (backwards, limit);
        Ok(vec![self.image_view(region, kind, first)?])
    }

    /// What launching from the image costs beyond the instance, and why.
    fn price(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Price>;

    /// [`ImageService::image`], [`ImageService::price`] and, for a custom image,
    /// [`ImageService::share_accounts`]: all an image's directory shows. A backend that can
    /// read them in one look does.
    fn image_view(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<ImageView> {
        Ok(ImageView {
            image: self.image(region, kind, id)?,
            price: self.price(region, kind, id)?,
            shares: if kind == ImageKind::Custom {
                Some(self.share_accounts(region, id)?)
            } else {
                None
            },
        })
    }

    /// The account's custom-image quota in a region.
    fn quota(&self, region: &str) -> Result<Quota>;

    /// The OS types and versions ImportImage accepts (DescribeImportImageOs).
    fn import_os(&self, region: &str) -> Result<ImportImageOs>;

    /// This account's instances in a region, ordered by InstanceId (DescribeInstances).
    fn list_instances(&self, region: &str) -> Result<Vec<InstanceEntry>>;

    /// One of this account's instances.
    fn instance(&self, region: &str, id: &InstanceId) -> Result<Instance>;

    /// RunInstances from the image seen as `kind`; returns the new instances. A dry run
    /// (`spec.dry_run`) checks everything the launch would and launches nothing: it returns
    /// no instances.
    fn run_instances(
        &self,
        region: &str,
        kind: ImageKind,
        image: &ImageId,
        spec: &LaunchSpec,
    ) -> Result<Vec<InstanceId>>;

    /// CreateImage from an instance; returns the new custom image (or, for a dry run,
    /// `spec.dry_run`, nothing: the image is checked, not made).
    fn create_image(
        &self,
        region: &str,
        instance: &InstanceId,
        spec: &CreateImageSpec,
    ) -> Result<Option<ImageId>>;

    /// ResetInstance: reinstall the instance from an image the account may use.
    fn reset_instance(&self, region: &str, instance: &InstanceId, image: &ImageId) -> Result<()>;

    /// TerminateInstances for one instance.
    fn terminate_instance(&self, region: &str, instance: &InstanceId) -> Result<()>;

    /// The accounts one of this account's custom images is shared with, in the order they
    /// were added (DescribeImageSharePermission).
    fn share_accounts(&self, region: &str, image: &ImageId) -> Result<Vec<AccountId>>;

    /// ModifyImageAttribute: rename, redescribe, put in a family and/or deprecate one of this
    /// account's custom images.
    fn modify_image(&self, region: &str, image: &ImageId, changes: &ImageChanges) -> Result<()>;

    /// DescribeImageFromFamily: the image a family of this account's stands for now (its
    /// newest usable image that is not deprecated), if any.
    fn image_from_family(&self, region: &str, family: &str) -> Result<Option<Image>>;

    /// The families of this account's images in a region that stand for an image, each with
    /// that image, ordered by family (`families/`).
    fn families(&self, region: &str) -> Result<Vec<(String, ImageId)>>;

    /// ExportImages of `spec.image_ids`, custom images of this account, to `spec.bucket_name`;
    /// returns the task and its files (nothing for a dry run, `spec.dry_run`).
    fn export_images(&self, region: &str, spec: &ExportSpec) -> Result<Option<ExportTask>>;

    /// ModifyImageSharePermission SHARE: all accounts or none.
    fn share_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()>;

    /// ModifyImageSharePermission CANCEL: all accounts or none.
    fn unshare_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()>;

    /// SyncImages: copy the image seen as `kind` to each of `copy.destination_regions` (all
    /// or none), each copy named `copy.image_name` (the image's own name when `None`);
    /// returns each destination with its new image, whatever `copy.image_set_required` says
    /// (`copy.image_ids` is not read: the image is `image`). A dry run (`copy.dry_run`)
    /// checks everything the copy would and copies nothing: it returns no copies.
    fn sync_images(
        &self,
        region: &str,
        kind: ImageKind,
        image: &ImageId,
        copy: &CopySpec,
    ) -> Result<Vec<(String, ImageId)>>;

    /// DeleteImages for one of this account's custom images.
    fn delete_image(&self, region: &str, image: &ImageId) -> Result<()>;

    /// ImportImage; returns the new custom image (or, for a dry run, nothing).
    fn import_image(
        &self,
        region: &str,
        spec: &ImportImageSpec,
        caller: &Caller,
    ) -> Result<Option<ImageId>>;

    /// The `tags` file: one of this account's custom images or instances holds exactly
    /// `tags` afterwards (TagResources and UnTagResources of the tag service).
    fn set_tags(&self, resource: &TaggedResource, tags: &[Tag]) -> Result<()>;

    /// TagResources: each of this account's resources takes the tags (a key it holds takes
    /// the new value).
    fn tag_resources(&self, resources: &[TaggedResource], tags: &[Tag]) -> Result<()>;

    /// UnTagResources: each of this account's resources loses the keys.
    fn untag_resources(&self, resources: &[TaggedResource], keys: &[String]) -> Result<()>;

    /// ModifyResourceTags: one of this account's resources takes `replace` (a key it holds
    /// takes the new value) and loses the keys of `delete`, in one change. A separate read
    /// and `set_tags` would lose a tag another client set in between, and would count the
    /// tags before the deletions.
    fn modify_resource_tags(
        &self,
        resource: &TaggedResource,
        replace: &[Tag],
        delete: &[String],
    ) -> Result<()>;

    /// GetResources of named resources: the tags of each one this account sees (an image
    /// shared with it or public shows its own); the others are left out.
    fn resource_tags(
        &self,
        resources: &[TaggedResource],
    ) -> Result<Vec<(TaggedResource, Vec<Tag>)>>;

    /// GetResources of all: every image and instance of this account that holds tags, in
    /// resource order.
    fn tagged_resources(&self) -> Result<Vec<(TaggedResource, Vec<Tag>)>>;
}
