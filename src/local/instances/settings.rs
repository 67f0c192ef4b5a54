//! What an instance is launched with besides its image, type and zone: disks, network, login
//! and host name, checked as RunInstances checks them and kept with the instance (the
//! `launch_settings` column, JSON) for DescribeInstances to show.

use serde::{Deserialize, Serialize};

use super::names::{expand, NamePattern};
use crate::error::{Code, Error, Result};
use crate::local::networks::{
    default_security_group, default_subnet, default_vpc, disk_id, is_resource_id,
};
use crate::model::{
    AccountId, DataDisk, DataDiskSpec, ImageKind, InternetAccessible, InternetAccessibleSpec,
    LaunchSpec, LoginSettingsSpec, SystemDisk, SystemDiskSpec, VirtualPrivateCloudSpec,
};

/// System disk types (the API reference's `SystemDisk.DiskType`).
const SYSTEM_DISK_TYPES: &[&str] = &[
    "LOCAL_BASIC",
    "LOCAL_SSD",
    "CLOUD_BASIC",
    "CLOUD_SSD",
    "CLOUD_PREMIUM",
    "CLOUD_BSSD",
    "CLOUD_HSSD",
    "CLOUD_TSSD",
];

/// Data disk types that may be chosen (`LOCAL_NVME` and `LOCAL_PRO` come with the instance
/// type and "cannot be specified", says the reference).
const DATA_DISK_TYPES: &[&str] = &[
    "LOCAL_BASIC",
    "LOCAL_SSD",
    "CLOUD_BASIC",
    "CLOUD_PREMIUM",
    "CLOUD_SSD",
    "CLOUD_HSSD",
    "CLOUD_TSSD",
    "CLOUD_BSSD",
];

/// The system disk type when RunInstances names none. The reference says "whichever type is
/// in stock"; its RunInstances and InquiryPriceRunInstances examples use CLOUD_PREMIUM.
const DEFAULT_SYSTEM_DISK_TYPE: &str = "CLOUD_PREMIUM";

/// The system disk size when RunInstances names none (the reference's default), unless the
/// image is larger.
const DEFAULT_SYSTEM_DISK_SIZE: i64 = 50;

/// At most this many data disks (the reference: 21, one of them local at most).
const MAX_DATA_DISKS: usize = 21;

/// Characters a password may hold besides letters and digits (the reference's list).
const PASSWORD_SPECIALS: &str = "()`~!@#$%^&*-+=|{}[]:;',.?/";

