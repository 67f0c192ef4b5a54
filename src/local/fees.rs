//! What launching from an image costs: the Windows license fee outside mainland China, a
//! marketplace provider's fee (inherited by images made from a paid image), or nothing.

use super::rows::ImageRow;
use super::LocalService;
use crate::error::Result;
use crate::model::{ChargeType, ImageId, ImageKind, Price};

impl LocalService {
    /// What launching from a stored image costs, seen as `kind`.
    pub(super) fn price_of(
        &self,
        row: ImageRow,
        region: &str,
        kind: ImageKind,
        id: &ImageId,
    ) -> Result<Price> {
        let region_info = self.region(region)?;
        let (charge_type, fee, reason) = if row.image.platform == "Windows" && !region_info.mainland
        {
            (
                ChargeType::LicenseFee,
                Some(self.catalog.windows_license_fee.clone()),
                format!(
                    "Windows Server license fee: Windows images carry a license fee in regions outside mainland China ({region})"
                ),
            )
        } else if let Some(fee) = row.fee {
            let provider = row
                .provider
                .unwrap_or_else(|| row.image.image_creator.clone());
            let reason = match kind {
                ImageKind::Marketplace => format!("marketplace image: fee set by its provider, {provider}"),
                _ => format!("made from a paid marketplace image of {provider}: the provider's fee is inherited"),
            };
            (ChargeType::MarketplaceFee, Some(fee), reason)
        } else {
            let reason = match (kind, row.image.platform == "Windows") {
                (ImageKind::Marketplace, _) => "free marketplace image".to_string(),
                (_, true) => format!(
                    "free: the Windows license is included in mainland China regions ({region})"
                ),
                (ImageKind::Public, false) => {
                    "free: public images cost nothing beyond the instance".to_string()
                }
                _ => "free: no license or provider fee".to_string(),
            };
            (ChargeType::Free, None, reason)
        };
        Ok(Price {
            image_id: id.clone(),
            region: region.to_string(),
            free: charge_type == ChargeType::Free,
            charge_type,
            fee,
            reason,
        })
    }
}

/// The price of an image this account sees as `kind` (`price.json`).
pub(super) fn price(
    service: &LocalService,
    region: &str,
    kind: ImageKind,
    id: &ImageId,
) -> Result<Price> {
    let row = service.visible_row(region, kind, id)?;
    service.price_of(row, region, kind, id)
}
