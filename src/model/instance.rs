//! Instances: the API's `Instance` object and its parts, as DescribeInstances answers it and
//! `metadata.json` shows it, and the RunInstances request a `launch` takes (the request types
//! of [`api`], under the names the launch code gives them).
//!
//! Every member the API reference marks as always returned is here, in the reference's order.
//! Four it marks as returned only for instances with those features are left out, as the cloud
//! leaves them out: `GPUInfo` (GPU instance types), `Metadata` (a feature in beta),
//! `CpuTopology` and `PartitionNumber` (chosen at launch), and so are `EnableJumboFrame` and
//! `PublicIPv6Addresses` (instance types and addresses imagefs does not model).
//!
//! Answers are read leniently: a member that is missing or of the wrong type reads as its
//! default, so an answer of an older or newer API still reads.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::lenient::or_default;
use super::{api, ImageId, InstanceId, Tag};

/// `Placement` of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Placement {
    #[serde(default, deserialize_with = "or_default")]
    pub zone: String,
    #[serde(default, deserialize_with = "or_default")]
    pub project_id: i64,
    /// Dedicated hosts (CDH) to launch on; input only, empty in answers.
    #[serde(default, deserialize_with = "or_default")]
    pub host_ids: Vec<String>,
    /// The dedicated host the instance runs on; empty for an instance on shared hosts.
    #[serde(default, deserialize_with = "or_default")]
    pub host_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub dedicated_resource_pack_tenancy: String,
    #[serde(default, deserialize_with = "or_default")]
    pub dedicated_resource_pack_ids: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub rack_id: String,
}

/// `SystemDisk` of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDisk {
    #[serde(default, deserialize_with = "or_default")]
    pub disk_type: String,
    #[serde(default, deserialize_with = "or_default")]
    pub disk_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub disk_size: i64,
    /// The dedicated cluster (CDC) of the disk; `null` outside one.
    #[serde(default, deserialize_with = "or_default")]
    pub cdc_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub disk_name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub encrypt: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub kms_key_id: String,
}

/// `DataDisk` of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataDisk {
    #[serde(default, deserialize_with = "or_default")]
    pub disk_size: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub disk_type: String,
    #[serde(default, deserialize_with = "or_default")]
    pub disk_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub delete_with_instance: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub snapshot_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub encrypt: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub kms_key_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub throughput_performance: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub cdc_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub burst_performance: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub disk_name: String,
}

/// `InternetAccessible` of an instance: its public bandwidth and how it is billed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InternetAccessible {
    #[serde(default, deserialize_with = "or_default")]
    pub internet_charge_type: String,
    #[serde(default, deserialize_with = "or_default")]
    pub internet_max_bandwidth_out: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub public_ip_assigned: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub bandwidth_package_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub internet_service_provider: String,
    #[serde(rename = "IPv4AddressType", default, deserialize_with = "or_default")]
    pub ipv4_address_type: String,
    #[serde(rename = "IPv6AddressType", default, deserialize_with = "or_default")]
    pub ipv6_address_type: String,
    #[serde(rename = "AntiDDoSPackageId", default, deserialize_with = "or_default")]
    pub anti_ddos_package_id: String,
}

/// `VirtualPrivateCloud` of an instance: the network of its primary interface.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualPrivateCloud {
    #[serde(default, deserialize_with = "or_default")]
    pub vpc_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub subnet_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub as_vpc_gateway: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub private_ip_addresses: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub ipv6_address_count: u64,
}

/// `LoginSettings` of an instance. The API returns only the key pairs bound to it: never a
/// password.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginSettings {
    #[serde(default, deserialize_with = "or_default")]
    pub key_ids: Vec<String>,
}

