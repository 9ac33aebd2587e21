//! The room actor: one task per room that owns its [`RoomState`] and
//! behaviour and takes [`RoomCommand`]s from a bounded mailbox.
//!
//! Because one task owns everything, no lock guards room state, and the
//! commands of a room are applied in the order they arrive. Commands carry
//! their [`Responder`], so the room answers the client itself and the
//! connection never waits for a room: it reads its next request at once.
//! A command still queued when the room ends is answered
//! `room_not_found` as its responder is dropped.

mod admin;
mod ops;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tracing::info;

use crate::metrics::TypeMetrics;
use crate::outbound::{ClientHandle, Responder};
use crate::rooms::behaviour::RoomBehaviour;
use crate::rooms::command::{RoomCommand, Swap};
use crate::rooms::index::{RoomHandle, RoomIndex};
use crate::rooms::invites::Invites;
use crate::rooms::seats::Seats;
use crate::rooms::state::RoomState;

/// Commands a room handles in one turn at most, before it hands its
/// outbox to the members.
const TURN_COMMANDS: usize = 64;

/// How long one turn of the room clock may run timers before the room
/// looks at its mailbox again.
const CLOCK_TURN: Duration = Duration::from_millis(5);

/// Whether the actor goes on after a command.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Stop(Ending),
}

/// Why a room ends.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Its owner deleted it: members get `room_deleted`.
    Deleted,
    /// Empty, or never joined, or its mailbox closed.
    Disposed,
    /// The server closed it: members get `room_closed` with the reason.
    Closed(String),
    /// The server is stopping.
    Shutdown,
}

/// How long a room may live without members, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomTimeouts {
    /// An auto-disposing room nobody joined is deleted after this.
    pub(crate) unjoined: Duration,
    /// A kept room is deleted once empty this long after its owner left.
    pub(crate) orphan: Duration,
}

/// A room's task: the state, the behaviour and where they are indexed.
pub(crate) struct RoomActor {
    pub(crate) state: RoomState,
    pub(crate) behaviour: Box<dyn RoomBehaviour>,
    /// Where the room's creation is counted, under its type.
    pub(crate) type_metrics: Arc<TypeMetrics>,
    pub(crate) index: Arc<RoomIndex>,
    /// This room's entry in the index, added once its `create` hook
    /// succeeded.
    pub(crate) handle: RoomHandle,
    /// The connection that created the room, when it was a connection of
    /// this node: its rooms count against its quota, and a kept room is
    /// disposed of some time after it is gone. A room created for another
    /// node's client has no creator here (as if it were gone already).
    pub(crate) owner: Option<ClientHandle>,
    pub(crate) timeouts: RoomTimeouts,
    /// Invites handed out and not yet used.
    pub(crate) invites: Invites,
    /// Seats held for joiners redirected here by other nodes.
    pub(crate) seats: Seats,
    /// Members whose connection dropped that the room holds for less
    /// than the server's window (its `disconnect` hook said so), and when
    /// each leaves with reason `timeout` unless it comes back.
    pub(crate) holds: Vec<(vampire_protocol::SessionId, Instant)>,
}

/// Membership history the disposal rules depend on.
struct Lifetime {
    created: Instant,
    ever_joined: bool,
    owner_gone: bool,
    empty_since: Instant,
}

