//! Copying custom and shared images to other regions (SyncImages): which regions a copy may
//! go to, and the copies, SYNCING until the transition delay has passed.

use rusqlite::Connection;

use super::faults::take_injection;
use super::ids::{new_image_id, system_disk_snapshot};
use super::images::check_name_free;
use super::quota::check_quota;
use super::rows::{insert_image_row, NewImageRow};
use super::transitions::settle;
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::{ImageId, ImageKind, ImageState, Region};

/// SyncImages: copies of an image this account sees as `kind` (custom, or shared, into its
/// own region), one per destination, all of them or none.
pub(super) fn sync_images(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    image: &ImageId,
    destinations: &[String],
) -> Result<Vec<(String, ImageId)>> {
    service.throttle()?;
    let targets = copy_targets(service, region, kind, image, destinations)?;
    service
        .store
        .with_tx(|tx| copy_to(service, tx, region, kind, image, &targets))
}

/// The regions of `destinations`, each once, where a copy of `image` may go from `region`:
/// not its own region (but only its own region for a shared image), and within mainland
/// China, the other regions or the finance regions.
fn copy_targets<'a>(
    service: &'a LocalService,
    region: &str,
    kind: ImageKind,
    image: &ImageId,
    destinations: &[String],
) -> Result<Vec<&'a Region>> {
    if destinations.is_empty() {
        return Err(Error::new(
            Code::MissingParameter,
            "copy_to takes one or more destination region IDs",
        ));
    }
    let source_region = service.region(region)?.clone();
    let mut targets: Vec<&Region> = Vec::new();
    for name in destinations {
        let target = service.region(name)?;
        if targets.iter().any(|t| t.region == target.region) {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("region {name} is listed twice"),
            ));
        }
        match kind {
            ImageKind::Shared if target.region != region => {
                return Err(Error::new(
                    Code::InvalidRegionUnavailable,
                    format!(
                    "a shared image can only be copied into its own region ({region}), not {name}"
                ),
                ))
            }
            ImageKind::Shared => {}
            _ if target.region == region => {
                return Err(Error::new(
                    Code::InvalidParameterValueInvalidRegion,
                    format!("image {image} is already in {region}: copy it to other regions"),
                ))
            }
            _ => {}
        }
        let finance = |r: &str| r.ends_with("-fsi");
        if target.mainland != source_region.mainland {
            return Err(Error::new(
                Code::InvalidRegionUnavailable,
                format!(
                    "copying between mainland China and other regions ({region} to {name}) needs a support request; copy within mainland China or within the other regions"
                ),
            ));
        }
        if finance(&target.region) != finance(region) {
            return Err(Error::new(
                Code::InvalidRegionUnavailable,
                format!("the finance regions copy only among themselves ({region} to {name})"),
            ));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// Stores the copies of a NORMAL custom or shared image in `targets`, within each one's
/// quota and names.
fn copy_to(
    service: &LocalService,
    tx: &Connection,
    region: &str,
    kind: ImageKind,
    image: &ImageId,
    targets: &[&Region],
) -> Result<Vec<(String, ImageId)>> {
    settle(tx)?;
    let source = service.visible_row_in(tx, region, kind, image)?;
    if !matches!(kind, ImageKind::Custom | ImageKind::Shared) {
        return Err(Error::new(
            Code::InvalidParameterValueInvalidImageId,
            format!("image {image} is a {kind} image: only custom and shared images can be copied"),
        ));
    }
    if source.image.image_state != ImageState::Normal {
        return Err(Error::new(
            Code::InvalidImageIdIncorrectState,
            format!(
                "image {image} is {}: only NORMAL images can be copied",
                source.image.image_state.as_str()
            ),
        ));
    }
    // The API has no failed-copy state: a failed copy ends CREATEFAILED.
    let outcome = if take_injection(tx, "inject_copy_fails")? {
        "CREATEFAILED"
    } else {
        "NORMAL"
    };
    let (state, final_state, due) = service.transition("SYNCING", outcome)?;
    let mut copies = Vec::new();
    for target in targets {
        check_name_free(
            tx,
            &target.region,
            &service.account,
            &source.image.image_name,
        )?;
        check_quota(tx, &target.region, &service.account)?;
        let id = new_image_id(tx)?;
        let snapshots = system_disk_snapshot(source.image.image_size)?;
        insert_image_row(
            tx,
            &NewImageRow {
                region: &target.region,
                image_id: &id,
                owner: &service.account,
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
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
    use crate::local::testing::*;

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
            Code::OperationDeniedInstanceOperationInProgress
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
            Code::InvalidParameterValueInvalidImageState
        );
        assert_eq!(
            code(s.sync_images(
                "ap-shanghai",
                ImageKind::Custom,
                copy,
                &["ap-beijing".into()]
            )),
            Code::InvalidImageIdIncorrectState
        );
        assert_eq!(
            code(s.delete_image("ap-shanghai", copy)),
            Code::InvalidImageIdIncorrectState
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
        assert_eq!(code(sync(&["ap-mars"])), Code::InvalidRegionNotFound);
        assert_eq!(
            code(sync(&["ap-singapore"])),
            Code::InvalidRegionUnavailable
        );
        assert_eq!(
            code(sync(&["ap-shanghai-fsi"])),
            Code::InvalidRegionUnavailable
        );
        assert_eq!(code(sync(&[GZ])), Code::InvalidParameterValueInvalidRegion);
        assert_eq!(code(sync(&[])), Code::MissingParameter);
        assert_eq!(
            code(sync(&["ap-shanghai", "ap-shanghai"])),
            Code::InvalidParameterValue
        );
        // A valid region beside a refused one: nothing is copied.
        assert_eq!(
            code(sync(&["ap-shanghai", "ap-singapore"])),
            Code::InvalidRegionUnavailable
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
            Code::ImageQuotaLimitExceeded
        );
        assert!(s
            .list_images("ap-shanghai", ImageKind::Custom)
            .unwrap()
            .is_empty());
        w.store.set_meta("custom_image_quota", "10").unwrap();
        custom(&s, "ap-nanjing", "golden");
        assert_eq!(
            code(sync(&["ap-shanghai", "ap-nanjing"])),
            Code::InvalidImageNameDuplicate
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
            Code::InvalidRegionUnavailable
        );
        let copies = f
            .sync_images(GZ, ImageKind::Shared, &image, &[GZ.into()])
            .unwrap();
        let mine = f.image(GZ, ImageKind::Custom, &copies[0].1).unwrap();
        assert_eq!(mine.image_creator, FRIEND);
        assert_eq!(mine.image_name, "team");
        assert_eq!(f.quota(GZ).unwrap().custom_images_used, 1);
    }
}
