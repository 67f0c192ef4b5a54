//! DescribeInstances and DescribeInstancesStatus: this account's instances in a region, by ID
//! or by the reference's filters, with the reference's limits. A TERMINATING instance is
//! listed until it is gone, as the cloud lists it.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::list_instances;
use crate::error::{Code, Error, Result};
use crate::local::networks::is_resource_id;
use crate::local::LocalService;
use crate::model::{parse_api_time, Instance, InstanceId, InstanceStatus};
use crate::service::ImageService;

/// At most this many filters per request, values per filter, and IDs per request.
const MAX_FILTERS: usize = 10;
const MAX_FILTER_VALUES: usize = 5;
const MAX_IDS: usize = 100;

/// A DescribeInstances filter, its values checked.
#[derive(Debug, Clone)]
enum Condition {
    /// A member of the instance equal to one of the values (`by` reads it).
    Equals {
        by: fn(&Instance) -> Vec<String>,
        values: Vec<String>,
    },
    /// The instance's name contains one of the values (the reference's error list has
    /// `InvalidParameterValue.InvalidVagueName` for this filter: it is a fuzzy match).
    NameContains(Vec<String>),
    /// Created at or after one of the times (Unix seconds).
    CreatedFrom(Vec<i64>),
    /// Created at or before one of the times.
    CreatedUntil(Vec<i64>),
}

impl LocalService {
    /// DescribeInstances: the instances named by `ids` that exist (others are left out), or
    /// every instance that passes all the filters (each passing if any of its values matches).
    pub fn describe_instances(
        &self,
        region: &str,
        ids: &[String],
        filters: &[(String, Vec<String>)],
    ) -> Result<Vec<Instance>> {
        if !ids.is_empty() && !filters.is_empty() {
            return Err(Error::new(
                Code::InvalidParameter,
                "InstanceIds and Filters cannot both be given",
            ));
        }
        let conditions = conditions(self, region, filters)?;
        let mut instances = if ids.is_empty() {
            let mut all = Vec::new();
            for entry in list_instances(self, region)? {
                all.push(self.instance(region, &entry.instance_id)?);
            }
            all
        } else {
            self.named_instances(region, ids)?
        };
        instances.retain(|instance| conditions.iter().all(|c| c.holds(instance)));
        Ok(instances)
    }

    /// DescribeInstancesStatus: the states of the instances named (those that exist), or of
    /// them all.
    pub fn describe_instances_status(
        &self,
        region: &str,
        ids: &[String],
    ) -> Result<Vec<InstanceStatus>> {
        Ok(self
            .describe_instances(region, ids, &[])?
            .into_iter()
            .map(|i| InstanceStatus {
                instance_id: i.instance_id,
                instance_state: i.instance_state,
            })
            .collect())
    }