impl RoomActor {
    /// Runs the `create` hook, answers the creator, then serves commands
    /// until the room is deleted, closed or disposed, and finally removes
    /// it from the index.
    pub(crate) async fn run(mut self, mut mailbox: mpsc::Receiver<RoomCommand>, create: Responder) {
        if let Err(err) = self.behaviour.on_create(&mut self.state).await {
            info!(room = %self.state.id(), room_type = %self.state.settings().room_type, reason = %err.message, "room not created");
            create.fail(err);
            self.finish(mailbox);
            return;
        }
        self.state.flush();
        self.index.insert(self.handle.clone());
        self.type_metrics.room_created();
        let info = self.state.info();
        info!(
            room = %info.id,
            room_type = %info.room_type,
            public = info.public,
            max_clients = info.max_clients,
            owner = ?self.state.settings().owner,
            "room created"
        );
        create.ok_with(info.encoded_size_bound(), |w| info.write(w));

        let now = Instant::now();
        let owner_gone = self.owner.is_none();
        let mut life = Lifetime { created: now, ever_joined: false, owner_gone, empty_since: now };
        // Grows with the turns the room sees (to at most TURN_COMMANDS):
        // a quiet room holds no buffer of commands it never gets.
        let mut batch = Vec::new();
        // Built once and polled on every turn: a future made anew per turn
        // would register with its timer or token again each time.
        let creator_gone = creator_gone(self.owner.clone());
        let clock_timer = tokio::time::sleep_until(now);
        let dispose_timer = tokio::time::sleep_until(now);
        let hold_timer = tokio::time::sleep_until(now);
        tokio::pin!(creator_gone, clock_timer, dispose_timer, hold_timer);
        let (mut clock_at, mut dispose_at, mut hold_at) = (None, None, None);
        let ending = loop {
            rearm(&mut clock_timer, &mut clock_at, self.state.clock().next_deadline());
            rearm(&mut dispose_timer, &mut dispose_at, self.dispose_deadline(&life));
            let hold_deadline = self.holds.iter().map(|(_, until)| *until).min();
            rearm(&mut hold_timer, &mut hold_at, hold_deadline);
            let mut next = Next::Continue;
            tokio::select! {
                biased;
                received = mailbox.recv_many(&mut batch, TURN_COMMANDS) => {
                    if received == 0 {
                        break Ending::Disposed;
                    }
                    for command in batch.drain(..) {
                        if next != Next::Continue {
                            // Dropping it answers `room_not_found`.
                            continue;
                        }
                        next = self.handle(command).await;
                        next = self.close_if_asked(next);
                    }
                }
                () = &mut clock_timer, if clock_at.is_some() => {
                    clock_at = None;
                    next = self.run_clock().await;
                }
                () = &mut hold_timer, if hold_at.is_some() => {
                    hold_at = None;
                    self.end_holds(Instant::now()).await;
                }
                () = &mut creator_gone, if !life.owner_gone => {
                    life.owner_gone = true;
                    continue;
                }
                () = &mut dispose_timer, if dispose_at.is_some() => {
                    let why = if life.ever_joined { "empty since its creator left" } else { "nobody joined in time" };
                    info!(room = %self.state.id(), "room disposed: {why}");
                    break Ending::Disposed;
                }
            }
            self.state.flush();
            match next {
                Next::Continue => {}
                Next::Stop(ending) => break ending,
            }
            if self.state.member_count() > 0 {
                life.ever_joined = true;
                life.empty_since = Instant::now();
            } else if life.ever_joined && self.state.settings().auto_dispose {
                info!(room = %self.state.id(), "room disposed: last member left");
                break Ending::Disposed;
            }
        };
        self.end(ending).await;
        self.finish(mailbox);
    }

    /// Delivers what the clock has due: the tick, then the timers, for at
    /// most [`CLOCK_TURN`]; timers still due then wait for the next turn,
    /// after the commands that came meanwhile (a room with many timers
    /// due still answers its mailbox promptly).
    async fn run_clock(&mut self) -> Next {
        let now = Instant::now();
        if let Some(tick) = self.state.clock_mut().take_tick(now) {
            self.behaviour.on_tick(&mut self.state, tick.dt, tick.count).await;
            if let Next::Stop(ending) = self.close_if_asked(Next::Continue) {
                return Next::Stop(ending);
            }
        }
        while now.elapsed() < CLOCK_TURN {
            let Some(tag) = self.state.clock_mut().take_due_timer(now) else { break };
            self.behaviour.on_timer(&mut self.state, &tag).await;
            if let Next::Stop(ending) = self.close_if_asked(Next::Continue) {
                return Next::Stop(ending);
            }
        }
        Next::Continue
    }

    /// Turns a close the behaviour asked for into the end of the room.
    fn close_if_asked(&mut self, next: Next) -> Next {
        match self.state.take_close_request() {
            Some(reason) => Next::Stop(Ending::Closed(reason)),
            None => next,
        }
    }

