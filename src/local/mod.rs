//! The local backend: an embedded emulator of the image service, its state in one SQLite
//! store that several accounts (several mounts) share.

pub mod catalog;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::model::{
    AccountId, AccountInfo, ChargeType, Fee, Image, ImageEntry, ImageId, ImageKind, ImageState,
    ImportImageOs, Price, Quota, Region,
};
use crate::service::ImageService;
use catalog::Catalog;
use store::{Store, DEFAULT_CUSTOM_IMAGE_QUOTA, DEFAULT_SHARE_LIMIT};

/// The local emulator, acting as one account of a store.
pub struct LocalService {
    store: Arc<Store>,
    account: AccountId,
    regions: Vec<Region>,
    catalog: Catalog,
    account_created: bool,
}

const IMAGE_COLUMNS: &str = "image_id, kind, owner, image_name, image_description, os_name,
    platform, architecture, image_size, image_state, image_source, image_creator, created_time,
    sync_percent, is_support_cloudinit, license_type, image_family, image_deprecated,
    snapshot_set, tags, fee_unit_price, fee_charge_unit, fee_currency, fee_provider";

/// An image row as stored, before it is shown to a particular account.
struct ImageRow {
    image: Image,
    kind: String,
    owner: Option<String>,
    fee: Option<Fee>,
    provider: Option<String>,
}

fn column_error(index: usize, e: Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
}

fn json_column<T: serde::de::DeserializeOwned>(index: usize, text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| column_error(index, Error::internal(format!("bad JSON in store: {e}"))))
}

