//! A session's `join_or_create`: the request read and checked here, the
//! placement done by the rooms of this node ([`crate::rooms::matching`])
//! or, in a cluster, across the nodes ([`crate::cluster::Cluster`]).

use vampire_protocol::listing::ListQuery;
use vampire_protocol::{CreateRoom, ErrorCode, Payload, RoomInfo};

use super::Session;
use crate::error::ApiError;
use crate::outbound::Responder;
use crate::rooms::matching::JoinOrCreate;

impl Session {
    /// Answers a `join_or_create`: a refusal for filters it cannot read or
    /// that the room it would create does not meet; otherwise the room's
    /// join answer (or a redirect), from a task of its own, as it may wait
    /// for a turn to create a room or for other nodes.
    pub(super) async fn join_or_create(
        &mut self,
        mut settings: CreateRoom,
        filters: Option<Payload>,
        join_options: Option<Payload>,
        reply: Responder,
    ) {
        let query = match ListQuery::from_request(filters.as_ref(), None, None) {
            Ok(query) => query,
            Err(why) => return reply.fail(ApiError::new(ErrorCode::InvalidRequest, why)),
        };
        if settings.metadata.is_none() && !query.filters.is_empty() {
            settings.metadata = Some(query.exact_metadata());
        }
        // A room that its own request would not find would be created
        // again by the next one.
        let created = RoomInfo {
            metadata: settings.metadata.clone().unwrap_or_default(),
            ..RoomInfo::default()
        };
        if !query.matches(&created) {
            return reply.fail(ApiError::new(
                ErrorCode::InvalidRequest,
                "the metadata of the room join_or_create would create does not meet its filters",
            ));
        }
        let password_hash = match settings.password.take() {
            None => None,
            Some(password) => match self.context.gate.passwords.hash(password).await {
                Ok(hash) => Some(hash),
                Err(err) => return reply.fail(err),
            },
        };
        let request = JoinOrCreate { settings, password_hash, query, join_options };
        let client = self.client.clone();
        match self.context.cluster.clone() {
            Some(cluster) => self.spawn_waiting(reply, |reply| async move {
                cluster.join_or_create(request, client, reply).await;
            }),
            None => {
                let rooms = self.rooms.clone();
                self.spawn_waiting(reply, |reply| async move {
                    rooms.join_or_create(request, client, reply).await;
                });
            }
        }
    }
}