/// What an instance keeps of its launch, as stored. Every member defaults, so rows of stores
/// made before these settings existed read with the defaults a launch would have chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(in crate::local) struct InstanceSettings {
    pub(in crate::local) project_id: i64,
    system_disk: Option<StoredDisk>,
    data_disks: Vec<StoredDataDisk>,
    internet: Option<StoredInternet>,
    /// `None`: the account's default security group of the region.
    pub(in crate::local) security_group_ids: Option<Vec<String>>,
    pub(in crate::local) key_ids: Vec<String>,
    /// `None`: the default host name (from the private address and platform).
    pub(in crate::local) host_name: Option<String>,
    pub(in crate::local) disable_api_termination: bool,
    pub(in crate::local) as_vpc_gateway: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredDisk {
    disk_type: String,
    disk_size: i64,
    disk_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredDataDisk {
    disk_type: String,
    disk_size: i64,
    disk_name: String,
    delete_with_instance: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredInternet {
    charge_type: String,
    bandwidth_out: i64,
}

impl InstanceSettings {
    pub(in crate::local) fn system_disk(&self, instance: &str, image_size: i64) -> SystemDisk {
        let disk = self.system_disk.clone().unwrap_or_else(|| StoredDisk {
            disk_type: DEFAULT_SYSTEM_DISK_TYPE.into(),
            disk_size: DEFAULT_SYSTEM_DISK_SIZE.max(image_size),
            disk_name: String::new(),
        });
        SystemDisk {
            disk_type: disk.disk_type,
            disk_id: disk_id(instance, 0),
            disk_size: disk.disk_size,
            cdc_id: None,
            disk_name: disk.disk_name,
            encrypt: false,
            kms_key_id: String::new(),
        }
    }

    pub(in crate::local) fn data_disks(&self, instance: &str) -> Vec<DataDisk> {
        self.data_disks
            .iter()
            .enumerate()
            .map(|(n, disk)| DataDisk {
                disk_size: disk.disk_size,
                disk_type: disk.disk_type.clone(),
                disk_id: disk_id(instance, n + 1),
                delete_with_instance: disk.delete_with_instance,
                snapshot_id: String::new(),
                encrypt: false,
                kms_key_id: None,
                throughput_performance: 0,
                cdc_id: None,
                burst_performance: false,
                disk_name: disk.disk_name.clone(),
            })
            .collect()
    }

    /// The instance's bandwidth; one launched before it was kept is a pay-as-you-go instance
    /// without public bandwidth.
    pub(in crate::local) fn internet_accessible(&self, public_ip: bool) -> InternetAccessible {
        let internet = self.internet.clone().unwrap_or_else(|| StoredInternet {
            charge_type: "TRAFFIC_POSTPAID_BY_HOUR".into(),
            bandwidth_out: 0,
        });
        InternetAccessible {
            internet_charge_type: internet.charge_type,
            internet_max_bandwidth_out: internet.bandwidth_out,
            public_ip_assigned: public_ip,
            bandwidth_package_id: String::new(),
            // The reference's default line type.
            internet_service_provider: "BGP".into(),
            ipv4_address_type: String::new(),
            ipv6_address_type: String::new(),
            anti_ddos_package_id: String::new(),
        }
    }
}

/// What a launch needs to know of its image and placement to check its settings.
pub(super) struct LaunchContext<'a> {
    pub(super) account: &'a AccountId,
    pub(super) region: &'a str,
    pub(super) zone: &'a str,
    pub(super) zones: &'a [String],
    pub(super) kind: ImageKind,
    pub(super) platform: &'a str,
    pub(super) image_size: i64,
    pub(super) charge_type: &'a str,
}

/// The settings of a launch, checked; and whether its instances get a public address.
pub(super) struct CheckedSettings {
    pub(super) settings: InstanceSettings,
    pub(super) public_ip: bool,
    host_name: Option<NamePattern>,
}

impl CheckedSettings {
    /// The settings of the `index`th of `count` instances, at `private_ip`: its host name
    /// expanded and checked.
    pub(super) fn for_instance(
        &self,
        index: u64,
        count: u64,
        private_ip: &str,
        platform: &str,
    ) -> Result<InstanceSettings> {
        let mut settings = self.settings.clone();
        if let Some(pattern) = &self.host_name {
            let name = expand(pattern, index, count, Some(private_ip));
            check_host_name(&name, platform == "Windows")?;
            settings.host_name = Some(name);
        }
        Ok(settings)
    }
}

/// Checks a launch's settings against the cloud's rules.
pub(super) fn check_settings(spec: &LaunchSpec, cx: &LaunchContext) -> Result<CheckedSettings> {
    let (internet, public_ip) = internet(spec.internet_accessible.as_ref(), cx.charge_type)?;
    let as_vpc_gateway = match &spec.virtual_private_cloud {
        Some(vpc) => {
            check_network(vpc, cx)?;
            vpc.as_vpc_gateway.unwrap_or(false)
        }
        None => false,
    };
    let settings = InstanceSettings {
        project_id: spec
            .placement
            .as_ref()
            .and_then(|p| p.project_id)
            .unwrap_or(0),
        system_disk: Some(system_disk(spec.system_disk.as_ref(), cx.image_size)?),
        data_disks: data_disks(spec.data_disks.as_deref().unwrap_or_default())?,
        internet: Some(internet),
        security_group_ids: security_groups(spec.security_group_ids.as_deref(), cx)?,
        key_ids: login(spec.login_settings.as_ref(), cx)?,
        host_name: None,
        disable_api_termination: spec.disable_api_termination.unwrap_or(false),
        as_vpc_gateway,
    };
    let host_name = match &spec.host_name {
        Some(text) => {
            if text.chars().count() > 128 {
                return Err(Error::new(
                    Code::InvalidParameterValueIllegalHostName,
                    "HostName has more than 128 characters",
                ));
            }
            Some(NamePattern::parse(text, true))
        }
        None => None,
    };
    Ok(CheckedSettings {
        settings,
        public_ip,
        host_name,
    })
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::InvalidParameterValue, message)
}

