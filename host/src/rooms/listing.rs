//! [`Listing`]: what `list_rooms` shows of a room, kept current by the
//! room's actor and read without messaging it; and the page encoder every
//! listing answer goes through ([`answer_room_page`]), for this node's
//! rooms and for a cluster's.

use std::sync::Mutex;

use bytes::BytesMut;
use tokio::sync::mpsc;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{RoomId, RoomInfo};

use crate::lock::lock;
use crate::outbound::Responder;

/// Most rooms one `list_rooms` answer holds; a client pages with `offset`.
pub const MAX_LISTED_ROOMS: usize = 1000;

/// What listings show of a room: its [`RoomInfo`], kept current by the
/// room's actor (members, metadata, limits) and read by `list_rooms`.
#[derive(Debug)]
pub struct Listing {
    info: Mutex<RoomInfo>,
    /// Told the room's id after each change, when someone follows
    /// listings (the cluster registry; see
    /// [`crate::rooms::RoomManager::watch_listings`]).
    watch: Option<mpsc::UnboundedSender<RoomId>>,
}

impl Listing {
    /// A listing showing `info`, followed by nobody.
    pub fn new(info: RoomInfo) -> Listing {
        Listing { info: Mutex::new(info), watch: None }
    }

    /// A listing showing `info` whose every change sends the room's id to
    /// `watch` (when given).
    pub fn watched(info: RoomInfo, watch: Option<mpsc::UnboundedSender<RoomId>>) -> Listing {
        Listing { info: Mutex::new(info), watch }
    }

    /// The room as listings show it now.
    pub fn get(&self) -> RoomInfo {
        lock(&self.info).clone()
    }

    /// Reads what listings show without copying it.
    pub fn read<T>(&self, read: impl FnOnce(&RoomInfo) -> T) -> T {
        read(&lock(&self.info))
    }

    /// Changes what listings show.
    pub fn update(&self, change: impl FnOnce(&mut RoomInfo)) {
        let mut info = lock(&self.info);
        change(&mut info);
        if let Some(watch) = &self.watch {
            let _ = watch.send(info.id.clone());
        }
    }
}

/// Answers a `list_rooms` with `{"rooms": [...], "total": total}`: as
/// many of `rooms` (in order) as fit in one frame, each at most `size`
/// bytes and written by `write`. Rooms past the frame are not taken from
/// the iterator.
pub fn answer_room_page<T>(
    respond: Responder,
    rooms: impl Iterator<Item = T>,
    total: usize,
    size: impl Fn(&T) -> usize,
    write: impl Fn(&T, &mut Writer<'_, BytesMut>),
) {
    let budget = respond.max_result_bytes().saturating_sub(256);
    let mut used = 0;
    let page: Vec<T> = rooms
        .take_while(|room| {
            let after = used + size(room);
            // The room that would pass the budget is left for the next
            // page, and not counted.
            let fits = after <= budget;
            if fits {
                used = after;
            }
            fits
        })
        .collect();
    respond.ok_with(used + 32, |w| {
        w.map(2).str("rooms").array(page.len());
        for room in &page {
            write(room, w);
        }
        w.str("total").uint(total as u64);
    });
}
