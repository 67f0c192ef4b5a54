//! The change journal: the images and instances changed by anyone (triggers write it, see
//! the store's schema), read by each mount to drop what the kernel caches of them, and kept
//! short.

use rusqlite::{params, Connection};

use super::store::Store;
use super::transitions::now_ms;
use crate::error::Result;
use crate::model::{ImageId, InstanceId};
use crate::service::{ChangeCursor, Changes};

/// Rows the change journal keeps: a reader further behind is told that everything changed.
const JOURNAL_KEEP: i64 = 10_000;

/// The oldest and newest journal rows. Two subqueries, because SQLite finds a lone MIN or
/// MAX in the index but scans the whole table for both together (the watcher asks ten
/// times a second).
const JOURNAL_ENDS: &str = "SELECT (SELECT MIN(seq) FROM changes), (SELECT MAX(seq) FROM changes)";

/// Drops journal rows no reader needs any more (all but the newest [`JOURNAL_KEEP`]).
pub(super) fn prune_journal(c: &Connection) -> Result<()> {
    c.prepare_cached("DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?1")?
        .execute([JOURNAL_KEEP])?;
    Ok(())
}

/// What changed since `since` (everything, when the journal no longer reaches back to it),
/// from the journal and from the transitions whose time came in between.
pub(super) fn changes(store: &Store, since: Option<ChangeCursor>) -> Result<Option<Changes>> {
    let now = now_ms();
    let (oldest, newest): (Option<i64>, Option<i64>) = store.with_conn(|c| {
        Ok(c.prepare_cached(JOURNAL_ENDS)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
    })?;
    let newest = newest.unwrap_or(0);
    let mut out = Changes {
        cursor: ChangeCursor {
            seq: newest,
            at_ms: now,
        },
        ..Changes::default()
    };
    let Some(since) = since else {
        return Ok(Some(out));
    };
    if newest - since.seq > JOURNAL_KEEP || oldest.is_some_and(|o| o > since.seq + 1) {
        out.everything = true;
        if newest - oldest.unwrap_or(newest) > 2 * JOURNAL_KEEP {
            store.with_tx(prune_journal)?;
        }
        return Ok(Some(out));
    }
    store.with_conn(|c| {
        // Rows up to `newest` are committed: SQLite has one writer at a time.
        let mut stmt = c.prepare_cached(
            "SELECT region, image_id, instance_id FROM changes WHERE seq > ?1 AND seq <= ?2",
        )?;
        let rows = stmt.query_map(params![since.seq, newest], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        for row in rows {
            let (region, image, instance) = row?;
            if let Some(id) = image.and_then(|i| ImageId::parse(&i).ok()) {
                out.images.push((region.clone(), id));
            }
            if let Some(id) = instance.and_then(|i| InstanceId::parse(&i).ok()) {
                out.instances.push((region, id));
            }
        }
        transitions_ended(c, since.at_ms, now, &mut out)
    })?;
    out.images.sort();
    out.images.dedup();
    out.instances.sort();
    out.instances.dedup();
    if newest - oldest.unwrap_or(newest) > 2 * JOURNAL_KEEP {
        store.with_tx(prune_journal)?;
    }
    Ok(Some(out))
}

/// Adds to `out` the images and instances whose transitions came to their end after `from`
/// and by `to`.
fn transitions_ended(c: &Connection, from: i64, to: i64, out: &mut Changes) -> Result<()> {
    // Transitions whose time came: readers show their end without any write.
    for (table, column) in [("images", "image_id"), ("instances", "instance_id")] {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT region, {column} FROM {table}
             WHERE transition_due > ?1 AND transition_due <= ?2"
        ))?;
        let rows = stmt.query_map(params![from, to], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (region, id) = row?;
            if table == "images" {
                if let Ok(id) = ImageId::parse(&id) {
                    out.images.push((region, id));
                }
            } else if let Ok(id) = InstanceId::parse(&id) {
                out.instances.push((region, id));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::testing::*;

    /// The watcher's look at the journal's ends uses its key, never a scan of the journal.
    #[test]
    fn the_journal_ends_are_found_without_a_scan() {
        let world = world();
        let plan: Vec<String> = world
            .store
            .with_conn(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {JOURNAL_ENDS}"))?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .unwrap();
        assert!(
            plan.iter().any(|step| step.starts_with("SEARCH changes")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN changes")),
            "{plan:?}"
        );
    }
}
