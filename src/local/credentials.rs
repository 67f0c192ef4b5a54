//! The API key pairs of a store's accounts, with which `imagefs serve` authenticates requests:
//! permanent pairs (`imagefs accounts add`, `accounts keys`), temporary ones with a token and
//! an end (`imagefs accounts token`, as CI systems get from the cloud's STS), and revocation
//! (`imagefs accounts revoke`), which ends either kind at once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, OptionalExtension};

use super::store::{account_known, random_text, Store};
use crate::error::{Code, Error, Result};
use crate::model::{format_api_time, AccountId};

/// The longest a temporary key pair lasts (the cloud's AssumeRole allows 12 hours).
pub const MAX_TEMPORARY_TTL: Duration = Duration::from_secs(43_200);

/// How long an expired temporary pair is kept, so that requests signed with it are told that
/// its token expired rather than that the key is unknown.
const EXPIRED_KEPT: Duration = Duration::from_secs(86_400);

/// A key pair as the store holds it.
pub struct KeyPair {
    pub account: AccountId,
    pub secret_key: String,
    /// Set for a temporary pair.
    pub temporary: Option<Temporary>,
}

/// What a temporary pair adds: the token requests must carry, and its end.
pub struct Temporary {
    pub token: String,
    /// Unix seconds from which the pair is refused.
    pub expires: i64,
}

/// A new temporary pair, as `imagefs accounts token` prints it.
pub struct TemporaryCredentials {
    pub secret_id: String,
    pub secret_key: String,
    pub token: String,
    /// Unix seconds.
    pub expires: i64,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A new SecretId and SecretKey, shaped as the cloud's.
fn new_pair() -> Result<(String, String)> {
    Ok((format!("AKID{}", random_text(32)?), random_text(32)?))
}

fn no_account(account: &AccountId) -> Error {
    Error::new(
        Code::InvalidAccountIdNotFound,
        format!("account {account} does not exist (imagefs accounts add {account})"),
    )
}

impl Store {
    /// Makes a new permanent SecretId/SecretKey pair for an existing account.
    pub fn create_key(&self, account: &AccountId) -> Result<(String, String)> {
        let (secret_id, secret_key) = new_pair()?;
        self.with_tx(|tx| {
            if !account_known(tx, account)? {
                return Err(no_account(account));
            }
            tx.execute(
                "INSERT INTO api_keys (secret_id, secret_key, account_id, created_time) VALUES (?1, ?2, ?3, ?4)",
                params![secret_id, secret_key, account.as_str(), format_api_time(SystemTime::now())],
            )?;
            Ok(())
        })?;
        Ok((secret_id, secret_key))
    }

