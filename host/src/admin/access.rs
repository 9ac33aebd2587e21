//! Who may use the admin API: a request carries `Authorization: Bearer
//! TOKEN`, where TOKEN is the admin token (`admin.tokenFile`, compared in
//! constant time) or, when `auth.mode` is `jwt`, a token whose roles hold
//! `auth.operatorRole`. `/healthz`, `/readyz`, the monitor page's files
//! (they hold no data) and, with `admin.metricsPublic`, `/metrics` need
//! none.

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use crate::admin::error::AdminError;
use crate::auth::Authenticator;

/// Who made an admin request, for the log of what they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    /// The bearer of the admin token.
    AdminToken,
    /// A user whose token has the operator role.
    User(String),
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operator::AdminToken => f.write_str("admin token"),
            Operator::User(user) => write!(f, "operator {user}"),
        }
    }
}

/// The credentials the admin API accepts.
#[derive(Debug)]
pub struct Access {
    /// The admin token's bytes, when `admin.tokenFile` is set.
    admin_token: Option<Vec<u8>>,
    /// Checks operators' tokens, when `auth.mode` is `jwt`.
    tokens: Option<std::sync::Arc<Authenticator>>,
}

impl Access {
    /// Accepts `admin_token` and the operator tokens `tokens` checks.
    pub fn new(
        admin_token: Option<Vec<u8>>,
        tokens: Option<std::sync::Arc<Authenticator>>,
    ) -> Access {
        Access { admin_token, tokens }
    }

    /// Whether any credential is accepted (else only the open endpoints
    /// answer).
    pub fn is_open(&self) -> bool {
        self.admin_token.is_some() || self.tokens.is_some()
    }

    /// Reads the admin token from `admin.tokenFile` (one trailing newline
    /// dropped).
    ///
    /// # Errors
    /// When the file cannot be read or holds no token.
    pub fn read_token(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
        let text = std::fs::read(path).map_err(|err| {
            anyhow::anyhow!("admin.tokenFile: cannot read {}: {err}", path.display())
        })?;
        let token = text.strip_suffix(b"\n").unwrap_or(&text);
        let token = token.strip_suffix(b"\r").unwrap_or(token);
        if token.is_empty() {
            anyhow::bail!("admin.tokenFile: {} holds no token", path.display());
        }
        Ok(token.to_vec())
    }

    /// Who `headers` prove the request comes from.
    ///
    /// # Errors
    /// 401 without a bearer token or with one not accepted; 403 for a
    /// valid user token without the operator role.
    pub fn check(&self, headers: &HeaderMap) -> Result<Operator, AdminError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(AdminError::unauthorized("this needs Authorization: Bearer TOKEN"));
        };
        let bearer = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or(value.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| {
                AdminError::unauthorized("the Authorization header is not Bearer TOKEN")
            })?;
        if let Some(admin_token) = &self.admin_token
            && bool::from(admin_token.as_slice().ct_eq(bearer.as_bytes()))
        {
            return Ok(Operator::AdminToken);
        }
        let Some(tokens) = &self.tokens else {
            return Err(AdminError::unauthorized("the token is not accepted"));
        };
        // Anything that is not the admin token is read as a user token.
        match tokens.verify(bearer) {
            Ok(verified) if verified.identity.operator => {
                let user = verified.identity.user_id.unwrap_or_default();
                Ok(Operator::User(user))
            }
            Ok(_) => Err(AdminError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "this token does not have the operator role",
            )),
            Err(_) => Err(AdminError::unauthorized("the token is not accepted")),
        }
    }
}
