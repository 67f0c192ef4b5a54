//! Images many at a time: the listings of each kind, images found or counted by name, and
//! an image read with its neighbours in ImageId order (a directory listed ahead).

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::instances::instance_type_size;
use super::rows::{entry_row, image_row, ImageRow, IMAGE_COLUMNS};
use super::sharing::shares_between;
use super::LocalService;
use crate::error::Result;
use crate::model::{AccountId, Image, ImageEntry, ImageId, ImageKind};
use crate::service::{ImageService, ImageView};

/// Names counted by one statement of `name_counts`.
const NAMES_PER_QUERY: usize = 32;

impl LocalService {
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
}

impl LocalService {
    /// DescribeImages' `InstanceType`, checked as RunInstances checks it
    /// (`InvalidInstanceType.Malformed`). Every image here runs on every instance type
    /// RunInstances accepts, so a listing for one is the whole listing.
    pub fn check_instance_type(&self, instance_type: &str) -> Result<()> {
        instance_type_size(instance_type).map(|_| ())
    }
}

/// The listing of a kind of image in a region, in ImageId order, from after `after`.
pub(super) fn list_images_after(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    after: Option<&ImageId>,
    limit: usize,
) -> Result<Vec<ImageEntry>> {
    service.region(region)?;
    let account = service.account.as_str();
    // ImageIds have a fixed width, so their text order is their numeric order.
    let after = after.map(ImageId::as_str).unwrap_or("");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    service.store.with_conn(|c| {
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

/// How many images of a kind carry each of `names` (names carried by none are left out).
pub(super) fn name_counts(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    names: &[&str],
) -> Result<HashMap<String, usize>> {
    service.region(region)?;
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
            service.account.as_str(),
        ),
        ImageKind::Shared => (
            format!(
                "SELECT i.image_name, count(*) FROM images i INDEXED BY images_by_name
                 JOIN shares s ON s.region = i.region AND s.image_id = i.image_id
                 WHERE i.region = ? AND s.account_id = ? AND i.owner IS NOT s.account_id
                   AND i.kind = 'CUSTOM' AND i.image_name IN ({list})
                 GROUP BY i.image_name"
            ),
            service.account.as_str(),
        ),
    };
    service.store.with_conn(|c| {
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

/// The images of a kind named `name`, in ImageId order.
pub(super) fn images_named(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    name: &str,
) -> Result<Vec<ImageEntry>> {
    service.region(region)?;
    // INDEXED BY: without statistics SQLite would rather walk the owner's images (all of
    // a million) than the few that carry the name.
    let account = service.account.as_str();
    service.store.with_conn(|c| {
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

/// `first` and its neighbours in ImageId order (see [`LocalService::rows_from`]), or
/// `first` alone where they cannot be read together.
pub(super) fn images_from(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    first: &ImageId,
    backwards: bool,
    limit: usize,
) -> Result<Vec<Image>> {
    let rows = service
        .store
        .with_conn(|c| service.rows_from(c, region, kind, first, backwards, limit))?;
    match rows {
        Some(rows) => Ok(rows.into_iter().map(|row| row.image).collect()),
        None => Ok(vec![service.image(region, kind, first)?]),
    }
}

/// The views of `first` and its neighbours, as [`images_from`] reads them.
pub(super) fn image_views_from(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    first: &ImageId,
    backwards: bool,
    limit: usize,
) -> Result<Vec<ImageView>> {
    // One read transaction for the rows and their share lists.
    let found = service.store.with_conn(|c| {
        let tx = c.unchecked_transaction()?;
        let Some(rows) = service.rows_from(&tx, region, kind, first, backwards, limit)? else {
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
        return Ok(vec![service.image_view(region, kind, first)?]);
    };
    rows.into_iter()
        .map(|row| {
            let id = row.image.image_id.clone();
            let image = row.image.clone();
            Ok(ImageView {
                image,
                price: service.price_of(row, region, kind, &id)?,
                shares: (kind == ImageKind::Custom).then(|| shares.remove(&id).unwrap_or_default()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
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
            Code::InvalidImageIdNotFound
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
}
