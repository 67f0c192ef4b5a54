//! RunInstances: instances launched from an image this account may use, PENDING until the
//! transition delay has passed, then RUNNING; a request repeated with its `ClientToken`
//! launches once.

use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension};

use super::names::{expand, NamePattern};
use super::settings::{check_settings, LaunchContext};
use super::{instance_type_size, purge_terminated};
use crate::error::{Code, Error, Result};
use crate::local::ids::new_instance_id;
use crate::local::networks::{new_private_ip, new_public_ip, random_uuid};
use crate::local::rows::{fee_values, ImageRow};
use crate::local::tags::{creation_tags, write_tags};
use crate::local::transitions::{operation_state, settle};
use crate::local::LocalService;
use crate::model::tags::TaggedResource;
use crate::model::{format_api_time, ImageId, ImageKind, InstanceId, LaunchSpec};

/// How many instances one request may launch (the reference: 1 to 500, for every charge type).
pub(in crate::local) const MAX_INSTANCE_COUNT: i64 = 500;

/// The longest `ClientToken` (the reference: 64 ASCII characters).
const MAX_CLIENT_TOKEN: usize = 64;

/// The Periods a PREPAID instance may be bought for, in months (the reference's list).
const PREPAID_PERIODS: &[i64] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36, 48, 60];

/// The instances a RunInstances request asks for, its parameters checked.
struct Launch<'a> {
    count: u64,
    instance_type: &'a str,
    cpu: i64,
    memory: i64,
    zone: String,
    name: NamePattern,
    charge_type: &'a str,
    /// PREPAID: the months bought and how the instance renews.
    prepaid: Option<(i64, String)>,
    client_token: Option<&'a str>,
}

/// RunInstances: `InstanceCount` instances (1 by default) from a NORMAL image this account
/// sees as `kind`, in the zone of `Placement` (the region's first available zone without
/// one: the API requires a Placement, a `launch` does not).
pub(in crate::local) fn run_instances(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    image: &ImageId,
    spec: &LaunchSpec,
) -> Result<Vec<InstanceId>> {
    service.throttle()?;
    let launch = check_launch(service, region, image, spec)?;
    let tags = creation_tags(spec.tag_specification.as_deref(), "instance")?;
    let zones: Vec<String> = service
        .zones(region)?
        .iter()
        .map(|z| z.zone.clone())
        .collect();
    let (state, final_state, due) = service.transition("PENDING", "RUNNING")?;
    service.store.with_tx(|tx| {
        settle(tx)?;
        purge_terminated(tx)?;
        if let Some(token) = launch.client_token {
            if let Some(ids) = launched_with_token(tx, service, region, token)? {
                return Ok(ids);
            }
        }
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
        let checked = check_settings(
            spec,
            &LaunchContext {
                account: &service.account,
                region,
                zone: &launch.zone,
                zones: &zones,
                kind,
                platform: &row.image.platform,
                image_size: row.image.image_size,
                charge_type: launch.charge_type,
            },
        )?;
        let created = SystemTime::now();
        let expired = match &launch.prepaid {
            Some((months, _)) => Some(months_after(created, *months)?),
            None => None,
        };
        let mut ids = Vec::new();
        for index in 0..launch.count {
            let id = new_instance_id(tx)?;
            let private_ip = new_private_ip(tx, &service.account, region, &launch.zone)?;
            let public_ip = if checked.public_ip {
                Some(new_public_ip(tx)?)
            } else {
                None
            };
            let settings =
                checked.for_instance(index, launch.count, &private_ip, &row.image.platform)?;
            let settings = serde_json::to_string(&settings)
                .map_err(|e| Error::internal(format!("cannot store the settings: {e}")))?;
            insert_instance(
                tx,
                &NewInstance {
                    region,
                    id: &id,
                    owner: service.account.as_str(),
                    name: &expand(&launch.name, index, launch.count, None),
                    launch: &launch,
                    image,
                    row: &row,
                    private_ip: &private_ip,
                    public_ip: public_ip.as_deref(),
                    state: (state, final_state, due),
                    created: &format_api_time(created),
                    expired: expired.as_deref(),
                    settings: &settings,
                },
            )?;
            if !tags.is_empty() {
                write_tags(tx, &TaggedResource::instance(region, &id), &tags)?;
            }
            ids.push(id);
        }
        if let Some(token) = launch.client_token {
            remember_token(tx, service, region, token, &ids, created)?;
        }
        Ok(ids)
    })
}

