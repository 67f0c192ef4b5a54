//! The real backend: Tencent Cloud's CVM API 2017-03-12. The rules stay in the cloud: this
//! backend reports what the API answers and re-checks nothing itself.

pub mod client;
pub mod sign;
mod tags;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Code, Error, Result};
use crate::model::api::{self, Action, Filter, Lenient};
use crate::model::tags::TaggedResource;
use crate::model::Tag;
use crate::model::{
    AccountId, AccountInfo, ChargeType, CopySpec, CreateImageSpec, ExportSpec, ExportTask, Image,
    ImageChanges, ImageEntry, ImageId, ImageKind, ImportImageOs, ImportImageSpec, Instance,
    InstanceEntry, InstanceId, LaunchSpec, Price, Quota, Region,
};
use crate::service::{Caller, ImageService};
pub use client::{Client, Credentials};

/// How long a listing answers `ls -l`, `find` and per-file reads before the API is asked again.
const LISTING_TTL: Duration = Duration::from_secs(1);

/// Accounts one image may be shared with today (the cloud's figure; the API has no call for it).
const SHARE_LIMIT: u64 = 500;

/// The common code the cloud may answer a dry run that passed with (a code of every action,
/// not one imagefs raises).
const DRY_RUN_PASSED: &str = "DryRunOperation";

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

/// A Describe action that answers a page at a time (`Offset`, `Limit`, `TotalCount`).
trait Paged: Action {
    /// What its answer lists.
    type Item;
    fn set_page(&mut self, offset: usize, limit: u64);
    /// The answer's items and `TotalCount`.
    fn page(answer: Self::Response) -> (Vec<Self::Item>, u64);
}

impl Paged for api::DescribeImagesRequest {
    type Item = Lenient<Image>;
    fn set_page(&mut self, offset: usize, limit: u64) {
        self.offset = Some(offset as u64);
        self.limit = Some(limit);
    }
    fn page(answer: api::DescribeImagesResponse) -> (Vec<Lenient<Image>>, u64) {
        (answer.image_set, answer.total_count)
    }
}

