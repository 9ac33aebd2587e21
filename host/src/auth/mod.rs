//! Who a client is, and what proves it.
//!
//! - [`Authenticator`]: checks the signed token (a JWT) a client presents
//!   with `authenticate` at the start of its connection and turns its
//!   claims into an [`Identity`]. Tokens are signed by the operator's own
//!   account service; the server only holds the key that verifies them.
//! - [`password`]: room passwords, kept as argon2 hashes.
//! - [`guesses`]: how fast wrong passwords and invites may be tried, per
//!   room and per client address.
//! - [`SignedIn`]: which connection each user is signed in on, for the
//!   same-user policy.
//!
//! This module sits beside `outbound` (whose [`Identity`] it fills in) and
//! below `net` and `rooms`.

pub mod guesses;
pub mod password;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use vampire_protocol::{ErrorCode, Payload, SessionId};

use crate::config::{AuthConfig, AuthMode, SameUserPolicy, TokenAlgorithm};
use crate::error::ApiError;
use crate::outbound::{ClientHandle, Identity};

/// Longest token accepted, in bytes: a bound on what verifying one costs
/// and on the claims a client carries.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Longest user id (`sub`) accepted, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;

/// Longest display name (`name`) kept, in characters; a longer one is cut.
pub const MAX_NAME_CHARS: usize = 64;

/// What a valid token proves.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Who the client is.
    pub identity: Identity,
    /// When the token stops being valid (its `exp` plus the leeway): the
    /// server closes the connection then.
    pub valid_until: SystemTime,
}

/// Checks tokens against the configured key and rules.
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
    operator_role: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("Authenticator").field("algorithm", &self.validation.algorithms).finish()
    }
}

impl Authenticator {
    /// The authenticator `config` describes; `None` when authentication is
    /// off (`mode: none`).
    ///
    /// # Errors
    /// When the secret or key file cannot be read or is not a key of the
    /// configured algorithm. (The rest was checked with the config.)
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Option<Authenticator>> {
        if config.mode == AuthMode::None {
            return Ok(None);
        }
        let (algorithm, key) = match config.algorithm {
            TokenAlgorithm::Hs256 => {
                warn_about_secret(config);
                (Algorithm::HS256, DecodingKey::from_secret(&config.secret()?))
            }
            TokenAlgorithm::Rs256 => {
                let pem = read_key_file(config)?;
                let key = DecodingKey::from_rsa_pem(&pem).map_err(|err| {
                    anyhow::anyhow!("auth.publicKeyFile: not an RSA public key: {err}")
                })?;
                (Algorithm::RS256, key)
            }
            TokenAlgorithm::EdDsa => {
                let pem = read_key_file(config)?;
                let key = DecodingKey::from_ed_pem(&pem).map_err(|err| {
                    anyhow::anyhow!("auth.publicKeyFile: not an Ed25519 public key: {err}")
                })?;
                (Algorithm::EdDSA, key)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.leeway_secs;
        validation.validate_nbf = true;
        // A configured audience or issuer is a claim every token must
        // carry, not only one it must not contradict.
        let mut required = vec!["exp", "sub"];
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Ok(Some(Authenticator { key, validation, operator_role: config.operator_role.clone() }))
    }

    /// The identity `token` proves.
    ///
    /// # Errors
    /// `not_authenticated`, saying in a few words what is wrong (expired,
    /// not yet valid, bad signature, wrong audience or issuer, malformed,
    /// no user id); never quoting the token.
    pub fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let refuse =
            |why: &str| ApiError::new(ErrorCode::NotAuthenticated, format!("token refused: {why}"));
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refuse(&format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        // RFC 7515 4.1.11: a recipient must refuse a token whose `crit`
        // names an extension it does not understand, and this server
        // understands none.
        if jsonwebtoken::decode_header(token).is_ok_and(|header| header.crit.is_some()) {
            return Err(refuse(
                "it names critical header extensions (`crit`) this server does not support",
            ));
        }
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &self.key,
            &self.validation,
        )
        .map_err(|err| {
            refuse(match err.kind() {
                ErrorKind::ExpiredSignature => "it has expired",
                ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidAlgorithm => "signed with another algorithm",
                ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                    "aud" => "it lacks `aud`, which this server requires",
                    "iss" => "it lacks `iss`, which this server requires",
                    _ => "it lacks `exp` or `sub`",
                },
                _ => "not a well-formed token",
            })
        })?;
        let claims = data.claims;
        let user_id = match claims.get("sub") {
            Some(serde_json::Value::String(sub)) if !sub.is_empty() => sub.clone(),
            _ => return Err(refuse("`sub` must be a non-empty string")),
        };
        if user_id.len() > MAX_USER_ID_BYTES {
            return Err(refuse(&format!("`sub` is longer than {MAX_USER_ID_BYTES} bytes")));
        }
        let name = match claims.get("name") {
            Some(serde_json::Value::String(name)) => {
                Some(name.chars().take(MAX_NAME_CHARS).collect())
            }
            _ => None,
        };
        let operator = match claims.get("roles") {
            Some(serde_json::Value::Array(roles)) => {
                roles.iter().any(|role| role.as_str() == Some(&self.operator_role))
            }
            Some(serde_json::Value::String(role)) => role == &self.operator_role,
            _ => false,
        };
        // Required and checked by the validation: a number in the future.
        let exp = claims.get("exp").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let valid_until =
            UNIX_EPOCH + Duration::from_secs(exp.saturating_add(self.validation.leeway));
        let claims =
            Payload::encode(&claims).map_err(|_| refuse("its claims cannot be carried"))?;
        Ok(Verified {
            identity: Identity { user_id: Some(user_id), name, claims, operator },
            valid_until,
        })
    }
}