/// The parameters of a RunInstances request, checked in the order the cloud checks them.
fn check_launch<'a>(
    service: &LocalService,
    region: &str,
    image: &ImageId,
    spec: &'a LaunchSpec,
) -> Result<Launch<'a>> {
    let count = spec.instance_count.unwrap_or(1);
    if !(1..=MAX_INSTANCE_COUNT).contains(&count) {
        return Err(Error::new(
            Code::InvalidParameterValueRange,
            format!("InstanceCount {count} is out of range: launch 1 to {MAX_INSTANCE_COUNT} instances at a time"),
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
    let client_token = check_client_token(spec.client_token.as_deref())?;
    let instance_type = spec.instance_type.as_deref().unwrap_or("S5.MEDIUM2");
    let (cpu, memory) = instance_type_size(instance_type)?;
    let (charge_type, prepaid) = check_charge(spec)?;
    let zone = match &spec.placement {
        Some(placement) => {
            if let Some(project) = placement.project_id.filter(|p| *p != 0) {
                return Err(Error::new(
                    Code::InvalidProjectIdNotFound,
                    format!("no project {project}: the account has the default project 0 only"),
                ));
            }
            service.launch_zone(region, &placement.zone)?.zone.clone()
        }
        None => service.first_available_zone(region)?.zone.clone(),
    };
    let name = spec.instance_name.as_deref().unwrap_or("未命名");
    // The limit counts the patterns' own characters, as the reference says.
    if name.chars().count() > 128 {
        return Err(Error::new(
            Code::InvalidInstanceNameTooLong,
            "InstanceName has more than 128 characters",
        ));
    }
    Ok(Launch {
        count: count as u64,
        instance_type,
        cpu,
        memory,
        zone,
        name: NamePattern::parse(name, false),
        charge_type,
        prepaid,
        client_token,
    })
}

/// The idempotency token: at most 64 ASCII characters; an empty one is none.
fn check_client_token(token: Option<&str>) -> Result<Option<&str>> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if !token.is_ascii() {
        return Err(Error::new(
            Code::InvalidParameterValue,
            "ClientToken takes ASCII characters only",
        ));
    }
    if token.len() > MAX_CLIENT_TOKEN {
        return Err(Error::new(
            Code::InvalidClientTokenTooLong,
            format!("ClientToken has more than {MAX_CLIENT_TOKEN} characters"),
        ));
    }
    Ok(Some(token))
}

/// The charge type, and for PREPAID its period and renewal (`InstanceChargePrepaid`, which the
/// cloud requires for it).
fn check_charge(spec: &LaunchSpec) -> Result<(&str, Option<(i64, String)>)> {
    let charge_type = spec
        .instance_charge_type
        .as_deref()
        .unwrap_or("POSTPAID_BY_HOUR");
    match charge_type {
        "POSTPAID_BY_HOUR" | "SPOTPAID" => return Ok((charge_type, None)),
        "PREPAID" => {}
        "CDHPAID" | "CDCPAID" => {
            return Err(Error::new(
                Code::UnsupportedOperation,
                format!("InstanceChargeType {charge_type}: imagefs has no dedicated hosts or clusters"),
            ))
        }
        other => {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("InstanceChargeType `{other}` is not one of POSTPAID_BY_HOUR, PREPAID, SPOTPAID, CDHPAID, CDCPAID"),
            ))
        }
    }
    let prepaid = spec.instance_charge_prepaid.as_ref().ok_or_else(|| {
        Error::new(
            Code::MissingParameter,
            "InstanceChargePrepaid is required for a PREPAID instance",
        )
    })?;
    if !PREPAID_PERIODS.contains(&prepaid.period) {
        return Err(Error::new(
            Code::InvalidPeriod,
            format!(
                "InstanceChargePrepaid.Period {} is not 1 to 12, 24, 36, 48 or 60 months",
                prepaid.period
            ),
        ));
    }
    let renew = prepaid
        .renew_flag
        .as_deref()
        .unwrap_or("NOTIFY_AND_MANUAL_RENEW");
    match renew {
        "NOTIFY_AND_AUTO_RENEW" | "NOTIFY_AND_MANUAL_RENEW" | "DISABLE_NOTIFY_AND_MANUAL_RENEW" => {}
        other => {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("InstanceChargePrepaid.RenewFlag `{other}` is not one of NOTIFY_AND_AUTO_RENEW, NOTIFY_AND_MANUAL_RENEW, DISABLE_NOTIFY_AND_MANUAL_RENEW"),
            ))
        }
    }
    Ok((charge_type, Some((prepaid.period, renew.to_string()))))
}

