//! `imagefs accounts`: the accounts of a local store and their API key pairs.

use std::time::Duration;

use clap::Subcommand;

use imagefs::local::store::{AccountRemoval, Store};
use imagefs::model::AccountId;

use super::{open_store, Failure, StoreArgs};

#[derive(Subcommand)]
pub enum AccountsAction {
    /// List the store's accounts (the default one is marked).
    List,
    /// Add an account (a numeric account ID) to the store and print an API key pair for it
    /// (SecretId=... and SecretKey=... lines; the key is shown only now).
    Add { id: String },
    /// Make a new API key pair for an existing account and print it.
    Keys { id: String },
    /// Make temporary credentials for an existing account, as CI systems get them from the
    /// cloud's STS, and print them (TmpSecretId=, TmpSecretKey=, Token= and ExpiredTime=
    /// lines). Requests signed with them carry the token (X-TC-Token, or the Token parameter).
    Token {
        id: String,
        /// How long they last, in seconds (at most 43200).
        #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
        ttl: u64,
    },
    /// Remove an account and its API key pairs. Refused for the store's default account,
    /// while the account is mounted, and while it has custom images, instances or images
    /// shared with it.
    Remove { id: String },
    /// End a key pair, permanent or temporary, at once.
    Revoke {
        #[arg(value_name = "SECRETID")]
        secret_id: String,
    },
}

pub fn accounts(action: AccountsAction, store_args: &StoreArgs) -> Result<(), Failure> {
    let store = open_store(store_args)?;
    match action {
        AccountsAction::List => {
            let default = store.default_account()?;
            for (id, created) in store.accounts()? {
                let mark = if id == default { "  (default)" } else { "" };
                println!("{id}  {created}{mark}");
            }
        }
        AccountsAction::Add { id } => {
            let id = AccountId::parse(&id)?;
            if store.add_account(&id)? {
                eprintln!("imagefs: added account {id}");
                print_key(&store, &id)?;
            } else {
                eprintln!("imagefs: account {id} already exists (imagefs accounts keys {id} makes a new key pair)");
            }
        }
        AccountsAction::Keys { id } => {
            print_key(&store, &AccountId::parse(&id)?)?;
        }
        AccountsAction::Token { id, ttl } => {
            let account = AccountId::parse(&id)?;
            let credentials = store.create_temporary_key(&account, Duration::from_secs(ttl))?;
            println!("TmpSecretId={}", credentials.secret_id);
            println!("TmpSecretKey={}", credentials.secret_key);
            println!("Token={}", credentials.token);
            println!("ExpiredTime={}", credentials.expires);
        }
        AccountsAction::Remove { id } => remove(&store, &AccountId::parse(&id)?)?,
        AccountsAction::Revoke { secret_id } => {
            if !store.revoke_key(&secret_id)? {
                return Err(Failure(format!(
                    "no key pair has the SecretId {secret_id} in this store"
                )));
            }
            eprintln!("imagefs: revoked {secret_id}");
        }
    }
    Ok(())
}

/// Makes and prints a key pair: two lines scripts can read.
fn print_key(store: &Store, account: &AccountId) -> Result<(), Failure> {
    let (secret_id, secret_key) = store.create_key(account)?;
    println!("SecretId={secret_id}");
    println!("SecretKey={secret_key}");
    Ok(())
}

/// `imagefs accounts remove ID`: removes an account that holds nothing, or says what to do
/// first.
fn remove(store: &Store, id: &AccountId) -> Result<(), Failure> {
    let mounted = imagefs::mounts::mounts_of(store.path(), id.as_str());
    if !mounted.is_empty() {
        let paths: Vec<String> = mounted.iter().map(|p| p.display().to_string()).collect();
        return Err(Failure(format!(
            "account {id} is mounted at {}: unmount it first (`imagefs unmount {}`), then \
             remove it",
            paths.join(", "),
            paths[0]
        )));
    }
    match store.remove_account(id)? {
        AccountRemoval::Removed => {
            eprintln!("imagefs: removed account {id} and its API key pairs");
            Ok(())
        }
        AccountRemoval::Unknown => Err(Failure(format!(
            "no account {id} in this store; its accounts: {}",
            known_list(store)?
        ))),
        AccountRemoval::IsDefault => Err(Failure(format!(
            "{id} is the store's default account (the one a mount without --account acts as); \
             it cannot be removed: `imagefs store reset --yes` starts the store afresh"
        ))),
        AccountRemoval::Holds(holdings) => Err(Failure(format!(
            "account {id} still has {} custom image(s), {} instance(s) and {} image(s) shared \
             with it: mount as it (`imagefs mount DIR --account {id}`), `rmdir` its custom \
             images and instances, have the owners unshare theirs, then remove it",
            holdings.images, holdings.instances, holdings.shared_with_it
        ))),
    }
}

/// The store's account IDs, for messages.
pub fn known_list(store: &Store) -> Result<String, Failure> {
    let ids: Vec<String> = store
        .accounts()?
        .into_iter()
        .map(|(id, _)| id.to_string())
        .collect();
    Ok(ids.join(", "))
}
