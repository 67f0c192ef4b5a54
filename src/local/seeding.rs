//! Direct writes that bypass the API's checks, for seeding stores (tests, benchmarks) with
//! images and shares made elsewhere.

use std::time::{Duration, UNIX_EPOCH};

use rusqlite::params;

use super::journal::prune_journal;
use super::rows::{insert_image_row, NewImageRow};
use super::store::Store;
use crate::error::{Error, Result};
use crate::model::{format_api_time, AccountId, Fee, ImageId, ImageState};

/// Everything needed to put a custom image in the store directly (the API's operations write
/// theirs through `rows::NewImageRow`).
#[derive(Debug, Clone)]
pub struct NewCustomImage {
    pub region: String,
    pub image_id: ImageId,
    pub owner: AccountId,
    pub image_name: String,
    pub image_description: String,
    pub os_name: String,
    pub platform: String,
    pub architecture: String,
    pub image_size: i64,
    pub image_state: ImageState,
    pub image_source: String,
    pub created_time: String,
    pub fee: Option<(Fee, String)>,
}

/// Puts a custom image in the store directly, bypassing the API's checks: for seeding stores
/// (tests, benchmarks) with images made elsewhere.
pub fn insert_custom_image(store: &Store, image: &NewCustomImage) -> Result<()> {
    store.with_tx(|tx| {
        insert_image_row(
            tx,
            &NewImageRow {
                region: &image.region,
                image_id: &image.image_id,
                owner: &image.owner,
                image_name: &image.image_name,
                image_description: &image.image_description,
                os_name: &image.os_name,
                platform: &image.platform,
                architecture: &image.architecture,
                image_size: image.image_size,
                image_source: &image.image_source,
                license_type: "TencentCloud",
                state: image.image_state.as_str(),
                final_state: None,
                due: None,
                snapshots: &[],
                fee: image.fee.as_ref().map(|(f, _)| f),
                provider: image.fee.as_ref().map(|(_, p)| p.as_str()),
            },
        )?;
        tx.execute(
            "UPDATE images SET created_time = ?1 WHERE region = ?2 AND image_id = ?3",
            params![image.created_time, image.region, image.image_id.as_str()],
        )?;
        Ok(())
    })
}

/// Fills a region with `count` synthetic NORMAL custom images of `owner`, in one transaction
/// (for benchmarks and large-catalog tests). IDs are derived from `first`, so repeated calls
/// with different `first` values do not collide.
pub fn insert_synthetic_images(
    store: &Store,
    region: &str,
    owner: &AccountId,
    first: u64,
    count: u64,
) -> Result<()> {
    store.with_tx(|tx| {
        let mut stmt = tx.prepare(
            "INSERT INTO images (region, image_id, kind, owner, image_name, image_description,
                os_name, platform, architecture, image_size, image_state, image_source,
                image_creator, created_time, sync_percent, is_support_cloudinit, license_type)
             VALUES (?1, ?2, 'CUSTOM', ?3, ?4, 'synthetic image for benchmarks',
                'Ubuntu Server 22.04 LTS 64位', 'Ubuntu', 'x86_64', 20, 'NORMAL', 'CREATE_IMAGE',
                ?3, ?5, 100, 1, 'TencentCloud')",
        )?;
        for n in first..first + count {
            // Spread the numbers over the ID space so listings are not in insertion order.
            let number = n.wrapping_mul(2_654_435_761) % 36u64.pow(8);
            let id = ImageId::from_number(number)
                .ok_or_else(|| Error::internal("synthetic image number out of range"))?;
            let created = format_api_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + n));
            stmt.execute(params![
                region,
                id.as_str(),
                owner.as_str(),
                format!("synthetic-{n}"),
                created
            ])?;
        }
        prune_journal(tx)
    })
}

/// Records that `image` is shared with `account`.
pub fn insert_share(
    store: &Store,
    region: &str,
    image: &ImageId,
    account: &AccountId,
    created: &str,
) -> Result<()> {
    store.with_tx(|tx| {
        tx.execute(
            "INSERT INTO shares (region, image_id, account_id, created_time) VALUES (?1, ?2, ?3, ?4)",
            params![region, image.as_str(), account.as_str(), created],
        )?;
        Ok(())
    })
}

/// Names `image` `name` directly, bypassing the API's checks (tests give images names the API
/// refuses, such as an empty one or one holding `/`).
pub fn set_image_name(store: &Store, image: &ImageId, name: &str) -> Result<()> {
    set_image_names(store, [(image, name.to_string())])
}

/// Renames images directly, all in one transaction (as many changes as a test needs at once).
pub fn set_image_names<'a>(
    store: &Store,
    renames: impl IntoIterator<Item = (&'a ImageId, String)>,
) -> Result<()> {
    store.with_tx(|tx| {
        let mut update =
            tx.prepare_cached("UPDATE images SET image_name = ?1 WHERE image_id = ?2")?;
        for (image, name) in renames {
            update.execute(params![name, image.as_str()])?;
        }
        Ok(())
    })
}