    fn named_instances(&self, region: &str, ids: &[String]) -> Result<Vec<Instance>> {
        if ids.len() > MAX_IDS {
            return Err(Error::new(
                Code::InvalidParameterValueLimitExceeded,
                format!("at most {MAX_IDS} InstanceIds per request"),
            ));
        }
        self.region(region)?;
        let mut instances: Vec<Instance> = Vec::new();
        for id in ids {
            let id = InstanceId::parse(id)?;
            if instances.iter().any(|i| i.instance_id == id) {
                continue;
            }
            match self.instance(region, &id) {
                Ok(instance) => instances.push(instance),
                Err(e) if e.code() == Code::InvalidInstanceIdNotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(instances)
    }
}

impl Condition {
    fn holds(&self, instance: &Instance) -> bool {
        let created = || parse_api_time(&instance.created_time).map(unix_seconds);
        match self {
            Condition::Equals { by, values } => {
                let members = by(instance);
                values.iter().any(|v| members.contains(v))
            }
            Condition::NameContains(values) => values
                .iter()
                .any(|v| instance.instance_name.contains(v.as_str())),
            Condition::CreatedFrom(times) => {
                created().is_some_and(|c| times.iter().any(|t| c >= *t))
            }
            Condition::CreatedUntil(times) => {
                created().is_some_and(|c| times.iter().any(|t| c <= *t))
            }
        }
    }
}

fn unix_seconds(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checks the filters: the reference's names (the tag filters match the instance's tags),
/// at most 10 filters of at most 5 values, and each
/// value of the form its filter takes.
fn conditions(
    service: &LocalService,
    region: &str,
    filters: &[(String, Vec<String>)],
) -> Result<Vec<Condition>> {
    if filters.len() > MAX_FILTERS {
        return Err(Error::new(
            Code::InvalidParameterValueLimitExceeded,
            format!("at most {MAX_FILTERS} Filters per request"),
        ));
    }
    let mut out = Vec::new();
    for (name, values) in filters {
        if values.len() > MAX_FILTER_VALUES {
            return Err(Error::new(
                Code::InvalidFilterValueLimitExceeded,
                format!("filter {name} has more than {MAX_FILTER_VALUES} values"),
            ));
        }
        out.push(condition(service, region, name, values)?);
    }
    Ok(out)
}

fn condition(
    service: &LocalService,
    region: &str,
    name: &str,
    values: &[String],
) -> Result<Condition> {
    Ok(match name {
        "instance-name" => Condition::NameContains(values.to_vec()),
        "creation-start-time" => Condition::CreatedFrom(times(name, values)?),
        "creation-end-time" => Condition::CreatedUntil(times(name, values)?),
        "project-id" => {
            let projects = values
                .iter()
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| invalid(Code::InvalidParameterValue, name, v, "a project ID"))
                })
                .collect::<Result<Vec<i64>>>()?;
            // Compared as numbers: "007" is project 7.
            Condition::Equals {
                by: |i| vec![i.placement.project_id.to_string()],
                values: projects.iter().map(i64::to_string).collect(),
            }
        }
        tag if tag.starts_with("tag:") => {
            // Each value stands for the pair of the filter's key and that value.
            let key = &tag["tag:".len()..];
            Condition::Equals {
                by: |i| {
                    i.tags
                        .iter()
                        .map(|t| format!("{}\u{0}{}", t.key, t.value))
                        .collect()
                },
                values: values.iter().map(|v| format!("{key}\u{0}{v}")).collect(),
            }
        }
        _ => {
            let by = member(name).ok_or_else(|| {
                Error::new(
                    Code::InvalidFilter,
                    format!("DescribeInstances has no filter `{name}`"),
                )
            })?;
            for value in values {
                check_value(service, region, name, value)?;
            }
            Condition::Equals {
                by,
                values: values.to_vec(),
            }
        }
    })
}

/// The members the filters that match whole values compare.
fn member(filter: &str) -> Option<fn(&Instance) -> Vec<String>> {
    Some(match filter {
        "zone" => |i| vec![i.placement.zone.clone()],
        "host-id" => |i| vec![i.placement.host_id.clone()],
        "dedicated-cluster-id" => |i| vec![i.dedicated_cluster_id.clone()],
        "vpc-id" => |i| vec![i.virtual_private_cloud.vpc_id.clone()],
        "subnet-id" => |i| vec![i.virtual_private_cloud.subnet_id.clone()],
        "instance-id" => |i| vec![i.instance_id.to_string()],
        "uuid" => |i| vec![i.uuid.clone()],
        "security-group-id" => |i| i.security_group_ids.clone(),
        "instance-state" => |i| vec![i.instance_state.clone()],
        "instance-charge-type" => |i| vec![i.instance_charge_type.clone()],
        "private-ip-address" => |i| i.private_ip_addresses.clone(),
        "public-ip-address" => |i| i.public_ip_addresses.clone().unwrap_or_default(),
        "ipv6-address" => |i| i.ipv6_addresses.clone().unwrap_or_default(),
        "tag-key" => |i| i.tags.iter().map(|t| t.key.clone()).collect(),
        "tag-value" => |i| i.tags.iter().map(|t| t.value.clone()).collect(),
        _ => return None,
    })
}

/// A value of the form its filter takes (the codes are the reference's for DescribeInstances).
fn check_value(service: &LocalService, region: &str, filter: &str, value: &str) -> Result<()> {
    match filter {
        "zone" => check_zone(service, region, value),
        "host-id" => id_of(value, "host", Code::InvalidHostIdMalformed, filter),
        "vpc-id" => id_of(
            value,
            "vpc",
            Code::InvalidParameterValueVpcIdMalformed,
            filter,
        ),
        "subnet-id" => id_of(
            value,
            "subnet",
            Code::InvalidParameterValueSubnetIdMalformed,
            filter,
        ),
        "security-group-id" => id_of(value, "sg", Code::InvalidSgIdMalformed, filter),
        "instance-id" => InstanceId::parse(value).map(|_| ()),
        "uuid" => check_uuid(value),
        "private-ip-address" | "public-ip-address" => check_ipv4(value, filter),
        "ipv6-address" => value.parse::<Ipv6Addr>().map(|_| ()).map_err(|_| {
            invalid(
                Code::InvalidParameterValueIPAddressMalformed,
                filter,
                value,
                "an IPv6 address",
            )
        }),
        _ => Ok(()),
    }
}

