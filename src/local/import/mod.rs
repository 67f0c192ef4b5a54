//! ImportImage: a local disk image file, read as the user who wrote the command, becomes a
//! custom image, IMPORTING until the transition delay has passed.

pub mod caller;
pub mod probe;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::families::{family_of_new_image, set_image_family};
use super::faults::take_injection;
use super::ids::{new_image_id, system_disk_snapshot};
use super::images::{check_image_description, check_image_name, check_name_free};
use super::quota::check_quota;
use super::rows::{insert_image_row, NewImageRow};
use super::tags::{creation_tags, write_tags};
use super::transitions::settle;
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::tags::TaggedResource;
use crate::model::{ImageId, ImportImageOs, ImportImageSpec};
use crate::service::Caller;
use probe::Probe;

/// How long an import may take to open and read its file's header.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

const GIB: u64 = 1 << 30;

/// The OS types, versions and architectures ImportImage accepts (`import-os.json`).
pub(super) fn import_os(service: &LocalService, region: &str) -> Result<ImportImageOs> {
    service.region(region)?;
    Ok(service.catalog.import_image_os.clone())
}

/// What an import's disk file holds, as far as the import cares.
struct Disk {
    format: &'static str,
    virtual_size: u64,
    problem: Option<String>,
}

/// ImportImage: checks the request and the file it names, and (unless a dry run) stores the
/// new custom image, which ends IMPORTFAILED if the file does not hold together. A dry run
/// checks the parameters and the file only, as the API documents ("只检查参数"): not the
/// name's use nor the quota; it uses up no injected fault.
pub(super) fn import_image(
    service: &LocalService,
    region: &str,
    spec: &ImportImageSpec,
    caller: &Caller,
) -> Result<Option<ImageId>> {
    service.dry_run_if(spec.dry_run, || import(service, region, spec, caller))
}

fn import(
    service: &LocalService,
    region: &str,
    spec: &ImportImageSpec,
    caller: &Caller,
) -> Result<Option<ImageId>> {
    service.throttle()?;
    service.region(region)?;
    let windows = check_import_os(service, spec)?;
    let license = spec.license_type.as_deref().unwrap_or("TencentCloud");
    if license != "TencentCloud" && license != "BYOL" {
        return Err(Error::new(
            Code::InvalidParameterValueInvalidLicenseType,
            format!("LicenseType `{license}` is not TencentCloud or BYOL"),
        ));
    }
    if let Some(mode) = spec.boot_mode.as_deref() {
        if mode != "Legacy BIOS" && mode != "UEFI" {
            return Err(Error::new(
                Code::InvalidParameterValueInvalidBootMode,
                format!("BootMode `{mode}` is not `Legacy BIOS` or `UEFI`"),
            ));
        }
    }
    check_image_name(&spec.image_name)?;
    let description = spec.image_description.clone().unwrap_or_default();
    check_image_description(&description)?;
    let tags = creation_tags(Some(&spec.tags), "image")?;
    let family = family_of_new_image(spec.image_family.as_deref())?;

    let disk = read_disk(spec, caller)?;
    if spec.dry_run {
        return Ok(None);
    }
    let image_size = i64::try_from(disk.virtual_size.div_ceil(GIB).max(1)).unwrap_or(i64::MAX);
    let shown = spec.image_url.as_str();
    if let Some(problem) = &disk.problem {
        log::info!("import of {shown} ({}) will fail: {problem}", disk.format);
    }
    let bits = if spec.architecture == "i386" {
        "32位"
    } else {
        "64位"
    };
    let os_name = format!("{} {} {bits}", spec.os_type, spec.os_version);
    let platform = if windows {
        "Windows"
    } else {
        spec.os_type.as_str()
    };
    let architecture = if spec.architecture == "arm_64" {
        "arm"
    } else {
        spec.architecture.as_str()
    };
    service.store.with_tx(|tx| {
        settle(tx)?;
        check_name_free(tx, region, &service.account, &spec.image_name)?;
        check_quota(tx, region, &service.account)?;
        // Taken with the insert: a refused import does not use up an injected failure.
        let injected = take_injection(tx, "inject_import_fails")?;
        let final_state = if disk.problem.is_some() || injected {
            "IMPORTFAILED"
        } else {
            "NORMAL"
        };
        let (state, pending_final, due) = service.transition("IMPORTING", final_state)?;
        let id = new_image_id(tx)?;
        // An imported image is kept, as every custom image, as a snapshot of its system disk.
        let snapshots = system_disk_snapshot(image_size)?;
        insert_image_row(
            tx,
            &NewImageRow {
                region,
                image_id: &id,
                owner: &service.account,
                image_name: &spec.image_name,
                image_description: &description,
                os_name: &os_name,
                platform,
                architecture,
                image_size,
                image_source: "EXTERNAL_IMPORT",
                license_type: license,
                state,
                final_state: pending_final,
                due,
                snapshots: &snapshots,
                fee: None,
                provider: None,
            },
        )?;
        if !tags.is_empty() {
            write_tags(tx, &TaggedResource::image(region, &id), &tags)?;
        }
        set_image_family(tx, region, &id, family)?;
        Ok(Some(id))
    })
}

