//! `vampire-cli`: try a VampireTCP server by hand.
//!
//! Reads one command per line from standard input and prints each result,
//! and every event as it arrives. Type `help` for the commands.

use clap::Parser;
use tokio::io::{AsyncBufReadExt, BufReader};
use vampire_client::{Client, ClientError, CreateRoom, Incoming, Value, VariableBroadcast};

/// Command-line client for VampireTCP.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:7777")]
    addr: String,
}

const HELP: &str = "\
commands (values are JSON; a bare word is taken as a string):
  list [TYPE]                         public rooms, optionally of one type
  create [TYPE] [private] [max=N] [name=NAME] [password=PW] [keep] [quiet-vars] [no-var-broadcast]
  join ROOM [PASSWORD]                join a room
  leave ROOM                          leave a room
  delete ROOM                         delete a room you created
  get ROOM NAME                       read a variable
  vars ROOM                           read every variable
  set ROOM NAME VALUE [broadcast|quiet]
  invoke ROOM METHOD [ARGS]           call a room method
  say ROOM DATA                       send a message to the room
  ping                                round trip
  wait SECONDS                        pause (events still print)
  quit";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut client = Client::connect(&args.addr).await?;
    println!("connected to {} as session {}", args.addr, client.session());
    // Events are printed by their own task while requests run.
    let mut events = client.take_event_stream();
    let printer = tokio::spawn(async move {
        while let Some(incoming) = events.recv().await {
            match incoming {
                Incoming::Event(event) => println!("event: {}", to_json(&event)),
                Incoming::Error { code, message } => println!("server error: {code}: {message}"),
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
            Some(_) => match run(&client, &words).await {
                Ok(Some(value)) => println!("ok: {value}"),
                Ok(None) => {}
                Err(err) => println!("error: {err}"),
            },
        }
    }
    printer.abort();
    Ok(())
}

async fn run(client: &Client, words: &[&str]) -> Result<Option<String>, ClientError> {
    let arg = |i: usize| words.get(i).copied().unwrap_or_default().to_owned();
    let result = match words[0] {
        "list" => to_json(&client.list_rooms(words.get(1).copied()).await?),
        "create" => to_json(&client.create_room(create_settings(&words[1..])).await?),
        "join" => to_json(&client.join(&arg(1), words.get(2).copied()).await?),
        "leave" => to_json(&client.leave(&arg(1)).await?),
        "delete" => to_json(&client.delete_room(&arg(1)).await?),
        "get" => to_json(&client.get_variable(&arg(1), &arg(2)).await?),
        "vars" => to_json(&client.get_variables(&arg(1)).await?),
        "set" => {
            let broadcast = match words.get(4).copied() {
                Some("broadcast") => Some(true),
                Some("quiet") => Some(false),
                _ => None,
            };
            let broadcast = client
                .set_variable(
                    &arg(1),
                    &arg(2),
                    parse_value(&words[3.min(words.len())..]),
                    broadcast,
                )
                .await?;
            format!("broadcast={broadcast}")
        }
        "invoke" => to_json(
            &client.invoke(&arg(1), &arg(2), parse_value(&words[3.min(words.len())..])).await?,
        ),
        "say" => {
            to_json(&client.send_message(&arg(1), parse_value(&words[2.min(words.len())..])).await?)
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

/// The rest of the line as JSON, or as a plain string when it is not JSON.
fn parse_value(words: &[&str]) -> Value {
    let text = words.join(" ");
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|err| format!("<{err}>"))
}
