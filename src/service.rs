//! The one seam between the filesystem and a backend.
//!
//! A service is bound to one account: every call answers as that account sees the cloud.
//! The filesystem decides which files exist for which kind of image; every rule of the image
//! service (visibility, quotas, prices, states) lives behind this trait.

use crate::error::Result;
use crate::model::{
    AccountInfo, Image, ImageEntry, ImageId, ImageKind, ImportImageOs, Price, Quota, Region,
};

pub trait ImageService: Send + Sync {
    /// Who this service acts as (`account.json`).
    fn account(&self) -> Result<AccountInfo>;

    /// The regions the backend offers (DescribeRegions).
    fn regions(&self) -> Result<Vec<Region>>;

    /// The images of one kind this account sees in a region, ordered by ImageId.
    fn list_images(&self, region: &str, kind: ImageKind) -> Result<Vec<ImageEntry>>;

    /// One image as this account sees it under `kind`; `InvalidImageId.NotFound` if it is not
    /// visible there.
    fn image(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Image>;

    /// What launching from the image costs beyond the instance, and why.
    fn price(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Price>;

    /// The account's custom-image quota in a region.
    fn quota(&self, region: &str) -> Result<Quota>;

    /// The OS types and versions ImportImage accepts (DescribeImportImageOs).
    fn import_os(&self, region: &str) -> Result<ImportImageOs>;
}
