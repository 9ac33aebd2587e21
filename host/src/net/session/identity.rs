//! Who the client is: `authenticate`, `resume` (which gives this
//! connection a held session), and the watch that closes a connection
//! when its token expires.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::BytesMut;
use tracing::info;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{ErrorCode, server};

use super::Session;
use crate::auth::Verified;
use crate::error::ApiError;
use crate::metrics::AuthFailure;
use crate::outbound::{Link, Responder};

impl Session {
    /// Checks `token` and records who the client is; a refused token
    /// closes the connection.
    pub(super) fn authenticate(&mut self, token: &str, respond: Responder) {
        let Some(auth) = &self.context.auth else {
            return respond.fail(ApiError::new(
                ErrorCode::InvalidRequest,
                "this server does not check tokens (auth.mode is none)",
            ));
        };
        if self.authenticated {
            return respond.fail(ApiError::new(
                ErrorCode::InvalidRequest,
                "this connection is authenticated",
            ));
        }
        match auth.verify(token) {
            Ok(Verified { identity, valid_until }) => {
                self.close_when_expired(valid_until);
                let user_id = identity.user_id.clone().unwrap_or_default();
                let user_name = identity.name.clone();
                info!(session = self.id(), user = %user_id, operator = identity.operator, "client authenticated");
                self.context.metrics.authenticated();
                self.client.set_identity(identity);
                self.context.signed_in.sign_in(&user_id, &self.client);
                self.authenticated = true;
                let token = self.token.as_deref();
                respond.ok_with(
                    112 + user_id.len() + user_name.as_ref().map_or(0, String::len),
                    |w| {
                        w.map(2 + usize::from(token.is_some())).str("user_id").str(&user_id);
                        w.str("user_name").opt_str(user_name.as_deref());
                        if let Some(token) = token {
                            w.str("resume_token").str(token);
                        }
                    },
                );
            }
            Err(refusal) => {
                info!(session = self.id(), reason = %refusal.message, "token refused");
                self.context.metrics.auth_failed(AuthFailure::TokenRefused);
                respond.fail(refusal);
                self.client.close();
            }
        }
    }

    /// Takes back the held session of `token` for this connection (its
    /// first request): on a server that authenticates, `auth_token` must
    /// be a valid token of the session's user. The answer, then what the
    /// session missed, go out on the session taken back; this connection's
    /// own fresh session ends. A refusal on a server that authenticates
    /// closes the connection, as a refused `authenticate` does.
    pub(super) async fn resume(
        &mut self,
        first: bool,
        token: &str,
        last_seq: u64,
        auth_token: Option<&str>,
        id: Option<u32>,
        reply: Responder,
    ) {
        if !first {
            return reply.fail(ApiError::new(
                ErrorCode::InvalidRequest,
                "resume must be a connection's first request",
            ));
        }
        if let (Some(node), Some(cluster)) =
            (self.context.sessions.elsewhere(token), self.context.cluster.clone())
        {
            // Another node holds the session: the client resumes there.
            return match cluster.node_address(node).await {
                Some(to) => reply.redirect(String::new(), to, String::new(), 0, false),
                None => reply.fail(ApiError::new(
                    ErrorCode::SessionNotFound,
                    "the node that held that session is gone",
                )),
            };
        }
        let verified = match (&self.context.auth, auth_token) {
            (None, _) => None,
            (Some(_), None) => Err(ApiError::new(
                ErrorCode::NotAuthenticated,
                "this server needs auth_token (a token of the session's user) to resume",
            ))
            .transpose(),
            (Some(auth), Some(jwt)) => Some(auth.verify(jwt)),
        };
        let taken = match verified.transpose() {
            Ok(verified) => {
                let user = verified.as_ref().map(|v| v.identity.user_id.clone());
                self.context
                    .sessions
                    .take(token, |held| match &user {
                        Some(user) if *user != held.identity().user_id => Err(ApiError::new(
                            ErrorCode::NotAuthenticated,
                            "that token is another user's: resume with your own",
                        )),
                        _ => Ok(()),
                    })
                    .map(|taken| (taken, verified))
            }
            Err(refusal) => Err(refusal),
        };
        let (taken, verified) = match taken {
            Ok(taken) => taken,
            Err(refusal) => {
                info!(session = self.id(), code = %refusal.code, "resume refused");
                reply.fail(refusal);
                if !self.authenticated {
                    self.context.metrics.auth_failed(AuthFailure::TokenRefused);
                    self.client.close();
                }
                return;
            }
        };
        reply.answered_elsewhere();
        if let Some(old) = self.token.replace(taken.token.clone()) {
            self.context.sessions.forget(&old);
        }
        let client = taken.client;
        let requests_read = client.requests_read();
        let rooms = client.memberships();
        let (link, resync) = client.resume(last_seq, |resumed| {
            let result = vampire_protocol::ResumeResult {
                session: client.session(),
                resume_token: taken.token,
                resync: resumed.resync,
                seq: resumed.seq,
                replayed: resumed.replayed,
                requests_read,
                rooms,
            };
            let mut map = BytesMut::with_capacity(result.encoded_size_bound());
            result.write(&mut Writer::new(&mut map));
            let mut frame = BytesMut::new();
            if let Some(id) = id {
                server::write_response(&mut frame, id, &map);
            }
            frame.freeze()
        });
        info!(session = client.session(), replaced = self.id(), resync, "session resumed");
        if let Some(verified) = verified {
            self.authenticated = true;
            self.close_when_expired_on(&link, verified.valid_until);
        }
        self.context.sessions.resumed(&client, resync).await;
        let fresh = std::mem::replace(&mut self.client, client.clone());
        self.handles.clear();
        self.handover = Some((client, link));
        self.context.sessions.end(&fresh, "left").await;
    }

    /// Closes the connection with `not_authenticated` when its token stops
    /// being valid: a token proves who the client is only until its `exp`,
    /// so a connection does not outlive it. The watch ends with the
    /// connection.
    fn close_when_expired(&self, valid_until: SystemTime) {
        if let Some(link) = self.client.link() {
            self.close_when_expired_on(&link, valid_until);
        }
    }

    /// [`Session::close_when_expired`] for connection `link`.
    fn close_when_expired_on(&self, link: &Arc<Link>, valid_until: SystemTime) {
        let left = valid_until.duration_since(SystemTime::now()).unwrap_or_default();
        let (client, closing) = (self.client.clone(), link.closing());
        self.context.tasks.spawn(async move {
            tokio::select! {
                () = closing => {}
                () = tokio::time::sleep(left) => {
                    info!(session = client.session(), "token expired, closing");
                    client.metrics().auth_failed(AuthFailure::Expired);
                    client.close_with(
                        ErrorCode::NotAuthenticated,
                        "your token has expired: connect again with a fresh one",
                    );
                }
            }
        });
    }
}