fn system_disk(spec: Option<&SystemDiskSpec>, image_size: i64) -> Result<StoredDisk> {
    let spec = spec.cloned().unwrap_or_default();
    let disk_type = spec
        .disk_type
        .unwrap_or_else(|| DEFAULT_SYSTEM_DISK_TYPE.into());
    if !SYSTEM_DISK_TYPES.contains(&disk_type.as_str()) {
        return Err(invalid(format!(
            "SystemDisk.DiskType `{disk_type}` is not one of {}",
            SYSTEM_DISK_TYPES.join(", ")
        )));
    }
    let disk_size = spec
        .disk_size
        .unwrap_or(DEFAULT_SYSTEM_DISK_SIZE.max(image_size));
    if disk_size < image_size.max(1) {
        return Err(invalid(format!(
            "SystemDisk.DiskSize {disk_size} GiB is smaller than the image ({image_size} GiB)"
        )));
    }
    let disk_name = spec.disk_name.unwrap_or_default();
    if disk_name.chars().count() > 128 {
        return Err(invalid("SystemDisk.DiskName has more than 128 characters"));
    }
    Ok(StoredDisk {
        disk_type,
        disk_size,
        disk_name,
    })
}

fn data_disks(specs: &[DataDiskSpec]) -> Result<Vec<StoredDataDisk>> {
    if specs.len() > MAX_DATA_DISKS {
        return Err(Error::new(
            Code::InvalidParameterValueLimitExceeded,
            format!("at most {MAX_DATA_DISKS} DataDisks"),
        ));
    }
    let mut disks = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let disk_type = spec
            .disk_type
            .clone()
            .unwrap_or_else(|| "LOCAL_BASIC".into());
        if !DATA_DISK_TYPES.contains(&disk_type.as_str()) {
            return Err(invalid(format!(
                "DataDisks.{n}.DiskType `{disk_type}` is not one of {}",
                DATA_DISK_TYPES.join(", ")
            )));
        }
        if spec.disk_size <= 0 || spec.disk_size % 10 != 0 {
            return Err(invalid(format!(
                "DataDisks.{n}.DiskSize {} is not a positive multiple of 10 GiB",
                spec.disk_size
            )));
        }
        let disk_name = spec.disk_name.clone().unwrap_or_default();
        if disk_name.chars().count() > 128 {
            return Err(invalid(format!(
                "DataDisks.{n}.DiskName has more than 128 characters"
            )));
        }
        disks.push(StoredDataDisk {
            disk_type,
            disk_size: spec.disk_size,
            disk_name,
            delete_with_instance: spec.delete_with_instance.unwrap_or(true),
        });
    }
    let local = disks
        .iter()
        .filter(|d| d.disk_type.starts_with("LOCAL_"))
        .count();
    if local > 1 {
        return Err(Error::new(
            Code::InvalidParameterCombination,
            "at most one local data disk (LOCAL_BASIC or LOCAL_SSD)",
        ));
    }
    Ok(disks)
}

