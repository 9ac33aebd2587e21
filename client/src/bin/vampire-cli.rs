//! `vampire-cli`: try a VampireTCP server by hand.
//!
//! Reads one command per line from standard input and prints each result,
//! and every event as it arrives. Type `help` for the commands.
//! `vampire-cli token` signs a development token for a server that
//! authenticates.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio::io::{AsyncBufReadExt, BufReader};
use vampire_client::json::{from_json, to_json};
use vampire_client::{
    Client, ClientError, Condition, ConnectOptions, ConnectionEvent, CreateRoom, Event, Incoming,
    JoinResult, ListQuery, Payload, ReconnectPolicy, RoomInfo, TlsOptions, Value,
    VariableBroadcast, host_of,
};

/// Command-line client for VampireTCP.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:7777")]
    addr: String,
    /// A token to authenticate with (see `vampire-cli token`).
    #[arg(long, env = "VAMPIRE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Connect over TLS.
    #[arg(long)]
    tls: bool,
    /// With --tls: a PEM file of the authorities to trust (the server's
    /// certificate itself when it is self-signed).
    #[arg(long, value_name = "FILE", default_value = "/etc/ssl/certs/ca-certificates.crt")]
    ca: PathBuf,
    /// With --tls: the name the server's certificate is for (default: the
    /// host part of --addr).
    #[arg(long)]
    server_name: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a development token signed with an HS256 secret (the
    /// server's `auth.secret` or `auth.secretFile`), then exit.
    Token(TokenArgs),
}

/// What `vampire-cli token` puts in the token.
#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// The HS256 secret, as in the server's `auth.secret`.
    #[arg(long, conflicts_with = "secret_file", required_unless_present = "secret_file")]
    secret: Option<String>,
    /// A file holding the secret, as the server's `auth.secretFile`.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// The user id (`sub`).
    #[arg(long)]
    sub: String,
    /// A display name (`name`).
    #[arg(long)]
    name: Option<String>,
    /// A role (`roles`), for example `operator`; repeat for several.
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Seconds until it expires.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// The audience (`aud`), when the server checks one.
    #[arg(long)]
    aud: Option<String>,
    /// The issuer (`iss`), when the server checks one.
    #[arg(long)]
    iss: Option<String>,
}

