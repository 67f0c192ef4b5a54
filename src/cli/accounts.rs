//! `imagefs accounts`: the accounts of a local store and their API key pairs.

use std::time::Duration;

use clap::Subcommand;

use imagefs::local::store::Store;
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
