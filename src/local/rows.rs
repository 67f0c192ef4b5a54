//! How the store's rows map to the model: the columns read for images and instances, the
//! rows they become, fees kept in three columns, and the custom image rows written.

use std::time::SystemTime;

use rusqlite::{params, Connection, Row};

use super::instances::InstanceSettings;
use super::networks::{
    default_host_name, default_login, default_security_group, default_subnet, default_vpc,
};
use super::transitions::{now_ms, progress_percent, unix_ms};
use crate::error::{Error, Result};
use crate::model::{
    format_api_time, parse_api_time, AccountId, Fee, Image, ImageEntry, ImageId, ImageState,
    Instance, InstanceId, LoginSettings, Placement, Snapshot, VirtualPrivateCloud,
};

pub(super) const IMAGE_COLUMNS: &str =
    "image_id, kind, owner, image_name, image_description, os_name,
    platform, architecture, image_size, image_state, image_source, image_creator, created_time,
    sync_percent, is_support_cloudinit, license_type, image_family, image_deprecated,
    snapshot_set, tags, fee_unit_price, fee_charge_unit, fee_currency, fee_provider,
    transition_final, transition_due";

/// An image row as stored, before it is shown to a particular account.
pub(super) struct ImageRow {
    pub(super) image: Image,
    pub(super) kind: String,
    pub(super) owner: Option<String>,
    pub(super) fee: Option<Fee>,
    pub(super) provider: Option<String>,
    /// Shown `SYNCING` only because copies of it are in progress (see [`image_row`]).
    pub(super) copying: bool,
}

impl ImageRow {
    /// Whether the image can be launched, reset to and shared, and stand for its family:
    /// `NORMAL`, `SYNCING` only because copies of it are in progress (the cloud's source
    /// image stays usable while it is copied), or `EXPORTING` (an export reads the image and
    /// changes nothing; it is not copied meanwhile, see `copies.rs`).
    pub(super) fn usable(&self) -> bool {
        matches!(
            self.image.image_state,
            ImageState::Normal | ImageState::Exporting
        ) || self.copying
    }
}

pub(super) fn column_error(index: usize, e: Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
}

/// A fee stored in three columns (unit price, charge unit, currency) from `first` on.
fn fee_columns_at(r: &Row, first: usize) -> rusqlite::Result<Option<Fee>> {
    Ok(
        match (r.get(first)?, r.get(first + 1)?, r.get(first + 2)?) {
            (Some(unit_price), Some(charge_unit), Some(currency)) => Some(Fee {
                unit_price,
                charge_unit,
                currency,
            }),
            _ => None,
        },
    )
}

/// A fee as the three column values that store it.
pub(super) fn fee_values(fee: Option<&Fee>) -> (Option<f64>, Option<&str>, Option<&str>) {
    match fee {
        Some(f) => (
            Some(f.unit_price),
            Some(f.charge_unit.as_str()),
            Some(f.currency.as_str()),
        ),
        None => (None, None, None),
    }
}

pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    index: usize,
    text: &str,
) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| column_error(index, Error::internal(format!("bad JSON in store: {e}"))))
}

/// An image row as shown. A transition's end shows once its time has come, before the store
/// settles it. A row that is `NORMAL` itself with a transition to `NORMAL` pending is the
/// source of copies in progress (SyncImages records the last copy's end on it): it shows
/// `SYNCING` until then, as the cloud's source does. A copy's `SyncPercent` moves with the
/// time its transition has run.
pub(super) fn image_row(r: &Row) -> rusqlite::Result<ImageRow> {
    let id: String = r.get(0)?;
    let stored_state: String = r.get(9)?;
    let final_state: Option<String> = r.get(24)?;
    let due: Option<i64> = r.get(25)?;
    let now = now_ms();
    let done = due.is_some_and(|d| d <= now);
    let copying = !done
        && due.is_some()
        && stored_state == "NORMAL"
        && final_state.as_deref() == Some("NORMAL");
    let state = match (&final_state, done) {
        (Some(f), true) => f.clone(),
        _ if copying => "SYNCING".to_string(),
        _ => stored_state,
    };
    let created_time: String = r.get(12)?;
    let stored_percent: Option<i64> = r.get(13)?;
    let sync_percent = match due {
        Some(_) if done && final_state.as_deref() == Some("NORMAL") => Some(100),
        Some(due) if state == "SYNCING" && !copying => {
            let started = parse_api_time(&created_time).map(unix_ms);
            started
                .map(|started| progress_percent(started, due, now))
                .or(stored_percent)
        }
        _ => stored_percent,
    };
    let snapshot_set: String = r.get(18)?;
    let tags: String = r.get(19)?;
    let fee = fee_columns_at(r, 20)?;
    Ok(ImageRow {
        image: Image {
            image_id: ImageId::parse(&id).map_err(|e| column_error(0, e))?,
            os_name: r.get(5)?,
            image_type: String::new(),
            created_time,
            image_name: r.get(3)?,
            image_description: r.get(4)?,
            image_size: r.get(8)?,
            architecture: r.get(7)?,
            image_state: ImageState::parse(&state).ok_or_else(|| {
                column_error(
                    9,
                    Error::internal(format!("unknown image state `{state}` in store")),
                )
            })?,
            platform: r.get(6)?,
            image_creator: r.get(11)?,
            image_source: r.get(10)?,
            sync_percent,
            is_support_cloudinit: r.get(14)?,
            snapshot_set: json_column(18, &snapshot_set)?,
            tags: json_column(19, &tags)?,
            license_type: r.get(15)?,
            image_family: r.get(16)?,
            image_deprecated: r.get(17)?,
            cdc_cache_status: String::new(),
        },
        kind: r.get(1)?,
        owner: r.get(2)?,
        fee,
        provider: r.get(23)?,
        copying,
    })
}