const HELP: &str = "\
commands (values are JSON, with {\"$bin\": \"<base64>\"} for binary; a bare word is a string):
  list [TYPE]                         public rooms, optionally of one type
  create [TYPE] [private] [max=N] [name=NAME] [password=PW] [keep] [quiet-vars] [no-var-broadcast]
  join ROOM [PASSWORD]                join a room
  join ROOM invite=CODE               join a password-protected room with an invite
  join-or-create [TYPE] [max=N] [KEY:VALUE…]
                                      join the fullest room whose metadata has those values, or create one
  queue QUEUE [{\"properties\": {…}, \"query\": {…}}]
                                      a matchmaker ticket; a matched event follows
  unqueue TICKET                      withdraw a ticket
  join-match ROOM RESERVATION [ADDRESS]
                                      join a match's room (what a matched event says)
  invite ROOM                         a one-time invite into a room you own
  leave ROOM                          leave a room
  info ROOM                           a room as listings show it now
  delete ROOM                         delete a room you own (any room, for an operator)
  get ROOM NAME                       read a variable
  vars ROOM                           read every variable
  set ROOM NAME VALUE [broadcast|quiet]
  invoke ROOM METHOD [ARGS]           call a room method
  say ROOM DATA                       send a message to the room
  udp                                 open the UDP channel (udp_bind)
  usay ROOM DATA                      send a message that may be lost (UDP once bound)
  ping                                round trip
  wait SECONDS                        pause (events still print)
  quit                                end the session (its rooms see it leave) and exit";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Token(token)) = &args.command {
        println!("{}", sign_token(token)?);
        return Ok(());
    }
    let tls = args.tls.then(|| TlsOptions {
        server_name: args.server_name.clone().unwrap_or_else(|| host_of(&args.addr).to_owned()),
        ca_file: args.ca.clone(),
    });
    // The session resumes by itself when the connection drops (the token,
    // when given, proves who resumes it).
    let options = ConnectOptions {
        tls,
        token: args.token.clone(),
        reconnect: Some(ReconnectPolicy::default()),
    };
    let mut client = Client::connect_with(&args.addr, options).await?;
    println!("connected to {} as session {}", args.addr, client.session());
    if args.token.is_some() {
        println!("signed in");
    } else if client.welcome().auth_required {
        println!("this server needs a token: pass --token (see `vampire-cli token --help`)");
    }
    // Events are printed by their own task while requests run.
    let mut events = client.take_event_stream();
    let printer = tokio::spawn(async move {
        while let Some(incoming) = events.recv().await {
            match incoming {
                Incoming::Event(event) => println!("event: {}", show_event(&event)),
                Incoming::Error { code, message } => println!("server error: {code}: {message}"),
                Incoming::Connection(change) => {
                    println!("connection: {}", show_connection(&change))
                }
            }
        }
        println!("connection closed by the server");
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            None => continue,
            Some(&"quit") | Some(&"exit") => break,
            Some(&"help") => println!("{HELP}"),
            Some(_) => match run(&mut client, &words).await {
                Ok(Some(value)) => println!("ok: {value}"),
                Ok(None) => {}
                Err(err) => println!("error: {err}"),
            },
        }
    }
    // Quitting ends the session: the rooms see the member leave now,
    // rather than hold its seat for a resume that will not come.
    let _ = client.close().await;
    printer.abort();
    Ok(())
}

async fn run(client: &mut Client, words: &[&str]) -> Result<Option<String>, ClientError> {
    let arg = |i: usize| words.get(i).copied().unwrap_or_default().to_owned();
    let result = match words[0] {
        "list" => {
            let rooms = client.list_rooms(words.get(1).copied()).await?;
            format!("[{}]", rooms.iter().map(show_room).collect::<Vec<_>>().join(","))
        }
        "create" => show_room(&client.create_room(create_settings(&words[1..])).await?),
        "join" => match words.get(2).and_then(|w| w.strip_prefix("invite=")) {
            Some(invite) => show_join(&client.join_with_invite(&arg(1), invite).await?),
            None => show_join(&client.join(&arg(1), words.get(2).copied()).await?),
        },
        "join-or-create" => {
            let (filters, settings): (Vec<&str>, Vec<&str>) =
                words[1..].iter().partition(|word| word.contains(':') && !word.contains('='));
            let filters = filters
                .iter()
                .filter_map(|word| word.split_once(':'))
                .map(|(key, value)| (key.to_owned(), Condition::Equals(parse_value(&[value]))))
                .collect();
            let query = ListQuery { filters, ..ListQuery::default() };
            let joined = client.join_or_create(create_settings(&settings), &query, None).await?;
            format!("created={} {}", joined.created, show_join(&joined))
        }
        "queue" => {
            let ticket = parse_value(&words[2.min(words.len())..]);
            let field = |name: &str| {
                ticket.as_map().and_then(|entries| {
                    entries.iter().find(|(k, _)| k.as_str() == Some(name)).map(|(_, v)| v.into())
                })
            };
            client.matchmaker_add(&arg(1), field("properties"), field("query")).await?
        }
        "unqueue" => client.matchmaker_remove(&arg(1)).await.map(|()| "null".to_owned())?,
        "join-match" => {
            let matched = Event::Matched {
                ticket: String::new(),
                room: arg(1),
                reservation: arg(2),
                expires_in_ms: 0,
                address: words.get(3).map(|a| (*a).to_owned()),
                ws_address: None,
            };
            show_join(&client.join_match(&matched).await?)
        }
        "invite" => client.create_invite(&arg(1)).await?,
        "leave" => client.leave(&arg(1)).await.map(|()| "null".to_owned())?,
        "info" => show_room(&client.room_info(&arg(1)).await?),
        "delete" => client.delete_room(&arg(1)).await.map(|()| "null".to_owned())?,
        "get" => show(&client.get_variable(&arg(1), &arg(2)).await?),
        "vars" => show_variables(&client.get_variables(&arg(1)).await?),
        "set" => {
            // An optional last word, after the value (which may hold spaces).
            let broadcast = match words.last().copied() {
                Some("broadcast") if words.len() > 4 => Some(true),
                Some("quiet") if words.len() > 4 => Some(false),
                _ => None,
            };
            let end = if broadcast.is_some() { words.len() - 1 } else { words.len() };
            let value = parse_value(&words[3.min(end)..end]);
            let broadcast = client.set_variable(&arg(1), &arg(2), value, broadcast).await?;
            format!("broadcast={broadcast}")
        }
        "invoke" => {
            show(&client.invoke(&arg(1), &arg(2), parse_value(&words[3.min(words.len())..])).await?)
        }
        "say" => {
            client.send_message(&arg(1), parse_value(&words[2.min(words.len())..])).await?;
            "null".to_owned()
        }
        "udp" => {
            client.bind_udp().await?;
            "udp channel open".to_owned()
        }
        "usay" => {
            client.send_unreliable(&arg(1), parse_value(&words[2.min(words.len())..])).await?;
            let via = if client.has_udp() { "udp" } else { "tcp (no udp channel)" };
            format!("sent over {via}")
        }
        "ping" => {
            let started = std::time::Instant::now();
            client.ping().await?;
            format!("pong in {:?}", started.elapsed())
        }
        "wait" => {
            let seconds: f64 = arg(1).parse().unwrap_or(1.0);
            tokio::time::sleep(std::time::Duration::from_secs_f64(seconds)).await;
            return Ok(None);
        }
        other => format!("unknown command {other:?}; type help"),
    };
    Ok(Some(result))
}