/// The bandwidth: billed as the instance is unless named; a public address by default when
/// there is bandwidth, never without.
fn internet(
    spec: Option<&InternetAccessibleSpec>,
    charge_type: &str,
) -> Result<(StoredInternet, bool)> {
    let spec = spec.cloned().unwrap_or_default();
    let default_charge = if charge_type == "PREPAID" {
        "BANDWIDTH_PREPAID"
    } else {
        "TRAFFIC_POSTPAID_BY_HOUR"
    };
    let charge = spec
        .internet_charge_type
        .unwrap_or_else(|| default_charge.into());
    match charge.as_str() {
        "BANDWIDTH_PREPAID" | "TRAFFIC_POSTPAID_BY_HOUR" | "BANDWIDTH_POSTPAID_BY_HOUR" => {}
        "BANDWIDTH_PACKAGE" => {
            return Err(Error::new(
                Code::UnsupportedOperation,
                "InternetAccessible.InternetChargeType BANDWIDTH_PACKAGE: imagefs has no bandwidth packages",
            ))
        }
        other => {
            return Err(invalid(format!(
                "InternetAccessible.InternetChargeType `{other}` is not one of BANDWIDTH_PREPAID, TRAFFIC_POSTPAID_BY_HOUR, BANDWIDTH_POSTPAID_BY_HOUR, BANDWIDTH_PACKAGE"
            )))
        }
    }
    let bandwidth = spec.internet_max_bandwidth_out.unwrap_or(0);
    if bandwidth < 0 {
        return Err(invalid(format!(
            "InternetAccessible.InternetMaxBandwidthOut {bandwidth} is negative"
        )));
    }
    let public_ip = spec.public_ip_assigned.unwrap_or(bandwidth > 0);
    if public_ip && bandwidth == 0 {
        return Err(Error::new(
            Code::InvalidParameterCombination,
            "InternetAccessible.PublicIpAssigned needs InternetMaxBandwidthOut above 0",
        ));
    }
    Ok((
        StoredInternet {
            charge_type: charge,
            bandwidth_out: bandwidth,
        },
        public_ip,
    ))
}

/// The network: the account's default VPC and the zone's default subnet, by their IDs or
/// both named `DEFAULT` (the account has no other network in the emulator).
fn check_network(spec: &VirtualPrivateCloudSpec, cx: &LaunchContext) -> Result<()> {
    if spec.vpc_id == "DEFAULT" && spec.subnet_id == "DEFAULT" {
        return Ok(());
    }
    if !is_resource_id(&spec.vpc_id, "vpc") {
        return Err(Error::new(
            Code::InvalidParameterValueVpcIdMalformed,
            format!("VpcId `{}` is not vpc-xxxxxxxx", spec.vpc_id),
        ));
    }
    if !is_resource_id(&spec.subnet_id, "subnet") {
        return Err(Error::new(
            Code::InvalidParameterValueSubnetIdMalformed,
            format!("SubnetId `{}` is not subnet-xxxxxxxx", spec.subnet_id),
        ));
    }
    let vpc = default_vpc(cx.account, cx.region);
    if spec.vpc_id != vpc {
        return Err(Error::new(
            Code::InvalidParameterValueVpcIdNotExist,
            format!(
                "no VPC {} in {}: the account has its default VPC {vpc} only",
                spec.vpc_id, cx.region
            ),
        ));
    }
    if spec.subnet_id == default_subnet(cx.account, cx.zone) {
        return Ok(());
    }
    let other_zone = cx
        .zones
        .iter()
        .find(|zone| default_subnet(cx.account, zone) == spec.subnet_id);
    match other_zone {
        Some(zone) => Err(Error::new(
            Code::InvalidParameterValueSubnetIdZoneIdNotMatch,
            format!("subnet {} is in {zone}, not in {}", spec.subnet_id, cx.zone),
        )),
        None => Err(Error::new(
            Code::InvalidParameterValueSubnetNotExist,
            format!("no subnet {} in VPC {vpc}", spec.subnet_id),
        )),
    }
}

/// The security groups: the account's default one of the region (it has no other).
fn security_groups(ids: Option<&[String]>, cx: &LaunchContext) -> Result<Option<Vec<String>>> {
    let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
        return Ok(None);
    };
    let default = default_security_group(cx.account, cx.region);
    let mut kept: Vec<String> = Vec::new();
    for id in ids {
        if *id != default {
            return Err(Error::new(
                Code::InvalidSecurityGroupIdNotFound,
                format!(
                    "no security group {id} in {}: the account has its default one {default} only",
                    cx.region
                ),
            ));
        }
        if !kept.contains(id) {
            kept.push(id.clone());
        }
    }
    Ok(Some(kept))
}

