//! The local backend: an embedded emulator of the image service, its state in one SQLite
//! store that several accounts (several mounts) share.

pub mod catalog;
mod faults;
mod fees;
mod ids;
pub mod import;
mod instances;
mod journal;
mod quota;
mod rows;
pub mod settings;
mod sharing;
pub mod store;
#[cfg(test)]
mod testing;
mod transitions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::model::{
    format_api_time, AccountId, AccountInfo, CreateImageSpec, Fee, Image, ImageEntry, ImageId,
    ImageKind, ImageState, ImportImageOs, ImportImageSpec, Instance, InstanceEntry, InstanceId,
    LaunchSpec, Price, Quota, Region, Snapshot,
};
use crate::service::{Caller, ChangeCursor, Changes, ImageService, ImageView};
use catalog::Catalog;
use import::probe::Probe;
use import::{caller, probe};
use store::Store;

use faults::take_injection;
use ids::{new_image_id, random_suffix};
use instances::require_settled;
use journal::prune_journal;
use quota::check_quota;
use rows::{entry_row, image_row, insert_image_row, ImageRow, NewImageRow, IMAGE_COLUMNS};
use sharing::{is_shared_with, share_count, shares_between, shares_in};
use transitions::settle;

pub use faults::INJECTIONS;
pub use instances::instance_count;

/// The local emulator, acting as one account of a store.
pub struct LocalService {
    store: Arc<Store>,
    account: AccountId,
    regions: Vec<Region>,
    catalog: Catalog,
    account_created: bool,
    /// The transition delay for this service, overriding the store's setting.
    transition_delay: Option<Duration>,
}

impl LocalService {
    /// Acts as `account` (the store's default account when `None`), adding it to the store
    /// if the store does not know it yet.
    pub fn open(store: Arc<Store>, account: Option<AccountId>) -> Result<LocalService> {
        let account = match account {
            Some(a) => a,
            None => store.default_account()?,
        };
        let account_created = store.add_account(&account)?;
        if account_created {
            log::info!(
                "account {account} was new to store {}: created it",
                store.path().display()
            );
        }
        let catalog = store.catalog()?;
        let regions = store.regions()?;
        Ok(LocalService {
            store,
            account,
            regions,
            catalog,
            account_created,
            transition_delay: None,
        })
    }

    /// DeleteImages for several images: all of them or none.
    pub fn delete_images(&self, region: &str, images: &[ImageId]) -> Result<()> {
        self.command_tx(|tx| {
            settle(tx)?;
            for image in images {
                let row = self.own_custom_in(tx, region, image, "DeleteImages")?;
                if matches!(
                    row.image.image_state,
                    ImageState::Creating | ImageState::Syncing | ImageState::Importing
                ) {
                    return Err(Error::new(
                        "InvalidImageId.IncorrectState",
                        format!(
                            "image {image} is {}: it can be deleted once that work finishes",
                            row.image.image_state.as_str()
                        ),
                    ));
                }
                let shares = share_count(tx, region, image)?;
                if shares > 0 {
                    return Err(Error::new(
                        "InvalidImageId.InShared",
                        format!("image {image} is shared with {shares} account(s): unshare it first (see its share file)"),
                    ));
                }
                tx.prepare_cached("DELETE FROM images WHERE region = ?1 AND image_id = ?2")?
                    .execute(params![region, image.as_str()])?;
            }
            Ok(())
        })
    }

    /// Overrides the store's transition delay for the work this service starts.
    pub fn with_transition_delay(mut self, delay: Option<Duration>) -> LocalService {
        self.transition_delay = delay;
        self
    }

    pub fn account_id(&self) -> &AccountId {
        &self.account
    }

    /// Whether opening this service added its account to the store.
    pub fn account_was_created(&self) -> bool {
        self.account_created
    }

    fn region(&self, region: &str) -> Result<&Region> {
        crate::model::find_region(&self.regions, region)
    }

    fn not_found(region: &str, id: &ImageId, kind: ImageKind) -> Error {
        Error::new(
            "InvalidImageId.NotFound",
            format!("no {kind} image {id} in {region}"),
        )
    }

