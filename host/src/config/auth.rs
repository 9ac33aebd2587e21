//! `auth`: how clients prove who they are (signed tokens), and the
//! policy for a user signed in twice.

use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};

use crate::config::checks::name;
use crate::config::error::ConfigError;

/// Default of [`AuthConfig::leeway_secs`].
pub const DEFAULT_LEEWAY_SECS: u64 = 30;
/// Default of [`AuthConfig::operator_role`].
pub const DEFAULT_OPERATOR_ROLE: &str = "operator";

/// Shortest HS256 secret accepted, in bytes (the hash's output size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Client authentication: `auth` in the config.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `none`: clients are anonymous (for development); `jwt`: a client's
    /// first request must be `authenticate` with a token signed by the
    /// operator's account service. Default [`AuthMode::None`].
    pub mode: AuthMode,
    /// How tokens are signed: `HS256` (a shared secret), `RS256` or
    /// `EdDSA` (a public key; the private key stays with the signer).
    /// Default [`TokenAlgorithm::Hs256`].
    pub algorithm: TokenAlgorithm,
    /// The HS256 secret, at least [`MIN_SECRET_BYTES`] bytes. Prefer
    /// `secretFile`, so the secret stays out of the config. Default none.
    /// Never shown (serialized as `"(redacted)"`).
    #[serde(serialize_with = "redacted")]
    pub secret: Option<String>,
    /// A file holding the HS256 secret (one trailing newline is ignored).
    /// Default none.
    pub secret_file: Option<PathBuf>,
    /// A PEM file holding the RS256 or EdDSA public key. Default none.
    pub public_key_file: Option<PathBuf>,
    /// When set, a token's `iss` must be this. Default none.
    pub issuer: Option<String>,
    /// When set, a token's `aud` must include this. Default none.
    pub audience: Option<String>,
    /// Clock difference tolerated when checking `exp` and `nbf`, in
    /// seconds. Default [`DEFAULT_LEEWAY_SECS`].
    pub leeway_secs: u64,
    /// A token whose `roles` claim holds this role may delete any room.
    /// Default [`DEFAULT_OPERATOR_ROLE`].
    pub operator_role: String,
    /// When a user signs in while signed in on another connection:
    /// `replace` closes the older connection (`signed_in_elsewhere`);
    /// `allow` keeps both. Default [`SameUserPolicy::Replace`].
    pub same_user: SameUserPolicy,
}

/// `auth.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Anonymous clients.
    None,
    /// Signed JSON Web Tokens.
    Jwt,
}

/// `auth.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum TokenAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    #[serde(rename = "HS256")]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

/// `auth.sameUser`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SameUserPolicy {
    /// The newer connection wins; the older is closed.
    Replace,
    /// One user may be signed in on several connections.
    Allow,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::None,
            algorithm: TokenAlgorithm::Hs256,
            secret: None,
            secret_file: None,
            public_key_file: None,
            issuer: None,
            audience: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            operator_role: DEFAULT_OPERATOR_ROLE.to_owned(),
            same_user: SameUserPolicy::Replace,
        }
    }
}

/// A secret, shown as whether it is set, never as itself.
fn redacted<S: Serializer>(secret: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => serializer.serialize_str("(redacted)"),
        None => serializer.serialize_none(),
    }
}

impl AuthConfig {
    /// The HS256 secret, from `secret` or `secretFile`.
    ///
    /// # Errors
    /// When neither is set, the file cannot be read, or the secret is
    /// shorter than [`MIN_SECRET_BYTES`].
    pub fn secret(&self) -> anyhow::Result<Vec<u8>> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(secret), None) => secret.as_bytes().to_vec(),
            (None, Some(path)) => {
                let mut bytes = std::fs::read(path).map_err(|err| {
                    anyhow::anyhow!("auth.secretFile: cannot read {}: {err}", path.display())
                })?;
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                }
                bytes
            }
            _ => anyhow::bail!("auth: HS256 needs exactly one of secret and secretFile"),
        };
        if secret.len() < MIN_SECRET_BYTES {
            anyhow::bail!("auth: the HS256 secret must have at least {MIN_SECRET_BYTES} bytes");
        }
        Ok(secret)
    }

    /// Checks that the key material fits the algorithm (the files
    /// themselves are read at start).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`]: HS256 without exactly one of `secret` and
    /// `secretFile`, or with a short inline secret; RS256 or EdDSA without
    /// `publicKeyFile`, or with a secret.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.mode != AuthMode::Jwt {
            return Ok(());
        }
        let invalid = |field: String, message: String| ConfigError::invalid(origin, field, message);
        let (secret, secret_file) = (name!("auth", secret), name!("auth", secret_file));
        match self.algorithm {
            TokenAlgorithm::Hs256 => {
                if self.secret.is_some() == self.secret_file.is_some() {
                    let why = format!("HS256 needs exactly one of {secret} and {secret_file}");
                    return Err(invalid(secret, why));
                }
                if self.secret.as_ref().is_some_and(|s| s.len() < MIN_SECRET_BYTES) {
                    return Err(invalid(
                        secret,
                        format!("must have at least {MIN_SECRET_BYTES} bytes"),
                    ));
                }
            }
            TokenAlgorithm::Rs256 | TokenAlgorithm::EdDsa => {
                if self.public_key_file.is_none() {
                    return Err(invalid(
                        name!("auth", public_key_file),
                        "RS256 and EdDSA need the public key's PEM file".to_owned(),
                    ));
                }
                if self.secret.is_some() || self.secret_file.is_some() {
                    let why = format!(
                        "only HS256 uses a secret; RS256 and EdDSA use {}",
                        name!("auth", public_key_file)
                    );
                    return Err(invalid(secret, why));
                }
            }
        }
        Ok(())
    }
}