pub(super) const INSTANCE_COLUMNS: &str =
    "instance_id, instance_name, instance_type, cpu, memory, zone,
    private_ip, image_id, image_size, os_name, platform, architecture, license_type,
    instance_state, transition_final, transition_due, latest_operation, latest_operation_state,
    created_time, fee_unit_price, fee_charge_unit, fee_currency, fee_provider, owner, region,
    uuid, charge_type, expired_time, renew_flag, public_ip, launch_settings, tags";

/// The state a terminated instance reaches: its row is gone from every reader, and removed
/// from the store by the next launch or termination.
pub(super) const TERMINATED: &str = "TERMINATED";

/// An instance as stored, with what images made from it inherit.
pub(super) struct InstanceRow {
    pub(super) instance: Instance,
    pub(super) image_size: i64,
    pub(super) platform: String,
    pub(super) architecture: String,
    pub(super) fee: Option<Fee>,
    pub(super) provider: Option<String>,
}

pub(super) fn instance_row(r: &Row) -> rusqlite::Result<InstanceRow> {
    let id: String = r.get(0)?;
    let image: String = r.get(7)?;
    let image = ImageId::parse(&image).map_err(|e| column_error(7, e))?;
    let stored_state: String = r.get(13)?;
    let final_state: Option<String> = r.get(14)?;
    let due: Option<i64> = r.get(15)?;
    let done = due.is_some_and(|d| d <= now_ms());
    let (state, operation_state) = match (final_state, done) {
        (Some(f), true) => (f, Some("SUCCESS".to_string())),
        _ => (stored_state, r.get(17)?),
    };
    let fee = fee_columns_at(r, 19)?;
    let owner: String = r.get(23)?;
    let owner = AccountId::parse(&owner).map_err(|e| column_error(23, e))?;
    let settings: String = r.get(30)?;
    let settings: InstanceSettings = json_column(30, &settings)?;
    let tags: String = r.get(31)?;
    let stored = StoredInstance {
        id: InstanceId::parse(&id).map_err(|e| column_error(0, e))?,
        owner,
        region: r.get(24)?,
        zone: r.get(5)?,
        image_size: r.get(8)?,
        platform: r.get(10)?,
        private_ip: r.get(6)?,
        public_ip: r.get(29)?,
        settings,
    };
    let instance = Instance {
        instance_type: r.get(2)?,
        cpu: r.get(3)?,
        memory: r.get(4)?,
        instance_name: r.get(1)?,
        instance_charge_type: r.get(26)?,
        renew_flag: r.get(28)?,
        created_time: r.get(18)?,
        expired_time: r.get(27)?,
        os_name: r.get(9)?,
        uuid: r.get(25)?,
        latest_operation: r.get(16)?,
        latest_operation_state: operation_state,
        license_type: r.get(12)?,
        tags: json_column(31, &tags)?,
        ..stored.instance(image, state)
    };
    Ok(InstanceRow {
        instance,
        image_size: stored.image_size,
        platform: stored.platform,
        architecture: r.get(11)?,
        fee,
        provider: r.get(22)?,
    })
}

/// What an instance's members are made from besides their own columns.
struct StoredInstance {
    id: InstanceId,
    owner: AccountId,
    region: String,
    zone: String,
    image_size: i64,
    platform: String,
    private_ip: String,
    public_ip: Option<String>,
    settings: InstanceSettings,
}