    fn load_row(c: &Connection, region: &str, id: &ImageId) -> Result<Option<ImageRow>> {
        let sql = format!("SELECT {IMAGE_COLUMNS} FROM images WHERE region = ?1 AND image_id = ?2");
        let mut stmt = c.prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![region, id.as_str()], image_row)
            .optional()?)
    }

    /// The stored image if this account sees it as `kind` in `region`.
    fn visible_row_in(
        &self,
        c: &Connection,
        region: &str,
        kind: ImageKind,
        id: &ImageId,
    ) -> Result<ImageRow> {
        self.region(region)?;
        let row =
            Self::load_row(c, region, id)?.ok_or_else(|| Self::not_found(region, id, kind))?;
        let mine = row.owner.as_deref() == Some(self.account.as_str());
        let visible = match kind {
            ImageKind::Public => row.kind == "PUBLIC",
            ImageKind::Marketplace => row.kind == "MARKETPLACE",
            ImageKind::Custom => row.kind == "CUSTOM" && mine,
            ImageKind::Shared => {
                row.kind == "CUSTOM" && !mine && is_shared_with(c, region, id, &self.account)?
            }
        };
        if visible {
            Ok(row)
        } else {
            Err(Self::not_found(region, id, kind))
        }
    }

    fn visible_row(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<ImageRow> {
        self.store
            .with_conn(|c| self.visible_row_in(c, region, kind, id))
    }

    /// The stored rows of `first` and the images after it in ImageId order (before it,
    /// `backwards`), `limit` in all, as this account sees them under `kind` (the listing's
    /// own filter), with `ImageType` set. `None` when `first` is not among them (not
    /// visible: a single read gives the error) or for shared images (a join; read singly).
    fn rows_from(
        &self,
        c: &Connection,
        region: &str,
        kind: ImageKind,
        first: &ImageId,
        backwards: bool,
        limit: usize,
    ) -> Result<Option<Vec<ImageRow>>> {
        // (`?2 IS NOT NULL` keeps the parameters' numbers where no account is needed.)
        let (filter, value) = match kind {
            ImageKind::Public => ("kind = 'PUBLIC' AND ?2 IS NOT NULL", ""),
            ImageKind::Marketplace => ("kind = 'MARKETPLACE' AND ?2 IS NOT NULL", ""),
            ImageKind::Custom => ("kind = 'CUSTOM' AND owner = ?2", self.account.as_str()),
            ImageKind::Shared => return Ok(None),
        };
        self.region(region)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (from, order) = if backwards {
            ("<=", "DESC")
        } else {
            (">=", "ASC")
        };
        let sql = format!(
            "SELECT {IMAGE_COLUMNS} FROM images
             WHERE region = ?1 AND {filter} AND image_id {from} ?3
             ORDER BY image_id {order} LIMIT ?4"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![region, value, first.as_str(), limit], image_row)?;
        let mut out = Vec::new();
        for row in rows {
            let mut row = row?;
            row.image.image_type = kind.image_type().to_string();
            out.push(row);
        }
        Ok(out
            .first()
            .is_some_and(|row| row.image.image_id == *first)
            .then_some(out))
    }

    /// An image this account may use in `region`, of whatever kind.
    fn usable_row_in(
        &self,
        c: &Connection,
        region: &str,
        id: &ImageId,
    ) -> Result<(ImageKind, ImageRow)> {
        for kind in ImageKind::ALL {
            match self.visible_row_in(c, region, kind, id) {
                Ok(row) => return Ok((kind, row)),
                Err(e) if e.code() == "InvalidImageId.NotFound" => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            "InvalidImageId.NotFound",
            format!("no image {id} that this account can use in {region}"),
        ))
    }

    /// One of this account's own custom images; a shared image is refused as the receiver's
    /// to change, anything else is not found.
    fn own_custom_in(
        &self,
        c: &Connection,
        region: &str,
        image: &ImageId,
        action: &str,
    ) -> Result<ImageRow> {
        match self.visible_row_in(c, region, ImageKind::Custom, image) {
            Ok(row) => Ok(row),
            Err(e) if e.code() == "InvalidImageId.NotFound" => {
                if self
                    .visible_row_in(c, region, ImageKind::Shared, image)
                    .is_ok()
                {
                    Err(Error::new(
                        "UnsupportedOperation.SharedImageModifyUnsupported",
                        format!("image {image} is shared with this account by its owner: {action} is for the owner only"),
                    ))
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// How long an import may take to open and read its file's header.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// ImageName: 1 to 60 characters.
fn check_image_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::new(
            "InvalidParameterValue",
            "ImageName must not be empty",
        ));
    }
    let count = name.chars().count();
    if count > 60 {
        return Err(Error::new(
            "InvalidParameterValue.TooLarge",
            format!("ImageName has {count} characters; at most 60 are allowed"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::new(
            "InvalidParameterValue",
            "ImageName must not contain control characters (newlines, tabs, NUL)",
        ));
    }
    Ok(())
}

/// ImageDescription: at most 256 characters.
fn check_image_description(description: &str) -> Result<()> {
    let count = description.chars().count();
    if count > 256 {
        return Err(Error::new(
            "InvalidParameterValue.TooLarge",
            format!("ImageDescription has {count} characters; at most 256 are allowed"),
        ));
    }
    Ok(())
}

/// Names are unique among an account's custom images in a region.
fn check_name_free(c: &Connection, region: &str, owner: &AccountId, name: &str) -> Result<()> {
    let taken: Option<String> = c
        .prepare_cached(
            "SELECT image_id FROM images WHERE region = ?1 AND kind = 'CUSTOM' AND owner = ?2 AND image_name = ?3",
        )?
        .query_row(params![region, owner.as_str(), name], |r| r.get(0))
        .optional()?;
    match taken {
        Some(id) => Err(Error::new(
            "InvalidImageName.Duplicate",
            format!("custom image {id} in {region} is already named `{name}`; names are unique per region"),
        )),
        None => Ok(()),
    }
}

/// Names counted by one statement of `name_counts`.
const NAMES_PER_QUERY: usize = 32;

impl ImageService for LocalService {
    fn changes(&self, since: Option<ChangeCursor>) -> Result<Option<Changes>> {
        journal::changes(&self.store, since)
    }

    fn account(&self) -> Result<AccountInfo> {
        Ok(AccountInfo {
            account_id: self.account.clone(),
            backend: "local".into(),
            store: Some(self.store.path().display().to_string()),
        })
    }

    fn regions(&self) -> Result<Vec<Region>> {
        Ok(self.regions.clone())
    }

    fn list_images(&self, region: &str, kind: ImageKind) -> Result<Vec<ImageEntry>> {
        self.list_images_after(region, kind, None, usize::MAX)
    }

    fn list_images_after(
        &self,
        region: &str,
        kind: ImageKind,
        after: Option<&ImageId>,
        limit: usize,
    ) -> Result<Vec<ImageEntry>> {
        self.region(region)?;
        let account = self.account.as_str();
        // ImageIds have a fixed width, so their text order is their numeric order.
        let after = after.map(ImageId::as_str).unwrap_or("");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.store.with_conn(|c| {
            let (sql, first): (&str, &str) = match kind {
                ImageKind::Public | ImageKind::Marketplace => (
                    "SELECT image_id, created_time, image_name FROM images
                     WHERE region = ?1 AND kind = ?2 AND image_id > ?3
                     ORDER BY image_id LIMIT ?4",
                    if kind == ImageKind::Public {
                        "PUBLIC"
                    } else {
                        "MARKETPLACE"
                    },
                ),
                ImageKind::Custom => (
                    "SELECT image_id, created_time, image_name FROM images
                     WHERE region = ?1 AND kind = 'CUSTOM' AND owner = ?2 AND image_id > ?3
                     ORDER BY image_id LIMIT ?4",
                    account,
                ),
                ImageKind::Shared => (
                    "SELECT i.image_id, i.created_time, i.image_name FROM shares s
                     JOIN images i ON i.region = s.region AND i.image_id = s.image_id
                     WHERE s.region = ?1 AND s.account_id = ?2 AND i.kind = 'CUSTOM'
                       AND i.owner IS NOT ?2 AND i.image_id > ?3
                     ORDER BY i.image_id LIMIT ?4",
                    account,
                ),
            };
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map(params![region, first, after, limit], entry_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn name_counts(
        &self,
        region: &str,
        kind: ImageKind,
        names: &[&str],
    ) -> Result<HashMap<String, usize>> {
        self.region(region)?;
        let Some(&last) = names.last() else {
            return Ok(HashMap::new());
        };
        // One statement for every call: the names go in batches of a fixed size, the last
        // one padded by repeating a name (a name twice in IN counts once).
        let list = vec!["?"; NAMES_PER_QUERY].join(", ");
        let (sql, second) = match kind {
            ImageKind::Public | ImageKind::Marketplace => (
                format!(
                    "SELECT image_name, count(*) FROM images INDEXED BY images_by_name
                     WHERE region = ? AND kind = ? AND image_name IN ({list})
                     GROUP BY image_name"
                ),
                if kind == ImageKind::Public {
                    "PUBLIC"
                } else {
                    "MARKETPLACE"
                },
            ),
            ImageKind::Custom => (
                format!(
                    "SELECT image_name, count(*) FROM images INDEXED BY images_by_name
                     WHERE region = ? AND owner = ? AND kind = 'CUSTOM' AND image_name IN ({list})
                     GROUP BY image_name"
                ),
                self.account.as_str(),
            ),
            ImageKind::Shared => (
                format!(
                    "SELECT i.image_name, count(*) FROM images i INDEXED BY images_by_name
                     JOIN shares s ON s.region = i.region AND s.image_id = i.image_id
                     WHERE i.region = ? AND s.account_id = ? AND i.owner IS NOT s.account_id
                       AND i.kind = 'CUSTOM' AND i.image_name IN ({list})
                     GROUP BY i.image_name"
                ),
                self.account.as_str(),
            ),
        };
        self.store.with_conn(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let mut counts = HashMap::new();
            for batch in names.chunks(NAMES_PER_QUERY) {
                let mut values: Vec<&str> = vec![region, second];
                values.extend(batch);
                values.resize(2 + NAMES_PER_QUERY, last);
                let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (name, count) = row?;
                    counts.insert(name, usize::try_from(count).unwrap_or(0));
                }
            }
            Ok(counts)
        })
    }

    fn images_named(&self, region: &str, kind: ImageKind, name: &str) -> Result<Vec<ImageEntry>> {
        self.region(region)?;
        // INDEXED BY: without statistics SQLite would rather walk the owner's images (all of
        // a million) than the few that carry the name.
        let account = self.account.as_str();
        self.store.with_conn(|c| {
            let (sql, second): (&str, &str) = match kind {
                ImageKind::Public | ImageKind::Marketplace => (
                    "SELECT image_id, created_time, image_name FROM images INDEXED BY images_by_name
                     WHERE region = ?1 AND kind = ?2 AND image_name = ?3 ORDER BY image_id",
                    if kind == ImageKind::Public {
                        "PUBLIC"
                    } else {
                        "MARKETPLACE"
                    },
                ),
                ImageKind::Custom => (
                    "SELECT image_id, created_time, image_name FROM images INDEXED BY images_by_name
                     WHERE region = ?1 AND kind = 'CUSTOM' AND image_name = ?3 AND owner = ?2
                     ORDER BY image_id",
                    account,
                ),
                ImageKind::Shared => (
                    "SELECT i.image_id, i.created_time, i.image_name FROM images i INDEXED BY images_by_name
                     JOIN shares s ON s.region = i.region AND s.image_id = i.image_id
                     WHERE i.region = ?1 AND i.kind = 'CUSTOM' AND i.image_name = ?3
                       AND s.account_id = ?2 AND i.owner IS NOT ?2
                     ORDER BY i.image_id",
                    account,
                ),
            };
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map(params![region, second, name], entry_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn image(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Image> {
        let mut image = self.visible_row(region, kind, id)?.image;
        image.image_type = kind.image_type().to_string();
        Ok(image)
    }

    fn images_from(
        &self,
        region: &str,
        kind: ImageKind,
        first: &ImageId,
        backwards: bool,
        limit: usize,
    ) -> Result<Vec<Image>> {
        let rows = self
            .store
            .with_conn(|c| self.rows_from(c, region, kind, first, backwards, limit))?;
        match rows {
            Some(rows) => Ok(rows.into_iter().map(|row| row.image).collect()),
            None => Ok(vec![self.image(region, kind, first)?]),
        }
    }

    fn image_views_from(
        &self,
        region: &str,
        kind: ImageKind,
        first: &ImageId,
        backwards: bool,
        limit: usize,
    ) -> Result<Vec<ImageView>> {
        // One read transaction for the rows and their share lists.
        let found = self.store.with_conn(|c| {
            let tx = c.unchecked_transaction()?;
            let Some(rows) = self.rows_from(&tx, region, kind, first, backwards, limit)? else {
                return Ok(None);
            };
            let shares: HashMap<ImageId, Vec<AccountId>> = if kind == ImageKind::Custom {
                let (low, high) = match (rows.first(), rows.last()) {
                    (Some(a), Some(b)) if backwards => {
                        (b.image.image_id.clone(), a.image.image_id.clone())
                    }
                    (Some(a), Some(b)) => (a.image.image_id.clone(), b.image.image_id.clone()),
                    _ => return Ok(None),
                };
                shares_between(&tx, region, &low, &high)?
            } else {
                HashMap::new()
            };
            tx.commit()?;
            Ok(Some((rows, shares)))
        })?;
        let Some((rows, mut shares)) = found else {
            return Ok(vec![self.image_view(region, kind, first)?]);
        };
        rows.into_iter()
            .map(|row| {
                let id = row.image.image_id.clone();
                let image = row.image.clone();
                Ok(ImageView {
                    image,
                    price: self.price_of(row, region, kind, &id)?,
                    shares: (kind == ImageKind::Custom)
                        .then(|| shares.remove(&id).unwrap_or_default()),
                })
            })
            .collect()
    }

    fn price(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Price> {
        fees::price(self, region, kind, id)
    }

    fn image_view(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<ImageView> {
        // One read transaction: the three agree, and the store is locked once, not thrice.
        let (row, shares) = self.store.with_conn(|c| {
            let tx = c.unchecked_transaction()?;
            let row = self.visible_row_in(&tx, region, kind, id)?;
            let shares = if kind == ImageKind::Custom {
                Some(shares_in(&tx, region, id)?)
            } else {
                None
            };
            tx.commit()?;
            Ok((row, shares))
        })?;
        let mut image = row.image.clone();
        image.image_type = kind.image_type().to_string();
        Ok(ImageView {
            image,
            price: self.price_of(row, region, kind, id)?,
            shares: shares.map(|s| s.into_iter().map(|(account, _)| account).collect()),
        })
    }

    fn quota(&self, region: &str) -> Result<Quota> {
        quota::quota(self, region)
    }

    fn import_os(&self, region: &str) -> Result<ImportImageOs> {
        self.region(region)?;
        Ok(self.catalog.import_image_os.clone())
    }

    fn list_instances(&self, region: &str) -> Result<Vec<InstanceEntry>> {
        instances::list_instances(self, region)
    }

    fn instance(&self, region: &str, id: &InstanceId) -> Result<Instance> {
        instances::instance(self, region, id)
    }

    fn run_instances(
        &self,
        region: &str,
        kind: ImageKind,
        image: &ImageId,
        spec: &LaunchSpec,
    ) -> Result<Vec<InstanceId>> {
        instances::run_instances(self, region, kind, image, spec)
    }

    fn create_image(
        &self,
        region: &str,
        instance: &InstanceId,
        spec: &CreateImageSpec,
    ) -> Result<ImageId> {
        self.throttle()?;
        if let Some(named) = &spec.instance_id {
            if named != instance.as_str() {
                return Err(Error::new(
                    "InvalidParameterValue",
                    format!("InstanceId {named} differs from the instance whose create_image file was written ({instance})"),
                ));
            }
        }
        check_image_name(&spec.image_name)?;
        let description = spec.image_description.clone().unwrap_or_default();
        check_image_description(&description)?;
        for (param, value) in [
            ("ForcePoweroff", &spec.force_poweroff),
            ("Sysprep", &spec.sysprep),
        ] {
            if let Some(v) = value {
                if v != "true" && v != "false" {
                    return Err(Error::new(
                        "InvalidParameterValue",
                        format!("{param} takes the string \"true\" or \"false\", not `{v}`"),
                    ));
                }
            }
        }
        self.store.with_tx(|tx| {
            settle(tx)?;
            let outcome = if take_injection(tx, "inject_create_fails")? {
                "CREATEFAILED"
            } else {
                "NORMAL"
            };
            let (state, final_state, due) = self.transition("CREATING", outcome)?;
            let source = self.instance_in(tx, region, instance)?;
            require_settled(&source, "CreateImage")?;
            check_name_free(tx, region, &self.account, &spec.image_name)?;
            check_quota(tx, region, &self.account)?;
            let id = new_image_id(tx)?;
            let snapshots = vec![Snapshot {
                snapshot_id: format!("snap-{}", random_suffix()?),
                disk_usage: "SYSTEM_DISK".into(),
                disk_size: source.image_size,
            }];
            insert_image_row(
                tx,
                &NewImageRow {
                    region,
                    image_id: &id,
                    owner: &self.account,
                    image_name: &spec.image_name,
                    image_description: &description,
                    os_name: &source.instance.os_name,
                    platform: &source.platform,
                    architecture: &source.architecture,
                    image_size: source.image_size,
                    image_source: "CREATE_IMAGE",
                    license_type: &source.instance.license_type,
                    state,
                    final_state,
                    due,
                    snapshots: &snapshots,
                    fee: source.fee.as_ref(),
                    provider: source.provider.as_deref(),
                },
            )?;
            Ok(id)
        })
    }

    fn reset_instance(&self, region: &str, instance: &InstanceId, image: &ImageId) -> Result<()> {
        instances::reset_instance(self, region, instance, image)
    }

    fn terminate_instance(&self, region: &str, instance: &InstanceId) -> Result<()> {
        self.terminate_instances(region, std::slice::from_ref(instance))
    }

    fn share_accounts(&self, region: &str, image: &ImageId) -> Result<Vec<AccountId>> {
        sharing::share_accounts(self, region, image)
    }

    fn modify_image(
        &self,
        region: &str,
        image: &ImageId,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<()> {
        self.command_tx(|tx| {
            if let Some(name) = name {
                check_image_name(name)?;
            }
            if let Some(description) = description {
                check_image_description(description)?;
            }
            let row = self.own_custom_in(tx, region, image, "ModifyImageAttribute")?;
            if let Some(name) = name {
                if name != row.image.image_name {
                    check_name_free(tx, region, &self.account, name)?;
                }
                tx.prepare_cached(
                    "UPDATE images SET image_name = ?1 WHERE region = ?2 AND image_id = ?3",
                )?
                .execute(params![name, region, image.as_str()])?;
            }
            if let Some(description) = description {
                tx.prepare_cached(
                    "UPDATE images SET image_description = ?1 WHERE region = ?2 AND image_id = ?3",
                )?
                .execute(params![description, region, image.as_str()])?;
            }
            Ok(())
        })
    }

    fn share_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        sharing::share_image(self, region, image, accounts)
    }

    fn unshare_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        sharing::unshare_image(self, region, image, accounts)
    }

    fn sync_images(
        &self,
        region: &str,
        kind: ImageKind,
        image: &ImageId,
        destinations: &[String],
    ) -> Result<Vec<(String, ImageId)>> {
        self.throttle()?;
        if destinations.is_empty() {
            return Err(Error::new(
                "MissingParameter",
                "copy_to takes one or more destination region IDs",
            ));
        }
        let source_region = self.region(region)?.clone();
        let mut targets: Vec<&Region> = Vec::new();
        for name in destinations {
            let target = self.region(name)?;
            if targets.iter().any(|t| t.region == target.region) {
                return Err(Error::new(
                    "InvalidParameterValue",
                    format!("region {name} is listed twice"),
                ));
            }
            match kind {
                ImageKind::Shared if target.region != region => {
                    return Err(Error::new(
                        "InvalidRegion.Unavailable",
                        format!("a shared image can only be copied into its own region ({region}), not {name}"),
                    ))
                }
                ImageKind::Shared => {}
                _ if target.region == region => {
                    return Err(Error::new(
                        "InvalidParameterValue.InvalidRegion",
                        format!("image {image} is already in {region}: copy it to other regions"),
                    ))
                }
                _ => {}
            }
            let finance = |r: &str| r.ends_with("-fsi");
            if target.mainland != source_region.mainland {
                return Err(Error::new(
                    "InvalidRegion.Unavailable",
                    format!(
                        "copying between mainland China and other regions ({region} to {name}) needs a support request; copy within mainland China or within the other regions"
                    ),
                ));
            }
            if finance(&target.region) != finance(region) {
                return Err(Error::new(
                    "InvalidRegion.Unavailable",
                    format!("the finance regions copy only among themselves ({region} to {name})"),
                ));
            }
            targets.push(target);
        }
        self.store.with_tx(|tx| {
            settle(tx)?;
            let source = self.visible_row_in(tx, region, kind, image)?;
            if !matches!(kind, ImageKind::Custom | ImageKind::Shared) {
                return Err(Error::new(
                    "InvalidParameterValue.InvalidImageId",
                    format!("image {image} is a {kind} image: only custom and shared images can be copied"),
                ));
            }
            if source.image.image_state != ImageState::Normal {
                return Err(Error::new(
                    "InvalidImageId.IncorrectState",
                    format!(
                        "image {image} is {}: only NORMAL images can be copied",
                        source.image.image_state.as_str()
                    ),
                ));
            }
            // The API has no failed-copy state: a failed copy ends CREATEFAILED.
            let outcome = if take_injection(tx, "inject_copy_fails")? { "CREATEFAILED" } else { "NORMAL" };
            let (state, final_state, due) = self.transition("SYNCING", outcome)?;
            let mut copies = Vec::new();
            for target in &targets {
                check_name_free(tx, &target.region, &self.account, &source.image.image_name)?;
                check_quota(tx, &target.region, &self.account)?;
                let id = new_image_id(tx)?;
                let snapshots = vec![Snapshot {
                    snapshot_id: format!("snap-{}", random_suffix()?),
                    disk_usage: "SYSTEM_DISK".into(),
                    disk_size: source.image.image_size,
                }];
                insert_image_row(
                    tx,
                    &NewImageRow {
                        region: &target.region,
                        image_id: &id,
                        owner: &self.account,
                        image_name: &source.image.image_name,
                        image_description: &source.image.image_description,
                        os_name: &source.image.os_name,
                        platform: &source.image.platform,
                        architecture: &source.image.architecture,
                        image_size: source.image.image_size,
                        image_source: &source.image.image_source,
                        license_type: &source.image.license_type,
                        state,
                        final_state,
                        due,
                        snapshots: &snapshots,
                        fee: source.fee.as_ref(),
                        provider: source.provider.as_deref(),
                    },
                )?;
                copies.push((target.region.clone(), id));
            }
            Ok(copies)
        })
    }

    fn delete_image(&self, region: &str, image: &ImageId) -> Result<()> {
        self.delete_images(region, std::slice::from_ref(image))
    }

    fn import_image(
        &self,
        region: &str,
        spec: &ImportImageSpec,
        caller: &Caller,
    ) -> Result<Option<ImageId>> {
        self.throttle()?;
        self.region(region)?;
        let os = &self.catalog.import_image_os;
        let windows = os
            .import_image_os_list_supported
            .windows
            .contains(&spec.os_type);
        let linux = os
            .import_image_os_list_supported
            .linux
            .contains(&spec.os_type);
        if !windows && !linux {
            return Err(Error::new(
                "InvalidImageOsType.Unsupported",
                format!(
                    "OsType `{}` cannot be imported; import-os.json lists the accepted ones",
                    spec.os_type
                ),
            ));
        }
        let versions = os
            .import_image_os_version_set
            .iter()
            .find(|v| v.os_name == spec.os_type);
        if !versions.is_some_and(|v| v.os_versions.contains(&spec.os_version)) {
            return Err(Error::new(
                "InvalidImageOsVersion.Unsupported",
                format!(
                    "OsVersion `{}` of {} cannot be imported; accepted: {}",
                    spec.os_version,
                    spec.os_type,
                    versions
                        .map(|v| v.os_versions.join(", "))
                        .unwrap_or_default()
                ),
            ));
        }
        if !versions.is_some_and(|v| v.architecture.contains(&spec.architecture)) {
            return Err(Error::new(
                "InvalidParameterValue",
                format!(
                    "Architecture `{}` is not accepted for {}; accepted: {}",
                    spec.architecture,
                    spec.os_type,
                    versions
                        .map(|v| v.architecture.join(", "))
                        .unwrap_or_default()
                ),
            ));
        }
        let license = spec.license_type.as_deref().unwrap_or("TencentCloud");
        if license != "TencentCloud" && license != "BYOL" {
            return Err(Error::new(
                "InvalidParameterValue.InvalidLicenseType",
                format!("LicenseType `{license}` is not TencentCloud or BYOL"),
            ));
        }
        if let Some(mode) = spec.boot_mode.as_deref() {
            if mode != "Legacy BIOS" && mode != "UEFI" {
                return Err(Error::new(
                    "InvalidParameterValue.InvalidBootMode",
                    format!("BootMode `{mode}` is not `Legacy BIOS` or `UEFI`"),
                ));
            }
        }
        check_image_name(&spec.image_name)?;
        let description = spec.image_description.clone().unwrap_or_default();
        check_image_description(&description)?;

        let path = local_image_path(&spec.image_url, caller)?;
        let shown = spec.image_url.as_str();
        let url_error = |message: String, errno: i32| {
            Error::with_errno("InvalidParameter.InvalidParameterUrlError", message, errno)
        };
        // Opened and probed on a thread of its own: a file that cannot be read promptly (one
        // inside this very mount, while every FUSE worker waits) costs a timeout, not a hang.
        let (done, outcome) = std::sync::mpsc::channel();
        let (who, target) = (*caller, path.clone());
        std::thread::Builder::new()
            .name("imagefs-probe".into())
            .spawn(move || {
                let result = caller::open_as(&who, &target).and_then(|mut f| probe::probe(&mut f));
                let _ = done.send(result);
            })
            .map_err(|e| Error::internal(format!("cannot start a probe: {e}")))?;
        let found = match outcome.recv_timeout(PROBE_TIMEOUT) {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                return Err(match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
                        url_error(format!("{shown}: no such file"), libc::ENOENT)
                    }
                    Some(libc::EACCES) | Some(libc::EPERM) => url_error(
                        format!("{shown}: permission denied (the file is read as uid {}, who wrote the command)", caller.uid),
                        libc::EACCES,
                    ),
                    Some(libc::EINVAL) => url_error(format!("{shown} is not a regular file"), libc::EINVAL),
                    _ => url_error(format!("{shown}: cannot read: {e}"), libc::EINVAL),
                })
            }
            Err(_) => {
                return Err(url_error(
                    format!("{shown} could not be read within {} s (is it inside an imagefs mount?)", PROBE_TIMEOUT.as_secs()),
                    libc::EAGAIN,
                ))
            }
        };
        let (format, virtual_size, file_size, problem) = match found {
            Probe::Disk {
                format,
                virtual_size,
                file_size,
                problem,
                ..
            } => (format.name(), virtual_size, file_size, problem),
            Probe::Iso { file_size } if spec.force => ("ISO", file_size, file_size, None),
            Probe::Iso { .. } => {
                return Err(Error::new(
                    "InvalidParameterValue.ISOMustImportByForce",
                    format!("{shown} is an ISO image: import it with \"Force\": true"),
                ))
            }
            Probe::Unsupported(what) => {
                return Err(Error::new(
                    "InvalidParameterValue",
                    format!(
                        "{shown} is {what}; ImportImage takes RAW, QCOW2, VHD or VMDK disk images"
                    ),
                ))
            }
        };
        const GIB: u64 = 1 << 30;
        if file_size > 50 * GIB {
            return Err(Error::new(
                "InvalidParameterValue.TooLarge",
                format!(
                    "{shown} is {:.1} GiB; ImportImage takes files up to 50 GB",
                    file_size as f64 / GIB as f64
                ),
            ));
        }
        if virtual_size > 500 * GIB {
            return Err(Error::new(
                "InvalidParameterValue.TooLarge",
                format!(
                    "{shown} is a {} GiB disk; imported system disks may be at most 500 GB",
                    virtual_size.div_ceil(GIB)
                ),
            ));
        }
        if spec.dry_run {
            return Ok(None);
        }
        let image_size = i64::try_from(virtual_size.div_ceil(GIB).max(1)).unwrap_or(i64::MAX);
        if let Some(problem) = &problem {
            log::info!("import of {shown} ({format}) will fail: {problem}");
        }
        let bits = if spec.architecture == "i386" {
            "32位"
        } else {
            "64位"
        };
        let os_name = format!("{} {} {bits}", spec.os_type, spec.os_version);
        let platform = if windows {
            "Windows"
        } else {
            spec.os_type.as_str()
        };
        let architecture = if spec.architecture == "arm_64" {
            "arm"
        } else {
            spec.architecture.as_str()
        };
        self.store.with_tx(|tx| {
            settle(tx)?;
            check_name_free(tx, region, &self.account, &spec.image_name)?;
            check_quota(tx, region, &self.account)?;
            // Taken with the insert: a refused import does not use up an injected failure.
            let injected = take_injection(tx, "inject_import_fails")?;
            let final_state = if problem.is_some() || injected {
                "IMPORTFAILED"
            } else {
                "NORMAL"
            };
            let (state, pending_final, due) = self.transition("IMPORTING", final_state)?;
            let id = new_image_id(tx)?;
            insert_image_row(
                tx,
                &NewImageRow {
                    region,
                    image_id: &id,
                    owner: &self.account,
                    image_name: &spec.image_name,
                    image_description: &description,
                    os_name: &os_name,
                    platform,
                    architecture,
                    image_size,
                    image_source: "EXTERNAL_IMPORT",
                    license_type: license,
                    state,
                    final_state: pending_final,
                    due,
                    snapshots: &[],
                    fee: None,
                    provider: None,
                },
            )?;
            Ok(Some(id))
        })
    }
}

/// The local file an `ImageUrl` names: an absolute path, a `file://` URL, or a path relative
/// to the working directory of the process that wrote the command.
fn local_image_path(url: &str, caller: &Caller) -> Result<PathBuf> {
    let refuse = |m: String| Error::new("InvalidParameter.InvalidParameterUrlError", m);
    if url.contains('\0') {
        return Err(refuse("ImageUrl contains a NUL byte".into()));
    }
    let path = match url.strip_prefix("file://") {
        Some(rest) => rest,
        None if url.contains("://") => {
            return Err(refuse(format!(
            "ImageUrl `{url}`: the local backend imports local files; give a path or a file:// URL"
        )))
        }
        None => url,
    };
    if path.is_empty() {
        return Err(refuse("ImageUrl is empty".into()));
    }
    let path = Path::new(path);
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(PathBuf::from(format!("/proc/{}/cwd", caller.pid)).join(path))
    }
}

/// Everything needed to put a custom image in the store; the operations that make images
/// (CreateImage, ImportImage, SyncImages) build one of these.
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

/// Counts of images per kind, for `store info`-style summaries and tests.
pub fn image_counts(store: &Store) -> Result<HashMap<String, i64>> {
    store.with_conn(|c| {
        let mut stmt = c.prepare("SELECT kind, count(*) FROM images GROUP BY kind")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    })
}

#[cfg(test)]
mod tests {
    //! The service's rules, one test each, on a temporary store.

    use super::*;
    use crate::local::testing::*;

    /// Images found by name are those of the kind's listing with that name, for each kind.
    #[test]
    fn images_named_are_the_listing_with_that_name() {
        let w = world();
        let s = w.service(OWNER, 0);
        let first = custom(&s, GZ, "same");
        custom(&s, GZ, "other");
        s.share_image(GZ, &first, &[account(FRIEND)]).unwrap();
        let f = w.service(FRIEND, 0);
        let cases = [
            (&s, ImageKind::Custom, "same"),
            (&s, ImageKind::Custom, "nothing"),
            (&f, ImageKind::Shared, "same"),
            (&f, ImageKind::Custom, "same"),
            (&s, ImageKind::Public, "CentOS 7.6 64位"),
        ];
        for (service, kind, name) in cases {
            let listed: Vec<ImageEntry> = service
                .list_images(GZ, kind)
                .unwrap()
                .into_iter()
                .filter(|e| e.image_name == name)
                .collect();
            assert_eq!(
                service.images_named(GZ, kind, name).unwrap(),
                listed,
                "{kind:?} {name}"
            );
            // Counted in batches: more names than one statement takes, most of them absent.
            let mut names: Vec<String> = (0..40).map(|i| format!("absent-{i}")).collect();
            names.insert(17, name.to_string());
            names.push("other".to_string());
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut expected = HashMap::new();
            for e in service.list_images(GZ, kind).unwrap() {
                if names.contains(&e.image_name.as_str()) {
                    *expected.entry(e.image_name).or_insert(0) += 1;
                }
            }
            assert_eq!(
                service.name_counts(GZ, kind, &names).unwrap(),
                expected,
                "{kind:?}"
            );
        }
        assert_eq!(
            s.images_named(GZ, ImageKind::Custom, "same").unwrap().len(),
            1
        );
        assert_eq!(
            f.images_named(GZ, ImageKind::Shared, "same").unwrap().len(),
            1
        );
    }

    /// The one-look view of an image is exactly what the three separate calls return, for
    /// every kind, and refuses what they refuse.
    #[test]
    fn image_view_is_image_price_and_shares_together() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "viewed");
        s.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        let view = s.image_view(GZ, ImageKind::Custom, &image).unwrap();
        assert_eq!(view.image, s.image(GZ, ImageKind::Custom, &image).unwrap());
        assert_eq!(view.price, s.price(GZ, ImageKind::Custom, &image).unwrap());
        assert_eq!(view.shares, Some(vec![account(FRIEND)]));
        let public = id("img-9qabwvbn");
        let view = s.image_view(GZ, ImageKind::Public, &public).unwrap();
        assert_eq!(view.image, s.image(GZ, ImageKind::Public, &public).unwrap());
        assert_eq!(view.price, s.price(GZ, ImageKind::Public, &public).unwrap());
        assert_eq!(view.shares, None);
        // Seen by the friend, it is a shared image, with no share list of its own.
        let friend = w.service(FRIEND, 0);
        let view = friend.image_view(GZ, ImageKind::Shared, &image).unwrap();
        assert_eq!(view.image.image_type, "SHARED_IMAGE");
        assert_eq!(view.shares, None);
        assert_eq!(
            code(friend.image_view(GZ, ImageKind::Custom, &image)),
            "InvalidImageId.NotFound"
        );
    }

    /// Images read ahead are exactly the images read one by one, in ImageId order either
    /// way, starting at the one asked for; one not visible is refused as a single read is.
    #[test]
    fn images_from_reads_the_neighbours_of_an_image() {
        let w = world();
        let s = w.service(OWNER, 0);
        let mut mine: Vec<ImageId> = (0..5).map(|i| custom(&s, GZ, &format!("n{i}"))).collect();
        mine.sort();
        let forward = s
            .images_from(GZ, ImageKind::Custom, &mine[1], false, 3)
            .unwrap();
        let ids: Vec<&ImageId> = forward.iter().map(|i| &i.image_id).collect();
        assert_eq!(ids, vec![&mine[1], &mine[2], &mine[3]]);
        for image in &forward {
            assert_eq!(
                *image,
                s.image(GZ, ImageKind::Custom, &image.image_id).unwrap()
            );
        }
        let backward = s
            .images_from(GZ, ImageKind::Custom, &mine[3], true, 10)
            .unwrap();
        let ids: Vec<&ImageId> = backward.iter().map(|i| &i.image_id).collect();
        assert_eq!(ids, vec![&mine[3], &mine[2], &mine[1], &mine[0]]);
        // Another account's custom image is not this one's to read, alone or ahead.
        let friend = w.service(FRIEND, 0);
        assert_eq!(
            code(friend.images_from(GZ, ImageKind::Custom, &mine[0], false, 5)),
            "InvalidImageId.NotFound"
        );
        let public = s
            .images_from(GZ, ImageKind::Public, &id("img-9qabwvbn"), false, 4)
            .unwrap();
        assert_eq!(public[0].image_id, id("img-9qabwvbn"));
        assert!(public.iter().all(|i| i.image_type == "PUBLIC_IMAGE"));
        assert!(public.windows(2).all(|p| p[0].image_id < p[1].image_id));
    }

    /// Views read ahead are the views read one by one, share lists included.
    #[test]
    fn image_views_from_are_image_views() {
        let w = world();
        let s = w.service(OWNER, 0);
        let mut mine: Vec<ImageId> = (0..4).map(|i| custom(&s, GZ, &format!("v{i}"))).collect();
        mine.sort();
        s.share_image(GZ, &mine[1], &[account(FRIEND)]).unwrap();
        for backwards in [false, true] {
            let first = if backwards { &mine[3] } else { &mine[0] };
            let views = s
                .image_views_from(GZ, ImageKind::Custom, first, backwards, 10)
                .unwrap();
            assert_eq!(views.len(), 4);
            for view in views {
                let one = s
                    .image_view(GZ, ImageKind::Custom, &view.image.image_id)
                    .unwrap();
                assert_eq!(view.image, one.image);
                assert_eq!(view.price, one.price);
                assert_eq!(view.shares, one.shares);
            }
        }
        let public = s
            .image_views_from(GZ, ImageKind::Public, &id("img-9qabwvbn"), false, 3)
            .unwrap();
        assert!(public.iter().all(|v| v.shares.is_none()));
        assert_eq!(
            public[0].price,
            s.price(GZ, ImageKind::Public, &id("img-9qabwvbn")).unwrap()
        );
    }

    #[test]
    fn names_are_checked_and_unique_per_account_and_region() {
        let w = world();
        let s = w.service(OWNER, 0);
        let a = custom(&s, GZ, "a");
        let b = custom(&s, GZ, "b");
        assert_eq!(
            code(s.modify_image(GZ, &b, Some("a"), None)),
            "InvalidImageName.Duplicate"
        );
        assert_eq!(
            code(s.modify_image(GZ, &b, Some(&"x".repeat(61)), None)),
            "InvalidParameterValue.TooLarge"
        );
        assert_eq!(
            code(s.modify_image(GZ, &b, None, Some(&"x".repeat(257)))),
            "InvalidParameterValue.TooLarge"
        );
        assert_eq!(
            code(s.modify_image(GZ, &b, Some(""), None)),
            "InvalidParameterValue"
        );
        s.modify_image(GZ, &a, Some("a"), None).unwrap(); // its own name again
        s.modify_image(GZ, &b, Some(&"名".repeat(60)), Some(&"d".repeat(256)))
            .unwrap();
        // Another account, or another region, may use the same name.
        custom(&w.service(FRIEND, 0), GZ, "a");
        custom(&s, "ap-shanghai", "a");
    }

    #[test]
    fn only_normal_images_are_shared_or_copied_and_transitional_ones_stay() {
        let w = world();
        let s = w.service(OWNER, 60_000);
        let instances = launch_one(&s, GZ);
        // The instance is PENDING for a minute: no image can be made from it yet.
        let spec = CreateImageSpec {
            image_name: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            code(s.create_image(GZ, &instances[0], &spec)),
            "UnsupportedOperation.InstanceStatePending"
        );
        let instant = w.service(OWNER, 0);
        let image = custom(&instant, GZ, "base");
        let copies = s
            .sync_images(GZ, ImageKind::Custom, &image, &["ap-shanghai".into()])
            .unwrap();
        let (_, copy) = &copies[0];
        let copied = s.image("ap-shanghai", ImageKind::Custom, copy).unwrap();
        assert_eq!(copied.image_state, ImageState::Syncing);
        assert_eq!(copied.image_name, "base");
        // The source stays usable while its copy syncs.
        assert_eq!(
            s.image(GZ, ImageKind::Custom, &image).unwrap().image_state,
            ImageState::Normal
        );
        assert_eq!(
            code(s.share_image("ap-shanghai", copy, &[account(FRIEND)])),
            "InvalidImageId.IncorrectState"
        );
        assert_eq!(
            code(s.sync_images(
                "ap-shanghai",
                ImageKind::Custom,
                copy,
                &["ap-beijing".into()]
            )),
            "InvalidImageId.IncorrectState"
        );
        assert_eq!(
            code(s.delete_image("ap-shanghai", copy)),
            "InvalidImageId.IncorrectState"
        );
    }

    #[test]
    fn copies_follow_the_region_rules_all_or_nothing() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "golden");
        let sync = |targets: &[&str]| {
            s.sync_images(
                GZ,
                ImageKind::Custom,
                &image,
                &targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(code(sync(&["ap-mars"])), "InvalidRegion.NotFound");
        assert_eq!(code(sync(&["ap-singapore"])), "InvalidRegion.Unavailable");
        assert_eq!(
            code(sync(&["ap-shanghai-fsi"])),
            "InvalidRegion.Unavailable"
        );
        assert_eq!(code(sync(&[GZ])), "InvalidParameterValue.InvalidRegion");
        assert_eq!(code(sync(&[])), "MissingParameter");
        assert_eq!(
            code(sync(&["ap-shanghai", "ap-shanghai"])),
            "InvalidParameterValue"
        );
        // A valid region beside a refused one: nothing is copied.
        assert_eq!(
            code(sync(&["ap-shanghai", "ap-singapore"])),
            "InvalidRegion.Unavailable"
        );
        assert!(s
            .list_images("ap-shanghai", ImageKind::Custom)
            .unwrap()
            .is_empty());
        // The destination's quota and names count, for the whole write.
        w.store.set_meta("custom_image_quota", "1").unwrap();
        custom(&s, "ap-beijing", "other");
        assert_eq!(
            code(sync(&["ap-shanghai", "ap-beijing"])),
            "ImageQuotaLimitExceeded"
        );
        assert!(s
            .list_images("ap-shanghai", ImageKind::Custom)
            .unwrap()
            .is_empty());
        w.store.set_meta("custom_image_quota", "10").unwrap();
        custom(&s, "ap-nanjing", "golden");
        assert_eq!(
            code(sync(&["ap-shanghai", "ap-nanjing"])),
            "InvalidImageName.Duplicate"
        );
        let copies = sync(&["ap-shanghai", "ap-beijing"]).unwrap();
        assert_eq!(copies.len(), 2);
        assert_ne!(copies[0].1, copies[1].1);
        // Copies are free: the price of a copy is the price of its origin.
        assert_eq!(
            s.price("ap-shanghai", ImageKind::Custom, &copies[0].1)
                .unwrap()
                .charge_type,
            ChargeType::Free
        );
    }

    #[test]
    fn a_shared_image_is_copied_into_its_own_region_only() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "team");
        s.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        let f = w.service(FRIEND, 0);
        assert_eq!(
            code(f.sync_images(GZ, ImageKind::Shared, &image, &["ap-shanghai".into()])),
            "InvalidRegion.Unavailable"
        );
        let copies = f
            .sync_images(GZ, ImageKind::Shared, &image, &[GZ.into()])
            .unwrap();
        let mine = f.image(GZ, ImageKind::Custom, &copies[0].1).unwrap();
        assert_eq!(mine.image_creator, FRIEND);
        assert_eq!(mine.image_name, "team");
        assert_eq!(f.quota(GZ).unwrap().custom_images_used, 1);
    }

    #[test]
    fn a_shared_image_is_deleted_only_once_unshared() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "to-delete");
        s.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        assert_eq!(code(s.delete_image(GZ, &image)), "InvalidImageId.InShared");
        s.unshare_image(GZ, &image, &[account(FRIEND)]).unwrap();
        s.delete_image(GZ, &image).unwrap();
        assert_eq!(
            code(s.image(GZ, ImageKind::Custom, &image)),
            "InvalidImageId.NotFound"
        );
        assert_eq!(code(s.delete_image(GZ, &image)), "InvalidImageId.NotFound");
        assert_eq!(
            code(s.delete_image(GZ, &id("img-9qabwvbn"))),
            "InvalidImageId.NotFound"
        );
    }
}