/// Says at start when the HS256 secret is kept where others may read it:
/// in the config file itself, or in a file other users can read. Anyone
/// holding the secret can sign tokens for any user.
fn warn_about_secret(config: &AuthConfig) {
    use std::os::unix::fs::PermissionsExt;
    if config.secret.is_some() {
        tracing::warn!(
            "auth.secret is in the config file; in production keep it in auth.secretFile, readable only by the server"
        );
    }
    if let Some(path) = &config.secret_file
        && let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            file = %path.display(),
            "auth.secretFile can be read by other users; make it readable only by the server (chmod 600)"
        );
    }
}

fn read_key_file(config: &AuthConfig) -> anyhow::Result<Vec<u8>> {
    let path = config.public_key_file.as_ref().ok_or_else(|| {
        anyhow::anyhow!("auth.publicKeyFile is required for {:?}", config.algorithm)
    })?;
    std::fs::read(path)
        .map_err(|err| anyhow::anyhow!("auth.publicKeyFile: cannot read {}: {err}", path.display()))
}

/// Which connection each signed-in user is on, to apply
/// `auth.sameUser` when a user signs in again.
#[derive(Debug)]
pub struct SignedIn {
    policy: SameUserPolicy,
    users: Mutex<HashMap<String, ClientHandle>>,
}

impl SignedIn {
    /// An empty register applying `policy`.
    pub fn new(policy: SameUserPolicy) -> SignedIn {
        SignedIn { policy, users: Mutex::new(HashMap::new()) }
    }

    /// Records that `client` signed in as `user_id`. Under the `replace`
    /// policy, the connection the user was signed in on before is closed
    /// with `signed_in_elsewhere`.
    pub fn sign_in(&self, user_id: &str, client: &ClientHandle) {
        if self.policy == SameUserPolicy::Allow {
            return;
        }
        let previous = self.lock().insert(user_id.to_owned(), client.clone());
        if let Some(previous) = previous
            && previous.session() != client.session()
        {
            tracing::info!(
                user = user_id,
                old_session = previous.session(),
                new_session = client.session(),
                "user signed in again; closing the older connection"
            );
            previous
                .close_with(ErrorCode::SignedInElsewhere, "you signed in on another connection");
        }
    }

    /// Forgets `session`'s sign-in as `user_id` (when the connection
    /// ends), unless a newer connection took the user's place.
    pub fn sign_out(&self, user_id: &str, session: SessionId) {
        let mut users = self.lock();
        if users.get(user_id).is_some_and(|client| client.session() == session) {
            users.remove(user_id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ClientHandle>> {
        self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