/// `months` calendar months after `from` (a day the shorter month lacks becomes its last),
/// as an API timestamp.
fn months_after(from: SystemTime, months: i64) -> Result<String> {
    let out_of_range = || Error::internal("the expiry time is out of range");
    let secs = from
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| out_of_range())?
        .as_secs();
    let start =
        time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).map_err(|_| out_of_range())?)
            .map_err(|_| out_of_range())?;
    let index = i64::from(start.year()) * 12 + i64::from(u8::from(start.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).map_err(|_| out_of_range())?;
    let month =
        time::Month::try_from(u8::try_from(index.rem_euclid(12) + 1).map_err(|_| out_of_range())?)
            .map_err(|_| out_of_range())?;
    let day = start.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| out_of_range())?;
    let end = start.replace_date(date);
    let end = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(
            u64::try_from(end.unix_timestamp()).map_err(|_| out_of_range())?,
        );
    Ok(format_api_time(end))
}

/// The instances an earlier request with this token launched, if there was one.
fn launched_with_token(
    c: &Connection,
    service: &LocalService,
    region: &str,
    token: &str,
) -> Result<Option<Vec<InstanceId>>> {
    let stored: Option<String> = c
        .prepare_cached(
            "SELECT instance_ids FROM client_tokens WHERE owner = ?1 AND region = ?2 AND token = ?3",
        )?
        .query_row(params![service.account.as_str(), region, token], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let ids: Vec<String> = serde_json::from_str(&stored)
        .map_err(|e| Error::internal(format!("bad client token record in store: {e}")))?;
    Ok(Some(
        ids.iter()
            .map(|id| InstanceId::parse(id))
            .collect::<Result<_>>()?,
    ))
}

fn remember_token(
    c: &Connection,
    service: &LocalService,
    region: &str,
    token: &str,
    ids: &[InstanceId],
    created: SystemTime,
) -> Result<()> {
    let ids: Vec<&str> = ids.iter().map(InstanceId::as_str).collect();
    let ids = serde_json::to_string(&ids)
        .map_err(|e| Error::internal(format!("cannot store a client token: {e}")))?;
    c.prepare_cached(
        "INSERT INTO client_tokens (owner, region, token, instance_ids, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        service.account.as_str(),
        region,
        token,
        ids,
        format_api_time(created)
    ])?;
    Ok(())
}

/// One instance to insert.
struct NewInstance<'a> {
    region: &'a str,
    id: &'a InstanceId,
    owner: &'a str,
    name: &'a str,
    launch: &'a Launch<'a>,
    image: &'a ImageId,
    row: &'a ImageRow,
    private_ip: &'a str,
    public_ip: Option<&'a str>,
    /// The state, the state it becomes, and when.
    state: (&'a str, Option<&'a str>, Option<i64>),
    created: &'a str,
    expired: Option<&'a str>,
    settings: &'a str,
}