impl StoredInstance {
    /// The instance's members that follow from its network, disks and settings, with the
    /// values the cloud gives an instance without the features imagefs does not model
    /// (dedicated hosts and clusters, placement groups, IPv6, CAM roles).
    fn instance(&self, image_id: ImageId, state: String) -> Instance {
        let settings = &self.settings;
        let (login_user, login_port) = default_login(&self.platform);
        let isolated = if state == "SHUTDOWN" {
            "MANMADE"
        } else {
            "NOTISOLATED"
        };
        Instance {
            placement: Placement {
                zone: self.zone.clone(),
                project_id: settings.project_id,
                ..Placement::default()
            },
            instance_id: self.id.clone(),
            instance_type: String::new(),
            cpu: 0,
            memory: 0,
            restrict_state: "NORMAL".into(),
            instance_name: String::new(),
            instance_charge_type: String::new(),
            system_disk: settings.system_disk(self.id.as_str(), self.image_size),
            data_disks: settings.data_disks(self.id.as_str()),
            private_ip_addresses: vec![self.private_ip.clone()],
            public_ip_addresses: self.public_ip.clone().map(|ip| vec![ip]),
            internet_accessible: settings.internet_accessible(self.public_ip.is_some()),
            virtual_private_cloud: VirtualPrivateCloud {
                vpc_id: default_vpc(&self.owner, &self.region),
                subnet_id: default_subnet(&self.owner, &self.zone),
                as_vpc_gateway: settings.as_vpc_gateway,
                private_ip_addresses: vec![self.private_ip.clone()],
                ipv6_address_count: 0,
            },
            image_id,
            renew_flag: None,
            created_time: String::new(),
            expired_time: None,
            os_name: String::new(),
            security_group_ids: settings
                .security_group_ids
                .clone()
                .unwrap_or_else(|| vec![default_security_group(&self.owner, &self.region)]),
            login_settings: LoginSettings {
                key_ids: settings.key_ids.clone(),
            },
            instance_state: state,
            tags: Vec::new(),
            stop_charging_mode: "NOT_APPLICABLE".into(),
            uuid: String::new(),
            latest_operation: None,
            latest_operation_state: None,
            latest_operation_request_id: None,
            disaster_recover_group_id: String::new(),
            ipv6_addresses: None,
            cam_role_name: String::new(),
            hpc_cluster_id: String::new(),
            rdma_ip_addresses: Vec::new(),
            dedicated_cluster_id: String::new(),
            isolated_source: isolated.into(),
            disaster_recover_group_ids: Vec::new(),
            license_type: String::new(),
            disable_api_termination: settings.disable_api_termination,
            host_name: settings
                .host_name
                .clone()
                .unwrap_or_else(|| default_host_name(&self.private_ip, &self.platform)),
            default_login_user: login_user.into(),
            default_login_port: login_port,
            latest_operation_error_msg: String::new(),
        }
    }
}

/// An image's listing entry from a row of (image_id, created_time, image_name).
pub(super) fn entry_row(r: &rusqlite::Row) -> rusqlite::Result<ImageEntry> {
    let id: String = r.get(0)?;
    Ok(ImageEntry {
        image_id: ImageId::parse(&id).map_err(|e| column_error(0, e))?,
        created_time: r.get(1)?,
        image_name: r.get(2)?,
    })
}

/// A custom image row to insert (made by CreateImage, ImportImage, SyncImages).
pub(super) struct NewImageRow<'a> {
    pub(super) region: &'a str,
    pub(super) image_id: &'a ImageId,
    pub(super) owner: &'a AccountId,
    pub(super) image_name: &'a str,
    pub(super) image_description: &'a str,
    pub(super) os_name: &'a str,
    pub(super) platform: &'a str,
    pub(super) architecture: &'a str,
    pub(super) image_size: i64,
    pub(super) image_source: &'a str,
    pub(super) license_type: &'a str,
    pub(super) state: &'a str,
    pub(super) final_state: Option<&'a str>,
    pub(super) due: Option<i64>,
    pub(super) snapshots: &'a [Snapshot],
    pub(super) fee: Option<&'a Fee>,
    pub(super) provider: Option<&'a str>,
}

pub(super) fn insert_image_row(c: &Connection, row: &NewImageRow) -> Result<()> {
    let snapshots = serde_json::to_string(row.snapshots)
        .map_err(|e| Error::internal(format!("cannot store snapshots: {e}")))?;
    let sync_percent = if row.state == "NORMAL" { 100 } else { 0 };
    let fee = fee_values(row.fee);
    c.prepare_cached(
        "INSERT INTO images (region, image_id, kind, owner, image_name, image_description,
            os_name, platform, architecture, image_size, image_state, image_source,
            image_creator, created_time, sync_percent, is_support_cloudinit, license_type,
            snapshot_set, fee_unit_price, fee_charge_unit, fee_currency, fee_provider,
            transition_final, transition_due)
         VALUES (?1, ?2, 'CUSTOM', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?3, ?12, ?13, ?14, ?15,
            ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    )?
    .execute(params![
        row.region,
        row.image_id.as_str(),
        row.owner.as_str(),
        row.image_name,
        row.image_description,
        row.os_name,
        row.platform,
        row.architecture,
        row.image_size,
        row.state,
        row.image_source,
        format_api_time(SystemTime::now()),
        sync_percent,
        row.platform != "Windows" && row.platform != "FreeBSD",
        row.license_type,
        snapshots,
        fee.0,
        fee.1,
        fee.2,
        row.provider,
        row.final_state,
        row.due,
    ])?;
    Ok(())
}
