//! Instances: RunInstances, DescribeInstances, DescribeInstancesStatus, ResetInstance and
//! TerminateInstances.

use super::{params, Context};
use crate::error::{Code, Error, Result};
use crate::model::api::{
    DescribeInstancesRequest, DescribeInstancesResponse, DescribeInstancesStatusRequest,
    DescribeInstancesStatusResponse, Lenient, ResetInstanceRequest, ResetInstanceResponse,
    RunInstancesRequest, RunInstancesResponse, TerminateInstancesRequest,
    TerminateInstancesResponse,
};
use crate::model::{ImageId, InstanceId};
use crate::service::ImageService;

/// The API requires the `ImageId` (a `LaunchTemplate` could stand for it, but the emulator
/// refuses those) and a `Placement` with its `Zone` (a `launch` does not: see
/// [`crate::local`]'s RunInstances).
pub(super) fn run_instances(
    cx: &Context,
    request: RunInstancesRequest,
) -> Result<RunInstancesResponse> {
    let region = cx.region()?;
    let named = request
        .image_id
        .as_deref()
        .ok_or_else(|| missing("ImageId"))?;
    let image = ImageId::parse(named)?;
    if request.placement.is_none() {
        return Err(missing("Placement"));
    }
    let kind = cx.kind_of(region, &image)?;
    // A dry run checks everything and launches nothing: its answer is its RequestId only.
    let dry_run = request.dry_run.unwrap_or(false);
    let ids = cx.service.run_instances(region, kind, &image, &request)?;
    Ok(RunInstancesResponse {
        instance_id_set: (!dry_run).then_some(ids),
    })
}

/// `MissingParameter` for the member `name`.
fn missing(name: &str) -> Error {
    Error::new(
        Code::MissingParameter,
        format!("The request is missing a required parameter `{name}`."),
    )
}

/// By ID (unknown IDs are left out), by filters, or all, a page at a time.
pub(super) fn describe_instances(
    cx: &Context,
    request: DescribeInstancesRequest,
) -> Result<DescribeInstancesResponse> {
    let region = cx.region()?;
    let ids = request.instance_ids.unwrap_or_default();
    let filters: Vec<(String, Vec<String>)> = request
        .filters
        .unwrap_or_default()
        .into_iter()
        .map(|filter| (filter.name, filter.values))
        .collect();
    let (offset, limit) = params::signed_page(request.offset, request.limit)?;
    let instances = cx.service.describe_instances(region, &ids, &filters)?;
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

/// The states of the instances named, or of all, a page at a time.
pub(super) fn describe_instances_status(
    cx: &Context,
    request: DescribeInstancesStatusRequest,
) -> Result<DescribeInstancesStatusResponse> {
    let region = cx.region()?;
    let ids = request.instance_ids.unwrap_or_default();
    let (offset, limit) = params::signed_page(request.offset, request.limit)?;
    let statuses = cx.service.describe_instances_status(region, &ids)?;
    Ok(DescribeInstancesStatusResponse {
        total_count: statuses.len() as u64,
        instance_status_set: statuses.into_iter().skip(offset).take(limit).collect(),
    })
}

/// Reinstalls from `ImageId`, or from the instance's own image when none is given.
pub(super) fn reset_instance(
    cx: &Context,
    request: ResetInstanceRequest,
) -> Result<ResetInstanceResponse> {
    let region = cx.region()?;
    let instance = InstanceId::parse(&request.instance_id)?;
    let image = match request.image_id.as_deref() {
        Some(id) => ImageId::parse(id)?,
        None => cx.service.instance(region, &instance)?.image_id,
    };
    cx.service.reset_instance(region, &instance, &image)?;
    Ok(ResetInstanceResponse {})
}

/// All the instances or none; an empty `InstanceIds` names none, and is refused as missing.
pub(super) fn terminate_instances(
    cx: &Context,
    request: TerminateInstancesRequest,
) -> Result<TerminateInstancesResponse> {
    let region = cx.region()?;
    if request.instance_ids.is_empty() {
        return Err(missing("InstanceIds"));
    }
    let ids = params::ids(&request.instance_ids, InstanceId::parse)?;
    cx.service.terminate_instances(region, &ids)?;
    Ok(TerminateInstancesResponse {})
}