    /// Makes a temporary pair for an existing account, valid for `ttl` (1 s to
    /// [`MAX_TEMPORARY_TTL`]). Temporary pairs that expired long ago are dropped.
    pub fn create_temporary_key(
        &self,
        account: &AccountId,
        ttl: Duration,
    ) -> Result<TemporaryCredentials> {
        if ttl < Duration::from_secs(1) || ttl > MAX_TEMPORARY_TTL {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!(
                    "a temporary key lasts 1 to {} seconds",
                    MAX_TEMPORARY_TTL.as_secs()
                ),
            ));
        }
        let (secret_id, secret_key) = new_pair()?;
        let token = random_text(64)?;
        let now = unix_now();
        let expires = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let forgotten_before = now.saturating_sub(EXPIRED_KEPT.as_secs() as i64);
        self.with_tx(|tx| {
            if !account_known(tx, account)? {
                return Err(no_account(account));
            }
            tx.execute(
                "DELETE FROM api_keys WHERE expires IS NOT NULL AND expires < ?1",
                [forgotten_before],
            )?;
            tx.execute(
                "INSERT INTO api_keys (secret_id, secret_key, account_id, created_time, token, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    secret_id,
                    secret_key,
                    account.as_str(),
                    format_api_time(SystemTime::now()),
                    token,
                    expires
                ],
            )?;
            Ok(())
        })?;
        Ok(TemporaryCredentials {
            secret_id,
            secret_key,
            token,
            expires,
        })
    }

    /// The key pair a SecretId names.
    pub fn key_pair(&self, secret_id: &str) -> Result<Option<KeyPair>> {
        type Row = (String, String, Option<String>, Option<i64>);
        let row: Option<Row> = self.with_conn(|c| {
            Ok(c.prepare_cached(
                "SELECT account_id, secret_key, token, expires FROM api_keys WHERE secret_id = ?1",
            )?
            .query_row([secret_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?)
        })?;
        let Some((account, secret_key, token, expires)) = row else {
            return Ok(None);
        };
        let temporary = match (token, expires) {
            (Some(token), Some(expires)) => Some(Temporary { token, expires }),
            (None, None) => None,
            _ => {
                return Err(Error::internal(format!(
                    "store: the temporary key {secret_id} lacks its token or its end"
                )))
            }
        };
        Ok(Some(KeyPair {
            account: AccountId::parse(&account)?,
            secret_key,
            temporary,
        }))
    }

    /// Ends a key pair, permanent or temporary, at once; `Ok(false)` if there is none.
    pub fn revoke_key(&self, secret_id: &str) -> Result<bool> {
        self.with_tx(|tx| {
            Ok(tx.execute("DELETE FROM api_keys WHERE secret_id = ?1", [secret_id])? == 1)
        })
    }

    /// How many permanent key pairs `account` has.
    pub fn key_count(&self, account: &AccountId) -> Result<i64> {
        self.with_conn(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM api_keys WHERE account_id = ?1 AND token IS NULL",
                [account.as_str()],
                |r| r.get(0),
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), None).unwrap();
        (dir, store)
    }

    #[test]
    fn permanent_and_temporary_pairs_are_told_apart_and_revoked() {
        let (_dir, store) = store();
        let account = store.default_account().unwrap();
        let (id, key) = store.create_key(&account).unwrap();
        let pair = store.key_pair(&id).unwrap().unwrap();
        assert_eq!(
            (pair.account.as_str(), pair.secret_key.as_str()),
            (account.as_str(), key.as_str())
        );
        assert!(pair.temporary.is_none());

        let before = unix_now();
        let temporary = store
            .create_temporary_key(&account, Duration::from_secs(60))
            .unwrap();
        assert!(temporary.secret_id.starts_with("AKID"));
        assert_ne!(temporary.secret_id, id);
        assert_eq!(temporary.token.len(), 64);
        assert!((before + 60..=unix_now() + 60).contains(&temporary.expires));
        let pair = store.key_pair(&temporary.secret_id).unwrap().unwrap();
        let held = pair.temporary.unwrap();
        assert_eq!(
            (held.token, held.expires),
            (temporary.token.clone(), temporary.expires)
        );
        assert_eq!(pair.secret_key, temporary.secret_key);
        assert_eq!(
            store.key_count(&account).unwrap(),
            1,
            "permanent pairs only"
        );

        assert!(store.revoke_key(&temporary.secret_id).unwrap());
        assert!(store.key_pair(&temporary.secret_id).unwrap().is_none());
        assert!(store.revoke_key(&id).unwrap());
        assert!(store.key_pair(&id).unwrap().is_none());
        assert!(!store.revoke_key(&id).unwrap());
    }

    #[test]
    fn pairs_made_before_schema_6_are_permanent() {
        let (_dir, store) = store();
        store
            .with_tx(|tx| {
                tx.execute(
                    "INSERT INTO api_keys (secret_id, secret_key, account_id, created_time)
                     VALUES ('AKIDold', 'key', '100000000001', '2026-01-01T00:00:00Z')",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        let pair = store.key_pair("AKIDold").unwrap().unwrap();
        assert!(pair.temporary.is_none());
        assert_eq!(pair.secret_key, "key");
    }

    #[test]
    fn temporary_pairs_have_bounded_lives_and_existing_accounts() {
        let (_dir, store) = store();
        let account = store.default_account().unwrap();
        for ttl in [0, MAX_TEMPORARY_TTL.as_secs() + 1] {
            let refused = store
                .create_temporary_key(&account, Duration::from_secs(ttl))
                .err()
                .unwrap();
            assert_eq!(refused.code(), Code::InvalidParameterValue, "{ttl}");
        }
        let stranger = AccountId::parse("100000000009").unwrap();
        let refused = store
            .create_temporary_key(&stranger, Duration::from_secs(60))
            .err()
            .unwrap();
        assert_eq!(refused.code(), Code::InvalidAccountIdNotFound);
    }

    #[test]
    fn long_expired_temporary_pairs_are_dropped() {
        let (_dir, store) = store();
        let account = store.default_account().unwrap();
        let old = store
            .create_temporary_key(&account, Duration::from_secs(1))
            .unwrap();
        let recent = store
            .create_temporary_key(&account, Duration::from_secs(1))
            .unwrap();
        store
            .with_tx(|tx| {
                tx.execute(
                    "UPDATE api_keys SET expires = expires - ?2 WHERE secret_id = ?1",
                    params![old.secret_id, EXPIRED_KEPT.as_secs() as i64 + 10],
                )?;
                Ok(())
            })
            .unwrap();
        store
            .create_temporary_key(&account, Duration::from_secs(1))
            .unwrap();
        assert!(store.key_pair(&old.secret_id).unwrap().is_none());
        assert!(store.key_pair(&recent.secret_id).unwrap().is_some());
    }
}
