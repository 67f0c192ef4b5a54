//! The API error codes imagefs raises, named once. Each code is written here and nowhere else
//! in the crate: the rest of the code names it (`Code::InvalidImageIdNotFound`), so a typo does
//! not compile. Each entry says which rule raises it and the errno the filesystem returns for it
//! (the table "condition | example codes | errno" in docs/SEMANTICS.md, checked below).
//! Each action refuses a condition with the code its documentation lists for it (the table
//! "action | condition | code | errno" there, checked below against the lists of
//! tests/fixtures/cvm-api-error-codes.json).
//!
//! Codes the real cloud sends that are not named here travel as text (`Error::from_cloud`) and
//! get their errno from their family (`errno_for_code`).

/// Defines [`Code`] from one table: variant, wire text, errno, and the rule in its doc comment.
macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $text:literal, $errno:ident; )*) => {
        /// An API error code of Tencent Cloud's CVM API (and of `imagefs serve`'s transport).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* #[doc = concat!("\n\n`", $text, "`, errno `", stringify!($errno), "`.")] $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as the API spells it.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }

            /// The errno the filesystem returns for a refusal with this code.
            pub const fn errno(self) -> i32 {
                match self { $(Code::$variant => libc::$errno,)* }
            }

            /// The named code spelled `text`, if there is one.
            pub fn parse(text: &str) -> Option<Code> {
                match text { $($text => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    // Authentication of `imagefs serve` requests (src/serve).
    /// The request is signed neither with TC3-HMAC-SHA256 (an Authorization header) nor the
    /// older way (a Signature parameter), or its Authorization header is malformed.
    AuthFailureInvalidAuthorization = "AuthFailure.InvalidAuthorization", EACCES;
    /// The SecretId is not a key of this store or was revoked (serve), or no credentials are
    /// set (cloud client).
    AuthFailureSecretIdNotFound = "AuthFailure.SecretIdNotFound", EACCES;
    /// The request's timestamp is more than five minutes from the server's clock.
    AuthFailureSignatureExpire = "AuthFailure.SignatureExpire", EACCES;
    /// The signature, or the credential's date or service, does not match the request.
    AuthFailureSignatureFailure = "AuthFailure.SignatureFailure", EACCES;
    /// Temporary credentials came without their token, with another one, or after they
    /// expired; or a token came with a permanent key pair. (The cloud documents this code for a
    /// wrong token; its code for an expired one is not documented in imagefs's sources.)
    AuthFailureTokenFailure = "AuthFailure.TokenFailure", EACCES;

    // Sharing (ModifyImageSharePermission, DescribeImageSharePermission).
    /// The image is already shared with that account.
    FailedOperationAccountAlreadyExists = "FailedOperation.AccountAlreadyExists", EEXIST;
    /// A BYOL (bring your own license) image cannot be shared.
    FailedOperationBYOLImageShareFailed = "FailedOperation.BYOLImageShareFailed", EPERM;
    /// Sharing with the image's own owner.
    InvalidAccountIsYourSelf = "InvalidAccountIs.YourSelf", EINVAL;
    /// The account to share with (or to act as) does not exist in the store, or the image is
    /// not shared with it (unsharing). Also a text that is not an account ID (5 to 20
    /// digits): the cloud's doc has this code for an invalid account ID, and the filesystem
    /// keeps `EINVAL` for it (`Error::with_errno`), a malformed value.
    InvalidAccountIdNotFound = "InvalidAccountId.NotFound", ENOENT;
    /// More accounts than the store's share limit per image.
    OverQuota = "OverQuota", EDQUOT;
    /// ModifyImageSharePermission and DescribeImageSharePermission of an image the account
    /// sees but does not own (a public or marketplace image, one shared with it).
    UnauthorizedOperationImageNotBelongToAccount = "UnauthorizedOperation.ImageNotBelongToAccount", EPERM;

    // Custom images (CreateImage, ImportImage, SyncImages, DeleteImages).
    /// The region already holds the account's custom-image quota.
    ImageQuotaLimitExceeded = "ImageQuotaLimitExceeded", EDQUOT;
    /// Another custom image of the account in the region has that name.
    InvalidImageNameDuplicate = "InvalidImageName.Duplicate", EEXIST;
    /// DeleteImages and SyncImages: the image is not in a state the operation accepts
    /// (creating, copying, importing).
    InvalidImageIdIncorrectState = "InvalidImageId.IncorrectState", EBUSY;
    /// The image is still shared: it is deleted once unshared.
    InvalidImageIdInShared = "InvalidImageId.InShared", EBUSY;
    /// The text is not an image ID (`img-` and eight lowercase letters or digits).
    InvalidImageIdMalformed = "InvalidImageId.Malformed", EINVAL;
    /// No image with that ID is visible to the account in the region.
    InvalidImageIdNotFound = "InvalidImageId.NotFound", ENOENT;
    /// ImportImage: the OsType is not one of import-os.json's.
    InvalidImageOsTypeUnsupported = "InvalidImageOsType.Unsupported", EINVAL;
    /// ImportImage: the OsVersion is not one of the OsType's in import-os.json.
    InvalidImageOsVersionUnsupported = "InvalidImageOsVersion.Unsupported", EINVAL;
    /// ImportImage: an ISO disk is imported only with `Force`.
    InvalidParameterValueISOMustImportByForce = "InvalidParameterValue.ISOMustImportByForce", EINVAL;
    /// ImportImage: BootMode is not `Legacy BIOS` or `UEFI`.
    InvalidParameterValueInvalidBootMode = "InvalidParameterValue.InvalidBootMode", EINVAL;
    /// ImportImage: LicenseType is not `TencentCloud` or `BYOL`.
    InvalidParameterValueInvalidLicenseType = "InvalidParameterValue.InvalidLicenseType", EINVAL;
    /// ImportImage: the ImageUrl cannot be read (outside the import directory, missing, not a disk).
    InvalidParameterInvalidParameterUrlError = "InvalidParameter.InvalidParameterUrlError", EINVAL;
    /// The image does not take the operation: SyncImages copies only custom and shared
    /// images; public and marketplace images are neither shared nor deleted.
    InvalidParameterValueInvalidImageId = "InvalidParameterValue.InvalidImageId", EINVAL;
    /// DeleteImages of an image shared with the account: only its owner deletes it. `EPERM`,
    /// as for every change of an image shared with you.
    InvalidParameterValueInvalidImageIdIsShared = "InvalidParameterValue.InvalidImageIdIsShared", EPERM;
    /// SyncImages: the destination is the image's own region.
    InvalidParameterValueInvalidRegion = "InvalidParameterValue.InvalidRegion", EINVAL;
    /// SyncImages: the destination region takes no copies of this image (a shared image is
    /// copied into its own region only).
    InvalidRegionUnavailable = "InvalidRegion.Unavailable", EINVAL;

    // Families (CreateImage, ImportImage, ModifyImageAttribute) and ExportImages.
    /// An ImageFamily that breaks imagefs's family-name rule (the cloud has the code but
    /// publishes no rule; see docs/SEMANTICS.md, "Image families").
    InvalidParameterValueInvalidImageFamily = "InvalidParameterValue.InvalidImageFamily", EINVAL;
    /// ExportImages: no bucket of that name (locally, no such folder under the export
    /// directory, or no export directory at all).
    InvalidParameterValueBucketNotFound = "InvalidParameterValue.BucketNotFound", ENOENT;
    /// ExportImages: FileNamePrefixList does not give one usable prefix per image.
    InvalidParameterValueInvalidFileNamePrefixList = "InvalidParameterValue.InvalidFileNamePrefixList", EINVAL;
    /// ExportImages: the bucket's folder cannot be written.
    InvalidParameterValueInvalidBucketPermissionForExport = "InvalidParameterValue.InvalidBucketPermissionForExport", EACCES;
    /// ExportImages without ImageIds (SnapshotIds is not open to users).
    InvalidParameterImageIdsSnapshotIdsMustOne = "InvalidParameter.ImageIdsSnapshotIdsMustOne", EINVAL;
    /// ExportImages of a public image (or a marketplace one).
    UnsupportedOperationPublicImageExportUnsupported = "UnsupportedOperation.PublicImageExportUnsupported", EPERM;
    /// ExportImages of an image shared with the account: only its owner exports it.
    UnsupportedOperationSharedImageExportUnsupported = "UnsupportedOperation.SharedImageExportUnsupported", EPERM;
    /// ExportImages of a custom image made from a marketplace image.
    UnsupportedOperationMarketImageExportUnsupported = "UnsupportedOperation.MarketImageExportUnsupported", EPERM;
    /// ExportImages of a Windows image.
    UnsupportedOperationWindowsImageExportUnsupported = "UnsupportedOperation.WindowsImageExportUnsupported", EPERM;
    /// ExportImages of an image over 500 GB.
    UnsupportedOperationImageTooLargeExportUnsupported = "UnsupportedOperation.ImageTooLargeExportUnsupported", EPERM;

    // Instances (RunInstances, ResetInstance, CreateImage from an instance).
    /// The text is not an instance ID (`ins-` and eight lowercase letters or digits).
    InvalidInstanceIdMalformed = "InvalidInstanceId.Malformed", EINVAL;
    /// No instance with that ID in the region.
    InvalidInstanceIdNotFound = "InvalidInstanceId.NotFound", ENOENT;
    /// The instance type is not a family and size such as `S5.MEDIUM2`.
    InvalidInstanceTypeMalformed = "InvalidInstanceType.Malformed", EINVAL;
    /// The zone is not one of the region's: a zone of another region, or none at all (the
    /// code's documented text: "the specified zone does not exist").
    InvalidZoneMismatchRegion = "InvalidZone.MismatchRegion", EINVAL;
    /// RunInstances: a zone of the region that imagefs does not serve (its ZoneId is not
    /// published; see catalog/ZONES.md).
    InvalidParameterValueZoneNotSupported = "InvalidParameterValue.ZoneNotSupported", EINVAL;
    /// RunInstances: the zone is `UNAVAILABLE` (sold out).
    ResourceInsufficientAvailabilityZoneSoldOut = "ResourceInsufficient.AvailabilityZoneSoldOut", ENOSPC;
    /// The image to launch from, reset to or share is not NORMAL.
    InvalidParameterValueInvalidImageState = "InvalidParameterValue.InvalidImageState", EBUSY;
    /// InstanceCount is outside 1 to 500.
    InvalidParameterValueRange = "InvalidParameterValue.Range", EINVAL;
    /// RunInstances: a project other than the default one (0): the emulator's accounts have
    /// no other projects.
    InvalidProjectIdNotFound = "InvalidProjectId.NotFound", ENOENT;
    /// RunInstances: a ClientToken longer than 64 characters.
    InvalidClientTokenTooLong = "InvalidClientToken.TooLong", EINVAL;
    /// RunInstances: a PREPAID Period other than 1 to 12, 24, 36, 48 or 60 months.
    InvalidPeriod = "InvalidPeriod", EINVAL;
    /// RunInstances: a password that breaks the complexity rules of the image's OS.
    InvalidPassword = "InvalidPassword", EINVAL;
    /// RunInstances: a key pair ID that is not `skey-` and 8 lowercase letters or digits.
    InvalidKeyPairIdMalformed = "InvalidKeyPairId.Malformed", EINVAL;
    /// RunInstances: key pairs for a Windows image.
    UnsupportedOperationKeyPairUnsupportedWindows = "UnsupportedOperation.KeyPairUnsupportedWindows", EPERM;
    /// RunInstances: parameters that exclude each other (a password and key pairs, a public
    /// address without bandwidth, ...).
    InvalidParameterCombination = "InvalidParameterCombination", EINVAL;
    /// RunInstances: a HostName that breaks the rules of the image's OS.
    InvalidParameterValueIllegalHostName = "InvalidParameterValue.IllegalHostName", EINVAL;
    /// A VPC ID that is not `vpc-` and 8 lowercase letters or digits.
    InvalidParameterValueVpcIdMalformed = "InvalidParameterValue.VpcIdMalformed", EINVAL;
    /// A subnet ID that is not `subnet-` and 8 lowercase letters or digits.
    InvalidParameterValueSubnetIdMalformed = "InvalidParameterValue.SubnetIdMalformed", EINVAL;
    /// RunInstances: a VPC the account does not have in the region (only its default one).
    InvalidParameterValueVpcIdNotExist = "InvalidParameterValue.VpcIdNotExist", EINVAL;
    /// RunInstances: a subnet the account does not have in the region.
    InvalidParameterValueSubnetNotExist = "InvalidParameterValue.SubnetNotExist", EINVAL;
    /// RunInstances: the account's default subnet of another zone.
    InvalidParameterValueSubnetIdZoneIdNotMatch = "InvalidParameterValue.SubnetIdZoneIdNotMatch", EINVAL;
    /// A security group the account does not have in the region (only its default one).
    InvalidSecurityGroupIdNotFound = "InvalidSecurityGroupId.NotFound", ENOENT;
    /// DescribeInstances: a `security-group-id` value that is not `sg-` and 8 characters.
    InvalidSgIdMalformed = "InvalidSgId.Malformed", EINVAL;
    /// DescribeInstances: a `host-id` value that is not `host-` and 8 characters.
    InvalidHostIdMalformed = "InvalidHostId.Malformed", EINVAL;
    /// DescribeInstances: a `uuid` value that is not a UUID.
    InvalidParameterValueUuidMalformed = "InvalidParameterValue.UuidMalformed", EINVAL;
    /// DescribeInstances: a `private-ip-address` or `public-ip-address` that is not IPv4, or an
    /// `ipv6-address` that is not IPv6 (the action lists no code of its own for IPv6).
    InvalidParameterValueIPAddressMalformed = "InvalidParameterValue.IPAddressMalformed", EINVAL;
    /// DescribeInstances: a `creation-start-time` or `creation-end-time` that is not a time.
    InvalidParameterValueInvalidTimeFormat = "InvalidParameterValue.InvalidTimeFormat", EINVAL;
    /// The instance is still PENDING (launching).
    /// RunInstances: InstanceName has more than 128 characters.
    InvalidInstanceNameTooLong = "InvalidInstanceName.TooLong", EINVAL;
    /// CreateImage of an instance still PENDING (launching): CreateImage lists no
    /// `UnsupportedOperation.InstanceStatePending`.
    OperationDeniedInstanceOperationInProgress = "OperationDenied.InstanceOperationInProgress", EBUSY;
    /// The instance is still PENDING (launching): ResetInstance.
    UnsupportedOperationInstanceStatePending = "UnsupportedOperation.InstanceStatePending", EBUSY;
    /// The instance is still REBOOTING (being reset).
    UnsupportedOperationInstanceStateRebooting = "UnsupportedOperation.InstanceStateRebooting", EBUSY;
    /// The instance is TERMINATING (being terminated).
    UnsupportedOperationInstanceStateTerminating = "UnsupportedOperation.InstanceStateTerminating", EBUSY;
    /// The instance is SHUTDOWN: a PREPAID instance in the recycle bin, terminated once.
    UnsupportedOperationInstanceStateShutdown = "UnsupportedOperation.InstanceStateShutdown", EBUSY;
    /// TerminateInstances: the instance was launched with DisableApiTermination.
    UnsupportedOperationInstancesProtected = "UnsupportedOperation.InstancesProtected", EPERM;
    /// TerminateInstances: PREPAID and pay-as-you-go instances in one request.
    UnsupportedOperationInstanceMixedPricingModel = "UnsupportedOperation.InstanceMixedPricingModel", EPERM;

    // Parameters of any action.
    /// A parameter is malformed: a member of the wrong type (a text for a number, a number
    /// for a text, ...), not JSON, not UTF-8, an unknown file handle.
    InvalidParameter = "InvalidParameter", EINVAL;
    /// A member the action does not have.
    UnknownParameter = "UnknownParameter", EINVAL;
    /// DescribeImages: ImageIds and Filters together.
    InvalidParameterInvalidParameterCoexistImageIdsFilters = "InvalidParameter.InvalidParameterCoexistImageIdsFilters", EINVAL;
    /// A parameter's value is not one the action accepts.
    InvalidParameterValue = "InvalidParameterValue", EINVAL;
    /// DescribeImages: Limit is over 100.
    InvalidParameterValueInvalidParameterValueLimit = "InvalidParameterValue.InvalidParameterValueLimit", EINVAL;
    /// More items than the action takes (filters, image IDs).
    InvalidParameterValueLimitExceeded = "InvalidParameterValue.LimitExceeded", EINVAL;
    /// A value, name, description or command is longer than allowed.
    InvalidParameterValueTooLarge = "InvalidParameterValue.TooLarge", EINVAL;
    /// A filter name the action does not know.
    InvalidFilter = "InvalidFilter", EINVAL;
    /// A filter with more than five values.
    InvalidFilterValueLimitExceeded = "InvalidFilterValue.LimitExceeded", EINVAL;
    /// A required parameter (or header) is missing.
    MissingParameter = "MissingParameter", EINVAL;
    /// The region does not exist.
    InvalidRegionNotFound = "InvalidRegion.NotFound", ENOENT;

    // Tags (src/local/tags.rs): CVM's codes, for the tags of RunInstances, CreateImage and
    // ImportImage (`TagSpecification`; the codes RunInstances lists).
    /// A tag key that is empty, longer than 127 characters, or holds a character tags do
    /// not take.
    FailedOperationIllegalTagKey = "FailedOperation.IllegalTagKey", EINVAL;
    /// A tag value that is empty, longer than 255 characters, or holds a character tags do
    /// not take.
    FailedOperationIllegalTagValue = "FailedOperation.IllegalTagValue", EINVAL;
    /// A tag key starting with a reserved prefix (`qcloud`, `tencent`, `project`, `qcs:`).
    FailedOperationTagKeyReserved = "FailedOperation.TagKeyReserved", EINVAL;
    /// The same tag key twice in one request.
    InvalidParameterValueDuplicateTags = "InvalidParameterValue.DuplicateTags", EINVAL;
    /// More than 50 tags on one resource.
    InvalidParameterValueTagQuotaLimitExceeded = "InvalidParameterValue.TagQuotaLimitExceeded", EDQUOT;

    // The tag service (version 2018-08-13, src/serve/tags.rs), and the `tags` files.
    /// A tag key that is empty.
    InvalidParameterValueTagKeyEmpty = "InvalidParameterValue.TagKeyEmpty", EINVAL;
    /// A tag key longer than 127 characters.
    InvalidParameterValueTagKeyLengthExceeded = "InvalidParameterValue.TagKeyLengthExceeded", EINVAL;
    /// A tag key holding a character tags do not take.
    InvalidParameterValueTagKeyCharacterIllegal = "InvalidParameterValue.TagKeyCharacterIllegal", EINVAL;
    /// A tag key starting with a reserved prefix.
    InvalidParameterValueReservedTagKey = "InvalidParameterValue.ReservedTagKey", EINVAL;
    /// A tag value that is empty.
    InvalidParameterValueTagValueEmpty = "InvalidParameterValue.TagValueEmpty", EINVAL;
    /// A tag value longer than 255 characters.
    InvalidParameterValueTagValueLengthExceeded = "InvalidParameterValue.TagValueLengthExceeded", EINVAL;
    /// A tag value holding a character tags do not take.
    InvalidParameterValueTagValueCharacterIllegal = "InvalidParameterValue.TagValueCharacterIllegal", EINVAL;
    /// The same tag key twice in one request (or one `tags` file).
    InvalidParameterValueTagKeyDuplicate = "InvalidParameterValue.TagKeyDuplicate", EINVAL;
    /// More than 50 tags on one resource.
    LimitExceededResourceAttachedTags = "LimitExceeded.ResourceAttachedTags", EDQUOT;
    /// More than 10 resources in one TagResources or UnTagResources (more than 50 resource
    /// IDs in DescribeResourceTagsByResourceIds).
    LimitExceededResourceNumPerRequest = "LimitExceeded.ResourceNumPerRequest", EINVAL;
    /// More than 10 tags (or tag keys) in one TagResources or UnTagResources (in one
    /// `ReplaceTags` or `DeleteTags` of ModifyResourceTags).
    LimitExceededTagNumPerRequest = "LimitExceeded.TagNumPerRequest", EINVAL;
    /// ModifyResourceTags: a key both in `ReplaceTags` and in `DeleteTags`.
    InvalidParameterValueDeleteTagsParamError = "InvalidParameterValue.DeleteTagsParamError", EINVAL;
    /// A resource name that is not six segments (`qcs::cvm:REGION:uin/ACCOUNT:PREFIX/ID`).
    InvalidParameterValueResourceDescriptionError = "InvalidParameterValue.ResourceDescriptionError", EINVAL;
    /// A resource of another service than `cvm`.
    InvalidParameterValueServiceTypeInvalid = "InvalidParameterValue.ServiceTypeInvalid", EINVAL;
    /// A resource prefix other than `image` and `instance`.
    InvalidParameterValueResourcePrefixInvalid = "InvalidParameterValue.ResourcePrefixInvalid", EINVAL;
    /// A resource ID that is malformed, or names no image or instance the account has.
    InvalidParameterValueResourceIdInvalid = "InvalidParameterValue.ResourceIdInvalid", EINVAL;
    /// A resource named in another account than the caller's.
    InvalidParameterValueUinInvalid = "InvalidParameterValue.UinInvalid", EINVAL;
    /// A resource region that does not exist.
    InvalidParameterValueRegionInvalid = "InvalidParameterValue.RegionInvalid", EINVAL;
    /// More than 6 tag filters.
    InvalidParameterValueTagFiltersLengthExceeded = "InvalidParameterValue.TagFiltersLengthExceeded", EINVAL;
    /// A tag filter with more than 10 values.
    InvalidParameterValueTagFilters = "InvalidParameterValue.TagFilters", EINVAL;
    /// An `Offset` that is not a multiple of `Limit`.
    InvalidParameterValueOffsetInvalid = "InvalidParameterValue.OffsetInvalid", EINVAL;
    /// A `PaginationToken` this server did not give.
    InvalidParameterPaginationTokenInvalid = "InvalidParameter.PaginationTokenInvalid", EINVAL;
    /// Tagging or untagging an image the account sees but does not own (public, marketplace,
    /// shared with it).
    AuthFailureUnauthorizedOperation = "AuthFailure.UnauthorizedOperation", EPERM;

    // The API server's transport (src/serve).
    /// The action is not one this server answers.
    InvalidAction = "InvalidAction", EIO;
    /// The API version is not 2017-03-12 (nor the tag service's 2018-08-13 for its actions).
    NoSuchVersion = "NoSuchVersion", EIO;
    /// Neither a POST nor a GET.
    UnsupportedProtocol = "UnsupportedProtocol", EIO;

    // The filesystem and the backends.
    /// A path names no file (the filesystem's own refusal).
    ResourceNotFound = "ResourceNotFound", ENOENT;
    /// The change is not allowed for this file, kind or owner; or a request asks for
    /// something the emulator does not do (a launch template, encryption, ...).
    UnsupportedOperation = "UnsupportedOperation", EPERM;
    /// An image shared with the account is only launched or copied into its own account.
    UnsupportedOperationSharedImageModifyUnsupported = "UnsupportedOperation.SharedImageModifyUnsupported", EPERM;
    /// Too many requests (injected with `imagefs store inject throttle`, or the cloud's).
    RequestLimitExceeded = "RequestLimitExceeded", EAGAIN;
    /// The backend failed: the store is unreadable, or the cloud answered nothing usable.
    InternalError = "InternalError", EIO;
}

impl Code {
    /// The code refusing `action` on an instance still busy in `state` (`PENDING` gives
    /// `UnsupportedOperation.InstanceStatePending`), for the states the emulator has; each
    /// action's own where its documented list differs (CreateImage lists no
    /// `InstanceStatePending`, but `OperationDenied.InstanceOperationInProgress`).
    pub fn instance_state(action: &str, state: &str) -> Option<Code> {
        match (action, state) {
            ("CreateImage", "PENDING") => Some(Code::OperationDeniedInstanceOperationInProgress),
            (_, "PENDING") => Some(Code::UnsupportedOperationInstanceStatePending),
            (_, "REBOOTING") => Some(Code::UnsupportedOperationInstanceStateRebooting),
            (_, "TERMINATING") => Some(Code::UnsupportedOperationInstanceStateTerminating),
            // CreateImage lists no `InstanceStateShutdown`: an instance in the recycle bin is
            // not one it images at all.
            ("CreateImage", "SHUTDOWN") => Some(Code::UnsupportedOperation),
            (_, "SHUTDOWN") => Some(Code::UnsupportedOperationInstanceStateShutdown),
            _ => None,
        }
    }
}

/// A code is written as its text (in the API's error envelope).
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEMANTICS: &str = include_str!("../../docs/SEMANTICS.md");

    /// The rows of the errno table in docs/SEMANTICS.md: (codes as written, errno name).
    fn errno_table() -> Vec<(Vec<String>, String)> {
        SEMANTICS
            .lines()
            .skip_while(|l| !l.starts_with("| condition | example codes | errno |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                let codes = cells[2]
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect();
                (codes, cells[3].trim_matches('`').to_string())
            })
            .collect()
    }

    fn errno_named(name: &str) -> i32 {
        match name {
            "EINVAL" => libc::EINVAL,
            "ENOENT" => libc::ENOENT,
            "ENOTDIR" => libc::ENOTDIR,
            "EPERM" => libc::EPERM,
            "EDQUOT" => libc::EDQUOT,
            "EEXIST" => libc::EEXIST,
            "EBUSY" => libc::EBUSY,
            "EIO" => libc::EIO,
            "ENOSPC" => libc::ENOSPC,
            "EAGAIN" => libc::EAGAIN,
            "EACCES" => libc::EACCES,
            other => panic!("the errno table names an errno this test does not know: {other}"),
        }
    }

    #[test]
    fn the_semantics_errno_table_holds_for_every_code_it_names() {
        let table = errno_table();
        assert!(table.len() >= 8, "the errno table was not found");
        let entries: Vec<&String> = table.iter().flat_map(|(codes, _)| codes.iter()).collect();
        let matches = |pattern: &str, code: &Code| match pattern.split_once('*') {
            Some((prefix, suffix)) => {
                code.as_str().starts_with(prefix) && code.as_str().ends_with(suffix)
            }
            None => code.as_str() == pattern,
        };
        // A code belongs to the most specific entry that matches it: itself, or the longest
        // pattern (`UnsupportedOperation.InstanceState*` before `UnsupportedOperation.*`).
        let owner = |code: &Code| {
            entries
                .iter()
                .filter(|w| matches(w, code))
                .max_by_key(|w| (!w.contains('*'), w.len()))
                .map(|w| w.as_str())
        };
        for (codes, errno) in &table {
            let errno = errno_named(errno);
            for written in codes {
                if let Some((prefix, suffix)) = written.split_once('*') {
                    let matching: Vec<&Code> = Code::ALL
                        .iter()
                        .filter(|c| c.as_str().starts_with(prefix) && c.as_str().ends_with(suffix))
                        .filter(|c| owner(c) == Some(written.as_str()))
                        .collect();
                    assert!(!matching.is_empty(), "`{written}` matches no code");
                    for code in matching {
                        assert_eq!(code.errno(), errno, "{code} (as `{written}`)");
                    }
                } else {
                    let code = Code::parse(written)
                        .unwrap_or_else(|| panic!("`{written}` is not a named code"));
                    assert_eq!(code.errno(), errno, "{written}");
                }
            }
        }
    }

    /// The rows of the table of the API's refusals in docs/SEMANTICS.md: (action, condition,
    /// code, errno name).
    fn refusals_table() -> Vec<[String; 4]> {
        SEMANTICS
            .lines()
            .skip_while(|l| !l.starts_with("| action | condition | code | errno |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                let cells: Vec<String> = row
                    .split('|')
                    .map(|c| c.trim().trim_matches('`').to_string())
                    .collect();
                [
                    cells[1].clone(),
                    cells[2].clone(),
                    cells[3].clone(),
                    cells[4].clone(),
                ]
            })
            .collect()
    }

    /// Each action's documented error codes (the official Go SDK's doc blocks), and the codes
    /// common to every action.
    fn documented() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/cvm-api-error-codes.json"
        ))
        .expect("the fixture is JSON")
    }

    /// Each refusal of the table carries a named code that its action's documentation lists
    /// (or a code common to every action), with the errno the filesystem gives the condition:
    /// the code's own, or, where a site chooses another (`Error::with_errno`), the one that
    /// site gives, checked here against the code that raises it.
    #[test]
    fn the_semantics_refusals_table_uses_each_actions_listed_codes() {
        let table = refusals_table();
        assert!(table.len() >= 60, "the refusals table was not found");
        let documented = documented();
        let listed = |action: &str, code: &str| {
            let has = |list: &serde_json::Value| {
                list.as_array()
                    .expect("a list of codes")
                    .iter()
                    .any(|c| c == code)
            };
            has(&documented["common"])
                || match documented["actions"].get(action) {
                    Some(codes) => has(codes),
                    // "any": listed by one action at least.
                    None => documented["actions"]
                        .as_object()
                        .expect("actions")
                        .values()
                        .any(has),
                }
        };
        // The sites whose errno is not their code's, each with the error it raises.
        let chosen: [(&str, crate::error::Error); 1] = [(
            "a text that is not an account ID",
            crate::model::AccountId::parse("12ab").expect_err("not an account ID"),
        )];
        for [action, condition, code, errno] in &table {
            let named = Code::parse(code).unwrap_or_else(|| panic!("`{code}` is not a named code"));
            assert!(
                action == "any" || documented["actions"].get(action.as_str()).is_some(),
                "{action} is not a served action"
            );
            assert!(
                listed(action, code),
                "{action} does not list {code} ({condition})"
            );
            let errno = errno_named(errno);
            match chosen.iter().find(|(c, _)| c == condition) {
                Some((_, raised)) => {
                    assert_eq!(raised.code(), named, "{condition}");
                    assert_eq!(raised.errno(), errno, "{condition}");
                }
                None => assert_eq!(named.errno(), errno, "{action}: {condition}"),
            }
        }
        for action in documented["actions"].as_object().expect("actions").keys() {
            let refuses = !matches!(
                action.as_str(),
                "DescribeRegions"
                    | "DescribeZones"
                    | "DescribeImageQuota"
                    | "DescribeImportImageOs"
                    | "DescribeImageFromFamily"
            );
            assert_eq!(
                table.iter().any(|row| row[0] == *action),
                refuses,
                "{action} in the refusals table"
            );
        }
    }

    /// Each refusal of the tag service's table in docs/SEMANTICS.md names codes that are
    /// named here and that the tag service lists, with the errno each has (where the row
    /// gives one errno).
    #[test]
    fn the_semantics_tag_refusals_use_the_tag_services_codes() {
        let listed: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/tag-api-error-codes.json"
        ))
        .expect("the fixture is JSON");
        let listed = listed["codes"].as_array().expect("a list of codes");
        let rows: Vec<&str> = SEMANTICS
            .lines()
            .skip_while(|l| !l.starts_with("| tag action | condition | code | errno |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert!(rows.len() >= 10, "the tag refusals table was not found");
        for row in rows {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let codes: Vec<&str> = cells[3].split('`').skip(1).step_by(2).collect();
            let errnos: Vec<&str> = cells[4].split('`').skip(1).step_by(2).collect();
            assert!(!codes.is_empty(), "{row}");
            for written in codes {
                let code = Code::parse(written)
                    .unwrap_or_else(|| panic!("`{written}` is not a named code"));
                assert!(
                    listed.iter().any(|c| c == written),
                    "the tag service does not list {written}"
                );
                if let [errno] = errnos[..] {
                    assert_eq!(code.errno(), errno_named(errno), "{row}");
                }
            }
        }
    }

    #[test]
    fn codes_are_written_only_in_src_error() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        let mut offenders = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src is readable") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    if !path.ends_with("error") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("a source file");
                    for code in Code::ALL {
                        if text.contains(&format!("\"{}\"", code.as_str())) {
                            offenders.push(format!("{}: {code}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "write Code::... instead: {offenders:#?}"
        );
    }

    #[test]
    fn an_unsettled_instance_is_refused_with_its_state() {
        assert_eq!(
            Code::instance_state("ResetInstance", "PENDING").map(Code::as_str),
            Some("UnsupportedOperation.InstanceStatePending")
        );
        assert_eq!(
            Code::instance_state("CreateImage", "PENDING").map(Code::as_str),
            Some("OperationDenied.InstanceOperationInProgress")
        );
        assert_eq!(
            Code::instance_state("CreateImage", "REBOOTING").map(Code::as_str),
            Some("UnsupportedOperation.InstanceStateRebooting")
        );
        assert_eq!(Code::instance_state("ResetInstance", "RUNNING"), None);
    }
}
