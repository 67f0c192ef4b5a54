//! Faults a test can inject (`imagefs store inject`): the next N operations of a kind fail,
//! or commands are refused as throttled.

use rusqlite::{params, Connection};

use super::settings::meta_number;
use super::LocalService;
use crate::error::{Code, Error, Result};

/// Faults a test can ask the store for: the next N operations of a kind fail.
pub const INJECTIONS: [(&str, &str); 4] = [
    ("create-fails", "inject_create_fails"),
    ("import-fails", "inject_import_fails"),
    ("copy-fails", "inject_copy_fails"),
    ("throttle", "inject_throttle"),
];

/// Uses up one pending injection of `key`, if any.
pub(super) fn take_injection(c: &Connection, key: &str) -> Result<bool> {
    let pending = meta_number(c, key, 0)?;
    if pending == 0 {
        return Ok(false);
    }
    c.execute(
        "UPDATE meta SET value = ?1 WHERE key = ?2",
        params![(pending - 1).to_string(), key],
    )?;
    Ok(true)
}

/// The refusal an injected throttle causes.
fn throttled() -> Error {
    Error::new(
        Code::RequestLimitExceeded,
        "the request rate limit was exceeded (a throttle injected with imagefs store inject)",
    )
}

impl LocalService {
    /// A command's write transaction, refusing the command first if a throttle was
    /// injected: one transaction where [`LocalService::throttle`] and the command take two.
    /// The injection is used up even though the command is refused.
    pub(super) fn command_tx<T>(
        &self,
        command: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        self.store.with_tx(|tx| {
            if take_injection(tx, "inject_throttle")? {
                return Ok(Err(throttled()));
            }
            command(tx).map(Ok)
        })?
    }

    /// Refuses a command with `RequestLimitExceeded` while a throttle injection is pending.
    pub(super) fn throttle(&self) -> Result<()> {
        // A read first: the write transaction is taken only when a throttle is pending, so
        // an ordinary command pays for one transaction, not two.
        let pending = self
            .store
            .meta("inject_throttle")?
            .is_some_and(|v| v != "0");
        if pending
            && self
                .store
                .with_tx(|tx| take_injection(tx, "inject_throttle"))?
        {
            return Err(throttled());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
    use crate::local::testing::*;

    /// A dry run meets a pending fault as the real call would, and leaves it for the real
    /// call: a throttle refuses it without being used up, an injected failure is not taken.
    #[test]
    fn dry_runs_meet_injected_faults_and_leave_them() {
        let w = world();
        let s = w.service(OWNER, 0);
        let image = custom(&s, GZ, "kept");
        let pending = |key: &str| w.store.meta(key).unwrap();
        w.store.set_meta("inject_throttle", "1").unwrap();
        let dry_delete = s.dry_run_if(true, || s.delete_image(GZ, &image));
        assert_eq!(code(dry_delete), Code::RequestLimitExceeded);
        let dry_launch = s.dry_run_if(true, || {
            s.run_instances(GZ, ImageKind::Custom, &image, &LaunchSpec::default())
        });
        assert_eq!(code(dry_launch), Code::RequestLimitExceeded);
        assert_eq!(pending("inject_throttle").as_deref(), Some("1"));
        assert_eq!(code(s.delete_image(GZ, &image)), Code::RequestLimitExceeded);
        assert_eq!(pending("inject_throttle").as_deref(), Some("0"));

        w.store.set_meta("inject_create_fails", "1").unwrap();
        let instance = launch_one(&s, GZ);
        let spec = CreateImageSpec {
            image_name: "rehearsed".into(),
            ..Default::default()
        };
        let dry_create = s.dry_run_if(true, || s.create_image(GZ, &instance[0], &spec));
        assert!(dry_create.is_ok(), "{dry_create:?}");
        assert_eq!(pending("inject_create_fails").as_deref(), Some("1"));
        assert!(s
            .images_named(GZ, ImageKind::Custom, "rehearsed")
            .unwrap()
            .is_empty());
        let made = s.create_image(GZ, &instance[0], &spec).unwrap().unwrap();
        assert_eq!(
            s.image(GZ, ImageKind::Custom, &made).unwrap().image_state,
            ImageState::CreateFailed
        );
    }
}
