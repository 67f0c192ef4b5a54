//! Image families: the `ImageFamily` an owner gives custom images (CreateImage, ImportImage,
//! ModifyImageAttribute), `ImageDeprecated`, and the image a family stands for
//! (DescribeImageFromFamily): the newest of the account's usable images of the family that is
//! not deprecated.
//!
//! The cloud refuses a malformed family (`InvalidParameterValue.InvalidImageFamily`) but
//! publishes no rule; imagefs's own, chosen so that every family is a file name
//! (`regions/<r>/families/<family>`), is in [`check_image_family`].

use rusqlite::{params, Connection};

use super::rows::{image_row, ImageRow, IMAGE_COLUMNS};
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::{Image, ImageId, ImageKind};

/// The longest family imagefs takes: the length image names have (the cloud publishes none).
const FAMILY_MAX: usize = 60;

/// ImageFamily: 1 to 60 ASCII letters, digits, `-`, `_` and `.`, starting with a letter or a
/// digit (imagefs's rule: the cloud's is not published; its example is
/// `business-daily-update`).
pub(super) fn check_image_family(family: &str) -> Result<()> {
    let refuse = |why: String| {
        Error::new(
            Code::InvalidParameterValueInvalidImageFamily,
            format!("ImageFamily `{family}` {why}"),
        )
    };
    let count = family.chars().count();
    if count == 0 || count > FAMILY_MAX {
        return Err(refuse(format!(
            "has {count} characters; 1 to {FAMILY_MAX} are allowed"
        )));
    }
    if !family.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(refuse("must start with a letter or a digit".into()));
    }
    if let Some(bad) = family
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(refuse(format!(
            "contains `{}`: only ASCII letters, digits, `-`, `_` and `.` are allowed",
            bad.escape_default()
        )));
    }
    Ok(())
}

/// A family given on CreateImage or ImportImage: checked, empty meaning none.
pub(super) fn family_of_new_image(family: Option<&str>) -> Result<&str> {
    match family {
        None | Some("") => Ok(""),
        Some(f) => {
            check_image_family(f)?;
            Ok(f)
        }
    }
}

/// Sets a custom image's family ("" for none).
pub(super) fn set_image_family(
    c: &Connection,
    region: &str,
    id: &ImageId,
    family: &str,
) -> Result<()> {
    c.prepare_cached("UPDATE images SET image_family = ?1 WHERE region = ?2 AND image_id = ?3")?
        .execute(params![family, region, id.as_str()])?;
    Ok(())
}

/// Sets whether a custom image is deprecated.
pub(super) fn set_image_deprecated(
    c: &Connection,
    region: &str,
    id: &ImageId,
    deprecated: bool,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE images SET image_deprecated = ?1 WHERE region = ?2 AND image_id = ?3",
    )?
    .execute(params![deprecated, region, id.as_str()])?;
    Ok(())
}