fn create_settings(words: &[&str]) -> CreateRoom {
    let mut settings = CreateRoom::default();
    for word in words {
        match *word {
            "private" => settings.public = Some(false),
            "public" => settings.public = Some(true),
            "keep" => settings.auto_dispose = Some(false),
            "quiet-vars" => {
                settings.variable_broadcast.get_or_insert_with(VariableBroadcast::default).default =
                    Some(false)
            }
            "no-var-broadcast" => {
                settings.variable_broadcast.get_or_insert_with(VariableBroadcast::default).enabled =
                    Some(false)
            }
            _ => match word.split_once('=') {
                Some(("max", n)) => settings.max_clients = n.parse().ok(),
                Some(("name", name)) => settings.name = Some(name.to_owned()),
                Some(("password", pw)) => settings.password = Some(pw.to_owned()),
                _ => settings.room_type = Some((*word).to_owned()),
            },
        }
    }
    settings
}

/// The rest of the line as JSON (with `$` markers), or as a plain string
/// when it is not JSON.
fn parse_value(words: &[&str]) -> Value {
    let text = words.join(" ");
    if text.is_empty() {
        return Value::Nil;
    }
    match serde_json::from_str(&text) {
        Ok(json) => from_json(&json),
        Err(_) => Value::from(text),
    }
}

fn show(payload: &Payload) -> String {
    to_json(&payload.to_value()).to_string()
}

fn show_room(room: &RoomInfo) -> String {
    serde_json::json!({
        "id": room.id,
        "room_type": room.room_type,
        "name": room.name,
        "public": room.public,
        "locked": room.locked,
        "members": room.members,
        "max_clients": room.max_clients,
        "password_protected": room.password_protected,
        "metadata": to_json(&room.metadata.to_value()),
    })
    .to_string()
}

