//! Copying custom and shared images to other regions (SyncImages): which regions a copy may
//! go to, and the copies, SYNCING until the transition delay has passed. The source of a
//! custom image's copies shows SYNCING too until the last of them ends, and stays usable.

use rusqlite::{params, Connection};

use super::faults::take_injection;
use super::ids::{new_image_id, system_disk_snapshot};
use super::images::{check_image_name, check_name_free};
use super::quota::check_quota;
use super::rows::{insert_image_row, NewImageRow};
use super::transitions::settle;
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::{ImageId, ImageKind, ImageState, Region};

/// SyncImages: copies of an image this account sees as `kind` (custom, or shared, into its
/// own region), one per destination, all of them or none, named `name` or as the image is.
pub(super) fn sync_images(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    image: &ImageId,
    destinations: &[String],
    name: Option<&str>,
) -> Result<Vec<(String, ImageId)>> {
    service.throttle()?;
    let targets = copy_targets(service, region, kind, image, destinations)?;
    if let Some(name) = name {
        // Checked as every name is; SyncImages lists no `InvalidParameterValue.TooLarge`, so a
        // name too long is refused as a value it does not take.
        check_image_name(name).map_err(|e| {
            if e.is(Code::InvalidParameterValueTooLarge) {
                Error::new(Code::InvalidParameterValue, e.message())
            } else {
                e
            }
        })?;
    }
    service
        .store
        .with_tx(|tx| copy_to(service, tx, (region, kind, image), &targets, name))
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

/// Stores the copies of a usable custom or shared image (`source`: its region, kind and ID)
/// in `targets`, within each one's quota and names, and marks a custom source as copying.
fn copy_to(
    service: &LocalService,
    tx: &Connection,
    (region, kind, image): (&str, ImageKind, &ImageId),
    targets: &[&Region],
    name: Option<&str>,
) -> Result<Vec<(String, ImageId)>> {
    settle(tx)?;
    let source = service.visible_row_in(tx, region, kind, image)?;
    if !matches!(kind, ImageKind::Custom | ImageKind::Shared) {
        return Err(Error::new(
            Code::InvalidParameterValueInvalidImageId,
            format!("image {image} is a {kind} image: only custom and shared images can be copied"),
        ));
    }
    // An exporting image is not copied: the copy's end would end its EXPORTING too.
    if !source.usable() || source.image.image_state == ImageState::Exporting {
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
    let name = name.unwrap_or(&source.image.image_name);
    let mut copies = Vec::new();
    for target in targets {
        check_name_free(tx, &target.region, &service.account, name)?;
        check_quota(tx, &target.region, &service.account)?;
        let id = new_image_id(tx)?;
        let snapshots = system_disk_snapshot(source.image.image_size)?;
        insert_image_row(
            tx,
            &NewImageRow {
                region: &target.region,
                image_id: &id,
                owner: &service.account,
                image_name: name,
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
    // A receiver's copy of a shared image leaves the owner's image as it is.
    if let (ImageKind::Custom, Some(due)) = (kind, due) {
        mark_copying(tx, region, image, due)?;
    }
    Ok(copies)
}

/// Records on a source that copies of it are in progress until `due` (the last copy's end,
/// when several are): it keeps its own state, NORMAL, with a transition to NORMAL pending,
/// which its readers show as SYNCING (see `rows::image_row`) and which ends, settles and is
/// journalled as every transition is.
fn mark_copying(tx: &Connection, region: &str, image: &ImageId, due: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE images SET transition_final = 'NORMAL',
            transition_due = max(coalesce(transition_due, 0), ?1)
         WHERE region = ?2 AND image_id = ?3 AND image_state = 'NORMAL'",
    )?
    .execute(params![due, region, image.as_str()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use crate::error::Code;
    use crate::local::testing::*;
    use crate::local::transitions::now_ms;
    use crate::model::CopySpec;

    /// A copy into `regions`, named as the image is.
    fn to(regions: &[&str]) -> CopySpec {
        CopySpec {
            destination_regions: regions.iter().map(|n| n.to_string()).collect(),
            ..CopySpec::default()
        }
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
            Code::OperationDeniedInstanceOperationInProgress
        );
        let instant = w.service(OWNER, 0);
        let image = custom(&instant, GZ, "base");
        let copies = s
            .sync_images(GZ, ImageKind::Custom, &image, &to(&["ap-shanghai"]))
            .unwrap();
        let (_, copy) = &copies[0];
        let copied = s.image("ap-shanghai", ImageKind::Custom, copy).unwrap();
        assert_eq!(copied.image_state, ImageState::Syncing);
        assert_eq!(copied.image_name, "base");
        assert_eq!(
            code(s.share_image("ap-shanghai", copy, &[account(FRIEND)])),
            Code::InvalidParameterValueInvalidImageState
        );
        assert_eq!(
            code(s.sync_images("ap-shanghai", ImageKind::Custom, copy, &to(&["ap-beijing"]))),
            Code::InvalidImageIdIncorrectState
        );
        assert_eq!(
            code(s.delete_image("ap-shanghai", copy)),
            Code::InvalidImageIdIncorrectState
        );
        assert_eq!(
            code(s.run_instances(
                "ap-shanghai",
                ImageKind::Custom,
                copy,
                &LaunchSpec::default()
            )),
            Code::InvalidParameterValueInvalidImageState
        );
    }

    /// The source of copies in progress shows SYNCING and cannot be deleted, but is launched
    /// from, reset to, shared and copied again as before; a share is reported before the
    /// copies. It is NORMAL again when its last copy ends.
    #[test]
    fn the_source_syncs_until_its_last_copy_ends_and_stays_usable() {
        let w = world();
        let instant = w.service(OWNER, 0);
        let image = custom(&instant, GZ, "source");
        let slow = w.service(OWNER, 60_000);
        slow.sync_images(GZ, ImageKind::Custom, &image, &to(&["ap-shanghai"]))
            .unwrap();
        let state = || instant.image(GZ, ImageKind::Custom, &image).unwrap();
        assert_eq!(state().image_state, ImageState::Syncing);
        assert_eq!(
            state().sync_percent,
            Some(100),
            "the source itself is whole"
        );
        assert_eq!(
            code(instant.delete_image(GZ, &image)),
            Code::InvalidImageIdIncorrectState
        );
        let launched = instant
            .run_instances(GZ, ImageKind::Custom, &image, &LaunchSpec::default())
            .unwrap();
        instant.reset_instance(GZ, &launched[0], &image).unwrap();
        instant.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        assert_eq!(
            code(instant.delete_image(GZ, &image)),
            Code::InvalidImageIdInShared
        );
        // A second copy, ending later: the source waits for it too.
        let later = w.service(OWNER, 120_000);
        later
            .sync_images(GZ, ImageKind::Custom, &image, &to(&["ap-beijing"]))
            .unwrap();
        let due = |id: &ImageId| -> i64 {
            w.store
                .with_conn(|c| {
                    Ok(c.query_row(
                        "SELECT transition_due FROM images WHERE image_id = ?1",
                        [id.as_str()],
                        |r| r.get(0),
                    )?)
                })
                .unwrap()
        };
        let copies = instant
            .list_images("ap-beijing", ImageKind::Custom)
            .unwrap();
        assert_eq!(due(&image), due(&copies[0].image_id));
        // The first copy ends: still SYNCING. The second ends: NORMAL, and settled so.
        let end = |id: &ImageId, at: i64| {
            w.store
                .with_tx(|c| {
                    c.execute(
                        "UPDATE images SET transition_due = ?1 WHERE image_id = ?2",
                        params![at, id.as_str()],
                    )?;
                    Ok(())
                })
                .unwrap()
        };
        let shanghai = instant
            .list_images("ap-shanghai", ImageKind::Custom)
            .unwrap();
        end(&shanghai[0].image_id, now_ms() - 1);
        assert_eq!(state().image_state, ImageState::Syncing);
        end(&copies[0].image_id, now_ms() - 1);
        end(&image, now_ms() - 1);
        assert_eq!(state().image_state, ImageState::Normal);
        instant
            .unshare_image(GZ, &image, &[account(FRIEND)])
            .unwrap();
        instant.delete_image(GZ, &image).unwrap();
    }

    /// A receiver's copy of a shared image is the receiver's: the owner's image stays as it is.
    #[test]
    fn a_receivers_copy_leaves_the_owners_image_alone() {
        let w = world();
        let owner = w.service(OWNER, 0);
        let image = custom(&owner, GZ, "team");
        owner.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        let friend = w.service(FRIEND, 60_000);
        let copies = friend
            .sync_images(GZ, ImageKind::Shared, &image, &to(&[GZ]))
            .unwrap();
        assert_eq!(
            friend
                .image(GZ, ImageKind::Custom, &copies[0].1)
                .unwrap()
                .image_state,
            ImageState::Syncing
        );
        assert_eq!(
            owner
                .image(GZ, ImageKind::Custom, &image)
                .unwrap()
                .image_state,
            ImageState::Normal
        );
        assert_eq!(
            friend
                .image(GZ, ImageKind::Shared, &image)
                .unwrap()
                .image_state,
            ImageState::Normal
        );
    }

    /// A copy's SyncPercent is the share of its transition's time that has passed; 100 once
    /// it is done.
    #[test]
    fn sync_percent_moves_with_the_copy() {
        let w = world();
        let s = w.service(OWNER, 60_000);
        let image = custom(&w.service(OWNER, 0), GZ, "moving");
        let copies = s
            .sync_images(GZ, ImageKind::Custom, &image, &to(&["ap-shanghai"]))
            .unwrap();
        let copy = &copies[0].1;
        let percent = || {
            s.image("ap-shanghai", ImageKind::Custom, copy)
                .unwrap()
                .sync_percent
        };
        assert!(percent().is_some_and(|p| p < 10), "{:?}", percent());
        // Thirty seconds in, thirty to go.
        let started = crate::model::format_api_time(
            std::time::SystemTime::now() - std::time::Duration::from_secs(30),
        );
        w.store
            .with_tx(|c| {
                c.execute(
                    "UPDATE images SET created_time = ?1, transition_due = ?2 WHERE image_id = ?3",
                    params![started, now_ms() + 30_000, copy.as_str()],
                )?;
                Ok(())
            })
            .unwrap();
        assert!(
            percent().is_some_and(|p| (45..=55).contains(&p)),
            "{:?}",
            percent()
        );
        w.store
            .with_tx(|c| {
                c.execute(
                    "UPDATE images SET transition_due = ?1 WHERE image_id = ?2",
                    params![now_ms() - 1, copy.as_str()],
                )?;
                Ok(())
            })
            .unwrap();
        assert_eq!(percent(), Some(100));
    }

    /// `ImageName` names the copies (checked as every name is, with the codes SyncImages
    /// lists); without it they keep the image's name.
    #[test]
    fn copies_take_the_name_asked_for() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "golden");
        custom(&s, "ap-shanghai", "golden");
        let sync = |name: Option<&str>| {
            let copy = CopySpec {
                image_name: name.map(str::to_owned),
                ..to(&["ap-shanghai"])
            };
            s.sync_images(GZ, ImageKind::Custom, &image, &copy)
        };
        assert_eq!(code(sync(None)), Code::InvalidImageNameDuplicate);
        assert_eq!(
            code(sync(Some(&"n".repeat(61)))),
            Code::InvalidParameterValue
        );
        assert_eq!(code(sync(Some(""))), Code::InvalidParameterValue);
        let copies = sync(Some("golden-sh")).unwrap();
        let copy = s
            .image("ap-shanghai", ImageKind::Custom, &copies[0].1)
            .unwrap();
        assert_eq!(copy.image_name, "golden-sh");
        assert_eq!(
            s.image(GZ, ImageKind::Custom, &image).unwrap().image_name,
            "golden"
        );
    }

    /// A dry run of SyncImages checks every rule and copies nothing, leaves the source NORMAL
    /// and an injected copy failure pending.
    #[test]
    fn a_dry_run_copies_nothing() {
        let w = world();
        let s = w.service(OWNER, 60_000);
        let image = custom(&w.service(OWNER, 0), GZ, "rehearsed");
        w.store.set_meta("inject_copy_fails", "1").unwrap();
        let dry = |targets: &[&str]| {
            s.dry_run_if(true, || {
                s.sync_images(GZ, ImageKind::Custom, &image, &to(targets))
            })
        };
        assert_eq!(code(dry(&["ap-singapore"])), Code::InvalidRegionUnavailable);
        let would = dry(&["ap-shanghai", "ap-beijing"]).unwrap();
        assert_eq!(would.len(), 2);
        for region in ["ap-shanghai", "ap-beijing"] {
            assert!(s.list_images(region, ImageKind::Custom).unwrap().is_empty());
        }
        assert_eq!(
            s.image(GZ, ImageKind::Custom, &image).unwrap().image_state,
            ImageState::Normal
        );
        assert_eq!(
            w.store.meta("inject_copy_fails").unwrap().as_deref(),
            Some("1")
        );
        // The real call meets the failure the dry run left.
        let copies = w
            .service(OWNER, 0)
            .sync_images(GZ, ImageKind::Custom, &image, &to(&["ap-shanghai"]))
            .unwrap();
        assert_eq!(
            s.image("ap-shanghai", ImageKind::Custom, &copies[0].1)
                .unwrap()
                .image_state,
            ImageState::CreateFailed
        );
    }

    #[test]
    fn copies_follow_the_region_rules_all_or_nothing() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "golden");
        let sync = |targets: &[&str]| s.sync_images(GZ, ImageKind::Custom, &image, &to(targets));
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
            code(f.sync_images(GZ, ImageKind::Shared, &image, &to(&["ap-shanghai"]))),
            Code::InvalidRegionUnavailable
        );
        let copies = f
            .sync_images(GZ, ImageKind::Shared, &image, &to(&[GZ]))
            .unwrap();
        let mine = f.image(GZ, ImageKind::Custom, &copies[0].1).unwrap();
        assert_eq!(mine.image_creator, FRIEND);
        assert_eq!(mine.image_name, "team");
        assert_eq!(f.quota(GZ).unwrap().custom_images_used, 1);
    }
}