/// The account's custom images of a region that carry a family, newest first (by creation
/// time, then by the order the store received them: times are whole seconds).
fn family_rows(
    service: &LocalService,
    c: &Connection,
    region: &str,
    family: Option<&str>,
) -> Result<Vec<ImageRow>> {
    let sql = format!(
        "SELECT {IMAGE_COLUMNS} FROM images
         WHERE region = ?1 AND kind = 'CUSTOM' AND owner = ?2 AND image_family != ''
             AND (?3 IS NULL OR image_family = ?3)
         ORDER BY created_time DESC, rowid DESC"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![region, service.account.as_str(), family], image_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Whether an image may stand for its family: usable, and not deprecated.
fn stands_for_family(row: &ImageRow) -> bool {
    row.usable() && !row.image.image_deprecated
}

fn shown(row: ImageRow) -> Image {
    let mut image = row.image;
    image.image_type = ImageKind::Custom.image_type().to_string();
    image
}

/// DescribeImageFromFamily: the image the family stands for now, if any.
pub(super) fn image_from_family(
    service: &LocalService,
    region: &str,
    family: &str,
) -> Result<Option<Image>> {
    service.region(region)?;
    let rows = service
        .store
        .with_conn(|c| family_rows(service, c, region, Some(family)))?;
    Ok(rows.into_iter().find(stands_for_family).map(shown))
}

/// Every family of the account's images in a region that stands for an image, with that
/// image, ordered by family (`regions/<r>/families/`).
pub(super) fn families(service: &LocalService, region: &str) -> Result<Vec<(String, ImageId)>> {
    service.region(region)?;
    let rows = service
        .store
        .with_conn(|c| family_rows(service, c, region, None))?;
    // Newest first: each family keeps the first image that may stand for it.
    let mut heads = std::collections::BTreeMap::new();
    for row in rows.into_iter().filter(stands_for_family) {
        heads
            .entry(row.image.image_family)
            .or_insert(row.image.image_id);
    }
    Ok(heads.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::testing::*;

    #[test]
    fn family_names_follow_imagefs_rule() {
        for good in [
            "business-daily-update",
            "web",
            "a",
            "Web_2.0",
            &"x".repeat(60),
        ] {
            assert!(check_image_family(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-web",
            ".web",
            "web/1",
            "web 1",
            "wéb",
            "a\nb",
            &"x".repeat(61),
        ] {
            assert_eq!(
                check_image_family(bad).unwrap_err().code(),
                Code::InvalidParameterValueInvalidImageFamily,
                "{bad:?}"
            );
        }
    }

    /// The family stands for its newest image that is not deprecated; deprecating it rolls
    /// the family back, undeprecating forward, deleting it back again; a family whose every
    /// image is deprecated stands for nothing and is not listed.
    #[test]
    fn a_family_follows_its_newest_usable_image_not_deprecated() {
        let w = world();
        let s = w.service(OWNER, 0);
        let old = custom(&s, GZ, "web-1");
        let new = custom(&s, GZ, "web-2");
        let other = custom(&s, GZ, "db-1");
        let join = |image: &ImageId, family: &str| {
            s.modify_image(GZ, image, &ImageChanges::family(family))
                .unwrap()
        };
        assert_eq!(s.image_from_family(GZ, "web").unwrap(), None);
        join(&old, "web");
        join(&new, "web");
        join(&other, "db");
        let stands_for =
            |family: &str| s.image_from_family(GZ, family).unwrap().map(|i| i.image_id);
        assert_eq!(stands_for("web"), Some(new.clone()));
        let image = s.image_from_family(GZ, "web").unwrap().unwrap();
        assert_eq!(image.image_family, "web");
        assert_eq!(image.image_type, "PRIVATE_IMAGE");
        assert_eq!(
            s.families(GZ).unwrap(),
            vec![
                ("db".to_string(), other.clone()),
                ("web".to_string(), new.clone())
            ]
        );
        let deprecate = |image: &ImageId, deprecated: bool| {
            let changes = ImageChanges {
                deprecated: Some(deprecated),
                ..ImageChanges::default()
            };
            s.modify_image(GZ, image, &changes).unwrap()
        };
        deprecate(&new, true);
        assert!(
            s.image(GZ, ImageKind::Custom, &new)
                .unwrap()
                .image_deprecated
        );
        assert_eq!(stands_for("web"), Some(old.clone()));
        deprecate(&new, false);
        assert_eq!(stands_for("web"), Some(new.clone()));
        s.delete_image(GZ, &new).unwrap();
        assert_eq!(stands_for("web"), Some(old.clone()));
        deprecate(&old, true);
        assert_eq!(stands_for("web"), None);
        assert_eq!(
            s.families(GZ).unwrap(),
            vec![("db".to_string(), other.clone())]
        );
        // Leaving the family: an empty ImageFamily.
        join(&other, "");
        assert_eq!(stands_for("db"), None);
        assert_eq!(
            s.image(GZ, ImageKind::Custom, &other).unwrap().image_family,
            ""
        );
        // Another account's families are its own.
        let friend = w.service(FRIEND, 0);
        s.share_image(GZ, &old, &[account(FRIEND)]).unwrap();
        deprecate(&old, false);
        assert_eq!(friend.image_from_family(GZ, "web").unwrap(), None);
    }

    #[test]
    fn families_are_checked_on_every_path_that_sets_them() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "web-1");
        assert_eq!(
            code(s.modify_image(GZ, &image, &ImageChanges::family("web/1"))),
            Code::InvalidParameterValueInvalidImageFamily.as_str()
        );
        let friend = w.service(FRIEND, 0);
        s.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
        assert_eq!(
            code(friend.modify_image(GZ, &image, &ImageChanges::family("web"))),
            Code::UnsupportedOperationSharedImageModifyUnsupported.as_str()
        );
    }
}
