//! The registry in Redis: this node's record and heartbeat, its rooms'
//! listings, the reaper of dead nodes, cluster-wide listings and the load
//! placement reads. Every function is one or two round trips; callers
//! decide what a failure means (see [`super::Cluster`]).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult, Script};
use serde::{Deserialize, Serialize};
use vampire_protocol::listing::ListQuery;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{Payload, RoomId, RoomInfo};

use crate::cluster::keys::Keys;
use crate::rooms::RoomHandle;

/// What `P:node:{node}` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeRecord {
    /// Where clients reach the node.
    pub address: String,
    /// Where WebSocket clients reach it, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_address: Option<String>,
    /// Rooms it holds.
    pub rooms: u64,
}

/// A node that may take a new room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its id.
    pub node: String,
    /// Rooms it holds, as `P:load` says.
    pub load: u64,
}

/// Removes a node whose key has expired, and its rooms, in one step;
/// does nothing if the node's key exists again (it came back).
const REAP: &str = r"
local p, node = ARGV[1], ARGV[2]
if redis.call('EXISTS', p .. ':node:' .. node) == 1 then return -1 end
local rooms = redis.call('HGETALL', p .. ':node-rooms:' .. node)
for i = 1, #rooms, 2 do
  redis.call('DEL', p .. ':room:' .. rooms[i], p .. ':seats:' .. rooms[i])
  redis.call('ZREM', p .. ':public', rooms[i])
  redis.call('ZREM', p .. ':public:' .. rooms[i + 1], rooms[i])
end
redis.call('DEL', p .. ':node-rooms:' .. node)
redis.call('SREM', p .. ':nodes', node)
redis.call('ZREM', p .. ':load', node)
return #rooms / 2
";

/// Claims a seat for a `join_or_create` in the first of the candidate
/// rooms (ARGV after the prefix and type: id, members, max_clients, ...)
/// that is still listed and whose seats taken (its counter, or its
/// members when more) leave one free; returns its id, or false.
const CLAIM_SEAT: &str = r"
local p, listed = ARGV[1], ARGV[1] .. ':public:' .. ARGV[2]
for i = 3, #ARGV, 3 do
  local id, members, max = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  if redis.call('ZSCORE', listed, id) then
    local seats = p .. ':seats:' .. id
    local taken = math.max(tonumber(redis.call('GET', seats) or '0'), members)
    if taken < max then
      redis.call('SET', seats, taken + 1)
      return id
    end
  end
end
return false
";

/// Ends a creation turn if `ARGV[1]` still holds it.
const END_TURN: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// One node's view of the registry.
#[derive(Clone)]
pub struct Registry {
    redis: ConnectionManager,
    keys: Keys,
    node: String,
}

impl Registry {
    /// The registry of `node`, through `redis`.
    pub fn new(redis: ConnectionManager, keys: Keys, node: String) -> Registry {
        Registry { redis, keys, node }
    }

