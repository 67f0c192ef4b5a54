//! Instances: launching them from images (RunInstances), resetting them to another image,
//! terminating them, and reading them.

use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension};

use super::ids::{new_instance_id, random_suffix};
use super::rows::{column_error, fee_values, instance_row, InstanceRow, INSTANCE_COLUMNS};
use super::store::Store;
use super::transitions::{operation_state, settle};
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::{
    format_api_time, ImageId, ImageKind, Instance, InstanceEntry, InstanceId, LaunchSpec,
};

impl LocalService {
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
            .ok_or_else(|| {
                Error::new(
                    Code::InvalidInstanceIdNotFound,
                    format!("no instance {id} of this account in {region}"),
                )
            })
    }

    /// TerminateInstances for several instances: all of them or none.
    pub fn terminate_instances(&self, region: &str, instances: &[InstanceId]) -> Result<()> {
        self.command_tx(|tx| {
            for instance in instances {
                self.instance_in(tx, region, instance)?;
                tx.prepare_cached(
                    "DELETE FROM instances WHERE region = ?1 AND instance_id = ?2 AND owner = ?3",
                )?
                .execute(params![
                    region,
                    instance.as_str(),
                    self.account.as_str()
                ])?;
            }
            Ok(())
        })
    }
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
            "SELECT instance_id, created_time FROM instances
             WHERE owner = ?1 AND region = ?2 ORDER BY instance_id",
        )?;
        let rows = stmt.query_map(params![service.account.as_str(), region], |r| {
            let id: String = r.get(0)?;
            Ok(InstanceEntry {
                instance_id: InstanceId::parse(&id).map_err(|e| column_error(0, e))?,
                created_time: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

/// One of this account's instances.
pub(super) fn instance(service: &LocalService, region: &str, id: &InstanceId) -> Result<Instance> {
    service
        .store
        .with_conn(|c| Ok(service.instance_in(c, region, id)?.instance))
}

/// The instances a RunInstances request asks for, its parameters checked.
struct Launch<'a> {
    count: i64,
    instance_type: &'a str,
    cpu: i64,
    memory: i64,
    zone: String,
    name: String,
}

/// RunInstances: `InstanceCount` instances (1 by default) from a NORMAL image this account
/// sees as `kind`, PENDING until the transition delay has passed, then RUNNING.
pub(super) fn run_instances(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    image: &ImageId,
    spec: &LaunchSpec,
) -> Result<Vec<InstanceId>> {
    service.throttle()?;
    let launch = check_launch(region, image, spec)?;
    let (state, final_state, due) = service.transition("PENDING", "RUNNING")?;
    let operation_state = operation_state(due);
    service.store.with_tx(|tx| {
        settle(tx)?;
        let row = service.visible_row_in(tx, region, kind, image)?;
        if !row.usable() {
            return Err(Error::new(
                Code::InvalidParameterValueInvalidImageState,
                format!(
                    "image {image} is {}: only NORMAL images can be launched",
                    row.image.image_state.as_str()
                ),
            ));
        }
        let created = format_api_time(SystemTime::now());
        let mut ids = Vec::new();
        for n in 1..=launch.count {
            let id = new_instance_id(tx)?;
            let instance_name = if launch.count > 1 {
                format!("{}{n}", launch.name)
            } else {
                launch.name.clone()
            };
            let suffix = random_suffix()?;
            let octets = suffix.as_bytes();
            let ip = format!(
                "10.{}.{}.{}",
                octets[0] % 250,
                octets[1],
                octets[2] % 250 + 2
            );
            let fee = fee_values(row.fee.as_ref());
            tx.prepare_cached(
                "INSERT INTO instances (region, instance_id, owner, instance_name, instance_type,
                    cpu, memory, zone, private_ip, image_id, image_size, os_name, platform,
                    architecture, license_type, instance_state, transition_final,
                    transition_due, latest_operation, latest_operation_state, created_time,
                    fee_unit_price, fee_charge_unit, fee_currency, fee_provider)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, 'RunInstances', ?19, ?20, ?21, ?22, ?23, ?24)",
            )?
            .execute(params![
                region,
                id.as_str(),
                service.account.as_str(),
                instance_name,
                launch.instance_type,
                launch.cpu,
                launch.memory,
                launch.zone,
                ip,
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
                created,
                fee.0,
                fee.1,
                fee.2,
                row.provider.as_deref(),
            ])?;
            ids.push(id);
        }
        Ok(ids)
    })
}

/// The parameters of a RunInstances request, checked in the order the cloud checks them.
fn check_launch<'a>(region: &str, image: &ImageId, spec: &'a LaunchSpec) -> Result<Launch<'a>> {
    let count = spec.instance_count.unwrap_or(1);
    if !(1..=100).contains(&count) {
        return Err(Error::new(
            Code::InvalidParameterValueRange,
            format!("InstanceCount {count} is out of range: launch 1 to 100 instances at a time"),
        ));
    }
    if let Some(named) = &spec.image_id {
        if named != image.as_str() {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("ImageId {named} differs from the image whose launch file was written ({image})"),
            ));
        }
    }
    let instance_type = spec.instance_type.as_deref().unwrap_or("S5.MEDIUM2");
    let (cpu, memory) = instance_type_size(instance_type)?;
    match spec.instance_charge_type.as_deref() {
        None | Some("POSTPAID_BY_HOUR") | Some("PREPAID") | Some("SPOTPAID") => {}
        Some(other) => {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!(
                "InstanceChargeType `{other}` is not one of POSTPAID_BY_HOUR, PREPAID, SPOTPAID"
            ),
            ))
        }
    }
    let zone = match &spec.placement {
        Some(p) => {
            let in_region = p
                .zone
                .strip_prefix(region)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !in_region {
                return Err(Error::new(
                    Code::InvalidZoneMismatchRegion,
                    format!(
                        "zone `{}` is not a zone of {region} (such as {region}-1)",
                        p.zone
                    ),
                ));
            }
            p.zone.clone()
        }
        None => format!("{region}-1"),
    };
    let name = spec
        .instance_name
        .clone()
        .unwrap_or_else(|| "未命名".to_string());
    if name.chars().count() > 128 {
        return Err(Error::new(
            Code::InvalidInstanceNameTooLong,
            "InstanceName has more than 128 characters",
        ));
    }
    Ok(Launch {
        count,
        instance_type,
        cpu,
        memory,
        zone,
        name,
    })
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

/// How many instances the store holds, of every account, for `store info`.
pub fn instance_count(store: &Store) -> Result<i64> {
    store.with_conn(|c| Ok(c.query_row("SELECT count(*) FROM instances", [], |r| r.get(0))?))
}
