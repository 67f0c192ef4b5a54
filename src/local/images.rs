//! Images one at a time: which of them an account sees (as public, custom, shared or
//! marketplace images) or may change, what its directory shows, and the commands that make,
//! rename and delete custom images.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::families::{family_of_new_image, set_image_deprecated, set_image_family};
use super::faults::take_injection;
use super::ids::{new_image_id, system_disk_snapshot};
use super::instances::require_settled;
use super::quota::check_quota;
use super::rows::{image_row, insert_image_row, ImageRow, NewImageRow, IMAGE_COLUMNS};
use super::sharing::{is_shared_with, share_count, shares_in};
use super::store::Store;
use super::tags::{creation_tags, write_tags};
use super::transitions::settle;
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::tags::TaggedResource;
use crate::model::{
    AccountId, CreateImageSpec, Image, ImageChanges, ImageId, ImageKind, ImageState, InstanceId,
};
use crate::service::ImageView;

impl LocalService {
    fn not_found(region: &str, id: &ImageId, kind: ImageKind) -> Error {
        Error::new(
            Code::InvalidImageIdNotFound,
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
    pub(super) fn visible_row_in(
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

    pub(super) fn visible_row(
        &self,
        region: &str,
        kind: ImageKind,
        id: &ImageId,
    ) -> Result<ImageRow> {
        self.store
            .with_conn(|c| self.visible_row_in(c, region, kind, id))
    }

    /// An image this account may use in `region`, of whatever kind.
    pub(super) fn usable_row_in(
        &self,
        c: &Connection,
        region: &str,
        id: &ImageId,
    ) -> Result<(ImageKind, ImageRow)> {
        for kind in ImageKind::ALL {
            match self.visible_row_in(c, region, kind, id) {
                Ok(row) => return Ok((kind, row)),
                Err(e) if e.is(Code::InvalidImageIdNotFound) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            Code::InvalidImageIdNotFound,
            format!("no image {id} that this account can use in {region}"),
        ))
    }

    /// One of this account's own custom images, for an action only the owner takes. An image
    /// the account sees but does not own (shared with it, public, marketplace) is refused with
    /// the code the action's documentation lists for it; anything else is not found.
    pub(super) fn own_custom_in(
        &self,
        c: &Connection,
        region: &str,
        image: &ImageId,
        action: OwnerAction,
    ) -> Result<ImageRow> {
        let not_found = match self.visible_row_in(c, region, ImageKind::Custom, image) {
            Err(e) if e.is(Code::InvalidImageIdNotFound) => e,
            found => return found,
        };
        let name = action.name();
        if self
            .visible_row_in(c, region, ImageKind::Shared, image)
            .is_ok()
        {
            return Err(Error::new(
                action.code_for_shared(),
                format!("image {image} is shared with this account by its owner: {name} is for the owner only"),
            ));
        }
        for kind in [ImageKind::Public, ImageKind::Marketplace] {
            if self.visible_row_in(c, region, kind, image).is_ok() {
                return Err(Error::new(
                    action.code_for_public(),
                    format!("image {image} is a {kind} image: {name} is for custom images"),
                ));
            }
        }
        Err(not_found)
    }

    /// DeleteImages for several images: all of them or none. A share is found before a state
    /// (only a usable image can be shared, so only the source of copies in progress can be
    /// both, and the cloud names its shares).
    pub fn delete_images(&self, region: &str, images: &[ImageId]) -> Result<()> {
        self.command_tx(|tx| {
            settle(tx)?;
            for image in images {
                let row = self.own_custom_in(tx, region, image, OwnerAction::DeleteImages)?;
                let shares = share_count(tx, region, image)?;
                if shares > 0 {
                    return Err(Error::new(
                        Code::InvalidImageIdInShared,
                        format!("image {image} is shared with {shares} account(s): unshare it first (see its share file)"),
                    ));
                }
                if matches!(
                    row.image.image_state,
                    ImageState::Creating
                        | ImageState::Syncing
                        | ImageState::Importing
                        | ImageState::Exporting
                ) {
                    let work = if row.copying {
                        "its copies are done"
                    } else {
                        "that work finishes"
                    };
                    return Err(Error::new(
                        Code::InvalidImageIdIncorrectState,
                        format!(
                            "image {image} is {}: it can be deleted once {work}",
                            row.image.image_state.as_str()
                        ),
                    ));
                }
                tx.prepare_cached("DELETE FROM images WHERE region = ?1 AND image_id = ?2")?
                    .execute(params![region, image.as_str()])?;
            }
            Ok(())
        })
    }
}

/// The actions only an image's owner takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OwnerAction {
    ModifyImageAttribute,
    ModifyImageSharePermission,
    DescribeImageSharePermission,
    DeleteImages,
    /// TagResources, UnTagResources and the `tags` file.
    TagResources,
    ExportImages,
}

impl OwnerAction {
    fn name(self) -> &'static str {
        match self {
            OwnerAction::ModifyImageAttribute => "ModifyImageAttribute",
            OwnerAction::ModifyImageSharePermission => "ModifyImageSharePermission",
            OwnerAction::DescribeImageSharePermission => "DescribeImageSharePermission",
            OwnerAction::DeleteImages => "DeleteImages",
            OwnerAction::TagResources => "tagging",
            OwnerAction::ExportImages => "ExportImages",
        }
    }

    /// The action's code for an image shared with the account (the one its documentation
    /// lists for the condition).
    fn code_for_shared(self) -> Code {
        match self {
            OwnerAction::ModifyImageAttribute => {
                Code::UnsupportedOperationSharedImageModifyUnsupported
            }
            OwnerAction::ModifyImageSharePermission | OwnerAction::DescribeImageSharePermission => {
                Code::UnauthorizedOperationImageNotBelongToAccount
            }
            OwnerAction::DeleteImages => Code::InvalidParameterValueInvalidImageIdIsShared,
            OwnerAction::TagResources => Code::AuthFailureUnauthorizedOperation,
            OwnerAction::ExportImages => Code::UnsupportedOperationSharedImageExportUnsupported,
        }
    }

    /// The action's code for a public or marketplace image.
    fn code_for_public(self) -> Code {
        match self {
            OwnerAction::ModifyImageAttribute => Code::UnsupportedOperation,
            OwnerAction::ModifyImageSharePermission | OwnerAction::DeleteImages => {
                Code::InvalidParameterValueInvalidImageId
            }
            OwnerAction::DescribeImageSharePermission => {
                Code::UnauthorizedOperationImageNotBelongToAccount
            }
            OwnerAction::TagResources => Code::AuthFailureUnauthorizedOperation,
            OwnerAction::ExportImages => Code::UnsupportedOperationPublicImageExportUnsupported,
        }
    }
}

/// ImageName: 1 to 60 characters.
pub(super) fn check_image_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::new(
            Code::InvalidParameterValue,
            "ImageName must not be empty",
        ));
    }
    let count = name.chars().count();
    if count > 60 {
        return Err(Error::new(
            Code::InvalidParameterValueTooLarge,
            format!("ImageName has {count} characters; at most 60 are allowed"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::new(
            Code::InvalidParameterValue,
            "ImageName must not contain control characters (newlines, tabs, NUL)",
        ));
    }
    Ok(())
}

/// ImageDescription: at most 256 characters.
pub(super) fn check_image_description(description: &str) -> Result<()> {
    let count = description.chars().count();
    if count > 256 {
        return Err(Error::new(
            Code::InvalidParameterValueTooLarge,
            format!("ImageDescription has {count} characters; at most 256 are allowed"),
        ));
    }
    Ok(())
}

/// Names are unique among an account's custom images in a region.
pub(super) fn check_name_free(
    c: &Connection,
    region: &str,
    owner: &AccountId,
    name: &str,
) -> Result<()> {
    let taken: Option<String> = c
        .prepare_cached(
            "SELECT image_id FROM images WHERE region = ?1 AND kind = 'CUSTOM' AND owner = ?2 AND image_name = ?3",
        )?
        .query_row(params![region, owner.as_str(), name], |r| r.get(0))
        .optional()?;
    match taken {
        Some(id) => Err(Error::new(
            Code::InvalidImageNameDuplicate,
            format!("custom image {id} in {region} is already named `{name}`; names are unique per region"),
        )),
        None => Ok(()),
    }
}

/// An image as this account sees it under `kind` (`image.json`).
pub(super) fn image(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    id: &ImageId,
) -> Result<Image> {
    let mut image = service.visible_row(region, kind, id)?.image;
    image.image_type = kind.image_type().to_string();
    Ok(image)
}

/// An image, its price and (for a custom image) its share list, as one read.
pub(super) fn image_view(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    id: &ImageId,
) -> Result<ImageView> {
    // One read transaction: the three agree, and the store is locked once, not thrice.
    let (row, shares) = service.store.with_conn(|c| {
        let tx = c.unchecked_transaction()?;
        let row = service.visible_row_in(&tx, region, kind, id)?;
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
        price: service.price_of(row, region, kind, id)?,
        shares: shares.map(|s| s.into_iter().map(|(account, _)| account).collect()),
    })
}

/// CreateImage from one of this account's instances, RUNNING or STOPPED.
pub(super) fn create_image(
    service: &LocalService,
    region: &str,
    instance: &InstanceId,
    spec: &CreateImageSpec,
) -> Result<ImageId> {
    service.throttle()?;
    if let Some(named) = &spec.instance_id {
        if named != instance.as_str() {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("InstanceId {named} differs from the instance whose create_image file was written ({instance})"),
            ));
        }
    }
    check_image_name(&spec.image_name)?;
    let description = spec.image_description.clone().unwrap_or_default();
    check_image_description(&description)?;
    let tags = creation_tags(spec.tag_specification.as_deref(), "image")?;
    let family = family_of_new_image(spec.image_family.as_deref())?;
    for (param, value) in [
        ("ForcePoweroff", &spec.force_poweroff),
        ("Sysprep", &spec.sysprep),
    ] {
        if let Some(v) = value {
            if v != "true" && v != "false" {
                return Err(Error::new(
                    Code::InvalidParameterValue,
                    format!("{param} takes the string \"true\" or \"false\", not `{v}`"),
                ));
            }
        }
    }
    service.store.with_tx(|tx| {
        settle(tx)?;
        let outcome = if take_injection(tx, "inject_create_fails")? {
            "CREATEFAILED"
        } else {
            "NORMAL"
        };
        let (state, final_state, due) = service.transition("CREATING", outcome)?;
        let source = service.instance_in(tx, region, instance)?;
        require_settled(&source, "CreateImage")?;
        check_name_free(tx, region, &service.account, &spec.image_name)?;
        check_quota(tx, region, &service.account)?;
        let id = new_image_id(tx)?;
        let snapshots = system_disk_snapshot(source.image_size)?;
        insert_image_row(
            tx,
            &NewImageRow {
                region,
                image_id: &id,
                owner: &service.account,
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
        if !tags.is_empty() {
            write_tags(tx, &TaggedResource::image(region, &id), &tags)?;
        }
        set_image_family(tx, region, &id, family)?;
        Ok(id)
    })
}

/// ModifyImageAttribute: a new name (unique among the account's images in the region),
/// description, family (empty: none) or deprecation for one of this account's custom images.
pub(super) fn modify_image(
    service: &LocalService,
    region: &str,
    image: &ImageId,
    changes: &ImageChanges,
) -> Result<()> {
    let name = changes.name.as_deref();
    let description = changes.description.as_deref();
    service.command_tx(|tx| {
        if let Some(name) = name {
            check_image_name(name)?;
        }
        if let Some(description) = description {
            check_image_description(description)?;
        }
        let family = changes
            .family
            .as_deref()
            .map(|f| family_of_new_image(Some(f)))
            .transpose()?;
        let row = service.own_custom_in(tx, region, image, OwnerAction::ModifyImageAttribute)?;
        if let Some(name) = name {
            if name != row.image.image_name {
                check_name_free(tx, region, &service.account, name)?;
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
        if let Some(family) = family {
            set_image_family(tx, region, image, family)?;
        }
        if let Some(deprecated) = changes.deprecated {
            set_image_deprecated(tx, region, image, deprecated)?;
        }
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
    use crate::error::Code;
    use crate::local::testing::*;

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
            Code::InvalidImageIdNotFound
        );
    }

    #[test]
    fn names_are_checked_and_unique_per_account_and_region() {
        let w = world();
        let s = w.service(OWNER, 0);
        let a = custom(&s, GZ, "a");
        let b = custom(&s, GZ, "b");
        assert_eq!(
            code(s.modify_image(GZ, &b, &ImageChanges::name("a"))),
            Code::InvalidImageNameDuplicate
        );
        assert_eq!(
            code(s.modify_image(GZ, &b, &ImageChanges::name(&"x".repeat(61)))),
            Code::InvalidParameterValueTooLarge
        );
        assert_eq!(
            code(s.modify_image(GZ, &b, &ImageChanges::description(&"x".repeat(257)))),
            Code::InvalidParameterValueTooLarge
        );
        assert_eq!(
            code(s.modify_image(GZ, &b, &ImageChanges::name(""))),
            Code::InvalidParameterValue
        );
        s.modify_image(GZ, &a, &ImageChanges::name("a")).unwrap(); // its own name again
        s.modify_image(
            GZ,
            &b,
            &ImageChanges {
                name: Some("名".repeat(60).to_string()),
                description: Some("d".repeat(256).to_string()),
                ..ImageChanges::default()
            },
        )
        .unwrap();
        // Another account, or another region, may use the same name.
        custom(&w.service(FRIEND, 0), GZ, "a");
        custom(&s, "ap-shanghai", "a");
    }

    /// A dry run of DeleteImages, CreateImage or RunInstances answers as the real call would,
    /// refusal or success, and changes nothing.
    #[test]
    fn dry_runs_check_and_change_nothing() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "stays");
        let shared = custom(&s, GZ, "shared");
        s.share_image(GZ, &shared, &[account(FRIEND)]).unwrap();
        let dry = |images: &[ImageId]| s.dry_run_if(true, || s.delete_images(GZ, images));
        dry(std::slice::from_ref(&image)).unwrap();
        assert_eq!(
            code(dry(&[image.clone(), shared.clone()])),
            Code::InvalidImageIdInShared
        );
        assert_eq!(
            code(dry(&[id("img-zzzzzzzz")])),
            Code::InvalidImageIdNotFound
        );
        assert!(s.image(GZ, ImageKind::Custom, &image).is_ok());
        let instances = launch_one(&s, GZ);
        let before = s.list_instances(GZ).unwrap();
        let launched = s
            .dry_run_if(true, || {
                s.run_instances(GZ, ImageKind::Custom, &image, &LaunchSpec::default())
            })
            .unwrap();
        assert_eq!(launched.len(), 1);
        assert_eq!(s.list_instances(GZ).unwrap(), before);
        let spec = |name: &str| CreateImageSpec {
            image_name: name.into(),
            ..Default::default()
        };
        assert_eq!(
            code(s.dry_run_if(true, || s.create_image(GZ, &instances[0], &spec("stays")))),
            Code::InvalidImageNameDuplicate
        );
        s.dry_run_if(true, || s.create_image(GZ, &instances[0], &spec("new")))
            .unwrap();
        assert_eq!(s.quota(GZ).unwrap().custom_images_used, 2);
        // The same calls, for real, do what the dry runs said they would.
        s.delete_images(GZ, std::slice::from_ref(&image)).unwrap();
        s.create_image(GZ, &instances[0], &spec("new")).unwrap();
    }

    #[test]
    fn a_shared_image_is_deleted_only_once_unshared() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "to-delete");
        s.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        assert_eq!(
            code(s.delete_image(GZ, &image)),
            Code::InvalidImageIdInShared
        );
        s.unshare_image(GZ, &image, &[account(FRIEND)]).unwrap();
        s.delete_image(GZ, &image).unwrap();
        assert_eq!(
            code(s.image(GZ, ImageKind::Custom, &image)),
            Code::InvalidImageIdNotFound
        );
        assert_eq!(
            code(s.delete_image(GZ, &image)),
            Code::InvalidImageIdNotFound
        );
        // A public image is there, but takes no DeleteImages.
        assert_eq!(
            code(s.delete_image(GZ, &id("img-9qabwvbn"))),
            Code::InvalidParameterValueInvalidImageId
        );
    }
}
