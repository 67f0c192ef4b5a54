//! Instances: launching them from images (RunInstances, `launch`), with what they are
//! launched with (`settings`, `names`), resetting them to another image, terminating them
//! (`terminate`), and reading and finding them (`describe`).

mod describe;
mod launch;
mod names;
mod settings;
mod terminate;

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{
    column_error, fee_values, instance_row, InstanceRow, INSTANCE_COLUMNS, TERMINATED,
};
use super::store::Store;
use super::transitions::{now_ms, operation_state, settle};
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::{ImageId, Instance, InstanceEntry, InstanceId};

pub(super) use launch::run_instances;
pub(super) use settings::InstanceSettings;

impl LocalService {
    /// One of this account's instances, as stored; a terminated one is not found.
    pub(super) fn instance_in(
        &self,
        c: &Connection,
        region: &str,
        id: &InstanceId,
    ) -> Result<InstanceRow> {
        self.region(region)?;
        let sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE region = ?1 AND instance_id = ?2 AND owner = ?3"
        );
        c.prepare_cached(&sql)?
            .query_row(
                params![region, id.as_str(), self.account.as_str()],
                instance_row,
            )
            .optional()?
            .filter(|row| row.instance.instance_state != TERMINATED)
            .ok_or_else(|| {
                Error::new(
                    Code::InvalidInstanceIdNotFound,
                    format!("no instance {id} of this account in {region}"),
                )
            })
    }
}

/// Removes the rows of terminated instances (readers already leave them out).
fn purge_terminated(c: &Connection) -> Result<()> {
    c.prepare_cached(
        "DELETE FROM instances WHERE instance_state = ?1
            OR (transition_final = ?1 AND transition_due <= ?2)",
    )?
    .execute(params![TERMINATED, now_ms()])?;
    Ok(())
}

/// Refuses work on an instance that is still busy with earlier work.
pub(super) fn require_settled(instance: &InstanceRow, operation: &str) -> Result<()> {
    match instance.instance.instance_state.as_str() {
        "RUNNING" | "STOPPED" => Ok(()),
        state => {
            let message = format!(
                "instance {} is {state}: {operation} needs it RUNNING or STOPPED; try again when its state file says RUNNING",
                instance.instance.instance_id
            );
            match Code::instance_state(operation, state) {
                Some(code) => Err(Error::new(code, message)),
                // The store holds no other state; one there means the store was changed
                // behind imagefs.
                None => Err(Error::internal(message)),
            }
        }
    }
}

/// CPU cores and memory (GiB) of an instance type such as `S5.MEDIUM2` or `SA2.2XLARGE16`.
pub(super) fn instance_type_size(instance_type: &str) -> Result<(i64, i64)> {
    let malformed = || {
        Error::new(
            Code::InvalidInstanceTypeMalformed,
            format!(
                "`{instance_type}` is not an instance type such as S5.MEDIUM2 or SA2.2XLARGE16"
            ),
        )
    };
    let (family, size) = instance_type.split_once('.').ok_or_else(malformed)?;
    let family_ok = !family.is_empty()
        && family.starts_with(|c: char| c.is_ascii_uppercase())
        && family
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !family_ok {
        return Err(malformed());
    }
    let word_len = size.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (word, memory) = size.split_at(word_len);
    let memory: i64 = memory.parse().map_err(|_| malformed())?;
    let cpu = match word {
        "SMALL" => 1,
        "MEDIUM" => 2,
        "LARGE" => 4,
        "XLARGE" => 8,
        w => match w.strip_suffix("XLARGE").and_then(|n| n.parse::<i64>().ok()) {
            Some(n) if (1..=64).contains(&n) => 4 * n,
            _ => return Err(malformed()),
        },
    };
    if !(1..=4096).contains(&memory) {
        return Err(malformed());
    }
    Ok((cpu, memory))
}

/// This account's instances in a region, in InstanceId order.
pub(super) fn list_instances(service: &LocalService, region: &str) -> Result<Vec<InstanceEntry>> {
    service.region(region)?;
    service.store.with_conn(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT instance_id, created_time, instance_name FROM instances
             WHERE owner = ?1 AND region = ?2 AND instance_state != ?3
                AND NOT (transition_final IS ?3 AND transition_due <= ?4)
             ORDER BY instance_id",
        )?;
        let rows = stmt.query_map(
            params![service.account.as_str(), region, TERMINATED, now_ms()],
            |r| {
                let id: String = r.get(0)?;
                Ok(InstanceEntry {
                    instance_id: InstanceId::parse(&id).map_err(|e| column_error(0, e))?,
                    created_time: r.get(1)?,
                    instance_name: r.get(2)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

/// One of this account's instances.
pub(super) fn instance(service: &LocalService, region: &str, id: &InstanceId) -> Result<Instance> {
    service
        .store
        .with_conn(|c| Ok(service.instance_in(c, region, id)?.instance))
}

/// ResetInstance: one of this account's settled instances, on a NORMAL image it may use,
/// REBOOTING until the transition delay has passed, then RUNNING.
pub(super) fn reset_instance(
    service: &LocalService,
    region: &str,
    instance: &InstanceId,
    image: &ImageId,
) -> Result<()> {
    service.throttle()?;
    let (state, final_state, due) = service.transition("REBOOTING", "RUNNING")?;
    let operation_state = operation_state(due);
    service.store.with_tx(|tx| {
        settle(tx)?;
        let current = service.instance_in(tx, region, instance)?;
        require_settled(&current, "ResetInstance")?;
        let (_, row) = service.usable_row_in(tx, region, image)?;
        if !row.usable() {
            return Err(Error::new(
                Code::InvalidParameterValueInvalidImageState,
                format!(
                    "image {image} is {}: an instance can be reset only from a NORMAL image",
                    row.image.image_state.as_str()
                ),
            ));
        }
        let fee = fee_values(row.fee.as_ref());
        tx.prepare_cached(
            "UPDATE instances SET image_id = ?1, image_size = ?2, os_name = ?3, platform = ?4,
                architecture = ?5, license_type = ?6, instance_state = ?7,
                transition_final = ?8, transition_due = ?9, latest_operation = 'ResetInstance',
                latest_operation_state = ?10, fee_unit_price = ?11, fee_charge_unit = ?12,
                fee_currency = ?13, fee_provider = ?14
             WHERE region = ?15 AND instance_id = ?16 AND owner = ?17",
        )?
        .execute(params![
            image.as_str(),
            row.image.image_size,
            row.image.os_name,
            row.image.platform,
            row.image.architecture,
            row.image.license_type,
            state,
            final_state,
            due,
            operation_state,
            fee.0,
            fee.1,
            fee.2,
            row.provider.as_deref(),
            region,
            instance.as_str(),
            service.account.as_str(),
        ])?;
        Ok(())
    })
}

/// How many instances the store holds, of every account, for `store info` (terminated ones
/// not yet removed are not counted).
pub fn instance_count(store: &Store) -> Result<i64> {
    store.with_conn(|c| {
        Ok(c.query_row(
            "SELECT count(*) FROM instances WHERE instance_state != ?1
                AND NOT (transition_final IS ?1 AND transition_due <= ?2)",
            params![TERMINATED, now_ms()],
            |r| r.get(0),
        )?)
    })
}
