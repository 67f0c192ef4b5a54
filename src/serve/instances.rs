//! Instances: RunInstances, DescribeInstances, ResetInstance and TerminateInstances.

use super::{params, Context};
use crate::error::Result;
use crate::model::api::{
    DescribeInstancesRequest, DescribeInstancesResponse, Lenient, ResetInstanceRequest,
    ResetInstanceResponse, RunInstancesRequest, RunInstancesResponse, TerminateInstancesRequest,
    TerminateInstancesResponse,
};
use crate::model::{ImageId, InstanceId, LaunchSpec, PlacementSpec};
use crate::service::ImageService;

pub(super) fn run_instances(
    cx: &Context,
    request: RunInstancesRequest,
) -> Result<RunInstancesResponse> {
    let region = cx.region()?;
    let image = ImageId::parse(&params::required(request.image_id, "ImageId")?)?;
    let kind = cx.kind_of(region, &image)?;
    let zone = request
        .placement
        .into_result()
        .ok()
        .and_then(|p| params::string(p.zone));
    let spec = LaunchSpec {
        instance_count: request.instance_count.valid().copied(),
        instance_name: params::string(request.instance_name),
        instance_type: params::string(request.instance_type),
        instance_charge_type: params::string(request.instance_charge_type),
        placement: zone.map(|zone| PlacementSpec {
            zone,
            project_id: None,
        }),
        image_id: None,
    };
    // A dry run checks everything and launches nothing: its answer is its RequestId only.
    let dry_run = params::flag(&request.dry_run, "DryRun")?;
    let ids = cx.service.dry_run_if(dry_run, || {
        cx.service.run_instances(region, kind, &image, &spec)
    })?;
    Ok(RunInstancesResponse {
        instance_id_set: (!dry_run).then_some(ids),
    })
}

/// By ID (unknown IDs are left out) or all, a page at a time.
pub(super) fn describe_instances(
    cx: &Context,
    request: DescribeInstancesRequest,
) -> Result<DescribeInstancesResponse> {
    let region = cx.region()?;
    let ids = params::string_list(request.instance_ids, "InstanceIds")?;
    let (offset, limit) = params::page(&request.offset, &request.limit)?;
    let mut instances = Vec::new();
    if ids.is_empty() {
        for entry in cx.service.list_instances(region)? {
            instances.push(cx.service.instance(region, &entry.instance_id)?);
        }
    } else {
        for id in &ids {
            if let Ok(instance) = cx.service.instance(region, &InstanceId::parse(id)?) {
                instances.push(instance);
            }
        }
    }
    Ok(DescribeInstancesResponse {
        total_count: instances.len() as u64,
        instance_set: instances
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(Lenient::Valid)
            .collect(),
    })
}

/// Reinstalls from `ImageId`, or from the instance's own image when none is given.
pub(super) fn reset_instance(
    cx: &Context,
    request: ResetInstanceRequest,
) -> Result<ResetInstanceResponse> {
    let region = cx.region()?;
    let instance = InstanceId::parse(&params::required(request.instance_id, "InstanceId")?)?;
    let image = match params::string(request.image_id) {
        Some(id) => ImageId::parse(&id)?,
        None => cx.service.instance(region, &instance)?.image_id,
    };
    cx.service.reset_instance(region, &instance, &image)?;
    Ok(ResetInstanceResponse {})
}

/// All the instances or none.
pub(super) fn terminate_instances(
    cx: &Context,
    request: TerminateInstancesRequest,
) -> Result<TerminateInstancesResponse> {
    let region = cx.region()?;
    let ids = params::id_list(request.instance_ids, "InstanceIds", InstanceId::parse)?;
    cx.service.terminate_instances(region, &ids)?;
    Ok(TerminateInstancesResponse {})
}