fn image_row(r: &Row) -> rusqlite::Result<ImageRow> {
    let id: String = r.get(0)?;
    let state: String = r.get(9)?;
    let snapshot_set: String = r.get(18)?;
    let tags: String = r.get(19)?;
    let fee = match (
        r.get::<_, Option<f64>>(20)?,
        r.get::<_, Option<String>>(21)?,
        r.get::<_, Option<String>>(22)?,
    ) {
        (Some(unit_price), Some(charge_unit), Some(currency)) => Some(Fee {
            unit_price,
            charge_unit,
            currency,
        }),
        _ => None,
    };
    Ok(ImageRow {
        image: Image {
            image_id: ImageId::parse(&id).map_err(|e| column_error(0, e))?,
            os_name: r.get(5)?,
            image_type: String::new(),
            created_time: r.get(12)?,
            image_name: r.get(3)?,
            image_description: r.get(4)?,
            image_size: r.get(8)?,
            architecture: r.get(7)?,
            image_state: ImageState::parse(&state).ok_or_else(|| {
                column_error(
                    9,
                    Error::internal(format!("unknown image state `{state}` in store")),
                )
            })?,
            platform: r.get(6)?,
            image_creator: r.get(11)?,
            image_source: r.get(10)?,
            sync_percent: r.get(13)?,
            is_support_cloudinit: r.get(14)?,
            snapshot_set: json_column(18, &snapshot_set)?,
            tags: json_column(19, &tags)?,
            license_type: r.get(15)?,
            image_family: r.get(16)?,
            image_deprecated: r.get(17)?,
        },
        kind: r.get(1)?,
        owner: r.get(2)?,
        fee,
        provider: r.get(23)?,
    })
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
        let regions = store.with_conn(|c| {
            let mut stmt =
                c.prepare("SELECT region, region_name, mainland FROM regions ORDER BY position")?;
            let rows = stmt.query_map([], |r| {
                Ok(Region {
                    region: r.get(0)?,
                    region_name: r.get(1)?,
                    region_state: "AVAILABLE".into(),
                    mainland: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        Ok(LocalService {
            store,
            account,
            regions,
            catalog,
            account_created,
        })
    }

    pub fn account_id(&self) -> &AccountId {
        &self.account
    }

    /// Whether opening this service added its account to the store.
    pub fn account_was_created(&self) -> bool {
        self.account_created
    }

    fn region(&self, region: &str) -> Result<&Region> {
        self.regions
            .iter()
            .find(|r| r.region == region)
            .ok_or_else(|| {
                Error::new(
                    "InvalidRegion.NotFound",
                    format!("region `{region}` does not exist (see regions/)"),
                )
            })
    }

    fn not_found(region: &str, id: &ImageId, kind: ImageKind) -> Error {
        Error::new(
            "InvalidImageId.NotFound",
            format!("no {kind} image {id} in {region}"),
        )
    }

    fn load_row(&self, region: &str, id: &ImageId) -> Result<Option<ImageRow>> {
        self.store.with_conn(|c| {
            let sql =
                format!("SELECT {IMAGE_COLUMNS} FROM images WHERE region = ?1 AND image_id = ?2");
            let mut stmt = c.prepare_cached(&sql)?;
            Ok(stmt
                .query_row(params![region, id.as_str()], image_row)
                .optional()?)
        })
    }

    fn is_shared_with_me(&self, region: &str, id: &ImageId) -> Result<bool> {
        self.store.with_conn(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT 1 FROM shares WHERE region = ?1 AND image_id = ?2 AND account_id = ?3",
            )?;
            Ok(stmt
                .query_row(params![region, id.as_str(), self.account.as_str()], |_| {
                    Ok(())
                })
                .optional()?
                .is_some())
        })
    }

    /// The stored image if this account sees it as `kind` in `region`.
    fn visible_row(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<ImageRow> {
        self.region(region)?;
        let row = self
            .load_row(region, id)?
            .ok_or_else(|| Self::not_found(region, id, kind))?;
        let mine = row.owner.as_deref() == Some(self.account.as_str());
        let visible = match kind {
            ImageKind::Public => row.kind == "PUBLIC",
            ImageKind::Marketplace => row.kind == "MARKETPLACE",
            ImageKind::Custom => row.kind == "CUSTOM" && mine,
            ImageKind::Shared => {
                row.kind == "CUSTOM" && !mine && self.is_shared_with_me(region, id)?
            }
        };
        if visible {
            Ok(row)
        } else {
            Err(Self::not_found(region, id, kind))
        }
    }
}

impl ImageService for LocalService {
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
        self.region(region)?;
        let account = self.account.as_str();
        self.store.with_conn(|c| {
            let (sql, args): (&str, [&str; 2]) = match kind {
                ImageKind::Public | ImageKind::Marketplace => (
                    "SELECT image_id, created_time FROM images
                     WHERE region = ?1 AND kind = ?2 ORDER BY image_id",
                    [
                        region,
                        if kind == ImageKind::Public {
                            "PUBLIC"
                        } else {
                            "MARKETPLACE"
                        },
                    ],
                ),
                ImageKind::Custom => (
                    "SELECT image_id, created_time FROM images
                     WHERE region = ?1 AND kind = 'CUSTOM' AND owner = ?2 ORDER BY image_id",
                    [region, account],
                ),
                ImageKind::Shared => (
                    "SELECT i.image_id, i.created_time FROM shares s
                     JOIN images i ON i.region = s.region AND i.image_id = s.image_id
                     WHERE s.region = ?1 AND s.account_id = ?2 AND i.kind = 'CUSTOM'
                       AND i.owner IS NOT ?2
                     ORDER BY i.image_id",
                    [region, account],
                ),
            };
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map(args, |r| {
                let id: String = r.get(0)?;
                Ok(ImageEntry {
                    image_id: ImageId::parse(&id).map_err(|e| column_error(0, e))?,
                    created_time: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn image(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Image> {
        let mut image = self.visible_row(region, kind, id)?.image;
        image.image_type = kind.image_type().to_string();
        Ok(image)
    }

    fn price(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Price> {
        let row = self.visible_row(region, kind, id)?;
        let region_info = self.region(region)?;
        let (charge_type, fee, reason) = if row.image.platform == "Windows" && !region_info.mainland
        {
            (
                ChargeType::LicenseFee,
                Some(self.catalog.windows_license_fee.clone()),
                format!(
                    "Windows Server license fee: Windows images carry a license fee in regions outside mainland China ({region})"
                ),
            )
        } else if let Some(fee) = row.fee {
            let provider = row
                .provider
                .unwrap_or_else(|| row.image.image_creator.clone());
            let reason = match kind {
                ImageKind::Marketplace => format!("marketplace image: fee set by its provider, {provider}"),
                _ => format!("made from a paid marketplace image of {provider}: the provider's fee is inherited"),
            };
            (ChargeType::MarketplaceFee, Some(fee), reason)
        } else {
            let reason = match (kind, row.image.platform == "Windows") {
                (ImageKind::Marketplace, _) => "free marketplace image".to_string(),
                (_, true) => format!(
                    "free: the Windows license is included in mainland China regions ({region})"
                ),
                (ImageKind::Public, false) => {
                    "free: public images cost nothing beyond the instance".to_string()
                }
                _ => "free: no license or provider fee".to_string(),
            };
            (ChargeType::Free, None, reason)
        };
        Ok(Price {
            image_id: id.clone(),
            region: region.to_string(),
            free: charge_type == ChargeType::Free,
            charge_type,
            fee,
            reason,
        })
    }

    fn quota(&self, region: &str) -> Result<Quota> {
        self.region(region)?;
        let used: i64 = self.store.with_conn(|c| {
            Ok(c.prepare_cached(
                "SELECT count(*) FROM images WHERE region = ?1 AND kind = 'CUSTOM' AND owner = ?2",
            )?
            .query_row(params![region, self.account.as_str()], |r| r.get(0))?)
        })?;
        Ok(Quota {
            custom_image_quota: self
                .store
                .setting_u64("custom_image_quota", DEFAULT_CUSTOM_IMAGE_QUOTA)?,
            custom_images_used: used.max(0) as u64,
            share_limit_per_image: self.store.setting_u64("share_limit", DEFAULT_SHARE_LIMIT)?,
        })
    }

    fn import_os(&self, region: &str) -> Result<ImportImageOs> {
        self.region(region)?;
        Ok(self.catalog.import_image_os.clone())
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

/// Store-level operations used by the image-making actions and by tests.
pub fn insert_custom_image(store: &Store, image: &NewCustomImage) -> Result<()> {
    store.with_tx(|tx| {
        let fee = image.fee.as_ref();
        tx.execute(
            "INSERT INTO images (region, image_id, kind, owner, image_name, image_description,
                os_name, platform, architecture, image_size, image_state, image_source,
                image_creator, created_time, sync_percent, is_support_cloudinit, license_type,
                fee_unit_price, fee_charge_unit, fee_currency, fee_provider)
             VALUES (?1, ?2, 'CUSTOM', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?3, ?12, ?13, 1,
                'TencentCloud', ?14, ?15, ?16, ?17)",
            params![
                image.region,
                image.image_id.as_str(),
                image.owner.as_str(),
                image.image_name,
                image.image_description,
                image.os_name,
                image.platform,
                image.architecture,
                image.image_size,
                image.image_state.as_str(),
                image.image_source,
                image.created_time,
                if image.image_state == ImageState::Normal {
                    Some(100)
                } else {
                    Some(0)
                },
                fee.map(|(f, _)| f.unit_price),
                fee.map(|(f, _)| f.charge_unit.as_str()),
                fee.map(|(f, _)| f.currency.as_str()),
                fee.map(|(_, p)| p.as_str()),
            ],
        )?;
        Ok(())
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