/// The OsType, OsVersion and Architecture of an import, against the catalog's list;
/// whether the OS is a Windows one.
fn check_import_os(service: &LocalService, spec: &ImportImageSpec) -> Result<bool> {
    let os = &service.catalog.import_image_os;
    let windows = os
        .import_image_os_list_supported
        .windows
        .contains(&spec.os_type);
    let linux = os
        .import_image_os_list_supported
        .linux
        .contains(&spec.os_type);
    if !windows && !linux {
        let list = &os.import_image_os_list_supported;
        let family = ["Linux", "Windows"]
            .iter()
            .find(|f| f.eq_ignore_ascii_case(&spec.os_type))
            .map(|f| format!(" (`{f}` is a key of that list, naming a family, not an OsType)"))
            .unwrap_or_default();
        return Err(Error::new(
            Code::InvalidImageOsTypeUnsupported,
            format!(
                "OsType `{}` cannot be imported: OsType takes a member of import-os.json's \
                 ImportImageOsListSupported.Linux or ImportImageOsListSupported.Windows{family}; \
                 Linux: {}; Windows: {}",
                spec.os_type,
                list.linux.join(", "),
                list.windows.join(", ")
            ),
        ));
    }
    let versions = os
        .import_image_os_version_set
        .iter()
        .find(|v| v.os_name == spec.os_type);
    if !versions.is_some_and(|v| v.os_versions.contains(&spec.os_version)) {
        return Err(Error::new(
            Code::InvalidImageOsVersionUnsupported,
            format!(
                "OsVersion `{}` of {} cannot be imported; accepted: {}",
                spec.os_version,
                spec.os_type,
                versions
                    .map(|v| v.os_versions.join(", "))
                    .unwrap_or_default()
            ),
        ));
    }
    if !versions.is_some_and(|v| v.architecture.contains(&spec.architecture)) {
        return Err(Error::new(
            Code::InvalidParameterValue,
            format!(
                "Architecture `{}` is not accepted for {}; accepted: {}",
                spec.architecture,
                spec.os_type,
                versions
                    .map(|v| v.architecture.join(", "))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(windows)
}

/// The disk an import's `ImageUrl` names (or the file already opened for it), probed as the
/// caller within [`PROBE_TIMEOUT`]: one of the accepted formats (an ISO only with `Force`),
/// within the size limits. Messages name the file as the request did.
fn read_disk(spec: &ImportImageSpec, caller: &Caller) -> Result<Disk> {
    let (path, shown) = match &spec.opened {
        Some(opened) => (opened.clone(), spec.image_url.clone()),
        None => local_image_path(&spec.image_url, caller)?,
    };
    let shown = shown.as_str();
    let found = probe_within_timeout(path, shown, caller)?;
    let (format, virtual_size, file_size, problem) = match found {
        Probe::Disk {
            format,
            virtual_size,
            file_size,
            problem,
            ..
        } => (format.name(), virtual_size, file_size, problem),
        Probe::Iso { file_size } if spec.force => ("ISO", file_size, file_size, None),
        Probe::Iso { .. } => {
            return Err(Error::new(
                Code::InvalidParameterValueISOMustImportByForce,
                format!("{shown} is an ISO image: import it with \"Force\": true"),
            ))
        }
        Probe::Unsupported(what) => {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("{shown} is {what}; ImportImage takes RAW, QCOW2, VHD or VMDK disk images"),
            ))
        }
    };
    if file_size > 50 * GIB {
        return Err(Error::new(
            Code::InvalidParameterValueTooLarge,
            format!(
                "{shown} is {:.1} GiB; ImportImage takes files up to 50 GB",
                file_size as f64 / GIB as f64
            ),
        ));
    }
    if virtual_size > 500 * GIB {
        return Err(Error::new(
            Code::InvalidParameterValueTooLarge,
            format!(
                "{shown} is a {} GiB disk; imported system disks may be at most 500 GB",
                virtual_size.div_ceil(GIB)
            ),
        ));
    }
    Ok(Disk {
        format,
        virtual_size,
        problem,
    })
}

/// Opens and probes `path` as `caller`, on a thread of its own; `shown` is how the request
/// named it.
fn probe_within_timeout(path: PathBuf, shown: &str, caller: &Caller) -> Result<Probe> {
    let url_error = |message: String, errno: i32| {
        Error::with_errno(
            Code::InvalidParameterInvalidParameterUrlError,
            message,
            errno,
        )
    };
    // Opened and probed on a thread of its own: a file that cannot be read promptly (one
    // inside this very mount, while every FUSE worker waits) costs a timeout, not a hang.
    let (done, outcome) = std::sync::mpsc::channel();
    let (who, target) = (*caller, path);
    std::thread::Builder::new()
        .name("imagefs-probe".into())
        .spawn(move || {
            let result = caller::open_as(&who, &target).and_then(|mut f| probe::probe(&mut f));
            let _ = done.send(result);
        })
        .map_err(|e| Error::internal(format!("cannot start a probe: {e}")))?;
    match outcome.recv_timeout(PROBE_TIMEOUT) {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => Err(match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
                url_error(format!("{shown}: no such file"), libc::ENOENT)
            }
            Some(libc::EACCES) | Some(libc::EPERM) => url_error(
                format!("{shown}: permission denied (the file is read as uid {}, who wrote the command)", caller.uid),
                libc::EACCES,
            ),
            Some(libc::EINVAL) => url_error(format!("{shown} is not a regular file"), libc::EINVAL),
            _ => url_error(format!("{shown}: cannot read: {e}"), libc::EINVAL),
        }),
        Err(_) => Err(url_error(
            format!("{shown} could not be read within {} s (is it inside an imagefs mount?)", PROBE_TIMEOUT.as_secs()),
            libc::EAGAIN,
        )),
    }
}