fn invalid(code: Code, filter: &str, value: &str, what: &str) -> Error {
    Error::new(code, format!("filter {filter}: `{value}` is not {what}"))
}

fn id_of(value: &str, prefix: &str, code: Code, filter: &str) -> Result<()> {
    if is_resource_id(value, prefix) {
        Ok(())
    } else {
        Err(invalid(code, filter, value, &format!("{prefix}-xxxxxxxx")))
    }
}

/// A zone filter names a zone of the region (the reference lists `InvalidZone.MismatchRegion`
/// for DescribeInstances).
fn check_zone(service: &LocalService, region: &str, zone: &str) -> Result<()> {
    if service.zones(region)?.iter().any(|z| z.zone == zone) {
        return Ok(());
    }
    Err(Error::new(
        Code::InvalidZoneMismatchRegion,
        format!("filter zone: `{zone}` is not a zone of {region}"),
    ))
}

fn check_ipv4(value: &str, filter: &str) -> Result<()> {
    value.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| {
        invalid(
            Code::InvalidParameterValueIPAddressMalformed,
            filter,
            value,
            "an IPv4 address",
        )
    })
}

fn check_uuid(value: &str) -> Result<()> {
    let groups: Vec<&str> = value.split('-').collect();
    let lengths_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    if lengths_ok
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Ok(())
    } else {
        Err(invalid(
            Code::InvalidParameterValueUuidMalformed,
            "uuid",
            value,
            "a UUID",
        ))
    }
}

