//! The real backend: Tencent Cloud's CVM API 2017-03-12. The rules stay in the cloud: this
//! backend reports what the API answers and re-checks nothing itself.

pub mod client;
pub mod sign;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{
    AccountId, AccountInfo, ChargeType, CreateImageSpec, Image, ImageEntry, ImageId, ImageKind,
    ImportImageOs, ImportImageSpec, Instance, InstanceEntry, InstanceId, LaunchSpec, Price, Quota,
    Region,
};
use crate::service::{Caller, ImageService};
pub use client::{Client, Credentials};

/// How long a listing answers `ls -l`, `find` and per-file reads before the API is asked again.
const LISTING_TTL: Duration = Duration::from_secs(1);

/// Accounts one image may be shared with today (the cloud's figure; the API has no call for it).
const SHARE_LIMIT: u64 = 500;

/// Mainland China regions (the marketplace and license-fee rules depend on it).
fn is_mainland(region: &str) -> bool {
    matches!(
        region,
        "ap-guangzhou"
            | "ap-shanghai"
            | "ap-nanjing"
            | "ap-beijing"
            | "ap-chengdu"
            | "ap-chongqing"
            | "ap-shanghai-fsi"
            | "ap-shenzhen-fsi"
            | "ap-guangzhou-open"
    )
}

fn api_type(kind: ImageKind) -> &'static str {
    kind.image_type()
}

fn decode<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| Error::internal(format!("unexpected {what} from the API: {e}")))
}

type Listing<T> = Mutex<HashMap<String, (Instant, std::sync::Arc<Vec<T>>)>>;

/// One account of the real cloud.
pub struct TencentService {
    client: Client,
    account: AccountId,
    regions: Vec<Region>,
    images: Listing<Image>,
    instances: Listing<Instance>,
}

impl TencentService {
    /// Connects: checks the credentials (DescribeRegions) and learns the account
    /// (GetCallerIdentity) unless `account` names it.
    pub fn connect(client: Client, account: Option<AccountId>) -> Result<TencentService> {
        let answer = client.call("", "DescribeRegions", &json!({}))?;
        let mut regions = Vec::new();
        for r in answer
            .get("RegionSet")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let region = r
                .get("Region")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if region.is_empty() {
                continue;
            }
            regions.push(Region {
                mainland: is_mainland(&region),
                region_name: r
                    .get("RegionName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                region_state: r
                    .get("RegionState")
                    .and_then(Value::as_str)
                    .unwrap_or("AVAILABLE")
                    .to_string(),
                region,
            });
        }
        let account = match account {
            Some(a) => a,
            None => {
                let who = client.call_service(
                    "sts",
                    "2018-08-13",
                    "ap-guangzhou",
                    "GetCallerIdentity",
                    &json!({}),
                )?;
                let id = who
                    .get("AccountId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::internal("GetCallerIdentity gave no AccountId"))?;
                AccountId::parse(id)?
            }
        };
        Ok(TencentService {
            client,
            account,
            regions,
            images: Mutex::new(HashMap::new()),
            instances: Mutex::new(HashMap::new()),
        })
    }

    fn region(&self, region: &str) -> Result<&Region> {
        crate::model::find_region(&self.regions, region)
    }

    /// Every page of a Describe call (Limit 100 until TotalCount).
    fn all_pages(
        &self,
        region: &str,
        action: &str,
        mut params: Value,
        set: &str,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            params["Offset"] = json!(out.len());
            params["Limit"] = json!(100);
            let answer = self.client.call(region, action, &params)?;
            let page = answer
                .get(set)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = answer
                .get("TotalCount")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let empty = page.is_empty();
            out.extend(page);
            if empty || out.len() >= total {
                return Ok(out);
            }
        }
    }