/// The local file an `ImageUrl` names (an absolute path, a `file://` URL, or a path relative
/// to the working directory of the process that wrote the command), and how messages name
/// it: as the request did, with where a relative path was looked for.
fn local_image_path(url: &str, caller: &Caller) -> Result<(PathBuf, String)> {
    let refuse = |m: String| Error::new(Code::InvalidParameterInvalidParameterUrlError, m);
    if url.contains('\0') {
        return Err(refuse("ImageUrl contains a NUL byte".into()));
    }
    let path = match url.strip_prefix("file://") {
        Some(rest) => rest,
        None if url.contains("://") => {
            return Err(refuse(format!(
            "ImageUrl `{url}`: the local backend imports local files; give a path or a file:// URL"
        )))
        }
        None => url,
    };
    if path.is_empty() {
        return Err(refuse("ImageUrl is empty".into()));
    }
    let path = Path::new(path);
    if path.is_absolute() {
        return Ok((path.to_path_buf(), url.to_string()));
    }
    let cwd = writer_directory(caller, url)?;
    let looked_at = cwd.join(path);
    // Opened through the process's own link to its directory: the same directory even if
    // it was renamed meanwhile, or lies in another mount namespace.
    let opened = PathBuf::from(format!("/proc/{}/cwd", caller.pid)).join(path);
    let shown = format!(
        "{url} (looked for at {}, from the writer's working directory)",
        looked_at.display()
    );
    Ok((opened, shown))
}