    /// Runs the dispose hook, then tells the members why the room ends.
    async fn end(&mut self, ending: Ending) {
        let (hook_reason, told): (&str, Option<String>) = match &ending {
            Ending::Deleted => ("deleted", None),
            Ending::Disposed => ("disposed", Some("the room was closed".to_owned())),
            Ending::Closed(reason) => ("closed", Some(reason.clone())),
            Ending::Shutdown => ("shutdown", Some("the server is shutting down".to_owned())),
        };
        if let Ending::Closed(reason) = &ending {
            info!(room = %self.state.id(), %reason, "room closed");
        }
        self.behaviour.on_dispose(&mut self.state, hook_reason).await;
        self.state.flush();
        if told.is_none() || self.state.member_count() > 0 {
            self.state.end(told.as_deref());
        }
    }

    /// When the room is deleted for lack of members, if it is.
    fn dispose_deadline(&self, life: &Lifetime) -> Option<Instant> {
        let settings = self.state.settings();
        if settings.auto_dispose && !life.ever_joined {
            Some(life.created + self.timeouts.unjoined)
        } else if !settings.auto_dispose && life.owner_gone && self.state.member_count() == 0 {
            Some(life.empty_since.max(life.created) + self.timeouts.orphan)
        } else {
            None
        }
    }

    /// Leaves the index and answers what is still queued
    /// (`room_not_found`).
    fn finish(self, mut mailbox: mpsc::Receiver<RoomCommand>) {
        self.index.release(self.state.id());
        mailbox.close();
        while mailbox.try_recv().is_ok() {}
        if let Some(owner) = &self.owner {
            owner.release_room();
        }
    }

    async fn handle(&mut self, command: RoomCommand) -> Next {
        match command {
            RoomCommand::Op { op, caller, admission, reply } => {
                return self.run_op(*op, caller, admission, reply).await;
            }
            RoomCommand::Admin { op, reply } => return self.run_admin(*op, reply).await,
            RoomCommand::UnreliableMessage { session, data } => {
                // Nobody hears how an unreliable message went.
                if self.state.is_member(session) {
                    let _ = self.behaviour.on_message(&mut self.state, session, &data, true).await;
                }
            }
            RoomCommand::Presence { session, change } => self.presence(session, change).await,
            RoomCommand::ReserveSeat { ttl, user_id, joiner, done } => {
                let _ = done.send(self.reserve_seat(ttl, user_id, joiner));
            }
            RoomCommand::InviteIsLive { invite, done } => {
                let _ = done.send(self.invites.is_live(&invite, std::time::Instant::now()));
            }
            RoomCommand::Shutdown => return Next::Stop(Ending::Shutdown),
            RoomCommand::Reload { room_type, swap, done } => {
                if let Swap::Recompiled { sha256 } = &swap
                    && self.behaviour.plugin().is_none_or(|running| running.sha256 != *sha256)
                {
                    let _ = done.send(Ok(false));
                    return Next::Continue;
                }
                let outcome = self.behaviour.reload(&mut self.state, &room_type).await;
                if let (Ok(true), Swap::NewVersion) = (&outcome, swap) {
                    self.state.announce_reloaded();
                }
                let _ = done.send(outcome);
            }
        }
        Next::Continue
    }
}

/// Completes once the creator's session has ended (never without one;
/// the branch using it is disabled then).
async fn creator_gone(owner: Option<ClientHandle>) {
    match owner {
        Some(owner) => owner.ended().await,
        None => std::future::pending().await,
    }
}

/// Points `timer` at `deadline` when it changed since `armed` (the
/// deadline it was set to); a timer without a deadline stays disabled.
fn rearm(
    timer: &mut std::pin::Pin<&mut Sleep>,
    armed: &mut Option<Instant>,
    deadline: Option<Instant>,
) {
    if deadline != *armed {
        if let Some(deadline) = deadline {
            timer.as_mut().reset(deadline);
        }
        *armed = deadline;
    }
}
