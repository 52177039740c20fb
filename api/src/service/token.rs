//! Editor tokens: created with a random secret shown once, stored as a hash,
//! looked up by the hash of what a request presents, revoked by name.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::editor_token;
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::error::{Error, Result};

/// Prefix of every secret, so a leaked one is recognisable in logs and scanners.
const SECRET_PREFIX: &str = "qt_";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every article mutation but deletes and restores.
    Editor,
    /// Everything, deletes and restores included.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || needed == Role::Editor
    }
}

/// An authenticated editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    /// The token's name, recorded in revisions.
    pub name: String,
    /// What the token may do.
    pub role: Role,
}

/// The stored form of a secret. The secret is 256 random bits, so a plain
/// hash cannot be reversed; a lookup by hash compares no secret bytes, so
/// its timing tells an attacker nothing.
pub fn hash_secret(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// Creates a token; returns the secret, which is not stored anywhere.
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(Error::bad_input(
            "name",
            "a token name is 1 to 64 printable characters",
        ));
    }
    if editor_token::Entity::find()
        .filter(editor_token::Column::Name.eq(name))
        .one(db)
        .await?
        .is_some()
    {
        return Err(Error::bad_input(
            "name",
            format!("a token named `{name}` exists already; revoke it or pick another name"),
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    editor_token::Entity::insert(editor_token::ActiveModel {
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        secret_hash: Set(hash_secret(&secret)),
        created_at: Set(now),
        revoked_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(secret)
}

/// Every token, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<editor_token::Model>> {
    Ok(editor_token::Entity::find()
        .order_by_asc(editor_token::Column::Id)
        .all(db)
        .await?)
}

/// Revokes the token named `name`.
pub async fn revoke(db: &impl ConnectionTrait, name: &str, now: DateTime<Utc>) -> Result<()> {
    let result = editor_token::Entity::update_many()
        .col_expr(
            editor_token::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(editor_token::Column::Name.eq(name))
        .filter(editor_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(Error::NotFound(format!("no active token named `{name}`")));
    }
    Ok(())
}

/// The editor a secret belongs to, unless it is unknown or revoked.
pub async fn authenticate(db: &impl ConnectionTrait, secret: &str) -> Result<Option<Editor>> {
    let token = editor_token::Entity::find()
        .filter(editor_token::Column::SecretHash.eq(hash_secret(secret)))
        .filter(editor_token::Column::RevokedAt.is_null())
        .one(db)
        .await?;
    Ok(token.and_then(|t| Role::parse(&t.role).map(|role| Editor { name: t.name, role })))
}