/// The API's `Instance` object, member for member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    #[serde(default, deserialize_with = "or_default")]
    pub placement: Placement,
    pub instance_id: InstanceId,
    #[serde(default, deserialize_with = "or_default")]
    pub instance_type: String,
    #[serde(rename = "CPU", default, deserialize_with = "or_default")]
    pub cpu: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub memory: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub restrict_state: String,
    #[serde(default, deserialize_with = "or_default")]
    pub instance_name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub instance_charge_type: String,
    #[serde(default, deserialize_with = "or_default")]
    pub system_disk: SystemDisk,
    #[serde(default, deserialize_with = "or_default")]
    pub data_disks: Vec<DataDisk>,
    #[serde(default, deserialize_with = "or_default")]
    pub private_ip_addresses: Vec<String>,
    /// `null` for an instance without a public address.
    #[serde(default, deserialize_with = "or_default")]
    pub public_ip_addresses: Option<Vec<String>>,
    #[serde(default, deserialize_with = "or_default")]
    pub internet_accessible: InternetAccessible,
    #[serde(default, deserialize_with = "or_default")]
    pub virtual_private_cloud: VirtualPrivateCloud,
    pub image_id: ImageId,
    /// The renewal of a `PREPAID` instance; `null` for pay-as-you-go ones.
    #[serde(default, deserialize_with = "or_default")]
    pub renew_flag: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub created_time: String,
    /// When a `PREPAID` instance's period ends; `null` for pay-as-you-go ones.
    #[serde(default, deserialize_with = "or_default")]
    pub expired_time: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub os_name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub security_group_ids: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub login_settings: LoginSettings,
    #[serde(default, deserialize_with = "or_default")]
    pub instance_state: String,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: Vec<Tag>,
    #[serde(default, deserialize_with = "or_default")]
    pub stop_charging_mode: String,
    #[serde(default, deserialize_with = "or_default")]
    pub uuid: String,
    #[serde(default, deserialize_with = "or_default")]
    pub latest_operation: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub latest_operation_state: Option<String>,
    /// The request of the latest operation; `null` here, as imagefs does not tie operations
    /// to the envelope's request IDs.
    #[serde(default, deserialize_with = "or_default")]
    pub latest_operation_request_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub disaster_recover_group_id: String,
    /// `null` for an instance without IPv6 addresses.
    #[serde(rename = "IPv6Addresses", default, deserialize_with = "or_default")]
    pub ipv6_addresses: Option<Vec<String>>,
    #[serde(default, deserialize_with = "or_default")]
    pub cam_role_name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub hpc_cluster_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub rdma_ip_addresses: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub dedicated_cluster_id: String,
    #[serde(default, deserialize_with = "or_default")]
    pub isolated_source: String,
    #[serde(default, deserialize_with = "or_default")]
    pub disaster_recover_group_ids: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub license_type: String,
    #[serde(default, deserialize_with = "or_default")]
    pub disable_api_termination: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub host_name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub default_login_user: String,
    #[serde(default, deserialize_with = "or_default")]
    pub default_login_port: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub latest_operation_error_msg: String,
}

/// What a listing of `instances/` needs of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceEntry {
    pub instance_id: InstanceId,
    pub instance_name: String,
    pub created_time: String,
}

/// `InstanceStatus` of the API (DescribeInstancesStatus).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceStatus {
    pub instance_id: InstanceId,
    #[serde(default, deserialize_with = "or_default")]
    pub instance_state: String,
}

/// What launches instances: a RunInstances request. The filesystem's `launch` takes one as
/// JSON (the image and the region come from the file's path; an `ImageId` it gives must be
/// that image), read exactly as `imagefs serve` reads the action, so both accept and refuse
/// the same members. The API requires its `Placement`; a `launch` without one uses the
/// region's first available zone.
pub type LaunchSpec = api::RunInstancesRequest;

/// `Placement` as RunInstances takes it.
pub type PlacementSpec = api::Placement;
/// `InstanceChargePrepaid` as RunInstances takes it: how long (months: 1 to 12, 24, 36, 48 or
/// 60), and how it renews. Required for `PREPAID`.
pub type ChargePrepaidSpec = api::InstanceChargePrepaid;
/// `SystemDisk` as RunInstances takes it.
pub type SystemDiskSpec = api::SystemDisk;
/// `DataDisk` as RunInstances takes it.
pub type DataDiskSpec = api::DataDisk;
/// `VirtualPrivateCloud` as RunInstances takes it: the account's default network (by its IDs,
/// or both named `DEFAULT`).
pub type VirtualPrivateCloudSpec = api::VirtualPrivateCloud;
/// `InternetAccessible` as RunInstances takes it.
pub type InternetAccessibleSpec = api::InternetAccessible;
/// `LoginSettings` as RunInstances takes it. The password is checked and dropped: it is never
/// stored nor shown.
pub type LoginSettingsSpec = api::LoginSettings;

/// A secret a request carries (a password): its `Debug` never shows it, so no log does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_answer_with_odd_members_reads_with_defaults() {
        let instance: Instance = serde_json::from_value(json!({
            "InstanceId": "ins-a1b2c3d4",
            "ImageId": "img-9qabwvbn",
            "CPU": "two",
            "SystemDisk": {"DiskType": "CLOUD_SSD", "DiskSize": "big"},
            "InternetAccessible": 3,
            "PublicIpAddresses": null,
            "Tags": [{"Key": 1}]
        }))
        .unwrap();
        assert_eq!(instance.cpu, 0);
        assert_eq!(instance.system_disk.disk_type, "CLOUD_SSD");
        assert_eq!(instance.system_disk.disk_size, 0);
        assert_eq!(instance.internet_accessible, InternetAccessible::default());
        assert_eq!(instance.public_ip_addresses, None);
        assert!(instance.tags.is_empty());
        // Without its IDs it is not an instance.
        assert!(serde_json::from_value::<Instance>(json!({"InstanceId": "ins-a1b2c3d4"})).is_err());
    }

    #[test]
    fn members_keep_the_api_spelling() {
        let v = serde_json::to_value(InternetAccessible::default()).unwrap();
        for member in ["IPv4AddressType", "IPv6AddressType", "AntiDDoSPackageId"] {
            assert!(v.get(member).is_some(), "{member}: {v}");
        }
        let v = serde_json::to_value(VirtualPrivateCloud::default()).unwrap();
        assert!(v.get("Ipv6AddressCount").is_some(), "{v}");
    }

    #[test]
    fn a_password_is_never_shown_in_debug_output() {
        let spec: LaunchSpec =
            api::read_json(&json!({"LoginSettings": {"Password": "Sup3r-secret!"}})).unwrap();
        assert!(!format!("{spec:?}").contains("Sup3r"));
    }
}