    /// The key prefix (`cluster.keyPrefix`).
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// A handle on the connection, for commands of other parts (the
    /// matchmaker's pool).
    pub fn connection(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// Writes this node's record only if no live node holds the id.
    /// Returns whether it did.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn claim(&self, record: &NodeRecord, ttl_ms: u64) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let body = serde_json::to_string(record).expect("a node record encodes");
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.node(&self.node))
            .arg(body)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut redis)
            .await?;
        if set.is_some() {
            // A candidate for placement from now on, with what it holds.
            redis::pipe()
                .sadd(self.keys.nodes(), &self.node)
                .ignore()
                .zadd(self.keys.load(), &self.node, record.rooms)
                .ignore()
                .query_async::<()>(&mut redis)
                .await?;
        }
        Ok(set.is_some())
    }

    /// Refreshes this node's record and load. Returns `false` when the
    /// record had expired or vanished (the node was paused past its TTL,
    /// or Redis lost its data): its rooms must then be written again. A
    /// `draining` node leaves the load set instead: placement passes it
    /// over.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn heartbeat(
        &self,
        record: &NodeRecord,
        ttl_ms: u64,
        draining: bool,
    ) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let body = serde_json::to_string(record).expect("a node record encodes");
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg(self.keys.node(&self.node)).arg(body).arg("PX").arg(ttl_ms).arg("GET");
        pipe.cmd("SADD").arg(self.keys.nodes()).arg(&self.node).ignore();
        if draining {
            pipe.cmd("ZREM").arg(self.keys.load()).arg(&self.node).ignore();
        } else {
            pipe.cmd("ZADD").arg(self.keys.load()).arg(record.rooms).arg(&self.node).ignore();
        }
        let (previous,): (Option<String>,) = pipe.query_async(&mut redis).await?;
        Ok(previous.is_some())
    }

    /// Takes this node out of placement at once (it drains for a deploy);
    /// its heartbeats keep it out.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn withdraw(&self) -> RedisResult<()> {
        let mut redis = self.redis.clone();
        redis.zrem(self.keys.load(), &self.node).await
    }

    /// Every live node, this one included, sorted.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn live_nodes(&self) -> RedisResult<Vec<String>> {
        let mut redis = self.redis.clone();
        let mut nodes: Vec<String> = redis.smembers(self.keys.nodes()).await?;
        if nodes.is_empty() {
            return Ok(nodes);
        }
        let mut pipe = redis::pipe();
        for node in &nodes {
            pipe.exists(self.keys.node(node));
        }
        let alive: Vec<bool> = pipe.query_async(&mut redis).await?;
        let mut alive = alive.into_iter();
        nodes.retain(|_| alive.next().unwrap_or(false));
        nodes.sort_unstable();
        Ok(nodes)
    }

    /// Removes this node's record (at shutdown) and its rooms.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn leave(&self) -> RedisResult<()> {
        let mut redis = self.redis.clone();
        let _: () = redis.del(self.keys.node(&self.node)).await?;
        let _: i64 = Script::new(REAP)
            .arg(self.keys.prefix())
            .arg(&self.node)
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Writes the listings of `live` rooms and removes those of `gone`
    /// ones (`gone` maps a room to its type), in one pipeline.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn write_rooms(
        &self,
        live: &[RoomHandle],
        gone: &HashMap<RoomId, String>,
    ) -> RedisResult<()> {
        if live.is_empty() && gone.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let node_rooms = self.keys.node_rooms(&self.node);
        for handle in live {
            let info = handle.info();
            let id = &info.id;
            pipe.cmd("SET").arg(self.keys.room(id)).arg(encode_info(&info)).ignore();
            pipe.cmd("HSET").arg(&node_rooms).arg(id).arg(&info.room_type).ignore();
            // What the room says it holds replaces the seats claimed
            // before: those joined, or were refused.
            pipe.cmd("SET").arg(self.keys.seats(id)).arg(info.members).ignore();
            let listed = [self.keys.public(None), self.keys.public(Some(&info.room_type))];
            for set in listed {
                if info.public && !info.locked {
                    pipe.cmd("ZADD").arg(set).arg("NX").arg(handle.created_unix_ms()).arg(id);
                } else {
                    pipe.cmd("ZREM").arg(set).arg(id);
                }
                pipe.ignore();
            }
        }
        for (id, room_type) in gone {
            pipe.cmd("DEL").arg(self.keys.room(id)).arg(self.keys.seats(id)).ignore();
            pipe.cmd("HDEL").arg(&node_rooms).arg(id).ignore();
            pipe.cmd("ZREM").arg(self.keys.public(None)).arg(id).ignore();
            pipe.cmd("ZREM").arg(self.keys.public(Some(room_type))).arg(id).ignore();
        }
        let mut redis = self.redis.clone();
        pipe.query_async::<()>(&mut redis).await
    }

    /// Writes the listing of one live room now, ahead of the writer.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn write_room(&self, handle: &RoomHandle) -> RedisResult<()> {
        self.write_rooms(std::slice::from_ref(handle), &HashMap::new()).await
    }

    /// The rooms the registry lists for this node (id → type): after a
    /// restart or an outage, those no longer alive are removed.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn registered_rooms(&self) -> RedisResult<HashMap<RoomId, String>> {
        let mut redis = self.redis.clone();
        redis.hgetall(self.keys.node_rooms(&self.node)).await
    }

    /// Removes every node whose key has expired, with its rooms. Returns
    /// the nodes removed and how many rooms each had.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn reap(&self) -> RedisResult<Vec<(String, i64)>> {
        let mut redis = self.redis.clone();
        let nodes: Vec<String> = redis.smembers(self.keys.nodes()).await?;
        let others: Vec<&String> = nodes.iter().filter(|n| **n != self.node).collect();
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for node in &others {
            pipe.exists(self.keys.node(node));
        }
        let alive: Vec<bool> = pipe.query_async(&mut redis).await?;
        let mut reaped = Vec::new();
        for (node, alive) in others.into_iter().zip(alive) {
            if alive {
                continue;
            }
            let rooms: i64 = Script::new(REAP)
                .arg(self.keys.prefix())
                .arg(node)
                .invoke_async(&mut redis)
                .await?;
            if rooms >= 0 {
                reaped.push((node.clone(), rooms));
            }
        }
        Ok(reaped)
    }

    /// The live nodes that may take a room, with their load.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn candidates(&self) -> RedisResult<Vec<Candidate>> {
        let mut redis = self.redis.clone();
        let load: Vec<(String, f64)> = redis.zrange_withscores(self.keys.load(), 0, -1).await?;
        if load.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (node, _) in &load {
            pipe.exists(self.keys.node(node));
        }
        let alive: Vec<bool> = pipe.query_async(&mut redis).await?;
        Ok(load
            .into_iter()
            .zip(alive)
            .filter(|(_, alive)| *alive)
            .map(|((node, load), _)| Candidate { node, load: load.max(0.0) as u64 })
            .collect())
    }

    /// Sets this node's load: the rooms it holds or is creating.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn set_load(&self, rooms: u64) -> RedisResult<()> {
        let mut redis = self.redis.clone();
        redis.zadd(self.keys.load(), &self.node, rooms).await
    }

    /// Settles who placement request `request` of this node belongs to:
    /// `taken` by the node asked to create the room, or `cancelled` by
    /// this node after a timeout. Returns whether `claim` won (the first
    /// to write wins; the key expires after a minute).
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn settle(&self, from: &str, request: u64, claim: &str) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.placement(from, request))
            .arg(claim)
            .arg("NX")
            .arg("PX")
            .arg(60_000)
            .query_async(&mut redis)
            .await?;
        Ok(set.is_some())
    }

    /// Live node `node`'s record (where clients reach it); `None` when
    /// the node is not live.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn node_record(&self, node: &str) -> RedisResult<Option<NodeRecord>> {
        let mut redis = self.redis.clone();
        let record: Option<String> = redis.get(self.keys.node(node)).await?;
        Ok(record.and_then(|body| serde_json::from_str::<NodeRecord>(&body).ok()))
    }

    /// This node's inbox channel.
    pub fn inbox(&self) -> String {
        self.keys.inbox(&self.node)
    }

    /// Whether the registry still holds `room` (its node has not removed
    /// it, nor been reaped with it).
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn room_registered(&self, room: &str) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        redis.exists(self.keys.room(room)).await
    }

    /// Sends `message` to `node`'s inbox. Returns how many subscribers got
    /// it: 0 when the node is not listening (dead, or reconnecting).
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn publish(&self, node: &str, message: Vec<u8>) -> RedisResult<usize> {
        let mut redis = self.redis.clone();
        redis.publish(self.keys.inbox(node), message).await
    }

    /// A page of the cluster's public rooms (of one type, or all), oldest
    /// first: the rooms' encoded listings, and how many match in all.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn list(
        &self,
        room_type: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> RedisResult<(Vec<Vec<u8>>, usize)> {
        let mut redis = self.redis.clone();
        let set = self.keys.public(room_type);
        let (total, ids): (usize, Vec<String>) = redis::pipe()
            .zcard(&set)
            .zrange(&set, offset as isize, (offset + limit) as isize - 1)
            .query_async(&mut redis)
            .await?;
        if ids.is_empty() {
            return Ok((Vec::new(), total));
        }
        let keys: Vec<String> = ids.iter().map(|id| self.keys.room(id)).collect();
        let rooms: Vec<Option<Vec<u8>>> =
            redis::cmd("MGET").arg(keys).query_async(&mut redis).await?;
        Ok((rooms.into_iter().flatten().collect(), total))
    }

    /// Every public room of `room_type` (or of any type) that `query`
    /// accepts, in its order. Conditions and sorts read every listing of
    /// the type, so a page is cut from this, not in Redis.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn list_matching(
        &self,
        room_type: Option<&str>,
        query: &ListQuery,
    ) -> RedisResult<Vec<RoomInfo>> {
        let (listings, _) = self.list(room_type, 0, isize::MAX as usize).await?;
        let mut rooms: Vec<RoomInfo> = listings
            .into_iter()
            .filter_map(|room| Payload::from_bytes(Bytes::from(room)).ok())
            .filter_map(|room| RoomInfo::from_payload(&room).ok())
            .filter(|room| query.matches(room))
            .collect();
        query.sort.apply(&mut rooms, |room| room);
        Ok(rooms)
    }
}