/// The login: a password, key pairs, or the image's own settings, one of them. The password is
/// checked and dropped; the key pairs are kept (the emulator has no key pairs to look them up
/// in, so any well-formed ID is taken).
fn login(spec: Option<&LoginSettingsSpec>, cx: &LaunchContext) -> Result<Vec<String>> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    let windows = cx.platform == "Windows";
    let key_ids = spec.key_ids.clone().unwrap_or_default();
    let keep = match spec.keep_image_login.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(invalid(format!(
                "LoginSettings.KeepImageLogin takes \"true\" or \"false\", not `{other}`"
            )))
        }
    };
    let given = usize::from(spec.password.is_some()) + usize::from(!key_ids.is_empty());
    if given > 1 || (keep && given > 0) {
        return Err(Error::new(
            Code::InvalidParameterCombination,
            "LoginSettings takes one of Password, KeyIds and KeepImageLogin",
        ));
    }
    if keep && !matches!(cx.kind, ImageKind::Custom | ImageKind::Shared) {
        return Err(invalid(
            "LoginSettings.KeepImageLogin is for custom, shared and imported images only",
        ));
    }
    if let Some(password) = &spec.password {
        check_password(&password.0, windows)?;
    }
    if !key_ids.is_empty() && windows {
        return Err(Error::new(
            Code::UnsupportedOperationKeyPairUnsupportedWindows,
            "key pairs cannot log in to Windows instances: give a Password",
        ));
    }
    for key in &key_ids {
        if !is_resource_id(key, "skey") {
            return Err(Error::new(
                Code::InvalidKeyPairIdMalformed,
                format!("`{key}` is not a key pair ID (skey-xxxxxxxx)"),
            ));
        }
    }
    Ok(key_ids)
}

/// The reference's password rules: Linux 8 to 30 characters of at least two kinds (lowercase,
/// uppercase, digits, its specials), Windows 12 to 30 of at least three.
fn check_password(password: &str, windows: bool) -> Result<()> {
    let (min, kinds_needed) = if windows { (12, 3) } else { (8, 2) };
    let length = password.chars().count();
    let allowed = password
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || PASSWORD_SPECIALS.contains(c));
    let kinds = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| PASSWORD_SPECIALS.contains(c)),
    ]
    .into_iter()
    .filter(|k| *k)
    .count();
    if (min..=30).contains(&length) && allowed && kinds >= kinds_needed {
        return Ok(());
    }
    let os = if windows { "Windows" } else { "Linux" };
    Err(Error::new(
        Code::InvalidPassword,
        format!(
            "a {os} password has {min} to 30 characters of at least {kinds_needed} kinds (lowercase, uppercase, digits, {PASSWORD_SPECIALS})"
        ),
    ))
}