    fn images_of(&self, region: &str, kind: ImageKind) -> Result<std::sync::Arc<Vec<Image>>> {
        self.region(region)?;
        let key = format!("{region}/{kind}");
        if let Some((at, list)) = self
            .images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if at.elapsed() < LISTING_TTL {
                return Ok(list.clone());
            }
        }
        let filters = json!({"Filters": [{"Name": "image-type", "Values": [api_type(kind)]}]});
        let pages = match self.all_pages(region, "DescribeImages", filters, "ImageSet") {
            Ok(pages) => pages,
            // The current API lists no marketplace type: an empty directory, said in the log.
            Err(e) if kind == ImageKind::Marketplace => {
                log::info!("marketplace images of {region} are not listed by the API ({e})");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let mut list: Vec<Image> = pages
            .into_iter()
            .filter_map(|v| match serde_json::from_value::<Image>(v) {
                Ok(image) => Some(image),
                Err(e) => {
                    log::warn!("an image of {region} could not be read and is not shown: {e}");
                    None
                }
            })
            .collect();
        list.sort_by(|a, b| a.image_id.cmp(&b.image_id));
        let list = std::sync::Arc::new(list);
        self.images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (Instant::now(), list.clone()));
        Ok(list)
    }

    fn instances_of(&self, region: &str) -> Result<std::sync::Arc<Vec<Instance>>> {
        self.region(region)?;
        if let Some((at, list)) = self
            .instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(region)
        {
            if at.elapsed() < LISTING_TTL {
                return Ok(list.clone());
            }
        }
        let pages = self.all_pages(region, "DescribeInstances", json!({}), "InstanceSet")?;
        let mut list: Vec<Instance> = pages.into_iter().filter_map(instance_from_api).collect();
        list.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        let list = std::sync::Arc::new(list);
        self.instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(region.to_string(), (Instant::now(), list.clone()));
        Ok(list)
    }

    /// After this mount's own writes, listings are read again.
    fn refresh(&self) {
        self.images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn write(&self, region: &str, action: &str, params: Value) -> Result<Value> {
        self.region(region)?;
        let result = self.client.call(region, action, &params);
        self.refresh();
        result
    }
}

/// The API's `Instance` as the filesystem shows it (missing members get neutral values).
fn instance_from_api(v: Value) -> Option<Instance> {
    let s = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(Instance {
        placement: crate::model::Placement {
            zone: v
                .pointer("/Placement/Zone")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            project_id: v
                .pointer("/Placement/ProjectId")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        },
        instance_id: InstanceId::parse(&s("InstanceId")).ok()?,
        instance_type: s("InstanceType"),
        cpu: v.get("CPU").and_then(Value::as_i64).unwrap_or(0),
        memory: v.get("Memory").and_then(Value::as_i64).unwrap_or(0),
        restrict_state: s("RestrictState"),
        instance_name: s("InstanceName"),
        instance_charge_type: s("InstanceChargeType"),
        private_ip_addresses: v
            .get("PrivateIpAddresses")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        image_id: ImageId::parse(&s("ImageId")).ok()?,
        created_time: s("CreatedTime"),
        os_name: s("OsName"),
        instance_state: s("InstanceState"),
        latest_operation: v
            .get("LatestOperation")
            .and_then(Value::as_str)
            .map(str::to_owned),
        latest_operation_state: v
            .get("LatestOperationState")
            .and_then(Value::as_str)
            .map(str::to_owned),
        license_type: s("LicenseType"),
    })
}

impl ImageService for TencentService {
    fn account(&self) -> Result<AccountInfo> {
        Ok(AccountInfo {
            account_id: self.account.clone(),
            backend: "tencentcloud".into(),
            store: None,
        })
    }

    fn regions(&self) -> Result<Vec<Region>> {
        Ok(self.regions.clone())
    }

    fn list_images(&self, region: &str, kind: ImageKind) -> Result<Vec<ImageEntry>> {
        Ok(self
            .images_of(region, kind)?
            .iter()
            .map(|i| ImageEntry {
                image_id: i.image_id.clone(),
                created_time: i.created_time.clone(),
                image_name: i.image_name.clone(),
            })
            .collect())
    }

