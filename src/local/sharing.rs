//! Sharing custom images with other accounts: who an image is shared with, and the
//! commands that share and unshare (ModifyImageSharePermission).

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension};

use super::images::OwnerAction;
use super::rows::column_error;
use super::settings::{setting_in, SHARE_LIMIT};
use super::store::account_known;
use super::transitions::settle;
use super::LocalService;
use crate::error::{Code, Error, Result};

/// How this store sets the share limit, and where the docs explain it, for the refusal's
/// message.
const SHARE_LIMIT_HOW: &str = "this store sets the limit with `imagefs store set share-limit N` (docs/SEMANTICS.md, section \"Control files\", item Sharing)";
use crate::model::{format_api_time, AccountId, ImageId};

impl LocalService {
    /// The accounts one of this account's custom images is shared with, with when
    /// (DescribeImageSharePermission), in the order they were added.
    pub fn share_permissions(
        &self,
        region: &str,
        image: &ImageId,
    ) -> Result<Vec<(AccountId, String)>> {
        self.store.with_conn(|c| {
            self.own_custom_in(c, region, image, OwnerAction::DescribeImageSharePermission)?;
            shares_in(c, region, image)
        })
    }
}

/// The accounts an image is shared with, and since when, oldest first.
pub(super) fn shares_in(
    c: &Connection,
    region: &str,
    image: &ImageId,
) -> Result<Vec<(AccountId, String)>> {
    let mut stmt = c.prepare_cached(
        "SELECT account_id, created_time FROM shares WHERE region = ?1 AND image_id = ?2
         ORDER BY created_time, account_id",
    )?;
    let rows = stmt.query_map(params![region, image.as_str()], |r| {
        let id: String = r.get(0)?;
        Ok((
            AccountId::parse(&id).map_err(|e| column_error(0, e))?,
            r.get::<_, String>(1)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The accounts each image from `low` to `high` (in ImageId order) is shared with, oldest
/// first; images shared with nobody are left out.
pub(super) fn shares_between(
    c: &Connection,
    region: &str,
    low: &ImageId,
    high: &ImageId,
) -> Result<HashMap<ImageId, Vec<AccountId>>> {
    let mut shares: HashMap<ImageId, Vec<AccountId>> = HashMap::new();
    let mut stmt = c.prepare_cached(
        "SELECT image_id, account_id FROM shares
         WHERE region = ?1 AND image_id >= ?2 AND image_id <= ?3
         ORDER BY image_id, created_time, account_id",
    )?;
    let pairs = stmt.query_map(params![region, low.as_str(), high.as_str()], |r| {
        let image: String = r.get(0)?;
        let account: String = r.get(1)?;
        Ok((
            ImageId::parse(&image).map_err(|e| column_error(0, e))?,
            AccountId::parse(&account).map_err(|e| column_error(1, e))?,
        ))
    })?;
    for pair in pairs {
        let (image, account) = pair?;
        shares.entry(image).or_default().push(account);
    }
    Ok(shares)
}

/// Whether `image` is shared with `account`.
pub(super) fn is_shared_with(
    c: &Connection,
    region: &str,
    image: &ImageId,
    account: &AccountId,
) -> Result<bool> {
    let mut stmt = c.prepare_cached(
        "SELECT 1 FROM shares WHERE region = ?1 AND image_id = ?2 AND account_id = ?3",
    )?;
    Ok(stmt
        .query_row(
            params![region, image.as_str(), account.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// How many accounts `image` is shared with.
pub(super) fn share_count(c: &Connection, region: &str, image: &ImageId) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT count(*) FROM shares WHERE region = ?1 AND image_id = ?2")?
            .query_row(params![region, image.as_str()], |r| r.get(0))?,
    )
}

/// The accounts of one share or unshare command, each once.
fn distinct_accounts(accounts: &[AccountId]) -> Result<Vec<AccountId>> {
    if accounts.is_empty() {
        return Err(Error::new(
            Code::MissingParameter,
            "no account IDs were given",
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(accounts.len());
    for account in accounts {
        if !seen.insert(account) {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("account {account} is listed twice"),
            ));
        }
    }
    Ok(accounts.to_vec())
}

/// The accounts one of this account's custom images is shared with (`share`).
pub(super) fn share_accounts(
    service: &LocalService,
    region: &str,
    image: &ImageId,
) -> Result<Vec<AccountId>> {
    Ok(service
        .share_permissions(region, image)?
        .into_iter()
        .map(|(account, _)| account)
        .collect())
}

/// ModifyImageSharePermission SHARE: shares one of this account's NORMAL custom images with
/// other existing accounts, all of them or none, within the limit of accounts per image.
pub(super) fn share_image(
    service: &LocalService,
    region: &str,
    image: &ImageId,
    accounts: &[AccountId],
) -> Result<()> {
    service.command_tx(|tx| {
        let accounts = distinct_accounts(accounts)?;
        settle(tx)?;
        check_shareable(service, tx, region, image)?;
        let limit = setting_in(tx, &SHARE_LIMIT)?;
        let current = share_count(tx, region, image)?;
        // A write that could never fit is refused before any per-account check.
        if accounts.len() as u64 > limit {
            return Err(Error::new(
                Code::OverQuota,
                format!(
                    "{} accounts in one write pass the limit of {limit} accounts per image; {SHARE_LIMIT_HOW}",
                    accounts.len()
                ),
            ));
        }
        for account in &accounts {
            check_new_share(service, tx, region, image, account)?;
        }
        let total = current.max(0) as u64 + accounts.len() as u64;
        if total > limit {
            return Err(Error::new(
                Code::OverQuota,
                format!(
                    "image {image} is shared with {current} accounts; {} more would pass the limit of {limit} per image; {SHARE_LIMIT_HOW}",
                    accounts.len()
                ),
            ));
        }
        let now = format_api_time(SystemTime::now());
        for account in &accounts {
            tx.prepare_cached(
                "INSERT INTO shares (region, image_id, account_id, created_time) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![region, image.as_str(), account.as_str(), now])?;
        }
        Ok(())
    })
}

/// Only the owner's NORMAL images are shared, and not those that bring their own license.
fn check_shareable(
    service: &LocalService,
    tx: &Connection,
    region: &str,
    image: &ImageId,
) -> Result<()> {
    let row = service.own_custom_in(tx, region, image, OwnerAction::ModifyImageSharePermission)?;
    if !row.usable() {
        return Err(Error::new(
            Code::InvalidParameterValueInvalidImageState,
            format!(
                "image {image} is {}: only NORMAL images can be shared",
                row.image.image_state.as_str()
            ),
        ));
    }
    if row.image.license_type == "BYOL" {
        return Err(Error::new(
            Code::FailedOperationBYOLImageShareFailed,
            format!("image {image} brings its own license (BYOL) and cannot be shared"),
        ));
    }
    Ok(())
}

/// An account an image is shared with anew: another existing account, not yet sharing it.
fn check_new_share(
    service: &LocalService,
    tx: &Connection,
    region: &str,
    image: &ImageId,
    account: &AccountId,
) -> Result<()> {
    if *account == service.account {
        return Err(Error::new(
            Code::InvalidAccountIsYourSelf,
            format!("{account} is this account: an image cannot be shared with its owner"),
        ));
    }
    if !account_known(tx, account)? {
        return Err(Error::new(
            Code::InvalidAccountIdNotFound,
            format!("account {account} does not exist"),
        ));
    }
    if is_shared_with(tx, region, image, account)? {
        return Err(Error::new(
            Code::FailedOperationAccountAlreadyExists,
            format!("image {image} is already shared with {account}"),
        ));
    }
    Ok(())
}

/// ModifyImageSharePermission CANCEL: stops sharing one of this account's custom images
/// with accounts it is shared with, all of them or none.
pub(super) fn unshare_image(
    service: &LocalService,
    region: &str,
    image: &ImageId,
    accounts: &[AccountId],
) -> Result<()> {
    service.command_tx(|tx| {
        let accounts = distinct_accounts(accounts)?;
        service.own_custom_in(tx, region, image, OwnerAction::ModifyImageSharePermission)?;
        for account in &accounts {
            if *account == service.account {
                return Err(Error::new(
                    Code::InvalidAccountIsYourSelf,
                    format!("{account} is this account: an image is never shared with its owner"),
                ));
            }
            let removed = tx
                .prepare_cached(
                    "DELETE FROM shares WHERE region = ?1 AND image_id = ?2 AND account_id = ?3",
                )?
                .execute(params![region, image.as_str(), account.as_str()])?;
            if removed == 0 {
                // The transaction is dropped: no account of this write is unshared.
                return Err(Error::new(
                    Code::InvalidAccountIdNotFound,
                    format!("image {image} is not shared with {account}"),
                ));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
    use crate::local::testing::*;

    #[test]
    fn sharing_rules() {
        let w = world();
        w.store.set_meta("share_limit", "1").unwrap();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "shared");
        assert_eq!(
            code(s.share_image(GZ, &image, &[account(OWNER)])),
            Code::InvalidAccountIsYourSelf
        );
        assert_eq!(
            code(s.share_image(GZ, &image, &[account("100000000009")])),
            Code::InvalidAccountIdNotFound
        );
        assert_eq!(
            code(s.share_image(GZ, &image, &[account(FRIEND), account(FRIEND)])),
            Code::InvalidParameterValue
        );
        s.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        assert_eq!(
            code(s.share_image(GZ, &image, &[account(FRIEND)])),
            Code::FailedOperationAccountAlreadyExists
        );
        w.store.add_account(&account("100000000003")).unwrap();
        let over = s
            .share_image(GZ, &image, &[account("100000000003")])
            .unwrap_err();
        assert_eq!(over.code(), Code::OverQuota);
        assert!(over
            .message()
            .contains("would pass the limit of 1 per image"));
        assert!(over.message().contains(
            "`imagefs store set share-limit N` (docs/SEMANTICS.md, section \"Control files\""
        ));
        assert_eq!(s.share_accounts(GZ, &image).unwrap(), vec![account(FRIEND)]);
        // The receiver sees it in that region only, and cannot change it.
        let f = w.service(FRIEND, 0);
        assert_eq!(f.list_images(GZ, ImageKind::Shared).unwrap().len(), 1);
        assert!(f
            .list_images("ap-shanghai", ImageKind::Shared)
            .unwrap()
            .is_empty());
        assert_eq!(
            code(f.modify_image(GZ, &image, &ImageChanges::name("mine"))),
            Code::UnsupportedOperationSharedImageModifyUnsupported
        );
        // Each action with the code its documentation lists for the condition; the
        // filesystem's errno stays EPERM for all of them.
        let shared = f.share_image(GZ, &image, &[account(OWNER)]).unwrap_err();
        assert_eq!(
            shared.code(),
            Code::UnauthorizedOperationImageNotBelongToAccount
        );
        assert_eq!(shared.errno(), libc::EPERM);
        let deleted = f.delete_image(GZ, &image).unwrap_err();
        assert_eq!(
            deleted.code(),
            Code::InvalidParameterValueInvalidImageIdIsShared
        );
        assert_eq!(deleted.errno(), libc::EPERM);
        assert_eq!(
            code(f.share_permissions(GZ, &image)),
            Code::UnauthorizedOperationImageNotBelongToAccount
        );
        // A public image is neither shared nor asked about.
        assert_eq!(
            code(s.share_image(GZ, &id("img-9qabwvbn"), &[account(FRIEND)])),
            Code::InvalidParameterValueInvalidImageId
        );
        assert_eq!(
            code(s.share_permissions(GZ, &id("img-9qabwvbn"))),
            Code::UnauthorizedOperationImageNotBelongToAccount
        );
        // Unsharing: all or nothing.
        assert_eq!(
            code(s.unshare_image(GZ, &image, &[account(FRIEND), account("100000000003")])),
            Code::InvalidAccountIdNotFound
        );
        assert_eq!(s.share_accounts(GZ, &image).unwrap().len(), 1);
        s.unshare_image(GZ, &image, &[account(FRIEND)]).unwrap();
        assert!(f.list_images(GZ, ImageKind::Shared).unwrap().is_empty());
    }

    #[test]
    fn byol_images_are_not_shared() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "byol");
        w.store
            .with_tx(|tx| {
                tx.execute(
                    "UPDATE images SET license_type = 'BYOL' WHERE image_id = ?1",
                    [image.as_str()],
                )?;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            code(s.share_image(GZ, &image, &[account(FRIEND)])),
            Code::FailedOperationBYOLImageShareFailed
        );
    }
}
