//! Copies of an image in other regions: SyncImages.

use super::{params, Context};
use crate::error::{Code, Error, Result};
use crate::model::api::{SyncImage, SyncImagesRequest, SyncImagesResponse};
use crate::model::ImageId;
use crate::service::ImageService;

/// One image per call (many destinations), as the API documents; the answer always lists the
/// copies.
pub(super) fn sync_images(cx: &Context, request: SyncImagesRequest) -> Result<SyncImagesResponse> {
    let region = cx.region()?;
    let ids = params::string_list(request.image_ids, "ImageIds")?;
    let [id] = ids.as_slice() else {
        return Err(Error::new(
            Code::InvalidParameterValueLimitExceeded,
            "SyncImages copies one image per request: give exactly one ImageIds value",
        ));
    };
    let destinations = params::string_list(request.destination_regions, "DestinationRegions")?;
    let image = ImageId::parse(id)?;
    let kind = cx.kind_of(region, &image)?;
    let copies = cx
        .service
        .sync_images(region, kind, &image, &destinations)?;
    Ok(SyncImagesResponse {
        image_set: copies
            .into_iter()
            .map(|(region, image_id)| SyncImage { image_id, region })
            .collect(),
    })
}
