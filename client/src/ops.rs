//! The operations, one method each, on [`Client`]: what each sends and how
//! its result is read.

use vampire_protocol::listing::{ListQuery, RoomSort};
use vampire_protocol::room::{field_of, variables_from_payload};
use vampire_protocol::{
    CreateRoom, DecodeError, Event, JoinResult, Payload, Redirect, Request, RoomInfo, RoomList,
    RoomOp, ServerOp, Value,
};

use crate::connection::Client;
use crate::error::ClientError;
use crate::udp;

/// Who the server says the client is, after `authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user id (the token's `sub`).
    pub user_id: String,
    /// The display name (the token's `name`), if any.
    pub user_name: Option<String>,
}

impl Client {
    /// Presents `token`; on a server that authenticates, this must be the
    /// first request. A refused token closes the connection.
    ///
    /// # Errors
    /// `not_authenticated` with the reason, `invalid_request` on a server
    /// that does not check tokens, or a transport error.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, ClientError> {
        let result =
            self.request(ServerOp::Authenticate { token: token.to_owned() }.into()).await?;
        let text =
            |field| field_of(&result, field).and_then(|v| v.to_value().as_str().map(str::to_owned));
        let user_id = text("user_id")
            .ok_or_else(|| DecodeError("an authenticate result without user_id".into()))?;
        let user_name = text("user_name");
        self.resumption().set_token(text("resume_token"));
        Ok(Authenticated { user_id, user_name })
    }

    /// Creates a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(client: vampire_client::Client) -> Result<(), vampire_client::ClientError> {
    /// use vampire_client::CreateRoom;
    ///
    /// let settings = CreateRoom {
    ///     room_type: Some("tictactoe".into()),
    ///     max_clients: Some(2),
    ///     public: Some(false),
    ///     ..CreateRoom::default()
    /// };
    /// let room = client.create_room(settings).await?;
    /// client.join(&room.id, None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_room(&self, settings: CreateRoom) -> Result<RoomInfo, ClientError> {
        let result = self.request(ServerOp::CreateRoom { settings }.into()).await?;
        Ok(RoomInfo::from_payload(&result)?)
    }

    /// The room as listings show it now (its members, limits, lock and
    /// metadata); a private room answers its members only.
    ///
    /// # Errors
    /// As for [`Client::request`]; `room_not_found` for a private room
    /// this client is not in.
    pub async fn room_info(&self, room: &str) -> Result<RoomInfo, ClientError> {
        let result = self.request(Request::room(room, RoomOp::Info {})).await?;
        Ok(RoomInfo::from_payload(&result)?)
    }

    /// Lists public rooms, optionally of one type (the first page, up to
    /// 1000 rooms; see [`Client::list_rooms_page`]).
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn list_rooms(&self, room_type: Option<&str>) -> Result<Vec<RoomInfo>, ClientError> {
        Ok(self.list_rooms_page(room_type, None, None).await?.rooms)
    }

    /// Lists public rooms from `offset`, at most `limit`.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn list_rooms_page(
        &self,
        room_type: Option<&str>,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<RoomList, ClientError> {
        self.list_rooms_where(room_type, &ListQuery::default(), offset, limit).await
    }

    /// Lists public rooms that `query` accepts (metadata filters, free
    /// seats), in its order, from `offset`, at most `limit`.
    ///
    /// # Errors
    /// As for [`Client::request`]; `invalid_request` for a query the
    /// server cannot read.
    pub async fn list_rooms_where(
        &self,
        room_type: Option<&str>,
        query: &ListQuery,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<RoomList, ClientError> {
        let list = ServerOp::ListRooms {
            room_type: room_type.map(str::to_owned),
            offset,
            limit,
            filters: (!query.filters.is_empty()).then(|| query.filters_payload()),
            free_seats: query.free_seats.then_some(true),
            sort: (query.sort != RoomSort::Oldest).then(|| query.sort.name().to_owned()),
        };
        let result = self.request(list.into()).await?;
        Ok(RoomList::from_payload(&result)?)
    }

    /// Joins a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn join(
        &self,
        room: &str,
        password: Option<&str>,
    ) -> Result<JoinResult, ClientError> {
        self.join_with(room, password, None).await
    }

    /// Joins a room, giving its join hook `options`; the hook's answer is
    /// the result's `reply`.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn join_with(
        &self,
        room: &str,
        password: Option<&str>,
        options: Option<Payload>,
    ) -> Result<JoinResult, ClientError> {
        let join = RoomOp::Join {
            password: password.map(str::to_owned),
            invite: None,
            options,
            reservation: None,
        };
        self.join_request(room, join).await
    }

    /// Joins a password-protected room with an invite its owner asked for
    /// ([`Client::create_invite`]) instead of the password.
    ///
    /// # Errors
    /// As for [`Client::request`]; `not_authorized` for an unknown, used
    /// or expired invite.
    pub async fn join_with_invite(
        &self,
        room: &str,
        invite: &str,
    ) -> Result<JoinResult, ClientError> {
        let join = RoomOp::Join {
            password: None,
            invite: Some(invite.to_owned()),
            options: None,
            reservation: None,
        };
        self.join_request(room, join).await
    }

    /// Sends a `join` of `room`; when the room lives on another node of a
    /// cluster, connects there (as this client connected: TLS, token) and
    /// joins with the seat the redirect reserved.
    async fn join_request(&self, room: &str, join: RoomOp) -> Result<JoinResult, ClientError> {
        let redirect = match self.request(Request::room(room, join.clone())).await {
            Ok(result) => return Ok(JoinResult::from_payload(&result)?),
            Err(ClientError::Redirect(redirect)) => redirect,
            Err(err) => return Err(err),
        };
        let RoomOp::Join { password, invite, options, .. } = join else {
            return Err(ClientError::Decode(DecodeError("join_request sends joins".into())));
        };
        self.follow_redirect(
            &redirect,
            RoomOp::Join { password, invite, options, reservation: None },
        )
        .await
    }

    /// Joins `room`, or a room created for this request, by `filters` (see
    /// [`ListQuery`]; only its filters count): the fullest public,
    /// unlocked room of `settings.room_type` without a password, with a
    /// free seat, whose metadata the filters accept; or, when none has
    /// one, a room created with `settings` (its `metadata`, when absent,
    /// is the filters' exact values). `join_options` goes to the room's
    /// join hook. The result's `created` says which. In a cluster, follows
    /// the redirect to the room's node.
    ///
    /// # Errors
    /// As for [`Client::request`]; `invalid_request` for filters the
    /// server cannot read or that the room it would create does not meet;
    /// what `create_room` and `join` answer.
    pub async fn join_or_create(
        &self,
        settings: CreateRoom,
        filters: &ListQuery,
        join_options: Option<Payload>,
    ) -> Result<JoinResult, ClientError> {
        let op = ServerOp::JoinOrCreate {
            settings,
            filters: (!filters.filters.is_empty()).then(|| filters.filters_payload()),
            join_options: join_options.clone(),
        };
        let redirect = match self.request(op.into()).await {
            Ok(result) => return Ok(JoinResult::from_payload(&result)?),
            Err(ClientError::Redirect(redirect)) => redirect,
            Err(err) => return Err(err),
        };
        let join =
            RoomOp::Join { password: None, invite: None, options: join_options, reservation: None };
        let mut result = self.follow_redirect(&redirect, join).await?;
        result.created = redirect.created;
        Ok(result)
    }

    /// Puts a ticket in matchmaking queue `queue` of the server's config,
    /// with the player's `properties` and the `query` other tickets must
    /// meet (see [`vampire_protocol::matchmaking`]); returns the ticket's
    /// id. The match comes as an [`Event::Matched`] (join it with
    /// [`Client::join_match`]), or [`Event::MatchTimeout`].
    ///
    /// # Errors
    /// As for [`Client::request`]; `invalid_request` for an unknown queue,
    /// properties the queue does not declare or a query it cannot read;
    /// `quota_exceeded` past 4 tickets of one connection.
    pub async fn matchmaker_add(
        &self,
        queue: &str,
        properties: Option<Payload>,
        query: Option<Payload>,
    ) -> Result<String, ClientError> {
        let add = ServerOp::MatchmakerAdd { queue: queue.to_owned(), properties, query };
        let result = self.request(add.into()).await?;
        field_of(&result, "ticket")
            .and_then(|v| v.to_value().as_str().map(str::to_owned))
            .ok_or_else(|| DecodeError("a matchmaker_add result without ticket".into()).into())
    }

    /// Withdraws a waiting ticket.
    ///
    /// # Errors
    /// As for [`Client::request`]; `invalid_request` when it no longer
    /// waits (matched, timed out).
    pub async fn matchmaker_remove(&self, ticket: &str) -> Result<(), ClientError> {
        let remove = ServerOp::MatchmakerRemove { ticket: ticket.to_owned() };
        self.request(remove.into()).await.map(drop)
    }

    /// Joins the room of a `matched` event with the seat held there (on
    /// its node, when it names one).
    ///
    /// # Errors
    /// As for [`Client::join`]; `invalid_request` (without asking the
    /// server) for an event that is not `matched`.
    pub async fn join_match(&self, matched: &Event) -> Result<JoinResult, ClientError> {
        let Event::Matched { room, reservation, expires_in_ms, address, ws_address, .. } = matched
        else {
            return Err(DecodeError("join_match takes a matched event".into()).into());
        };
        let seat =
            |reservation| RoomOp::Join { password: None, invite: None, options: None, reservation };
        let Some(address) = address else {
            return self.join_request(room, seat(Some(reservation.clone()))).await;
        };
        let redirect = Redirect {
            id: 0,
            room: room.clone(),
            address: address.clone(),
            ws_address: ws_address.clone(),
            reservation: reservation.clone(),
            expires_in_ms: *expires_in_ms,
            created: true,
        };
        self.follow_redirect(&redirect, seat(None)).await
    }

    /// Connects to the node `redirect` names (as this client connected:
    /// TLS, token) and sends it `join` of the redirect's room with the
    /// seat reserved there; this client then reaches the room through
    /// that connection.
    async fn follow_redirect(
        &self,
        redirect: &Redirect,
        join: RoomOp,
    ) -> Result<JoinResult, ClientError> {
        let RoomOp::Join { password, invite, options, .. } = join else {
            return Err(ClientError::Decode(DecodeError(
                "a redirect is followed by a join".into(),
            )));
        };
        let link = self.link_to(&redirect.address).await?;
        let reservation = Some(redirect.reservation.clone());
        let join = RoomOp::Join { password, invite, options, reservation };
        let room = redirect.room.as_str();
        let result = Box::pin(link.request(Request::room(room, join))).await?;
        let result = JoinResult::from_payload(&result)?;
        self.follow(room, link);
        Ok(result)
    }

    /// A one-time invite into `room` (its owner or an operator only),
    /// valid for ten minutes.
    ///
    /// # Errors
    /// As for [`Client::request`]; `not_authorized` for anyone else.
    pub async fn create_invite(&self, room: &str) -> Result<String, ClientError> {
        let result = self.request(Request::room(room, RoomOp::CreateInvite {})).await?;
        field_of(&result, "invite")
            .and_then(|v| v.to_value().as_str().map(str::to_owned))
            .ok_or_else(|| DecodeError("a create_invite result without invite".into()).into())
    }

    /// Leaves a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn leave(&self, room: &str) -> Result<(), ClientError> {
        self.request(Request::room(room, RoomOp::Leave {})).await?;
        self.unfollow(room);
        Ok(())
    }

    /// Deletes a room this client (or its user) created; an operator may
    /// delete any room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn delete_room(&self, room: &str) -> Result<(), ClientError> {
        self.request(Request::room(room, RoomOp::Delete {})).await.map(drop)
    }

    /// Reads one variable.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn get_variable(&self, room: &str, name: &str) -> Result<Payload, ClientError> {
        let result = self
            .request(Request::room(room, RoomOp::GetVariable { name: name.to_owned() }))
            .await?;
        field_of(&result, "value")
            .ok_or_else(|| DecodeError("a variable result without `value`".into()).into())
    }

    /// Reads every variable, as (name, value) pairs.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn get_variables(&self, room: &str) -> Result<Vec<(String, Payload)>, ClientError> {
        let result = self.request(Request::room(room, RoomOp::GetVariables {})).await?;
        Ok(variables_from_payload(&result)?)
    }

    /// Sets a variable; returns whether the change was broadcast.
    ///
    /// # Errors
    /// As for [`Client::request`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(client: vampire_client::Client, room: &str) -> Result<(), vampire_client::ClientError> {
    /// use vampire_client::Value;
    ///
    /// // Exact values: binary, 64-bit integers, floats and NaN survive.
    /// client.set_variable(room, "seed", Value::from(u64::MAX), None).await?;
    /// client.set_variable(room, "map", Value::Binary(vec![0, 1, 2]), Some(false)).await?;
    /// let seed = client.get_variable(room, "seed").await?;
    /// assert_eq!(seed.to_value(), Value::from(u64::MAX));
    /// # Ok(()) }
    /// ```
    pub async fn set_variable(
        &self,
        room: &str,
        name: &str,
        value: impl Into<Payload>,
        broadcast: Option<bool>,
    ) -> Result<bool, ClientError> {
        let result = self
            .request(Request::room(
                room,
                RoomOp::SetVariable {
                    name: name.to_owned(),
                    value: value.into(),
                    broadcast,
                    unreliable: None,
                },
            ))
            .await?;
        Ok(field_of(&result, "broadcast").is_some_and(|flag| flag.to_value() == Value::from(true)))
    }

    /// Calls a room method and returns its result.
    ///
    /// # Errors
    /// As for [`Client::request`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(client: vampire_client::Client, room: &str) -> Result<(), vampire_client::ClientError> {
    /// use vampire_client::{ErrorCode, json};
    ///
    /// let args = json::from_json(&serde_json::json!({"cell": 4}));
    /// match client.invoke(room, "play", args).await {
    ///     Ok(board) => println!("{board:?}"),
    ///     Err(err) if err.code() == Some(ErrorCode::RoomError) => println!("refused: {err}"),
    ///     Err(err) => return Err(err),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn invoke(
        &self,
        room: &str,
        method: &str,
        args: impl Into<Payload>,
    ) -> Result<Payload, ClientError> {
        let invoke = RoomOp::Invoke { method: method.to_owned(), args: args.into() };
        self.request(Request::room(room, invoke)).await
    }

    /// Sends a message to a room and waits for the server to accept it.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn send_message(
        &self,
        room: &str,
        data: impl Into<Payload>,
    ) -> Result<(), ClientError> {
        self.request(Request::room(room, RoomOp::SendMessage { data: data.into() })).await.map(drop)
    }

    /// Opens the UDP channel: asks the server for a session and its keys,
    /// and from then on receives unreliable events over UDP too (they
    /// arrive with the others, from [`Client::next_event`]). Binding again
    /// replaces the session (say, after its keys expired).
    ///
    /// # Errors
    /// `udp_unavailable` when the server has no UDP port, or a transport
    /// error.
    pub async fn bind_udp(&mut self) -> Result<(), ClientError> {
        let result = self.request(ServerOp::UdpBind {}.into()).await?;
        let binding = vampire_protocol::udp::Binding::from_payload(&result)?;
        let address = std::net::SocketAddr::new(self.server.ip(), binding.port);
        self.udp = Some(udp::UdpLink::open(address, binding, self.events.clone()).await?);
        Ok(())
    }

    /// Whether the UDP channel is open.
    pub fn has_udp(&self) -> bool {
        self.udp.is_some()
    }

    /// Sends a message to a room that may be lost: over UDP when the
    /// channel is open ([`Client::bind_udp`]), else as a TCP notification.
    /// No answer comes back either way.
    ///
    /// # Errors
    /// A transport error, or a message too large for a datagram.
    pub async fn send_unreliable(
        &self,
        room: &str,
        data: impl Into<Payload>,
    ) -> Result<(), ClientError> {
        let data = data.into();
        match &self.udp {
            Some(link) => link.send_message(room, data).await,
            None => self.notify(Request::room(room, RoomOp::SendMessage { data })).await,
        }
    }

    /// Round trip with no effect.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.request(ServerOp::Ping {}.into()).await.map(drop)
    }
}