    fn image(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Image> {
        self.images_of(region, kind)?
            .iter()
            .find(|i| &i.image_id == id)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    "InvalidImageId.NotFound",
                    format!("no {kind} image {id} in {region}"),
                )
            })
    }

    fn price(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Price> {
        let image = self.image(region, kind, id)?;
        let windows = image.platform == "Windows";
        let (charge_type, reason) = match kind {
            ImageKind::Marketplace => (
                ChargeType::MarketplaceFee,
                "marketplace image: its provider sets the fee (see market.cloud.tencent.com); the API does not report it".to_string(),
            ),
            _ if windows && !is_mainland(region) => (
                ChargeType::LicenseFee,
                format!("Windows images carry a license fee outside mainland China ({region}); the amount is on the instance purchase page, the API does not report it"),
            ),
            ImageKind::Public => (ChargeType::Free, "free: public images cost nothing beyond the instance".to_string()),
            _ => (
                ChargeType::Free,
                "no license fee known: a custom image inherits the fee of the image it was made from, which the API does not report".to_string(),
            ),
        };
        Ok(Price {
            image_id: id.clone(),
            region: region.to_string(),
            free: charge_type == ChargeType::Free,
            charge_type,
            fee: None,
            reason,
        })
    }

    fn quota(&self, region: &str) -> Result<Quota> {
        self.region(region)?;
        let answer = self.client.call(region, "DescribeImageQuota", &json!({}))?;
        Ok(Quota {
            custom_image_quota: answer
                .get("ImageNumQuota")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            custom_images_used: self.images_of(region, ImageKind::Custom)?.len() as u64,
            share_limit_per_image: SHARE_LIMIT,
        })
    }

    fn import_os(&self, region: &str) -> Result<ImportImageOs> {
        self.region(region)?;
        let answer = self
            .client
            .call(region, "DescribeImportImageOs", &json!({}))?;
        decode(
            json!({
                "ImportImageOsListSupported": answer.get("ImportImageOsListSupported").cloned().unwrap_or(json!({"Windows": [], "Linux": []})),
                "ImportImageOsVersionSet": answer.get("ImportImageOsVersionSet").cloned().unwrap_or(json!([])),
            }),
            "DescribeImportImageOs answer",
        )
    }

    fn list_instances(&self, region: &str) -> Result<Vec<InstanceEntry>> {
        Ok(self
            .instances_of(region)?
            .iter()
            .map(|i| InstanceEntry {
                instance_id: i.instance_id.clone(),
                created_time: i.created_time.clone(),
            })
            .collect())
    }

    fn instance(&self, region: &str, id: &InstanceId) -> Result<Instance> {
        self.instances_of(region)?
            .iter()
            .find(|i| &i.instance_id == id)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    "InvalidInstanceId.NotFound",
                    format!("no instance {id} in {region}"),
                )
            })
    }

    fn run_instances(
        &self,
        region: &str,
        _kind: ImageKind,
        image: &ImageId,
        spec: &LaunchSpec,
    ) -> Result<Vec<InstanceId>> {
        let zone = match &spec.placement {
            Some(p) => p.zone.clone(),
            None => {
                // RunInstances needs a zone: the region's first available one.
                let zones = self.client.call(region, "DescribeZones", &json!({}))?;
                zones
                    .get("ZoneSet")
                    .and_then(Value::as_array)
                    .and_then(|set| {
                        set.iter()
                            .find(|z| {
                                z.get("ZoneState").and_then(Value::as_str) == Some("AVAILABLE")
                            })
                            .and_then(|z| z.get("Zone").and_then(Value::as_str))
                            .map(str::to_owned)
                    })
                    .ok_or_else(|| {
                        Error::new(
                            "InvalidZone.MismatchRegion",
                            format!("no available zone in {region}"),
                        )
                    })?
            }
        };
        // The API's idempotency token: a RunInstances repeated by any path launches once.
        let token = format!(
            "imagefs-{}-{}",
            image,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let mut params = json!({
            "ImageId": image.as_str(),
            "InstanceCount": spec.instance_count.unwrap_or(1),
            "Placement": {"Zone": zone},
            "ClientToken": token,
        });
        if let Some(name) = &spec.instance_name {
            params["InstanceName"] = json!(name);
        }
        if let Some(t) = &spec.instance_type {
            params["InstanceType"] = json!(t);
        }
        if let Some(c) = &spec.instance_charge_type {
            params["InstanceChargeType"] = json!(c);
        }
        let answer = self.write(region, "RunInstances", params)?;
        answer
            .get("InstanceIdSet")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| i.as_str().and_then(|s| InstanceId::parse(s).ok()))
                    .collect()
            })
            .ok_or_else(|| Error::internal("RunInstances gave no InstanceIdSet"))
    }

    fn create_image(
        &self,
        region: &str,
        instance: &InstanceId,
        spec: &CreateImageSpec,
    ) -> Result<ImageId> {
        let mut params = json!({"InstanceId": instance.as_str(), "ImageName": spec.image_name});
        if let Some(d) = &spec.image_description {
            params["ImageDescription"] = json!(d);
        }
        if let Some(f) = &spec.force_poweroff {
            params["ForcePoweroff"] = json!(f);
        }
        if let Some(s) = &spec.sysprep {
            params["Sysprep"] = json!(s);
        }
        let answer = self.write(region, "CreateImage", params)?;
        let id = answer
            .get("ImageId")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::internal("CreateImage gave no ImageId"))?;
        ImageId::parse(id)
    }

    fn reset_instance(&self, region: &str, instance: &InstanceId, image: &ImageId) -> Result<()> {
        self.write(
            region,
            "ResetInstance",
            json!({"InstanceId": instance.as_str(), "ImageId": image.as_str()}),
        )?;
        Ok(())
    }

    fn terminate_instance(&self, region: &str, instance: &InstanceId) -> Result<()> {
        self.write(
            region,
            "TerminateInstances",
            json!({"InstanceIds": [instance.as_str()]}),
        )?;
        Ok(())
    }

    fn share_accounts(&self, region: &str, image: &ImageId) -> Result<Vec<AccountId>> {
        self.region(region)?;
        let answer = self.client.call(
            region,
            "DescribeImageSharePermission",
            &json!({"ImageId": image.as_str()}),
        )?;
        Ok(answer
            .get("SharePermissionSet")
            .and_then(Value::as_array)
            .map(|set| {
                set.iter()
                    .filter_map(|p| {
                        p.get("AccountId")
                            .and_then(Value::as_str)
                            .and_then(|a| AccountId::parse(a).ok())
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn modify_image(
        &self,
        region: &str,
        image: &ImageId,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<()> {
        let mut params = json!({"ImageId": image.as_str()});
        if let Some(n) = name {
            params["ImageName"] = json!(n);
        }
        if let Some(d) = description {
            params["ImageDescription"] = json!(d);
        }
        self.write(region, "ModifyImageAttribute", params)?;
        Ok(())
    }

    fn share_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        let ids: Vec<&str> = accounts.iter().map(AccountId::as_str).collect();
        self.write(
            region,
            "ModifyImageSharePermission",
            json!({"ImageId": image.as_str(), "AccountIds": ids, "Permission": "SHARE"}),
        )?;
        Ok(())
    }

    fn unshare_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        let ids: Vec<&str> = accounts.iter().map(AccountId::as_str).collect();
        self.write(
            region,
            "ModifyImageSharePermission",
            json!({"ImageId": image.as_str(), "AccountIds": ids, "Permission": "CANCEL"}),
        )?;
        Ok(())
    }

    fn sync_images(
        &self,
        region: &str,
        _kind: ImageKind,
        image: &ImageId,
        destinations: &[String],
    ) -> Result<Vec<(String, ImageId)>> {
        let answer = self.write(
            region,
            "SyncImages",
            json!({"ImageIds": [image.as_str()], "DestinationRegions": destinations, "ImageSetRequired": true}),
        )?;
        Ok(answer
            .get("ImageSet")
            .and_then(Value::as_array)
            .map(|set| {
                set.iter()
                    .filter_map(|s| {
                        let r = s.get("Region").and_then(Value::as_str)?;
                        let id = ImageId::parse(s.get("ImageId").and_then(Value::as_str)?).ok()?;
                        Some((r.to_string(), id))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn delete_image(&self, region: &str, image: &ImageId) -> Result<()> {
        self.write(
            region,
            "DeleteImages",
            json!({"ImageIds": [image.as_str()]}),
        )?;
        Ok(())
    }

    fn import_image(
        &self,
        region: &str,
        spec: &ImportImageSpec,
        _caller: &Caller,
    ) -> Result<Option<ImageId>> {
        let mut params = json!({
            "ImageName": spec.image_name,
            "ImageUrl": spec.image_url,
            "OsType": spec.os_type,
            "OsVersion": spec.os_version,
            "Architecture": spec.architecture,
            "Force": spec.force,
            "DryRun": spec.dry_run,
        });
        for (name, value) in [
            ("ImageDescription", &spec.image_description),
            ("LicenseType", &spec.license_type),
            ("BootMode", &spec.boot_mode),
        ] {
            if let Some(v) = value {
                params[name] = json!(v);
            }
        }
        let answer = self.write(region, "ImportImage", params)?;
        if spec.dry_run {
            return Ok(None);
        }
        let id = answer
            .get("ImageId")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::internal("ImportImage gave no ImageId"))?;
        Ok(Some(ImageId::parse(id)?))
    }
}

#[cfg(test)]
mod tests {
    //! Response parsing against the official example responses (tccli's examples.json).

    use super::*;

    fn example(action: &str) -> Value {
        let all: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/cvm-api-examples.json"))
                .unwrap();
        all[action]["Response"].clone()
    }

    #[test]
    fn describe_images_example_parses_into_an_image() {
        let set = example("DescribeImages")["ImageSet"].clone();
        let images: Vec<Image> = serde_json::from_value(set).unwrap();
        assert_eq!(images.len(), 1);
        let image = &images[0];
        assert_eq!(image.image_id.as_str(), "img-9qabwvbn");
        assert_eq!(image.image_type, "PUBLIC_IMAGE");
        assert_eq!(image.image_size, 50);
        assert_eq!(image.sync_percent, Some(20));
        assert_eq!(image.tags[0].key, "myKey");
        // Members this older answer lacks default.
        assert_eq!(image.image_family, "");
        assert!(!image.image_deprecated);
        assert!(crate::model::parse_api_time(&image.created_time).is_some());
    }

    #[test]
    fn describe_instances_example_parses_into_an_instance() {
        let first = example("DescribeInstances")["InstanceSet"][0].clone();
        let instance = instance_from_api(first).unwrap();
        assert_eq!(instance.instance_id.as_str(), "ins-xlsyru2j");
        assert_eq!(instance.image_id.as_str(), "img-8toqc6s3");
        assert_eq!(instance.placement.zone, "ap-guangzhou-3");
        assert_eq!(instance.instance_state, "RUNNING");
        assert_eq!(instance.cpu, 1);
        assert_eq!(
            instance.private_ip_addresses,
            vec!["172.16.32.78".to_string()]
        );
    }

    #[test]
    fn import_os_example_parses() {
        let answer = example("DescribeImportImageOs");
        let os: ImportImageOs = decode(
            json!({
                "ImportImageOsListSupported": answer["ImportImageOsListSupported"],
                "ImportImageOsVersionSet": answer["ImportImageOsVersionSet"],
            }),
            "example",
        )
        .unwrap();
        assert!(os
            .import_image_os_list_supported
            .linux
            .contains(&"CentOS".to_string()));
        assert!(os
            .import_image_os_version_set
            .iter()
            .any(|v| v.os_name == "CentOS" && v.os_versions.contains(&"7".to_string())));
    }

    #[test]
    fn mainland_regions_are_known() {
        assert!(is_mainland("ap-guangzhou"));
        assert!(is_mainland("ap-shenzhen-fsi"));
        assert!(!is_mainland("ap-hongkong"));
        assert!(!is_mainland("na-siliconvalley"));
    }
}