/// The reference's host name rules: `.` and `-` neither first, last, nor twice in a row;
/// Windows 2 to 15 letters, digits and `-`, not all digits; others 2 to 60, letters, digits
/// and `-` in segments separated by `.`.
fn check_host_name(name: &str, windows: bool) -> Result<()> {
    let separators = |c: char| c == '.' || c == '-';
    let chars: Vec<char> = name.chars().collect();
    let ends_ok = !chars.first().is_some_and(|c| separators(*c))
        && !chars.last().is_some_and(|c| separators(*c));
    let no_runs = !chars
        .windows(2)
        .any(|pair| separators(pair[0]) && separators(pair[1]));
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || (!windows && c == '.');
    let (min, max) = if windows { (2, 15) } else { (2, 60) };
    let valid = (min..=max).contains(&chars.len())
        && chars.iter().all(|c| allowed(*c))
        && ends_ok
        && no_runs
        && !(windows && chars.iter().all(char::is_ascii_digit));
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            Code::InvalidParameterValueIllegalHostName,
            format!("`{name}` is not a valid host name for this image's OS"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_follow_the_os_rules() {
        assert!(check_password("abcd1234", false).is_ok());
        assert!(check_password("Abcd-1234-xyz", true).is_ok());
        for (password, windows) in [
            ("abcdefgh", false),
            ("abc123", false),
            ("abcd1234efgh", true),
            ("abcd 1234", false),
            ("Ab1-Ab1-Ab1-Ab1-Ab1-Ab1-Ab1-Ab1", false),
        ] {
            let e = check_password(password, windows).unwrap_err();
            assert_eq!(e.code(), Code::InvalidPassword, "{password}");
            assert!(!e.message().contains(password), "no password in messages");
        }
    }

    #[test]
    fn host_names_follow_the_os_rules() {
        for name in ["web-1", "a.b-c.d", "VM-4-18-ubuntu"] {
            assert!(check_host_name(name, false).is_ok(), "{name}");
        }
        for name in ["-web", "web.", "a..b", "a.-b", "x", "a_b"] {
            assert!(check_host_name(name, false).is_err(), "{name}");
        }
        assert!(check_host_name("win-01", true).is_ok());
        for name in ["a.b", "12345", "a-very-long-windows-name"] {
            assert!(check_host_name(name, true).is_err(), "{name}");
        }
    }

    #[test]
    fn data_disks_are_checked() {
        let disk = |size: i64, kind: &str| DataDiskSpec {
            disk_size: size,
            disk_type: Some(kind.into()),
            ..DataDiskSpec::default()
        };
        let kept = data_disks(&[disk(100, "CLOUD_SSD")]).unwrap();
        assert!(kept[0].delete_with_instance);
        for bad in [
            disk(15, "CLOUD_SSD"),
            disk(0, "CLOUD_SSD"),
            disk(10, "LOCAL_NVME"),
        ] {
            assert_eq!(
                data_disks(&[bad]).unwrap_err().code(),
                Code::InvalidParameterValue
            );
        }
        assert_eq!(
            data_disks(&[disk(10, "LOCAL_BASIC"), disk(10, "LOCAL_SSD")])
                .unwrap_err()
                .code(),
            Code::InvalidParameterCombination
        );
    }

    #[test]
    fn bandwidth_follows_the_charge_type() {
        let (postpaid, public) = internet(None, "POSTPAID_BY_HOUR").unwrap();
        assert_eq!(postpaid.charge_type, "TRAFFIC_POSTPAID_BY_HOUR");
        assert!(!public);
        let (prepaid, _) = internet(None, "PREPAID").unwrap();
        assert_eq!(prepaid.charge_type, "BANDWIDTH_PREPAID");
        let with_bandwidth = InternetAccessibleSpec {
            internet_max_bandwidth_out: Some(5),
            ..InternetAccessibleSpec::default()
        };
        assert!(
            internet(Some(&with_bandwidth), "POSTPAID_BY_HOUR")
                .unwrap()
                .1
        );
        let address_without_bandwidth = InternetAccessibleSpec {
            public_ip_assigned: Some(true),
            ..InternetAccessibleSpec::default()
        };
        assert_eq!(
            internet(Some(&address_without_bandwidth), "POSTPAID_BY_HOUR")
                .unwrap_err()
                .code(),
            Code::InvalidParameterCombination
        );
    }

    #[test]
    fn settings_stored_before_they_existed_read_as_defaults() {
        let settings: InstanceSettings = serde_json::from_str("{}").unwrap();
        let disk = settings.system_disk("ins-a1b2c3d4", 20);
        assert_eq!(
            (disk.disk_type.as_str(), disk.disk_size),
            ("CLOUD_PREMIUM", 50)
        );
        assert_eq!(settings.system_disk("ins-a1b2c3d4", 80).disk_size, 80);
        assert_eq!(
            settings.internet_accessible(false).internet_charge_type,
            "TRAFFIC_POSTPAID_BY_HOUR"
        );
        assert!(settings.data_disks("ins-a1b2c3d4").is_empty());
    }
}
