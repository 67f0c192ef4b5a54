//! Copies of an image in other regions: SyncImages.

use super::{params, Context};
use crate::error::{Code, Error, Result};
use crate::model::api::{SyncImage, SyncImagesRequest, SyncImagesResponse};
use crate::model::ImageId;
use crate::service::ImageService;

/// One image per call (many destinations), as the API documents. The answer lists the copies
/// when `ImageSetRequired` asks for them (an empty `ImageSet` otherwise, as the API's example
/// shows); a dry run answers with its `RequestId` only.
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
    let dry_run = params::flag(&request.dry_run, "DryRun")?;
    let name = params::string(request.image_name);
    let listed = params::flag(&request.image_set_required, "ImageSetRequired")?;
    let image = ImageId::parse(id)?;
    let kind = cx.kind_of(region, &image)?;
    let copies = cx.service.dry_run_if(dry_run, || {
        cx.service
            .sync_images(region, kind, &image, &destinations, name.as_deref())
    })?;
    let image_set = match (dry_run, listed) {
        (true, _) => None,
        (false, false) => Some(Vec::new()),
        (false, true) => Some(
            copies
                .into_iter()
                .map(|(region, image_id)| SyncImage { image_id, region })
                .collect(),
        ),
    };
    Ok(SyncImagesResponse { image_set })
}
