//! The objects RunInstances (and ResetInstance) take, member for member as the API reference
//! has them, read strictly like every request. Each says which of its members the emulator
//! cannot honour (see [`super::Request::unsupported`]).

use serde::{Deserialize, Serialize};

use super::read::{first_given, Given};
use crate::model::Secret;

/// `Placement` as RunInstances takes it: the zone, and where in it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Placement {
    pub zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_resource_pack_tenancy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_resource_pack_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rack_id: Option<String>,
}

impl Placement {
    /// Dedicated hosts, resource packs and racks: the emulator has none.
    pub(super) fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("HostIds", self.host_ids.given()),
            ("HostId", self.host_id.given()),
            (
                "DedicatedResourcePackTenancy",
                self.dedicated_resource_pack_tenancy.given(),
            ),
            (
                "DedicatedResourcePackIds",
                self.dedicated_resource_pack_ids.given(),
            ),
            ("RackId", self.rack_id.given()),
        ])
    }
}

/// `InstanceChargePrepaid`: how long a PREPAID instance is bought for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceChargePrepaid {
    pub period: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_flag: Option<String>,
}

/// `SystemDisk`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SystemDisk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl SystemDisk {
    /// Existing disks, dedicated clusters and encryption: the emulator has none.
    pub(super) fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("DiskId", self.disk_id.given()),
            ("CdcId", self.cdc_id.given()),
            ("Encrypt", self.encrypt.given()),
            ("KmsKeyId", self.kms_key_id.given()),
        ])
    }
}

/// `DataDisk`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DataDisk {
    pub disk_size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_with_instance: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput_performance: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_performance: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_name: Option<String>,
}

impl DataDisk {
    /// Existing disks, snapshots, dedicated clusters and encryption: the emulator has none.
    pub(super) fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("DiskId", self.disk_id.given()),
            ("SnapshotId", self.snapshot_id.given()),
            ("CdcId", self.cdc_id.given()),
            ("Encrypt", self.encrypt.given()),
            ("KmsKeyId", self.kms_key_id.given()),
        ])
    }
}

/// `VirtualPrivateCloud`: the network an instance is placed in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VirtualPrivateCloud {
    pub vpc_id: String,
    pub subnet_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_vpc_gateway: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address_count: Option<u64>,
}

impl VirtualPrivateCloud {
    /// Chosen addresses and IPv6 ones: the emulator gives each instance a free address of
    /// its subnet, and none of IPv6.
    pub(super) fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("PrivateIpAddresses", self.private_ip_addresses.given()),
            (
                "Ipv6AddressCount",
                self.ipv6_address_count.is_some_and(|n| n > 0),
            ),
        ])
    }
}

/// `InternetAccessible`: public bandwidth and addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InternetAccessible {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internet_max_bandwidth_out: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_ip_assigned: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_package_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internet_service_provider: Option<String>,
    #[serde(rename = "IPv4AddressType", skip_serializing_if = "Option::is_none")]
    pub ipv4_address_type: Option<String>,
    #[serde(rename = "IPv6AddressType", skip_serializing_if = "Option::is_none")]
    pub ipv6_address_type: Option<String>,
    #[serde(rename = "AntiDDoSPackageId", skip_serializing_if = "Option::is_none")]
    pub anti_ddos_package_id: Option<String>,
}

impl InternetAccessible {
    /// Bandwidth and anti-DDoS packages: the emulator has none.
    pub(super) fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("BandwidthPackageId", self.bandwidth_package_id.given()),
            ("AntiDDoSPackageId", self.anti_ddos_package_id.given()),
        ])
    }
}

/// `LoginSettings`: a password or key pairs, or the image's own login. The password is a
/// [`Secret`]: no `Debug` output (no log) shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LoginSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_image_login: Option<String>,
}

/// `EnhancedService`: the agents an instance runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EnhancedService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_service: Option<ServiceEnabled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_service: Option<ServiceEnabled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation_service: Option<ServiceEnabled>,
}

/// `RunSecurityServiceEnabled`, `RunMonitorServiceEnabled`, `RunAutomationServiceEnabled`:
/// the same one member.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceEnabled {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `ActionTimer`: a scheduled action.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ActionTimer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub externals: Option<Externals>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_timer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// `Externals` of an `ActionTimer`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Externals {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_address: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupport_networks: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_block_attr: Option<StorageBlock>,
}

/// `StorageBlock`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StorageBlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
}

/// `InstanceMarketOptionsRequest`: spot instances.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceMarketOptionsRequest {
    pub spot_options: SpotMarketOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_type: Option<String>,
}

/// `SpotMarketOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SpotMarketOptions {
    pub max_price: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_instance_type: Option<String>,
}

/// `Metadata`: key-value pairs an instance carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Metadata {
    pub items: Vec<MetadataItem>,
}

/// `MetadataItem`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetadataItem {
    pub key: String,
    pub value: String,
}

/// `CpuTopology`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CpuTopology {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_per_core: Option<i64>,
}

/// `LaunchTemplate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LaunchTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_version: Option<u64>,
}

/// `NetworkInterfaces`: elastic network interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NetworkInterfaces {
    pub interface_type: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub private_ipv4_address_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_with_instance: Option<bool>,
}