impl Registry {
    /// Claims a seat in the first of `rooms` of `room_type` (fullest
    /// first) still listed with one free, in one step (see
    /// [`CLAIM_SEAT`]): racing nodes never claim the same last seat. The
    /// room's node has the last word when the seat is reserved there.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn claim_seat(
        &self,
        room_type: &str,
        rooms: &[RoomInfo],
    ) -> RedisResult<Option<RoomId>> {
        if rooms.is_empty() {
            return Ok(None);
        }
        let claim = Script::new(CLAIM_SEAT);
        let mut script = claim.prepare_invoke();
        script.arg(self.keys.prefix()).arg(room_type);
        for room in rooms {
            script.arg(&room.id).arg(room.members).arg(room.max_clients);
        }
        let mut redis = self.redis.clone();
        script.invoke_async(&mut redis).await
    }

    /// Takes the turn to create a room of `room_type` for `join_or_create`
    /// `token`, for at most `ttl_ms`; `false` while another holds it.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn take_creation_turn(
        &self,
        room_type: &str,
        token: &str,
        ttl_ms: u64,
    ) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.creating(room_type))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut redis)
            .await?;
        Ok(set.is_some())
    }

    /// Whether some `join_or_create` holds the turn to create a room of
    /// `room_type`.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn creation_turn_taken(&self, room_type: &str) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        redis.exists(self.keys.creating(room_type)).await
    }

    /// Ends `token`'s turn to create a room of `room_type`, if it still
    /// holds it.
    ///
    /// # Errors
    /// When Redis fails or does not answer in time.
    pub async fn end_creation_turn(&self, room_type: &str, token: &str) -> RedisResult<()> {
        let mut redis = self.redis.clone();
        Script::new(END_TURN)
            .key(self.keys.creating(room_type))
            .arg(token)
            .invoke_async::<i64>(&mut redis)
            .await
            .map(drop)
    }
}

/// A room's listing as the registry keeps it.
pub fn encode_info(info: &RoomInfo) -> Vec<u8> {
    let mut buf = BytesMut::with_capacity(info.encoded_size_bound());
    info.write(&mut Writer::new(&mut buf));
    buf.to_vec()
}
