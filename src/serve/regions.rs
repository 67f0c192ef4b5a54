//! Regions and zones: DescribeRegions and DescribeZones.

use super::Context;
use crate::error::Result;
use crate::model::api::{
    DescribeRegionsRequest, DescribeRegionsResponse, DescribeZonesRequest, DescribeZonesResponse,
    RegionInfo, ZoneInfo,
};
use crate::service::ImageService;

/// Every region, whatever region the request names.
pub(super) fn describe_regions(
    cx: &Context,
    _request: DescribeRegionsRequest,
) -> Result<DescribeRegionsResponse> {
    let regions: Vec<RegionInfo> = cx
        .service
        .regions()?
        .into_iter()
        .map(|r| RegionInfo {
            region: r.region,
            region_name: r.region_name,
            region_state: r.region_state,
        })
        .collect();
    Ok(DescribeRegionsResponse {
        total_count: regions.len() as u64,
        region_set: regions,
    })
}

/// The emulator's one zone of a region, `<region>-1`.
pub(super) fn describe_zones(
    cx: &Context,
    _request: DescribeZonesRequest,
) -> Result<DescribeZonesResponse> {
    let region = cx.region()?;
    let zone = format!("{region}-1");
    Ok(DescribeZonesResponse {
        total_count: 1,
        zone_set: vec![ZoneInfo {
            zone: zone.clone(),
            zone_name: zone,
            zone_id: "100001".to_string(),
            zone_state: "AVAILABLE".to_string(),
        }],
    })
}