fn insert_instance(c: &Connection, new: &NewInstance) -> Result<()> {
    let fee = fee_values(new.row.fee.as_ref());
    let (state, final_state, due) = new.state;
    let renew_flag = new.launch.prepaid.as_ref().map(|(_, renew)| renew.as_str());
    c.prepare_cached(
        "INSERT INTO instances (region, instance_id, owner, instance_name, instance_type,
            cpu, memory, zone, private_ip, image_id, image_size, os_name, platform,
            architecture, license_type, instance_state, transition_final,
            transition_due, latest_operation, latest_operation_state, created_time,
            fee_unit_price, fee_charge_unit, fee_currency, fee_provider, uuid, charge_type,
            expired_time, renew_flag, public_ip, launch_settings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
            ?16, ?17, ?18, 'RunInstances', ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28,
            ?29, ?30)",
    )?
    .execute(params![
        new.region,
        new.id.as_str(),
        new.owner,
        new.name,
        new.launch.instance_type,
        new.launch.cpu,
        new.launch.memory,
        new.launch.zone,
        new.private_ip,
        new.image.as_str(),
        new.row.image.image_size,
        new.row.image.os_name,
        new.row.image.platform,
        new.row.image.architecture,
        new.row.image.license_type,
        state,
        final_state,
        due,
        operation_state(due),
        new.created,
        fee.0,
        fee.1,
        fee.2,
        new.row.provider.as_deref(),
        random_uuid()?,
        new.launch.charge_type,
        new.expired,
        renew_flag,
        new.public_ip,
        new.settings,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::testing::{world, FRIEND, GZ, OWNER};
    use crate::model::{
        ChargePrepaidSpec, Instance, LoginSettingsSpec, PlacementSpec, Secret, VirtualPrivateCloud,
        VirtualPrivateCloudSpec,
    };
    use crate::service::ImageService;

    const CENTOS: &str = "img-9qabwvbn";

    fn in_zone(zone: &str) -> LaunchSpec {
        LaunchSpec {
            placement: Some(PlacementSpec {
                zone: zone.into(),
                ..PlacementSpec::default()
            }),
            ..LaunchSpec::default()
        }
    }

    fn launch(s: &LocalService, spec: &LaunchSpec) -> Result<Vec<InstanceId>> {
        s.run_instances(GZ, ImageKind::Public, &ImageId::parse(CENTOS)?, spec)
    }

    fn launched(s: &LocalService, spec: &LaunchSpec) -> Vec<Instance> {
        launch(s, spec)
            .unwrap()
            .iter()
            .map(|id| s.instance(GZ, id).unwrap())
            .collect()
    }

    /// The members of the reference's `Instance` that are always returned, each present.
    #[test]
    fn an_instance_is_whole() {
        let w = world();
        let s = w.service(OWNER, 0);
        let instance = &launched(&s, &in_zone("ap-guangzhou-3"))[0];
        let v = serde_json::to_value(instance).unwrap();
        for member in [
            "Placement",
            "InstanceId",
            "InstanceType",
            "CPU",
            "Memory",
            "RestrictState",
            "InstanceName",
            "InstanceChargeType",
            "SystemDisk",
            "DataDisks",
            "PrivateIpAddresses",
            "PublicIpAddresses",
            "InternetAccessible",
            "VirtualPrivateCloud",
            "ImageId",
            "RenewFlag",
            "CreatedTime",
            "ExpiredTime",
            "OsName",
            "SecurityGroupIds",
            "LoginSettings",
            "InstanceState",
            "Tags",
            "StopChargingMode",
            "Uuid",
            "LatestOperation",
            "LatestOperationState",
            "LatestOperationRequestId",
            "DisasterRecoverGroupId",
            "IPv6Addresses",
            "CamRoleName",
            "HpcClusterId",
            "RdmaIpAddresses",
            "DedicatedClusterId",
            "IsolatedSource",
            "DisasterRecoverGroupIds",
            "LicenseType",
            "DisableApiTermination",
            "HostName",
            "DefaultLoginUser",
            "DefaultLoginPort",
            "LatestOperationErrorMsg",
        ] {
            assert!(v.get(member).is_some(), "{member} is missing: {v:#}");
        }
        assert_eq!(v["Placement"]["Zone"], "ap-guangzhou-3");
        assert_eq!(v["SystemDisk"]["DiskType"], "CLOUD_PREMIUM");
        assert_eq!(v["SystemDisk"]["DiskSize"], 50);
        assert!(is_resource_like(&v["SystemDisk"]["DiskId"], "disk-"));
        assert_eq!(
            v["InternetAccessible"]["InternetChargeType"],
            "TRAFFIC_POSTPAID_BY_HOUR"
        );
        assert!(is_resource_like(&v["VirtualPrivateCloud"]["VpcId"], "vpc-"));
        assert!(is_resource_like(
            &v["VirtualPrivateCloud"]["SubnetId"],
            "subnet-"
        ));
        assert!(is_resource_like(&v["SecurityGroupIds"][0], "sg-"));
        let ip = v["PrivateIpAddresses"][0].as_str().unwrap();
        assert!(
            ip.starts_with("172.16.3") || ip.starts_with("172.16.4"),
            "{ip}"
        );
        assert_eq!(v["VirtualPrivateCloud"]["PrivateIpAddresses"][0], ip);
        assert_eq!(v["LoginSettings"], serde_json::json!({"KeyIds": []}));
        assert_eq!(v["Tags"], serde_json::json!([]));
        assert!(v["ExpiredTime"].is_null());
        assert!(v["PublicIpAddresses"].is_null());
        assert_eq!(v["InstanceChargeType"], "POSTPAID_BY_HOUR");
        assert_eq!(v["Uuid"].as_str().unwrap().len(), 36);
        assert_eq!(v["DefaultLoginUser"], "root");
        // The same account's instances share its network; another account has its own.
        let second = &launched(&s, &in_zone("ap-guangzhou-3"))[0];
        assert_eq!(
            second.virtual_private_cloud,
            VirtualPrivateCloud {
                private_ip_addresses: second.private_ip_addresses.clone(),
                ..instance.virtual_private_cloud.clone()
            }
        );
        assert_ne!(second.uuid, instance.uuid);
        let theirs = &launched(&w.service(FRIEND, 0), &in_zone("ap-guangzhou-3"))[0];
        assert_ne!(
            theirs.virtual_private_cloud.vpc_id,
            instance.virtual_private_cloud.vpc_id
        );
    }

    fn is_resource_like(v: &serde_json::Value, prefix: &str) -> bool {
        v.as_str()
            .is_some_and(|s| s.starts_with(prefix) && s.len() == prefix.len() + 8)
    }

    #[test]
    fn zones_are_the_regions_real_ones() {
        let w = world();
        let s = w.service(OWNER, 0);
        for (zone, expected) in [
            ("ap-guangzhou-99", Code::InvalidZoneMismatchRegion),
            ("ap-shanghai-2", Code::InvalidZoneMismatchRegion),
            (
                "ap-guangzhou-1",
                Code::ResourceInsufficientAvailabilityZoneSoldOut,
            ),
        ] {
            assert_eq!(
                launch(&s, &in_zone(zone)).unwrap_err().code(),
                expected,
                "{zone}"
            );
        }
        // Without a Placement (a bare `launch`), the region's first available zone.
        let instance = &launched(&s, &LaunchSpec::default())[0];
        assert_eq!(instance.placement.zone, "ap-guangzhou-2");
        let mut elsewhere = in_zone("ap-guangzhou-3");
        elsewhere.placement = Some(PlacementSpec {
            zone: "ap-guangzhou-3".into(),
            project_id: Some(7),
            ..PlacementSpec::default()
        });
        assert_eq!(
            launch(&s, &elsewhere).unwrap_err().code(),
            Code::InvalidProjectIdNotFound
        );
        assert_eq!(s.list_instances(GZ).unwrap().len(), 1);
    }

    #[test]
    fn up_to_500_instances_with_numbered_names() {
        let w = world();
        let s = w.service(OWNER, 0);
        for count in [0, 501, -1] {
            let spec = LaunchSpec {
                instance_count: Some(count),
                ..LaunchSpec::default()
            };
            assert_eq!(
                launch(&s, &spec).unwrap_err().code(),
                Code::InvalidParameterValueRange
            );
        }
        let spec = LaunchSpec {
            instance_count: Some(500),
            instance_name: Some("node-{R:1,F:3}".into()),
            ..LaunchSpec::default()
        };
        let mut names: Vec<String> = launched(&s, &spec)
            .into_iter()
            .map(|i| i.instance_name)
            .collect();
        names.sort();
        assert_eq!(names.len(), 500);
        assert_eq!(names[0], "node-001");
        assert_eq!(names[499], "node-500");
        let spec = LaunchSpec {
            instance_count: Some(2),
            instance_name: Some("web".into()),
            ..LaunchSpec::default()
        };
        let mut names: Vec<String> = launched(&s, &spec)
            .into_iter()
            .map(|i| i.instance_name)
            .collect();
        names.sort();
        assert_eq!(names, ["web1", "web2"]);
        let spec = LaunchSpec {
            instance_name: Some("x".repeat(129)),
            ..LaunchSpec::default()
        };
        assert_eq!(
            launch(&s, &spec).unwrap_err().code(),
            Code::InvalidInstanceNameTooLong
        );
    }

    #[test]
    fn a_client_token_launches_once_per_account_and_region() {
        let w = world();
        let s = w.service(OWNER, 0);
        let spec = LaunchSpec {
            instance_count: Some(2),
            client_token: Some("retry-me".into()),
            ..LaunchSpec::default()
        };
        let first = launch(&s, &spec).unwrap();
        assert_eq!(launch(&s, &spec).unwrap(), first);
        assert_eq!(s.list_instances(GZ).unwrap().len(), 2);
        // Another account's token is its own.
        let friend = w.service(FRIEND, 0);
        let theirs = launch(&friend, &spec).unwrap();
        assert_ne!(theirs, first);
        // A new token launches anew.
        let again = LaunchSpec {
            client_token: Some("another".into()),
            ..spec.clone()
        };
        assert_ne!(launch(&s, &again).unwrap(), first);
        assert_eq!(s.list_instances(GZ).unwrap().len(), 4);
    }

    #[test]
    fn charge_types_are_kept() {
        let w = world();
        let s = w.service(OWNER, 0);
        let prepaid = LaunchSpec {
            instance_charge_type: Some("PREPAID".into()),
            instance_charge_prepaid: Some(ChargePrepaidSpec {
                period: 3,
                renew_flag: Some("NOTIFY_AND_AUTO_RENEW".into()),
            }),
            ..LaunchSpec::default()
        };
        let instance = &launched(&s, &prepaid)[0];
        assert_eq!(instance.instance_charge_type, "PREPAID");
        assert_eq!(
            instance.renew_flag.as_deref(),
            Some("NOTIFY_AND_AUTO_RENEW")
        );
        let created = crate::model::parse_api_time(&instance.created_time).unwrap();
        assert_eq!(
            instance.expired_time.as_deref(),
            Some(months_after(created, 3).unwrap().as_str())
        );
        assert_eq!(
            instance.internet_accessible.internet_charge_type,
            "BANDWIDTH_PREPAID"
        );
        let spot = LaunchSpec {
            instance_charge_type: Some("SPOTPAID".into()),
            ..LaunchSpec::default()
        };
        let instance = &launched(&s, &spot)[0];
        assert_eq!(instance.instance_charge_type, "SPOTPAID");
        assert_eq!(instance.expired_time, None);
        let without_period = LaunchSpec {
            instance_charge_prepaid: None,
            ..prepaid.clone()
        };
        assert_eq!(
            launch(&s, &without_period).unwrap_err().code(),
            Code::MissingParameter
        );
        let bad_period = LaunchSpec {
            instance_charge_prepaid: Some(ChargePrepaidSpec {
                period: 13,
                renew_flag: None,
            }),
            ..prepaid
        };
        assert_eq!(
            launch(&s, &bad_period).unwrap_err().code(),
            Code::InvalidPeriod
        );
    }

    #[test]
    fn the_default_network_is_the_only_one() {
        let w = world();
        let s = w.service(OWNER, 0);
        let first = &launched(&s, &in_zone("ap-guangzhou-3"))[0];
        let vpc = first.virtual_private_cloud.vpc_id.clone();
        let subnet = first.virtual_private_cloud.subnet_id.clone();
        let sg = first.security_group_ids[0].clone();
        let network = |vpc: &str, subnet: &str, zone: &str| LaunchSpec {
            virtual_private_cloud: Some(VirtualPrivateCloudSpec {
                vpc_id: vpc.into(),
                subnet_id: subnet.into(),
                ..VirtualPrivateCloudSpec::default()
            }),
            security_group_ids: Some(vec![sg.clone()]),
            ..in_zone(zone)
        };
        assert!(launch(&s, &network(&vpc, &subnet, "ap-guangzhou-3")).is_ok());
        assert!(launch(&s, &network("DEFAULT", "DEFAULT", "ap-guangzhou-4")).is_ok());
        for (spec, expected) in [
            (
                network("vpc-1", &subnet, "ap-guangzhou-3"),
                Code::InvalidParameterValueVpcIdMalformed,
            ),
            (
                network("vpc-zzzzzzzz", &subnet, "ap-guangzhou-3"),
                Code::InvalidParameterValueVpcIdNotExist,
            ),
            (
                network(&vpc, "subnet-zzzzzzzz", "ap-guangzhou-3"),
                Code::InvalidParameterValueSubnetNotExist,
            ),
            (
                network(&vpc, &subnet, "ap-guangzhou-4"),
                Code::InvalidParameterValueSubnetIdZoneIdNotMatch,
            ),
        ] {
            assert_eq!(launch(&s, &spec).unwrap_err().code(), expected);
        }
        let other_group = LaunchSpec {
            security_group_ids: Some(vec!["sg-zzzzzzzz".into()]),
            ..LaunchSpec::default()
        };
        assert_eq!(
            launch(&s, &other_group).unwrap_err().code(),
            Code::InvalidSecurityGroupIdNotFound
        );
    }

    #[test]
    fn login_settings_keep_key_pairs_and_never_the_password() {
        let w = world();
        let s = w.service(OWNER, 0);
        let with_password = LaunchSpec {
            login_settings: Some(LoginSettingsSpec {
                password: Some(Secret("Imagefs-2026".into())),
                ..LoginSettingsSpec::default()
            }),
            host_name: Some("web-{R:7}".into()),
            ..LaunchSpec::default()
        };
        let instance = &launched(&s, &with_password)[0];
        let shown = serde_json::to_string(instance).unwrap();
        assert!(!shown.contains("Imagefs-2026"), "{shown}");
        assert_eq!(instance.host_name, "web-7");
        let stored: String = w
            .store
            .with_conn(|c| {
                Ok(c.query_row(
                    "SELECT group_concat(launch_settings) FROM instances",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert!(!stored.contains("Imagefs-2026"), "{stored}");
        let with_keys = LaunchSpec {
            login_settings: Some(LoginSettingsSpec {
                key_ids: Some(vec!["skey-b4vakk62".into()]),
                ..LoginSettingsSpec::default()
            }),
            ..LaunchSpec::default()
        };
        assert_eq!(
            launched(&s, &with_keys)[0].login_settings.key_ids,
            ["skey-b4vakk62"]
        );
        let weak = LaunchSpec {
            login_settings: Some(LoginSettingsSpec {
                password: Some(Secret("short".into())),
                ..LoginSettingsSpec::default()
            }),
            ..LaunchSpec::default()
        };
        assert_eq!(launch(&s, &weak).unwrap_err().code(), Code::InvalidPassword);
    }

    #[test]
    fn prepaid_instances_expire_whole_months_later() {
        let at = |text: &str| crate::model::parse_api_time(text).unwrap();
        assert_eq!(
            months_after(at("2026-01-31T10:00:00Z"), 1).unwrap(),
            "2026-02-28T10:00:00Z"
        );
        assert_eq!(
            months_after(at("2026-11-15T00:00:00Z"), 3).unwrap(),
            "2027-02-15T00:00:00Z"
        );
        assert_eq!(
            months_after(at("2024-02-29T00:00:00Z"), 12).unwrap(),
            "2025-02-28T00:00:00Z"
        );
    }

    #[test]
    fn client_tokens_are_ascii_and_short() {
        assert_eq!(check_client_token(None).unwrap(), None);
        assert_eq!(check_client_token(Some("")).unwrap(), None);
        assert_eq!(check_client_token(Some("abc")).unwrap(), Some("abc"));
        assert!(check_client_token(Some(&"x".repeat(64))).is_ok());
        assert_eq!(
            check_client_token(Some(&"x".repeat(65)))
                .unwrap_err()
                .code(),
            Code::InvalidClientTokenTooLong
        );
        assert_eq!(
            check_client_token(Some("clé")).unwrap_err().code(),
            Code::InvalidParameterValue
        );
    }
}
