//! # `positions`: frequent updates over UDP, driven by the room clock
//!
//! Every member steers a dot on a 1000 × 1000 field:
//!
//! - **Inputs**: a member sends `{"vx": x, "vy": y}` (units a second) as an
//!   unreliable message (`send_unreliable`, over UDP once bound); a lost
//!   input is simply replaced by the next one.
//! - **Updates**: the room ticks at `rate_hz` (default 30) while it has
//!   members, moves every dot, and broadcasts
//!   `{"tick": n, "dots": [[session, x, y], …]}` unreliably: over UDP to
//!   members that bound it, over TCP to the others.
//! - The create options set `{"rate_hz": 30, "speed": 200}` (the largest
//!   speed a member may ask for). Joins past 32 members are refused, so an
//!   update always fits in one datagram.

use std::collections::BTreeMap;
use std::time::Duration;

use room_sdk::prelude::*;

/// The field's size on both axes.
const FIELD: f32 = 1000.0;

#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", default)]
struct Rules {
    rate_hz: u32,
    speed: f32,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules { rate_hz: 30, speed: 200.0 }
    }
}

/// One member's dot.
#[derive(Clone, Copy, Default)]
struct Dot {
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
}

/// An input.
#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde")]
struct Steer {
    vx: f32,
    vy: f32,
}

/// An update.
#[derive(Serialize)]
#[serde(crate = "room_sdk::serde")]
struct Update {
    tick: u64,
    dots: Vec<(Session, f32, f32)>,
}

#[derive(Default)]
struct Positions {
    rules: Rules,
    dots: BTreeMap<Session, Dot>,
}

impl Room for Positions {
    type Call = NoCalls;

    fn create(&mut self, _room: &RoomInfo, start: Start, options: &Data) -> Result<(), RoomError> {
        if !options.is_nil() {
            self.rules = options.decode()?;
        }
        host::set_max_clients(32)?;
        // After a crash or a reload the members are still there: the dots
        // start again from random places.
        if start != Start::New {
            for session in host::members() {
                self.dots.insert(session, random_dot());
            }
        }
        Ok(())
    }

    fn join(&mut self, member: &Member, _options: &Data) -> Result<Reply, RoomError> {
        self.dots.insert(member.session, random_dot());
        host::set_tick_rate(self.rules.rate_hz)?;
        Ok(Reply::none())
    }

    fn leave(&mut self, member: &Member, _reason: &str) {
        self.dots.remove(&member.session);
        if self.dots.is_empty() {
            let _ = host::set_tick_rate(0);
        }
    }

    fn message(&mut self, from: &Member, data: &Data, _unreliable: bool) -> Result<(), RoomError> {
        let steer: Steer = data.decode()?;
        let speed = self.rules.speed;
        if let Some(dot) = self.dots.get_mut(&from.session) {
            dot.vx = steer.vx.clamp(-speed, speed);
            dot.vy = steer.vy.clamp(-speed, speed);
        }
        Ok(())
    }

    fn tick(&mut self, dt: Duration, count: u64) {
        let dt = dt.as_secs_f32();
        for dot in self.dots.values_mut() {
            dot.x = (dot.x + dot.vx * dt).rem_euclid(FIELD);
            dot.y = (dot.y + dot.vy * dt).rem_euclid(FIELD);
        }
        let dots = self.dots.iter().map(|(session, dot)| (*session, dot.x, dot.y)).collect();
        let _ = host::broadcast_unreliable(&Update { tick: count, dots });
    }
}

fn random_dot() -> Dot {
    let coordinate = || host::random_below(FIELD as u64) as f32;
    Dot { x: coordinate(), y: coordinate(), ..Dot::default() }
}

room_sdk::export_room!(Positions);