/// The times of a creation filter: `YYYY-MM-DD hh:mm:ss` as the reference writes them, or the
/// API's own `YYYY-MM-DDThh:mm:ssZ`; both are taken as UTC, the clock of `CreatedTime` (the
/// reference does not say which zone its form is in).
fn times(filter: &str, values: &[String]) -> Result<Vec<i64>> {
    values
        .iter()
        .map(|v| {
            let iso = if v.len() == 19 && v.as_bytes().get(10) == Some(&b' ') {
                format!("{}T{}Z", &v[..10], &v[11..])
            } else {
                v.clone()
            };
            parse_api_time(&iso).map(unix_seconds).ok_or_else(|| {
                invalid(
                    Code::InvalidParameterValueInvalidTimeFormat,
                    filter,
                    v,
                    "a time such as 2023-06-01 00:00:00",
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
    use crate::local::testing::*;
    use crate::model::{LaunchSpec, PlacementSpec};

    fn filter(name: &str, values: &[&str]) -> (String, Vec<String>) {
        (
            name.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        )
    }

    fn launch_named(s: &crate::local::LocalService, name: &str, zone: &str) -> InstanceId {
        let spec = LaunchSpec {
            instance_name: Some(name.into()),
            placement: Some(PlacementSpec {
                zone: zone.into(),
                ..PlacementSpec::default()
            }),
            ..LaunchSpec::default()
        };
        s.run_instances(GZ, ImageKind::Public, &id("img-9qabwvbn"), &spec)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn filters_select_instances() {
        let w = world();
        let s = w.service(OWNER, 0);
        let web = launch_named(&s, "web-1", "ap-guangzhou-3");
        let db = launch_named(&s, "db-1", "ap-guangzhou-4");
        let found = |filters: &[(String, Vec<String>)]| -> Vec<InstanceId> {
            s.describe_instances(GZ, &[], filters)
                .unwrap()
                .into_iter()
                .map(|i| i.instance_id)
                .collect()
        };
        assert_eq!(found(&[filter("instance-name", &["nomatch"])]), []);
        assert_eq!(
            found(&[filter("instance-name", &["web"])]),
            vec![web.clone()]
        );
        assert_eq!(found(&[filter("zone", &["ap-guangzhou-4"])]), vec![db]);
        let web_instance = s.instance(GZ, &web).unwrap();
        for (name, value) in [
            ("uuid", web_instance.uuid.clone()),
            (
                "private-ip-address",
                web_instance.private_ip_addresses[0].clone(),
            ),
            (
                "subnet-id",
                web_instance.virtual_private_cloud.subnet_id.clone(),
            ),
            ("instance-id", web.to_string()),
        ] {
            assert_eq!(
                found(&[filter(name, &[&value])]),
                vec![web.clone()],
                "{name}"
            );
        }
        let both = found(&[
            filter("vpc-id", &[&web_instance.virtual_private_cloud.vpc_id]),
            filter("security-group-id", &[&web_instance.security_group_ids[0]]),
            filter("instance-state", &["RUNNING"]),
            filter("instance-charge-type", &["POSTPAID_BY_HOUR"]),
            filter("project-id", &["0"]),
            filter("creation-start-time", &["2020-01-01 00:00:00"]),
        ]);
        assert_eq!(both.len(), 2);
        assert_eq!(
            found(&[filter("creation-end-time", &["2020-01-01 00:00:00"])]),
            []
        );
        assert_eq!(found(&[filter("instance-state", &["STOPPED"])]), []);
        assert_eq!(found(&[filter("public-ip-address", &["198.18.0.1"])]), []);
        assert_eq!(found(&[filter("tag-key", &["env"])]), []);
        assert_eq!(found(&[filter("tag:env", &["prod"])]), []);
        assert_eq!(found(&[filter("host-id", &["host-h3m57oik"])]), []);
    }

    #[test]
    fn filters_and_their_values_are_checked() {
        let w = world();
        let s = w.service(OWNER, 0);
        let ids = launch_one(&s, GZ);
        for (f, expected) in [
            (filter("colour", &["red"]), Code::InvalidFilter),
            (
                filter("zone", &["a", "b", "c", "d", "e", "f"]),
                Code::InvalidFilterValueLimitExceeded,
            ),
            (
                filter("zone", &["ap-shanghai-2"]),
                Code::InvalidZoneMismatchRegion,
            ),
            (filter("project-id", &["x"]), Code::InvalidParameterValue),
            (filter("host-id", &["host-1"]), Code::InvalidHostIdMalformed),
            (
                filter("vpc-id", &["vpc"]),
                Code::InvalidParameterValueVpcIdMalformed,
            ),
            (
                filter("subnet-id", &["s"]),
                Code::InvalidParameterValueSubnetIdMalformed,
            ),
            (
                filter("instance-id", &["i"]),
                Code::InvalidInstanceIdMalformed,
            ),
            (
                filter("uuid", &["u"]),
                Code::InvalidParameterValueUuidMalformed,
            ),
            (
                filter("security-group-id", &["sg-1"]),
                Code::InvalidSgIdMalformed,
            ),
            (
                filter("private-ip-address", &["1.2.3"]),
                Code::InvalidParameterValueIPAddressMalformed,
            ),
            (
                filter("ipv6-address", &["::g"]),
                Code::InvalidParameterValueIPAddressMalformed,
            ),
            (
                filter("creation-start-time", &["yesterday"]),
                Code::InvalidParameterValueInvalidTimeFormat,
            ),
        ] {
            assert_eq!(
                code(s.describe_instances(GZ, &[], std::slice::from_ref(&f))),
                expected,
                "{f:?}"
            );
        }
        let eleven: Vec<_> = (0..11)
            .map(|_| filter("instance-state", &["RUNNING"]))
            .collect();
        assert_eq!(
            code(s.describe_instances(GZ, &[], &eleven)),
            Code::InvalidParameterValueLimitExceeded
        );
        assert_eq!(
            code(s.describe_instances(
                GZ,
                &[ids[0].to_string()],
                &[filter("zone", &["ap-guangzhou-2"])]
            )),
            Code::InvalidParameter
        );
        let many: Vec<String> = (0..101).map(|_| ids[0].to_string()).collect();
        assert_eq!(
            code(s.describe_instances(GZ, &many, &[])),
            Code::InvalidParameterValueLimitExceeded
        );
        let unknown = vec!["ins-zzzzzzzz".to_string(), ids[0].to_string()];
        assert_eq!(s.describe_instances(GZ, &unknown, &[]).unwrap().len(), 1);
        let statuses = s.describe_instances_status(GZ, &[]).unwrap();
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].instance_state, "RUNNING");
    }
}