fn show_variables(variables: &[(String, Payload)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        variables.iter().map(|(name, value)| (name.clone(), to_json(&value.to_value()))).collect();
    serde_json::Value::Object(map).to_string()
}

fn show_join(join: &JoinResult) -> String {
    format!(
        "{{\"room\":{},\"members\":{:?},\"variables\":{},\"reply\":{}}}",
        show_room(&join.room),
        join.members,
        show_variables(&join.variables),
        show(&join.reply)
    )
}

fn show_connection(change: &ConnectionEvent) -> String {
    match change {
        ConnectionEvent::Reconnecting { attempt, delay } => {
            format!("reconnecting (attempt {attempt}, in {} ms)", delay.as_millis())
        }
        ConnectionEvent::Reconnected { replayed } => {
            format!("reconnected ({replayed} missed frames replayed)")
        }
        ConnectionEvent::Resynced { rooms } => {
            format!("reconnected, resynced (state of {} rooms follows)", rooms.len())
        }
        ConnectionEvent::Lost { reason } => format!("lost: {reason}"),
    }
}

fn show_event(event: &Event) -> String {
    use serde_json::json;
    let shown = match event {
        Event::MemberJoined { room, session, user_id, user_name } => json!({
            "event": "member_joined", "room": room, "session": session,
            "user_id": user_id, "user_name": user_name,
        }),
        Event::MemberLeft { room, session, reason } => {
            json!({"event": "member_left", "room": room, "session": session, "reason": reason})
        }
        Event::VariableChanged { room, name, value, by } => json!({
            "event": "variable_changed", "room": room, "name": name,
            "value": to_json(&value.to_value()), "by": by,
        }),
        Event::RoomMessage { room, from, data } => json!({
            "event": "room_message", "room": room, "from": from, "data": to_json(&data.to_value()),
        }),
        Event::Kicked { room, reason } => {
            json!({"event": "kicked", "room": room, "reason": reason})
        }
        Event::RoomDeleted { room } => json!({"event": "room_deleted", "room": room}),
        Event::RoomClosed { room, reason } => {
            json!({"event": "room_closed", "room": room, "reason": reason})
        }
        Event::RoomReloaded { room } => json!({"event": "room_reloaded", "room": room}),
        Event::MemberDisconnected { room, session } => {
            json!({"event": "member_disconnected", "room": room, "session": session})
        }
        Event::MemberReconnected { room, session } => {
            json!({"event": "member_reconnected", "room": room, "session": session})
        }
        Event::RoomState { room, state } => {
            json!({"event": "room_state", "room": room, "state": to_json(&state.to_value())})
        }
        Event::Matched { ticket, room, reservation, address, .. } => json!({
            "event": "matched", "ticket": ticket, "room": room,
            "reservation": reservation, "address": address,
        }),
        Event::MatchTimeout { ticket } => json!({"event": "match_timeout", "ticket": ticket}),
        Event::Unknown { event } => json!({"event": event}),
    };
    shown.to_string()
}

/// The host part of `addr` (`host:port`, `[v6]:port`).
/// Signs a development token as `args` describe.
fn sign_token(args: &TokenArgs) -> anyhow::Result<String> {
    let secret = match (&args.secret, &args.secret_file) {
        (Some(secret), _) => secret.as_bytes().to_vec(),
        (None, Some(path)) => {
            let mut bytes = std::fs::read(path)?;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            bytes
        }
        (None, None) => anyhow::bail!("give --secret or --secret-file"),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let mut claims = serde_json::json!({"sub": args.sub, "iat": now, "exp": now + args.ttl});
    if let Some(name) = &args.name {
        claims["name"] = name.clone().into();
    }
    if !args.roles.is_empty() {
        claims["roles"] = args.roles.clone().into();
    }
    if let Some(aud) = &args.aud {
        claims["aud"] = aud.clone().into();
    }
    if let Some(iss) = &args.iss {
        claims["iss"] = iss.clone().into();
    }
    let key = jsonwebtoken::EncodingKey::from_secret(&secret);
    Ok(jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)?)
}