impl Paged for api::DescribeInstancesRequest {
    type Item = Lenient<Instance>;
    fn set_page(&mut self, offset: usize, limit: u64) {
        self.offset = Some(i64::try_from(offset).unwrap_or(i64::MAX));
        self.limit = Some(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    fn page(answer: api::DescribeInstancesResponse) -> (Vec<Lenient<Instance>>, u64) {
        (answer.instance_set, answer.total_count)
    }
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
        let answer = client.invoke("", &api::DescribeRegionsRequest {})?;
        let regions = answer
            .region_set
            .into_iter()
            .filter(|r| !r.region.is_empty())
            .map(|r| Region {
                mainland: is_mainland(&r.region),
                region: r.region,
                region_name: r.region_name,
                region_state: r.region_state,
            })
            .collect();
        let account = match account {
            Some(a) => a,
            None => {
                let who = client.invoke("ap-guangzhou", &api::GetCallerIdentityRequest {})?;
                let id = who
                    .account_id
                    .ok_or_else(|| Error::internal("GetCallerIdentity gave no AccountId"))?;
                AccountId::parse(&id)?
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
    fn all_pages<A: Paged>(&self, region: &str, mut request: A) -> Result<Vec<A::Item>> {
        let mut out = Vec::new();
        loop {
            request.set_page(out.len(), 100);
            let (page, total) = A::page(self.client.invoke(region, &request)?);
            let empty = page.is_empty();
            out.extend(page);
            if empty || out.len() >= total as usize {
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
        let request = api::DescribeImagesRequest {
            filters: Some(vec![Filter::new(
                "image-type",
                vec![api_type(kind).to_string()],
            )]),
            ..Default::default()
        };
        let pages = match self.all_pages(region, request) {
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
            .filter_map(|item| match item.into_result() {
                Ok(image) => Some(image),
                Err(raw) => {
                    if let Err(e) = serde_json::from_value::<Image>(raw) {
                        log::warn!("an image of {region} could not be read and is not shown: {e}");
                    }
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
        let pages = self.all_pages(region, api::DescribeInstancesRequest::default())?;
        let mut list: Vec<Instance> = pages
            .into_iter()
            .filter_map(|item| item.into_result().ok())
            .collect();
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

    fn write<A: Action>(&self, region: &str, request: &A) -> Result<A::Response> {
        self.region(region)?;
        let result = self.client.invoke(region, request);
        self.refresh();
        result
    }

    /// Sends a dry run (a request whose `DryRun` is true): the cloud checks it and does
    /// nothing. It answers a check that passes with its `RequestId`, as the CVM documents
    /// show, or with the common code `DryRunOperation`; either is a dry run that passed.
    fn dry_run<A: Action>(&self, region: &str, request: &A) -> Result<()> {
        match self.write(region, request) {
            Err(e) if e.code() != DRY_RUN_PASSED => Err(e),
            _ => Ok(()),
        }
    }

    /// The region's first available zone (RunInstances needs one).
    fn available_zone(&self, region: &str) -> Result<String> {
        let zones = self.client.invoke(region, &api::DescribeZonesRequest {})?;
        zones
            .zone_set
            .into_iter()
            .find(|z| z.zone_state == "AVAILABLE")
            .map(|z| z.zone)
            .filter(|zone| !zone.is_empty())
            .ok_or_else(|| {
                Error::new(
                    Code::InvalidZoneMismatchRegion,
                    format!("no available zone in {region}"),
                )
            })
    }
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
                    Code::InvalidImageIdNotFound,
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
        let answer = self
            .client
            .invoke(region, &api::DescribeImageQuotaRequest {})?;
        Ok(Quota {
            custom_image_quota: answer.image_num_quota,
            custom_images_used: self.images_of(region, ImageKind::Custom)?.len() as u64,
            share_limit_per_image: SHARE_LIMIT,
        })
    }

    fn import_os(&self, region: &str) -> Result<ImportImageOs> {
        self.region(region)?;
        let answer = self
            .client
            .invoke(region, &api::DescribeImportImageOsRequest {})?;
        Ok(answer.into())
    }

    fn list_instances(&self, region: &str) -> Result<Vec<InstanceEntry>> {
        Ok(self
            .instances_of(region)?
            .iter()
            .map(|i| InstanceEntry {
                instance_id: i.instance_id.clone(),
                instance_name: i.instance_name.clone(),
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
                    Code::InvalidInstanceIdNotFound,
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
        let placement = match &spec.placement {
            Some(p) => p.clone(),
            None => api::Placement {
                zone: self.available_zone(region)?,
                ..Default::default()
            },
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
        // The launch is a RunInstances request already: sent whole, with the image and zone.
        let request = api::RunInstancesRequest {
            image_id: Some(image.to_string()),
            instance_count: Some(spec.instance_count.unwrap_or(1)),
            placement: Some(placement),
            client_token: Some(spec.client_token.clone().unwrap_or(token)),
            ..spec.clone()
        };
        if spec.dry_run == Some(true) {
            self.dry_run(region, &request)?;
            return Ok(Vec::new());
        }
        self.write(region, &request)?
            .instance_id_set
            .ok_or_else(|| Error::internal("RunInstances gave no InstanceIdSet"))
    }

    fn create_image(
        &self,
        region: &str,
        instance: &InstanceId,
        spec: &CreateImageSpec,
    ) -> Result<Option<ImageId>> {
        let request = api::CreateImageRequest {
            instance_id: Some(instance.to_string()),
            ..spec.clone()
        };
        if spec.dry_run == Some(true) {
            self.dry_run(region, &request)?;
            return Ok(None);
        }
        let id = self
            .write(region, &request)?
            .image_id
            .ok_or_else(|| Error::internal("CreateImage gave no ImageId"))?;
        ImageId::parse(&id).map(Some)
    }

    fn reset_instance(&self, region: &str, instance: &InstanceId, image: &ImageId) -> Result<()> {
        let request = api::ResetInstanceRequest {
            instance_id: instance.to_string(),
            image_id: Some(image.to_string()),
            ..Default::default()
        };
        self.write(region, &request)?;
        Ok(())
    }

    fn terminate_instance(&self, region: &str, instance: &InstanceId) -> Result<()> {
        let request = api::TerminateInstancesRequest {
            instance_ids: vec![instance.to_string()],
            ..Default::default()
        };
        self.write(region, &request)?;
        Ok(())
    }

    fn share_accounts(&self, region: &str, image: &ImageId) -> Result<Vec<AccountId>> {
        self.region(region)?;
        let request = api::DescribeImageSharePermissionRequest {
            image_id: image.to_string(),
        };
        let answer = self.client.invoke(region, &request)?;
        Ok(answer
            .share_permission_set
            .into_iter()
            .map(|p| p.account_id)
            .collect())
    }

    fn modify_image(&self, region: &str, image: &ImageId, changes: &ImageChanges) -> Result<()> {
        let request = api::ModifyImageAttributeRequest {
            image_id: image.to_string(),
            image_name: changes.name.clone(),
            image_description: changes.description.clone(),
            image_family: changes.family.clone(),
            image_deprecated: changes.deprecated,
        };
        self.write(region, &request)?;
        Ok(())
    }

    fn image_from_family(&self, region: &str, family: &str) -> Result<Option<Image>> {
        self.region(region)?;
        let request = api::DescribeImageFromFamilyRequest {
            image_family: Some(family.to_string()),
        };
        Ok(self.client.invoke(region, &request)?.image)
    }

    fn families(&self, region: &str) -> Result<Vec<(String, ImageId)>> {
        // The API lists no families: those of the account's custom images, each asked for
        // the image it stands for.
        let mut names: Vec<String> = self
            .images_of(region, ImageKind::Custom)?
            .iter()
            .map(|i| i.image_family.clone())
            .filter(|f| !f.is_empty())
            .collect();
        names.sort();
        names.dedup();
        let mut out = Vec::with_capacity(names.len());
        for family in names {
            if let Some(image) = self.image_from_family(region, &family)? {
                out.push((family, image.image_id));
            }
        }
        Ok(out)
    }

    fn export_images(&self, region: &str, spec: &ExportSpec) -> Result<Option<ExportTask>> {
        if spec.dry_run == Some(true) {
            self.dry_run(region, spec)?;
            return Ok(None);
        }
        let answer = self.write(region, spec)?;
        let cos_paths = answer.cos_paths.unwrap_or_default();
        Ok(Some(ExportTask {
            task_id: answer.task_id.unwrap_or_default(),
            files: cos_paths
                .iter()
                .map(|p| format!("cos://{}{p}", spec.bucket_name))
                .collect(),
            cos_paths,
        }))
    }

    fn share_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        self.write(region, &share_request(image, accounts, "SHARE"))?;
        Ok(())
    }

    fn unshare_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        self.write(region, &share_request(image, accounts, "CANCEL"))?;
        Ok(())
    }

    fn sync_images(
        &self,
        region: &str,
        _kind: ImageKind,
        image: &ImageId,
        copy: &CopySpec,
    ) -> Result<Vec<(String, ImageId)>> {
        let request = api::SyncImagesRequest {
            image_ids: vec![image.to_string()],
            image_set_required: Some(true),
            ..copy.clone()
        };
        if copy.dry_run == Some(true) {
            self.dry_run(region, &request)?;
            return Ok(Vec::new());
        }
        Ok(self
            .write(region, &request)?
            .image_set
            .unwrap_or_default()
            .into_iter()
            .map(|copy| (copy.region, copy.image_id))
            .collect())
    }

    fn delete_image(&self, region: &str, image: &ImageId) -> Result<()> {
        let request = api::DeleteImagesRequest {
            image_ids: vec![image.to_string()],
            ..Default::default()
        };
        self.write(region, &request)?;
        Ok(())
    }

    fn import_image(
        &self,
        region: &str,
        spec: &ImportImageSpec,
        _caller: &Caller,
    ) -> Result<Option<ImageId>> {
        let request = api::ImportImageRequest {
            image_name: spec.image_name.clone(),
            image_url: spec.image_url.clone(),
            os_type: spec.os_type.clone(),
            os_version: spec.os_version.clone(),
            architecture: spec.architecture.clone(),
            image_description: spec.image_description.clone(),
            force: Some(spec.force),
            dry_run: Some(spec.dry_run),
            license_type: spec.license_type.clone(),
            boot_mode: spec.boot_mode.clone(),
            tag_specification: (!spec.tags.is_empty()).then(|| spec.tags.clone()),
            image_family: spec.image_family.clone(),
            ..Default::default()
        };
        if spec.dry_run {
            self.dry_run(region, &request)?;
            return Ok(None);
        }
        let id = self
            .write(region, &request)?
            .image_id
            .ok_or_else(|| Error::internal("ImportImage gave no ImageId"))?;
        Ok(Some(ImageId::parse(&id)?))
    }

    fn set_tags(&self, resource: &TaggedResource, tags: &[Tag]) -> Result<()> {
        self.replace_tags(resource, tags)
    }

    fn tag_resources(&self, resources: &[TaggedResource], tags: &[Tag]) -> Result<()> {
        self.tag(resources, tags)
    }

    fn untag_resources(&self, resources: &[TaggedResource], keys: &[String]) -> Result<()> {
        self.untag(resources, keys)
    }

    fn modify_resource_tags(
        &self,
        resource: &TaggedResource,
        replace: &[Tag],
        delete: &[String],
    ) -> Result<()> {
        self.modify(resource, replace, delete)
    }

    fn resource_tags(
        &self,
        resources: &[TaggedResource],
    ) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
        self.tags_of(resources)
    }

    fn tagged_resources(&self) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
        self.all_tagged()
    }
}

/// ModifyImageSharePermission for some accounts: SHARE or CANCEL.
fn share_request(
    image: &ImageId,
    accounts: &[AccountId],
    permission: &str,
) -> api::ModifyImageSharePermissionRequest {
    api::ModifyImageSharePermissionRequest {
        image_id: image.to_string(),
        account_ids: accounts.iter().map(|a| a.as_str().to_owned()).collect(),
        permission: permission.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_regions_are_known() {
        assert!(is_mainland("ap-guangzhou"));
        assert!(is_mainland("ap-shenzhen-fsi"));
        assert!(!is_mainland("ap-hongkong"));
        assert!(!is_mainland("na-siliconvalley"));
    }
}