/// The working directory of the process that wrote an import whose `ImageUrl` (`url`) is
/// relative, which must lie outside every imagefs mount: a disk image is never a file of a
/// mount, and the writer meant a directory of its own.
fn writer_directory(caller: &Caller, url: &str) -> Result<PathBuf> {
    let refuse = |m: String| Error::new(Code::InvalidParameterInvalidParameterUrlError, m);
    let proc_link = format!("/proc/{}/cwd", caller.pid);
    let cwd = std::fs::read_link(&proc_link).map_err(|e| {
        refuse(format!(
            "ImageUrl `{url}` is relative, and the working directory of the process that wrote \
             it (pid {}) cannot be read ({proc_link}: {e}); write the disk's absolute path \
             (\"ImageUrl\": \"/path/to/{url}\")",
            caller.pid
        ))
    })?;
    if let Some(mount) = imagefs_mount_holding(&cwd) {
        return Err(refuse(format!(
            "ImageUrl `{url}` is relative to the writer's working directory {}, which is \
             inside the imagefs mount {}: no disk is there; write the disk's absolute path \
             (\"ImageUrl\": \"/path/to/{url}\"), or write from the directory that holds it",
            cwd.display(),
            mount.display()
        )));
    }
    Ok(cwd)
}

/// The imagefs mount `dir` lies in, if any (from the kernel's list of mounts).
fn imagefs_mount_holding(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    crate::mounts::parse_mountinfo(&text)
        .into_iter()
        .filter(|m| dir.starts_with(&m.mount_point))
        // The innermost mount holding it is the one it is in.
        .max_by_key(|m| m.mount_point.components().count())
        .filter(crate::mounts::is_imagefs)
        .map(|m| m.mount_point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::testing::*;
    use crate::model::api::{read_json, ImportImageRequest};

    fn spec(os_type: &str) -> ImportImageSpec {
        let request: ImportImageRequest = read_json(&serde_json::json!({
            "ImageUrl": "/d.qcow2", "ImageName": "d", "OsType": os_type,
            "OsVersion": "7", "Architecture": "x86_64",
        }))
        .expect("request");
        ImportImageSpec::from(request)
    }

    /// A refused OsType says which member of which list of import-os.json it takes, and
    /// that `Linux` is a key of that list, not an OsType.
    #[test]
    fn an_os_type_refusal_names_the_lists_it_takes_a_member_of() {
        let w = world();
        let s = w.service(OWNER, 0);
        let refused = check_import_os(&s, &spec("Linux")).unwrap_err();
        assert_eq!(refused.code(), Code::InvalidImageOsTypeUnsupported);
        let message = refused.message();
        assert!(
            message.contains(
                "OsType takes a member of import-os.json's ImportImageOsListSupported.Linux or ImportImageOsListSupported.Windows"
            ),
            "{message}"
        );
        assert!(
            message.contains("(`Linux` is a key of that list"),
            "{message}"
        );
        assert!(message.contains("CentOS"), "{message}");
        check_import_os(&s, &spec("CentOS")).expect("CentOS 7 is accepted");
    }
}
