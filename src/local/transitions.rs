//! Asynchronous work: how long it takes, the transitional state stored with the state it
//! becomes and when, and settling the transitions whose time has come.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use super::export::settle_exports;
use super::settings::TRANSITION_DELAY;
use super::LocalService;
use crate::error::Result;

/// Unix time in milliseconds.
pub(super) fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// `t` as Unix milliseconds.
pub(super) fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How far work that started at `started` and ends at `due` has come at `now`, in percent:
/// 0 to 99 (100 is for work that is done, which its reader shows by its final state).
pub(super) fn progress_percent(started: i64, due: i64, now: i64) -> i64 {
    let span = due.saturating_sub(started);
    if span <= 0 {
        return 99;
    }
    let run = now.saturating_sub(started).clamp(0, span);
    i64::try_from(i128::from(run) * 100 / i128::from(span))
        .unwrap_or(99)
        .clamp(0, 99)
}

impl LocalService {
    /// How long asynchronous work takes: the service's override, else the store's setting.
    fn delay(&self) -> Result<Duration> {
        match self.transition_delay {
            Some(d) => Ok(d),
            None => Ok(Duration::from_millis(
                self.store
                    .setting_u64(TRANSITION_DELAY.key, TRANSITION_DELAY.default)?,
            )),
        }
    }

    /// The stored state and its completion for work starting now: the transitional state
    /// with its final state and due time, or the final state at once when the delay is 0.
    pub(super) fn transition(
        &self,
        during: &'static str,
        after: &'static str,
    ) -> Result<(&'static str, Option<&'static str>, Option<i64>)> {
        let delay = self.delay()?;
        if delay.is_zero() {
            Ok((after, None, None))
        } else {
            let due = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            Ok((during, Some(after), Some(due)))
        }
    }
}

/// An instance operation's state while its transition runs (due) or once it is done.
pub(super) fn operation_state(due: Option<i64>) -> &'static str {
    if due.is_some() {
        "OPERATING"
    } else {
        "SUCCESS"
    }
}

/// Completes, in the store, the transitions whose time has come (readers already show them).
pub(super) fn settle(c: &Connection) -> Result<()> {
    let now = now_ms();
    // Usually nothing is due: one look at the two partial indexes instead of two updates.
    let due: bool = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM images WHERE transition_due IS NOT NULL AND transition_due <= ?1)
                 OR EXISTS (SELECT 1 FROM instances WHERE transition_due IS NOT NULL AND transition_due <= ?1)
                 OR EXISTS (SELECT 1 FROM exports WHERE due <= ?1)",
        )?
        .query_row([now], |r| r.get(0))?;
    if !due {
        return Ok(());
    }
    c.prepare_cached(
        "UPDATE images SET image_state = transition_final,
            sync_percent = CASE WHEN transition_final = 'NORMAL' THEN 100 ELSE sync_percent END,
            transition_final = NULL, transition_due = NULL
         WHERE transition_due IS NOT NULL AND transition_due <= ?1",
    )?
    .execute([now])?;
    c.prepare_cached(
        "UPDATE instances SET instance_state = transition_final, latest_operation_state = 'SUCCESS',
            transition_final = NULL, transition_due = NULL
         WHERE transition_due IS NOT NULL AND transition_due <= ?1",
    )?
    .execute([now])?;
    settle_exports(c, now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::local::testing::*;

    /// A command's transaction completes the transitions whose time came, and only those.
    #[test]
    fn commands_settle_the_transitions_that_are_due() {
        let w = world();
        let s = w.service(OWNER, 0);
        let due = custom(&s, GZ, "due");
        let later = custom(&s, GZ, "later");
        // A row's state and transition time, by the query that reads them.
        let transition = |sql: &str, id: &str| -> (String, Option<i64>) {
            w.store
                .with_conn(|c| Ok(c.query_row(sql, [id], |r| Ok((r.get(0)?, r.get(1)?)))?))
                .unwrap()
        };
        let state = |image: &ImageId| {
            transition(
                "SELECT image_state, transition_due FROM images WHERE image_id = ?1",
                image.as_str(),
            )
        };
        w.store
            .with_tx(|c| {
                for (image, offset) in [(&due, -1_000), (&later, 600_000)] {
                    c.execute(
                        "UPDATE images SET image_state = 'CREATING', transition_final = 'NORMAL',
                             transition_due = ?1 WHERE image_id = ?2",
                        params![now_ms() + offset, image.as_str()],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        w.store.with_tx(settle).unwrap();
        assert_eq!(state(&due), ("NORMAL".to_string(), None));
        assert_eq!(state(&later).0, "CREATING");
        assert!(state(&later).1.is_some());

        // An instance's transition alone is reason enough.
        let slow = w.service(OWNER, 600_000);
        let instance = launch_one(&slow, GZ)[0].clone();
        let instance_state = || {
            transition(
                "SELECT instance_state, transition_due FROM instances WHERE instance_id = ?1",
                instance.as_str(),
            )
        };
        assert!(instance_state().1.is_some(), "{:?}", instance_state());
        w.store
            .with_tx(|c| {
                c.execute(
                    "UPDATE instances SET transition_due = ?1 WHERE instance_id = ?2",
                    params![now_ms() - 1_000, instance.as_str()],
                )?;
                Ok(())
            })
            .unwrap();
        w.store.with_tx(settle).unwrap();
        assert_eq!(instance_state(), ("RUNNING".to_string(), None));
    }
}
