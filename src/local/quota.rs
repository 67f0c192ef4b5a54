//! The custom-image quota: how many custom images an account holds in a region, and how many
//! it may.

use rusqlite::{params, Connection};

use super::settings::{setting_in, CUSTOM_IMAGE_QUOTA, SHARE_LIMIT};
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::{AccountId, Quota};

/// The custom images `owner` holds in `region`.
fn custom_images_used(c: &Connection, region: &str, owner: &AccountId) -> Result<i64> {
    Ok(c.prepare_cached(
        "SELECT count(*) FROM images WHERE region = ?1 AND kind = 'CUSTOM' AND owner = ?2",
    )?
    .query_row(params![region, owner.as_str()], |r| r.get(0))?)
}

/// How this store sets the quota, and where the docs explain it, for the refusal's message.
pub(super) const QUOTA_HOW: &str = "this store sets the quota with `imagefs store set custom-image-quota N` (docs/SEMANTICS.md, section \"Control files\", item Quota)";

/// The custom-image quota of an account in a region.
pub(super) fn check_quota(c: &Connection, region: &str, owner: &AccountId) -> Result<()> {
    let quota = setting_in(c, &CUSTOM_IMAGE_QUOTA)?;
    let used = custom_images_used(c, region, owner)?;
    if used.max(0) as u64 >= quota {
        return Err(Error::new(
            Code::ImageQuotaLimitExceeded,
            format!(
                "{region} already holds {used} of this account's {quota} custom images; delete one first (see quota.json); {QUOTA_HOW}"
            ),
        ));
    }
    Ok(())
}

/// DescribeImageQuota, with the share limit per image beside it (`quota.json`).
pub(super) fn quota(service: &LocalService, region: &str) -> Result<Quota> {
    service.region(region)?;
    let used = service
        .store
        .with_conn(|c| custom_images_used(c, region, &service.account))?;
    Ok(Quota {
        custom_image_quota: service
            .store
            .setting_u64(CUSTOM_IMAGE_QUOTA.key, CUSTOM_IMAGE_QUOTA.default)?,
        custom_images_used: used.max(0) as u64,
        share_limit_per_image: service
            .store
            .setting_u64(SHARE_LIMIT.key, SHARE_LIMIT.default)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
    use crate::local::testing::*;

    #[test]
    fn quota_per_region_counts_every_custom_image() {
        let w = world();
        w.store.set_meta("custom_image_quota", "2").unwrap();
        let s = w.service(OWNER, 0);
        custom(&s, GZ, "a");
        custom(&s, GZ, "b");
        let instances = launch_one(&s, GZ);
        let spec = CreateImageSpec {
            image_name: "c".into(),
            ..Default::default()
        };
        let refused = s.create_image(GZ, &instances[0], &spec).unwrap_err();
        assert_eq!(refused.code(), Code::ImageQuotaLimitExceeded);
        assert!(refused.message().contains("delete one first"));
        assert!(refused
            .message()
            .contains("`imagefs store set custom-image-quota N` (docs/SEMANTICS.md, section \"Control files\""));
        assert_eq!(s.quota(GZ).unwrap().custom_images_used, 2);
        custom(&s, "ap-shanghai", "c");
    }
}
